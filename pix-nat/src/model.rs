//! [`Firewall`]: the parts of a [`Config`] that decide a packet's fate, compiled once.

use std::net::Ipv4Addr;
use std::time::Duration;

use pix_config::aaa::{Aaa, AaaKind, AaaRule as CfgAaaRule};
use pix_config::acl::{AccessGroup, AclBody, Conduit};
use pix_config::interface::{IpAddress, IpAddressKind};
use pix_config::nat::{
    Global, GlobalPool as CfgPool, Nat, NatSource, Route, Static, StaticMapped,
    StaticReal as CfgReal,
};
use pix_config::timeout::{Timeout as CfgTimeout, TimeoutKind, UauthMode};
use pix_config::{Command, Config, Located};
use rustc_hash::FxHashMap;

use crate::acl::{acl_ids, Ace, Expander};
use crate::classifier::Classifier;
use crate::error::BuildError;
use crate::nat::{
    AclMap, GlobalPool, GlobalRule, NatRule, NatSelect, StaticReal, StaticRule, StaticTable,
};
use crate::uauth::{AaaDirection, AaaRule, Service};

/// A named interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `nameif` name.
    pub name: String,
    /// Hardware id.
    pub hardware: String,
    /// Security level 0-100.
    pub security: u8,
    /// Static address and mask, if configured.
    pub address: Option<(Ipv4Addr, Ipv4Addr)>,
    /// The `nameif` line.
    pub line: u32,
}

/// A route: connected (from `ip address`) or `route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    /// Egress interface index.
    pub interface: usize,
    /// Network (masked).
    pub network: u32,
    /// Mask.
    pub mask: u32,
    /// Next hop (`None` for connected).
    pub gateway: Option<Ipv4Addr>,
    /// Config line (`ip address` line for connected routes).
    pub line: u32,
}

/// The timers of `timeout` lines, with PIX 6.3 defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `timeout xlate` (idle dynamic NAT xlates).
    pub xlate: Duration,
    /// `timeout conn` (idle TCP connections).
    pub conn: Duration,
    /// `half-closed`
    pub half_closed: Duration,
    /// `udp`
    pub udp: Duration,
    /// `timeout uauth`
    pub uauth: Duration,
    /// True for `timeout uauth ... inactivity` (else absolute).
    pub uauth_inactivity: bool,
    /// PAT xlates idle out after this (30 s on the PIX, not configurable).
    pub pat_xlate: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            xlate: Duration::from_secs(3 * 3600),
            conn: Duration::from_secs(3600),
            half_closed: Duration::from_secs(600),
            udp: Duration::from_secs(120),
            uauth: Duration::from_secs(300),
            uauth_inactivity: false,
            pat_xlate: Duration::from_secs(30),
        }
    }
}

/// The firewall model built from a configuration.
#[derive(Debug, Clone)]
pub struct Firewall {
    /// Interfaces in `nameif` order.
    pub interfaces: Vec<Interface>,
    /// Connected and static routes.
    pub routes: Vec<RouteEntry>,
    /// Every access-list, compiled.
    pub acls: AclMap,
    /// `access-group` per interface: (acl id, line).
    pub access_groups: Vec<Option<(String, u32)>>,
    /// All `conduit` lines as one list (entries oriented source = foreign, destination = global).
    pub conduits: Classifier,
    /// `static` lines.
    pub statics: StaticTable,
    /// `nat` lines in config order.
    pub nats: Vec<NatRule>,
    /// `global` lines in config order.
    pub globals: Vec<GlobalRule>,
    /// `aaa authentication|accounting include|exclude` lines.
    pub aaa: Vec<AaaRule>,
    /// Line of `sysopt connection permit-ipsec`, if configured.
    pub permit_ipsec: Option<u32>,
    /// Timers.
    pub timeouts: Timeouts,
    /// `aaa-server TAG (IF) host A`: the interface each server group is reached through.
    pub aaa_server_if: FxHashMap<String, usize>,
    /// Line of the `timeout uauth` item, if any.
    pub uauth_line: Option<u32>,
    /// What the model could not use (unknown names, groups, interfaces).
    pub warnings: Vec<String>,
    texts: FxHashMap<u32, String>,
}

