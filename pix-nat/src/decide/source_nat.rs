//! NAT (source) of a new outbound connection, in PIX 6.x order: `nat 0
//! access-list`, existing xlate, `static`, then the `nat` rule (policy nat first
//! match, else the longest `nat N net`): identity for `nat 0`, else a `global` of
//! its id on the egress interface, NAT addresses lowest first, then PAT keeping the
//! port or taking one from its band. Inbound connections were un-translated by
//! UN-NAT and pass through here unchanged.

use std::ops::ControlFlow;

use super::{addr_port, Cx, Decision, Inbound, Path};
use crate::acl::{AclAction, Tuple};
use crate::nat::{ip, pat_band, GlobalPool, GlobalRule, NatRule, NatSelect};
use crate::packet::Proto;
use crate::trace::{ConfigRef, DropReason, PhaseKind, PhaseResult};
use crate::xlate::{Xlate, XlateKind};

/// The packet's source as it leaves, and the xlate the connection uses.
pub(super) struct Source {
    pub(super) src: u32,
    pub(super) sport: u16,
    pub(super) xlate: Option<u64>,
}

/// An outbound connection to translate: interfaces and the tuple with the real
/// destination.
struct Outbound {
    input: usize,
    egress: usize,
    t: Tuple,
}

pub(super) fn run(cx: &mut Cx<'_>, path: &Path, inbound: Inbound) -> ControlFlow<Decision, Source> {
    let t = &path.t;
    let unnat_xlate = path.unnat_xlate();
    let mut source = Source {
        src: t.src,
        sport: t.sport,
        xlate: unnat_xlate,
    };
    if !inbound.0 {
        let out = Outbound {
            input: path.input,
            egress: path.egress,
            t: Tuple {
                dst: path.dest.real_dst,
                dport: path.dest.real_dport,
                ..*t
            },
        };
        match translate(cx, &out) {
            Ok(s) => {
                source = Source {
                    xlate: s.xlate.or(unnat_xlate),
                    ..s
                }
            }
            Err(r) => return ControlFlow::Break(Decision::dropped(r, Some(path.egress))),
        }
    }
    if let Some(x) = source.xlate.and_then(|id| cx.st.xlates.get_mut(id)) {
        x.last_used = x.last_used.max(cx.now);
    }
    ControlFlow::Continue(source)
}

/// Source translation of a new outbound connection, in PIX 6.x order.
fn translate(cx: &mut Cx<'_>, out: &Outbound) -> Result<Source, DropReason> {
    if let Some(s) = exempt(cx, out)
        .or_else(|| existing_xlate(cx, out))
        .or_else(|| by_static(cx, out))
    {
        return Ok(s);
    }
    let Some(nat) = nat_rule(cx, out) else {
        let fw = cx.fw;
        cx.log.push(
            PhaseKind::Nat,
            "",
            PhaseResult::Drop,
            vec![],
            vec![format!(
                "no nat or static covers {} on {} toward {}: no translation group found",
                ip(out.t.src),
                fw.if_name(out.input),
                fw.if_name(out.egress)
            )],
        );
        return Err(DropReason::NoTranslationGroup);
    };
    if nat.id == 0 {
        return Ok(identity(cx, out, nat));
    }
    dynamic(cx, out, nat)
}

/// 1. `nat 0 access-list`: not translated.
fn exempt(cx: &mut Cx<'_>, out: &Outbound) -> Option<Source> {
    let t = &out.t;
    let (nat_line, ace_line) = cx.fw.exemption(out.input, t)?;
    cx.log.push(
        PhaseKind::NatExempt,
        "",
        PhaseResult::Allow,
        vec![cx.log.config_ref(nat_line), cx.log.config_ref(ace_line)],
        vec![format!(
            "{} is not translated toward {}",
            ip(t.src),
            ip(t.dst)
        )],
    );
    Some(Source {
        src: t.src,
        sport: t.sport,
        xlate: None,
    })
}

