//! IPSEC-BYPASS, ACCESS-LIST or CONDUIT: decrypted traffic skips the lists under
//! `sysopt connection permit-ipsec`; else the input interface's access-group decides
//! (first match on the *mapped* addresses, implicit deny); without one, conduits
//! decide inbound connections and outbound ones pass.

use std::ops::ControlFlow;

use super::{addr_port, Cx, Decision, Inbound, Path, PhaseLog};
use crate::acl::{AclAction, Tuple};
use crate::nat::ip;
use crate::packet::Proto;
use crate::trace::{DropReason, PhaseKind, PhaseResult};

pub(super) fn run(cx: &mut Cx<'_>, path: &Path, inbound: Inbound) -> ControlFlow<Decision> {
    let fw = cx.fw;
    let p = cx.p;
    if p.decrypted && fw.permit_ipsec.is_some() {
        let l = fw.permit_ipsec.unwrap_or(0);
        cx.log.push(
            PhaseKind::IpsecBypass,
            "",
            PhaseResult::Allow,
            vec![cx.log.config_ref(l)],
            vec![format!(
                "decrypted from an IPsec SA{}: access-lists and conduits are skipped (NAT is not)",
                p.vpn_user
                    .as_ref()
                    .map(|u| format!(" of user {u}"))
                    .unwrap_or_default()
            )],
        );
        ControlFlow::Continue(())
    } else if let Some((acl, ag_line)) = fw.access_groups.get(path.input).and_then(|a| a.as_ref()) {
        access_list(cx, path, acl, *ag_line)
    } else if inbound.0 {
        conduit(cx, path)
    } else {
        cx.log.push(
            PhaseKind::AccessList,
            "",
            PhaseResult::Allow,
            vec![PhaseLog::implicit_rule("Implicit Rule")],
            vec![format!(
                "no access-group on {}: higher to lower security is permitted",
                fw.if_name(path.input)
            )],
        );
        ControlFlow::Continue(())
    }
}

/// The access-group `acl` (line `ag_line`) of the input interface decides.
fn access_list(cx: &mut Cx<'_>, path: &Path, acl: &str, ag_line: u32) -> ControlFlow<Decision> {
    let (fw, p, t) = (cx.fw, cx.p, path.t);
    let denied = ControlFlow::Break(Decision::dropped(DropReason::AclDrop, Some(path.egress)));
    let c = fw.acls.get(acl);
    let hit = c.and_then(|c| c.lookup(&t)).copied();
    let mut info = Vec::new();
    if p.decrypted {
        info.push("decrypted, but sysopt connection permit-ipsec is not configured: the access-list applies".into());
    }
    if let Some(a) = hit {
        let permit = a.action == AclAction::Permit;
        cx.log.push(
            PhaseKind::AccessList,
            "log",
            if permit {
                PhaseResult::Allow
            } else {
                PhaseResult::Drop
            },
            vec![cx.log.config_ref(ag_line), cx.log.config_ref(a.line)],
            info,
        );
        return if permit {
            ControlFlow::Continue(())
        } else {
            denied
        };
    }
    let what = if p.proto == Proto::Icmp {
        format!(
            "ICMP {} -> {} type {} code {}",
            p.src, p.dst, p.icmp_type, p.icmp_code
        )
    } else if p.proto.has_ports() {
        format!(
            "{} {} -> {}",
            p.proto,
            addr_port(t.src, t.sport),
            addr_port(t.dst, t.dport)
        )
    } else {
        format!("protocol {} {} -> {}", p.proto.number(), p.src, p.dst)
    };
    info.push(format!(
        "no entry of access-list {acl} matches {what}: implicit deny"
    ));
    let (real_dst, real_dport) = (path.dest.real_dst, path.dest.real_dport);
    if real_dst != t.dst {
        let real_t = Tuple {
            dst: real_dst,
            dport: real_dport,
            ..t
        };
        if let Some(a) = c.and_then(|c| c.lookup(&real_t)) {
            if a.action == AclAction::Permit {
                info.push(format!(
                    "line {} would permit the real address {}, but a PIX 6.x access-list on {} sees the mapped address {}",
                    a.line,
                    ip(real_dst),
                    fw.if_name(path.input),
                    ip(t.dst)
                ));
            }
        }
    }
    cx.log.push(
        PhaseKind::AccessList,
        "",
        PhaseResult::Drop,
        vec![
            cx.log.config_ref(ag_line),
            PhaseLog::implicit_rule("Implicit Rule (deny ip any any)"),
        ],
        info,
    );
    denied
}

/// No access-group on the input interface, inbound: the conduits decide.
fn conduit(cx: &mut Cx<'_>, path: &Path) -> ControlFlow<Decision> {
    let fw = cx.fw;
    let denied = ControlFlow::Break(Decision::dropped(
        DropReason::ConduitDrop,
        Some(path.egress),
    ));
    match fw.conduits.lookup(&path.t) {
        Some(a) => {
            let permit = a.action == AclAction::Permit;
            cx.log.push(
                PhaseKind::Conduit,
                "",
                if permit {
                    PhaseResult::Allow
                } else {
                    PhaseResult::Drop
                },
                vec![cx.log.config_ref(a.line)],
                vec![],
            );
            if permit {
                ControlFlow::Continue(())
            } else {
                denied
            }
        }
        None => {
            let why = if fw.conduits.is_empty() {
                format!(
                    "no access-group on {} and no conduit: inbound connections are denied",
                    fw.if_name(path.input)
                )
            } else {
                "no conduit matches: implicit deny".to_owned()
            };
            cx.log.push(
                PhaseKind::Conduit,
                "",
                PhaseResult::Drop,
                vec![PhaseLog::implicit_rule("Implicit Rule")],
                vec![why],
            );
            denied
        }
    }
}
