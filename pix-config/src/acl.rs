//! `access-list` (every PIX 6.x form), `access-group`, `conduit`, `outbound` and `apply`.
//!
//! PIX 6.x access lists use *netmasks* (`255.255.255.0`), not IOS wildcards; a
//! wildcard is reported with the netmask it probably meant.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::error::ConfigError;
use crate::ident::Ident;
use crate::lexer::{Cur, PErr};
use crate::literal_names::{
    icmp_to_string, lookup_icmp, lookup_port, lookup_protocol, port_to_string, protocol_to_string,
    PortLookup, PortProto,
};
use crate::model::AddrTok;
use crate::object_group::GroupKind;
use crate::parser::ParseState;

/// `permit` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `permit`
    Permit,
    /// `deny`
    Deny,
}

impl Action {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Permit => "permit",
            Action::Deny => "deny",
        }
    }
}

/// The protocol field of an ACL line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProtocolSpec {
    /// An IP protocol number (`ip` is 0, `tcp` 6, ...); printed by PIX name.
    Number(u8),
    /// `object-group NAME` (a protocol group).
    ObjectGroup(Ident),
}

impl ProtocolSpec {
    /// Which port names apply (tcp, udp or both).
    pub fn port_proto(&self) -> PortProto {
        match self {
            ProtocolSpec::Number(6) => PortProto::Tcp,
            ProtocolSpec::Number(17) => PortProto::Udp,
            _ => PortProto::Both,
        }
    }

    fn allows_ports(&self) -> bool {
        matches!(
            self,
            ProtocolSpec::Number(6 | 17) | ProtocolSpec::ObjectGroup(_)
        )
    }
}

/// An address field: `any`, `host A`, `A MASK`, `interface IF`, `object-group NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrSpec {
    /// `any`
    Any,
    /// `host A`
    Host(AddrTok),
    /// `A MASK`
    Net {
        /// Network address (literal or name).
        address: AddrTok,
        /// Netmask.
        mask: Ipv4Addr,
    },
    /// `interface IF` (the interface's own address).
    Interface(Ident),
    /// `object-group NAME` (a network group).
    ObjectGroup(Ident),
}

/// A port comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortOp {
    /// `eq P`
    Eq(u16),
    /// `neq P`
    Neq(u16),
    /// `lt P`
    Lt(u16),
    /// `gt P`
    Gt(u16),
    /// `range A B`
    Range(u16, u16),
}

impl PortOp {
    /// Does `port` satisfy this operator?
    pub fn matches(self, port: u16) -> bool {
        match self {
            PortOp::Eq(p) => port == p,
            PortOp::Neq(p) => port != p,
            PortOp::Lt(p) => port < p,
            PortOp::Gt(p) => port > p,
            PortOp::Range(a, b) => (a..=b).contains(&port),
        }
    }

    pub(crate) fn write(self, out: &mut String, proto: PortProto) {
        let p = |v| port_to_string(v, proto);
        let _ = match self {
            PortOp::Eq(v) => write!(out, "eq {}", p(v)),
            PortOp::Neq(v) => write!(out, "neq {}", p(v)),
            PortOp::Lt(v) => write!(out, "lt {}", p(v)),
            PortOp::Gt(v) => write!(out, "gt {}", p(v)),
            PortOp::Range(a, b) => write!(out, "range {} {}", p(a), p(b)),
        };
    }
}

/// A port field: an operator, or `object-group NAME` (a service group).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// `eq/neq/lt/gt/range`
    Op(PortOp),
    /// `object-group NAME`
    ObjectGroup(Ident),
}

/// The ICMP type field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IcmpSpec {
    /// A type by number (printed by PIX name).
    Type(u8),
    /// `object-group NAME` (an icmp-type group).
    ObjectGroup(Ident),
}

/// The `log` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSpec {
    /// `log [level] [interval secs]`
    On {
        /// Syslog level 0-7.
        level: Option<u8>,
        /// Interval in seconds.
        interval: Option<u16>,
    },
    /// `log disable`
    Disable,
    /// `log default`
    Default,
}

