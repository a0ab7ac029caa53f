//! `nat`, `global` and `static` as the PIX 6.x evaluates them, and the static
//! table index (first match in config order, found without a scan).

use rustc_hash::FxHashMap;
use std::net::Ipv4Addr;

use crate::acl::{AclAction, Tuple};
use crate::classifier::Classifier;

/// How a `static` chooses its real addresses.
#[derive(Debug, Clone)]
pub enum StaticReal {
    /// A real address or network (`mask`).
    Address(u32),
    /// `access-list ID` (policy static): source and destination both matter.
    Policy(String),
}

/// One `static` line.
#[derive(Debug, Clone)]
pub struct StaticRule {
    /// Config line.
    pub line: u32,
    /// Interface index of the real side.
    pub real_if: usize,
    /// Interface index of the mapped side.
    pub mapped_if: usize,
    /// For port statics: 6 or 17.
    pub proto: Option<u8>,
    /// Port on the mapped address (port statics).
    pub mapped_port: u16,
    /// Port on the real address (port statics).
    pub real_port: u16,
    /// Mapped address (network base).
    pub mapped: u32,
    /// Real side.
    pub real: StaticReal,
    /// Netmask (`255.255.255.255` unless written).
    pub mask: u32,
}

impl StaticRule {
    fn port_ok(&self, proto: u8, port: u16, mapped_side: bool) -> bool {
        match self.proto {
            None => true,
            Some(p) => {
                p == proto
                    && port
                        == if mapped_side {
                            self.mapped_port
                        } else {
                            self.real_port
                        }
            }
        }
    }
}

/// What an outbound (real -> mapped) or inbound (mapped -> real) static lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticHit {
    /// Index of the static in [`StaticTable::rules`].
    pub index: usize,
    /// The translated address.
    pub addr: u32,
    /// The translated port (unchanged for non-port statics).
    pub port: u16,
}

/// Per netmask: (interface, masked address) -> static indexes, ascending.
type MaskGroups = Vec<(u32, FxHashMap<(usize, u32), Vec<u32>>)>;

/// All `static` lines with two hash indexes (real side, mapped side) per netmask.
#[derive(Debug, Clone, Default)]
pub struct StaticTable {
    rules: Vec<StaticRule>,
    by_real: MaskGroups,
    by_mapped: MaskGroups,
    policy: Vec<u32>,
}

fn index_push(groups: &mut MaskGroups, mask: u32, key: (usize, u32), i: u32) {
    let pos = match groups.iter().position(|g| g.0 == mask) {
        Some(p) => p,
        None => {
            groups.push((mask, FxHashMap::default()));
            groups.len().saturating_sub(1)
        }
    };
    if let Some(g) = groups.get_mut(pos) {
        g.1.entry(key).or_default().push(i);
    }
}

/// Policy ACLs by id, for policy statics and policy NAT.
pub type AclMap = FxHashMap<String, Classifier>;

fn acl_permits(acls: &AclMap, id: &str, t: &Tuple) -> bool {
    acls.get(id)
        .and_then(|c| c.lookup(t))
        .is_some_and(|a| a.action == AclAction::Permit)
}