fn mask_u32(m: Ipv4Addr) -> u32 {
    u32::from(m)
}

fn text_of(cmd: Command) -> String {
    let c = Config {
        commands: vec![Located::new(0, cmd)],
    };
    c.to_show_run_string().trim_end().to_owned()
}

/// What [`Firewall::new`] has compiled so far, one configuration command at a time.
struct Compiler<'c> {
    config: &'c Config,
    exp: Expander<'c>,
    warnings: Vec<String>,
    texts: FxHashMap<u32, String>,
    interfaces: Vec<Interface>,
    acls: AclMap,
    conduit_aces: Vec<Ace>,
    routes: Vec<RouteEntry>,
    access_groups: Vec<Option<(String, u32)>>,
    static_rules: Vec<StaticRule>,
    nats: Vec<NatRule>,
    globals: Vec<GlobalRule>,
    aaa: Vec<AaaRule>,
    permit_ipsec: Option<u32>,
    timeouts: Timeouts,
    uauth_line: Option<u32>,
    aaa_server_if: FxHashMap<String, usize>,
}

impl Firewall {
    /// Build from a parsed configuration.
    pub fn new(config: &Config) -> Result<Firewall, BuildError> {
        let mut c = Compiler::new(config)?;
        for (line, cmd) in config.iter() {
            c.command(line, cmd)?;
        }
        Ok(c.finish())
    }

    /// Parse `text` and build; `Err` carries the number of error diagnostics.
    pub fn from_text(text: &str) -> Result<Firewall, crate::TraceError> {
        let out = pix_config::parse(text);
        if out.has_errors() {
            return Err(crate::TraceError::Config(out.error_count()));
        }
        Ok(Firewall::new(&out.config)?)
    }

    /// Index of the interface called `name`.
    pub fn interface_index(&self, name: &str) -> Option<usize> {
        self.interfaces.iter().position(|i| i.name == name)
    }

    /// Name of interface `i` (`"?"` if out of range).
    pub fn if_name(&self, i: usize) -> &str {
        self.interfaces.get(i).map_or("?", |x| x.name.as_str())
    }

    /// Security level of interface `i`.
    pub fn security(&self, i: usize) -> u8 {
        self.interfaces.get(i).map_or(0, |x| x.security)
    }

    /// The configuration text of `line` as `show run` prints it (for modelled commands).
    pub fn line_text(&self, line: u32) -> Option<&str> {
        self.texts.get(&line).map(String::as_str)
    }
}

