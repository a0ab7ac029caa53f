//! AAA: `aaa authentication` needs a user in the uauth table (ftp, telnet, http and
//! https can prompt for one: cut-through proxy; other services are dropped without
//! one); `aaa accounting` gives a TCP connection of an authenticated user start and
//! stop records. A decrypted packet's Xauth user is authenticated by its SA.

use std::mem;
use std::ops::ControlFlow;

use super::{Cx, Decision, Inbound, Path};
use crate::packet::Proto;
use crate::trace::{Action, ConfigRef, DropReason, PhaseKind, PhaseResult};
use crate::uauth::{
    can_prompt, decide, service_name, AaaKind, AaaQuery, AaaRule, UauthEntry, UauthVia,
};

/// What a new connection's accounting records carry: (user, task id, server tag).
pub(super) type ConnAccounting = Option<(String, u32, String)>;

pub(super) fn run(
    cx: &mut Cx<'_>,
    path: &Path,
    inbound: Inbound,
) -> ControlFlow<Decision, ConnAccounting> {
    let (fw, p, now) = (cx.fw, cx.p, cx.now);
    let t = &path.t;
    let (real_dst, real_dport) = (path.dest.real_dst, path.dest.real_dport);
    let (local, foreign) = if inbound.0 {
        (real_dst, t.src)
    } else {
        (t.src, real_dst)
    };
    let q = AaaQuery {
        input: path.input,
        inbound: inbound.0,
        local,
        foreign,
        proto: t.proto,
        port: if p.proto == Proto::Icmp {
            u16::from(p.icmp_type)
        } else {
            real_dport
        },
    };
    let ut = fw.uauth_timeout();
    if p.decrypted {
        if let Some(u) = &p.vpn_user {
            if cx.st.uauth.lookup(p.src, now, ut).is_none() {
                // the SA exists only after Xauth: its user is authenticated
                cx.st.uauth.begin();
                cx.st.uauth.complete(u, p.src, UauthVia::Ipsec, now);
            }
        }
    }
    let user = cx.st.uauth.lookup(p.src, now, ut).cloned();
    let auth = decide(&fw.aaa, AaaKind::Authentication, &q);
    let acct_rule = decide(&fw.aaa, AaaKind::Accounting, &q);
    let mut cfg = Vec::new();
    let mut info = Vec::new();
    if let Some(r) = auth {
        cfg.push(cx.log.config_ref(r.line));
        authentication(cx, path, r, user.as_ref(), &mut cfg, &mut info)?;
    }
    let accounting = acct_rule.and_then(|r| {
        cfg.push(cx.log.config_ref(r.line));
        accounting(cx, r, user.as_ref(), &mut info)
    });
    if user.is_some() {
        cx.st.uauth.touch(p.src, now);
    }
    if !cfg.is_empty() {
        let sub = if auth.is_some() {
            "authentication"
        } else {
            "accounting"
        };
        cx.log
            .push(PhaseKind::Aaa, sub, PhaseResult::Allow, cfg, info);
    }
    ControlFlow::Continue(accounting)
}

/// Rule `r` requires authentication: the user at the source passes; without one the
/// PIX prompts (ftp, telnet, http, https) or drops. `cfg` and `info` are this
/// phase's trace entry so far (written here when the packet stops).
fn authentication(
    cx: &mut Cx<'_>,
    path: &Path,
    r: &AaaRule,
    user: Option<&UauthEntry>,
    cfg: &mut Vec<ConfigRef>,
    info: &mut Vec<String>,
) -> ControlFlow<Decision> {
    let p = cx.p;
    let (pn, real_dport) = (path.t.proto, path.dest.real_dport);
    if let Some(u) = user {
        let via = match u.via {
            UauthVia::Ipsec => "ipsec user (Xauth)",
            UauthVia::CutThrough => "user (cut-through proxy)",
        };
        info.push(format!(
            "authentication required by server group {}: {via} '{}' at {} is already authenticated",
            r.tag, u.user, u.addr
        ));
        return ControlFlow::Continue(());
    }
    if can_prompt(pn, real_dport) {
        cx.st.uauth.begin();
        info.push(format!(
            "authentication required by server group {}: no uauth entry for {}; the PIX prompts for user name and password (cut-through proxy, {})",
            r.tag,
            p.src,
            service_name(pn, real_dport)
        ));
        cx.log.push(
            PhaseKind::Aaa,
            "authentication",
            PhaseResult::AuthRequired,
            mem::take(cfg),
            mem::take(info),
        );
        return ControlFlow::Break(Decision {
            action: Action::Authenticate {
                server: r.tag.clone(),
            },
            output: Some(path.egress),
            conn: None,
            egress: None,
        });
    }
    info.push(format!(
        "authentication required by server group {}: no uauth entry for {} and only ftp, telnet, http and https can prompt",
        r.tag, p.src
    ));
    cx.log.push(
        PhaseKind::Aaa,
        "authentication",
        PhaseResult::Drop,
        mem::take(cfg),
        mem::take(info),
    );
    ControlFlow::Break(Decision::dropped(
        DropReason::AuthRequired,
        Some(path.egress),
    ))
}

/// Rule `r` asks for accounting: a TCP connection of an authenticated user gets a
/// task id (its start and stop records); anything else gets no record, and `info`
/// says why.
fn accounting(
    cx: &mut Cx<'_>,
    r: &AaaRule,
    user: Option<&UauthEntry>,
    info: &mut Vec<String>,
) -> ConnAccounting {
    let p = cx.p;
    let Some(u) = user else {
        info.push(format!(
            "accounting: no authenticated user at {}: no record",
            p.src
        ));
        return None;
    };
    if p.proto != Proto::Tcp {
        info.push("accounting covers TCP connections only: no record".into());
        return None;
    }
    let st = &mut *cx.st;
    st.next_task = st.next_task.saturating_add(1);
    info.push(format!(
        "accounting: start and stop records for user '{}' (task_id 0x{:x}) to server group {}",
        u.user, st.next_task, r.tag
    ));
    Some((u.user.clone(), st.next_task, r.tag.clone()))
}