impl StaticTable {
    /// Index `rules` (kept in config order).
    pub fn new(rules: Vec<StaticRule>) -> StaticTable {
        let mut t = StaticTable::default();
        for (i, r) in rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index_push(
                &mut t.by_mapped,
                r.mask,
                (r.mapped_if, r.mapped & r.mask),
                i,
            );
            match r.real {
                StaticReal::Address(a) => {
                    index_push(&mut t.by_real, r.mask, (r.real_if, a & r.mask), i)
                }
                StaticReal::Policy(_) => t.policy.push(i),
            }
        }
        t.rules = rules;
        t
    }

    /// The statics in config order.
    pub fn rules(&self) -> &[StaticRule] {
        &self.rules
    }

    fn outbound_check(
        &self,
        i: usize,
        input: usize,
        egress: usize,
        t: &Tuple,
        acls: &AclMap,
    ) -> Option<StaticHit> {
        let r = self.rules.get(i)?;
        if r.real_if != input || r.mapped_if != egress || !r.port_ok(t.proto, t.sport, false) {
            return None;
        }
        let ok = match &r.real {
            StaticReal::Address(a) => t.src & r.mask == a & r.mask,
            StaticReal::Policy(id) => acl_permits(acls, id, t),
        };
        ok.then(|| StaticHit {
            index: i,
            addr: (r.mapped & r.mask) | (t.src & !r.mask),
            port: if r.proto.is_some() {
                r.mapped_port
            } else {
                t.sport
            },
        })
    }

    fn inbound_check(&self, i: usize, input: usize, t: &Tuple, acls: &AclMap) -> Option<StaticHit> {
        let r = self.rules.get(i)?;
        if r.mapped_if != input
            || t.dst & r.mask != r.mapped & r.mask
            || !r.port_ok(t.proto, t.dport, true)
        {
            return None;
        }
        let port = if r.proto.is_some() {
            r.real_port
        } else {
            t.dport
        };
        match &r.real {
            StaticReal::Address(a) => Some(StaticHit {
                index: i,
                addr: (a & r.mask) | (t.dst & !r.mask),
                port,
            }),
            StaticReal::Policy(id) => {
                let c = acls.get(id)?;
                c.aces()
                    .iter()
                    .filter(|a| a.action == AclAction::Permit)
                    .map(|a| (a.src & r.mask) | (t.dst & !r.mask))
                    .find(|&real| {
                        // the policy ACL is written real -> foreign: check it that way round
                        let fwd = Tuple {
                            src: real,
                            dst: t.src,
                            sport: port,
                            dport: t.sport,
                            ..*t
                        };
                        acl_permits(acls, id, &fwd)
                    })
                    .map(|addr| StaticHit {
                        index: i,
                        addr,
                        port,
                    })
            }
        }
    }

    /// First static (config order) translating a new outbound connection from
    /// `input` to `egress`: real source -> mapped source.
    pub fn find_outbound(
        &self,
        input: usize,
        egress: usize,
        t: &Tuple,
        acls: &AclMap,
    ) -> Option<StaticHit> {
        let mut best: Option<StaticHit> = None;
        let lists = self
            .by_real
            .iter()
            .filter_map(|(mask, map)| map.get(&(input, t.src & mask)).map(Vec::as_slice))
            .chain(std::iter::once(self.policy.as_slice()));
        for list in lists {
            for &i in list {
                if best.is_some_and(|b| i as usize >= b.index) {
                    break;
                }
                if let Some(h) = self.outbound_check(i as usize, input, egress, t, acls) {
                    best = Some(h);
                    break;
                }
            }
        }
        best
    }

    /// First static (config order) whose mapped side takes `t.dst` on `input`: mapped -> real.
    pub fn find_inbound(&self, input: usize, t: &Tuple, acls: &AclMap) -> Option<StaticHit> {
        let mut best: Option<StaticHit> = None;
        for (mask, map) in &self.by_mapped {
            if let Some(list) = map.get(&(input, t.dst & mask)) {
                for &i in list {
                    if best.is_some_and(|b| i as usize >= b.index) {
                        break;
                    }
                    if let Some(h) = self.inbound_check(i as usize, input, t, acls) {
                        best = Some(h);
                        break;
                    }
                }
            }
        }
        best
    }

    /// Reference semantics for [`find_outbound`](Self::find_outbound): a scan in config order.
    pub fn find_outbound_linear(
        &self,
        input: usize,
        egress: usize,
        t: &Tuple,
        acls: &AclMap,
    ) -> Option<StaticHit> {
        (0..self.rules.len()).find_map(|i| self.outbound_check(i, input, egress, t, acls))
    }

    /// Reference semantics for [`find_inbound`](Self::find_inbound): a scan in config order.
    pub fn find_inbound_linear(&self, input: usize, t: &Tuple, acls: &AclMap) -> Option<StaticHit> {
        (0..self.rules.len()).find_map(|i| self.inbound_check(i, input, t, acls))
    }
}

/// What a `nat` line selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatSelect {
    /// `A MASK`
    Net {
        /// Network (masked).
        addr: u32,
        /// Mask.
        mask: u32,
    },
    /// `access-list ID` (exemption for id 0, policy NAT otherwise).
    Acl(String),
}

/// One `nat` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRule {
    /// Config line.
    pub line: u32,
    /// Interface index (real side).
    pub interface: usize,
    /// NAT id (0 = identity / exemption).
    pub id: u32,
    /// Selection.
    pub select: NatSelect,
}

/// The addresses of one `global` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalPool {
    /// `A-B`: one-to-one NAT addresses.
    Nat {
        /// First.
        first: u32,
        /// Last.
        last: u32,
    },
    /// `A`: one PAT address.
    Pat(u32),
}

/// One `global` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalRule {
    /// Config line.
    pub line: u32,
    /// Interface index (mapped side).
    pub interface: usize,
    /// NAT id.
    pub id: u32,
    /// Addresses (`interface` is resolved to a PAT address).
    pub pool: GlobalPool,
}

/// The PAT port band a source port falls in: 0-511, 512-1023 or 1024-65535.
pub fn pat_band(port: u16) -> (u16, u16) {
    match port {
        0..=511 => (0, 511),
        512..=1023 => (512, 1023),
        _ => (1024, u16::MAX),
    }
}

/// Dotted quad of a `u32`.
pub(crate) fn ip(a: u32) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands() {
        assert_eq!(pat_band(0), (0, 511));
        assert_eq!(pat_band(511), (0, 511));
        assert_eq!(pat_band(512), (512, 1023));
        assert_eq!(pat_band(1023), (512, 1023));
        assert_eq!(pat_band(1024), (1024, 65535));
        assert_eq!(pat_band(65535), (1024, 65535));
    }
}
