//! Access-list entries as the PIX evaluates them: object-groups multiplied out into
//! flat entries (`show access-list` "expanded" lines), each matched on protocol,
//! source, destination, ports and ICMP type. First match wins; no match is the
//! implicit deny.

use std::net::Ipv4Addr;

use pix_config::acl::{
    AclBody, AclRule, Action, AddrSpec, IcmpSpec, PortOp, PortSpec, ProtocolSpec,
};
use pix_config::object_group::{GroupKind, Member};
use pix_config::Config;
use rustc_hash::FxHashSet;

use crate::error::BuildError;

/// What an ACL entry is matched against: one packet's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// IP protocol number.
    pub proto: u8,
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Source port (0 without ports).
    pub sport: u16,
    /// Destination port (0 without ports).
    pub dport: u16,
    /// ICMP type (ICMP only).
    pub icmp_type: u8,
}

/// A port condition: `lo <= port <= hi`, negated for `neq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMatch {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
    /// `neq`: the port must be outside `lo..=hi`.
    pub negate: bool,
}

impl PortMatch {
    /// Any port.
    pub const ANY: PortMatch = PortMatch {
        lo: 0,
        hi: u16::MAX,
        negate: false,
    };

    /// From a PIX port operator.
    pub fn from_op(op: PortOp) -> PortMatch {
        let (lo, hi, negate) = match op {
            PortOp::Eq(p) => (p, p, false),
            PortOp::Neq(p) => (p, p, true),
            PortOp::Lt(0) => (1, 0, false),
            PortOp::Lt(p) => (0, p.saturating_sub(1), false),
            PortOp::Gt(u16::MAX) => (1, 0, false),
            PortOp::Gt(p) => (p.saturating_add(1), u16::MAX, false),
            PortOp::Range(a, b) => (a, b, false),
        };
        PortMatch { lo, hi, negate }
    }

    /// Does `port` satisfy the condition?
    #[inline]
    pub fn matches(self, port: u16) -> bool {
        (self.lo <= port && port <= self.hi) != self.negate
    }
}

/// `permit` or `deny`, as an entry decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum AclAction {
    /// permit
    Permit,
    /// deny
    Deny,
}

/// One flat access-list entry (an ACL line with its object-groups expanded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ace {
    /// IP protocol (0 = `ip`, any protocol).
    pub proto: u8,
    /// Source address (already masked).
    pub src: u32,
    /// Source netmask.
    pub src_mask: u32,
    /// Destination address (already masked).
    pub dst: u32,
    /// Destination netmask.
    pub dst_mask: u32,
    /// Source port condition (TCP/UDP entries).
    pub sport: PortMatch,
    /// Destination port condition (TCP/UDP entries).
    pub dport: PortMatch,
    /// ICMP type (`None` = any).
    pub icmp_type: Option<u8>,
    /// permit / deny.
    pub action: AclAction,
    /// Config line the entry comes from.
    pub line: u32,
}

impl Ace {
    /// An entry matching everything with `action` (used by tests and benches).
    pub fn any(action: AclAction, line: u32) -> Ace {
        Ace {
            proto: 0,
            src: 0,
            src_mask: 0,
            dst: 0,
            dst_mask: 0,
            sport: PortMatch::ANY,
            dport: PortMatch::ANY,
            icmp_type: None,
            action,
            line,
        }
    }

    /// Does the entry match the tuple?
    #[inline]
    pub fn matches(&self, t: &Tuple) -> bool {
        if t.dst & self.dst_mask != self.dst || t.src & self.src_mask != self.src {
            return false;
        }
        if self.proto == 0 {
            return true;
        }
        if self.proto != t.proto {
            return false;
        }
        if self.proto == 6 || self.proto == 17 {
            return self.sport.matches(t.sport) && self.dport.matches(t.dport);
        }
        match self.icmp_type {
            Some(ty) => self.proto != 1 || ty == t.icmp_type,
            None => true,
        }
    }

    /// The destination as an address range (a superset for non-contiguous masks).
    pub fn dst_range(&self) -> (u32, u32) {
        (self.dst, self.dst | !self.dst_mask)
    }

    /// The source as an address range (a superset for non-contiguous masks).
    pub fn src_range(&self) -> (u32, u32) {
        (self.src, self.src | !self.src_mask)
    }
}

