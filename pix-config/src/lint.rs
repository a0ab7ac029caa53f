//! Lint: configurations a PIX accepts but that do not do what the admin meant, or
//! that are weaker than they should be. Each [`Finding`] has a line, an explanation
//! in PIX terms and, where one can be computed, the corrected command.
//!
//! The rules:
//!
//! * [`LintRule::AclRealAddress`]: an access-list applied *in* on an interface
//!   permits a destination that is the **real** address of a `static` whose mapped
//!   side is that interface and whose real side is more secure. PIX 6.x applies the
//!   inbound ACL to the packet as it arrives, before the static is undone, so the
//!   packet carries the mapped address and the rule never matches (the seed's
//!   `access-list 120 ... host 10.89.129.131` on `outside`; the web server is
//!   192.168.1.11 there).
//! * [`LintRule::WeakCrypto`]: DES, MD5 and DH group 1 in `isakmp policy` (including
//!   a missing `encryption`/`group` line, whose defaults are des/group 1), ESP-DES,
//!   ESP/AH-MD5 and ESP-NULL in transform-sets, and `set pfs group1`.
//! * [`LintRule::NoXauth`]: a group secret (`vpngroup ... password`, used as the
//!   pre-shared key in Aggressive Mode, which sends the group name in clear and
//!   exposes the PSK hash to offline guessing) or a wildcard `isakmp key` with no
//!   Xauth in front of it (no `crypto map ... client authentication`, or `no-xauth`).
//! * [`LintRule::NatWithoutGlobal`]: `nat (if) N` with no `global (lower_if) N` on
//!   some lower-security interface: connections towards it fail with "no
//!   translation group found". A policy NAT (`nat N access-list ACL`) needs a
//!   global on one lower interface only (its ACL picks the destinations).
//! * [`LintRule::OverlappingPools`]: two `ip local pool`s share addresses.
//! * [`LintRule::PoolInInterfaceSubnet`]: a pool that is *actually* a problem on an
//!   interface subnet. A pool inside the **inside** subnet is how the seed works (the
//!   PIX proxy-ARPs for the clients' addresses on the inside, so inside hosts reach
//!   them without routes) and is not flagged. Flagged are: a pool containing any
//!   interface's own address; a pool overlapping the subnet of an interface where a
//!   crypto map is applied (the tunnels arrive there, so client addresses would be
//!   both behind the tunnel and on the wire); a pool overlapping a `global` or the
//!   mapped side of a `static` (the same address used twice).
//! * [`LintRule::UnalignedAddress`]: an address/netmask pair with host bits set
//!   (`10.1.1.1 255.255.255.0`), which the PIX silently masks or rejects.
//! * [`LintRule::SameSecurityLevel`]: two interfaces on one security level; PIX 6.3
//!   passes no traffic between them.
//! * [`LintRule::ShadowedStatic`]: a `static` whose mapped (or real) addresses are
//!   all covered by an earlier `static` of the same shape on the same interface; the
//!   PIX uses the first, so the later one never applies.
//! * [`LintRule::AggressiveAddressKey`]: an `isakmp key` for more than one address (the
//!   wildcard `address 0.0.0.0 netmask 0.0.0.0`, or any netmask shorter than /32)
//!   beside `vpngroup`s. The groups make the headend answer Aggressive Mode, and a PIX
//!   answers an Aggressive Mode probe whose identity is an address (ID_IPV4_ADDR) with a
//!   HASH_R keyed by that address key, in the clear: anyone in the key's range gets
//!   material for an offline dictionary attack on it (`ike-scan --aggressive
//!   --idtype=1`, then `psk-crack`). pix-gateway answers such probes with a random key
//!   unless run with `--allow-aggressive-address-keys`.

use std::net::Ipv4Addr;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::acl::{AccessList, AclBody, AclRule, Action, AddrSpec};
use crate::crypto::{CryptoMapLine, MapSet, PfsGroup, Transform, TransformSet, TransformSetLine};
use crate::interface::IpAddressKind;
use crate::isakmp::{IkeEncryption, IkeHash, Isakmp, PolicyAttr};
use crate::literal_names::PortProto;
use crate::model::{AddrTok, Command, Config};
use crate::nat::{GlobalPool, NatSource, Static, StaticMapped, StaticReal};
use crate::object_group::Member;
use crate::secret::MASK;
use crate::vpngroup::{IpLocalPool, VpngroupAttr};

/// The lint rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum LintRule {
    /// Inbound ACL permits a static's real address instead of its mapped one.
    AclRealAddress,
    /// DES / MD5 / DH group 1 / ESP-NULL.
    WeakCrypto,
    /// Group or wildcard pre-shared key without Xauth.
    NoXauth,
    /// `nat N` without `global N` on a lower-security interface.
    NatWithoutGlobal,
    /// Two address pools overlap.
    OverlappingPools,
    /// A pool collides with an interface address, the tunnel interface's subnet, or NAT addresses.
    PoolInInterfaceSubnet,
    /// Address with host bits outside its netmask.
    UnalignedAddress,
    /// Two interfaces share a security level.
    SameSecurityLevel,
    /// A static covered by an earlier one.
    ShadowedStatic,
    /// An address-range `isakmp key` beside `vpngroup`s: open to Aggressive Mode probes.
    AggressiveAddressKey,
}

