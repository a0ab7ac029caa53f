//! The second pass: every reference must name something defined.
//!
//! Checked: names, object-groups (and their kind), access-lists, transform-sets,
//! dynamic maps, crypto maps, `ip local pool`s, `aaa-server` tags, interface names
//! (`nameif`) and hardware ids (`interface`), `outbound` lists. A dangling reference
//! is an error at the referencing token; a reference to the wrong kind, a use before
//! the definition, or a duplicate definition names both lines.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap;

use crate::aaa::{AaaRule, AaaServerLine};
use crate::acl::{AclBody, AddrSpec, IcmpSpec, PortSpec, ProtocolSpec};
use crate::crypto::{CryptoMapLine, MapSet};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error::ConfigError;
use crate::ident::Ident;
use crate::isakmp::Isakmp;
use crate::model::{AddrTok, Command, Config};
use crate::nat::{NatSource, StaticMapped, StaticReal};
use crate::object_group::{GroupKind, Member};
use crate::vpngroup::VpngroupAttr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Interface,
    Hardware,
    Name,
    Group(GroupKind),
    Acl,
    TransformSet,
    DynamicMap,
    CryptoMap,
    Pool,
    AaaTag,
    Outbound,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Interface => "interface",
            Kind::Hardware => "hardware interface",
            Kind::Name => "name",
            Kind::Group(GroupKind::Network) => "network object-group",
            Kind::Group(GroupKind::Service) => "service object-group",
            Kind::Group(GroupKind::Protocol) => "protocol object-group",
            Kind::Group(GroupKind::IcmpType) => "icmp-type object-group",
            Kind::Acl => "access-list",
            Kind::TransformSet => "transform-set",
            Kind::DynamicMap => "dynamic-map",
            Kind::CryptoMap => "crypto map",
            Kind::Pool => "ip local pool",
            Kind::AaaTag => "aaa-server group",
            Kind::Outbound => "outbound list",
        }
    }

    /// The namespace a kind lives in (all object-groups share one).
    fn space(self) -> u8 {
        match self {
            Kind::Interface => 0,
            Kind::Hardware => 1,
            Kind::Name => 2,
            Kind::Group(_) => 3,
            Kind::Acl => 4,
            Kind::TransformSet => 5,
            Kind::DynamicMap => 6,
            Kind::CryptoMap => 7,
            Kind::Pool => 8,
            Kind::AaaTag => 9,
            Kind::Outbound => 10,
        }
    }
}

struct Pending<'c> {
    line: u32,
    token: &'c str,
    error: ConfigError,
    related: Option<(u32, String)>,
}

/// A definition's namespace and name. The name is an inline copy ([`Ident`]), so a
/// probe compares bytes in the table instead of following a pointer into the model
/// (a cache miss per lookup on a large configuration), and hashes them as they are.
#[derive(PartialEq, Eq)]
struct Key {
    space: u8,
    name: Ident,
}

/// A name as the model holds it: its text (for messages) and its key.
trait NameRef<'c>: Copy {
    fn text(self) -> &'c str;
    fn key(self, kind: Kind) -> Key;
}

impl<'c> NameRef<'c> for &'c str {
    fn text(self) -> &'c str {
        self
    }
    fn key(self, kind: Kind) -> Key {
        Key {
            space: kind.space(),
            name: Ident::new(self),
        }
    }
}

impl<'c> NameRef<'c> for &'c String {
    fn text(self) -> &'c str {
        self
    }
    fn key(self, kind: Kind) -> Key {
        self.as_str().key(kind)
    }
}

/// (an `Ident` is copied as it is: no UTF-8 check as when read as a `str`)
impl<'c> NameRef<'c> for &'c Ident {
    fn text(self) -> &'c str {
        self.as_str()
    }
    fn key(self, kind: Kind) -> Key {
        Key {
            space: kind.space(),
            name: self.clone(),
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.name.raw_bytes());
        state.write_u8(self.space);
    }
}

struct Resolver<'c> {
    defs: FxHashMap<Key, (Kind, u32)>,
    /// Case-folded definitions, built on the first dangling reference (for the
    /// "a similar one is defined on line N" hint) instead of a scan per reference.
    folded: Option<FxHashMap<(u8, String), u32>>,
    out: Vec<Pending<'c>>,
    check_hardware: bool,
}