/// The reference semantics: index of the first matching entry, by a plain scan.
pub fn linear_first_match(aces: &[Ace], t: &Tuple) -> Option<usize> {
    aces.iter().position(|a| a.matches(t))
}

/// Most entries one ACL line may expand to.
pub const MAX_ENTRIES_PER_LINE: usize = 65_536;
/// Most entries all ACLs together may expand to.
pub const MAX_ENTRIES_TOTAL: usize = 4_000_000;

const MAX_GROUP_DEPTH: usize = 8;

/// Expand object-groups and resolve names and interfaces.
pub(crate) struct Expander<'c> {
    pub(crate) config: &'c Config,
    pub(crate) warnings: Vec<String>,
}

fn mask_bits(m: Ipv4Addr) -> u32 {
    u32::from(m)
}

impl<'c> Expander<'c> {
    fn addr(&mut self, line: u32, a: &AddrSpec, depth: usize, out: &mut Vec<(u32, u32)>) {
        match a {
            AddrSpec::Any => out.push((0, 0)),
            AddrSpec::Host(h) => match self.config.resolve_addr(h) {
                Some(ip) => out.push((u32::from(ip), u32::MAX)),
                None => self.warnings.push(format!(
                    "line {line}: unknown name {h}; entry never matches"
                )),
            },
            AddrSpec::Net { address, mask } => match self.config.resolve_addr(address) {
                Some(ip) => {
                    let m = mask_bits(*mask);
                    out.push((u32::from(ip) & m, m));
                }
                None => self.warnings.push(format!(
                    "line {line}: unknown name {address}; entry never matches"
                )),
            },
            AddrSpec::Interface(i) => match self.config.interface_address(i) {
                Some((ip, _)) => out.push((u32::from(ip), u32::MAX)),
                None => self.warnings.push(format!(
                    "line {line}: interface {i} has no static address; entry never matches"
                )),
            },
            AddrSpec::ObjectGroup(g) => {
                self.group(line, g, GroupKind::Network, depth, &mut |s, m| {
                    if let Member::NetworkObject(a) = m {
                        s.addr(line, a, depth.saturating_add(1), out);
                    }
                })
            }
        }
    }

    fn group(
        &mut self,
        line: u32,
        name: &str,
        kind: GroupKind,
        depth: usize,
        f: &mut dyn FnMut(&mut Self, &Member),
    ) {
        if depth > MAX_GROUP_DEPTH {
            self.warnings
                .push(format!("line {line}: object-group {name} nested too deep"));
            return;
        }
        let Some(g) = self.config.object_group(name) else {
            self.warnings.push(format!(
                "line {line}: unknown object-group {name}; entry never matches"
            ));
            return;
        };
        if g.kind != kind {
            self.warnings.push(format!(
                "line {line}: object-group {name} is a {} group; entry never matches",
                g.kind.as_str()
            ));
            return;
        }
        for m in &g.members {
            match &m.value {
                Member::GroupObject(inner) => {
                    self.group(line, inner, kind, depth.saturating_add(1), f);
                }
                other => f(self, other),
            }
        }
    }

    fn ports(&mut self, line: u32, p: &Option<PortSpec>) -> Vec<PortMatch> {
        match p {
            None => vec![PortMatch::ANY],
            Some(PortSpec::Op(op)) => vec![PortMatch::from_op(*op)],
            Some(PortSpec::ObjectGroup(g)) => {
                let mut out = Vec::new();
                self.group(line, g, GroupKind::Service, 0, &mut |_, m| {
                    if let Member::PortObject(op) = m {
                        out.push(PortMatch::from_op(*op));
                    }
                });
                out
            }
        }
    }

