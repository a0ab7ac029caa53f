//! `route`, `global`, `nat` and `static`: where packets go and how they are translated.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::acl::parse_paren_if;
use crate::error::ConfigError;
use crate::ident::Ident;
use crate::lexer::{parse_ip, Cur, PErr};
use crate::literal_names::{port_to_string, PortProto};
use crate::model::AddrTok;

/// `route IF NET MASK GATEWAY [METRIC]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Interface name.
    pub interface: Ident,
    /// Destination network.
    pub network: Ipv4Addr,
    /// Its netmask.
    pub mask: Ipv4Addr,
    /// Next hop (literal or name).
    pub gateway: AddrTok,
    /// Metric (the PIX default and printed value is 1).
    pub metric: u8,
}

pub(crate) fn parse_route(cur: &mut Cur<'_, '_>) -> Result<Route, PErr> {
    let interface = cur.ident("an interface name")?;
    let network = zero_or_ip(cur, "a destination network")?;
    let mask = if cur.at("0") {
        cur.bump();
        Ipv4Addr::UNSPECIFIED
    } else {
        cur.mask(&network)?
    };
    let gateway = cur.addr("a gateway address")?;
    let metric = if cur.done() {
        1
    } else {
        match cur.u8("a metric", 1, 16) {
            Ok(m) => m,
            // 17-255: the floating static routes of later releases (a metric of 254
            // in real 6.3(5) dumps): not modelled, not broken
            Err(e) => match cur.peek().and_then(|t| t.parse::<u8>().ok()) {
                Some(m) if m > 16 => {
                    return Err(cur
                        .err(crate::ConfigError::NotModelled {
                            what: format!("route metric {m}: PIX 6.3 metrics are 1 to 16 (a higher one is a floating static route of a later release)"),
                        })
                        .soft())
                }
                _ => return Err(e),
            },
        }
    };
    cur.finish("route")?;
    Ok(Route {
        interface,
        network,
        mask,
        gateway,
        metric,
    })
}

/// The PIX accepts `0` for `0.0.0.0` in `route` and `nat`.
fn zero_or_ip(cur: &mut Cur<'_, '_>, what: &str) -> Result<Ipv4Addr, PErr> {
    if cur.at("0") {
        cur.bump();
        return Ok(Ipv4Addr::UNSPECIFIED);
    }
    cur.ip(what)
}

impl Route {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "route {} {} {} {} {}",
            self.interface, self.network, self.mask, self.gateway, self.metric
        );
    }
}

/// What a `global` hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalPool {
    /// `A-B [netmask M]`: a NAT pool (PAT onto the last address when exhausted is
    /// not implied; a single address is PAT).
    Range {
        /// First address.
        first: Ipv4Addr,
        /// Last address.
        last: Ipv4Addr,
        /// Netmask, if written.
        netmask: Option<Ipv4Addr>,
    },
    /// `A [netmask M]`: one PAT address.
    Single {
        /// The PAT address.
        address: Ipv4Addr,
        /// Netmask, if written.
        netmask: Option<Ipv4Addr>,
    },
    /// `interface`: PAT onto the interface address.
    Interface,
}

impl GlobalPool {
    /// Does the pool contain `ip`? (`interface` pools answer false.)
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        match self {
            GlobalPool::Range { first, last, .. } => (*first..=*last).contains(&ip),
            GlobalPool::Single { address, .. } => *address == ip,
            GlobalPool::Interface => false,
        }
    }
}

/// `global (IF) ID POOL`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Interface name (the lower-security side).
    pub interface: String,
    /// NAT id matching `nat (IF) ID`.
    pub id: u32,
    /// Addresses.
    pub pool: GlobalPool,
}

pub(crate) fn parse_global(cur: &mut Cur<'_, '_>) -> Result<Global, PErr> {
    let interface = parse_paren_if(cur)?;
    let id = cur.u32("a NAT id", 1, 2_147_483_647)?;
    let pool = if cur.eat("interface") {
        GlobalPool::Interface
    } else {
        let Some(t) = cur.peek() else {
            return Err(cur.expected("an address, `A-B` range or `interface`"));
        };
        let range = t
            .split_once('-')
            .and_then(|(a, b)| Some((parse_ip(a)?, parse_ip(b)?)));
        let single = parse_ip(t);
        let (first, last) = match (range, single) {
            (Some(r), _) => r,
            (None, Some(a)) => (a, a),
            _ => return Err(cur.expected("an address, `A-B` range or `interface`")),
        };
        if first > last {
            return Err(cur.err(ConfigError::EmptyRange {
                first: first.to_string(),
                last: last.to_string(),
            }));
        }
        cur.bump();
        let netmask = if cur.eat("netmask") {
            Some(cur.mask(&"`netmask`")?)
        } else {
            None
        };
        if range.is_some() {
            GlobalPool::Range {
                first,
                last,
                netmask,
            }
        } else {
            GlobalPool::Single {
                address: first,
                netmask,
            }
        }
    };
    cur.finish("global")?;
    Ok(Global {
        interface,
        id,
        pool,
    })
}

