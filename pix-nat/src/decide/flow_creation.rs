//! FLOW-CREATION: a TCP or UDP packet that passed every phase opens a connection
//! (with its accounting start record); ICMP opens none, so its replies are checked
//! as new packets.

use super::aaa::ConnAccounting;
use super::source_nat::Source;
use super::{endpoints, Cx, Decision, Inbound, Path};
use crate::accounting::RecordKind;
use crate::conn::{Conn, TcpState};
use crate::packet::Proto;
use crate::trace::{Action, PhaseKind, PhaseResult};
use crate::xlate::XlateKind;

pub(super) fn run(
    cx: &mut Cx<'_>,
    path: &Path,
    inbound: Inbound,
    source: Source,
    accounting: ConnAccounting,
) -> Decision {
    let (fw, p, now) = (cx.fw, cx.p, cx.now);
    let t = &path.t;
    let st = &mut *cx.st;
    let out = endpoints(
        source.src,
        source.sport,
        path.dest.real_dst,
        path.dest.real_dport,
    );
    let allowed = |conn| Decision {
        action: Action::Allow,
        output: Some(path.egress),
        conn,
        egress: Some(out),
    };
    if p.proto == Proto::Icmp {
        cx.log.push(
            PhaseKind::FlowCreation,
            "",
            PhaseResult::Allow,
            vec![],
            vec!["no connection for ICMP: replies are checked as new packets".into()],
        );
        if let Some(id) = source.xlate {
            let d = st.xlates.get(id).and_then(|x| {
                x.last_used.checked_add(if x.kind == XlateKind::Pat {
                    fw.timeouts.pat_xlate
                } else {
                    fw.timeouts.xlate
                })
            });
            st.note_deadline(d);
        }
        return allowed(None);
    }
    if let Some(x) = source.xlate.and_then(|id| st.xlates.get_mut(id)) {
        x.conns = x.conns.saturating_add(1);
    }
    let id = st.conns.insert(Conn {
        id: 0,
        proto: p.proto,
        input_if: path.input,
        output_if: path.egress,
        orig: endpoints(t.src, t.sport, t.dst, t.dport),
        xlated: out,
        inbound: inbound.0,
        xlate: source.xlate,
        tcp: TcpState::Embryonic,
        bytes_fwd: u64::from(p.len),
        bytes_rev: 0,
        accounting,
        created: now,
        last: now,
    });
    let to = &fw.timeouts;
    st.note_deadline(st.conns.get(id).and_then(|c| {
        c.last
            .checked_add(c.idle_timeout(to.conn, to.half_closed, to.udp))
    }));
    let mut info = vec![format!("New flow created with id {id}")];
    if let Some(r) = st
        .conns
        .get(id)
        .and_then(|c| fw.record(c, RecordKind::Start, now))
    {
        info.push(format!(
            "accounting start record, task_id 0x{:x}",
            r.task_id
        ));
        cx.accounting.push(r);
    }
    cx.log.push(
        PhaseKind::FlowCreation,
        "",
        PhaseResult::Allow,
        vec![],
        info,
    );
    allowed(Some(id))
}