impl<'c> Resolver<'c> {
    fn define(&mut self, kind: Kind, name_ref: impl NameRef<'c>, line: u32, unique: bool) {
        let key = name_ref.key(kind);
        match self.defs.get(&key) {
            Some((k, first)) if unique && *first != line => {
                let first = *first;
                let k = *k;
                let name = name_ref.text();
                self.out.push(Pending {
                    line,
                    token: name,
                    error: ConfigError::Duplicate {
                        kind: k.label(),
                        name: name.to_owned(),
                        first_line: first,
                    },
                    related: Some((first, "first defined here".into())),
                });
            }
            Some(_) => {}
            None => {
                self.defs.insert(key, (kind, line));
            }
        }
    }

    fn use_(&mut self, kind: Kind, name_ref: impl NameRef<'c>, line: u32) {
        if kind == Kind::Hardware && !self.check_hardware {
            return;
        }
        if kind == Kind::AaaTag && ["TACACS+", "RADIUS", "LOCAL"].contains(&name_ref.text()) {
            return;
        }
        match self.defs.get(&name_ref.key(kind)) {
            Some((k, def_line)) if *k != kind => {
                let (k, def_line) = (*k, *def_line);
                let name = name_ref.text();
                self.out.push(Pending {
                    line,
                    token: name,
                    error: ConfigError::WrongKind {
                        name: name.to_owned(),
                        expected: kind.label().to_owned(),
                        found: k.label().to_owned(),
                        def_line,
                    },
                    related: Some((
                        def_line,
                        format!("{name:?} is defined here as a {}", k.label()),
                    )),
                })
            }
            Some((_, def_line))
                if *def_line > line && matches!(kind, Kind::Name | Kind::Group(_)) =>
            {
                let def_line = *def_line;
                let name = name_ref.text();
                self.out.push(Pending {
                    line,
                    token: name,
                    error: ConfigError::UsedBeforeDefinition {
                        kind: kind.label(),
                        name: name.to_owned(),
                        def_line,
                    },
                    related: Some((def_line, "defined here".into())),
                })
            }
            Some(_) => {}
            None => {
                let name = name_ref.text();
                let defs = &self.defs;
                let similar = self
                    .folded
                    .get_or_insert_with(|| {
                        let mut m = FxHashMap::default();
                        for (k, (_, l)) in defs {
                            m.entry((k.space, k.name.to_ascii_lowercase()))
                                .or_insert(*l);
                        }
                        m
                    })
                    .get(&(kind.space(), name.to_ascii_lowercase()))
                    .copied();
                self.out.push(Pending {
                    line,
                    token: name,
                    error: ConfigError::Undefined {
                        kind: kind.label(),
                        name: name.to_owned(),
                        similar_line: similar,
                    },
                    related: similar.map(|l| (l, "a similarly spelled definition".to_owned())),
                })
            }
        }
    }

    fn addr(&mut self, a: &'c AddrTok, line: u32) {
        if let AddrTok::Name(n) = a {
            self.use_(Kind::Name, n, line);
        }
    }

    fn addr_spec(&mut self, a: &'c AddrSpec, line: u32) {
        match a {
            AddrSpec::Any => {}
            AddrSpec::Host(h) | AddrSpec::Net { address: h, .. } => self.addr(h, line),
            AddrSpec::Interface(i) => self.use_(Kind::Interface, i, line),
            AddrSpec::ObjectGroup(g) => self.use_(Kind::Group(GroupKind::Network), g, line),
        }
    }

    fn map_set(&mut self, s: &'c MapSet, line: u32) {
        match s {
            MapSet::MatchAddress(a) => self.use_(Kind::Acl, a, line),
            MapSet::Peer(p) => self.addr(p, line),
            MapSet::TransformSets(v) => {
                for t in v {
                    self.use_(Kind::TransformSet, t, line);
                }
            }
            MapSet::Pfs(_) | MapSet::Lifetime(_) | MapSet::Other(_) => {}
        }
    }
}