    /// Expand one rule into `out`.
    pub(crate) fn rule(
        &mut self,
        line: u32,
        acl: &str,
        r: &AclRule,
        out: &mut Vec<Ace>,
    ) -> Result<(), BuildError> {
        let protos: Vec<u8> = match &r.protocol {
            ProtocolSpec::Number(n) => vec![*n],
            ProtocolSpec::ObjectGroup(g) => {
                let mut v = Vec::new();
                self.group(line, g, GroupKind::Protocol, 0, &mut |_, m| {
                    if let Member::ProtocolObject(p) = m {
                        v.push(*p);
                    }
                });
                v
            }
        };
        let mut srcs = Vec::new();
        self.addr(line, &r.src, 0, &mut srcs);
        let mut dsts = Vec::new();
        self.addr(line, &r.dst, 0, &mut dsts);
        let sports = self.ports(line, &r.src_port);
        let dports = self.ports(line, &r.dst_port);
        let icmps: Vec<Option<u8>> = match &r.icmp {
            None => vec![None],
            Some(IcmpSpec::Type(t)) => vec![Some(*t)],
            Some(IcmpSpec::ObjectGroup(g)) => {
                let mut v = Vec::new();
                self.group(line, g, GroupKind::IcmpType, 0, &mut |_, m| {
                    if let Member::IcmpObject(t) = m {
                        v.push(Some(*t));
                    }
                });
                v
            }
        };
        let total = [
            protos.len(),
            srcs.len(),
            dsts.len(),
            sports.len(),
            dports.len(),
            icmps.len(),
        ]
        .iter()
        .try_fold(1usize, |acc, n| acc.checked_mul(*n));
        match total {
            Some(n) if n <= MAX_ENTRIES_PER_LINE => {}
            _ => {
                return Err(BuildError::AclTooLarge {
                    line,
                    acl: acl.to_owned(),
                    limit: MAX_ENTRIES_PER_LINE,
                })
            }
        }
        let action = match r.action {
            Action::Permit => AclAction::Permit,
            Action::Deny => AclAction::Deny,
        };
        for &proto in &protos {
            let ported = proto == 6 || proto == 17;
            for &(src, src_mask) in &srcs {
                for &(dst, dst_mask) in &dsts {
                    for &sport in &sports {
                        for &dport in &dports {
                            for &icmp_type in &icmps {
                                let (sport, dport) = if ported {
                                    (sport, dport)
                                } else {
                                    (PortMatch::ANY, PortMatch::ANY)
                                };
                                out.push(Ace {
                                    proto,
                                    src,
                                    src_mask,
                                    dst,
                                    dst_mask,
                                    sport,
                                    dport,
                                    icmp_type: if proto == 1 { icmp_type } else { None },
                                    action,
                                    line,
                                });
                            }
                        }
                    }
                }
            }
        }
        if out.len() > MAX_ENTRIES_TOTAL {
            return Err(BuildError::TooManyEntries {
                limit: MAX_ENTRIES_TOTAL,
            });
        }
        Ok(())
    }

    /// Expand every line of access-list `id`.
    pub(crate) fn acl(&mut self, id: &str) -> Result<Vec<Ace>, BuildError> {
        let mut out = Vec::new();
        let config = self.config;
        for (line, a) in config.access_list(id) {
            if let AclBody::Rule(r) = &a.body {
                self.rule(line, id, r, &mut out)?;
            }
        }
        Ok(out)
    }
}

/// The ids of every access-list in the configuration, in first-seen order.
pub(crate) fn acl_ids(config: &Config) -> Vec<String> {
    let mut seen = FxHashSet::default();
    let mut ids = Vec::new();
    for (_, c) in config.iter() {
        if let pix_config::Command::AccessList(a) = c {
            if seen.insert(a.id.clone()) {
                ids.push(a.id.to_string());
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ops() {
        assert!(PortMatch::from_op(PortOp::Eq(80)).matches(80));
        assert!(!PortMatch::from_op(PortOp::Eq(80)).matches(81));
        assert!(PortMatch::from_op(PortOp::Neq(80)).matches(81));
        assert!(!PortMatch::from_op(PortOp::Neq(80)).matches(80));
        assert!(PortMatch::from_op(PortOp::Lt(1024)).matches(1023));
        assert!(!PortMatch::from_op(PortOp::Lt(1024)).matches(1024));
        assert!(!PortMatch::from_op(PortOp::Lt(0)).matches(0));
        assert!(PortMatch::from_op(PortOp::Gt(1023)).matches(1024));
        assert!(!PortMatch::from_op(PortOp::Gt(65535)).matches(65535));
        assert!(PortMatch::from_op(PortOp::Range(10, 20)).matches(20));
    }
}
