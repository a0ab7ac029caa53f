//! Traffic to an address of the PIX itself is not a through connection (not
//! modelled: dropped), unless UN-NAT translated the destination.

use std::ops::ControlFlow;

use super::{Cx, Decision, Destination};
use crate::trace::{DropReason, PhaseKind, PhaseResult};

pub(super) fn run(cx: &mut Cx<'_>, dest: &Destination) -> ControlFlow<Decision> {
    let dst = cx.p.dst;
    if dest.via.is_some()
        || !cx
            .fw
            .interfaces
            .iter()
            .any(|i| i.address.is_some_and(|a| a.0 == dst))
    {
        return ControlFlow::Continue(());
    }
    cx.log.push(
        PhaseKind::RouteLookup,
        "",
        PhaseResult::Drop,
        vec![],
        vec![format!("{dst} is an address of the PIX itself")],
    );
    ControlFlow::Break(Decision::dropped(DropReason::ToTheBox, None))
}