fn define_all<'c>(r: &mut Resolver<'c>, config: &'c Config) {
    for (line, c) in config.iter() {
        match c {
            Command::Nameif(n) => r.define(Kind::Interface, &n.name, line, true),
            Command::Interface(i) => r.define(Kind::Hardware, &i.hardware, line, false),
            Command::Name(n) => r.define(Kind::Name, &n.name, line, true),
            Command::ObjectGroup(g) => r.define(Kind::Group(g.kind), &g.name, line, false),
            Command::AccessList(a) => r.define(Kind::Acl, &a.id, line, false),
            Command::TransformSet(t) => r.define(Kind::TransformSet, &t.name, line, false),
            Command::DynamicMap(d) => r.define(Kind::DynamicMap, &d.name, line, false),
            Command::CryptoMap(m) if m.seq.is_some() => {
                r.define(Kind::CryptoMap, &m.name, line, false)
            }
            Command::IpLocalPool(p) => r.define(Kind::Pool, &p.name, line, true),
            Command::AaaServer(s) if matches!(s.line, AaaServerLine::Protocol(_)) => {
                r.define(Kind::AaaTag, &s.tag, line, true)
            }
            Command::Outbound(o) => r.define(Kind::Outbound, &o.id, line, false),
            _ => {}
        }
    }
}

fn use_all<'c>(r: &mut Resolver<'c>, config: &'c Config) {
    for (line, c) in config.iter() {
        match c {
            Command::Nameif(n) => {
                let logical = n.hardware.to_ascii_lowercase().starts_with("vlan");
                if !logical {
                    r.use_(Kind::Hardware, &n.hardware, line);
                }
            }
            Command::IpAddress(a) => r.use_(Kind::Interface, &a.interface, line),
            Command::Mtu(m) => r.use_(Kind::Interface, &m.interface, line),
            Command::ObjectGroup(g) => {
                for m in &g.members {
                    match &m.value {
                        Member::GroupObject(n) => r.use_(Kind::Group(g.kind), n, m.line),
                        Member::NetworkObject(a) => r.addr_spec(a, m.line),
                        _ => {}
                    }
                }
            }
            Command::AccessList(a) => {
                if let AclBody::Rule(rule) = &a.body {
                    rule_refs(r, rule, line);
                }
            }
            Command::Conduit(cd) => rule_refs(r, &cd.rule, line),
            Command::AccessGroup(g) => {
                r.use_(Kind::Acl, &g.acl, line);
                r.use_(Kind::Interface, &g.interface, line);
            }
            Command::Apply(a) => {
                r.use_(Kind::Interface, &a.interface, line);
                r.use_(Kind::Outbound, &a.id, line);
            }
            Command::Route(rt) => {
                r.use_(Kind::Interface, &rt.interface, line);
                r.addr(&rt.gateway, line);
            }
            Command::Global(g) => r.use_(Kind::Interface, &g.interface, line),
            Command::Nat(n) => {
                r.use_(Kind::Interface, &n.interface, line);
                match &n.source {
                    NatSource::AccessList(a) => r.use_(Kind::Acl, a, line),
                    NatSource::Address { address, .. } => r.addr(address, line),
                }
            }
            Command::Static(s) => {
                r.use_(Kind::Interface, &s.real_interface, line);
                r.use_(Kind::Interface, &s.mapped_interface, line);
                if let StaticMapped::Address(a) = &s.mapped {
                    r.addr(a, line);
                }
                match &s.real {
                    StaticReal::Address(a) => r.addr(a, line),
                    StaticReal::AccessList(a) => r.use_(Kind::Acl, a, line),
                }
            }
            Command::AaaServer(s) => {
                if let AaaServerLine::Host {
                    interface, address, ..
                } = &s.line
                {
                    r.use_(Kind::Interface, interface, line);
                    r.addr(address, line);
                    r.use_(Kind::AaaTag, &s.tag, line);
                }
            }
            Command::Aaa(a) => {
                match &a.rule {
                    AaaRule::Traffic { interface, .. } => {
                        if !["inbound", "outbound"].contains(&interface.as_str()) {
                            r.use_(Kind::Interface, interface, line);
                        }
                    }
                    AaaRule::Match { acl, interface, .. } => {
                        r.use_(Kind::Acl, acl, line);
                        r.use_(Kind::Interface, interface, line);
                    }
                    AaaRule::Console { .. } | AaaRule::Other(_) => {}
                }
                if let Some(t) = a.tag() {
                    r.use_(Kind::AaaTag, t, line);
                }
            }
            Command::CryptoMap(m) => match &m.line {
                CryptoMapLine::IpsecIsakmp { dynamic: Some(d) } => {
                    r.use_(Kind::DynamicMap, d, line)
                }
                CryptoMapLine::Set(s) => r.map_set(s, line),
                CryptoMapLine::Interface(i) => {
                    r.use_(Kind::Interface, i, line);
                    r.use_(Kind::CryptoMap, &m.name, line);
                }
                CryptoMapLine::ClientAuthentication(t) => r.use_(Kind::AaaTag, t, line),
                _ => {}
            },
            Command::DynamicMap(d) => r.map_set(&d.set, line),
            Command::Isakmp(i) => match i {
                Isakmp::Enable(ifc) => r.use_(Kind::Interface, ifc, line),
                Isakmp::Key { address, .. } => r.addr(address, line),
                Isakmp::ClientAddressPool { pool, interface } => {
                    r.use_(Kind::Pool, pool, line);
                    if let Some(ifc) = interface {
                        r.use_(Kind::Interface, ifc, line);
                    }
                }
                _ => {}
            },
            Command::Vpngroup(v) => match &v.attr {
                VpngroupAttr::AddressPool(p) => r.use_(Kind::Pool, p, line),
                VpngroupAttr::SplitTunnel(a) => r.use_(Kind::Acl, a, line),
                VpngroupAttr::AuthenticationServer(t) => r.use_(Kind::AaaTag, t, line),
                _ => {}
            },
            _ => {}
        }
    }
}

