//! UN-NAT: the real destination of a packet sent to a mapped address, tried in PIX
//! 6.x order: `nat 0 access-list` exemption seen from the other side, `static`,
//! existing xlate. A packet nothing translates keeps its own destination; this phase
//! never drops.

use super::{addr_port, Arrival, Cx, Destination, UnNat};
use crate::acl::Tuple;
use crate::nat::ip;
use crate::packet::Proto;
use crate::trace::{PhaseKind, PhaseResult};
use crate::xlate::XlateKind;

pub(super) fn run(cx: &mut Cx<'_>, a: &Arrival) -> Destination {
    exempt(cx, a)
        .or_else(|| by_static(cx, a))
        .or_else(|| by_xlate(cx, a))
        .unwrap_or(Destination {
            real_dst: a.t.dst,
            real_dport: a.t.dport,
            via: None,
        })
}

/// The destination's interface (by route) is of higher security and its `nat 0
/// access-list` permits the reverse flow: the destination is not translated.
fn exempt(cx: &mut Cx<'_>, a: &Arrival) -> Option<Destination> {
    let (fw, p, t) = (cx.fw, cx.p, &a.t);
    let e = fw.route_lookup(&cx.st.vpn, p.dst)?.interface;
    if e == a.input || fw.security(e) <= fw.security(a.input) {
        return None;
    }
    let rev = Tuple {
        src: t.dst,
        dst: t.src,
        sport: t.dport,
        dport: t.sport,
        ..*t
    };
    let (nat_line, ace_line) = fw.exemption(e, &rev)?;
    cx.log.push(
        PhaseKind::UnNat,
        "nat-exempt",
        PhaseResult::Allow,
        vec![cx.log.config_ref(nat_line), cx.log.config_ref(ace_line)],
        vec![format!(
            "{} on {} is exempt from NAT toward {}: no translation",
            p.dst,
            fw.if_name(e),
            p.src
        )],
    );
    Some(Destination {
        real_dst: t.dst,
        real_dport: t.dport,
        via: Some(UnNat::Exempt),
    })
}

/// A `static` maps the destination (first match in configuration order).
fn by_static(cx: &mut Cx<'_>, a: &Arrival) -> Option<Destination> {
    let (fw, t) = (cx.fw, &a.t);
    let h = fw.statics.find_inbound(a.input, t, &fw.acls)?;
    let (real_dst, real_dport) = (h.addr, h.port);
    let r = fw.statics.rules().get(h.index);
    let (line, mask, real_if) = r.map_or((0, 0, a.input), |r| (r.line, r.mask, r.real_if));
    cx.log.push(
        PhaseKind::UnNat,
        "static",
        PhaseResult::Allow,
        vec![cx.log.config_ref(line)],
        vec![
            format!("NAT divert to egress interface {}", fw.if_name(real_if)),
            format!(
                "Untranslate {} to {} using netmask {}",
                addr_port(t.dst, t.dport),
                addr_port(real_dst, real_dport),
                ip(mask)
            ),
        ],
    );
    Some(Destination {
        real_dst,
        real_dport,
        via: Some(UnNat::Static { index: h.index }),
    })
}

/// An existing xlate holds the destination address (and port, for PAT).
fn by_xlate(cx: &mut Cx<'_>, a: &Arrival) -> Option<Destination> {
    let (fw, p, t) = (cx.fw, cx.p, &a.t);
    let x = cx
        .st
        .xlates
        .find_mapped(a.input, t.proto, t.dst, t.dport)
        // a PAT slot takes no new inbound TCP/UDP connection (its replies ride the
        // connection); ICMP replies are checked as new packets and need it
        .filter(|x| x.kind != XlateKind::Pat || p.proto == Proto::Icmp)?;
    let real_dst = u32::from(x.local);
    let real_dport = x.pat.map_or(t.dport, |(_, local_port, _)| local_port);
    let cfg = vec![
        cx.log.config_ref(x.nat_line),
        cx.log.config_ref(x.global_line),
    ];
    cx.log.push(
        PhaseKind::UnNat,
        "dynamic",
        PhaseResult::Allow,
        cfg,
        vec![
            format!("NAT divert to egress interface {}", fw.if_name(x.real_if)),
            format!(
                "Untranslate {} to {} using xlate id {}",
                addr_port(t.dst, t.dport),
                addr_port(real_dst, real_dport),
                x.id
            ),
        ],
    );
    Some(Destination {
        real_dst,
        real_dport,
        via: Some(UnNat::Xlate { id: x.id }),
    })
}
