//! FLOW-LOOKUP: a connection's later packets follow it unchecked; a TCP packet
//! without a connection must be a SYN. ICMP is not stateful on PIX 6.3.
//!
//! Also here: [`Firewall::forward_established`], the same lookup without a trace for
//! the data plane's every packet.

use std::ops::ControlFlow;
use std::time::Instant;

use super::{Arrival, Cx, Decision};
use crate::acl::Tuple;
use crate::conn::{Direction, Endpoints, TcpState};
use crate::engine::State;
use crate::model::Firewall;
use crate::packet::{Proto, TcpFlags};
use crate::trace::{Action, DropReason, PhaseKind, PhaseResult};

pub(super) fn run(cx: &mut Cx<'_>, a: &Arrival) -> ControlFlow<Decision> {
    let p = cx.p;
    let t = &a.t;
    if p.proto == Proto::Icmp {
        cx.log.push(
            PhaseKind::FlowLookup,
            "",
            PhaseResult::Allow,
            vec![],
            vec![
                "ICMP is not stateful on PIX 6.3: every ICMP packet is checked as a new one".into(),
            ],
        );
        return ControlFlow::Continue(());
    }
    let key = (a.input, t.proto, t.src, t.sport, t.dst, t.dport);
    if let Some((id, dir)) = cx.st.conns.find(&key) {
        return ControlFlow::Break(follow_connection(cx, id, dir));
    }
    if p.proto == Proto::Tcp && (p.flags.ack || !p.flags.syn) {
        cx.log.push(
            PhaseKind::FlowLookup,
            "",
            PhaseResult::Drop,
            vec![],
            vec!["Found no matching flow; a TCP packet without a connection must be a SYN".into()],
        );
        return ControlFlow::Break(Decision::dropped(DropReason::TcpNotSyn, None));
    }
    cx.log.push(
        PhaseKind::FlowLookup,
        "",
        PhaseResult::Allow,
        vec![],
        vec!["Found no matching flow, creating a new flow".into()],
    );
    ControlFlow::Continue(())
}

/// The packet belongs to connection `id` (travelling `dir`): TCP state, counters and
/// timers as [`Firewall::touch_flow`] keeps them; FIN from both sides or RST closes it.
fn follow_connection(cx: &mut Cx<'_>, id: u64, dir: Direction) -> Decision {
    let (fw, p, now) = (cx.fw, cx.p, cx.now);
    let Some(c) = cx.st.conns.get_mut(id) else {
        return Decision::dropped(DropReason::TcpNotSyn, None);
    };
    let fwd = dir == Direction::Forward;
    let mut closing = false;
    if c.proto == Proto::Tcp {
        if p.flags.rst {
            closing = true;
        } else if p.flags.fin {
            let (a, b) = match c.tcp {
                TcpState::HalfClosed(a, b) => (a, b),
                _ => (false, false),
            };
            let (a, b) = if fwd { (true, b) } else { (a, true) };
            closing = a && b;
            c.tcp = TcpState::HalfClosed(a, b);
        } else if c.tcp == TcpState::Embryonic && !fwd && p.flags.syn && p.flags.ack {
            c.tcp = TcpState::Established;
        }
    }
    let Some((output, egress)) = fw.touch_flow(cx.st, id, fwd, p.len, now) else {
        return Decision::dropped(DropReason::TcpNotSyn, None);
    };
    let mut info = vec![format!(
        "Found flow with id {id}, using existing flow ({})",
        if fwd { "from the initiator" } else { "reply" }
    )];
    if closing {
        info.push("connection closed (FIN from both sides or RST): torn down".into());
        if let Some(r) = fw.close(cx.st, id, now) {
            info.push(format!("accounting stop record, task_id 0x{:x}", r.task_id));
            cx.accounting.push(r);
        }
    }
    cx.log
        .push(PhaseKind::FlowLookup, "", PhaseResult::Allow, vec![], info);
    Decision {
        action: Action::Allow,
        output: Some(output),
        conn: Some(id),
        egress: Some(egress),
    }
}

impl Firewall {
    /// The fast path of an established flow, as the PIX's adaptive security algorithm
    /// forwards a connection's later packets: when the packet's connection exists, the
    /// packet neither opens nor closes it (UDP; TCP without SYN, FIN or RST) and nothing
    /// is due to expire, the connection is updated exactly as [`process`](Self::process)
    /// would (last use, bytes, idle deadline, xlate and uauth use) and its egress
    /// addresses are returned. Otherwise `None`: the caller runs `process`, which
    /// checks everything and explains itself in a trace. No trace and no allocation
    /// here: the connection table is the per-flow cache of the policy decision.
    ///
    /// `input` is the ingress interface's index ([`Firewall::interface_index`]); the
    /// `tuple` carries the IP protocol number and, for TCP and UDP, the ports.
    pub fn forward_established(
        &self,
        st: &mut State,
        input: usize,
        tuple: &Tuple,
        flags: TcpFlags,
        len: u32,
        now: Instant,
    ) -> Option<Endpoints> {
        let proto = Proto::from_number(tuple.proto);
        if !proto.has_ports() || (proto == Proto::Tcp && (flags.syn || flags.fin || flags.rst)) {
            return None;
        }
        if st.next_deadline.is_some_and(|d| now >= d) {
            return None;
        }
        let key = (
            input,
            tuple.proto,
            tuple.src,
            tuple.sport,
            tuple.dst,
            tuple.dport,
        );
        let (id, dir) = st.conns.find(&key)?;
        self.touch_flow(st, id, dir == Direction::Forward, len, now)
            .map(|(_, egress)| egress)
    }

    /// A packet of `len` bytes rides connection `id` (forward: from its initiator):
    /// last use, byte count, idle deadline, xlate and uauth use. Returns the output
    /// interface and the egress addresses.
    fn touch_flow(
        &self,
        st: &mut State,
        id: u64,
        fwd: bool,
        len: u32,
        now: Instant,
    ) -> Option<(usize, Endpoints)> {
        let c = st.conns.get_mut(id)?;
        c.last = c.last.max(now);
        if fwd {
            c.bytes_fwd = c.bytes_fwd.saturating_add(u64::from(len));
        } else {
            c.bytes_rev = c.bytes_rev.saturating_add(u64::from(len));
        }
        let (output, egress) = if fwd {
            (c.output_if, c.xlated)
        } else {
            (
                c.input_if,
                Endpoints {
                    src: c.orig.dst,
                    sport: c.orig.dport,
                    dst: c.orig.src,
                    dport: c.orig.sport,
                },
            )
        };
        let user_addr = c.orig.src;
        let xl = c.xlate;
        let (conn_t, half, udp) = (
            self.timeouts.conn,
            self.timeouts.half_closed,
            self.timeouts.udp,
        );
        let d = c.last.checked_add(c.idle_timeout(conn_t, half, udp));
        st.note_deadline(d);
        if let Some(x) = xl.and_then(|x| st.xlates.get_mut(x)) {
            x.last_used = x.last_used.max(now);
        }
        st.uauth.touch(user_addr, now);
        Some((output, egress))
    }
}