fn rule_refs<'c>(r: &mut Resolver<'c>, rule: &'c crate::acl::AclRule, line: u32) {
    if let ProtocolSpec::ObjectGroup(g) = &rule.protocol {
        r.use_(Kind::Group(GroupKind::Protocol), g, line);
    }
    r.addr_spec(&rule.src, line);
    r.addr_spec(&rule.dst, line);
    for p in [&rule.src_port, &rule.dst_port].into_iter().flatten() {
        if let PortSpec::ObjectGroup(g) = p {
            r.use_(Kind::Group(GroupKind::Service), g, line);
        }
    }
    if let Some(IcmpSpec::ObjectGroup(g)) = &rule.icmp {
        r.use_(Kind::Group(GroupKind::IcmpType), g, line);
    }
}

/// Resolve every reference in `config`; `source` is the parsed text (for columns).
/// `check_hardware`: the config has an `interface` command (hardware ids are
/// checked only then).
pub(crate) fn resolve(config: &Config, source: &str, check_hardware: bool) -> Vec<Diagnostic> {
    let mut r = Resolver {
        defs: FxHashMap::default(),
        folded: None,
        out: Vec::new(),
        check_hardware,
    };
    define_all(&mut r, config);
    use_all(&mut r, config);
    if r.out.is_empty() {
        return Vec::new();
    }
    let lines: Vec<&str> = source.split('\n').collect();
    r.out
        .into_iter()
        .map(|p| {
            let text = p
                .line
                .checked_sub(1)
                .and_then(|i| lines.get(i as usize))
                .copied()
                .unwrap_or("");
            let (col, width) = find_token(text, p.token);
            let d = Diagnostic::new(Severity::Error, p.line, col, width, p.error);
            match p.related {
                Some((l, m)) => d.with_related(l, m),
                None => d,
            }
        })
        .collect()
}

/// Column (1-based, characters) and width of `token` as a whole word in `line`
/// (also inside `(a,b)` parentheses); column 1 if not found.
fn find_token(line: &str, token: &str) -> (u32, u32) {
    let width = u32::try_from(token.chars().count()).unwrap_or(1);
    let is_sep =
        |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || c == '(' || c == ')' || c == ',');
    let mut from = 0usize;
    while let Some(pos) = line.get(from..).and_then(|s| s.find(token)) {
        let start = from.saturating_add(pos);
        let end = start.saturating_add(token.len());
        let before = line.get(..start).and_then(|s| s.chars().next_back());
        let after = line.get(end..).and_then(|s| s.chars().next());
        if is_sep(before) && is_sep(after) {
            let col = line.get(..start).map_or(0, |s| s.chars().count());
            return (u32::try_from(col).unwrap_or(0).saturating_add(1), width);
        }
        from = end;
    }
    (1, width)
}