impl LintRule {
    /// A short kebab-case code (`acl-real-address`, `weak-crypto`, ...).
    pub fn code(self) -> &'static str {
        match self {
            LintRule::AclRealAddress => "acl-real-address",
            LintRule::WeakCrypto => "weak-crypto",
            LintRule::NoXauth => "no-xauth",
            LintRule::NatWithoutGlobal => "nat-without-global",
            LintRule::OverlappingPools => "overlapping-pools",
            LintRule::PoolInInterfaceSubnet => "pool-in-interface-subnet",
            LintRule::UnalignedAddress => "unaligned-address",
            LintRule::SameSecurityLevel => "same-security-level",
            LintRule::ShadowedStatic => "shadowed-static",
            LintRule::AggressiveAddressKey => "aggressive-address-key",
        }
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Finding {
    /// The rule.
    pub rule: LintRule,
    /// 1-based line of the offending command.
    pub line: u32,
    /// One-line summary.
    pub message: String,
    /// Why, in PIX terms.
    pub explanation: String,
    /// The corrected command, where one can be given.
    pub suggestion: Option<String>,
    /// Other lines involved.
    pub related: Vec<u32>,
}

impl Finding {
    /// Render like a compiler warning: `FILE:LINE: warning[code]: message`, then the
    /// explanation and the suggestion.
    pub fn render(&self, file_name: &str) -> String {
        let mut s = format!(
            "{file_name}:{}: warning[{}]: {}\n  = {}\n",
            self.line,
            self.rule.code(),
            self.message,
            self.explanation
        );
        if let Some(fix) = &self.suggestion {
            s.push_str(&format!("  = suggestion: {fix}\n"));
        }
        for r in &self.related {
            s.push_str(&format!("{file_name}:{r}: note: related line\n"));
        }
        s
    }
}

fn f(
    rule: LintRule,
    line: u32,
    message: String,
    explanation: String,
    suggestion: Option<String>,
) -> Finding {
    Finding {
        rule,
        line,
        message,
        explanation,
        suggestion,
        related: Vec::new(),
    }
}

/// An address range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range(u32, u32);

impl Range {
    fn net(a: Ipv4Addr, m: Ipv4Addr) -> Range {
        let m = u32::from(m);
        let base = u32::from(a) & m;
        Range(base, base | !m)
    }
    fn within(self, o: Range) -> bool {
        o.0 <= self.0 && self.1 <= o.1
    }
}

struct Ctx<'c> {
    config: &'c Config,
    names: FxHashMap<&'c str, Ipv4Addr>,
    security: FxHashMap<&'c str, u8>,
    globals: FxHashSet<(&'c str, u32)>,
}

impl<'c> Ctx<'c> {
    fn new(config: &'c Config) -> Self {
        let mut names = FxHashMap::default();
        let mut security = FxHashMap::default();
        let mut globals = FxHashSet::default();
        for (_, c) in config.iter() {
            match c {
                Command::Name(n) => {
                    names.entry(n.name.as_str()).or_insert(n.address);
                }
                Command::Nameif(n) => {
                    security.entry(n.name.as_str()).or_insert(n.security);
                }
                Command::Global(g) => {
                    globals.insert((g.interface.as_str(), g.id));
                }
                _ => {}
            }
        }
        Ctx {
            config,
            names,
            security,
            globals,
        }
    }
    fn ip(&self, a: &AddrTok) -> Option<Ipv4Addr> {
        match a {
            AddrTok::Ip(ip) => Some(*ip),
            AddrTok::Name(n) => self.names.get(n.as_str()).copied(),
        }
    }
    fn sec(&self, ifc: &str) -> Option<u8> {
        self.security.get(ifc).copied()
    }
}

/// A CIDR block: base address and prefix length (netmasks are contiguous, checked
/// by the parser), so "is contained in" is a lookup of at most 33 prefixes.
type Cidr = (u32, u32);

fn cidr(a: Ipv4Addr, m: Ipv4Addr) -> Cidr {
    let len = u32::from(m).leading_ones();
    (u32::from(a) & u32::from(m), len)
}

fn prefix_mask(len: u32) -> u32 {
    u32::MAX.checked_shl(32u32.saturating_sub(len)).unwrap_or(0)
}

/// Every CIDR block containing `c` (itself included), widest first.
fn supernets(c: Cidr) -> impl Iterator<Item = Cidr> {
    (0..=c.1.min(32)).map(move |len| (c.0 & prefix_mask(len), len))
}

/// Run every lint rule over a configuration. Findings are sorted by line.
pub fn lint(config: &Config) -> Vec<Finding> {
    let cx = Ctx::new(config);
    let mut out = Vec::new();
    acl_real_address(&cx, &mut out);
    weak_crypto(&cx, &mut out);
    no_xauth(&cx, &mut out);
    nat_without_global(&cx, &mut out);
    pools(&cx, &mut out);
    unaligned(&cx, &mut out);
    same_security(&cx, &mut out);
    shadowed_statics(&cx, &mut out);
    aggressive_address_key(&cx, &mut out);
    out.sort_by_key(|x| (x.line, x.rule));
    out
}

type StaticIndex<'c> = FxHashMap<Cidr, (u32, &'c Static, Range, Range)>;