/// A permit/deny rule (also the body of a `conduit`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclRule {
    /// Permit or deny.
    pub action: Action,
    /// Protocol.
    pub protocol: ProtocolSpec,
    /// Source (for a `conduit`: the global, i.e. mapped, address).
    pub src: AddrSpec,
    /// Source port.
    pub src_port: Option<PortSpec>,
    /// Destination (for a `conduit`: the foreign address).
    pub dst: AddrSpec,
    /// Destination port.
    pub dst_port: Option<PortSpec>,
    /// ICMP type (protocol icmp only).
    pub icmp: Option<IcmpSpec>,
    /// Logging option.
    pub log: Option<LogSpec>,
}

/// What an `access-list` line says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AclBody {
    /// `access-list ID remark TEXT`
    Remark(String),
    /// A rule (boxed: it is most of an ACL line's size, and boxing keeps every
    /// [`Command`](crate::Command) small, which the parser moves around).
    Rule(Box<AclRule>),
}

/// `access-list ID [line N] ...`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessList {
    /// The list's id (number or name).
    pub id: Ident,
    /// `line N`, if written (the position to insert at; kept and printed as given).
    pub position: Option<u32>,
    /// Remark or rule.
    pub body: AclBody,
}

pub(crate) fn parse_port_value(cur: &mut Cur<'_, '_>) -> Result<u16, PErr> {
    let Some(t) = cur.peek() else {
        return Err(cur.expected("a port (number or PIX port name)"));
    };
    match lookup_port(t) {
        Some(PortLookup::Exact(p)) => {
            cur.bump();
            Ok(p)
        }
        Some(PortLookup::Abbreviation { full, port }) => {
            cur.bump();
            cur.warn_prev(ConfigError::PortAbbreviation {
                written: t.to_owned(),
                full,
                port,
                is_dns: t.eq_ignore_ascii_case("dns"),
            });
            Ok(port)
        }
        None => {
            Err(cur
                .expected("a port (number 0-65535 or PIX port name such as www, domain, sqlnet)"))
        }
    }
}

/// Parse `eq|neq|lt|gt P` or `range A B` if the next token is an operator.
pub(crate) fn parse_port_op(cur: &mut Cur<'_, '_>) -> Result<Option<PortOp>, PErr> {
    let op = match cur.peek() {
        Some(t) if t.eq_ignore_ascii_case("eq") => 0,
        Some(t) if t.eq_ignore_ascii_case("neq") => 1,
        Some(t) if t.eq_ignore_ascii_case("lt") => 2,
        Some(t) if t.eq_ignore_ascii_case("gt") => 3,
        Some(t) if t.eq_ignore_ascii_case("range") => 4,
        _ => return Ok(None),
    };
    cur.bump();
    let a = parse_port_value(cur)?;
    Ok(Some(match op {
        0 => PortOp::Eq(a),
        1 => PortOp::Neq(a),
        2 => PortOp::Lt(a),
        3 => PortOp::Gt(a),
        _ => {
            let b = parse_port_value(cur)?;
            if b < a {
                return Err(cur.err_prev(ConfigError::EmptyRange {
                    first: a.to_string(),
                    last: b.to_string(),
                }));
            }
            PortOp::Range(a, b)
        }
    }))
}

fn addr_spec_expected(cur: &Cur<'_, '_>, what: &str) -> PErr {
    cur.expected(format!(
        "{what} (`any`, `host A`, `A MASK`, `interface IF` or `object-group NAME`)"
    ))
}

pub(crate) fn parse_addr_spec(cur: &mut Cur<'_, '_>, what: &str) -> Result<AddrSpec, PErr> {
    if cur.eat("any") {
        return Ok(AddrSpec::Any);
    }
    if cur.eat("host") {
        return Ok(AddrSpec::Host(
            cur.addr("an IP address or name after `host`")?,
        ));
    }
    if cur.eat("interface") {
        return Ok(AddrSpec::Interface(cur.ident("an interface name")?));
    }
    if cur.eat("object-group") {
        return Ok(AddrSpec::ObjectGroup(
            cur.ident("a network object-group name")?,
        ));
    }
    // (the message is only formatted on error: this runs for most ACL lines)
    // (what `cur.addr` does, with this message on failure; one dotted-quad parse)
    let address = match cur.peek() {
        Some(t) => match crate::lexer::parse_ip(t) {
            Some(ip) => AddrTok::Ip(ip),
            None if crate::lexer::is_name_token(t) => AddrTok::Name(Ident::new(t)),
            None => return Err(addr_spec_expected(cur, what)),
        },
        None => return Err(addr_spec_expected(cur, what)),
    };
    cur.bump();
    let mask = cur.mask(&address)?;
    Ok(AddrSpec::Net { address, mask })
}