impl Global {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "global ({}) {} ", self.interface, self.id);
        let nm = match &self.pool {
            GlobalPool::Range {
                first,
                last,
                netmask,
            } => {
                let _ = write!(out, "{first}-{last}");
                netmask
            }
            GlobalPool::Single { address, netmask } => {
                let _ = write!(out, "{address}");
                netmask
            }
            GlobalPool::Interface => {
                out.push_str("interface");
                &None
            }
        };
        if let Some(m) = nm {
            let _ = write!(out, " netmask {m}");
        }
    }
}

/// Options shared by `nat` and `static`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatOptions {
    /// `dns` (rewrite DNS replies).
    pub dns: bool,
    /// `outside` (outside NAT; `nat` only).
    pub outside: bool,
    /// `norandomseq`
    pub norandomseq: bool,
    /// Maximum connections (`0` = unlimited), if written.
    pub max_conns: Option<u32>,
    /// Embryonic limit, if written.
    pub emb_limit: Option<u32>,
}

impl NatOptions {
    /// Parse options in any order; `netmask` is handled by the caller's `netmask` slot.
    fn parse(
        cur: &mut Cur<'_, '_>,
        allow_outside: bool,
        netmask: &mut Option<Ipv4Addr>,
    ) -> Result<NatOptions, PErr> {
        let mut o = NatOptions::default();
        while let Some(t) = cur.peek() {
            if t.eq_ignore_ascii_case("dns") {
                o.dns = true;
            } else if allow_outside && t.eq_ignore_ascii_case("outside") {
                o.outside = true;
            } else if t.eq_ignore_ascii_case("norandomseq") {
                o.norandomseq = true;
            } else if t.eq_ignore_ascii_case("netmask") && netmask.is_none() {
                cur.bump();
                *netmask = Some(cur.mask(&"`netmask`")?);
                continue;
            } else if t.bytes().all(|b| b.is_ascii_digit()) {
                let v = cur.u32("a connection limit", 0, 65535)?;
                if o.max_conns.is_none() {
                    o.max_conns = Some(v);
                } else if o.emb_limit.is_none() {
                    o.emb_limit = Some(v);
                } else {
                    return Err(cur.err_prev(ConfigError::Trailing {
                        command: "nat/static",
                        found: v.to_string(),
                    }));
                }
                continue;
            } else {
                return Err(cur.expected(
                    "`dns`, `norandomseq`, `netmask`, a connection limit or end of line",
                ));
            }
            cur.bump();
        }
        Ok(o)
    }

    fn write(&self, out: &mut String) {
        if self.outside {
            out.push_str(" outside");
        }
        if self.dns {
            out.push_str(" dns");
        }
        if self.norandomseq {
            out.push_str(" norandomseq");
        }
        if let Some(m) = self.max_conns {
            let _ = write!(out, " {m}");
        }
        if let Some(e) = self.emb_limit {
            let _ = write!(out, " {e}");
        }
    }
}

/// What a `nat` line selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatSource {
    /// `access-list ID` (`nat 0 access-list`: NAT exemption; `nat N access-list`: policy NAT).
    AccessList(String),
    /// `A MASK`
    Address {
        /// Local network (literal or name).
        address: AddrTok,
        /// Its netmask.
        mask: Ipv4Addr,
    },
}

/// `nat (IF) ID SOURCE [options]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat {
    /// Interface name (the higher-security side).
    pub interface: String,
    /// NAT id (0 = identity/exemption).
    pub id: u32,
    /// Selected traffic.
    pub source: NatSource,
    /// Options.
    pub options: NatOptions,
}

pub(crate) fn parse_nat(cur: &mut Cur<'_, '_>) -> Result<Nat, PErr> {
    let interface = parse_paren_if(cur)?;
    let id = cur.u32("a NAT id", 0, 2_147_483_647)?;
    let source = if cur.eat("access-list") {
        NatSource::AccessList(cur.name("an access-list id")?)
    } else {
        let address = if cur.at("0") {
            cur.bump();
            AddrTok::Ip(Ipv4Addr::UNSPECIFIED)
        } else {
            cur.addr("a local address or `access-list`")?
        };
        let mask = if cur.at("0") {
            cur.bump();
            Ipv4Addr::UNSPECIFIED
        } else {
            cur.mask(&address)?
        };
        NatSource::Address { address, mask }
    };
    let mut nm = None;
    let options = NatOptions::parse(cur, true, &mut nm)?;
    if nm.is_some() {
        return Err(cur.err_prev(ConfigError::Trailing {
            command: "nat",
            found: "netmask".into(),
        }));
    }
    Ok(Nat {
        interface,
        id,
        source,
        options,
    })
}

