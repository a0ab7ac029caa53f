//! From a parsed PIX configuration to what the Sans-IO crates are configured with:
//! `isakmp policy` / `isakmp key` / `vpngroup` / `crypto map` / `crypto dynamic-map` /
//! `crypto ipsec` / `ip local pool` / `aaa-server` / `username` become an
//! [`ike_sm::Config`], [`modecfg::Pools`] and the AAA server groups.
//!
//! Everything a PIX admin could get wrong here ends as one clear line that names the
//! command and says what to do (a masked secret with no secrets file entry, a crypto map
//! on no interface, a transform set that does not exist, ...).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::dh::{DhGroup, ExponentSize};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::Secret;
use ike_sm::{
    EncryptionAlgorithm, GatewayConfig, IntegrityAlgorithm, IsakmpPolicy, Limits, ModeCfgMode,
    PeerKey, TransformSet, VpnGroup,
};
use pix_config::{Command, Config};

/// One `aaa-server TAG` group.
#[derive(Debug)]
pub struct AaaGroup {
    /// The `aaa-server` tag.
    pub tag: String,
    /// `protocol tacacs+|radius|local`.
    pub protocol: xauth::aaa::Protocol,
    /// `aaa-server TAG (IF) host A KEY timeout T`, in order.
    pub servers: Vec<AaaHost>,
    /// RADIUS replies must carry a valid Message-Authenticator (Blast-RADIUS,
    /// CVE-2024-3596). `true` unless the operator named the tag in
    /// `pix-gateway run --radius-without-message-authenticator TAG`.
    pub require_message_authenticator: bool,
}

/// One server of a group.
#[derive(Debug)]
pub struct AaaHost {
    /// Its address.
    pub addr: Ipv4Addr,
    /// The shared key.
    pub key: Secret,
    /// `timeout T` (PIX default 5 s).
    pub timeout: Duration,
}

/// What the gateway runs with.
#[derive(Debug)]
pub struct Plan {
    /// The IKE endpoint configuration.
    pub ike: ike_sm::Config,
    /// `ip local pool`s.
    pub pools: modecfg::Pools,
    /// `hostname`.
    pub hostname: String,
    /// The interface the crypto map is bound to (`crypto map M interface IF`).
    pub outside_if: String,
    /// `ip address IF A M` of that interface.
    pub outside_addr: Option<Ipv4Addr>,
    /// The crypto map's name (for `show crypto ipsec sa`).
    pub crypto_map: String,
    /// `crypto map M client authentication TAG`.
    pub xauth_tag: Option<String>,
    /// `aaa-server` groups by tag.
    pub aaa: BTreeMap<String, AaaGroup>,
    /// `aaa-server radius-authport` / `radius-acctport` (PIX defaults 1645 / 1646).
    pub radius_ports: (u16, u16),
    /// LOCAL users: `username NAME password PW` (clear) lines and secrets-file entries.
    pub local_users: Vec<(String, Secret, u8)>,
    /// `vpngroup` idle-time / max-time, by group name (the Main Mode default under "").
    pub session_limits: BTreeMap<String, (Option<Duration>, Option<Duration>)>,
    /// `sysopt connection permit-ipsec`.
    pub permit_ipsec: bool,
    /// The PIX policy for tunnelled traffic.
    pub policy: super::policy::Policy,
    /// Things that work but an admin should know (one line each).
    pub warnings: Vec<String>,
    /// `mtu`, `sysopt connection tcpmss`, `fragment`: the data plane's sizes.
    pub mtu: super::dataplane::MtuPlan,
}

fn cipher(e: pix_config::isakmp::IkeEncryption) -> CipherAlg {
    use pix_config::isakmp::IkeEncryption as E;
    match e {
        E::Des => CipherAlg::Des,
        E::TripleDes => CipherAlg::TripleDes,
        E::Aes => CipherAlg::Aes128,
        E::Aes192 => CipherAlg::Aes192,
        E::Aes256 => CipherAlg::Aes256,
    }
}

fn group(n: u8) -> Option<DhGroup> {
    match n {
        1 => Some(DhGroup::Modp768),
        2 => Some(DhGroup::Modp1024),
        5 => Some(DhGroup::Modp1536),
        14 => Some(DhGroup::Modp2048),
        _ => None,
    }
}

fn pfs_group(g: Option<pix_config::crypto::PfsGroup>) -> DhGroup {
    use pix_config::crypto::PfsGroup as P;
    match g {
        None | Some(P::Group1) => DhGroup::Modp768,
        Some(P::Group2) => DhGroup::Modp1024,
        Some(P::Group5) => DhGroup::Modp1536,
    }
}

/// The clear value of a secret, or an error line telling where to put it.
fn clear(v: &pix_config::SecretValue, what: &str, fix: &str) -> Result<Secret, String> {
    match v.clear() {
        Some(s) => Ok(Secret::from_slice(s.expose_secret())),
        None => Err(format!(
            "{what} is masked (********) in the configuration: give it in the secrets file \
             (--secrets FILE) as `{fix}`"
        )),
    }
}

/// Maps the configuration. `extra_users` come from the secrets file.
///
/// # Errors
/// One line per problem, all of them.
pub fn plan(config: &Config, extra_users: Vec<(String, Secret)>) -> Result<Plan, Vec<String>> {
    plan_with(config, extra_users, &[])
}