fn parse_port_spec(
    cur: &mut Cur<'_, '_>,
    st: &ParseState,
    proto: &ProtocolSpec,
) -> Result<Option<PortSpec>, PErr> {
    if !proto.allows_ports() {
        return Ok(None);
    }
    if cur.at("object-group") {
        if let Some(name) = cur.peek_at(1) {
            if st.group_kind(name) == Some(GroupKind::Service) {
                cur.bump();
                cur.bump();
                return Ok(Some(PortSpec::ObjectGroup(Ident::new(name))));
            }
        }
        return Ok(None);
    }
    Ok(parse_port_op(cur)?.map(PortSpec::Op))
}

fn parse_log(cur: &mut Cur<'_, '_>) -> Result<Option<LogSpec>, PErr> {
    if !cur.eat("log") {
        return Ok(None);
    }
    if cur.eat("disable") {
        return Ok(Some(LogSpec::Disable));
    }
    if cur.eat("default") {
        return Ok(Some(LogSpec::Default));
    }
    let level = if cur
        .peek()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(cur.u8("a syslog level", 0, 7)?)
    } else {
        None
    };
    let interval = if cur.eat("interval") {
        Some(cur.u16("a log interval in seconds", 1, 600)?)
    } else {
        None
    };
    Ok(Some(LogSpec::On { level, interval }))
}

/// Parse the rule body from the action on.
pub(crate) fn parse_rule(cur: &mut Cur<'_, '_>, st: &ParseState) -> Result<AclRule, PErr> {
    let action = if cur.eat("permit") {
        Action::Permit
    } else if cur.eat("deny") {
        Action::Deny
    } else {
        return Err(cur.expected("`permit`, `deny` or `remark`"));
    };
    let protocol = if cur.eat("object-group") {
        ProtocolSpec::ObjectGroup(cur.ident("a protocol object-group name")?)
    } else {
        match cur.peek().and_then(lookup_protocol) {
            Some(p) => {
                cur.bump();
                ProtocolSpec::Number(p)
            }
            None => {
                return Err(cur
                    .expected("a protocol (ip, tcp, udp, icmp, a number 0-255 or `object-group`)"))
            }
        }
    };
    let src = parse_addr_spec(cur, "a source address")?;
    let src_port = parse_port_spec(cur, st, &protocol)?;
    let dst = parse_addr_spec(cur, "a destination address")?;
    let dst_port = parse_port_spec(cur, st, &protocol)?;
    let icmp = if matches!(protocol, ProtocolSpec::Number(1)) {
        if cur.eat("object-group") {
            Some(IcmpSpec::ObjectGroup(
                cur.ident("an icmp-type object-group name")?,
            ))
        } else if let Some(t) = cur.peek().filter(|t| !t.eq_ignore_ascii_case("log")) {
            match lookup_icmp(t) {
                Some(v) => {
                    cur.bump();
                    Some(IcmpSpec::Type(v))
                }
                None => return Err(cur.expected("an ICMP type (name or number) or `log`")),
            }
        } else {
            None
        }
    } else {
        None
    };
    let log = parse_log(cur)?;
    Ok(AclRule {
        action,
        protocol,
        src,
        src_port,
        dst,
        dst_port,
        icmp,
        log,
    })
}

pub(crate) fn parse_access_list(
    cur: &mut Cur<'_, '_>,
    st: &ParseState,
) -> Result<AccessList, PErr> {
    let id = cur.ident("an access-list id")?;
    let position = if cur.eat("line") {
        Some(cur.u32("a line number", 1, 1_000_000)?)
    } else {
        None
    };
    let body = if cur.eat("remark") {
        AclBody::Remark(cur.rest().to_owned())
    } else {
        AclBody::Rule(Box::new(parse_rule(cur, st)?))
    };
    cur.finish("access-list")?;
    Ok(AccessList { id, position, body })
}

pub(crate) fn write_addr(out: &mut String, a: &AddrSpec) {
    let _ = match a {
        AddrSpec::Any => write!(out, "any"),
        AddrSpec::Host(h) => write!(out, "host {h}"),
        AddrSpec::Net { address, mask } => write!(out, "{address} {mask}"),
        AddrSpec::Interface(i) => write!(out, "interface {i}"),
        AddrSpec::ObjectGroup(g) => write!(out, "object-group {g}"),
    };
}

