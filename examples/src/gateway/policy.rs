//! The PIX's policy for VPN traffic in the data plane, on top of `pix-nat`: what
//! happens to a decrypted packet before it goes to the inside, and to an inside packet
//! before it is encrypted to a client. Pure: no IO, the clock comes in as `now`.
//!
//! PIX 6.3 behaviour implemented (the order is `pix-nat`'s, see its crate docs):
//!
//! * A decrypted packet enters on the outside interface as the packet of the client's
//!   pool address. Its destination is un-translated first (`nat (inside) 0
//!   access-list` seen from the other side: the pool is exempt, so an inside host is
//!   reached at its *real* address; a `static` mapped address is un-translated to
//!   the real one, and the packet is rewritten).
//! * With `sysopt connection permit-ipsec` decrypted traffic skips the access-lists
//!   (not NAT, not AAA). Without it the `access-group` of the outside interface
//!   decides. For the demo config that is access-list 120, which names the *real*
//!   address 10.89.129.131: for Internet traffic to the static's mapped address
//!   192.168.1.11 it permits nothing (the 6.x ACL sees the mapped address), but a VPN
//!   client is exempt from NAT, sees 10.89.129.131 itself, and access-list 120 lets
//!   its ICMP, TCP and UDP to 10.89.129.131 in; everything else (another inside host
//!   such as the AAA server 10.89.129.134) hits the implicit deny.
//! * The first packet of a TCP/UDP connection runs the checks and creates a
//!   connection; later packets of either direction ride it (a hash lookup, no ACL).
//!   A TCP packet without a connection must be a SYN. ICMP is not stateful on 6.3:
//!   each ICMP packet is checked as a new one (replies to a client are outbound and
//!   permitted; from the client they need permit-ipsec or an ACL entry).
//! * `aaa accounting include ... inbound`: one start and one stop record per TCP
//!   connection of the `ipsec user` (the Xauth user is in uauth from
//!   [`Policy::vpn_connect`]). Bytes are payload bytes (TCP/UDP data without
//!   headers), as `show conn` and the seed's TACACS+ record count them (99 bytes
//!   typed, 1879 bytes of output); a FIN from both sides or a RST ends the connection
//!   (stop record), as do the idle timers (`timeout conn`, `half-closed`, `udp`) and
//!   the tunnel going away ([`Policy::vpn_disconnect`]).
//! * A client reaching the Internet or another client through the tunnel is dropped
//!   (same-interface: PIX 6.3 does not send traffic back out the interface it came
//!   in on).
//!
//! Where it differs from a PIX:
//!
//! * IP fragments never reach the policy: the data plane reassembles them first (bounded
//!   by `fragment size/chain/timeout`, [`pix_nat::frag`]) and the policy sees whole
//!   datagrams, sent on whole (the PIX reassembles virtually and forwards the fragments).
//! * A decrypted packet whose source is no connected client's address is dropped
//!   here (the ESP data plane already checks the SA's selectors).
//! * After a connection closed by FIN from both sides, its last ACK (and a
//!   retransmitted FIN) still passes for [`LINGER`]; a PIX logs them as "Deny TCP (no
//!   connection)", which leaves the server in LAST_ACK.
//! * The inside TUN is one interface: inside packets enter on the highest-security
//!   interface other than the outside one.

// Wired into serve.rs by the event loop; until then only the tests use it.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use pix_nat::{
    show_conn, show_local_host, show_uauth, show_xlate, AccountingRecord, Action, Endpoints,
    Firewall, Packet, PhaseResult, Proto, RecordKind, State, TcpFlags, Tuple, Verdict,
};
use pix_primitives::Ipv4Packet;

/// How long the last packets of a connection closed by FIN from both sides still pass.
pub const LINGER: Duration = Duration::from_secs(30);

/// What to do with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it on (the buffer may have been rewritten by a translation).
    Forward,
    /// Drop it.
    Drop {
        /// Why, in the PIX's words (packet-tracer drop reason and the details).
        reason: String,
        /// The configuration line that decided (for an access-list's implicit deny,
        /// its `access-group` line), if any.
        line: Option<u32>,
    },
}

impl Decision {
    /// True for [`Decision::Forward`].
    pub fn forwarded(&self) -> bool {
        matches!(self, Decision::Forward)
    }
}

