//! SECURITY-LEVEL: equal levels pass nothing; lower to higher needs a static, a `nat
//! 0 access-list` exemption or an xlate (found by UN-NAT); higher to lower passes
//! unless an access-list says otherwise.

use std::ops::ControlFlow;

use super::{Cx, Decision, Inbound, Path, UnNat};
use crate::trace::{ConfigRef, DropReason, PhaseKind, PhaseResult};

pub(super) fn run(cx: &mut Cx<'_>, path: &Path) -> ControlFlow<Decision, Inbound> {
    let fw = cx.fw;
    let (input, egress) = (path.input, path.egress);
    let (lin, lout) = (fw.security(input), fw.security(egress));
    let cfg = nameif_refs(cx, path);
    if lin == lout {
        cx.log.push(
            PhaseKind::SecurityLevel,
            "",
            PhaseResult::Drop,
            cfg,
            vec![format!(
                "{} and {} are both security{lin}: PIX 6.x passes no traffic between equal levels",
                fw.if_name(input),
                fw.if_name(egress)
            )],
        );
        return ControlFlow::Break(Decision::dropped(
            DropReason::SameSecurityLevel,
            Some(egress),
        ));
    }
    if lin > lout {
        cx.log.push(
            PhaseKind::SecurityLevel,
            "",
            PhaseResult::Allow,
            cfg,
            vec![format!(
                "higher to lower ({} security{lin} -> {} security{lout}): permitted unless an access-list on {} says otherwise",
                fw.if_name(input),
                fw.if_name(egress),
                fw.if_name(input)
            )],
        );
        return ControlFlow::Continue(Inbound(false));
    }
    let how = match &path.dest.via {
        Some(UnNat::Exempt) => "via nat 0 access-list (exemption)".to_owned(),
        Some(UnNat::Static { .. }) => "via static".to_owned(),
        Some(UnNat::Xlate { id }) => format!("via existing xlate id {id}"),
        None => {
            cx.log.push(
                PhaseKind::SecurityLevel,
                "",
                PhaseResult::Drop,
                cfg,
                vec![format!(
                    "lower to higher ({} security{lin} -> {} security{lout}) needs a static, nat 0 access-list or xlate for {}; none found (nat 0 without access-list is outbound only)",
                    fw.if_name(input),
                    fw.if_name(egress),
                    cx.p.dst
                )]
                .into_iter()
                .chain(fw.pool_note(input, path.t.dst))
                .collect(),
            );
            return ControlFlow::Break(Decision::dropped(DropReason::NoStatic, Some(egress)));
        }
    };
    cx.log.push(
        PhaseKind::SecurityLevel,
        "",
        PhaseResult::Allow,
        cfg,
        vec![format!(
            "lower to higher ({} security{lin} -> {} security{lout}) {how}; a permitting access-list or conduit is still needed",
            fw.if_name(input),
            fw.if_name(egress)
        )],
    );
    ControlFlow::Continue(Inbound(true))
}

/// The `nameif` lines of the input and egress interfaces.
fn nameif_refs(cx: &Cx<'_>, path: &Path) -> Vec<ConfigRef> {
    [path.input, path.egress]
        .iter()
        .filter_map(|i| cx.fw.interfaces.get(*i))
        .map(|i| cx.log.config_ref(i.line))
        .collect()
}
