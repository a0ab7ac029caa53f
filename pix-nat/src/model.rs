//! [`Firewall`]: the parts of a [`Config`] that decide a packet's fate, compiled once.

use std::net::Ipv4Addr;
use std::time::Duration;

use pix_config::aaa::{AaaKind, AaaRule as CfgAaaRule};
use pix_config::acl::AclBody;
use pix_config::interface::IpAddressKind;
use pix_config::nat::{GlobalPool as CfgPool, NatSource, StaticMapped, StaticReal as CfgReal};
use pix_config::timeout::{TimeoutKind, UauthMode};
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

impl Firewall {
    /// Build from a parsed configuration.
    pub fn new(config: &Config) -> Result<Firewall, BuildError> {
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
        let ifx = |name: &str| interfaces.iter().position(|i| i.name == name);

        let mut exp = Expander {
            config,
            warnings: Vec::new(),
        };
        let mut acls = AclMap::default();
        for id in acl_ids(config) {
            let aces = exp.acl(&id)?;
            acls.insert(id, Classifier::new(aces));
        }
        let mut conduit_aces: Vec<Ace> = Vec::new();
        let mut routes = Vec::new();
        let mut access_groups: Vec<Option<(String, u32)>> = vec![None; interfaces.len()];
        let mut static_rules = Vec::new();
        let mut nats = Vec::new();
        let mut globals = Vec::new();
        let mut aaa = Vec::new();
        let mut permit_ipsec = None;
        let mut timeouts = Timeouts::default();
        let mut uauth_line = None;
        let mut aaa_server_if = FxHashMap::default();

        for (line, cmd) in config.iter() {
            match cmd {
                Command::IpAddress(a) => {
                    if let (IpAddressKind::Static { address, mask }, Some(i)) =
                        (&a.kind, ifx(&a.interface))
                    {
                        let m = mask_u32(*mask);
                        routes.push(RouteEntry {
                            interface: i,
                            network: u32::from(*address) & m,
                            mask: m,
                            gateway: None,
                            line,
                        });
                        texts.insert(line, text_of(Command::IpAddress(a.clone())));
                    }
                }
                Command::AccessList(a) => {
                    if matches!(a.body, AclBody::Rule(_)) {
                        texts.insert(line, text_of(Command::AccessList(a.clone())));
                    }
                }
                Command::Route(r) => match (ifx(&r.interface), config.resolve_addr(&r.gateway)) {
                    (Some(i), gw) => {
                        let m = mask_u32(r.mask);
                        routes.push(RouteEntry {
                            interface: i,
                            network: u32::from(r.network) & m,
                            mask: m,
                            gateway: gw,
                            line,
                        });
                        texts.insert(line, text_of(Command::Route(r.clone())));
                    }
                    (None, _) => warnings.push(format!(
                        "line {line}: route on unknown interface {}",
                        r.interface
                    )),
                },
                Command::AccessGroup(g) => match ifx(&g.interface) {
                    Some(i) => {
                        if !acls.contains_key(g.acl.as_str()) {
                            warnings.push(format!(
                                "line {line}: access-group {} has no entries: everything hits the implicit deny",
                                g.acl
                            ));
                        }
                        if let Some(slot) = access_groups.get_mut(i) {
                            *slot = Some((g.acl.to_string(), line));
                        }
                        texts.insert(line, text_of(Command::AccessGroup(g.clone())));
                    }
                    None => warnings.push(format!(
                        "line {line}: access-group on unknown interface {}",
                        g.interface
                    )),
                },
                Command::Conduit(c) => {
                    let mut tmp = Vec::new();
                    exp.rule(line, "conduit", &c.rule, &mut tmp)?;
                    // conduit: first address = global (the packet's destination), second = foreign
                    for a in tmp {
                        conduit_aces.push(Ace {
                            src: a.dst,
                            src_mask: a.dst_mask,
                            dst: a.src,
                            dst_mask: a.src_mask,
                            sport: a.dport,
                            dport: a.sport,
                            ..a
                        });
                    }
                    texts.insert(line, text_of(Command::Conduit(c.clone())));
                }
                Command::Static(s) => {
                    let (Some(real_if), Some(mapped_if)) =
                        (ifx(&s.real_interface), ifx(&s.mapped_interface))
                    else {
                        warnings.push(format!("line {line}: static on unknown interface"));
                        continue;
                    };
                    let mapped = match &s.mapped {
                        StaticMapped::Address(a) => config.resolve_addr(a),
                        StaticMapped::Interface => interfaces
                            .get(mapped_if)
                            .and_then(|i| i.address)
                            .map(|a| a.0),
                    };
                    let real = match &s.real {
                        CfgReal::Address(a) => config
                            .resolve_addr(a)
                            .map(|ip| StaticReal::Address(u32::from(ip))),
                        CfgReal::AccessList(id) => Some(StaticReal::Policy(id.clone())),
                    };
                    let (Some(mapped), Some(real)) = (mapped, real) else {
                        warnings.push(format!(
                            "line {line}: static address does not resolve; ignored"
                        ));
                        continue;
                    };
                    static_rules.push(StaticRule {
                        line,
                        real_if,
                        mapped_if,
                        proto: s.ports.map(|p| match p.protocol {
                            pix_config::names_table::PortProto::Udp => 17,
                            _ => 6,
                        }),
                        mapped_port: s.ports.map_or(0, |p| p.mapped_port),
                        real_port: s.ports.and_then(|p| p.real_port).unwrap_or(0),
                        mapped: u32::from(mapped),
                        real,
                        mask: mask_u32(s.effective_mask()),
                    });
                    texts.insert(line, text_of(Command::Static(s.clone())));
                }
                Command::Nat(n) => {
                    let Some(i) = ifx(&n.interface) else {
                        warnings.push(format!(
                            "line {line}: nat on unknown interface {}",
                            n.interface
                        ));
                        continue;
                    };
                    let select = match &n.source {
                        NatSource::AccessList(id) => NatSelect::Acl(id.clone()),
                        NatSource::Address { address, mask } => {
                            match config.resolve_addr(address) {
                                Some(a) => NatSelect::Net {
                                    addr: u32::from(a) & mask_u32(*mask),
                                    mask: mask_u32(*mask),
                                },
                                None => {
                                    warnings.push(format!(
                                        "line {line}: nat address does not resolve; ignored"
                                    ));
                                    continue;
                                }
                            }
                        }
                    };
                    nats.push(NatRule {
                        line,
                        interface: i,
                        id: n.id,
                        select,
                    });
                    texts.insert(line, text_of(Command::Nat(n.clone())));
                }
                Command::Global(g) => {
                    let Some(i) = ifx(&g.interface) else {
                        warnings.push(format!(
                            "line {line}: global on unknown interface {}",
                            g.interface
                        ));
                        continue;
                    };
                    let pool = match &g.pool {
                        CfgPool::Range { first, last, .. } => GlobalPool::Nat {
                            first: u32::from(*first),
                            last: u32::from(*last),
                        },
                        CfgPool::Single { address, .. } => GlobalPool::Pat(u32::from(*address)),
                        CfgPool::Interface => match interfaces.get(i).and_then(|x| x.address) {
                            Some((a, _)) => GlobalPool::Pat(u32::from(a)),
                            None => {
                                warnings.push(format!(
                                    "line {line}: global interface without an address; ignored"
                                ));
                                continue;
                            }
                        },
                    };
                    globals.push(GlobalRule {
                        line,
                        interface: i,
                        id: g.id,
                        pool,
                    });
                    texts.insert(line, text_of(Command::Global(g.clone())));
                }
                Command::Sysopt(s) if s.is_permit_ipsec() => {
                    permit_ipsec = Some(line);
                    texts.insert(line, text_of(Command::Sysopt(s.clone())));
                }
                Command::Timeout(t) => {
                    for item in &t.items {
                        let d = Duration::from_secs(u64::from(item.value.0));
                        match item.kind {
                            TimeoutKind::Xlate => timeouts.xlate = d,
                            TimeoutKind::Conn => timeouts.conn = d,
                            TimeoutKind::HalfClosed => timeouts.half_closed = d,
                            TimeoutKind::Udp => timeouts.udp = d,
                            TimeoutKind::Uauth => {
                                timeouts.uauth = d;
                                timeouts.uauth_inactivity =
                                    item.mode == Some(UauthMode::Inactivity);
                                uauth_line = Some(line);
                            }
                            _ => {}
                        }
                    }
                    texts.insert(line, text_of(Command::Timeout(t.clone())));
                }
                Command::AaaServer(s) => {
                    if let pix_config::aaa::AaaServerLine::Host { interface, .. } = &s.line {
                        if let Some(i) = ifx(interface) {
                            aaa_server_if.entry(s.tag.clone()).or_insert(i);
                        }
                    }
                }
                Command::Aaa(a) => {
                    if let CfgAaaRule::Traffic {
                        include,
                        service,
                        interface,
                        local,
                        local_mask,
                        foreign,
                        foreign_mask,
                        tag,
                    } = &a.rule
                    {
                        let direction = if interface.eq_ignore_ascii_case("inbound") {
                            Some(AaaDirection::Inbound)
                        } else if interface.eq_ignore_ascii_case("outbound") {
                            Some(AaaDirection::Outbound)
                        } else {
                            ifx(interface).map(AaaDirection::Interface)
                        };
                        let (Some(direction), Some(service)) = (direction, Service::parse(service))
                        else {
                            warnings.push(format!("line {line}: aaa rule not understood; ignored"));
                            continue;
                        };
                        let kind = match a.kind {
                            AaaKind::Authentication => crate::uauth::AaaKind::Authentication,
                            AaaKind::Accounting => crate::uauth::AaaKind::Accounting,
                            AaaKind::Authorization => continue,
                        };
                        let lm = mask_u32(*local_mask);
                        let fm = mask_u32(*foreign_mask);
                        aaa.push(AaaRule {
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
                        texts.insert(line, text_of(Command::Aaa(a.clone())));
                    }
                }
                _ => {}
            }
        }
        warnings.extend(exp.warnings);
        Ok(Firewall {
            interfaces,
            routes,
            acls,
            access_groups,
            conduits: Classifier::new(conduit_aces),
            statics: StaticTable::new(static_rules),
            nats,
            globals,
            aaa,
            permit_ipsec,
            timeouts,
            aaa_server_if,
            uauth_line,
            warnings,
            texts,
        })
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