/// 2. An existing xlate of the real source toward the egress interface.
fn existing_xlate(cx: &mut Cx<'_>, out: &Outbound) -> Option<Source> {
    let t = &out.t;
    let x = cx
        .st
        .xlates
        .find_real(out.input, out.egress, t.proto, t.src, t.sport)?;
    let (g, gp) = (
        u32::from(x.global),
        x.pat.map_or(t.sport, |(_, _, global_port)| global_port),
    );
    let id = x.id;
    let cfg = vec![
        cx.log.config_ref(x.nat_line),
        cx.log.config_ref(x.global_line),
    ];
    cx.log.push(
        PhaseKind::Nat,
        "existing-xlate",
        PhaseResult::Allow,
        cfg,
        vec![format!(
            "using xlate id {id}: {} -> {}",
            addr_port(t.src, t.sport),
            addr_port(g, gp)
        )],
    );
    Some(Source {
        src: g,
        sport: gp,
        xlate: Some(id),
    })
}

/// 3. A `static` (first match in configuration order).
fn by_static(cx: &mut Cx<'_>, out: &Outbound) -> Option<Source> {
    let (fw, t) = (cx.fw, &out.t);
    let h = fw
        .statics
        .find_outbound(out.input, out.egress, t, &fw.acls)?;
    let line = fw.statics.rules().get(h.index).map_or(0, |r| r.line);
    cx.log.push(
        PhaseKind::Nat,
        "static",
        PhaseResult::Allow,
        vec![cx.log.config_ref(line)],
        vec![format!(
            "static translation {} -> {}",
            addr_port(t.src, t.sport),
            addr_port(h.addr, h.port)
        )],
    );
    Some(Source {
        src: h.addr,
        sport: h.port,
        xlate: None,
    })
}

/// 4. policy `nat N access-list` (first match), else 5. `nat N net` (longest match).
fn nat_rule<'f>(cx: &Cx<'f>, out: &Outbound) -> Option<&'f NatRule> {
    let fw = cx.fw;
    let t = &out.t;
    let policy = fw.nats.iter().find(|n| {
        n.interface == out.input
            && n.id != 0
            && matches!(&n.select, NatSelect::Acl(id) if fw.acls.get(id).and_then(|c| c.lookup(t)).is_some_and(|a| a.action == AclAction::Permit))
    });
    policy.or_else(|| {
        fw.nats
            .iter()
            .filter(|n| n.interface == out.input)
            .filter_map(|n| match n.select {
                NatSelect::Net { addr, mask } if t.src & mask == addr => {
                    Some((mask.count_ones(), n))
                }
                _ => None,
            })
            .fold(None, |best: Option<(u32, &NatRule)>, (len, n)| match best {
                Some((bl, _)) if bl >= len => best,
                _ => Some((len, n)),
            })
            .map(|(_, n)| n)
    })
}

/// `nat (IF) 0 net`: the address maps to itself (an identity xlate, outbound only).
fn identity(cx: &mut Cx<'_>, out: &Outbound, nat: &NatRule) -> Source {
    let t = &out.t;
    let now = cx.now;
    let id = cx.st.xlates.insert(Xlate {
        id: 0,
        kind: XlateKind::Identity,
        real_if: out.input,
        mapped_if: out.egress,
        local: ip(t.src),
        global: ip(t.src),
        pat: None,
        nat_line: nat.line,
        global_line: nat.line,
        created: now,
        last_used: now,
        conns: 0,
    });
    cx.log.push(
        PhaseKind::Nat,
        "identity",
        PhaseResult::Allow,
        vec![cx.log.config_ref(nat.line)],
        vec![format!(
            "identity translation {} -> {} (xlate id {id}; outbound only)",
            ip(t.src),
            ip(t.src)
        )],
    );
    Source {
        src: t.src,
        sport: t.sport,
        xlate: Some(id),
    }
}

/// `nat (IF) N`: a `global (EGRESS) N`: a free NAT address, lowest first, else a PAT
/// port.
fn dynamic(cx: &mut Cx<'_>, out: &Outbound, nat: &NatRule) -> Result<Source, DropReason> {
    let fw = cx.fw;
    let globals: Vec<&GlobalRule> = fw
        .globals
        .iter()
        .filter(|g| g.interface == out.egress && g.id == nat.id)
        .collect();
    if globals.is_empty() {
        cx.log.push(
            PhaseKind::Nat,
            "dynamic",
            PhaseResult::Drop,
            vec![cx.log.config_ref(nat.line)],
            vec![format!(
                "nat id {} has no global ({}) {}",
                nat.id,
                fw.if_name(out.egress),
                nat.id
            )],
        );
        return Err(DropReason::NoGlobal);
    }
    if let Some(s) = nat_address(cx, out, nat, &globals) {
        return Ok(s);
    }
    if let Some(s) = pat_port(cx, out, nat, &globals) {
        return Ok(s);
    }
    let mut cfg = vec![cx.log.config_ref(nat.line)];
    cfg.extend(globals.iter().map(|g| cx.log.config_ref(g.line)));
    cx.log.push(
        PhaseKind::Nat,
        "dynamic",
        PhaseResult::Drop,
        cfg,
        vec![format!(
            "global pool {} on {} exhausted: every address{} in use",
            nat.id,
            fw.if_name(out.egress),
            if globals.iter().any(|g| matches!(g.pool, GlobalPool::Pat(_))) {
                " and PAT port"
            } else {
                " (no PAT address configured)"
            }
        )],
    );
    Err(DropReason::PoolExhausted)
}