fn write_port(out: &mut String, p: &PortSpec, proto: PortProto) {
    out.push(' ');
    match p {
        PortSpec::Op(op) => op.write(out, proto),
        PortSpec::ObjectGroup(g) => {
            let _ = write!(out, "object-group {g}");
        }
    }
}

impl AclRule {
    pub(crate) fn write(&self, out: &mut String) {
        out.push_str(self.action.as_str());
        out.push(' ');
        match &self.protocol {
            ProtocolSpec::Number(p) => out.push_str(&protocol_to_string(*p)),
            ProtocolSpec::ObjectGroup(g) => {
                let _ = write!(out, "object-group {g}");
            }
        }
        let pp = self.protocol.port_proto();
        out.push(' ');
        write_addr(out, &self.src);
        if let Some(p) = &self.src_port {
            write_port(out, p, pp);
        }
        out.push(' ');
        write_addr(out, &self.dst);
        if let Some(p) = &self.dst_port {
            write_port(out, p, pp);
        }
        match &self.icmp {
            Some(IcmpSpec::Type(t)) => {
                let _ = write!(out, " {}", icmp_to_string(*t));
            }
            Some(IcmpSpec::ObjectGroup(g)) => {
                let _ = write!(out, " object-group {g}");
            }
            None => {}
        }
        match self.log {
            None => {}
            Some(LogSpec::Disable) => out.push_str(" log disable"),
            Some(LogSpec::Default) => out.push_str(" log default"),
            Some(LogSpec::On { level, interval }) => {
                out.push_str(" log");
                if let Some(l) = level {
                    let _ = write!(out, " {l}");
                }
                if let Some(i) = interval {
                    let _ = write!(out, " interval {i}");
                }
            }
        }
    }
}

impl AccessList {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "access-list {}", self.id);
        if let Some(n) = self.position {
            let _ = write!(out, " line {n}");
        }
        out.push(' ');
        match &self.body {
            AclBody::Remark(r) => {
                out.push_str("remark ");
                out.push_str(r);
            }
            AclBody::Rule(r) => r.write(out),
        }
    }
}

/// `access-group ID in interface IF [per-user-override]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGroup {
    /// Access-list id.
    pub acl: Ident,
    /// Interface name.
    pub interface: Ident,
    /// `per-user-override`
    pub per_user_override: bool,
}

pub(crate) fn parse_access_group(cur: &mut Cur<'_, '_>) -> Result<AccessGroup, PErr> {
    let acl = cur.ident("an access-list id")?;
    cur.expect_kw("in")?;
    cur.expect_kw("interface")?;
    let interface = cur.ident("an interface name")?;
    let per_user_override = cur.eat("per-user-override");
    cur.finish("access-group")?;
    Ok(AccessGroup {
        acl,
        interface,
        per_user_override,
    })
}

impl AccessGroup {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "access-group {} in interface {}",
            self.acl, self.interface
        );
        if self.per_user_override {
            out.push_str(" per-user-override");
        }
    }
}

/// `conduit permit|deny proto global [port] foreign [port] [icmp-type]` (pre-ACL PIX
/// inbound permission; `rule.src` is the global (mapped) side, `rule.dst` the foreign side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conduit {
    /// The rule.
    pub rule: Box<AclRule>,
}

pub(crate) fn parse_conduit(cur: &mut Cur<'_, '_>, st: &ParseState) -> Result<Conduit, PErr> {
    let rule = Box::new(parse_rule(cur, st)?);
    cur.finish("conduit")?;
    Ok(Conduit { rule })
}

impl Conduit {
    pub(crate) fn write(&self, out: &mut String) {
        out.push_str("conduit ");
        self.rule.write(out);
    }
}

/// The action of an `outbound` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundAction {
    /// `permit`
    Permit,
    /// `deny`
    Deny,
    /// `except`
    Except,
}

/// The port part of an `outbound` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundPort {
    /// A port or `lo-hi` range (`0` is any).
    Range(u16, u16),
    /// `java` (block Java applets).
    Java,
}

