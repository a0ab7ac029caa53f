//! ROUTE-LOOKUP on the real destination: the longest matching route, unless the
//! translation UN-NAT went through decides the egress interface. A route back out of
//! the input interface is a drop.

use std::ops::ControlFlow;

use super::{Arrival, Cx, Decision, Destination, Path, UnNat};
use crate::nat::ip;
use crate::route::{RouteHit, RouteVia};
use crate::trace::{ConfigRef, DropReason, PhaseKind, PhaseResult};

pub(super) fn run(
    cx: &mut Cx<'_>,
    arrival: Arrival,
    dest: Destination,
) -> ControlFlow<Decision, Path> {
    let fw = cx.fw;
    let input = arrival.input;
    let route = fw.route_lookup(&cx.st.vpn, ip(dest.real_dst));
    let divert = match &dest.via {
        Some(UnNat::Static { index }) => fw.statics.rules().get(*index).map(|r| r.real_if),
        Some(UnNat::Xlate { id }) => cx.st.xlates.get(*id).map(|x| x.real_if),
        _ => None,
    };
    let egress = match (divert, &route) {
        (Some(e), _) => e,
        (None, Some(r)) => r.interface,
        (None, None) => {
            cx.log.push(
                PhaseKind::RouteLookup,
                "input",
                PhaseResult::Drop,
                vec![],
                vec![format!(
                    "no route to {} (no connected subnet, route or VPN client covers it)",
                    ip(dest.real_dst)
                )],
            );
            return ControlFlow::Break(Decision::dropped(DropReason::NoRoute, None));
        }
    };
    let (cfg, mut info) = match &route {
        Some(r) => explain(cx, r, dest.real_dst),
        None => (vec![], vec![]),
    };
    if route.as_ref().is_some_and(|r| r.interface != egress)
        || (route.is_none() && divert.is_some())
    {
        info.push(format!(
            "the translation decides the egress interface: {}",
            fw.if_name(egress)
        ));
    }
    if egress == input {
        info.push(format!(
            "egress interface is the input interface {}",
            fw.if_name(input)
        ));
        info.extend(fw.pool_note(input, arrival.t.dst));
        cx.log.push(
            PhaseKind::RouteLookup,
            "input",
            PhaseResult::Drop,
            cfg,
            info,
        );
        return ControlFlow::Break(Decision::dropped(DropReason::SameInterface, Some(egress)));
    }
    cx.log.push(
        PhaseKind::RouteLookup,
        "input",
        PhaseResult::Allow,
        cfg,
        info,
    );
    ControlFlow::Continue(Path {
        input,
        t: arrival.t,
        dest,
        egress,
    })
}

/// The configuration line and the words for route `r` to `real_dst`.
fn explain(cx: &Cx<'_>, r: &RouteHit, real_dst: u32) -> (Vec<ConfigRef>, Vec<String>) {
    let fw = cx.fw;
    match &r.via {
        RouteVia::Connected(l) => (
            vec![cx.log.config_ref(*l)],
            vec![format!(
                "found connected subnet for {} on interface {}",
                ip(real_dst),
                fw.if_name(r.interface)
            )],
        ),
        RouteVia::Static(l, gw) => (
            vec![cx.log.config_ref(*l)],
            vec![format!(
                "found next-hop {} using egress ifc {}",
                gw.map_or_else(|| "?".into(), |g| g.to_string()),
                fw.if_name(r.interface)
            )],
        ),
        RouteVia::Vpn(u) => (
            vec![],
            vec![format!(
                "{} is the address of VPN client {u}: routed into its tunnel on {}",
                ip(real_dst),
                fw.if_name(r.interface)
            )],
        ),
    }
}