fn nat_and_global(cx: &Cx<'_>, nat: &NatRule, global_line: u32) -> Vec<ConfigRef> {
    vec![cx.log.config_ref(nat.line), cx.log.config_ref(global_line)]
}

/// The lowest free address of the NAT ranges (a search bounded by the xlate count:
/// a range has at most that many taken addresses before a free one).
fn nat_address(
    cx: &mut Cx<'_>,
    out: &Outbound,
    nat: &NatRule,
    globals: &[&GlobalRule],
) -> Option<Source> {
    let t = &out.t;
    let now = cx.now;
    let bound = cx.st.xlates.len().saturating_add(1);
    let mut nat_pick: Option<(u32, u32)> = None;
    for g in globals {
        if let GlobalPool::Nat { first, last } = g.pool {
            let mut a = first;
            let mut tries = 0usize;
            loop {
                if nat_pick.is_some_and(|(b, _)| a >= b) {
                    break;
                }
                if !cx.st.xlates.nat_used(out.egress, a) {
                    nat_pick = Some((a, g.line));
                    break;
                }
                tries = tries.saturating_add(1);
                if a >= last || tries > bound {
                    break;
                }
                a = a.saturating_add(1);
            }
        }
    }
    let (a, gl) = nat_pick?;
    let id = cx.st.xlates.insert(Xlate {
        id: 0,
        kind: XlateKind::Nat,
        real_if: out.input,
        mapped_if: out.egress,
        local: ip(t.src),
        global: ip(a),
        pat: None,
        nat_line: nat.line,
        global_line: gl,
        created: now,
        last_used: now,
        conns: 0,
    });
    cx.log.push(
        PhaseKind::Nat,
        "dynamic",
        PhaseResult::Allow,
        nat_and_global(cx, nat, gl),
        vec![format!(
            "dynamic translation {} -> {} (xlate id {id})",
            ip(t.src),
            ip(a)
        )],
    );
    Some(Source {
        src: a,
        sport: t.sport,
        xlate: Some(id),
    })
}

/// PAT addresses, one at a time: keep the source port where free, else a free port
/// of its band.
fn pat_port(
    cx: &mut Cx<'_>,
    out: &Outbound,
    nat: &NatRule,
    globals: &[&GlobalRule],
) -> Option<Source> {
    let t = &out.t;
    let (pn, now) = (t.proto, cx.now);
    if !matches!(cx.p.proto, Proto::Tcp | Proto::Udp | Proto::Icmp) {
        return None;
    }
    for g in globals {
        let GlobalPool::Pat(a) = g.pool else { continue };
        let xlates = &mut cx.st.xlates;
        let port = if !xlates.pat_used(out.egress, pn, a, t.sport) {
            Some(t.sport)
        } else {
            let (lo, hi) = pat_band(t.sport);
            xlates.pat_port(out.egress, pn, a, lo, hi)
        };
        let Some(pt) = port else { continue };
        let id = xlates.insert(Xlate {
            id: 0,
            kind: XlateKind::Pat,
            real_if: out.input,
            mapped_if: out.egress,
            local: ip(t.src),
            global: ip(a),
            pat: Some((pn, t.sport, pt)),
            nat_line: nat.line,
            global_line: g.line,
            created: now,
            last_used: now,
            conns: 0,
        });
        cx.log.push(
            PhaseKind::Nat,
            "dynamic-pat",
            PhaseResult::Allow,
            nat_and_global(cx, nat, g.line),
            vec![format!(
                "PAT translation {} -> {} (xlate id {id})",
                addr_port(t.src, t.sport),
                addr_port(a, pt)
            )],
        );
        return Some(Source {
            src: a,
            sport: pt,
            xlate: Some(id),
        });
    }
    None
}
