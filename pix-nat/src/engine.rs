//! The verdict: what the PIX does with one packet, given the state and `now`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use crate::accounting::{AccountingRecord, RecordKind};
use crate::conn::{Conn, ConnTable, Endpoints};
use crate::decide::{decide, Cx, PhaseLog};
use crate::model::Firewall;
use crate::packet::Packet;
use crate::route::VpnRoute;
use crate::trace::Trace;
use crate::uauth::{service_name, Timeout, UauthTable, UauthVia};
use crate::xlate::{XlateKind, XlateTable};

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
    pub(crate) next_task: u32,
    pub(crate) next_deadline: Option<Instant>,
}

impl State {
    /// An empty state whose connection table hashes flows under the key 0: for
    /// tests, tools and traces. A state that sees packets from untrusted hosts comes
    /// from [`State::with_flow_key`] with a random key.
    pub fn new() -> State {
        State::default()
    }

    /// An empty state whose connection table hashes flows under `flow_key`
    /// ([`crate::conn::FlowHasher`]): pass a random key when hosts that may want to
    /// slow the table down choose the flows (the gateway does). Nothing observable
    /// depends on the key.
    pub fn with_flow_key(flow_key: u128) -> State {
        State {
            conns: ConnTable::with_flow_key(flow_key),
            ..State::default()
        }
    }

    pub(crate) fn note_deadline(&mut self, d: Option<Instant>) {
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
        let accounting = self.expire_due(st, now);
        let mut cx = Cx {
            fw: self,
            st,
            p,
            now,
            log: PhaseLog::new(self),
            accounting,
        };
        let d = decide(&mut cx);
        Verdict {
            trace: Trace {
                phases: cx.log.into_phases(),
                input_interface: p.input.clone(),
                output_interface: d.output.map(|o| self.if_name(o).to_owned()),
                action: d.action,
            },
            accounting: cx.accounting,
            conn: d.conn,
            egress: d.egress,
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
    pub(crate) fn close(&self, st: &mut State, id: u64, end: Instant) -> Option<AccountingRecord> {
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

    pub(crate) fn record(
        &self,
        c: &Conn,
        kind: RecordKind,
        at: Instant,
    ) -> Option<AccountingRecord> {
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
}

/// Accessors used by renderers.
impl ConnTable {
    /// Connections whose local (higher-security, real) end is `addr`.
    pub fn of_local(&self, addr: Ipv4Addr) -> impl Iterator<Item = &Conn> {
        self.iter().filter(move |c| c.local_foreign().0 .0 == addr)
    }
}