fn acl_real_address(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let c = cx.config;
    // one pass to group statics by mapped interface and ACL lines by id
    let mut statics_on: FxHashMap<&str, Vec<(u32, &Static)>> = FxHashMap::default();
    let mut acls: FxHashMap<&str, Vec<(u32, &AccessList)>> = FxHashMap::default();
    for (l, cmd) in c.iter() {
        match cmd {
            Command::Static(s) => statics_on
                .entry(&s.mapped_interface)
                .or_default()
                .push((l, s)),
            Command::AccessList(a) => acls.entry(&a.id).or_default().push((l, a)),
            _ => {}
        }
    }
    let mut done: FxHashSet<(&str, &str)> = FxHashSet::default();
    let mut indexes: FxHashMap<&str, StaticIndex<'_>> = FxHashMap::default();
    for (_, cmd) in c.iter() {
        let Command::AccessGroup(g) = cmd else {
            continue;
        };
        if !done.insert((g.acl.as_str(), g.interface.as_str())) {
            continue;
        }
        let Some(sec_in) = cx.sec(&g.interface) else {
            continue;
        };
        // statics that present a more secure interface's hosts on this interface,
        // indexed by their real CIDR block (first in the file wins, as on the PIX)
        let statics = indexes.entry(g.interface.as_str()).or_insert_with(|| {
            let mut idx: StaticIndex<'_> = FxHashMap::default();
            for (l, s) in statics_on.get(g.interface.as_str()).into_iter().flatten() {
                if cx.sec(&s.real_interface).is_none_or(|r| r <= sec_in) {
                    continue;
                }
                let (StaticMapped::Address(m), StaticReal::Address(r)) = (&s.mapped, &s.real)
                else {
                    continue;
                };
                let mask = s.effective_mask();
                let (Some(r), Some(m)) = (cx.ip(r), cx.ip(m)) else {
                    continue;
                };
                idx.entry(cidr(r, mask)).or_insert((
                    *l,
                    *s,
                    Range::net(r, mask),
                    Range::net(m, mask),
                ));
            }
            idx
        });
        if statics.is_empty() {
            continue;
        }
        for (line, acl) in acls.get(g.acl.as_str()).into_iter().flatten() {
            let (line, acl) = (*line, *acl);
            let AclBody::Rule(rule) = &acl.body else {
                continue;
            };
            if rule.action != Action::Permit {
                continue;
            }
            let (dst, dmask) = match &rule.dst {
                AddrSpec::Host(h) => (cx.ip(h), Ipv4Addr::BROADCAST),
                AddrSpec::Net { address, mask } => (cx.ip(address), *mask),
                _ => continue,
            };
            let Some(dst) = dst else { continue };
            let drange = Range::net(dst, dmask);
            let hit = supernets(cidr(dst, dmask))
                .filter_map(|k| statics.get(&k))
                .min_by_key(|(l, ..)| *l);
            let Some((sline, s, real, mapped)) = hit else {
                continue;
            };
            if drange.within(*mapped) {
                continue;
            }
            let offset = drange.0.wrapping_sub(real.0);
            let new = Ipv4Addr::from(mapped.0.wrapping_add(offset));
            let mut fixed: AclRule = (**rule).clone();
            fixed.dst = match &rule.dst {
                AddrSpec::Host(_) => AddrSpec::Host(AddrTok::Ip(new)),
                _ => AddrSpec::Net {
                    address: AddrTok::Ip(new),
                    mask: dmask,
                },
            };
            let fixed_line = AccessList {
                id: acl.id.clone(),
                position: acl.position,
                body: AclBody::Rule(Box::new(fixed)),
            };
            let mapped_txt = match &s.mapped {
                StaticMapped::Address(a) => a.to_string(),
                StaticMapped::Interface => "interface".into(),
            };
            let real_txt = match &s.real {
                StaticReal::Address(a) => a.to_string(),
                StaticReal::AccessList(a) => format!("access-list {a}"),
            };
            let mut x = f(
                LintRule::AclRealAddress,
                line,
                format!(
                    "access-list {} permits the real address {} of a static on interface {} (security {}); the PIX matches the mapped address {}",
                    acl.id,
                    Ipv4Addr::from(drange.0),
                    g.interface,
                    sec_in,
                    new
                ),
                format!(
                    "access-group {} is applied in on {}, so it sees packets as they arrive there, before `static ({},{}) {} {}` (line {}) translates them; their destination is the mapped address {}, never the real {}. This permit never matches and the traffic hits the implicit deny.",
                    g.acl, g.interface, s.real_interface, s.mapped_interface, mapped_txt, real_txt, sline, new,
                    Ipv4Addr::from(drange.0)
                ),
                Some(fixed_line.to_string()),
            );
            x.related.push(*sline);
            out.push(x);
        }
    }
}

impl core::fmt::Display for AccessList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

