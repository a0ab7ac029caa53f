//! Connections (`show conn`): once a connection's first packet passed, every later
//! packet of it (either direction) rides the connection without any check.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use siphasher::sip::SipHasher13;

use crate::packet::Proto;

/// One side of a connection as seen on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Endpoints {
    /// Source address.
    pub src: Ipv4Addr,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Destination port.
    pub dport: u16,
}

/// TCP state as far as the PIX cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TcpState {
    /// SYN seen, no answer yet (embryonic).
    Embryonic,
    /// Answered.
    Established,
    /// A FIN seen from one side: (from initiator, from responder).
    HalfClosed(bool, bool),
}

/// A connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Conn {
    /// Id (creation order).
    pub id: u64,
    /// Protocol.
    pub proto: Proto,
    /// Interface the first packet arrived on.
    pub input_if: usize,
    /// Interface it left by.
    pub output_if: usize,
    /// The first packet on the input side.
    pub orig: Endpoints,
    /// The first packet as it left (after translation).
    pub xlated: Endpoints,
    /// True when initiated from lower to higher security.
    pub inbound: bool,
    /// The dynamic xlate it uses, if any.
    pub xlate: Option<u64>,
    /// TCP state.
    pub tcp: TcpState,
    /// Bytes from the initiator.
    pub bytes_fwd: u64,
    /// Bytes from the responder.
    pub bytes_rev: u64,
    /// Accounting: (user, task id, server tag) when an accounting rule covers it.
    pub accounting: Option<(String, u32, String)>,
    /// Created.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub created: Instant,
    /// Last packet.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub last: Instant,
}

impl Conn {
    /// The (local, foreign) ends: local is the higher-security side, real address.
    pub fn local_foreign(&self) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
        if self.inbound {
            (
                (self.xlated.dst, self.xlated.dport),
                (self.orig.src, self.orig.sport),
            )
        } else {
            (
                (self.orig.src, self.orig.sport),
                (self.orig.dst, self.orig.dport),
            )
        }
    }

    /// Idle timeout for this connection.
    pub fn idle_timeout(&self, conn: Duration, half_closed: Duration, udp: Duration) -> Duration {
        match (self.proto, self.tcp) {
            (Proto::Tcp, TcpState::HalfClosed(..)) => half_closed,
            (Proto::Tcp, _) => conn,
            (Proto::Udp, _) => udp,
            _ => udp,
        }
    }
}

/// Flow key: (interface, protocol, src, sport, dst, dport).
pub type FlowKey = (usize, u8, u32, u16, u32, u16);

/// Which way a packet travels on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the initiator.
    Forward,
    /// From the responder.
    Reverse,
}

/// The hasher of the connection table's flow index: SipHash-1-3 (the algorithm of
/// std's `HashMap`) under a 128-bit key the caller chooses.
///
/// A flow key is chosen by whoever sends the packet, hosts on the Internet included,
/// so an unkeyed hash (Fx) would let them aim every flow at one bucket and turn each
/// lookup into a scan. A `BTreeMap` would resist that too, but costs a dozen or more
/// key comparisons per lookup, and this lookup is on every forwarded packet
/// ([`crate::Firewall::forward_established`]); a keyed SipHash costs what std's
/// `HashMap` did. The key comes from the caller ([`crate::State::with_flow_key`])
/// because the library draws no randomness itself; nothing observable depends on it
/// (the index is only looked up, never iterated), so runs stay reproducible.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowHasher {
    k0: u64,
    k1: u64,
}

impl FlowHasher {
    /// The hasher under `key` (a random one for a table that sees untrusted traffic).
    pub fn new(key: u128) -> FlowHasher {
        FlowHasher {
            k0: (key >> 64) as u64,
            k1: key as u64,
        }
    }
}

impl std::fmt::Debug for FlowHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the key is a secret: printing it would hand out the collisions
        f.write_str("FlowHasher(..)")
    }
}

impl BuildHasher for FlowHasher {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// The connection table.
#[derive(Debug, Clone, Default)]
pub struct ConnTable {
    conns: BTreeMap<u64, Conn>,
    /// Both directions of every connection (see [`FlowHasher`] for the hashing).
    index: HashMap<FlowKey, (u64, Direction), FlowHasher>,
    next_id: u64,
    most_used: usize,
}

fn keys(c: &Conn) -> (FlowKey, FlowKey) {
    let p = c.proto.number();
    (
        (
            c.input_if,
            p,
            u32::from(c.orig.src),
            c.orig.sport,
            u32::from(c.orig.dst),
            c.orig.dport,
        ),
        (
            c.output_if,
            p,
            u32::from(c.xlated.dst),
            c.xlated.dport,
            u32::from(c.xlated.src),
            c.xlated.sport,
        ),
    )
}

impl ConnTable {
    /// An empty table whose flow index hashes under `key` ([`FlowHasher`]).
    /// [`ConnTable::default`] uses the key 0: fine for tests and tools, not for a
    /// table that sees packets from hosts that may want to slow it down.
    pub fn with_flow_key(key: u128) -> ConnTable {
        ConnTable {
            index: HashMap::with_hasher(FlowHasher::new(key)),
            ..ConnTable::default()
        }
    }

    /// Connections in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }

    /// Number in use.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Most ever in use at once.
    pub fn most_used(&self) -> usize {
        self.most_used
    }

    /// Find the connection a packet belongs to.
    pub fn find(&self, key: &FlowKey) -> Option<(u64, Direction)> {
        self.index.get(key).copied()
    }

    /// The connection `id`.
    pub fn get(&self, id: u64) -> Option<&Conn> {
        self.conns.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Conn> {
        self.conns.get_mut(&id)
    }

    /// Insert (id assigned here); returns the id.
    pub fn insert(&mut self, mut c: Conn) -> u64 {
        self.next_id = self.next_id.saturating_add(1);
        c.id = self.next_id;
        let (f, r) = keys(&c);
        self.index.insert(f, (c.id, Direction::Forward));
        self.index.insert(r, (c.id, Direction::Reverse));
        self.conns.insert(c.id, c);
        self.most_used = self.most_used.max(self.conns.len());
        self.next_id
    }

    /// Remove a connection.
    pub fn remove(&mut self, id: u64) -> Option<Conn> {
        let c = self.conns.remove(&id)?;
        let (f, r) = keys(&c);
        self.index.remove(&f);
        self.index.remove(&r);
        Some(c)
    }

    /// Ids of connections idle past their timeout at `now`.
    pub fn expired(&self, now: Instant, conn: Duration, half: Duration, udp: Duration) -> Vec<u64> {
        self.conns
            .values()
            .filter(|c| {
                c.last
                    .checked_add(c.idle_timeout(conn, half, udp))
                    .is_some_and(|d| now >= d)
            })
            .map(|c| c.id)
            .collect()
    }

    /// The earliest instant a connection idles out.
    pub fn next_deadline(&self, conn: Duration, half: Duration, udp: Duration) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.last.checked_add(c.idle_timeout(conn, half, udp)))
            .min()
    }
}