/// `outbound ID permit|deny|except ip [mask [port[-port]|java]] [protocol]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// List id.
    pub id: String,
    /// Action.
    pub action: OutboundAction,
    /// Address.
    pub address: Ipv4Addr,
    /// Mask.
    pub mask: Option<Ipv4Addr>,
    /// Port(s) or `java`.
    pub port: Option<OutboundPort>,
    /// `tcp`/`udp`/`icmp` or a number.
    pub protocol: Option<u8>,
}

pub(crate) fn parse_outbound(cur: &mut Cur<'_, '_>) -> Result<Outbound, PErr> {
    let id = cur.name("an outbound list id")?;
    let action = if cur.eat("permit") {
        OutboundAction::Permit
    } else if cur.eat("deny") {
        OutboundAction::Deny
    } else if cur.eat("except") {
        OutboundAction::Except
    } else {
        return Err(cur.expected("`permit`, `deny` or `except`"));
    };
    let address = cur.ip("an IP address")?;
    let mut mask = None;
    let mut port = None;
    if cur.peek().and_then(crate::lexer::parse_ip).is_some() {
        mask = Some(cur.mask(&address)?);
        if cur.eat("java") {
            port = Some(OutboundPort::Java);
        } else if let Some(t) = cur
            .peek()
            .filter(|t| t.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        {
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(lo), Ok(hi)) if lo <= hi => {
                    cur.bump();
                    port = Some(OutboundPort::Range(lo, hi));
                }
                _ => return Err(cur.expected("a port, `lo-hi` port range or `java`")),
            }
        }
    }
    let protocol = match cur.peek() {
        Some(t) => match lookup_protocol(t) {
            Some(p) => {
                cur.bump();
                Some(p)
            }
            None => return Err(cur.expected("a protocol (tcp, udp, icmp or a number)")),
        },
        None => None,
    };
    cur.finish("outbound")?;
    Ok(Outbound {
        id,
        action,
        address,
        mask,
        port,
        protocol,
    })
}

impl Outbound {
    pub(crate) fn write(&self, out: &mut String) {
        let act = match self.action {
            OutboundAction::Permit => "permit",
            OutboundAction::Deny => "deny",
            OutboundAction::Except => "except",
        };
        let _ = write!(out, "outbound {} {act} {}", self.id, self.address);
        if let Some(m) = self.mask {
            let _ = write!(out, " {m}");
        }
        match self.port {
            Some(OutboundPort::Java) => out.push_str(" java"),
            Some(OutboundPort::Range(a, b)) if a == b => {
                let _ = write!(out, " {a}");
            }
            Some(OutboundPort::Range(a, b)) => {
                let _ = write!(out, " {a}-{b}");
            }
            None => {}
        }
        if let Some(p) = self.protocol {
            let _ = write!(out, " {}", protocol_to_string(p));
        }
    }
}

/// `apply (IF) ID outgoing_src|outgoing_dest`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apply {
    /// Interface name.
    pub interface: String,
    /// Outbound list id.
    pub id: String,
    /// `outgoing_src` (true) or `outgoing_dest` (false).
    pub outgoing_src: bool,
}

/// Parse `(IF)` as one token.
pub(crate) fn parse_paren_if(cur: &mut Cur<'_, '_>) -> Result<String, PErr> {
    match cur.peek() {
        Some(t) if t.len() > 2 && t.starts_with('(') && t.ends_with(')') && !t.contains(',') => {
            cur.bump();
            Ok(t.get(1..t.len().saturating_sub(1)).unwrap_or("").to_owned())
        }
        _ => Err(cur.expected("an interface in parentheses, e.g. (inside)")),
    }
}

pub(crate) fn parse_apply(cur: &mut Cur<'_, '_>) -> Result<Apply, PErr> {
    let interface = parse_paren_if(cur)?;
    let id = cur.name("an outbound list id")?;
    let outgoing_src = if cur.eat("outgoing_src") {
        true
    } else if cur.eat("outgoing_dest") {
        false
    } else {
        return Err(cur.expected("`outgoing_src` or `outgoing_dest`"));
    };
    cur.finish("apply")?;
    Ok(Apply {
        interface,
        id,
        outgoing_src,
    })
}

impl Apply {
    pub(crate) fn write(&self, out: &mut String) {
        let dir = if self.outgoing_src {
            "outgoing_src"
        } else {
            "outgoing_dest"
        };
        let _ = write!(out, "apply ({}) {} {dir}", self.interface, self.id);
    }
}