/// [`plan`], with the `aaa-server` tags whose RADIUS hosts may have no key
/// (`pix-gateway run --allow-keyless-aaa TAG`); a keyless host anywhere else is an error.
///
/// The steps run in this order, and their errors and warnings come out in it.
///
/// # Errors
/// One line per problem, all of them.
pub fn plan_with(
    config: &Config,
    extra_users: Vec<(String, Secret)>,
    allow_keyless_aaa: &[String],
) -> Result<Plan, Vec<String>> {
    let mut d = Diagnostics::default();
    let isakmp = isakmp_settings(config, &mut d);
    let policies = pre_shared_key_policies(&isakmp.policies, &mut d);
    let pools = local_pools(config, &mut d);
    let (groups, mut session_limits) = vpngroups(config, &pools, &mut d);
    let Some((map_name, outside_if)) = bound_crypto_map(config) else {
        d.errors.push(
            "no `crypto map NAME interface IF`: the gateway does not know where to listen".into(),
        );
        return Err(d.errors);
    };
    if !isakmp.enabled_ifs.contains(&outside_if) {
        d.warnings.push(format!(
            "no `isakmp enable {outside_if}`: a PIX would not answer IKE there; this gateway listens anyway"
        ));
    }
    let map = crypto_map_settings(config, &map_name);
    let transforms = transform_sets(config, &map_name, &map.transform_set_names, &mut d);
    let radius_ports = radius_ports(config);
    let (aaa, keyless_allowed) = aaa_groups(config, allow_keyless_aaa, &mut d);
    check_client_authentication(&map_name, map.xauth_tag.as_deref(), &aaa, &mut d);
    warn_unused_keyless_allowances(allow_keyless_aaa, &keyless_allowed, &mut d);
    let local_users = local_users(config, extra_users, &mut d);
    let system = system_settings(config, &outside_if);
    session_limits.insert(String::new(), (None, None));
    let policy = match super::policy::Policy::new(config, &outside_if) {
        Ok(p) => Some(p),
        Err(e) => {
            d.errors.push(e);
            None
        }
    };
    let Some(policy) = policy.filter(|_| d.errors.is_empty()) else {
        return Err(d.errors);
    };
    let ike = ike_config(isakmp, policies, groups, &map, transforms);
    let mtu = super::dataplane::MtuPlan::from_config(config, &outside_if, "inside");
    Ok(Plan {
        ike,
        pools,
        hostname: system.hostname,
        outside_if,
        outside_addr: system.outside_addr,
        crypto_map: map_name,
        xauth_tag: map.xauth_tag,
        aaa,
        radius_ports,
        local_users,
        session_limits,
        permit_ipsec: system.permit_ipsec,
        policy,
        warnings: d.warnings,
        mtu,
    })
}