fn weak_crypto(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    // isakmp policies: explicit weak attributes, and weak defaults
    let mut policies: Vec<(u16, u32, bool, bool)> = Vec::new();
    let mut policy_index: FxHashMap<u16, usize> = FxHashMap::default(); // prio, first line, has enc, has group
    for (line, c) in cx.config.iter() {
        match c {
            Command::Isakmp(Isakmp::Policy { priority, attr }) => {
                let p = *priority;
                match policy_index.get(&p).and_then(|i| policies.get_mut(*i)) {
                    Some(e) => {
                        e.2 |= matches!(attr, PolicyAttr::Encryption(_));
                        e.3 |= matches!(attr, PolicyAttr::Group(_));
                    }
                    None => {
                        policy_index.insert(p, policies.len());
                        policies.push((
                            p,
                            line,
                            matches!(attr, PolicyAttr::Encryption(_)),
                            matches!(attr, PolicyAttr::Group(_)),
                        ));
                    }
                }
                let weak = match attr {
                    PolicyAttr::Encryption(IkeEncryption::Des) => Some((
                        "encryption des",
                        "DES has a 56-bit key, searchable exhaustively; IKE phase 1 protects the Xauth credentials and the phase 2 keys",
                        "encryption 3des",
                    )),
                    PolicyAttr::Hash(IkeHash::Md5) => Some((
                        "hash md5",
                        "MD5 is broken for collision resistance; HMAC-MD5 is deprecated for new IKE policies",
                        "hash sha",
                    )),
                    PolicyAttr::Group(1) => Some((
                        "group 1",
                        "Diffie-Hellman group 1 (768-bit MODP) is within reach of precomputation attacks",
                        "group 2",
                    )),
                    _ => None,
                };
                if let Some((what, why, fix)) = weak {
                    out.push(f(
                        LintRule::WeakCrypto,
                        line,
                        format!("isakmp policy {p} uses {what}"),
                        format!("{why}. Prefer 3des or aes (aes-256 with the VPN-3DES-AES license), sha, and group 2 or 5 (VPN Client 4.x offers them all)."),
                        Some(format!("isakmp policy {p} {fix}")),
                    ));
                }
            }
            Command::TransformSet(TransformSet {
                name,
                line: TransformSetLine::Transforms(ts),
            }) => {
                for t in ts {
                    let (fix, why) = match t {
                        Transform::EspDes => (Transform::Esp3des, "ESP-DES has a 56-bit key"),
                        Transform::EspMd5Hmac => (
                            Transform::EspShaHmac,
                            "HMAC-MD5-96 is deprecated (HMAC-SHA1-96 replaces it)",
                        ),
                        Transform::AhMd5Hmac => (
                            Transform::AhShaHmac,
                            "HMAC-MD5-96 is deprecated (HMAC-SHA1-96 replaces it)",
                        ),
                        Transform::EspNull => {
                            (Transform::Esp3des, "ESP-NULL does not encrypt at all")
                        }
                        _ => continue,
                    };
                    let fixed: Vec<&str> = ts
                        .iter()
                        .map(|x| if x == t { fix.as_str() } else { x.as_str() })
                        .collect();
                    out.push(f(
                        LintRule::WeakCrypto,
                        line,
                        format!("transform-set {name} uses {}", t.as_str()),
                        format!("{why}; every IPsec SA negotiated with this transform-set carries the tunnel's traffic under it."),
                        Some(format!("crypto ipsec transform-set {name} {}", fixed.join(" "))),
                    ));
                }
            }
            Command::CryptoMap(m) => {
                if let CryptoMapLine::Set(MapSet::Pfs(None | Some(PfsGroup::Group1))) = &m.line {
                    out.push(f(
                        LintRule::WeakCrypto,
                        line,
                        format!("crypto map {} uses PFS with DH group 1", m.name),
                        "`set pfs` without a group means group1 (768-bit MODP), which is weak."
                            .into(),
                        Some(format!(
                            "crypto map {} {} set pfs group2",
                            m.name,
                            m.seq.unwrap_or(0)
                        )),
                    ));
                }
            }
            Command::DynamicMap(d) => {
                if let MapSet::Pfs(None | Some(PfsGroup::Group1)) = &d.set {
                    out.push(f(
                        LintRule::WeakCrypto,
                        line,
                        format!("crypto dynamic-map {} uses PFS with DH group 1", d.name),
                        "`set pfs` without a group means group1 (768-bit MODP), which is weak."
                            .into(),
                        Some(format!(
                            "crypto dynamic-map {} {} set pfs group2",
                            d.name, d.seq
                        )),
                    ));
                }
            }
            _ => {}
        }
    }
    for (p, line, has_enc, has_group) in policies {
        if !has_enc {
            out.push(f(
                LintRule::WeakCrypto,
                line,
                format!("isakmp policy {p} has no encryption line, so it uses the default des"),
                "The PIX default for `isakmp policy encryption` is des (56-bit).".into(),
                Some(format!("isakmp policy {p} encryption 3des")),
            ));
        }
        if !has_group {
            out.push(f(
                LintRule::WeakCrypto,
                line,
                format!("isakmp policy {p} has no group line, so it uses the default group 1"),
                "The PIX default for `isakmp policy group` is 1 (768-bit MODP).".into(),
                Some(format!("isakmp policy {p} group 2")),
            ));
        }
    }
}