/// An accounting record for the AAA server (`aaa accounting include`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctEvent {
    /// Start (true) or stop record.
    pub start: bool,
    /// The Xauth user.
    pub user: String,
    /// The user's address (the pool address: the record's caller id).
    pub client: Ipv4Addr,
    /// The client's IKE peer address, when given to [`Policy::vpn_connect`].
    pub peer: Option<IpAddr>,
    /// `telnet`, `http`, `ftp`, `https`, `tcp/PORT`.
    pub service: String,
    /// The inside (local, real) address of the connection (`local_ip`).
    pub local: Ipv4Addr,
    /// The PIX's `foreign_ip` (the outside end: for a client's connection, the client).
    pub foreign: Ipv4Addr,
    /// The connection's task id (start and stop share it).
    pub task_id: u32,
    /// Payload bytes from the user (stop only, else 0).
    pub bytes_in: u64,
    /// Payload bytes to the user (stop only, else 0).
    pub bytes_out: u64,
    /// How long the connection lasted (stop only, else zero).
    pub elapsed: Duration,
    /// The aaa-server tag of the matching `aaa accounting include`.
    pub tag: Option<String>,
    /// The PIX address facing the AAA server (NAS address), if known.
    pub nas_ip: Option<Ipv4Addr>,
}

/// A connected client.
#[derive(Debug, Clone)]
struct Client {
    peer: Option<IpAddr>,
}

/// A connection closed by FIN: its last ACKs still pass, translated as it was.
#[derive(Debug, Clone, Copy)]
struct Linger {
    out: Endpoints,
    until: Instant,
}

/// Flow key of a TCP packet: (input interface is implied by the side), src, sport,
/// dst, dport.
type Key = (bool, Ipv4Addr, u16, Ipv4Addr, u16);

/// The PIX policy for VPN traffic: the compiled configuration, its state, and drop
/// counters.
#[derive(Debug, Clone)]
pub struct Policy {
    fw: Firewall,
    st: State,
    outside: String,
    inside: String,
    /// `outside`'s and `inside`'s interface indexes in `fw`.
    outside_if: usize,
    inside_if: usize,
    clients: HashMap<Ipv4Addr, Client>,
    starts: HashMap<u32, Instant>,
    linger: HashMap<Key, Linger>,
    /// A lower bound of the earliest `linger` expiry (exact after [`Policy::expire`]):
    /// [`Policy::poll_timeout`], asked after every packet, reads it instead of passing
    /// over every lingering connection (debug builds check it against that pass).
    linger_next: Option<Instant>,
    drops: BTreeMap<String, u64>,
    /// The last packet denied, for the PIX's deny message ([`Policy::take_denied`]).
    denied: Option<Denied>,
    /// The connections whose 302013/302015 went out, by connection id (their
    /// teardown message needs what the closed connection no longer has).
    conn_log: HashMap<u64, ConnLog>,
    /// Built/teardown messages not yet taken ([`Policy::take_conn_logs`]).
    conn_logs: Vec<super::LogRecord>,
}

/// What a connection's teardown message (302014/302016) prints, kept from its build.
#[derive(Debug, Clone)]
struct ConnLog {
    proto: Proto,
    /// `outside:ADDR/PORT to inside:ADDR/PORT`.
    ends: String,
    user: Option<String>,
    created: Instant,
    /// Payload bytes both ways when last looked at (before a call that may close it).
    bytes: u64,
}

/// Why a tunnelled packet was denied, for the PIX's deny messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyKind {
    /// An access-list (its name) denied it: 106023.
    Acl(String),
    /// A TCP packet without a connection that is no SYN: 106015.
    NoConnection,
    /// Anything else (the packet-tracer drop code): the gateway's own message.
    Other(&'static str),
}

/// A packet the policy denied: what the PIX's deny messages (106023, 106015) print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Why.
    pub kind: DenyKind,
    /// From a VPN client (decrypted, entering on the outside interface), else from the
    /// inside to a client.
    pub from_client: bool,
    /// The interface it came in on and the one it was going to.
    pub interfaces: (String, String),
    /// IP protocol number.
    pub proto: u8,
    /// Source address and port (ICMP: 0).
    pub src: (Ipv4Addr, u16),
    /// Destination address and port (ICMP: 0).
    pub dst: (Ipv4Addr, u16),
    /// ICMP type and code.
    pub icmp: (u8, u8),
    /// TCP flags.
    pub flags: TcpFlags,
}

/// The access-list a configuration line names (`access-group NAME ...`,
/// `access-list NAME ...`).
fn acl_name(line: &str) -> Option<String> {
    let mut w = line.split_whitespace();
    match w.next()? {
        "access-group" | "access-list" => w.next().map(str::to_owned),
        _ => None,
    }
}

