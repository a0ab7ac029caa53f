//! What the PIX does with a packet that no established connection carries: the
//! phases of packet-tracer, one file each, run in order as a pipeline.
//!
//! Each phase takes what the earlier ones found and either hands its own finding to
//! the next ([`ControlFlow::Continue`]) or ends the packet's way with a [`Decision`]
//! ([`ControlFlow::Break`]); every phase writes its own entry of the trace.
//!
//! | phase | file | may end with |
//! |---|---|---|
//! | FLOW-LOOKUP | `flow_lookup.rs` | the verdict of an established flow; `TcpNotSyn` |
//! | UN-NAT | `un_nat.rs` | (never ends the way) |
//! | to the box | `to_the_box.rs` | `ToTheBox` |
//! | ROUTE-LOOKUP | `route_lookup.rs` | `NoRoute`, `SameInterface` |
//! | SECURITY-LEVEL | `security_level.rs` | `SameSecurityLevel`, `NoStatic` |
//! | IPSEC-BYPASS, ACCESS-LIST, CONDUIT | `access_check.rs` | `AclDrop`, `ConduitDrop` |
//! | AAA | `aaa.rs` | `Authenticate`, `AuthRequired` |
//! | NAT (source, outbound) | `source_nat.rs` | `NoTranslationGroup`, `NoGlobal`, `PoolExhausted` |
//! | FLOW-CREATION | `flow_creation.rs` | always the verdict |
//!
//! The established-flow fast path without a trace ([`Firewall::forward_established`])
//! lives with FLOW-LOOKUP.

mod aaa;
mod access_check;
mod flow_creation;
mod flow_lookup;
mod route_lookup;
mod security_level;
mod source_nat;
mod to_the_box;
mod un_nat;

use std::ops::ControlFlow;
use std::time::Instant;

use crate::accounting::AccountingRecord;
use crate::acl::{AclAction, Tuple};
use crate::conn::Endpoints;
use crate::engine::State;
use crate::model::Firewall;
use crate::nat::{ip, GlobalPool, NatSelect};
use crate::packet::Packet;
use crate::trace::{Action, ConfigRef, DropReason, Phase, PhaseKind, PhaseResult};

/// The outcome of [`decide`]: the action and what [`crate::Verdict`] reports with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Forward, drop or hold for authentication.
    pub action: Action,
    /// The egress interface, once the route lookup found it.
    pub output: Option<usize>,
    /// The connection the packet created or rode.
    pub conn: Option<u64>,
    /// The packet's addresses as it leaves, when forwarded.
    pub egress: Option<Endpoints>,
}

impl Decision {
    /// Dropped for `reason`, after the route lookup found `output` (or before it).
    fn dropped(reason: DropReason, output: Option<usize>) -> Decision {
        Decision {
            action: Action::Drop(reason),
            output,
            conn: None,
            egress: None,
        }
    }
}

/// The trace being written: the phases so far, with the configuration to quote.
pub(crate) struct PhaseLog<'f> {
    fw: &'f Firewall,
    phases: Vec<Phase>,
}

impl<'f> PhaseLog<'f> {
    pub(crate) fn new(fw: &'f Firewall) -> PhaseLog<'f> {
        PhaseLog {
            fw,
            phases: Vec::new(),
        }
    }

    pub(crate) fn into_phases(self) -> Vec<Phase> {
        self.phases
    }

    /// Configuration line `line`, quoted as `show run` prints it.
    fn config_ref(&self, line: u32) -> ConfigRef {
        ConfigRef {
            line,
            text: self.fw.line_text(line).unwrap_or("").to_owned(),
        }
    }

    /// A rule the PIX applies without a configuration line (line 0).
    fn implicit_rule(text: &str) -> ConfigRef {
        ConfigRef {
            line: 0,
            text: text.to_owned(),
        }
    }

    fn push(
        &mut self,
        kind: PhaseKind,
        subtype: &str,
        result: PhaseResult,
        config: Vec<ConfigRef>,
        info: Vec<String>,
    ) {
        self.phases.push(Phase {
            kind,
            subtype: subtype.to_owned(),
            result,
            config,
            info,
        });
    }
}

/// What every phase works with: the model, the state it updates, the packet, the
/// clock, the trace and the accounting records of this packet.
pub(crate) struct Cx<'a> {
    pub(crate) fw: &'a Firewall,
    pub(crate) st: &'a mut State,
    pub(crate) p: &'a Packet,
    pub(crate) now: Instant,
    pub(crate) log: PhaseLog<'a>,
    pub(crate) accounting: Vec<AccountingRecord>,
}

