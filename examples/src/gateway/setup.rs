//! From a parsed PIX configuration to what the Sans-IO crates are configured with:
//! `isakmp policy` / `isakmp key` / `vpngroup` / `crypto map` / `crypto dynamic-map` /
//! `crypto ipsec` / `ip local pool` / `aaa-server` / `username` become an
//! [`ike_sm::Config`], [`modecfg::Pools`] and the AAA server groups.
//!
//! Everything a PIX admin could get wrong here ends as one clear line that names the
//! command and says what to do (a masked secret with no secrets file entry, a crypto map
//! on no interface, a transform set that does not exist, ...).

use std::collections::BTreeMap;
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
/// # Errors
/// One line per problem, all of them.
pub fn plan_with(
    config: &Config,
    extra_users: Vec<(String, Secret)>,
    allow_keyless_aaa: &[String],
) -> Result<Plan, Vec<String>> {
    use pix_config::isakmp::{IkeAuth, Isakmp, PolicyAttr};
    use pix_config::vpngroup::VpngroupAttr;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    // --- isakmp policy: PIX defaults (rsa-sig, des, sha, group 1, 86400 s) per priority.
    #[derive(Clone, Copy)]
    struct P {
        auth: IkeAuth,
        enc: CipherAlg,
        hash: HashAlg,
        group: DhGroup,
        life: u64,
    }
    let default_p = P {
        auth: IkeAuth::RsaSig,
        enc: CipherAlg::Des,
        hash: HashAlg::Sha1,
        group: DhGroup::Modp768,
        life: 86_400,
    };
    let mut policies: BTreeMap<u16, P> = BTreeMap::new();
    let mut keys = Vec::new();
    let mut default_pools = Vec::new();
    let mut nat_traversal = None;
    let mut enabled_ifs = Vec::new();
    let mut keepalive = None;
    for (line, c) in config.iter() {
        let Command::Isakmp(i) = c else { continue };
        match i {
            Isakmp::Policy { priority, attr } => {
                let p = policies.entry(*priority).or_insert(default_p);
                match attr {
                    PolicyAttr::Authentication(a) => p.auth = *a,
                    PolicyAttr::Encryption(e) => p.enc = cipher(*e),
                    PolicyAttr::Hash(pix_config::isakmp::IkeHash::Md5) => p.hash = HashAlg::Md5,
                    PolicyAttr::Hash(pix_config::isakmp::IkeHash::Sha) => p.hash = HashAlg::Sha1,
                    PolicyAttr::Group(g) => match group(*g) {
                        Some(g) => p.group = g,
                        None => errors.push(format!(
                            "line {line}: isakmp policy {priority} group {g}: only groups 1, 2, 5 and 14 are supported"
                        )),
                    },
                    PolicyAttr::Lifetime(l) => p.life = u64::from(*l),
                }
            }
            Isakmp::Key {
                key,
                address,
                netmask,
                no_xauth,
                no_config_mode,
            } => {
                let Some(addr) = config.resolve_addr(address) else {
                    errors.push(format!("line {line}: isakmp key: unknown name {address}"));
                    continue;
                };
                let mask = netmask.unwrap_or(Ipv4Addr::BROADCAST);
                let fix = match netmask {
                    Some(m) => format!("isakmp key {addr} netmask {m} <secret>"),
                    None => format!("isakmp key {addr} <secret>"),
                };
                match clear(key, &format!("line {line}: isakmp key for {addr}"), &fix) {
                    Ok(k) => keys.push(PeerKey {
                        address: addr,
                        netmask: mask,
                        key: k,
                        no_xauth: *no_xauth,
                        no_config_mode: *no_config_mode,
                    }),
                    Err(e) => errors.push(e),
                }
            }
            Isakmp::ClientAddressPool { pool, .. } => default_pools.push(pool.clone()),
            Isakmp::NatTraversal(n) => {
                nat_traversal = Some(Duration::from_secs(u64::from(n.unwrap_or(20))));
            }
            Isakmp::Enable(ifname) => enabled_ifs.push(ifname.clone()),
            Isakmp::Keepalive { seconds, retry } => {
                // PIX 6.3 `isakmp keepalive` is what DPD does for us (RFC 3706):
                // R-U-THERE after `seconds` of silence, every `retry` seconds after.
                keepalive = Some((
                    Duration::from_secs(u64::from(*seconds)),
                    Duration::from_secs(u64::from(retry.unwrap_or(2))),
                ));
            }
            _ => {}
        }
    }
    let mut ike_policies = Vec::new();
    for (prio, p) in &policies {
        if p.auth != IkeAuth::PreShare {
            warnings.push(format!(
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
        errors.push(
            "no `isakmp policy N authentication pre-share`: no client can negotiate phase 1".into(),
        );
    }

    // --- ip local pool
    let mut pools = modecfg::Pools::new();
    for (line, c) in config.iter() {
        if let Command::IpLocalPool(p) = c {
            let r = match p.mask {
                Some(m) => pools.add_with_mask(&p.name, p.first, p.last, m),
                None => pools.add(&p.name, p.first, p.last),
            };
            if let Err(e) = r {
                errors.push(format!("line {line}: ip local pool {}: {e}", p.name));
            }
        }
    }

    // --- access lists (split-tunnel)
    let split_entries = |acl: &str| -> Vec<modecfg::unity::SplitEntry> {
        let mut v = Vec::new();
        for (_, c) in config.iter() {
            let Command::AccessList(a) = c else { continue };
            if a.id != acl {
                continue;
            }
            let pix_config::acl::AclBody::Rule(r) = &a.body else {
                continue;
            };
            if r.action != pix_config::acl::Action::Permit {
                continue;
            }
            let (addr, mask) = match &r.src {
                pix_config::acl::AddrSpec::Host(t) => (config.resolve_addr(t), Ipv4Addr::BROADCAST),
                pix_config::acl::AddrSpec::Net { address, mask } => {
                    (config.resolve_addr(address), *mask)
                }
                pix_config::acl::AddrSpec::Any => {
                    (Some(Ipv4Addr::UNSPECIFIED), Ipv4Addr::UNSPECIFIED)
                }
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
    };

    // --- vpngroup
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
        let mut policy = modecfg::GroupPolicy::named(name);
        let mut password = None;
        for (line, c) in config.iter() {
            let Command::Vpngroup(g) = c else { continue };
            if g.group != *name {
                continue;
            }
            match &g.attr {
                VpngroupAttr::AddressPool(p) => {
                    if pools.pool(p).is_none() {
                        errors.push(format!(
                            "line {line}: vpngroup {name} address-pool {p}: no `ip local pool {p}`"
                        ));
                    }
                    policy.address_pools.push(p.clone());
                }
                VpngroupAttr::DnsServer(v) => policy.dns_servers.clone_from(v),
                VpngroupAttr::WinsServer(v) => policy.wins_servers.clone_from(v),
                VpngroupAttr::DefaultDomain(d) => policy.default_domain = Some(d.clone()),
                VpngroupAttr::SplitTunnel(acl) => policy.split_tunnel = split_entries(acl),
                VpngroupAttr::SplitDns(v) => policy.split_dns.clone_from(v),
                VpngroupAttr::IdleTime(t) => {
                    policy.idle_time = Some(Duration::from_secs(u64::from(*t)));
                }
                VpngroupAttr::MaxTime(t) => {
                    policy.max_time = (*t > 0).then(|| Duration::from_secs(u64::from(*t)));
                }
                VpngroupAttr::Password(p) => {
                    match clear(
                        p,
                        &format!("line {line}: vpngroup {name} password"),
                        &format!("vpngroup {name} password <secret>"),
                    ) {
                        Ok(s) => password = Some(s),
                        Err(e) => errors.push(e),
                    }
                }
                VpngroupAttr::Pfs => policy.pfs = true,
                VpngroupAttr::BackupServer(v) => {
                    policy.backup_servers = v.iter().map(ToString::to_string).collect();
                }
                _ => {}
            }
        }
        session_limits.insert(name.clone(), (policy.idle_time, policy.max_time));
        match password {
            Some(password) => groups.push(VpnGroup {
                name: name.clone(),
                password,
                policy,
            }),
            None => warnings.push(format!(
                "vpngroup {name} has no password: Aggressive Mode clients of this group cannot connect"
            )),
        }
    }

    // --- crypto map bound to an interface, its dynamic map, transform sets.
    let mut map_if: Option<(String, String)> = None;
    let mut xauth_tag = None;
    let mut mode_config = ModeCfgMode::default();
    for (_, c) in config.iter() {
        if let Command::CryptoMap(m) = c {
            if let pix_config::crypto::CryptoMapLine::Interface(i) = &m.line {
                map_if.get_or_insert((m.name.clone(), i.clone()));
            }
        }
    }
    let Some((map_name, outside_if)) = map_if else {
        errors.push(
            "no `crypto map NAME interface IF`: the gateway does not know where to listen".into(),
        );
        return Err(errors);
    };
    if !enabled_ifs.contains(&outside_if) {
        warnings.push(format!(
            "no `isakmp enable {outside_if}`: a PIX would not answer IKE there; this gateway listens anyway"
        ));
    }
    let mut dynamic_maps = Vec::new();
    let mut set_names: Vec<String> = Vec::new();
    let mut pfs = None;
    let mut life_secs = 28_800u64;
    let mut life_kb = 4_608_000u64;
    for (_, c) in config.iter() {
        match c {
            Command::CryptoMap(m) if m.name == map_name => {
                use pix_config::crypto::{CryptoMapLine as L, MapSet};
                match &m.line {
                    L::IpsecIsakmp { dynamic: Some(d) } => dynamic_maps.push(d.clone()),
                    L::ClientAuthentication(t) => xauth_tag = Some(t.clone()),
                    L::ClientConfiguration { initiate } => {
                        if *initiate {
                            mode_config.initiate = true;
                        } else {
                            mode_config.respond = true;
                        }
                    }
                    L::Set(MapSet::TransformSets(v)) => set_names.extend(v.iter().cloned()),
                    L::Set(MapSet::Pfs(g)) => pfs = Some(pfs_group(*g)),
                    _ => {}
                }
            }
            Command::IpsecGlobal(g) => match g.lifetime {
                pix_config::crypto::SaLifetime::Seconds(s) => life_secs = u64::from(s),
                pix_config::crypto::SaLifetime::Kilobytes(k) => life_kb = u64::from(k),
            },
            _ => {}
        }
    }
    for (_, c) in config.iter() {
        if let Command::DynamicMap(d) = c {
            if dynamic_maps.contains(&d.name) {
                use pix_config::crypto::MapSet;
                match &d.set {
                    MapSet::TransformSets(v) => set_names.extend(v.iter().cloned()),
                    MapSet::Pfs(g) => pfs = Some(pfs_group(*g)),
                    _ => {}
                }
            }
        }
    }
    let mut transform_sets = Vec::new();
    let mut transport_mode = false;
    for name in &set_names {
        let mut found = false;
        for (line, c) in config.iter() {
            let Command::TransformSet(t) = c else {
                continue;
            };
            if t.name != *name {
                continue;
            }
            found = true;
            use pix_config::crypto::{Transform as T, TransformSetLine};
            match &t.line {
                TransformSetLine::ModeTransport => transport_mode = true,
                TransformSetLine::Transforms(v) => {
                    let mut c = None;
                    let mut a = None;
                    for x in v {
                        match x {
                            T::EspDes => c = Some(EncryptionAlgorithm::Des),
                            T::Esp3des => c = Some(EncryptionAlgorithm::TripleDes),
                            T::EspAes => c = Some(EncryptionAlgorithm::Aes128),
                            T::EspAes192 => c = Some(EncryptionAlgorithm::Aes192),
                            T::EspAes256 => c = Some(EncryptionAlgorithm::Aes256),
                            T::EspMd5Hmac => a = Some(IntegrityAlgorithm::HmacMd5_96),
                            T::EspShaHmac => a = Some(IntegrityAlgorithm::HmacSha1_96),
                            other => warnings.push(format!(
                                "line {line}: transform-set {name}: {} is not supported here; ignored",
                                other.as_str()
                            )),
                        }
                    }
                    match (c, a) {
                        (Some(cipher), Some(auth)) => transform_sets.push(TransformSet {
                            name: name.clone(),
                            cipher,
                            auth,
                        }),
                        _ => errors.push(format!(
                            "line {line}: transform-set {name}: needs an ESP cipher and esp-md5-hmac or esp-sha-hmac"
                        )),
                    }
                }
            }
        }
        if !found {
            errors.push(format!(
                "crypto map {map_name}: transform-set {name} is not defined (`crypto ipsec transform-set {name} ...`)"
            ));
        }
    }
    if transform_sets.is_empty() {
        errors.push(format!(
            "crypto map {map_name}: no transform set (`crypto dynamic-map D N set transform-set T`)"
        ));
    }

    // --- aaa-server groups
    let mut aaa: BTreeMap<String, AaaGroup> = BTreeMap::new();
    let mut keyless_allowed = std::collections::BTreeSet::new();
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
    for (line, c) in config.iter() {
        let Command::AaaServer(s) = c else { continue };
        use pix_config::aaa::{AaaProtocol, AaaServerLine};
        match &s.line {
            AaaServerLine::Protocol(p) => {
                let protocol = match p {
                    AaaProtocol::Tacacs => xauth::aaa::Protocol::Tacacs,
                    AaaProtocol::Radius => xauth::aaa::Protocol::Radius,
                    AaaProtocol::Local => xauth::aaa::Protocol::Local,
                };
                aaa.insert(
                    s.tag.clone(),
                    AaaGroup {
                        tag: s.tag.clone(),
                        protocol,
                        servers: Vec::new(),
                        require_message_authenticator: true,
                    },
                );
            }
            AaaServerLine::Host {
                interface,
                address,
                key,
                timeout,
            } => {
                let Some(addr) = config.resolve_addr(address) else {
                    errors.push(format!(
                        "line {line}: aaa-server {}: unknown name {address}",
                        s.tag
                    ));
                    continue;
                };
                let key = match key {
                    Some(k) => match clear(
                        k,
                        &format!("line {line}: aaa-server {} host {addr} key", s.tag),
                        &format!("aaa-server {} {addr} key <secret>", s.tag),
                    ) {
                        Ok(k) => k,
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    },
                    None => {
                        let protocol = aaa.get(&s.tag).map(|g| g.protocol);
                        let at = (line, s.tag.as_str(), interface.as_str(), addr);
                        match keyless_host(at, protocol, allow_keyless_aaa) {
                            Ok(()) => {
                                keyless_allowed.insert(s.tag.clone());
                                Secret::from_slice(b"")
                            }
                            Err(e) => {
                                errors.push(e);
                                continue;
                            }
                        }
                    }
                };
                match aaa.get_mut(&s.tag) {
                    Some(g) => g.servers.push(AaaHost {
                        addr,
                        key,
                        timeout: Duration::from_secs(u64::from(timeout.unwrap_or(5))),
                    }),
                    None => errors.push(format!(
                        "line {line}: aaa-server {} host: no `aaa-server {} protocol ...` before it",
                        s.tag, s.tag
                    )),
                }
            }
            _ => {}
        }
    }
    if let Some(tag) = &xauth_tag {
        match aaa.get(tag) {
            None => errors.push(format!(
                "crypto map {map_name} client authentication {tag}: no `aaa-server {tag} protocol ...`"
            )),
            Some(g) if g.protocol != xauth::aaa::Protocol::Local && g.servers.is_empty() => {
                errors.push(format!(
                    "crypto map {map_name} client authentication {tag}: the group has no `aaa-server {tag} (IF) host ...`"
                ));
            }
            _ => {}
        }
    }

    for tag in allow_keyless_aaa {
        if !keyless_allowed.contains(tag) {
            warnings.push(format!(
                "--allow-keyless-aaa {tag}: no `aaa-server {tag}` RADIUS host without a key; nothing allowed"
            ));
        }
    }

    // --- LOCAL users
    let mut local_users = Vec::new();
    for (line, c) in config.iter() {
        let Command::Username(u) = c else { continue };
        let privilege = u.privilege.unwrap_or(2);
        match &u.password {
            Some(pix_config::passwords::Password::Clear(v)) => match v.clear() {
                Some(s) => local_users.push((
                    u.name.clone(),
                    Secret::from_slice(s.expose_secret()),
                    privilege,
                )),
                None => {
                    if !extra_users.iter().any(|(n, _)| *n == u.name) {
                        warnings.push(format!(
                            "line {line}: username {}: masked password; give it in the secrets file as `username {} password <secret>`",
                            u.name, u.name
                        ));
                    }
                }
            },
            Some(pix_config::passwords::Password::Encrypted(_)) => {
                if !extra_users.iter().any(|(n, _)| *n == u.name) {
                    warnings.push(format!(
                        "line {line}: username {}: an encrypted (hashed) password cannot be checked against an Xauth password; give the clear one in the secrets file as `username {} password <secret>`",
                        u.name, u.name
                    ));
                }
            }
            None => warnings.push(format!(
                "line {line}: username {} nopassword: refused for Xauth",
                u.name
            )),
        }
    }
    for (n, s) in extra_users {
        local_users.retain(|(m, _, _)| *m != n);
        local_users.push((n, s, 2));
    }

    // --- addresses, hostname, sysopt
    let mut outside_addr = None;
    let mut hostname = "pixfirewall".to_string();
    let mut permit_ipsec = false;
    for (_, c) in config.iter() {
        match c {
            Command::IpAddress(a) if a.interface == outside_if => {
                if let pix_config::interface::IpAddressKind::Static { address, .. } = a.kind {
                    outside_addr = Some(address);
                }
            }
            Command::Hostname(h) => hostname.clone_from(h),
            Command::Sysopt(s) if s.words.join(" ") == "connection permit-ipsec" => {
                permit_ipsec = s.enabled;
            }
            _ => {}
        }
    }

    let mut default_policy = modecfg::GroupPolicy::named("default");
    default_policy.address_pools = default_pools;
    session_limits.insert(String::new(), (None, None));
    let policy = match super::policy::Policy::new(config, &outside_if) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let Some(policy) = policy.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let gateway = GatewayConfig {
        policies: ike_policies,
        groups,
        keys,
        default_policy,
        transform_sets,
        client_authentication: xauth_tag.is_some(),
        mode_config,
        pfs,
        ipsec_lifetime_secs: life_secs,
        ipsec_lifetime_kb: life_kb,
        xauth: xauth::ServerConfig::default(),
        nat_traversal,
        modecfg: modecfg::ServerConfig::pix63(),
        transport_mode,
        // Aggressive Mode never answers with an `isakmp key ... address` key unless the
        // operator allows it (`run --allow-aggressive-address-keys`).
        aggressive_address_keys: false,
    };
    Ok(Plan {
        ike: ike_sm::Config {
            gateway: Some(gateway),
            limits: Limits {
                dpd_idle: keepalive.map(|(idle, _)| idle),
                dpd_retry_interval: keepalive.map_or(Duration::from_secs(2), |(_, r)| r),
                ..Limits::default()
            },
            exponent: ExponentSize::default(),
        },
        pools,
        hostname,
        outside_if,
        outside_addr,
        crypto_map: map_name,
        xauth_tag,
        aaa,
        radius_ports,
        local_users,
        session_limits,
        permit_ipsec,
        policy,
        warnings,
    })
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