fn no_xauth(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let xauth = cx
        .config
        .iter()
        .any(|(_, c)| matches!(c, Command::CryptoMap(m) if matches!(m.line, CryptoMapLine::ClientAuthentication(_))));
    let add_xauth = cx
        .config
        .iter()
        .find_map(|(_, c)| match c {
            Command::CryptoMap(m) if matches!(m.line, CryptoMapLine::Interface(_)) => {
                Some(m.name.clone())
            }
            _ => None,
        })
        .map(|m| format!("crypto map {m} client authentication LOCAL"));
    for (line, c) in cx.config.iter() {
        match c {
            Command::Vpngroup(g) if matches!(g.attr, VpngroupAttr::Password(_)) && !xauth => out.push(f(
                LintRule::NoXauth,
                line,
                format!("vpngroup {} has a group password but no Xauth is configured", g.group),
                "VPN Clients use the group password as the pre-shared key in Aggressive Mode, which sends the group name in clear and lets a listener test guesses of the key offline; the group secret is shared by every user, so without Xauth (`crypto map ... client authentication`) it alone admits anyone who has it.".into(),
                add_xauth.clone(),
            )),
            Command::Isakmp(Isakmp::Key {
                address,
                netmask,
                no_xauth,
                no_config_mode,
                ..
            }) => {
                let wildcard = cx.ip(address) == Some(Ipv4Addr::UNSPECIFIED)
                    && netmask.is_none_or(|m| m == Ipv4Addr::UNSPECIFIED);
                if wildcard && (!xauth || *no_xauth) {
                    let nm = netmask.map(|m| format!(" netmask {m}")).unwrap_or_default();
                    let ncm = if *no_config_mode { " no-config-mode" } else { "" };
                    out.push(f(
                        LintRule::NoXauth,
                        line,
                        "the wildcard pre-shared key admits peers without Xauth".into(),
                        "`isakmp key ... address 0.0.0.0 netmask 0.0.0.0` accepts any peer that knows one shared key; without Xauth nothing identifies the user behind it.".into(),
                        if xauth {
                            Some(format!("isakmp key {MASK} address {address}{nm}{ncm}"))
                        } else {
                            add_xauth.clone()
                        },
                    ));
                }
            }
            _ => {}
        }
    }
}

/// See [`LintRule::AggressiveAddressKey`]. A host key (/32, or no netmask with a host
/// address) is left alone: a probe must come from that very address to be answered.
fn aggressive_address_key(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let Some(group_line) = cx.config.iter().find_map(|(line, c)| match c {
        Command::Vpngroup(_) => Some(line),
        _ => None,
    }) else {
        return;
    };
    for (line, c) in cx.config.iter() {
        let Command::Isakmp(Isakmp::Key {
            address, netmask, ..
        }) = c
        else {
            continue;
        };
        let addr = cx.ip(address);
        let mask = match (netmask, addr) {
            (Some(m), _) => *m,
            (None, Some(a)) if a == Ipv4Addr::UNSPECIFIED => Ipv4Addr::UNSPECIFIED,
            (None, _) => Ipv4Addr::BROADCAST,
        };
        if mask == Ipv4Addr::BROADCAST {
            continue;
        }
        let range = if mask == Ipv4Addr::UNSPECIFIED {
            "the wildcard pre-shared key".to_string()
        } else {
            format!(
                "the pre-shared key for {address}/{}",
                u32::from(mask).count_ones()
            )
        };
        let mut finding = f(
            LintRule::AggressiveAddressKey,
            line,
            format!("{range} can be probed with Aggressive Mode (vpngroups are configured)"),
            "with `vpngroup`s the headend answers Aggressive Mode, and an Aggressive Mode probe whose identity is an address (ID_IPV4_ADDR) is answered with a HASH_R keyed by the `isakmp key` of that address, in the clear and before the prober proves anything: from any address in the key's range, `ike-scan --aggressive --idtype=1` collects it and `psk-crack` guesses the key offline. pix-gateway answers such probes with a random key unless it runs with `--allow-aggressive-address-keys`; on a PIX, give Main Mode peers host keys (`netmask 255.255.255.255`) or a long random key.".into(),
            None,
        );
        finding.related.push(group_line);
        out.push(finding);
    }
}

fn nat_without_global(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let c = cx.config;
    let ifs: Vec<&crate::interface::Nameif> = c.nameifs().map(|(_, n)| n).collect();
    for (line, cmd) in c.iter() {
        let Command::Nat(n) = cmd else { continue };
        if n.id == 0 || n.options.outside {
            continue;
        }
        let Some(sec) = cx.sec(&n.interface) else {
            continue;
        };
        let has_global = |ifc: &str| cx.globals.contains(&(ifc, n.id));
        // Policy NAT (`nat N access-list`) selects traffic to particular destinations,
        // so one global where those destinations are is enough.
        if matches!(n.source, NatSource::AccessList(_))
            && ifs.iter().any(|x| x.security < sec && has_global(&x.name))
        {
            continue;
        }
        for lower in ifs.iter().filter(|x| x.security < sec) {
            if !has_global(&lower.name) {
                out.push(f(
                    LintRule::NatWithoutGlobal,
                    line,
                    format!("nat ({}) {} has no global ({}) {}", n.interface, n.id, lower.name, n.id),
                    format!(
                        "Connections from {} (security {}) to the less secure {} (security {}) need a translation; with no `global ({}) {}` the PIX drops them (\"No translation group found\"). Add a global, or exempt the traffic with `nat 0` / a static.",
                        n.interface, sec, lower.name, lower.security, lower.name, n.id
                    ),
                    Some(format!("global ({}) {} interface", lower.name, n.id)),
                ));
            }
        }
    }
}

/// Address intervals with a query "does anything overlap [a, b]?" in O(log n):
/// sorted by start, with the running maximum end (and who holds it).
struct Intervals {
    starts: Vec<u32>,
    /// (maximum end among the first i+1 intervals, line of that interval)
    max_end: Vec<(u32, u32)>,
}

impl Intervals {
    fn new(mut v: Vec<(Range, u32)>) -> Self {
        v.sort_by_key(|(r, l)| (r.0, *l));
        let mut best: Option<(u32, u32)> = None;
        let mut max_end = Vec::with_capacity(v.len());
        for (r, l) in &v {
            let b = match best {
                Some((e, bl)) if e >= r.1 => (e, bl),
                _ => (r.1, *l),
            };
            best = Some(b);
            max_end.push(b);
        }
        Intervals {
            starts: v.iter().map(|(r, _)| r.0).collect(),
            max_end,
        }
    }