impl Nat {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "nat ({}) {} ", self.interface, self.id);
        match &self.source {
            NatSource::AccessList(a) => {
                let _ = write!(out, "access-list {a}");
            }
            NatSource::Address { address, mask } => {
                let _ = write!(out, "{address} {mask}");
            }
        }
        self.options.write(out);
    }
}

/// The mapped side of a `static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticMapped {
    /// A mapped address (literal or name).
    Address(AddrTok),
    /// `interface`: the mapped interface's address (port statics).
    Interface,
}

/// The real side of a `static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticReal {
    /// A real address (literal or name).
    Address(AddrTok),
    /// `access-list ID` (policy static).
    AccessList(String),
}

/// The port part of a port static.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticPorts {
    /// `tcp` or `udp`.
    pub protocol: PortProto,
    /// Port on the mapped address.
    pub mapped_port: u16,
    /// Port on the real address (absent with `access-list`).
    pub real_port: Option<u16>,
}

/// `static (REAL_IF,MAPPED_IF) [tcp|udp] MAPPED [MPORT] REAL [RPORT] [options]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Static {
    /// Interface of the real (untranslated) addresses.
    pub real_interface: Ident,
    /// Interface where the mapped addresses appear.
    pub mapped_interface: Ident,
    /// Port static details.
    pub ports: Option<StaticPorts>,
    /// Mapped address.
    pub mapped: StaticMapped,
    /// Real address or policy ACL.
    pub real: StaticReal,
    /// `netmask M`, if written.
    pub netmask: Option<Ipv4Addr>,
    /// Options.
    pub options: NatOptions,
}

pub(crate) fn parse_static(cur: &mut Cur<'_, '_>) -> Result<Static, PErr> {
    let (real_interface, mapped_interface) = match cur.peek() {
        Some(t) if t.starts_with('(') && t.ends_with(')') && t.len() > 2 => {
            let inner = t.get(1..t.len().saturating_sub(1)).unwrap_or("");
            match inner.split_once(',') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(',') => {
                    cur.bump();
                    (Ident::new(a), Ident::new(b))
                }
                _ => return Err(cur.expected("`(real_ifc,mapped_ifc)`")),
            }
        }
        _ => return Err(cur.expected("`(real_ifc,mapped_ifc)`")),
    };
    let proto = if cur.eat("tcp") {
        Some(PortProto::Tcp)
    } else if cur.eat("udp") {
        Some(PortProto::Udp)
    } else {
        None
    };
    let mapped = if cur.eat("interface") {
        StaticMapped::Interface
    } else {
        StaticMapped::Address(cur.addr("a mapped address or `interface`")?)
    };
    let mapped_port = match proto {
        Some(_) => Some(crate::acl::parse_port_value(cur)?),
        None => None,
    };
    let real = if cur.eat("access-list") {
        StaticReal::AccessList(cur.name("an access-list id")?)
    } else {
        StaticReal::Address(cur.addr("a real address or `access-list`")?)
    };
    let real_port = match (proto, &real) {
        (Some(_), StaticReal::Address(_)) => Some(crate::acl::parse_port_value(cur)?),
        _ => None,
    };
    let mut netmask = None;
    let options = NatOptions::parse(cur, false, &mut netmask)?;
    let ports = match (proto, mapped_port) {
        (Some(protocol), Some(mapped_port)) => Some(StaticPorts {
            protocol,
            mapped_port,
            real_port,
        }),
        _ => None,
    };
    Ok(Static {
        real_interface,
        mapped_interface,
        ports,
        mapped,
        real,
        netmask,
        options,
    })
}

impl Static {
    /// The netmask in effect (`255.255.255.255` when not written).
    pub fn effective_mask(&self) -> Ipv4Addr {
        self.netmask.unwrap_or(Ipv4Addr::BROADCAST)
    }

    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "static ({},{}) ",
            self.real_interface, self.mapped_interface
        );
        if let Some(p) = &self.ports {
            out.push_str(if p.protocol == PortProto::Udp {
                "udp "
            } else {
                "tcp "
            });
        }
        match &self.mapped {
            StaticMapped::Address(a) => {
                let _ = write!(out, "{a}");
            }
            StaticMapped::Interface => out.push_str("interface"),
        }
        if let Some(p) = &self.ports {
            let _ = write!(out, " {}", port_to_string(p.mapped_port, p.protocol));
        }
        match &self.real {
            StaticReal::Address(a) => {
                let _ = write!(out, " {a}");
            }
            StaticReal::AccessList(acl) => {
                let _ = write!(out, " access-list {acl}");
            }
        }
        if let Some(StaticPorts {
            real_port: Some(rp),
            protocol,
            ..
        }) = &self.ports
        {
            let _ = write!(out, " {}", port_to_string(*rp, *protocol));
        }
        if self.options.dns {
            out.push_str(" dns");
        }
        if let Some(m) = self.netmask {
            let _ = write!(out, " netmask {m}");
        }
        let rest = NatOptions {
            dns: false,
            ..self.options
        };
        rest.write(out);
    }
}
