//! `object-group network|service|protocol|icmp-type` and their member lines.

use std::fmt::Write as _;

use crate::acl::{parse_addr_spec, parse_port_op, write_addr, AddrSpec, PortOp};
use crate::error::ConfigError;
use crate::ident::Ident;
use crate::lexer::{Cur, PErr};
use crate::literal_names::{
    icmp_to_string, lookup_icmp, lookup_protocol, protocol_to_string, PortProto,
};
use crate::model::Located;

/// The kind of an object-group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// `network`
    Network,
    /// `service` (ports)
    Service,
    /// `protocol`
    Protocol,
    /// `icmp-type`
    IcmpType,
}

impl GroupKind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Network => "network",
            GroupKind::Service => "service",
            GroupKind::Protocol => "protocol",
            GroupKind::IcmpType => "icmp-type",
        }
    }
}

/// A member line of an object-group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// `description TEXT`
    Description(String),
    /// `network-object host A` / `network-object A MASK`
    NetworkObject(AddrSpec),
    /// `port-object eq P` / `port-object range A B`
    PortObject(PortOp),
    /// `protocol-object P`
    ProtocolObject(u8),
    /// `icmp-object T`
    IcmpObject(u8),
    /// `group-object NAME` (nesting; the nested group must be of the same kind)
    GroupObject(Ident),
}

/// `object-group KIND NAME [tcp|udp|tcp-udp]` and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectGroup {
    /// Kind.
    pub kind: GroupKind,
    /// Name.
    pub name: Ident,
    /// For service groups: `tcp`, `udp` or `tcp-udp`.
    pub service_protocol: Option<PortProto>,
    /// Member lines.
    pub members: Vec<Located<Member>>,
}

pub(crate) fn parse_object_group(cur: &mut Cur<'_, '_>) -> Result<ObjectGroup, PErr> {
    let kind = if cur.eat("network") {
        GroupKind::Network
    } else if cur.eat("service") {
        GroupKind::Service
    } else if cur.eat("protocol") {
        GroupKind::Protocol
    } else if cur.eat("icmp-type") {
        GroupKind::IcmpType
    } else {
        return Err(cur.expected("`network`, `service`, `protocol` or `icmp-type`"));
    };
    let name = cur.ident("an object-group name")?;
    let service_protocol = if kind == GroupKind::Service {
        if cur.eat("tcp") {
            Some(PortProto::Tcp)
        } else if cur.eat("udp") {
            Some(PortProto::Udp)
        } else if cur.eat("tcp-udp") {
            Some(PortProto::Both)
        } else {
            return Err(cur.expected("`tcp`, `udp` or `tcp-udp`"));
        }
    } else {
        None
    };
    cur.finish("object-group")?;
    Ok(ObjectGroup {
        kind,
        name,
        service_protocol,
        members: Vec::new(),
    })
}

/// True for the keywords that start a member line.
pub(crate) fn is_member_keyword(t: &str) -> bool {
    [
        "description",
        "network-object",
        "port-object",
        "protocol-object",
        "icmp-object",
        "group-object",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(t))
}

/// Parse a member line (the cursor is on its keyword).
pub(crate) fn parse_member(cur: &mut Cur<'_, '_>, group: &ObjectGroup) -> Result<Member, PErr> {
    let kw = cur.word("a member keyword")?.to_ascii_lowercase();
    let wrong = |cur: &Cur<'_, '_>| {
        Err(cur.err_prev(ConfigError::WrongGroupMember {
            command: kw.clone(),
            kind: group.kind.as_str(),
        }))
    };
    let m = match kw.as_str() {
        "description" => Member::Description(cur.rest().to_owned()),
        "group-object" => Member::GroupObject(cur.ident("an object-group name")?),
        "network-object" => {
            if group.kind != GroupKind::Network {
                return wrong(cur);
            }
            match parse_addr_spec(cur, "an address")? {
                a @ (AddrSpec::Host(_) | AddrSpec::Net { .. }) => Member::NetworkObject(a),
                _ => {
                    return Err(cur.err_prev(ConfigError::Expected {
                        expected: "`host A` or `A MASK` in a network-object".into(),
                        found: None,
                    }))
                }
            }
        }
        "port-object" => {
            if group.kind != GroupKind::Service {
                return wrong(cur);
            }
            match parse_port_op(cur)? {
                Some(op @ (PortOp::Eq(_) | PortOp::Range(..))) => Member::PortObject(op),
                _ => return Err(cur.expected("`eq P` or `range A B`")),
            }
        }
        "protocol-object" => {
            if group.kind != GroupKind::Protocol {
                return wrong(cur);
            }
            match cur.peek().and_then(lookup_protocol) {
                Some(p) => {
                    cur.bump();
                    Member::ProtocolObject(p)
                }
                None => return Err(cur.expected("a protocol name or number")),
            }
        }
        "icmp-object" => {
            if group.kind != GroupKind::IcmpType {
                return wrong(cur);
            }
            match cur.peek().and_then(lookup_icmp) {
                Some(t) => {
                    cur.bump();
                    Member::IcmpObject(t)
                }
                None => return Err(cur.expected("an ICMP type name or number")),
            }
        }
        _ => return Err(cur.expected("an object-group member")),
    };
    cur.finish("object-group member")?;
    Ok(m)
}

impl ObjectGroup {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "object-group {} {}", self.kind.as_str(), self.name);
        match self.service_protocol {
            Some(PortProto::Tcp) => out.push_str(" tcp"),
            Some(PortProto::Udp) => out.push_str(" udp"),
            Some(PortProto::Both) => out.push_str(" tcp-udp"),
            None => {}
        }
        let pp = self.service_protocol.unwrap_or(PortProto::Both);
        for m in &self.members {
            out.push_str("\n  ");
            match &m.value {
                Member::Description(d) => {
                    let _ = write!(out, "description {d}");
                }
                Member::NetworkObject(a) => {
                    out.push_str("network-object ");
                    write_addr(out, a);
                }
                Member::PortObject(op) => {
                    out.push_str("port-object ");
                    op.write(out, pp);
                }
                Member::ProtocolObject(p) => {
                    let _ = write!(out, "protocol-object {}", protocol_to_string(*p));
                }
                Member::IcmpObject(t) => {
                    let _ = write!(out, "icmp-object {}", icmp_to_string(*t));
                }
                Member::GroupObject(g) => {
                    let _ = write!(out, "group-object {g}");
                }
            }
        }
    }
}
