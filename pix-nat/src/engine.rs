//! The verdict: what the PIX does with one packet, given the state and `now`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use crate::accounting::{AccountingRecord, RecordKind};
use crate::acl::{AclAction, Tuple};
use crate::conn::{Conn, ConnTable, Direction, Endpoints, TcpState};
use crate::model::Firewall;
use crate::nat::{ip, pat_band, GlobalPool, NatSelect};
use crate::packet::{Packet, Proto};
use crate::route::{RouteVia, VpnRoute};
use crate::trace::{Action, ConfigRef, DropReason, Phase, PhaseKind, PhaseResult, Trace};
use crate::uauth::{
    can_prompt, decide, service_name, AaaKind, AaaQuery, Timeout, UauthTable, UauthVia,
};
use crate::xlate::{Xlate, XlateKind, XlateTable};

/// Everything that changes as packets pass: translations, connections, the uauth
/// table and connected VPN clients.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Translation slots.
    pub xlates: XlateTable,
    /// Connections.
    pub conns: ConnTable,
    /// Authenticated users.
    pub uauth: UauthTable,
    /// Connected VPN clients (host routes to their tunnel), by assigned address: every
    /// decrypted packet's source check and every route lookup is one map lookup, not a
    /// pass over every connected user.
    pub vpn: BTreeMap<Ipv4Addr, VpnRoute>,
    next_task: u32,
    next_deadline: Option<Instant>,
}

impl State {
    /// An empty state.
    pub fn new() -> State {
        State::default()
    }

    fn note_deadline(&mut self, d: Option<Instant>) {
        if let Some(d) = d {
            self.next_deadline = Some(self.next_deadline.map_or(d, |n| n.min(d)));
        }
    }

    /// A VPN client finished Xauth and Mode Config: `user` enters the uauth table as
    /// an `ipsec user` at `addr`, and `addr` is routed to `interface`.
    /// Returns false when the interface does not exist.
    pub fn vpn_connect(
        &mut self,
        fw: &Firewall,
        user: &str,
        addr: Ipv4Addr,
        interface: &str,
        now: Instant,
    ) -> bool {
        let Some(i) = fw.interface_index(interface) else {
            return false;
        };
        self.uauth.begin();
        self.uauth.complete(user, addr, UauthVia::Ipsec, now);
        self.vpn.insert(
            addr,
            VpnRoute {
                addr,
                interface: i,
                user: user.to_owned(),
            },
        );
        true
    }

    /// The tunnel of the client at `addr` went away.
    pub fn vpn_disconnect(&mut self, addr: Ipv4Addr) {
        self.vpn.remove(&addr);
        self.uauth.remove(addr);
    }

    /// The earliest instant something may idle out (a connection, an xlate, a
    /// cut-through user); a lower bound that [`Firewall::expire`] recomputes. `None`
    /// when nothing is timed. An event loop calls `expire` when it passes.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_deadline
    }

    /// The cut-through proxy authenticated `user` at `addr`.
    pub fn authenticate(&mut self, fw: &Firewall, user: &str, addr: Ipv4Addr, now: Instant) {
        self.uauth.complete(user, addr, UauthVia::CutThrough, now);
        self.note_deadline(self.uauth.next_deadline(fw.uauth_timeout()));
    }
}

/// The answer for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Verdict {
    /// The explanation, with the final action.
    pub trace: Trace,
    /// Accounting records produced while handling it (timeouts swept first, then
    /// this packet's start or stop).
    pub accounting: Vec<AccountingRecord>,
    /// The connection the packet created or rode.
    pub conn: Option<u64>,
    /// The packet as it leaves, when forwarded.
    pub egress: Option<Endpoints>,
}

struct Tr<'f> {
    fw: &'f Firewall,
    phases: Vec<Phase>,
}