/// The fields of an IPv4 packet the policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    ihl: usize,
    total: usize,
    proto: Proto,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// TCP/UDP source port, ICMP echo identifier.
    sport: u16,
    dport: u16,
    icmp_type: u8,
    icmp_code: u8,
    flags: TcpFlags,
    /// Payload bytes (without IP and TCP/UDP/ICMP headers).
    payload: u32,
}

const MALFORMED: &str = "(malformed) Invalid IP packet";

fn be16(p: &[u8], at: usize) -> Option<u16> {
    let b = p.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Parse an IPv4 packet; `Err` is the drop reason.
fn parse(p: &[u8]) -> Result<Parsed, String> {
    let bad = |why: &str| Err(format!("{MALFORMED}: {why}"));
    // Version, header length and total length checked once; the error says which is wrong.
    let ip = match Ipv4Packet::new_checked(p) {
        Ok(ip) => ip,
        Err(e) => return bad(&e.to_string()),
    };
    if ip.is_fragment() {
        return Err(
            "(fragment) IP fragment: this gateway does not reassemble (the PIX would)".into(),
        );
    }
    let (ihl, total) = (ip.header_len(), usize::from(ip.total_len()));
    let proto = Proto::from_number(ip.next_header());
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let l4 = ip.payload();
    let mut out = Parsed {
        ihl,
        total,
        proto,
        src,
        dst,
        sport: 0,
        dport: 0,
        icmp_type: 0,
        icmp_code: 0,
        flags: TcpFlags::default(),
        payload: 0,
    };
    let hdr = match proto {
        Proto::Tcp => {
            let (Some(sp), Some(dp), Some(&off), Some(&fl)) =
                (be16(l4, 0), be16(l4, 2), l4.get(12), l4.get(13))
            else {
                return bad(&format!("TCP header truncated ({} bytes)", l4.len()));
            };
            let doff = usize::from(off >> 4).saturating_mul(4);
            if doff < 20 || doff > l4.len() {
                return bad(&format!(
                    "TCP data offset {doff} ({} bytes of segment)",
                    l4.len()
                ));
            }
            out.sport = sp;
            out.dport = dp;
            out.flags = TcpFlags {
                fin: fl & 0x01 != 0,
                syn: fl & 0x02 != 0,
                rst: fl & 0x04 != 0,
                ack: fl & 0x10 != 0,
            };
            doff
        }
        Proto::Udp => {
            let (Some(sp), Some(dp)) = (be16(l4, 0), be16(l4, 2)) else {
                return bad(&format!("UDP header truncated ({} bytes)", l4.len()));
            };
            if l4.len() < 8 {
                return bad(&format!("UDP header truncated ({} bytes)", l4.len()));
            }
            out.sport = sp;
            out.dport = dp;
            8
        }
        Proto::Icmp => {
            if l4.len() < 8 {
                return bad(&format!("ICMP header truncated ({} bytes)", l4.len()));
            }
            out.icmp_type = l4.first().copied().unwrap_or(0);
            out.icmp_code = l4.get(1).copied().unwrap_or(0);
            if matches!(out.icmp_type, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) {
                out.sport = be16(l4, 4).unwrap_or(0);
            }
            8
        }
        Proto::Other(_) => 0,
    };
    out.payload = u32::try_from(l4.len().saturating_sub(hdr)).unwrap_or(u32::MAX);
    Ok(out)
}

/// One's complement checksum update (RFC 1624): `old` words replaced by `new`.
fn csum_adjust(check: u16, old: &[u16], new: &[u16]) -> u16 {
    let mut sum = u32::from(!check);
    for o in old {
        sum = sum.wrapping_add(u32::from(!*o));
    }
    for n in new {
        sum = sum.wrapping_add(u32::from(*n));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    !u16::try_from(sum & 0xffff).unwrap_or(0)
}

fn words(a: Ipv4Addr) -> [u16; 2] {
    let o = a.octets();
    [
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    ]
}

fn put16(p: &mut [u8], at: usize, v: u16) {
    if let Some(b) = at.checked_add(2).and_then(|e| p.get_mut(at..e)) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}

fn put_addr(p: &mut [u8], at: usize, a: Ipv4Addr) {
    if let Some(b) = at.checked_add(4).and_then(|e| p.get_mut(at..e)) {
        b.copy_from_slice(&a.octets());
    }
}

/// Rewrite addresses and ports of `p` (parsed as `h`) to `out`, fixing checksums.
fn rewrite(p: &mut [u8], h: &Parsed, out: &Endpoints) {
    let (src, dst) = (out.src, out.dst);
    let ports = h.proto.has_ports();
    // pix-nat reports no "port" for ICMP unless a PAT translated the echo id: keep it
    let echo_id = h.proto == Proto::Icmp && h.sport != 0 && out.sport != 0;
    let sport = if ports || echo_id { out.sport } else { h.sport };
    let dport = if ports { out.dport } else { h.dport };
    if src == h.src && dst == h.dst && sport == h.sport && dport == h.dport {
        return;
    }
    let (os, od, ns, nd) = (words(h.src), words(h.dst), words(src), words(dst));
    let old_a = [os[0], os[1], od[0], od[1]];
    let new_a = [ns[0], ns[1], nd[0], nd[1]];
    put_addr(p, 12, src);
    put_addr(p, 16, dst);
    let ip_ck = be16(p, 10).unwrap_or(0);
    put16(p, 10, csum_adjust(ip_ck, &old_a, &new_a));
    let l4 = h.ihl;
    match h.proto {
        Proto::Tcp | Proto::Udp => {
            let ck_at = l4.saturating_add(if h.proto == Proto::Tcp { 16 } else { 6 });
            let ck = be16(p, ck_at).unwrap_or(0);
            put16(p, l4, sport);
            put16(p, l4.saturating_add(2), dport);
            if h.proto == Proto::Udp && ck == 0 {
                return; // no UDP checksum
            }
            let mut n = csum_adjust(
                ck,
                &[old_a[0], old_a[1], old_a[2], old_a[3], h.sport, h.dport],
                &[new_a[0], new_a[1], new_a[2], new_a[3], sport, dport],
            );
            if h.proto == Proto::Udp && n == 0 {
                n = 0xffff;
            }
            put16(p, ck_at, n);
        }
        Proto::Icmp if sport != h.sport => {
            let ck_at = l4.saturating_add(2);
            let ck = be16(p, ck_at).unwrap_or(0);
            put16(p, l4.saturating_add(4), sport);
            put16(p, ck_at, csum_adjust(ck, &[h.sport], &[sport]));
        }
        _ => {}
    }
}

impl Policy {
    /// Compile `config`; VPN clients live on interface `outside_if`.
    pub fn new(config: &pix_config::Config, outside_if: &str) -> Result<Policy, String> {
        let fw = Firewall::new(config).map_err(|e| format!("firewall policy: {e}"))?;
        let o = fw.interface_index(outside_if).ok_or_else(|| {
            format!("firewall policy: no interface named {outside_if:?} (nameif)")
        })?;
        let (inside_if, inside) = fw
            .interfaces
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != o)
            .max_by_key(|(_, i)| i.security)
            .map(|(n, i)| (n, i.name.clone()))
            .ok_or_else(|| {
                format!("firewall policy: no interface besides {outside_if} for the inside")
            })?;
        Ok(Policy {
            fw,
            // a random key for the flow index: the flows are chosen by hosts on the
            // Internet (pix_nat::conn::FlowHasher); no output depends on it
            st: State::with_flow_key(rand::random()),
            outside: outside_if.to_owned(),
            inside,
            outside_if: o,
            inside_if,
            clients: HashMap::new(),
            starts: HashMap::new(),
            linger: HashMap::new(),
            linger_next: None,
            drops: BTreeMap::new(),
            denied: None,
            conn_log: HashMap::new(),
            conn_logs: Vec::new(),
        })
    }

    /// Whether `new` has the same interfaces (names, order, security levels) and
    /// outside/inside: then [`Policy::reconfigure`] keeps the connections, translations,
    /// uauth entries and routes into the tunnels, which refer to interfaces by index.
    pub fn same_interfaces(&self, new: &Policy) -> bool {
        self.outside_if == new.outside_if
            && self.inside_if == new.inside_if
            && self.fw.interfaces.len() == new.fw.interfaces.len()
            && self
                .fw
                .interfaces
                .iter()
                .zip(&new.fw.interfaces)
                .all(|(a, b)| a.name == b.name && a.security == b.security)
    }

    /// Runs on the compiled configuration of `new` from now on (`pix-gateway reload`).
    /// With the same interfaces ([`Policy::same_interfaces`]) the state stays: open
    /// connections and translations live on (as on the PIX, where a changed ACL or
    /// `static` applies to new connections until `clear xlate`), the drop counters go
    /// on. Otherwise the whole of `new` is taken, its state empty: disconnect the clients
    /// from this policy first ([`Policy::vpn_disconnect`]) and connect them to the new.
    pub fn reconfigure(&mut self, new: Policy) {
        if self.same_interfaces(&new) {
            self.fw = new.fw;
            self.outside = new.outside;
            self.inside = new.inside;
        } else {
            let drops = std::mem::take(&mut self.drops);
            *self = new;
            self.drops = drops;
        }
    }

    /// The compiled configuration.
    #[allow(dead_code)] // for embedders and tests
    pub fn firewall(&self) -> &Firewall {
        &self.fw
    }

    /// The state (xlates, connections, uauth).
    #[allow(dead_code)] // for embedders and tests
    pub fn state(&self) -> &State {
        &self.st
    }

    /// The client `user` at pool address `client_addr` finished Xauth and Mode
    /// Config (IKE peer `peer`): an `ipsec user` uauth entry and a route into its
    /// tunnel.
    pub fn vpn_connect(
        &mut self,
        user: &str,
        client_addr: Ipv4Addr,
        peer: Option<IpAddr>,
        now: Instant,
    ) {
        let _ = self
            .st
            .vpn_connect(&self.fw, user, client_addr, &self.outside, now);
        self.clients.insert(client_addr, Client { peer });
    }

    /// The tunnel of the client at `client_addr` went away: stop records for its
    /// accounted connections (all its connections are torn down), uauth entry gone.
    pub fn vpn_disconnect(&mut self, client_addr: Ipv4Addr, now: Instant) -> Vec<AcctEvent> {
        self.conn_bytes(None);
        let recs = self.fw.vpn_disconnect(&mut self.st, client_addr, now);
        self.conn_teardowns(now, "Tunnel has been torn down");
        let ev = self.events(recs);
        self.clients.remove(&client_addr);
        self.linger
            .retain(|k, l| k.1 != client_addr && k.3 != client_addr && l.out.dst != client_addr);
        ev
    }

    /// A decrypted IPv4 packet about to go to the inside (rewritten in place when
    /// the PIX translates its destination, e.g. a `static`'s mapped address).
    #[allow(clippy::wrong_self_convention)] // the lead's names: from/to the VPN client
    pub fn from_client(
        &mut self,
        now: Instant,
        ip_packet: &mut [u8],
    ) -> (Decision, Vec<AcctEvent>) {
        self.handle(now, ip_packet, true)
    }

    /// An IPv4 packet from the inside about to be encrypted to a client (rewritten
    /// in place when the PIX translates its source).
    #[allow(clippy::wrong_self_convention)] // the lead's names: from/to the VPN client
    pub fn to_client(&mut self, now: Instant, ip_packet: &mut [u8]) -> (Decision, Vec<AcctEvent>) {
        self.handle(now, ip_packet, false)
    }

    /// Tear down what idled out at `now` (`timeout conn`, `half-closed`, `udp`,
    /// xlates); stop records for accounted connections.
    pub fn expire(&mut self, now: Instant) -> Vec<AcctEvent> {
        self.linger.retain(|_, l| l.until > now);
        self.linger_next = self.linger.values().map(|l| l.until).min();
        self.conn_bytes(None);
        let recs = self.fw.expire(&mut self.st, now);
        self.conn_teardowns(now, "Conn-timeout");
        self.events(recs)
    }

    /// When [`expire`](Self::expire) has something to do next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        debug_assert!(
            super::bound_holds(
                self.linger_next,
                self.linger.values().map(|l| l.until).min()
            ),
            "the linger bound must never be later than the real expiry"
        );
        match (self.st.next_deadline(), self.linger_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The last packet denied since the last call (its addresses, ports and why), for
    /// the PIX's deny message; taken once.
    pub fn take_denied(&mut self) -> Option<Denied> {
        self.denied.take()
    }

    /// The connection built/teardown messages (302013-302016) since the last call.
    /// Nothing is allocated when there are none.
    pub fn take_conn_logs(&mut self) -> Vec<super::LogRecord> {
        std::mem::take(&mut self.conn_logs)
    }

    /// A connection the first packet of a flow created: its 302013/302015 (TCP/UDP).
    fn conn_built(&mut self, id: u64, now: Instant) {
        if self.conn_log.contains_key(&id) {
            return;
        }
        let Some(c) = self.st.conns.get(id) else {
            return;
        };
        let ep = |a: Ipv4Addr, p: u16| format!("{a}/{p}");
        let inbound = c.input_if == self.outside_if;
        // The PIX names the outside end first: for an inbound connection (a client's),
        // its initiator; for an outbound one, its responder.
        let (o_real, o_mapped, i_real, i_mapped) = if inbound {
            (
                ep(c.orig.src, c.orig.sport),
                ep(c.xlated.src, c.xlated.sport),
                ep(c.xlated.dst, c.xlated.dport),
                ep(c.orig.dst, c.orig.dport),
            )
        } else {
            (
                ep(c.orig.dst, c.orig.dport),
                ep(c.xlated.dst, c.xlated.dport),
                ep(c.orig.src, c.orig.sport),
                ep(c.xlated.src, c.xlated.sport),
            )
        };
        let user = c
            .accounting
            .as_ref()
            .map(|(u, _, _)| u.clone())
            .or_else(|| {
                let client = if inbound { c.orig.src } else { c.orig.dst };
                self.st.vpn.get(&client).map(|v| v.user.clone())
            });
        let (outside, inside) = (&self.outside, &self.inside);
        let log = ConnLog {
            proto: c.proto,
            ends: format!("{outside}:{o_real} to {inside}:{i_real}"),
            user,
            created: now,
            bytes: 0,
        };
        let id_msg = match c.proto {
            Proto::Tcp => Some(super::MsgId::TcpBuilt),
            Proto::Udp => Some(super::MsgId::UdpBuilt),
            _ => None,
        };
        if let Some(m) = id_msg {
            let text = format!(
                "Built {} {} connection {id} for {outside}:{o_real} ({o_mapped}) to {inside}:{i_real} ({i_mapped}){}",
                if inbound { "inbound" } else { "outbound" },
                if c.proto == Proto::Tcp { "TCP" } else { "UDP" },
                log.user
                    .as_ref()
                    .map(|u| format!(" ({})", super::printable(u)))
                    .unwrap_or_default()
            );
            self.conn_logs.push(
                super::LogRecord::pix(m, text)
                    .with("conn", id)
                    .with("user", log.user.clone().unwrap_or_default()),
            );
        }
        self.conn_log.insert(id, log);
    }

    /// Notes the payload bytes of connection `id` (or of every logged one) before a
    /// call that may close it.
    fn conn_bytes(&mut self, id: Option<u64>) {
        let st = &self.st;
        let note = |id: u64, l: &mut ConnLog| {
            if let Some(c) = st.conns.get(id) {
                l.bytes = c.bytes_fwd.saturating_add(c.bytes_rev);
            }
        };
        match id {
            Some(id) => {
                if let Some(l) = self.conn_log.get_mut(&id) {
                    note(id, l);
                }
            }
            None => {
                for (id, l) in &mut self.conn_log {
                    note(*id, l);
                }
            }
        }
    }

    /// The 302014/302016 of the logged connections that are gone (`reason`: why, for
    /// TCP). A pass only when the counts say something went.
    fn conn_teardowns(&mut self, now: Instant, reason: &str) {
        if self.st.conns.len() == self.conn_log.len() {
            return;
        }
        let gone: Vec<u64> = self
            .conn_log
            .keys()
            .filter(|id| self.st.conns.get(**id).is_none())
            .copied()
            .collect();
        for id in gone {
            let Some(l) = self.conn_log.remove(&id) else {
                continue;
            };
            let (m, tcp) = match l.proto {
                Proto::Tcp => (super::MsgId::TcpTeardown, true),
                Proto::Udp => (super::MsgId::UdpTeardown, false),
                _ => continue,
            };
            let text = format!(
                "Teardown {} connection {id} for {} duration {} bytes {}{}{}",
                if tcp { "TCP" } else { "UDP" },
                l.ends,
                super::io::pix_duration(now.saturating_duration_since(l.created)),
                l.bytes,
                if tcp {
                    format!(" {reason}")
                } else {
                    String::new()
                },
                l.user
                    .as_ref()
                    .map(|u| format!(" ({})", super::printable(u)))
                    .unwrap_or_default()
            );
            self.conn_logs.push(
                super::LogRecord::pix(m, text)
                    .with("conn", id)
                    .with("bytes", l.bytes),
            );
        }
        // Connections this log never saw built (none expected): taken in silently so
        // that the counts agree again and the next call needs no pass.
        if self.st.conns.len() > self.conn_log.len() {
            for c in self.st.conns.iter() {
                self.conn_log.entry(c.id).or_insert_with(|| ConnLog {
                    proto: Proto::Icmp,
                    ends: String::new(),
                    user: None,
                    created: now,
                    bytes: 0,
                });
            }
        }
    }

    /// Remembers a denied packet for [`Policy::take_denied`].
    fn note_denied(&mut self, h: &Parsed, from_client: bool, kind: DenyKind) {
        let (a, b) = (self.outside.clone(), self.inside.clone());
        let ports = h.proto != Proto::Icmp;
        self.denied = Some(Denied {
            kind,
            from_client,
            interfaces: if from_client { (a, b) } else { (b, a) },
            proto: h.proto.number(),
            src: (h.src, if ports { h.sport } else { 0 }),
            dst: (h.dst, if ports { h.dport } else { 0 }),
            icmp: (h.icmp_type, h.icmp_code),
            flags: h.flags,
        });
    }

    /// Dropped packets by reason (the packet-tracer drop reason, without details).
    pub fn drops(&self) -> &BTreeMap<String, u64> {
        &self.drops
    }

    /// `show xlate`, `show conn`, `show local-host`, `show uauth` in PIX format.
    pub fn show(&self, now: Instant, what: &str) -> Option<String> {
        match what {
            "xlate" => Some(show_xlate(&self.fw, &self.st)),
            "conn" => Some(show_conn(&self.st, now)),
            "local-host" => Some(show_local_host(&self.fw, &self.st, now)),
            "uauth" => Some(show_uauth(&self.fw, &self.st, now)),
            _ => None,
        }
    }

    fn drop(&mut self, key: &str, reason: String, line: Option<u32>) -> Decision {
        let c = self.drops.entry(key.to_owned()).or_insert(0);
        *c = c.saturating_add(1);
        Decision::Drop { reason, line }
    }

    fn handle(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        from_client: bool,
    ) -> (Decision, Vec<AcctEvent>) {
        let h = match parse(buf) {
            Ok(h) => h,
            Err(reason) => {
                let key = reason.split(':').next().unwrap_or(MALFORMED).to_owned();
                return (self.drop(&key, reason, None), Vec::new());
            }
        };
        // The established-flow fast path: a later packet of a live connection is
        // forwarded as `process` would, without the trace (no allocation).
        let known = if from_client {
            self.st.vpn.contains_key(&h.src)
        } else {
            self.clients.contains_key(&h.dst)
        };
        if known {
            let input = if from_client {
                self.outside_if
            } else {
                self.inside_if
            };
            let tuple = Tuple {
                proto: h.proto.number(),
                src: u32::from(h.src),
                dst: u32::from(h.dst),
                sport: h.sport,
                dport: h.dport,
                icmp_type: 0,
            };
            if let Some(out) =
                self.fw
                    .forward_established(&mut self.st, input, &tuple, h.flags, h.payload, now)
            {
                rewrite(buf, &h, &out);
                return (Decision::Forward, Vec::new());
            }
        }
        let user = if from_client {
            match self.st.vpn.get(&h.src) {
                Some(v) => Some(v.user.clone()),
                None => {
                    let r = format!(
                        "(not-vpn-source) Decrypted packet from {}, which is no connected VPN client's address (not in uauth)",
                        h.src
                    );
                    self.note_denied(&h, true, DenyKind::Other("not-vpn-source"));
                    return (
                        self.drop(
                            "(not-vpn-source) Decrypted packet not from a VPN client",
                            r,
                            None,
                        ),
                        Vec::new(),
                    );
                }
            }
        } else {
            if !self.clients.contains_key(&h.dst) {
                let r = format!(
                    "(no-tunnel) {} is no connected VPN client's address: nothing to encrypt to",
                    h.dst
                );
                self.note_denied(&h, false, DenyKind::Other("no-tunnel"));
                return (
                    self.drop("(no-tunnel) No VPN client at the destination", r, None),
                    Vec::new(),
                );
            }
            None
        };
        let mut p = Packet::other(
            if from_client {
                &self.outside
            } else {
                &self.inside
            },
            h.proto.number(),
            h.src,
            h.dst,
        );
        p.sport = h.sport;
        p.dport = h.dport;
        p.icmp_type = h.icmp_type;
        p.icmp_code = h.icmp_code;
        p.flags = h.flags;
        p.len = h.payload;
        if let Some(u) = &user {
            p = p.decrypted_for(u);
        }
        // Bytes of what this call may close: every connection when the idle sweep is
        // due, else the packet's own connection when it is a FIN or RST.
        if self.st.next_deadline().is_some_and(|d| now >= d) {
            self.conn_bytes(None);
        } else if h.flags.fin || h.flags.rst {
            let input = if from_client {
                self.outside_if
            } else {
                self.inside_if
            };
            let key = (
                input,
                h.proto.number(),
                u32::from(h.src),
                h.sport,
                u32::from(h.dst),
                h.dport,
            );
            if let Some((id, _)) = self.st.conns.find(&key) {
                self.conn_bytes(Some(id));
            }
        }
        let v = self.fw.process(&mut self.st, &p, now);
        if let Some(id) = v.conn {
            self.conn_built(id, now);
        }
        self.conn_teardowns(
            now,
            if h.flags.rst {
                "TCP Reset"
            } else if h.flags.fin {
                "TCP FINs"
            } else {
                "Conn-timeout"
            },
        );
        let closed_by_fin = h.proto == Proto::Tcp
            && h.flags.fin
            && v.conn.is_some_and(|id| self.st.conns.get(id).is_none());
        let Verdict {
            trace,
            accounting,
            conn: _,
            egress,
        } = v;
        let ev = self.events(accounting);
        let key: Key = (from_client, h.src, h.sport, h.dst, h.dport);
        let d = match (&trace.action, egress) {
            (Action::Allow, Some(out)) => {
                if closed_by_fin {
                    // the last ACK from either side still passes for a while
                    let until = now.checked_add(LINGER).unwrap_or(now);
                    let back = Endpoints {
                        src: out.dst,
                        sport: out.dport,
                        dst: out.src,
                        dport: out.sport,
                    };
                    let rev_out = Endpoints {
                        src: h.dst,
                        sport: h.dport,
                        dst: h.src,
                        dport: h.sport,
                    };
                    super::lower_bound(&mut self.linger_next, until);
                    self.linger.insert(key, Linger { out, until });
                    self.linger.insert(
                        (!from_client, back.src, back.sport, back.dst, back.dport),
                        Linger {
                            out: rev_out,
                            until,
                        },
                    );
                }
                rewrite(buf, &h, &out);
                Decision::Forward
            }
            (Action::Drop(pix_nat::DropReason::TcpNotSyn), _)
                if !h.flags.syn && self.linger.get(&key).is_some_and(|l| l.until > now) =>
            {
                if let Some(l) = self.linger.get(&key).copied() {
                    rewrite(buf, &h, &l.out);
                }
                Decision::Forward
            }
            (action, _) => {
                let code = match action {
                    Action::Drop(r) => r.as_str().to_owned(),
                    Action::Authenticate { .. } => {
                        "(aaa-prompt) Authentication required (cut-through proxy)".to_owned()
                    }
                    Action::Allow => "(no-egress) Allowed without an egress".to_owned(),
                };
                let phase = trace
                    .phases
                    .iter()
                    .rev()
                    .find(|ph| ph.result != PhaseResult::Allow);
                let line =
                    phase.and_then(|ph| ph.config.iter().rev().map(|c| c.line).find(|l| *l != 0));
                let kind = match action {
                    Action::Drop(pix_nat::DropReason::AclDrop) => DenyKind::Acl(
                        phase
                            .and_then(|ph| ph.config.iter().find_map(|c| acl_name(&c.text)))
                            .unwrap_or_default(),
                    ),
                    Action::Drop(pix_nat::DropReason::TcpNotSyn) => DenyKind::NoConnection,
                    Action::Drop(r) => DenyKind::Other(r.as_str()),
                    _ => DenyKind::Other("aaa-prompt"),
                };
                self.note_denied(&h, from_client, kind);
                let mut reason = code.clone();
                if let Some(ph) = phase {
                    let cfg: Vec<String> = ph
                        .config
                        .iter()
                        .map(|c| {
                            if c.line == 0 {
                                c.text.clone()
                            } else {
                                format!("line {}: {}", c.line, c.text)
                            }
                        })
                        .collect();
                    reason.push_str(&format!(" [{}]", ph.kind.as_str()));
                    if !cfg.is_empty() {
                        reason.push_str(&format!(" {}", cfg.join("; ")));
                    }
                    if !ph.info.is_empty() {
                        reason.push_str(&format!(" ({})", ph.info.join("; ")));
                    }
                }
                self.drop(&code, reason, line)
            }
        };
        (d, ev)
    }

    fn events(&mut self, recs: Vec<AccountingRecord>) -> Vec<AcctEvent> {
        recs.into_iter()
            .map(|r| {
                let start = r.kind == RecordKind::Start;
                let elapsed = if start {
                    self.starts.insert(r.task_id, r.at);
                    Duration::ZERO
                } else {
                    self.starts
                        .remove(&r.task_id)
                        .map(|s| r.at.saturating_duration_since(s))
                        .unwrap_or_else(|| Duration::from_secs(r.elapsed_secs.unwrap_or(0)))
                };
                AcctEvent {
                    start,
                    peer: self.clients.get(&r.caller).and_then(|c| c.peer),
                    user: r.user,
                    client: r.caller,
                    service: r.service,
                    local: r.local,
                    foreign: r.foreign,
                    task_id: r.task_id,
                    bytes_in: r.bytes_in.unwrap_or(0),
                    bytes_out: r.bytes_out.unwrap_or(0),
                    elapsed,
                    tag: Some(r.server),
                    nas_ip: r.nas_ip,
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