/// The packet as it arrived: its interface and the tuple the access-lists match.
struct Arrival {
    input: usize,
    t: Tuple,
}

/// How UN-NAT found the real destination of a packet to a mapped address.
enum UnNat {
    /// `nat 0 access-list` on the destination's side: the address is its own.
    Exempt,
    /// A `static` (index into the static table).
    Static { index: usize },
    /// An existing dynamic xlate.
    Xlate { id: u64 },
}

/// The real destination after UN-NAT (the packet's own when nothing translated it).
struct Destination {
    real_dst: u32,
    real_dport: u16,
    via: Option<UnNat>,
}

/// A new packet's way once ROUTE-LOOKUP found where it leaves.
struct Path {
    input: usize,
    t: Tuple,
    dest: Destination,
    egress: usize,
}

impl Path {
    /// The xlate UN-NAT went through, if any.
    fn unnat_xlate(&self) -> Option<u64> {
        match &self.dest.via {
            Some(UnNat::Xlate { id }) => Some(*id),
            _ => None,
        }
    }
}

/// True when the connection goes from lower to higher security (SECURITY-LEVEL).
#[derive(Clone, Copy)]
struct Inbound(bool);

/// Run the phases for `cx.p`; see the module documentation for their order.
pub(crate) fn decide(cx: &mut Cx<'_>) -> Decision {
    match pipeline(cx) {
        ControlFlow::Break(d) | ControlFlow::Continue(d) => d,
    }
}

fn pipeline(cx: &mut Cx<'_>) -> ControlFlow<Decision, Decision> {
    let arrival = arrive(cx)?;
    flow_lookup::run(cx, &arrival)?;
    let dest = un_nat::run(cx, &arrival);
    to_the_box::run(cx, &dest)?;
    let path = route_lookup::run(cx, arrival, dest)?;
    let inbound = security_level::run(cx, &path)?;
    access_check::run(cx, &path, inbound)?;
    let accounting = aaa::run(cx, &path, inbound)?;
    let source = source_nat::run(cx, &path, inbound)?;
    ControlFlow::Continue(flow_creation::run(cx, &path, inbound, source, accounting))
}

/// The input interface must exist (before any phase: the trace calls it ROUTE-LOOKUP
/// "input", as the PIX does).
fn arrive(cx: &mut Cx<'_>) -> ControlFlow<Decision, Arrival> {
    let p = cx.p;
    let Some(input) = cx.fw.interface_index(&p.input) else {
        cx.log.push(
            PhaseKind::RouteLookup,
            "input",
            PhaseResult::Drop,
            vec![],
            vec![format!("no interface named {} (nameif)", p.input)],
        );
        return ControlFlow::Break(Decision::dropped(DropReason::UnknownInterface, None));
    };
    ControlFlow::Continue(Arrival {
        input,
        t: p.tuple(),
    })
}

/// The addresses and ports of a packet as a connection records them.
fn endpoints(src: u32, sport: u16, dst: u32, dport: u16) -> Endpoints {
    Endpoints {
        src: ip(src),
        sport,
        dst: ip(dst),
        dport,
    }
}

/// `address/port`, as packet-tracer writes them.
fn addr_port(a: u32, p: u16) -> String {
    format!("{}/{}", ip(a), p)
}

impl Firewall {
    /// When `dst` belongs to a global pool on `interface` but has no xlate, say so.
    fn pool_note(&self, interface: usize, dst: u32) -> Option<String> {
        self.globals
            .iter()
            .find(|g| {
                g.interface == interface
                    && match g.pool {
                        GlobalPool::Nat { first, last } => (first..=last).contains(&dst),
                        GlobalPool::Pat(a) => a == dst,
                    }
            })
            .map(|g| {
                format!(
                    "{} is in global pool {} (line {}) but no xlate holds it (none created, or it timed out)",
                    ip(dst),
                    g.id,
                    g.line
                )
            })
    }

    /// `nat (IF) 0 access-list`: the first such line on `interface` whose access-list
    /// permits `t` (real source first). Returns (nat line, entry line).
    fn exemption(&self, interface: usize, t: &Tuple) -> Option<(u32, u32)> {
        self.nats.iter().find_map(|n| match &n.select {
            NatSelect::Acl(id) if n.interface == interface && n.id == 0 => self
                .acls
                .get(id)
                .and_then(|c| c.lookup(t))
                .filter(|a| a.action == AclAction::Permit)
                .map(|a| (n.line, a.line)),
            _ => None,
        })
    }
}