impl Tr<'_> {
    fn cref(&self, line: u32) -> ConfigRef {
        ConfigRef {
            line,
            text: self.fw.line_text(line).unwrap_or("").to_owned(),
        }
    }

    fn implicit(text: &str) -> ConfigRef {
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

enum UnNat {
    Exempt,
    Static { index: usize },
    Xlate { id: u64 },
}

fn ep(src: u32, sport: u16, dst: u32, dport: u16) -> Endpoints {
    Endpoints {
        src: ip(src),
        sport,
        dst: ip(dst),
        dport,
    }
}

fn fmt_ap(a: u32, p: u16) -> String {
    format!("{}/{}", ip(a), p)
}

impl Firewall {
    /// The uauth timer of the configuration.
    pub fn uauth_timeout(&self) -> Timeout {
        Timeout {
            duration: self.timeouts.uauth,
            inactivity: self.timeouts.uauth_inactivity,
        }
    }

    /// What the PIX does with `p` at `now`; `st` is updated (connections,
    /// xlates, uauth) as the PIX would.
    pub fn process(&self, st: &mut State, p: &Packet, now: Instant) -> Verdict {
        let mut accounting = self.expire_due(st, now);
        let mut tr = Tr {
            fw: self,
            phases: Vec::new(),
        };
        let (action, output, conn, egress) = self.decide(st, p, now, &mut tr, &mut accounting);
        Verdict {
            trace: Trace {
                phases: tr.phases,
                input_interface: p.input.clone(),
                output_interface: output.map(|o| self.if_name(o).to_owned()),
                action,
            },
            accounting,
            conn,
            egress,
        }
    }

    /// [`process`](Self::process) by value: state in, verdict and new state out.
    pub fn step(&self, mut st: State, p: &Packet, now: Instant) -> (Verdict, State) {
        let v = self.process(&mut st, p, now);
        (v, st)
    }

    /// The trace for `p` without changing `st` (packet-tracer).
    pub fn trace(&self, st: &State, p: &Packet, now: Instant) -> Trace {
        let mut scratch = st.clone();
        self.process(&mut scratch, p, now).trace
    }

    /// Tear down everything idle at `now` (connections, xlates, cut-through users);
    /// returns the accounting stop records of closed connections.
    pub fn expire(&self, st: &mut State, now: Instant) -> Vec<AccountingRecord> {
        let t = &self.timeouts;
        let mut out = Vec::new();
        for id in st.conns.expired(now, t.conn, t.half_closed, t.udp) {
            if let Some(c) = st.conns.get(id) {
                let end = c
                    .last
                    .checked_add(c.idle_timeout(t.conn, t.half_closed, t.udp))
                    .unwrap_or(now);
                if let Some(r) = self.close(st, id, end) {
                    out.push(r);
                }
            }
        }
        st.xlates.expire(now, t.xlate, t.pat_xlate);
        st.uauth.expire(now, self.uauth_timeout());
        st.next_deadline = None;
        let d1 = st.conns.next_deadline(t.conn, t.half_closed, t.udp);
        let d2 = st.xlates.next_deadline(t.xlate, t.pat_xlate);
        let d3 = st.uauth.next_deadline(self.uauth_timeout());
        for d in [d1, d2, d3] {
            st.note_deadline(d);
        }
        out
    }

    /// The tunnel of the VPN client at `addr` went away: every connection with `addr`
    /// at one end is torn down at `now` (stop records for the accounted ones), then
    /// its route and `ipsec user` uauth entry go ([`State::vpn_disconnect`]).
    pub fn vpn_disconnect(
        &self,
        st: &mut State,
        addr: Ipv4Addr,
        now: Instant,
    ) -> Vec<AccountingRecord> {
        let ids: Vec<u64> = st
            .conns
            .iter()
            .filter(|c| [c.orig.src, c.orig.dst, c.xlated.src, c.xlated.dst].contains(&addr))
            .map(|c| c.id)
            .collect();
        let out = ids
            .into_iter()
            .filter_map(|id| self.close(st, id, now))
            .collect();
        st.vpn_disconnect(addr);
        out
    }

    fn expire_due(&self, st: &mut State, now: Instant) -> Vec<AccountingRecord> {
        match st.next_deadline {
            Some(d) if now >= d => self.expire(st, now),
            _ => Vec::new(),
        }
    }

    /// Remove a connection; its stop record if it was accounted.
    fn close(&self, st: &mut State, id: u64, end: Instant) -> Option<AccountingRecord> {
        let c = st.conns.remove(id)?;
        if let Some(x) = c.xlate.and_then(|x| st.xlates.get_mut(x)) {
            x.conns = x.conns.saturating_sub(1);
            x.last_used = x.last_used.max(c.last);
            let idle = if x.kind == XlateKind::Pat {
                self.timeouts.pat_xlate
            } else {
                self.timeouts.xlate
            };
            let d = x.last_used.checked_add(idle);
            st.note_deadline(d);
        }
        self.record(&c, RecordKind::Stop, end)
    }

    fn record(&self, c: &Conn, kind: RecordKind, at: Instant) -> Option<AccountingRecord> {
        let (user, task_id, server) = c.accounting.clone()?;
        let ((local, _), (foreign, _)) = c.local_foreign();
        let stop = kind == RecordKind::Stop;
        let (bytes_in, bytes_out) = (c.bytes_fwd, c.bytes_rev);
        Some(AccountingRecord {
            kind,
            user,
            caller: c.orig.src,
            nas_ip: self
                .aaa_server_if
                .get(&server)
                .and_then(|i| self.interfaces.get(*i))
                .and_then(|i| i.address)
                .map(|a| a.0),
            task_id,
            service: service_name(c.proto.number(), c.orig.dport),
            local,
            foreign,
            elapsed_secs: stop.then(|| at.saturating_duration_since(c.created).as_secs()),
            bytes_in: stop.then_some(bytes_in),
            bytes_out: stop.then_some(bytes_out),
            server,
            at,
        })
    }

    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        st: &mut State,
        p: &Packet,
        now: Instant,
        tr: &mut Tr<'_>,
        acct: &mut Vec<AccountingRecord>,
    ) -> (Action, Option<usize>, Option<u64>, Option<Endpoints>) {
        let drop = |r: DropReason| Action::Drop(r);
        let Some(input) = self.interface_index(&p.input) else {
            tr.push(
                PhaseKind::RouteLookup,
                "input",
                PhaseResult::Drop,
                vec![],
                vec![format!("no interface named {} (nameif)", p.input)],
            );
            return (drop(DropReason::UnknownInterface), None, None, None);
        };
        let t = p.tuple();
        let pn = p.proto.number();

        // ---- FLOW-LOOKUP: a connection's later packets ride it unchecked
        if p.proto != Proto::Icmp {
            let key = (input, pn, t.src, t.sport, t.dst, t.dport);
            if let Some((id, dir)) = st.conns.find(&key) {
                return self.ride(st, p, now, id, dir, tr, acct);
            }
            if p.proto == Proto::Tcp && (p.flags.ack || !p.flags.syn) {
                tr.push(
                    PhaseKind::FlowLookup,
                    "",
                    PhaseResult::Drop,
                    vec![],
                    vec![
                        "Found no matching flow; a TCP packet without a connection must be a SYN"
                            .into(),
                    ],
                );
                return (drop(DropReason::TcpNotSyn), None, None, None);
            }
            tr.push(
                PhaseKind::FlowLookup,
                "",
                PhaseResult::Allow,
                vec![],
                vec!["Found no matching flow, creating a new flow".into()],
            );
        } else {
            tr.push(
                PhaseKind::FlowLookup,
                "",
                PhaseResult::Allow,
                vec![],
                vec![
                    "ICMP is not stateful on PIX 6.3: every ICMP packet is checked as a new one"
                        .into(),
                ],
            );
        }

        // ---- UN-NAT (destination)
        let mut real_dst = t.dst;
        let mut real_dport = t.dport;
        let mut unnat: Option<UnNat> = None;
        let pre = self.route_lookup(&st.vpn, p.dst);
        if let Some(e) = pre.as_ref().map(|r| r.interface) {
            if e != input && self.security(e) > self.security(input) {
                let rev = Tuple {
                    src: t.dst,
                    dst: t.src,
                    sport: t.dport,
                    dport: t.sport,
                    ..t
                };
                if let Some((nat_line, ace_line)) = self.exemption(e, &rev) {
                    unnat = Some(UnNat::Exempt);
                    tr.push(
                        PhaseKind::UnNat,
                        "nat-exempt",
                        PhaseResult::Allow,
                        vec![tr.cref(nat_line), tr.cref(ace_line)],
                        vec![format!(
                            "{} on {} is exempt from NAT toward {}: no translation",
                            p.dst,
                            self.if_name(e),
                            p.src
                        )],
                    );
                }
            }
        }
        if unnat.is_none() {
            if let Some(h) = self.statics.find_inbound(input, &t, &self.acls) {
                real_dst = h.addr;
                real_dport = h.port;
                let r = self.statics.rules().get(h.index);
                let (line, mask, real_if) =
                    r.map_or((0, 0, input), |r| (r.line, r.mask, r.real_if));
                unnat = Some(UnNat::Static { index: h.index });
                tr.push(
                    PhaseKind::UnNat,
                    "static",
                    PhaseResult::Allow,
                    vec![tr.cref(line)],
                    vec![
                        format!("NAT divert to egress interface {}", self.if_name(real_if)),
                        format!(
                            "Untranslate {} to {} using netmask {}",
                            fmt_ap(t.dst, t.dport),
                            fmt_ap(real_dst, real_dport),
                            ip(mask)
                        ),
                    ],
                );
            } else if let Some(x) = st
                .xlates
                .find_mapped(input, pn, t.dst, t.dport)
                // a PAT slot takes no new inbound TCP/UDP connection (its replies ride
                // the connection); ICMP replies are checked as new packets and need it
                .filter(|x| x.kind != XlateKind::Pat || p.proto == Proto::Icmp)
            {
                real_dst = u32::from(x.local);
                if let Some((_, lp, _)) = x.pat {
                    real_dport = lp;
                }
                unnat = Some(UnNat::Xlate { id: x.id });
                let cfg = vec![tr.cref(x.nat_line), tr.cref(x.global_line)];
                tr.push(
                    PhaseKind::UnNat,
                    "dynamic",
                    PhaseResult::Allow,
                    cfg,
                    vec![
                        format!("NAT divert to egress interface {}", self.if_name(x.real_if)),
                        format!(
                            "Untranslate {} to {} using xlate id {}",
                            fmt_ap(t.dst, t.dport),
                            fmt_ap(real_dst, real_dport),
                            x.id
                        ),
                    ],
                );
            }
        }

        // ---- to the box
        if unnat.is_none()
            && self
                .interfaces
                .iter()
                .any(|i| i.address.is_some_and(|a| a.0 == p.dst))
        {
            tr.push(
                PhaseKind::RouteLookup,
                "",
                PhaseResult::Drop,
                vec![],
                vec![format!("{} is an address of the PIX itself", p.dst)],
            );
            return (drop(DropReason::ToTheBox), None, None, None);
        }

        // ---- ROUTE-LOOKUP (on the real destination)
        let route = self.route_lookup(&st.vpn, ip(real_dst));
        let divert = match &unnat {
            Some(UnNat::Static { index }) => self.statics.rules().get(*index).map(|r| r.real_if),
            Some(UnNat::Xlate { id }) => st.xlates.get(*id).map(|x| x.real_if),
            _ => None,
        };
        let egress = match (divert, &route) {
            (Some(e), _) => e,
            (None, Some(r)) => r.interface,
            (None, None) => {
                tr.push(
                    PhaseKind::RouteLookup,
                    "input",
                    PhaseResult::Drop,
                    vec![],
                    vec![format!(
                        "no route to {} (no connected subnet, route or VPN client covers it)",
                        ip(real_dst)
                    )],
                );
                return (drop(DropReason::NoRoute), None, None, None);
            }
        };
        {
            let (cfg, mut info) = match &route {
                Some(r) => match &r.via {
                    RouteVia::Connected(l) => (
                        vec![tr.cref(*l)],
                        vec![format!(
                            "found connected subnet for {} on interface {}",
                            ip(real_dst),
                            self.if_name(r.interface)
                        )],
                    ),
                    RouteVia::Static(l, gw) => (
                        vec![tr.cref(*l)],
                        vec![format!(
                            "found next-hop {} using egress ifc {}",
                            gw.map_or_else(|| "?".into(), |g| g.to_string()),
                            self.if_name(r.interface)
                        )],
                    ),
                    RouteVia::Vpn(u) => (
                        vec![],
                        vec![format!(
                            "{} is the address of VPN client {u}: routed into its tunnel on {}",
                            ip(real_dst),
                            self.if_name(r.interface)
                        )],
                    ),
                },
                None => (vec![], vec![]),
            };
            if route.as_ref().is_some_and(|r| r.interface != egress)
                || (route.is_none() && divert.is_some())
            {
                info.push(format!(
                    "the translation decides the egress interface: {}",
                    self.if_name(egress)
                ));
            }
            if egress == input {
                info.push(format!(
                    "egress interface is the input interface {}",
                    self.if_name(input)
                ));
                info.extend(self.pool_note(input, t.dst));
                tr.push(
                    PhaseKind::RouteLookup,
                    "input",
                    PhaseResult::Drop,
                    cfg,
                    info,
                );
                return (drop(DropReason::SameInterface), Some(egress), None, None);
            }
            tr.push(
                PhaseKind::RouteLookup,
                "input",
                PhaseResult::Allow,
                cfg,
                info,
            );
        }

        // ---- SECURITY-LEVEL
        let (lin, lout) = (self.security(input), self.security(egress));
        let nameif_refs = |tr: &Tr<'_>| {
            [input, egress]
                .iter()
                .filter_map(|i| self.interfaces.get(*i))
                .map(|i| tr.cref(i.line))
                .collect::<Vec<_>>()
        };
        let inbound = lin < lout;
        if lin == lout {
            let cfg = nameif_refs(tr);
            tr.push(
                PhaseKind::SecurityLevel,
                "",
                PhaseResult::Drop,
                cfg,
                vec![format!(
                    "{} and {} are both security{lin}: PIX 6.x passes no traffic between equal levels",
                    self.if_name(input),
                    self.if_name(egress)
                )],
            );
            return (
                drop(DropReason::SameSecurityLevel),
                Some(egress),
                None,
                None,
            );
        }
        if inbound {
            let how = match &unnat {
                Some(UnNat::Exempt) => Some("via nat 0 access-list (exemption)".to_owned()),
                Some(UnNat::Static { .. }) => Some("via static".to_owned()),
                Some(UnNat::Xlate { id }) => Some(format!("via existing xlate id {id}")),
                None => None,
            };
            let cfg = nameif_refs(tr);
            match how {
                Some(h) => tr.push(
                    PhaseKind::SecurityLevel,
                    "",
                    PhaseResult::Allow,
                    cfg,
                    vec![format!(
                        "lower to higher ({} security{lin} -> {} security{lout}) {h}; a permitting access-list or conduit is still needed",
                        self.if_name(input),
                        self.if_name(egress)
                    )],
                ),
                None => {
                    tr.push(
                        PhaseKind::SecurityLevel,
                        "",
                        PhaseResult::Drop,
                        cfg,
                        vec![format!(
                            "lower to higher ({} security{lin} -> {} security{lout}) needs a static, nat 0 access-list or xlate for {}; none found (nat 0 without access-list is outbound only)",
                            self.if_name(input),
                            self.if_name(egress),
                            p.dst
                        )]
                        .into_iter()
                        .chain(self.pool_note(input, t.dst))
                        .collect(),
                    );
                    return (drop(DropReason::NoStatic), Some(egress), None, None);
                }
            }
        } else {
            let cfg = nameif_refs(tr);
            tr.push(
                PhaseKind::SecurityLevel,
                "",
                PhaseResult::Allow,
                cfg,
                vec![format!(
                    "higher to lower ({} security{lin} -> {} security{lout}): permitted unless an access-list on {} says otherwise",
                    self.if_name(input),
                    self.if_name(egress),
                    self.if_name(input)
                )],
            );
        }

        // ---- IPSEC-BYPASS / ACCESS-LIST / CONDUIT
        let bypass = p.decrypted && self.permit_ipsec.is_some();
        if bypass {
            let l = self.permit_ipsec.unwrap_or(0);
            tr.push(
                PhaseKind::IpsecBypass,
                "",
                PhaseResult::Allow,
                vec![tr.cref(l)],
                vec![format!(
                    "decrypted from an IPsec SA{}: access-lists and conduits are skipped (NAT is not)",
                    p.vpn_user.as_ref().map(|u| format!(" of user {u}")).unwrap_or_default()
                )],
            );
        } else if let Some((acl, ag_line)) = self.access_groups.get(input).and_then(|a| a.as_ref())
        {
            let c = self.acls.get(acl);
            let hit = c.and_then(|c| c.lookup(&t)).copied();
            let mut info = Vec::new();
            if p.decrypted {
                info.push("decrypted, but sysopt connection permit-ipsec is not configured: the access-list applies".into());
            }
            match hit {
                Some(a) if a.action == AclAction::Permit => {
                    tr.push(
                        PhaseKind::AccessList,
                        "log",
                        PhaseResult::Allow,
                        vec![tr.cref(*ag_line), tr.cref(a.line)],
                        info,
                    );
                }
                Some(a) => {
                    tr.push(
                        PhaseKind::AccessList,
                        "log",
                        PhaseResult::Drop,
                        vec![tr.cref(*ag_line), tr.cref(a.line)],
                        info,
                    );
                    return (drop(DropReason::AclDrop), Some(egress), None, None);
                }
                None => {
                    let what = if p.proto == Proto::Icmp {
                        format!(
                            "ICMP {} -> {} type {} code {}",
                            p.src, p.dst, p.icmp_type, p.icmp_code
                        )
                    } else if p.proto.has_ports() {
                        format!(
                            "{} {} -> {}",
                            p.proto,
                            fmt_ap(t.src, t.sport),
                            fmt_ap(t.dst, t.dport)
                        )
                    } else {
                        format!("protocol {} {} -> {}", p.proto.number(), p.src, p.dst)
                    };
                    info.push(format!(
                        "no entry of access-list {acl} matches {what}: implicit deny"
                    ));
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
                                    self.if_name(input),
                                    ip(t.dst)
                                ));
                            }
                        }
                    }
                    tr.push(
                        PhaseKind::AccessList,
                        "",
                        PhaseResult::Drop,
                        vec![
                            tr.cref(*ag_line),
                            Tr::implicit("Implicit Rule (deny ip any any)"),
                        ],
                        info,
                    );
                    return (drop(DropReason::AclDrop), Some(egress), None, None);
                }
            }
        } else if inbound {
            match self.conduits.lookup(&t) {
                Some(a) if a.action == AclAction::Permit => {
                    tr.push(
                        PhaseKind::Conduit,
                        "",
                        PhaseResult::Allow,
                        vec![tr.cref(a.line)],
                        vec![],
                    );
                }
                Some(a) => {
                    tr.push(
                        PhaseKind::Conduit,
                        "",
                        PhaseResult::Drop,
                        vec![tr.cref(a.line)],
                        vec![],
                    );
                    return (drop(DropReason::ConduitDrop), Some(egress), None, None);
                }
                None => {
                    let why = if self.conduits.is_empty() {
                        format!(
                            "no access-group on {} and no conduit: inbound connections are denied",
                            self.if_name(input)
                        )
                    } else {
                        "no conduit matches: implicit deny".to_owned()
                    };
                    tr.push(
                        PhaseKind::Conduit,
                        "",
                        PhaseResult::Drop,
                        vec![Tr::implicit("Implicit Rule")],
                        vec![why],
                    );
                    return (drop(DropReason::ConduitDrop), Some(egress), None, None);
                }
            }
        } else {
            tr.push(
                PhaseKind::AccessList,
                "",
                PhaseResult::Allow,
                vec![Tr::implicit("Implicit Rule")],
                vec![format!(
                    "no access-group on {}: higher to lower security is permitted",
                    self.if_name(input)
                )],
            );
        }

        // ---- AAA
        let (local, foreign) = if inbound {
            (real_dst, t.src)
        } else {
            (t.src, real_dst)
        };
        let q = AaaQuery {
            input,
            inbound,
            local,
            foreign,
            proto: pn,
            port: if p.proto == Proto::Icmp {
                u16::from(p.icmp_type)
            } else {
                real_dport
            },
        };
        let ut = self.uauth_timeout();
        if p.decrypted {
            if let Some(u) = &p.vpn_user {
                if st.uauth.lookup(p.src, now, ut).is_none() {
                    // the SA exists only after Xauth: its user is authenticated
                    st.uauth.begin();
                    st.uauth.complete(u, p.src, UauthVia::Ipsec, now);
                }
            }
        }
        let user = st.uauth.lookup(p.src, now, ut).cloned();
        let auth = decide(&self.aaa, AaaKind::Authentication, &q);
        let acct_rule = decide(&self.aaa, AaaKind::Accounting, &q);
        let mut aaa_cfg = Vec::new();
        let mut aaa_info = Vec::new();
        if let Some(r) = auth {
            aaa_cfg.push(tr.cref(r.line));
            match &user {
                Some(u) => {
                    let via = match u.via {
                        UauthVia::Ipsec => "ipsec user (Xauth)",
                        UauthVia::CutThrough => "user (cut-through proxy)",
                    };
                    aaa_info.push(format!(
                        "authentication required by server group {}: {via} '{}' at {} is already authenticated",
                        r.tag, u.user, u.addr
                    ));
                }
                None if can_prompt(pn, real_dport) => {
                    st.uauth.begin();
                    aaa_info.push(format!(
                        "authentication required by server group {}: no uauth entry for {}; the PIX prompts for user name and password (cut-through proxy, {})",
                        r.tag,
                        p.src,
                        service_name(pn, real_dport)
                    ));
                    tr.push(
                        PhaseKind::Aaa,
                        "authentication",
                        PhaseResult::AuthRequired,
                        aaa_cfg,
                        aaa_info,
                    );
                    return (
                        Action::Authenticate {
                            server: r.tag.clone(),
                        },
                        Some(egress),
                        None,
                        None,
                    );
                }
                None => {
                    aaa_info.push(format!(
                        "authentication required by server group {}: no uauth entry for {} and only ftp, telnet, http and https can prompt",
                        r.tag, p.src
                    ));
                    tr.push(
                        PhaseKind::Aaa,
                        "authentication",
                        PhaseResult::Drop,
                        aaa_cfg,
                        aaa_info,
                    );
                    return (drop(DropReason::AuthRequired), Some(egress), None, None);
                }
            }
        }
        let accounting = match (acct_rule, &user) {
            (Some(r), Some(u)) if p.proto == Proto::Tcp => {
                aaa_cfg.push(tr.cref(r.line));
                st.next_task = st.next_task.saturating_add(1);
                aaa_info.push(format!(
                    "accounting: start and stop records for user '{}' (task_id 0x{:x}) to server group {}",
                    u.user, st.next_task, r.tag
                ));
                Some((u.user.clone(), st.next_task, r.tag.clone()))
            }
            (Some(r), Some(_)) => {
                aaa_cfg.push(tr.cref(r.line));
                aaa_info.push("accounting covers TCP connections only: no record".into());
                None
            }
            (Some(r), None) => {
                aaa_cfg.push(tr.cref(r.line));
                aaa_info.push(format!(
                    "accounting: no authenticated user at {}: no record",
                    p.src
                ));
                None
            }
            _ => None,
        };
        if user.is_some() {
            st.uauth.touch(p.src, now);
        }
        if !aaa_cfg.is_empty() {
            let sub = if auth.is_some() {
                "authentication"
            } else {
                "accounting"
            };
            tr.push(PhaseKind::Aaa, sub, PhaseResult::Allow, aaa_cfg, aaa_info);
        }

        // ---- NAT (source) for outbound; inbound was un-translated above
        let mut src = t.src;
        let mut sport = t.sport;
        let mut xlate_id = match &unnat {
            Some(UnNat::Xlate { id }) => Some(*id),
            _ => None,
        };
        if !inbound {
            let fwd = Tuple {
                dst: real_dst,
                dport: real_dport,
                ..t
            };
            match self.translate(st, input, egress, &fwd, p.proto, now, tr) {
                Ok((a, port, x)) => {
                    src = a;
                    sport = port;
                    if x.is_some() {
                        xlate_id = x;
                    }
                }
                Err(r) => return (drop(r), Some(egress), None, None),
            }
        } else if let Some(UnNat::Exempt) = unnat {
            // shown in UN-NAT
        }
        if let Some(x) = xlate_id.and_then(|id| st.xlates.get_mut(id)) {
            x.last_used = x.last_used.max(now);
        }

        // ---- FLOW-CREATION
        let out_ep = ep(src, sport, real_dst, real_dport);
        if p.proto == Proto::Icmp {
            tr.push(
                PhaseKind::FlowCreation,
                "",
                PhaseResult::Allow,
                vec![],
                vec!["no connection for ICMP: replies are checked as new packets".into()],
            );
            if let Some(id) = xlate_id {
                let d = st.xlates.get(id).and_then(|x| {
                    x.last_used.checked_add(if x.kind == XlateKind::Pat {
                        self.timeouts.pat_xlate
                    } else {
                        self.timeouts.xlate
                    })
                });
                st.note_deadline(d);
            }
            return (Action::Allow, Some(egress), None, Some(out_ep));
        }
        if let Some(x) = xlate_id.and_then(|id| st.xlates.get_mut(id)) {
            x.conns = x.conns.saturating_add(1);
        }
        let conn = Conn {
            id: 0,
            proto: p.proto,
            input_if: input,
            output_if: egress,
            orig: ep(t.src, t.sport, t.dst, t.dport),
            xlated: out_ep,
            inbound,
            xlate: xlate_id,
            tcp: TcpState::Embryonic,
            bytes_fwd: u64::from(p.len),
            bytes_rev: 0,
            accounting,
            created: now,
            last: now,
        };
        let id = st.conns.insert(conn);
        let t_ = &self.timeouts;
        st.note_deadline(st.conns.get(id).and_then(|c| {
            c.last
                .checked_add(c.idle_timeout(t_.conn, t_.half_closed, t_.udp))
        }));
        let mut info = vec![format!("New flow created with id {id}")];
        if let Some(r) = st
            .conns
            .get(id)
            .and_then(|c| self.record(c, RecordKind::Start, now))
        {
            info.push(format!(
                "accounting start record, task_id 0x{:x}",
                r.task_id
            ));
            acct.push(r);
        }
        tr.push(
            PhaseKind::FlowCreation,
            "",
            PhaseResult::Allow,
            vec![],
            info,
        );
        (Action::Allow, Some(egress), Some(id), Some(out_ep))
    }

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
        flags: crate::packet::TcpFlags,
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

    #[allow(clippy::too_many_arguments)]
    fn ride(
        &self,
        st: &mut State,
        p: &Packet,
        now: Instant,
        id: u64,
        dir: Direction,
        tr: &mut Tr<'_>,
        acct: &mut Vec<AccountingRecord>,
    ) -> (Action, Option<usize>, Option<u64>, Option<Endpoints>) {
        let Some(c) = st.conns.get_mut(id) else {
            return (Action::Drop(DropReason::TcpNotSyn), None, None, None);
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
        let Some((output, egress)) = self.touch_flow(st, id, fwd, p.len, now) else {
            return (Action::Drop(DropReason::TcpNotSyn), None, None, None);
        };
        let mut info = vec![format!(
            "Found flow with id {id}, using existing flow ({})",
            if fwd { "from the initiator" } else { "reply" }
        )];
        if closing {
            info.push("connection closed (FIN from both sides or RST): torn down".into());
            if let Some(r) = self.close(st, id, now) {
                info.push(format!("accounting stop record, task_id 0x{:x}", r.task_id));
                acct.push(r);
            }
        }
        tr.push(PhaseKind::FlowLookup, "", PhaseResult::Allow, vec![], info);
        (Action::Allow, Some(output), Some(id), Some(egress))
    }

    /// Source translation of a new outbound connection, in PIX 6.x order.
    #[allow(clippy::too_many_arguments)]
    fn translate(
        &self,
        st: &mut State,
        input: usize,
        egress: usize,
        t: &Tuple,
        proto: Proto,
        now: Instant,
        tr: &mut Tr<'_>,
    ) -> Result<(u32, u16, Option<u64>), DropReason> {
        let pn = proto.number();
        // 1. nat 0 access-list
        if let Some((nat_line, ace_line)) = self.exemption(input, t) {
            tr.push(
                PhaseKind::NatExempt,
                "",
                PhaseResult::Allow,
                vec![tr.cref(nat_line), tr.cref(ace_line)],
                vec![format!(
                    "{} is not translated toward {}",
                    ip(t.src),
                    ip(t.dst)
                )],
            );
            return Ok((t.src, t.sport, None));
        }
        // 2. existing xlate
        if let Some(x) = st.xlates.find_real(input, egress, pn, t.src, t.sport) {
            let (g, gp) = (u32::from(x.global), x.pat.map_or(t.sport, |p| p.2));
            let id = x.id;
            let cfg = vec![tr.cref(x.nat_line), tr.cref(x.global_line)];
            tr.push(
                PhaseKind::Nat,
                "existing-xlate",
                PhaseResult::Allow,
                cfg,
                vec![format!(
                    "using xlate id {id}: {} -> {}",
                    fmt_ap(t.src, t.sport),
                    fmt_ap(g, gp)
                )],
            );
            return Ok((g, gp, Some(id)));
        }
        // 3. static (first match in config order)
        if let Some(h) = self.statics.find_outbound(input, egress, t, &self.acls) {
            let line = self.statics.rules().get(h.index).map_or(0, |r| r.line);
            tr.push(
                PhaseKind::Nat,
                "static",
                PhaseResult::Allow,
                vec![tr.cref(line)],
                vec![format!(
                    "static translation {} -> {}",
                    fmt_ap(t.src, t.sport),
                    fmt_ap(h.addr, h.port)
                )],
            );
            return Ok((h.addr, h.port, None));
        }
        // 4. policy nat N access-list (first match), 5. nat N net (longest match)
        let policy = self.nats.iter().find(|n| {
            n.interface == input
                && n.id != 0
                && matches!(&n.select, NatSelect::Acl(id) if self.acls.get(id).and_then(|c| c.lookup(t)).is_some_and(|a| a.action == AclAction::Permit))
        });
        let chosen = policy.or_else(|| {
            self.nats
                .iter()
                .filter(|n| n.interface == input)
                .filter_map(|n| match n.select {
                    NatSelect::Net { addr, mask } if t.src & mask == addr => {
                        Some((mask.count_ones(), n))
                    }
                    _ => None,
                })
                .fold(
                    None,
                    |best: Option<(u32, &crate::nat::NatRule)>, (len, n)| match best {
                        Some((bl, _)) if bl >= len => best,
                        _ => Some((len, n)),
                    },
                )
                .map(|(_, n)| n)
        });
        let Some(nat) = chosen else {
            tr.push(
                PhaseKind::Nat,
                "",
                PhaseResult::Drop,
                vec![],
                vec![format!(
                    "no nat or static covers {} on {} toward {}: no translation group found",
                    ip(t.src),
                    self.if_name(input),
                    self.if_name(egress)
                )],
            );
            return Err(DropReason::NoTranslationGroup);
        };
        if nat.id == 0 {
            let x = Xlate {
                id: 0,
                kind: XlateKind::Identity,
                real_if: input,
                mapped_if: egress,
                local: ip(t.src),
                global: ip(t.src),
                pat: None,
                nat_line: nat.line,
                global_line: nat.line,
                created: now,
                last_used: now,
                conns: 0,
            };
            let id = st.xlates.insert(x);
            tr.push(
                PhaseKind::Nat,
                "identity",
                PhaseResult::Allow,
                vec![tr.cref(nat.line)],
                vec![format!(
                    "identity translation {} -> {} (xlate id {id}; outbound only)",
                    ip(t.src),
                    ip(t.src)
                )],
            );
            return Ok((t.src, t.sport, Some(id)));
        }
        let globals: Vec<_> = self
            .globals
            .iter()
            .filter(|g| g.interface == egress && g.id == nat.id)
            .collect();
        if globals.is_empty() {
            tr.push(
                PhaseKind::Nat,
                "dynamic",
                PhaseResult::Drop,
                vec![tr.cref(nat.line)],
                vec![format!(
                    "nat id {} has no global ({}) {}",
                    nat.id,
                    self.if_name(egress),
                    nat.id
                )],
            );
            return Err(DropReason::NoGlobal);
        }
        // NAT addresses, lowest first
        let bound = st.xlates.len().saturating_add(1);
        let mut nat_pick: Option<(u32, u32)> = None;
        for g in &globals {
            if let GlobalPool::Nat { first, last } = g.pool {
                let mut a = first;
                let mut tries = 0usize;
                loop {
                    if nat_pick.is_some_and(|(b, _)| a >= b) {
                        break;
                    }
                    if !st.xlates.nat_used(egress, a) {
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
        let cfg = |tr: &Tr<'_>, gl: u32| vec![tr.cref(nat.line), tr.cref(gl)];
        if let Some((a, gl)) = nat_pick {
            let id = st.xlates.insert(Xlate {
                id: 0,
                kind: XlateKind::Nat,
                real_if: input,
                mapped_if: egress,
                local: ip(t.src),
                global: ip(a),
                pat: None,
                nat_line: nat.line,
                global_line: gl,
                created: now,
                last_used: now,
                conns: 0,
            });
            tr.push(
                PhaseKind::Nat,
                "dynamic",
                PhaseResult::Allow,
                cfg(tr, gl),
                vec![format!(
                    "dynamic translation {} -> {} (xlate id {id})",
                    ip(t.src),
                    ip(a)
                )],
            );
            return Ok((a, t.sport, Some(id)));
        }
        // PAT addresses, one at a time: keep the port where free, else its band
        let pat_ok = matches!(proto, Proto::Tcp | Proto::Udp | Proto::Icmp);
        for g in &globals {
            let GlobalPool::Pat(a) = g.pool else { continue };
            if !pat_ok {
                continue;
            }
            let port = if !st.xlates.pat_used(egress, pn, a, t.sport) {
                Some(t.sport)
            } else {
                let (lo, hi) = pat_band(t.sport);
                st.xlates.pat_port(egress, pn, a, lo, hi)
            };
            if let Some(pt) = port {
                let id = st.xlates.insert(Xlate {
                    id: 0,
                    kind: XlateKind::Pat,
                    real_if: input,
                    mapped_if: egress,
                    local: ip(t.src),
                    global: ip(a),
                    pat: Some((pn, t.sport, pt)),
                    nat_line: nat.line,
                    global_line: g.line,
                    created: now,
                    last_used: now,
                    conns: 0,
                });
                tr.push(
                    PhaseKind::Nat,
                    "dynamic-pat",
                    PhaseResult::Allow,
                    cfg(tr, g.line),
                    vec![format!(
                        "PAT translation {} -> {} (xlate id {id})",
                        fmt_ap(t.src, t.sport),
                        fmt_ap(a, pt)
                    )],
                );
                return Ok((a, pt, Some(id)));
            }
        }
        let mut c = vec![tr.cref(nat.line)];
        c.extend(globals.iter().map(|g| tr.cref(g.line)));
        tr.push(
            PhaseKind::Nat,
            "dynamic",
            PhaseResult::Drop,
            c,
            vec![format!(
                "global pool {} on {} exhausted: every address{} in use",
                nat.id,
                self.if_name(egress),
                if globals.iter().any(|g| matches!(g.pool, GlobalPool::Pat(_))) {
                    " and PAT port"
                } else {
                    " (no PAT address configured)"
                }
            )],
        );
        Err(DropReason::PoolExhausted)
    }
}

/// Accessors used by renderers.
impl ConnTable {
    /// Connections whose local (higher-security, real) end is `addr`.
    pub fn of_local(&self, addr: Ipv4Addr) -> impl Iterator<Item = &Conn> {
        self.iter().filter(move |c| c.local_foreign().0 .0 == addr)
    }
}