    /// The line of some interval overlapping `q`.
    fn overlap(&self, q: Range) -> Option<u32> {
        let k = self.starts.partition_point(|s| *s <= q.1);
        let (end, line) = *self.max_end.get(k.checked_sub(1)?)?;
        (end >= q.0).then_some(line)
    }
}

fn pools(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let c = cx.config;
    let pools: Vec<(u32, &IpLocalPool)> = c
        .iter()
        .filter_map(|(l, x)| match x {
            Command::IpLocalPool(p) => Some((l, p)),
            _ => None,
        })
        .collect();
    if pools.is_empty() {
        return;
    }
    let range = |p: &IpLocalPool| Range(u32::from(p.first), u32::from(p.last));
    // pool against pool: sweep in address order; each pool is reported at most once
    let mut sorted: Vec<&(u32, &IpLocalPool)> = pools.iter().collect();
    sorted.sort_by_key(|(l, p)| (u32::from(p.first), *l));
    let mut reach: Option<(u32, &(u32, &IpLocalPool))> = None;
    for cur in sorted {
        let (l, p) = cur;
        if let Some((end, prev)) = reach {
            if end >= u32::from(p.first) {
                let ((l2, p2), (l1, p1)) = if *l > prev.0 {
                    (cur, prev)
                } else {
                    (prev, cur)
                };
                let mut x = f(
                    LintRule::OverlappingPools,
                    *l2,
                    format!("ip local pool {} overlaps ip local pool {} (line {l1})", p2.name, p1.name),
                    "Two pools handing out the same address give two VPN clients one address; the PIX does not check across pools.".into(),
                    None,
                );
                x.related.push(*l1);
                out.push(x);
            }
        }
        if reach.is_none_or(|(end, _)| u32::from(p.last) > end) {
            reach = Some((u32::from(p.last), cur));
        }
    }
    // pool against interface addresses, the crypto interfaces' subnets, globals, statics
    let crypto_ifs: FxHashSet<&str> = c
        .iter()
        .filter_map(|(_, x)| match x {
            Command::CryptoMap(m) => match &m.line {
                CryptoMapLine::Interface(i) => Some(i.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut if_addrs = Vec::new();
    let mut if_nets = Vec::new();
    let mut globals = Vec::new();
    let mut statics = Vec::new();
    let mut what: FxHashMap<u32, String> = FxHashMap::default();
    for (l, x) in c.iter() {
        match x {
            Command::IpAddress(ipa) => {
                if let IpAddressKind::Static { address, mask } = ipa.kind {
                    if_addrs.push((Range(u32::from(address), u32::from(address)), l));
                    if crypto_ifs.contains(ipa.interface.as_str()) {
                        if_nets.push((Range::net(address, mask), l));
                    }
                    what.insert(l, format!("{address} of interface {}", ipa.interface));
                }
            }
            Command::Global(g) => {
                let r = match g.pool {
                    GlobalPool::Range { first, last, .. } => {
                        Range(u32::from(first), u32::from(last))
                    }
                    GlobalPool::Single { address, .. } => {
                        Range(u32::from(address), u32::from(address))
                    }
                    GlobalPool::Interface => continue,
                };
                globals.push((r, l));
                what.insert(l, format!("global ({}) {}", g.interface, g.id));
            }
            Command::Static(s) => {
                let StaticMapped::Address(m) = &s.mapped else {
                    continue;
                };
                let Some(m) = cx.ip(m) else { continue };
                statics.push((Range::net(m, s.effective_mask()), l));
                what.insert(l, format!("the mapped address {m} of a static"));
            }
            _ => {}
        }
    }
    let if_addrs = Intervals::new(if_addrs);
    let if_nets = Intervals::new(if_nets);
    let globals = Intervals::new(globals);
    let statics = Intervals::new(statics);
    let name = |l: u32| what.get(&l).cloned().unwrap_or_default();
    for (pl, p) in &pools {
        let pr = range(p);
        if let Some(al) = if_addrs.overlap(pr) {
            let mut x = f(
                LintRule::PoolInInterfaceSubnet,
                *pl,
                format!("ip local pool {} contains the address {}", p.name, name(al)),
                "A client given the interface's own address cannot be reached, and the PIX answers ARP for it itself.".into(),
                None,
            );
            x.related.push(al);
            out.push(x);
        } else if let Some(al) = if_nets.overlap(pr) {
            let ifc = c
                .iter()
                .find_map(|(l, x)| match x {
                    Command::IpAddress(a) if l == al => Some(a.interface.as_str()),
                    _ => None,
                })
                .unwrap_or("?");
            let mut x = f(
                LintRule::PoolInInterfaceSubnet,
                *pl,
                format!("ip local pool {} lies in the subnet of {ifc}, where the crypto map is applied", p.name),
                format!("The VPN clients' tunnels arrive on {ifc}; giving them addresses of that same subnet makes those addresses reachable both on the wire and through the tunnels. Pools belong in the inside address space (where the PIX proxy-ARPs for them) or in a subnet of their own routed to the PIX."),
                None,
            );
            x.related.push(al);
            out.push(x);
        }
        if let Some(gl) = globals.overlap(pr) {
            let mut x = f(
                LintRule::PoolInInterfaceSubnet,
                *pl,
                format!("ip local pool {} overlaps {}", p.name, name(gl)),
                "The same addresses would be handed to VPN clients and used for NAT.".into(),
                None,
            );
            x.related.push(gl);
            out.push(x);
        }
        if let Some(sl) = statics.overlap(pr) {
            let mut x = f(
                LintRule::PoolInInterfaceSubnet,
                *pl,
                format!("ip local pool {} overlaps {}", p.name, name(sl)),
                "The same address would be a VPN client's and a static's.".into(),
                None,
            );
            x.related.push(sl);
            out.push(x);
        }
    }
}

fn aligned(a: Ipv4Addr, m: Ipv4Addr) -> bool {
    u32::from(a) & !u32::from(m) == 0
}

fn align(a: Ipv4Addr, m: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) & u32::from(m))
}

fn unaligned(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let push = |out: &mut Vec<Finding>,
                line: u32,
                a: Ipv4Addr,
                m: Ipv4Addr,
                fix: Option<String>| {
        out.push(f(
            LintRule::UnalignedAddress,
            line,
            format!("{a} has host bits outside the netmask {m}"),
            format!(
                "With netmask {m} the network is {}; the bits outside it are ignored (or the command is rejected), so the entry does not say what it seems to.",
                align(a, m)
            ),
            fix,
        ));
    };
    let fix_spec = |s: &AddrSpec| -> AddrSpec {
        match s {
            AddrSpec::Net {
                address: AddrTok::Ip(a),
                mask,
            } => AddrSpec::Net {
                address: AddrTok::Ip(align(*a, *mask)),
                mask: *mask,
            },
            o => o.clone(),
        }
    };
    let bad = |s: &AddrSpec| -> Option<(Ipv4Addr, Ipv4Addr)> {
        match s {
            AddrSpec::Net { address, mask } => {
                let a = cx.ip(address)?;
                (!aligned(a, *mask)).then_some((a, *mask))
            }
            _ => None,
        }
    };
    for (line, c) in cx.config.iter() {
        match c {
            Command::AccessList(acl) => {
                if let AclBody::Rule(r) = &acl.body {
                    for spec in [&r.src, &r.dst] {
                        if let Some((a, m)) = bad(spec) {
                            let mut fixed: AclRule = (**r).clone();
                            fixed.src = fix_spec(&r.src);
                            fixed.dst = fix_spec(&r.dst);
                            let fl = AccessList {
                                id: acl.id.clone(),
                                position: acl.position,
                                body: AclBody::Rule(Box::new(fixed)),
                            };
                            push(out, line, a, m, Some(fl.to_string()));
                        }
                    }
                }
            }
            Command::ObjectGroup(g) => {
                for mem in &g.members {
                    if let Member::NetworkObject(spec) = &mem.value {
                        if let Some((a, m)) = bad(spec) {
                            push(
                                out,
                                mem.line,
                                a,
                                m,
                                Some(format!("network-object {} {m}", align(a, m))),
                            );
                        }
                    }
                }
            }
            Command::Route(r) if !aligned(r.network, r.mask) => {
                let mut fixed = r.clone();
                fixed.network = align(r.network, r.mask);
                let mut s = String::new();
                fixed.write(&mut s);
                push(out, line, r.network, r.mask, Some(s));
            }
            Command::Nat(n) => {
                if let NatSource::Address { address, mask } = &n.source {
                    if let Some(a) = cx.ip(address).filter(|a| !aligned(*a, *mask)) {
                        let mut fixed = n.clone();
                        fixed.source = NatSource::Address {
                            address: AddrTok::Ip(align(a, *mask)),
                            mask: *mask,
                        };
                        let mut s = String::new();
                        fixed.write(&mut s);
                        push(out, line, a, *mask, Some(s));
                    }
                }
            }
            Command::Static(st) => {
                let m = st.effective_mask();
                let addrs = [
                    match &st.mapped {
                        StaticMapped::Address(a) => cx.ip(a),
                        StaticMapped::Interface => None,
                    },
                    match &st.real {
                        StaticReal::Address(a) => cx.ip(a),
                        StaticReal::AccessList(_) => None,
                    },
                ];
                if addrs.iter().flatten().any(|a| !aligned(*a, m)) {
                    let mut fixed = st.clone();
                    if let StaticMapped::Address(AddrTok::Ip(a)) = &mut fixed.mapped {
                        *a = align(*a, m);
                    }
                    if let StaticReal::Address(AddrTok::Ip(a)) = &mut fixed.real {
                        *a = align(*a, m);
                    }
                    let mut s = String::new();
                    fixed.write(&mut s);
                    let a = addrs
                        .iter()
                        .flatten()
                        .find(|a| !aligned(**a, m))
                        .copied()
                        .unwrap_or(Ipv4Addr::UNSPECIFIED);
                    push(out, line, a, m, Some(s));
                }
            }
            Command::Isakmp(Isakmp::Key {
                address,
                netmask: Some(m),
                no_xauth,
                no_config_mode,
                ..
            }) => {
                if let Some(a) = cx.ip(address).filter(|a| !aligned(*a, *m)) {
                    let mut s = format!("isakmp key {MASK} address {} netmask {m}", align(a, *m));
                    if *no_xauth {
                        s.push_str(" no-xauth");
                    }
                    if *no_config_mode {
                        s.push_str(" no-config-mode");
                    }
                    push(out, line, a, *m, Some(s));
                }
            }
            Command::Aaa(a) => {
                if let crate::aaa::AaaRule::Traffic {
                    local,
                    local_mask,
                    foreign,
                    foreign_mask,
                    ..
                } = &a.rule
                {
                    for (x, m) in [(*local, *local_mask), (*foreign, *foreign_mask)] {
                        if !aligned(x, m) {
                            let mut fixed = a.clone();
                            if let crate::aaa::AaaRule::Traffic { local, foreign, .. } =
                                &mut fixed.rule
                            {
                                *local = align(*local, *local_mask);
                                *foreign = align(*foreign, *foreign_mask);
                            }
                            let mut s = String::new();
                            fixed.write(&mut s);
                            push(out, line, x, m, Some(s));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn same_security(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut first: FxHashMap<u8, (u32, &str)> = FxHashMap::default();
    for (l, n) in cx.config.nameifs() {
        match first.get(&n.security) {
            Some((l1, a)) if *a != n.name => {
                let mut x = f(
                    LintRule::SameSecurityLevel,
                    l,
                    format!("interfaces {a} and {} are both security{}", n.name, n.security),
                    "PIX 6.3 passes no traffic between two interfaces of the same security level (there is no same-security-traffic permit before 7.0); give each interface its own level.".into(),
                    None,
                );
                x.related.push(*l1);
                out.push(x);
            }
            Some(_) => {}
            None => {
                first.insert(n.security, (l, n.name.as_str()));
            }
        }
    }
}

fn shadowed_statics(cx: &Ctx<'_>, out: &mut Vec<Finding>) {
    type Shape = Option<(PortProto, u16)>;
    let shape = |s: &Static| -> Shape { s.ports.map(|p| (p.protocol, p.mapped_port)) };
    let mapped = |s: &Static| match &s.mapped {
        StaticMapped::Address(a) => cx.ip(a).map(|a| cidr(a, s.effective_mask())),
        StaticMapped::Interface => None,
    };
    let real = |s: &Static| match &s.real {
        StaticReal::Address(a) => cx.ip(a).map(|a| cidr(a, s.effective_mask())),
        StaticReal::AccessList(_) => None,
    };
    // first line of each (interface(s), shape, CIDR)
    let mut by_mapped: FxHashMap<(&str, Shape, Cidr), u32> = FxHashMap::default();
    let mut by_real: FxHashMap<(&str, &str, Shape, Cidr), u32> = FxHashMap::default();
    for (l, c) in cx.config.iter() {
        let Command::Static(s) = c else { continue };
        if let Some(m) = mapped(s) {
            by_mapped
                .entry((&s.mapped_interface, shape(s), m))
                .or_insert(l);
        }
        if let Some(r) = real(s) {
            by_real
                .entry((&s.real_interface, &s.mapped_interface, shape(s), r))
                .or_insert(l);
        }
    }
    for (lj, c) in cx.config.iter() {
        let Command::Static(sj) = c else { continue };
        let earlier_mapped = mapped(sj).and_then(|m| {
            supernets(m)
                .filter_map(|k| by_mapped.get(&(sj.mapped_interface.as_str(), shape(sj), k)))
                .filter(|l| **l < lj)
                .min()
        });
        let earlier_real = real(sj).and_then(|r| {
            supernets(r)
                .filter_map(|k| {
                    by_real.get(&(
                        sj.real_interface.as_str(),
                        sj.mapped_interface.as_str(),
                        shape(sj),
                        k,
                    ))
                })
                .filter(|l| **l < lj)
                .min()
        });
        let side = match (earlier_mapped, earlier_real) {
            (Some(li), _) => Some(("mapped", &sj.mapped_interface, *li)),
            (None, Some(li)) => Some(("real", &sj.real_interface, *li)),
            _ => None,
        };
        if let Some((what, ifc, li)) = side {
            let mut x = f(
                LintRule::ShadowedStatic,
                lj,
                format!("this static's {what} addresses on {ifc} are all covered by the static on line {li}"),
                "The PIX uses the first static that matches; this one never applies (a PIX 6.3 also warns about overlapping statics when they are entered).".into(),
                None,
            );
            x.related.push(li);
            out.push(x);
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The interval index agrees with a linear scan.
        #[test]
        fn intervals_match_linear_scan(
            v in prop::collection::vec((0u32..1000, 0u32..50), 0..40),
            q in (0u32..1000, 0u32..50),
        ) {
            let ranges: Vec<(Range, u32)> = v
                .iter()
                .enumerate()
                .map(|(i, (a, len))| (Range(*a, a + len), i as u32 + 1))
                .collect();
            let idx = Intervals::new(ranges.clone());
            let q = Range(q.0, q.0 + q.1);
            let linear = ranges.iter().any(|(r, _)| r.0 <= q.1 && q.0 <= r.1);
            match idx.overlap(q) {
                Some(line) => {
                    let (r, _) = ranges.iter().find(|(_, l)| *l == line).unwrap();
                    prop_assert!(r.0 <= q.1 && q.0 <= r.1, "witness does not overlap");
                }
                None => prop_assert!(!linear, "missed an overlap"),
            }
        }

        /// Supernet lookup finds exactly the CIDR blocks that contain a block.
        #[test]
        fn supernets_contain(a in any::<u32>(), len in 0u32..=32) {
            let c = (a & prefix_mask(len), len);
            let v: Vec<Cidr> = supernets(c).collect();
            prop_assert_eq!(v.len() as u32, len + 1);
            for (base, l) in v {
                prop_assert_eq!(c.0 & prefix_mask(l), base);
            }
        }
    }
}