impl<'c> Compiler<'c> {
    /// The interfaces (`nameif`, first of a name kept) and every access-list, compiled;
    /// the other commands follow in configuration order ([`Compiler::command`]).
    fn new(config: &'c Config) -> Result<Compiler<'c>, BuildError> {
        let mut warnings = Vec::new();
        let mut texts = FxHashMap::default();
        let mut interfaces = Vec::new();
        for (line, n) in config.nameifs() {
            if interfaces.iter().any(|i: &Interface| i.name == n.name) {
                warnings.push(format!(
                    "line {line}: interface {} named twice; first kept",
                    n.name
                ));
                continue;
            }
            interfaces.push(Interface {
                name: n.name.clone(),
                hardware: n.hardware.clone(),
                security: n.security,
                address: config.interface_address(&n.name),
                line,
            });
            texts.insert(line, text_of(Command::Nameif(n.clone())));
        }
        let mut exp = Expander {
            config,
            warnings: Vec::new(),
        };
        let mut acls = AclMap::default();
        for id in acl_ids(config) {
            let aces = exp.acl(&id)?;
            acls.insert(id, Classifier::new(aces));
        }
        Ok(Compiler {
            config,
            exp,
            warnings,
            texts,
            access_groups: vec![None; interfaces.len()],
            interfaces,
            acls,
            conduit_aces: Vec::new(),
            routes: Vec::new(),
            static_rules: Vec::new(),
            nats: Vec::new(),
            globals: Vec::new(),
            aaa: Vec::new(),
            permit_ipsec: None,
            timeouts: Timeouts::default(),
            uauth_line: None,
            aaa_server_if: FxHashMap::default(),
        })
    }

    fn finish(mut self) -> Firewall {
        self.warnings.extend(self.exp.warnings);
        Firewall {
            interfaces: self.interfaces,
            routes: self.routes,
            acls: self.acls,
            access_groups: self.access_groups,
            conduits: Classifier::new(self.conduit_aces),
            statics: StaticTable::new(self.static_rules),
            nats: self.nats,
            globals: self.globals,
            aaa: self.aaa,
            permit_ipsec: self.permit_ipsec,
            timeouts: self.timeouts,
            aaa_server_if: self.aaa_server_if,
            uauth_line: self.uauth_line,
            warnings: self.warnings,
            texts: self.texts,
        }
    }

    /// Index of the interface called `name`.
    fn ifx(&self, name: &str) -> Option<usize> {
        self.interfaces.iter().position(|i| i.name == name)
    }

    /// Keep `cmd`'s `show run` text for the traces that quote line `line`.
    fn keep_text(&mut self, line: u32, cmd: Command) {
        self.texts.insert(line, text_of(cmd));
    }

    fn command(&mut self, line: u32, cmd: &Command) -> Result<(), BuildError> {
        match cmd {
            Command::IpAddress(a) => self.ip_address(line, a),
            Command::AccessList(a) => {
                if matches!(a.body, AclBody::Rule(_)) {
                    self.keep_text(line, Command::AccessList(a.clone()));
                }
            }
            Command::Route(r) => self.route(line, r),
            Command::AccessGroup(g) => self.access_group(line, g),
            Command::Conduit(c) => self.conduit(line, c)?,
            Command::Static(s) => self.static_(line, s),
            Command::Nat(n) => self.nat(line, n),
            Command::Global(g) => self.global(line, g),
            Command::Sysopt(s) if s.is_permit_ipsec() => {
                self.permit_ipsec = Some(line);
                self.keep_text(line, Command::Sysopt(s.clone()));
            }
            Command::Timeout(t) => self.timeout(line, t),
            Command::AaaServer(s) => {
                if let pix_config::aaa::AaaServerLine::Host { interface, .. } = &s.line {
                    if let Some(i) = self.ifx(interface) {
                        self.aaa_server_if.entry(s.tag.clone()).or_insert(i);
                    }
                }
            }
            Command::Aaa(a) => self.aaa(line, a),
            _ => {}
        }
        Ok(())
    }

    /// `ip address IF A M`: a connected route.
    fn ip_address(&mut self, line: u32, a: &IpAddress) {
        if let (IpAddressKind::Static { address, mask }, Some(i)) =
            (&a.kind, self.ifx(&a.interface))
        {
            let m = mask_u32(*mask);
            self.routes.push(RouteEntry {
                interface: i,
                network: u32::from(*address) & m,
                mask: m,
                gateway: None,
                line,
            });
            self.keep_text(line, Command::IpAddress(a.clone()));
        }
    }

    /// `route IF NET MASK GW`.
    fn route(&mut self, line: u32, r: &Route) {
        match (self.ifx(&r.interface), self.config.resolve_addr(&r.gateway)) {
            (Some(i), gw) => {
                let m = mask_u32(r.mask);
                self.routes.push(RouteEntry {
                    interface: i,
                    network: u32::from(r.network) & m,
                    mask: m,
                    gateway: gw,
                    line,
                });
                self.keep_text(line, Command::Route(r.clone()));
            }
            (None, _) => self.warnings.push(format!(
                "line {line}: route on unknown interface {}",
                r.interface
            )),
        }
    }

    /// `access-group ACL in interface IF`.
    fn access_group(&mut self, line: u32, g: &AccessGroup) {
        let Some(i) = self.ifx(&g.interface) else {
            self.warnings.push(format!(
                "line {line}: access-group on unknown interface {}",
                g.interface
            ));
            return;
        };
        if !self.acls.contains_key(g.acl.as_str()) {
            self.warnings.push(format!(
                "line {line}: access-group {} has no entries: everything hits the implicit deny",
                g.acl
            ));
        }
        if let Some(slot) = self.access_groups.get_mut(i) {
            *slot = Some((g.acl.to_string(), line));
        }
        self.keep_text(line, Command::AccessGroup(g.clone()));
    }

    /// `conduit`: one list for all of them, entries turned to source = foreign,
    /// destination = global.
    fn conduit(&mut self, line: u32, c: &Conduit) -> Result<(), BuildError> {
        let mut tmp = Vec::new();
        self.exp.rule(line, "conduit", &c.rule, &mut tmp)?;
        // conduit: first address = global (the packet's destination), second = foreign
        for a in tmp {
            self.conduit_aces.push(Ace {
                src: a.dst,
                src_mask: a.dst_mask,
                dst: a.src,
                dst_mask: a.src_mask,
                sport: a.dport,
                dport: a.sport,
                ..a
            });
        }
        self.keep_text(line, Command::Conduit(c.clone()));
        Ok(())
    }

    /// `static (REAL,MAPPED) ...`.
    fn static_(&mut self, line: u32, s: &Static) {
        let (Some(real_if), Some(mapped_if)) =
            (self.ifx(&s.real_interface), self.ifx(&s.mapped_interface))
        else {
            self.warnings
                .push(format!("line {line}: static on unknown interface"));
            return;
        };
        let mapped = match &s.mapped {
            StaticMapped::Address(a) => self.config.resolve_addr(a),
            StaticMapped::Interface => self
                .interfaces
                .get(mapped_if)
                .and_then(|i| i.address)
                .map(|a| a.0),
        };
        let real = match &s.real {
            CfgReal::Address(a) => self
                .config
                .resolve_addr(a)
                .map(|ip| StaticReal::Address(u32::from(ip))),
            CfgReal::AccessList(id) => Some(StaticReal::Policy(id.clone())),
        };
        let (Some(mapped), Some(real)) = (mapped, real) else {
            self.warnings.push(format!(
                "line {line}: static address does not resolve; ignored"
            ));
            return;
        };
        self.static_rules.push(StaticRule {
            line,
            real_if,
            mapped_if,
            proto: s.ports.map(|p| match p.protocol {
                pix_config::literal_names::PortProto::Udp => 17,
                _ => 6,
            }),
            mapped_port: s.ports.map_or(0, |p| p.mapped_port),
            real_port: s.ports.and_then(|p| p.real_port).unwrap_or(0),
            mapped: u32::from(mapped),
            real,
            mask: mask_u32(s.effective_mask()),
        });
        self.keep_text(line, Command::Static(Box::new(s.clone())));
    }

    /// `nat (IF) ID access-list ACL` or `nat (IF) ID A M`.
    fn nat(&mut self, line: u32, n: &Nat) {
        let Some(i) = self.ifx(&n.interface) else {
            self.warnings.push(format!(
                "line {line}: nat on unknown interface {}",
                n.interface
            ));
            return;
        };
        let select = match &n.source {
            NatSource::AccessList(id) => NatSelect::Acl(id.clone()),
            NatSource::Address { address, mask } => match self.config.resolve_addr(address) {
                Some(a) => NatSelect::Net {
                    addr: u32::from(a) & mask_u32(*mask),
                    mask: mask_u32(*mask),
                },
                None => {
                    self.warnings.push(format!(
                        "line {line}: nat address does not resolve; ignored"
                    ));
                    return;
                }
            },
        };
        self.nats.push(NatRule {
            line,
            interface: i,
            id: n.id,
            select,
        });
        self.keep_text(line, Command::Nat(Box::new(n.clone())));
    }

    /// `global (IF) ID range | address | interface`.
    fn global(&mut self, line: u32, g: &Global) {
        let Some(i) = self.ifx(&g.interface) else {
            self.warnings.push(format!(
                "line {line}: global on unknown interface {}",
                g.interface
            ));
            return;
        };
        let pool = match &g.pool {
            CfgPool::Range { first, last, .. } => GlobalPool::Nat {
                first: u32::from(*first),
                last: u32::from(*last),
            },
            CfgPool::Single { address, .. } => GlobalPool::Pat(u32::from(*address)),
            CfgPool::Interface => match self.interfaces.get(i).and_then(|x| x.address) {
                Some((a, _)) => GlobalPool::Pat(u32::from(a)),
                None => {
                    self.warnings.push(format!(
                        "line {line}: global interface without an address; ignored"
                    ));
                    return;
                }
            },
        };
        self.globals.push(GlobalRule {
            line,
            interface: i,
            id: g.id,
            pool,
        });
        self.keep_text(line, Command::Global(g.clone()));
    }

    /// `timeout xlate|conn|half-closed|udp|uauth ...`.
    fn timeout(&mut self, line: u32, t: &CfgTimeout) {
        for item in &t.items {
            let d = Duration::from_secs(u64::from(item.value.0));
            match item.kind {
                TimeoutKind::Xlate => self.timeouts.xlate = d,
                TimeoutKind::Conn => self.timeouts.conn = d,
                TimeoutKind::HalfClosed => self.timeouts.half_closed = d,
                TimeoutKind::Udp => self.timeouts.udp = d,
                TimeoutKind::Uauth => {
                    self.timeouts.uauth = d;
                    self.timeouts.uauth_inactivity = item.mode == Some(UauthMode::Inactivity);
                    self.uauth_line = Some(line);
                }
                _ => {}
            }
        }
        self.keep_text(line, Command::Timeout(t.clone()));
    }

    /// `aaa authentication|accounting include|exclude SERVICE IF ... TAG`
    /// (authorization is not modelled).
    fn aaa(&mut self, line: u32, a: &Aaa) {
        let CfgAaaRule::Traffic {
            include,
            service,
            interface,
            local,
            local_mask,
            foreign,
            foreign_mask,
            tag,
        } = &a.rule
        else {
            return;
        };
        let direction = if interface.eq_ignore_ascii_case("inbound") {
            Some(AaaDirection::Inbound)
        } else if interface.eq_ignore_ascii_case("outbound") {
            Some(AaaDirection::Outbound)
        } else {
            self.ifx(interface).map(AaaDirection::Interface)
        };
        let (Some(direction), Some(service)) = (direction, Service::parse(service)) else {
            self.warnings
                .push(format!("line {line}: aaa rule not understood; ignored"));
            return;
        };
        let kind = match a.kind {
            AaaKind::Authentication => crate::uauth::AaaKind::Authentication,
            AaaKind::Accounting => crate::uauth::AaaKind::Accounting,
            AaaKind::Authorization => return,
        };
        let lm = mask_u32(*local_mask);
        let fm = mask_u32(*foreign_mask);
        self.aaa.push(AaaRule {
            line,
            kind,
            include: *include,
            service,
            direction,
            local: u32::from(*local) & lm,
            local_mask: lm,
            foreign: u32::from(*foreign) & fm,
            foreign_mask: fm,
            tag: tag.clone().unwrap_or_default(),
        });
        self.keep_text(line, Command::Aaa(Box::new(a.clone())));
    }
}