/// What the steps of [`plan_with`] find, in the order they find it: errors refuse the
/// configuration, warnings go with the plan.
#[derive(Default)]
struct Diagnostics {
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// One `isakmp policy PRIORITY` as its lines leave it, starting from the PIX defaults
/// (rsa-sig, des, sha, group 1, 86400 s).
#[derive(Clone, Copy)]
struct IsakmpPolicyLines {
    auth: pix_config::isakmp::IkeAuth,
    enc: CipherAlg,
    hash: HashAlg,
    group: DhGroup,
    life: u64,
}

impl Default for IsakmpPolicyLines {
    fn default() -> Self {
        Self {
            auth: pix_config::isakmp::IkeAuth::RsaSig,
            enc: CipherAlg::Des,
            hash: HashAlg::Sha1,
            group: DhGroup::Modp768,
            life: 86_400,
        }
    }
}

/// Everything the `isakmp ...` lines say.
#[derive(Default)]
struct IsakmpSettings {
    /// `isakmp policy` by priority.
    policies: BTreeMap<u16, IsakmpPolicyLines>,
    /// `isakmp key ... address ...`, with their clear secrets.
    keys: Vec<PeerKey>,
    /// `isakmp client configuration address-pool local POOL`: the Main Mode pools.
    default_pools: Vec<String>,
    /// `isakmp nat-traversal [N]` (PIX default 20 s).
    nat_traversal: Option<Duration>,
    /// `isakmp enable IF`.
    enabled_ifs: Vec<String>,
    /// `isakmp keepalive S [R]`: DPD idle time and retry interval.
    keepalive: Option<(Duration, Duration)>,
}

/// Reads the `isakmp` lines: policies, peer keys, pools, NAT-T, interfaces, keepalive.
fn isakmp_settings(config: &Config, d: &mut Diagnostics) -> IsakmpSettings {
    use pix_config::isakmp::Isakmp;
    let mut s = IsakmpSettings::default();
    for (line, c) in config.iter() {
        let Command::Isakmp(i) = c else { continue };
        match i {
            Isakmp::Policy { priority, attr } => {
                let p = s.policies.entry(*priority).or_default();
                apply_policy_attr(p, attr, line, *priority, d);
            }
            Isakmp::Key {
                key,
                address,
                netmask,
                no_xauth,
                no_config_mode,
            } => match peer_key_secret(config, line, key, address, *netmask) {
                Ok((address, netmask, key)) => s.keys.push(PeerKey {
                    address,
                    netmask,
                    key,
                    no_xauth: *no_xauth,
                    no_config_mode: *no_config_mode,
                }),
                Err(e) => d.errors.push(e),
            },
            Isakmp::ClientAddressPool { pool, .. } => s.default_pools.push(pool.clone()),
            Isakmp::NatTraversal(n) => {
                s.nat_traversal = Some(Duration::from_secs(u64::from(n.unwrap_or(20))));
            }
            Isakmp::Enable(ifname) => s.enabled_ifs.push(ifname.clone()),
            Isakmp::Keepalive { seconds, retry } => {
                // PIX 6.3 `isakmp keepalive` is what DPD does for us (RFC 3706):
                // R-U-THERE after `seconds` of silence, every `retry` seconds after.
                s.keepalive = Some((
                    Duration::from_secs(u64::from(*seconds)),
                    Duration::from_secs(u64::from(retry.unwrap_or(2))),
                ));
            }
            _ => {}
        }
    }
    s
}

/// Applies one `isakmp policy PRIORITY ATTR` line (`line`) to its policy.
fn apply_policy_attr(
    p: &mut IsakmpPolicyLines,
    attr: &pix_config::isakmp::PolicyAttr,
    line: u32,
    priority: u16,
    d: &mut Diagnostics,
) {
    use pix_config::isakmp::{IkeHash, PolicyAttr};
    match attr {
        PolicyAttr::Authentication(a) => p.auth = *a,
        PolicyAttr::Encryption(e) => p.enc = cipher(*e),
        PolicyAttr::Hash(IkeHash::Md5) => p.hash = HashAlg::Md5,
        PolicyAttr::Hash(IkeHash::Sha) => p.hash = HashAlg::Sha1,
        PolicyAttr::Group(g) => match group(*g) {
            Some(g) => p.group = g,
            None => d.errors.push(format!(
                "line {line}: isakmp policy {priority} group {g}: only groups 1, 2, 5 and 14 are supported"
            )),
        },
        PolicyAttr::Lifetime(l) => p.life = u64::from(*l),
    }
}

/// The address, netmask and clear secret of `isakmp key KEY address A [netmask M]`.
fn peer_key_secret(
    config: &Config,
    line: u32,
    key: &pix_config::SecretValue,
    address: &pix_config::AddrTok,
    netmask: Option<Ipv4Addr>,
) -> Result<(Ipv4Addr, Ipv4Addr, Secret), String> {
    let Some(addr) = config.resolve_addr(address) else {
        return Err(format!("line {line}: isakmp key: unknown name {address}"));
    };
    let fix = match netmask {
        Some(m) => format!("isakmp key {addr} netmask {m} <secret>"),
        None => format!("isakmp key {addr} <secret>"),
    };
    let secret = clear(key, &format!("line {line}: isakmp key for {addr}"), &fix)?;
    Ok((addr, netmask.unwrap_or(Ipv4Addr::BROADCAST), secret))
}

/// The policies this gateway negotiates: the pre-shared key ones (the others are
/// skipped with a warning); none at all is an error.
fn pre_shared_key_policies(
    policies: &BTreeMap<u16, IsakmpPolicyLines>,
    d: &mut Diagnostics,
) -> Vec<IsakmpPolicy> {
    let mut ike_policies = Vec::new();
    for (prio, p) in policies {
        if p.auth != pix_config::isakmp::IkeAuth::PreShare {
            d.warnings.push(format!(
                "isakmp policy {prio} uses rsa-sig authentication (the PIX default when \
                 `authentication pre-share` is not set): this gateway does pre-shared keys only, \
                 so the policy is skipped"
            ));
            continue;
        }
        ike_policies.push(IsakmpPolicy {
            priority: u32::from(*prio),
            encryption: p.enc,
            hash: p.hash,
            group: p.group,
            lifetime_secs: p.life,
        });
    }
    if ike_policies.is_empty() {
        d.errors.push(
            "no `isakmp policy N authentication pre-share`: no client can negotiate phase 1".into(),
        );
    }
    ike_policies
}

/// The `ip local pool` lines.
fn local_pools(config: &Config, d: &mut Diagnostics) -> modecfg::Pools {
    let mut pools = modecfg::Pools::new();
    for (line, c) in config.iter() {
        if let Command::IpLocalPool(p) = c {
            let r = match p.mask {
                Some(m) => pools.add_with_mask(&p.name, p.first, p.last, m),
                None => pools.add(&p.name, p.first, p.last),
            };
            if let Err(e) = r {
                d.errors
                    .push(format!("line {line}: ip local pool {}: {e}", p.name));
            }
        }
    }
    pools
}

/// The split-tunnel networks of access list `acl`: the sources of its `permit` rules.
fn split_tunnel_entries(config: &Config, acl: &str) -> Vec<modecfg::unity::SplitEntry> {
    use pix_config::acl::{AclBody, Action, AddrSpec};
    let mut v = Vec::new();
    for (_, c) in config.iter() {
        let Command::AccessList(a) = c else { continue };
        if a.id != acl {
            continue;
        }
        let AclBody::Rule(r) = &a.body else {
            continue;
        };
        if r.action != Action::Permit {
            continue;
        }
        let (addr, mask) = match &r.src {
            AddrSpec::Host(t) => (config.resolve_addr(t), Ipv4Addr::BROADCAST),
            AddrSpec::Net { address, mask } => (config.resolve_addr(address), *mask),
            AddrSpec::Any => (Some(Ipv4Addr::UNSPECIFIED), Ipv4Addr::UNSPECIFIED),
            _ => (None, Ipv4Addr::UNSPECIFIED),
        };
        if let Some(addr) = addr {
            v.push(modecfg::unity::SplitEntry {
                addr,
                mask,
                protocol: 0,
                sport: 0,
                dport: 0,
            });
        }
    }
    v
}

/// `vpngroup` idle-time / max-time by group name.
type SessionLimits = BTreeMap<String, (Option<Duration>, Option<Duration>)>;

/// The `vpngroup`s in the order they first appear: those with a password (the
/// Aggressive Mode groups; a group without one is a warning), and every group's
/// session limits.
fn vpngroups(
    config: &Config,
    pools: &modecfg::Pools,
    d: &mut Diagnostics,
) -> (Vec<VpnGroup>, SessionLimits) {
    let mut group_names: Vec<String> = Vec::new();
    for (_, c) in config.iter() {
        if let Command::Vpngroup(g) = c {
            if !group_names.contains(&g.group) {
                group_names.push(g.group.clone());
            }
        }
    }
    let mut groups = Vec::new();
    let mut session_limits = BTreeMap::new();
    for name in &group_names {
        let (policy, password) = vpngroup(config, name, pools, d);
        session_limits.insert(name.clone(), (policy.idle_time, policy.max_time));
        match password {
            Some(password) => groups.push(VpnGroup {
                name: name.clone(),
                password,
                policy,
            }),
            None => d.warnings.push(format!(
                "vpngroup {name} has no password: Aggressive Mode clients of this group cannot connect"
            )),
        }
    }
    (groups, session_limits)
}

/// The policy and the clear password of `vpngroup NAME`, from all its lines.
fn vpngroup(
    config: &Config,
    name: &str,
    pools: &modecfg::Pools,
    d: &mut Diagnostics,
) -> (modecfg::GroupPolicy, Option<Secret>) {
    use pix_config::vpngroup::VpngroupAttr;
    let mut policy = modecfg::GroupPolicy::named(name);
    let mut password = None;
    for (line, c) in config.iter() {
        let Command::Vpngroup(g) = c else { continue };
        if g.group != name {
            continue;
        }
        match &g.attr {
            VpngroupAttr::AddressPool(p) => {
                if pools.pool(p).is_none() {
                    d.errors.push(format!(
                        "line {line}: vpngroup {name} address-pool {p}: no `ip local pool {p}`"
                    ));
                }
                policy.address_pools.push(p.clone());
            }
            VpngroupAttr::DnsServer(v) => policy.dns_servers.clone_from(v),
            VpngroupAttr::WinsServer(v) => policy.wins_servers.clone_from(v),
            VpngroupAttr::DefaultDomain(domain) => policy.default_domain = Some(domain.clone()),
            VpngroupAttr::SplitTunnel(acl) => {
                policy.split_tunnel = split_tunnel_entries(config, acl)
            }
            VpngroupAttr::SplitDns(v) => policy.split_dns.clone_from(v),
            VpngroupAttr::IdleTime(t) => {
                policy.idle_time = Some(Duration::from_secs(u64::from(*t)));
            }
            VpngroupAttr::MaxTime(t) => {
                policy.max_time = (*t > 0).then(|| Duration::from_secs(u64::from(*t)));
            }
            VpngroupAttr::Password(p) => match clear(
                p,
                &format!("line {line}: vpngroup {name} password"),
                &format!("vpngroup {name} password <secret>"),
            ) {
                Ok(s) => password = Some(s),
                Err(e) => d.errors.push(e),
            },
            VpngroupAttr::Pfs => policy.pfs = true,
            VpngroupAttr::BackupServer(v) => {
                policy.backup_servers = v.iter().map(ToString::to_string).collect();
            }
            _ => {}
        }
    }
    (policy, password)
}

/// The first `crypto map NAME interface IF`: the map's name and the interface.
fn bound_crypto_map(config: &Config) -> Option<(String, String)> {
    config.iter().find_map(|(_, c)| match c {
        Command::CryptoMap(m) => match &m.line {
            pix_config::crypto::CryptoMapLine::Interface(i) => Some((m.name.clone(), i.clone())),
            _ => None,
        },
        _ => None,
    })
}

/// What the bound crypto map, its dynamic maps and `crypto ipsec security-association
/// lifetime` say.
struct CryptoMapSettings {
    /// `crypto map M client authentication TAG`.
    xauth_tag: Option<String>,
    /// `crypto map M client configuration address initiate|respond`.
    mode_config: ModeCfgMode,
    /// `set pfs [groupN]` of the map or its dynamic maps.
    pfs: Option<DhGroup>,
    /// PIX defaults 28800 s and 4608000 KB.
    ipsec_lifetime_secs: u64,
    ipsec_lifetime_kb: u64,
    /// `set transform-set ...`: the map's, then its dynamic maps', in order.
    transform_set_names: Vec<String>,
}

/// Reads crypto map `map_name`, the dynamic maps it names and the global SA lifetimes.
fn crypto_map_settings(config: &Config, map_name: &str) -> CryptoMapSettings {
    use pix_config::crypto::{CryptoMapLine as L, MapSet, SaLifetime};
    let mut s = CryptoMapSettings {
        xauth_tag: None,
        mode_config: ModeCfgMode::default(),
        pfs: None,
        ipsec_lifetime_secs: 28_800,
        ipsec_lifetime_kb: 4_608_000,
        transform_set_names: Vec::new(),
    };
    let mut dynamic_maps = Vec::new();
    for (_, c) in config.iter() {
        match c {
            Command::CryptoMap(m) if m.name == map_name => match &m.line {
                L::IpsecIsakmp { dynamic: Some(d) } => dynamic_maps.push(d.clone()),
                L::ClientAuthentication(t) => s.xauth_tag = Some(t.clone()),
                L::ClientConfiguration { initiate } => {
                    if *initiate {
                        s.mode_config.initiate = true;
                    } else {
                        s.mode_config.respond = true;
                    }
                }
                L::Set(MapSet::TransformSets(v)) => s.transform_set_names.extend(v.iter().cloned()),
                L::Set(MapSet::Pfs(g)) => s.pfs = Some(pfs_group(*g)),
                _ => {}
            },
            Command::IpsecGlobal(g) => match g.lifetime {
                SaLifetime::Seconds(secs) => s.ipsec_lifetime_secs = u64::from(secs),
                SaLifetime::Kilobytes(k) => s.ipsec_lifetime_kb = u64::from(k),
            },
            _ => {}
        }
    }
    for (_, c) in config.iter() {
        if let Command::DynamicMap(d) = c {
            if dynamic_maps.contains(&d.name) {
                match &d.set {
                    MapSet::TransformSets(v) => s.transform_set_names.extend(v.iter().cloned()),
                    MapSet::Pfs(g) => s.pfs = Some(pfs_group(*g)),
                    _ => {}
                }
            }
        }
    }
    s
}

/// The transform sets a crypto map uses, and whether one says `mode transport`.
struct Transforms {
    sets: Vec<TransformSet>,
    transport_mode: bool,
}

/// Looks up every set `crypto map map_name` names (`crypto ipsec transform-set`);
/// a missing set, or none usable, is an error.
fn transform_sets(
    config: &Config,
    map_name: &str,
    set_names: &[String],
    d: &mut Diagnostics,
) -> Transforms {
    use pix_config::crypto::TransformSetLine;
    let mut t = Transforms {
        sets: Vec::new(),
        transport_mode: false,
    };
    for name in set_names {
        let mut found = false;
        for (line, c) in config.iter() {
            let Command::TransformSet(set) = c else {
                continue;
            };
            if set.name != *name {
                continue;
            }
            found = true;
            match &set.line {
                TransformSetLine::ModeTransport => t.transport_mode = true,
                TransformSetLine::Transforms(v) => {
                    if let Some(set) = esp_transform_set(line, name, v, d) {
                        t.sets.push(set);
                    }
                }
            }
        }
        if !found {
            d.errors.push(format!(
                "crypto map {map_name}: transform-set {name} is not defined (`crypto ipsec transform-set {name} ...`)"
            ));
        }
    }
    if t.sets.is_empty() {
        d.errors.push(format!(
            "crypto map {map_name}: no transform set (`crypto dynamic-map D N set transform-set T`)"
        ));
    }
    t
}

/// `crypto ipsec transform-set NAME T...` (at `line`) as an ESP cipher and integrity
/// algorithm; other transforms are ignored with a warning, a missing half is an error.
fn esp_transform_set(
    line: u32,
    name: &str,
    transforms: &[pix_config::crypto::Transform],
    d: &mut Diagnostics,
) -> Option<TransformSet> {
    use pix_config::crypto::Transform as T;
    let mut c = None;
    let mut a = None;
    for x in transforms {
        match x {
            T::EspDes => c = Some(EncryptionAlgorithm::Des),
            T::Esp3des => c = Some(EncryptionAlgorithm::TripleDes),
            T::EspAes => c = Some(EncryptionAlgorithm::Aes128),
            T::EspAes192 => c = Some(EncryptionAlgorithm::Aes192),
            T::EspAes256 => c = Some(EncryptionAlgorithm::Aes256),
            T::EspMd5Hmac => a = Some(IntegrityAlgorithm::HmacMd5_96),
            T::EspShaHmac => a = Some(IntegrityAlgorithm::HmacSha1_96),
            other => d.warnings.push(format!(
                "line {line}: transform-set {name}: {} is not supported here; ignored",
                other.as_str()
            )),
        }
    }
    match (c, a) {
        (Some(cipher), Some(auth)) => Some(TransformSet {
            name: name.to_string(),
            cipher,
            auth,
        }),
        _ => {
            d.errors.push(format!(
                "line {line}: transform-set {name}: needs an ESP cipher and esp-md5-hmac or esp-sha-hmac"
            ));
            None
        }
    }
}

/// `aaa-server radius-authport|radius-acctport P` (PIX defaults 1645 / 1646).
fn radius_ports(config: &Config) -> (u16, u16) {
    let mut radius_ports = (1645u16, 1646u16);
    for (_, c) in config.iter() {
        if let Command::AaaServer(s) = c {
            if let pix_config::aaa::AaaServerLine::RadiusPort(p) = s.line {
                if s.tag.eq_ignore_ascii_case("radius-authport") {
                    radius_ports.0 = p;
                } else {
                    radius_ports.1 = p;
                }
            }
        }
    }
    radius_ports
}

/// The `aaa-server TAG protocol P` groups with their `host` lines, and the tags of
/// which a keyless host was accepted (see [`keyless_host`]).
fn aaa_groups(
    config: &Config,
    allow_keyless_aaa: &[String],
    d: &mut Diagnostics,
) -> (BTreeMap<String, AaaGroup>, BTreeSet<String>) {
    use pix_config::aaa::AaaServerLine;
    let mut aaa: BTreeMap<String, AaaGroup> = BTreeMap::new();
    let mut keyless_allowed = BTreeSet::new();
    for (line, c) in config.iter() {
        let Command::AaaServer(s) = c else { continue };
        match &s.line {
            AaaServerLine::Protocol(p) => {
                aaa.insert(s.tag.clone(), empty_aaa_group(&s.tag, *p));
            }
            AaaServerLine::Host {
                interface,
                address,
                key,
                timeout,
            } => {
                let Some(addr) = config.resolve_addr(address) else {
                    d.errors.push(format!(
                        "line {line}: aaa-server {}: unknown name {address}",
                        s.tag
                    ));
                    continue;
                };
                let protocol = aaa.get(&s.tag).map(|g| g.protocol);
                let at = (line, s.tag.as_str(), interface.as_str(), addr);
                let key = match aaa_host_key(key.as_ref(), at, protocol, allow_keyless_aaa) {
                    Ok(Some(k)) => k,
                    Ok(None) => {
                        keyless_allowed.insert(s.tag.clone());
                        Secret::from_slice(b"")
                    }
                    Err(e) => {
                        d.errors.push(e);
                        continue;
                    }
                };
                match aaa.get_mut(&s.tag) {
                    Some(g) => g.servers.push(AaaHost {
                        addr,
                        key,
                        timeout: Duration::from_secs(u64::from(timeout.unwrap_or(5))),
                    }),
                    None => d.errors.push(format!(
                        "line {line}: aaa-server {} host: no `aaa-server {} protocol ...` before it",
                        s.tag, s.tag
                    )),
                }
            }
            _ => {}
        }
    }
    (aaa, keyless_allowed)
}

/// `aaa-server TAG protocol P`: the group, still without hosts; RADIUS replies must
/// carry a Message-Authenticator until the operator says otherwise.
fn empty_aaa_group(tag: &str, protocol: pix_config::aaa::AaaProtocol) -> AaaGroup {
    use pix_config::aaa::AaaProtocol;
    let protocol = match protocol {
        AaaProtocol::Tacacs => xauth::aaa::Protocol::Tacacs,
        AaaProtocol::Radius => xauth::aaa::Protocol::Radius,
        AaaProtocol::Local => xauth::aaa::Protocol::Local,
    };
    AaaGroup {
        tag: tag.to_string(),
        protocol,
        servers: Vec::new(),
        require_message_authenticator: true,
    }
}

/// The clear key of an `aaa-server TAG (IF) host ADDR [KEY]` line, or `None` for a
/// host without a key that [`keyless_host`] accepts.
fn aaa_host_key(
    key: Option<&pix_config::SecretValue>,
    at: (u32, &str, &str, Ipv4Addr),
    protocol: Option<xauth::aaa::Protocol>,
    allow_keyless_aaa: &[String],
) -> Result<Option<Secret>, String> {
    let (line, tag, _, addr) = at;
    match key {
        Some(k) => clear(
            k,
            &format!("line {line}: aaa-server {tag} host {addr} key"),
            &format!("aaa-server {tag} {addr} key <secret>"),
        )
        .map(Some),
        None => keyless_host(at, protocol, allow_keyless_aaa).map(|()| None),
    }
}

/// `crypto map M client authentication TAG` needs an `aaa-server TAG` group, with
/// hosts unless it is LOCAL.
fn check_client_authentication(
    map_name: &str,
    xauth_tag: Option<&str>,
    aaa: &BTreeMap<String, AaaGroup>,
    d: &mut Diagnostics,
) {
    let Some(tag) = xauth_tag else { return };
    match aaa.get(tag) {
        None => d.errors.push(format!(
            "crypto map {map_name} client authentication {tag}: no `aaa-server {tag} protocol ...`"
        )),
        Some(g) if g.protocol != xauth::aaa::Protocol::Local && g.servers.is_empty() => {
            d.errors.push(format!(
                "crypto map {map_name} client authentication {tag}: the group has no `aaa-server {tag} (IF) host ...`"
            ));
        }
        _ => {}
    }
}

/// A `--allow-keyless-aaa TAG` that allowed nothing is a warning (a typo, or a key
/// was added since).
fn warn_unused_keyless_allowances(
    allow_keyless_aaa: &[String],
    keyless_allowed: &BTreeSet<String>,
    d: &mut Diagnostics,
) {
    for tag in allow_keyless_aaa {
        if !keyless_allowed.contains(tag) {
            d.warnings.push(format!(
                "--allow-keyless-aaa {tag}: no `aaa-server {tag}` RADIUS host without a key; nothing allowed"
            ));
        }
    }
}

/// LOCAL users: `username NAME password PW` lines with a clear password (a masked,
/// hashed or missing one is a warning unless the secrets file has the user), then the
/// secrets file's users (`extra_users`, privilege 2), which replace same-named ones.
fn local_users(
    config: &Config,
    extra_users: Vec<(String, Secret)>,
    d: &mut Diagnostics,
) -> Vec<(String, Secret, u8)> {
    use pix_config::passwords::Password;
    let mut local_users = Vec::new();
    let in_secrets_file = |name: &str| extra_users.iter().any(|(n, _)| n == name);
    for (line, c) in config.iter() {
        let Command::Username(u) = c else { continue };
        let privilege = u.privilege.unwrap_or(2);
        match &u.password {
            Some(Password::Clear(v)) => match v.clear() {
                Some(s) => local_users.push((
                    u.name.clone(),
                    Secret::from_slice(s.expose_secret()),
                    privilege,
                )),
                None => {
                    if !in_secrets_file(&u.name) {
                        d.warnings.push(format!(
                            "line {line}: username {}: masked password; give it in the secrets file as `username {} password <secret>`",
                            u.name, u.name
                        ));
                    }
                }
            },
            Some(Password::Encrypted(_)) => {
                if !in_secrets_file(&u.name) {
                    d.warnings.push(format!(
                        "line {line}: username {}: an encrypted (hashed) password cannot be checked against an Xauth password; give the clear one in the secrets file as `username {} password <secret>`",
                        u.name, u.name
                    ));
                }
            }
            None => d.warnings.push(format!(
                "line {line}: username {} nopassword: refused for Xauth",
                u.name
            )),
        }
    }
    for (n, s) in extra_users {
        local_users.retain(|(m, _, _)| *m != n);
        local_users.push((n, s, 2));
    }
    local_users
}

/// `ip address` of the outside interface, `hostname`, `sysopt connection permit-ipsec`.
struct SystemSettings {
    outside_addr: Option<Ipv4Addr>,
    hostname: String,
    permit_ipsec: bool,
}

/// Reads the [`SystemSettings`] (hostname defaults to `pixfirewall`).
fn system_settings(config: &Config, outside_if: &str) -> SystemSettings {
    let mut s = SystemSettings {
        outside_addr: None,
        hostname: "pixfirewall".to_string(),
        permit_ipsec: false,
    };
    for (_, c) in config.iter() {
        match c {
            Command::IpAddress(a) if a.interface == outside_if => {
                if let pix_config::interface::IpAddressKind::Static { address, .. } = a.kind {
                    s.outside_addr = Some(address);
                }
            }
            Command::Hostname(h) => s.hostname.clone_from(h),
            Command::Sysopt(o) if o.words.join(" ") == "connection permit-ipsec" => {
                s.permit_ipsec = o.enabled;
            }
            _ => {}
        }
    }
    s
}

/// The IKE endpoint configuration from the steps' results.
fn ike_config(
    isakmp: IsakmpSettings,
    policies: Vec<IsakmpPolicy>,
    groups: Vec<VpnGroup>,
    map: &CryptoMapSettings,
    transforms: Transforms,
) -> ike_sm::Config {
    let mut default_policy = modecfg::GroupPolicy::named("default");
    default_policy.address_pools = isakmp.default_pools;
    let gateway = GatewayConfig {
        policies,
        groups,
        keys: isakmp.keys,
        default_policy,
        transform_sets: transforms.sets,
        client_authentication: map.xauth_tag.is_some(),
        mode_config: map.mode_config,
        pfs: map.pfs,
        ipsec_lifetime_secs: map.ipsec_lifetime_secs,
        ipsec_lifetime_kb: map.ipsec_lifetime_kb,
        xauth: xauth::ServerConfig::default(),
        nat_traversal: isakmp.nat_traversal,
        modecfg: modecfg::ServerConfig::pix63(),
        transport_mode: transforms.transport_mode,
        // Aggressive Mode never answers with an `isakmp key ... address` key unless the
        // operator allows it (`run --allow-aggressive-address-keys`).
        aggressive_address_keys: false,
    };
    let keepalive = isakmp.keepalive;
    ike_sm::Config {
        gateway: Some(gateway),
        limits: Limits {
            dpd_idle: keepalive.map(|(idle, _)| idle),
            dpd_retry_interval: keepalive.map_or(Duration::from_secs(2), |(_, r)| r),
            ..Limits::default()
        },
        exponent: ExponentSize::default(),
    }
}

/// An `aaa-server TAG (IF) host ADDR` line without a key: allowed only for RADIUS
/// and only when the operator named the tag in `--allow-keyless-aaa` (an empty
/// RADIUS key lets anyone forge replies and read the hidden passwords; TACACS+
/// would send its body, user name and password, in clear, which never happens).
fn keyless_host(
    (line, tag, ifname, addr): (u32, &str, &str, Ipv4Addr),
    protocol: Option<xauth::aaa::Protocol>,
    allow: &[String],
) -> Result<(), String> {
    let allowed = allow.iter().any(|t| t == tag);
    match protocol {
        Some(xauth::aaa::Protocol::Radius) if allowed => Ok(()),
        Some(xauth::aaa::Protocol::Radius) => Err(format!(
            "line {line}: aaa-server {tag} host {addr} has no key: anyone could forge its \
             replies and read the passwords; give it one, `aaa-server {tag} ({ifname}) host {addr} KEY` \
             (a masked ******** key is read from the secrets file), or, if that RADIUS server \
             really has no key, start with `pix-gateway run --allow-keyless-aaa {tag}`"
        )),
        Some(xauth::aaa::Protocol::Tacacs) => Err(format!(
            "line {line}: aaa-server {tag} host {addr} has no key: TACACS+ would send user names \
             and passwords in clear, which this gateway never does{}; give it one, `aaa-server {tag} \
             ({ifname}) host {addr} KEY` (a masked ******** key is read from the secrets file)",
            if allowed {
                " (--allow-keyless-aaa is for RADIUS only)"
            } else {
                ""
            }
        )),
        // LOCAL, or no `protocol` line yet (reported on its own): no key is used.
        _ => Ok(()),
    }
}

/// Where a server group's requests go (`aaa-server` hosts with their ports; RADIUS
/// `radius_ports` = authentication, accounting).
pub fn aaa_config(
    group: &AaaGroup,
    nas_ip: Ipv4Addr,
    radius_ports: (u16, u16),
) -> xauth::aaa::AaaConfig {
    let mut c = xauth::aaa::AaaConfig::new(group.protocol, nas_ip);
    // Names the group in errors such as a RADIUS reply without Message-Authenticator
    // (required: the AaaConfig default, Blast-RADIUS).
    c.tag = group.tag.clone();
    c.radius_require_message_authenticator = group.require_message_authenticator;
    let (port, acct) = match group.protocol {
        xauth::aaa::Protocol::Tacacs => (49, None),
        _ => (radius_ports.0, Some(radius_ports.1)),
    };
    for h in &group.servers {
        c.servers.push(xauth::aaa::ServerSpec {
            addr: SocketAddr::new(h.addr.into(), port),
            acct_addr: acct.map(|p| SocketAddr::new(h.addr.into(), p)),
            key: xauth::Secret::new(h.key.expose_secret().to_vec()),
            timeout: h.timeout,
        });
    }
    c
}

/// The `--limit NAME=VALUE` names, with what they set (seconds unless said otherwise).
pub const LIMIT_NAMES: &[(&str, &str)] = &[
    (
        "half-open-timeout",
        "seconds a phase 1 may stay unfinished (default 60)",
    ),
    (
        "max-half-open",
        "unfinished phase 1s kept over all peers; when full the most crowded source prefix sheds one, no new peer is refused (default 2048)",
    ),
    (
        "max-half-open-per-peer",
        "unfinished phase 1s of one address; over it that address's oldest is dropped (default 8)",
    ),
    ("max-sas", "IKE SAs in all (default 4096)"),
    (
        "new-sas-per-peer-per-sec",
        "new phase 1s accepted from one address per second (default 10)",
    ),
    (
        "retransmit-initial-ms",
        "first retransmission wait in milliseconds, doubling (default 2000)",
    ),
    (
        "retransmit-max-interval-ms",
        "cap on the doubling retransmission wait in milliseconds (default 32000)",
    ),
    (
        "retransmit-count",
        "retransmissions before an exchange is given up (default 4)",
    ),
    (
        "dpd-idle",
        "seconds of silence before R-U-THERE; 0 turns DPD off (default off)",
    ),
    (
        "dpd-retries",
        "R-U-THERE without ACK before the peer is dead (default 3)",
    ),
    (
        "dpd-retry-interval",
        "seconds to wait for each DPD ACK (default 2)",
    ),
    (
        "natt-keepalive",
        "NAT keepalive interval when we are behind a NAT (default 20)",
    ),
    (
        "pressure-half-open",
        "unfinished phase 1s from which the gateway is under pressure: shorter wait, DH key pairs reused (default 64)",
    ),
    (
        "half-open-timeout-under-pressure",
        "seconds a phase 1 may stay unfinished under pressure (default 5)",
    ),
    (
        "dh-reuse-window",
        "seconds one DH key pair per group is reused under pressure; 0: never (default 10)",
    ),
    (
        "first-reply-retransmits",
        "resends of MM2/AM2 to a peer that has not answered yet (default 1)",
    ),
    (
        "recent-peers",
        "addresses that completed phase 1 recently, evicted last (default 1024)",
    ),
];

/// Applies one `--limit NAME=VALUE`.
///
/// # Errors
/// One line naming the problem and the known names.
pub fn apply_limit(l: &mut ike_sm::Limits, spec: &str) -> Result<(), String> {
    let known = || {
        LIMIT_NAMES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| format!("--limit {spec}: expected NAME=VALUE (names: {})", known()))?;
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| format!("--limit {name}: {value:?} is not a whole number"))?;
    let secs = Duration::from_secs(n);
    let count = || usize::try_from(n).map_err(|_| format!("--limit {name}: {n} is too large"));
    let count32 = || u32::try_from(n).map_err(|_| format!("--limit {name}: {n} is too large"));
    match name.trim() {
        "half-open-timeout" => l.half_open_timeout = secs,
        "max-half-open" => l.max_half_open = count()?,
        "max-half-open-per-peer" => l.max_half_open_per_peer = count()?,
        "max-sas" => l.max_sas = count()?,
        "new-sas-per-peer-per-sec" => l.new_sas_per_peer_per_sec = count32()?,
        "retransmit-initial-ms" => l.retransmit_initial = Duration::from_millis(n),
        "retransmit-max-interval-ms" => l.retransmit_max_interval = Duration::from_millis(n),
        "retransmit-count" => l.retransmit_count = count32()?,
        "dpd-idle" => l.dpd_idle = (n > 0).then_some(secs),
        "pressure-half-open" => l.pressure_half_open = count()?,
        "half-open-timeout-under-pressure" => l.half_open_timeout_under_pressure = secs,
        "dh-reuse-window" => l.dh_reuse_window = secs,
        "first-reply-retransmits" => l.first_reply_retransmits = count32()?,
        "recent-peers" => l.recent_peers = count()?,
        "dpd-retries" => l.dpd_retries = count32()?,
        "dpd-retry-interval" => l.dpd_retry_interval = secs,
        "natt-keepalive" => l.natt_keepalive = secs,
        other => {
            return Err(format!(
                "--limit {other}: unknown name (names: {})",
                known()
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod keyless_aaa_tests {
    use super::*;

    /// The demo configuration with `extra` lines appended, mapped with `allow`.
    fn plan_of(extra: &[&str], allow: &[&str]) -> Result<Plan, Vec<String>> {
        let edit = |mut text: String| {
            for l in extra {
                text.push_str(l);
                text.push('\n');
            }
            text
        };
        super::super::test_support::demo_plan_with(edit, &[], allow)
    }

    #[test]
    fn radius_groups_require_message_authenticator_unless_the_operator_opts_out() {
        let host = "aaa-server RADIUS (inside) host 10.89.129.140 secretkey timeout 3";
        let mut p = plan_of(&["aaa-server RADIUS protocol radius", host], &[]).unwrap();
        let g = p.aaa.get_mut("RADIUS").unwrap();
        assert!(g.require_message_authenticator);
        let c = aaa_config(g, "192.168.1.1".parse().unwrap(), (1645, 1646));
        assert!(c.radius_require_message_authenticator);
        assert_eq!(c.tag, "RADIUS");
        g.require_message_authenticator = false;
        let c = aaa_config(g, "192.168.1.1".parse().unwrap(), (1645, 1646));
        assert!(!c.radius_require_message_authenticator);
    }

    #[test]
    fn keyless_radius_host_is_an_error_unless_allowed_by_tag() {
        let host = "aaa-server RADIUS (inside) host 10.89.129.140 timeout 3";
        let errs = plan_of(&[host], &[]).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = &errs[0];
        assert!(e.starts_with("line "), "{e}");
        assert!(
            e.contains("aaa-server RADIUS host 10.89.129.140 has no key")
                && e.contains("`aaa-server RADIUS (inside) host 10.89.129.140 KEY`")
                && e.contains("masked ******** key is read from the secrets file")
                && e.contains("pix-gateway run --allow-keyless-aaa RADIUS"),
            "{e}"
        );
        // Another tag's allowance does not count; the right one does, with an
        // empty key, and the group is named for the AAA client's errors.
        assert!(plan_of(&[host], &["OTHER"]).is_err());
        let p = plan_of(&[host], &["RADIUS"]).unwrap();
        let g = &p.aaa["RADIUS"];
        assert_eq!(g.servers.len(), 1);
        assert!(g.servers[0].key.expose_secret().is_empty());
        let c = aaa_config(g, Ipv4Addr::LOCALHOST, p.radius_ports);
        assert_eq!(c.tag, "RADIUS");
        assert!(c.radius_require_message_authenticator);
        assert!(!p.warnings.iter().any(|w| w.contains("allow-keyless-aaa")));
    }

    #[test]
    fn keyless_tacacs_host_is_an_error_even_when_allowed() {
        let host = "aaa-server TACACS+ (inside) host 10.89.129.141 timeout 3";
        for allow in [&[][..], &["TACACS+"][..]] {
            let errs = plan_of(&[host], allow).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            let e = &errs[0];
            assert!(
                e.contains("aaa-server TACACS+ host 10.89.129.141 has no key")
                    && e.contains("TACACS+ would send user names and passwords in clear")
                    && e.contains("`aaa-server TACACS+ (inside) host 10.89.129.141 KEY`"),
                "{e}"
            );
            assert_eq!(
                e.contains("--allow-keyless-aaa is for RADIUS only"),
                !allow.is_empty(),
                "{e}"
            );
        }
    }

    #[test]
    fn hosts_with_keys_need_nothing_and_a_stray_allowance_is_a_warning() {
        let p = plan_of(&[], &["NOSUCH"]).unwrap();
        let g = &p.aaa["AuthInbound"];
        assert_eq!(g.tag, "AuthInbound");
        assert_eq!(g.servers[0].key.expose_secret(), b"secretkey");
        assert!(
            p.warnings.iter().any(|w| w
                == "--allow-keyless-aaa NOSUCH: no `aaa-server NOSUCH` RADIUS host without a key; nothing allowed"),
            "{:?}",
            p.warnings
        );
    }
}
