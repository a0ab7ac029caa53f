//! The ESP data plane: child SAs from Quick Mode installed as `esp` SAs, inbound ESP
//! decapsulated and checked against the SA's Quick Mode selectors, inside packets
//! matched to an SA and encapsulated. No IO here: the event loop hands in buffers and
//! gets back what to write where, so it is tested without sockets.
//!
//! Addresses have owners. A client's Mode Config address belongs to its IKE SA
//! ([`ike_sm::ChildSa::assigned_address`]): a packet toward it goes to that SA's pairs
//! and to no other SA's, however wide that other SA's selector (a `no-config-mode` peer
//! proposing a subnet that contains it), and a packet from it comes out of no other SA.
//! Addresses nobody owns (site-to-site networks) go to the most specific remote
//! selector, and between two IKE SAs with the same one to the older: a newer tunnel does
//! not take traffic from an older one by naming the same networks. Each packet costs a
//! hash lookup by owned address, or at most one per prefix length in use: nothing that
//! grows with the number of SAs, and no allocation.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use esp::{
    Encapsulation, EncryptionAlgorithm, EspKeys, EspSaParams, InboundSa, IntegrityAlgorithm,
    LifetimeConfig, OutboundSa,
};
use ike_sm::{ChildSa, SaId, Selector, TrafficSelector};
use pix_nat::frag::{FragDrop, Limits, Reassembler};
use pix_primitives::Ipv4Packet;

/// PIX-style counters of one SA pair (`show crypto ipsec sa`).
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// Packets encapsulated (encrypted and digested: one number on this gateway).
    pub encaps: u64,
    /// Packets decapsulated (decrypted and verified).
    pub decaps: u64,
    /// Bytes of inner packets sent into the tunnel.
    pub bytes_out: u64,
    /// Bytes of inner packets taken out of the tunnel.
    pub bytes_in: u64,
    /// Failures to send.
    pub send_errors: u64,
    /// Inbound failures by kind (`replayed`, `authentication failed`, selector, ...).
    pub recv_errors: BTreeMap<&'static str, u64>,
}

impl Counters {
    /// Every receive error.
    pub fn recv_error_total(&self) -> u64 {
        self.recv_errors.values().sum()
    }
}

/// One installed child SA pair.
#[derive(Debug)]
pub struct Child {
    /// The IKE SA it belongs to.
    pub ike_sa: SaId,
    /// Inbound SA (the peer sends with our SPI).
    pub inbound: InboundSa,
    /// Outbound SA.
    pub outbound: OutboundSa,
    /// Our selector (the inside networks).
    pub local_selector: TrafficSelector,
    /// The client's selector (its Mode Config address).
    pub remote_selector: TrafficSelector,
    /// Our IKE address.
    pub local: SocketAddr,
    /// The peer's IKE address (after a float, its 4500 port).
    pub remote: SocketAddr,
    /// UDP encapsulation ports when NAT-T floated.
    pub natt: Option<(u16, u16)>,
    /// Transform, for `show`.
    pub encryption: EncryptionAlgorithm,
    /// Integrity, for `show`.
    pub integrity: IntegrityAlgorithm,
    /// Tunnel or transport (and UDP).
    pub encapsulation: Encapsulation,
    /// Negotiated life in seconds.
    pub life_secs: u64,
    /// Negotiated life in kilobytes.
    pub life_kb: u64,
    /// When installed.
    pub installed: Instant,
    /// Installation order (within one IKE SA the newer pair carries the traffic).
    pub serial: u64,
    /// The address its IKE SA's peer was assigned with Mode Config: this pair's own.
    pub owner: Option<Ipv4Addr>,
    /// Age of its IKE SA here (the serial of its first pair; kept through a phase-1
    /// rekey): between IKE SAs with the same selectors, the older carries the traffic.
    pub seniority: u64,
    /// Counters.
    pub counters: Counters,
}

impl Child {
    /// Counts what the outbound SA did with a packet of `len` bytes; the encapsulated
    /// length and where it goes.
    fn sent(
        &mut self,
        r: Result<usize, esp::EspError>,
        len: usize,
    ) -> Result<(usize, EspDest), Drop> {
        match r {
            Ok(n) => {
                let dest = match (self.natt, self.remote.ip()) {
                    (Some((_, theirs)), ip) => EspDest::Udp(SocketAddr::new(ip, theirs)),
                    (None, IpAddr::V4(ip)) => EspDest::Raw(ip),
                    (None, IpAddr::V6(_)) => return Err(Drop::Esp("IPv6 peer")),
                };
                self.counters.encaps = self.counters.encaps.saturating_add(1);
                self.counters.bytes_out = self.counters.bytes_out.saturating_add(len as u64);
                Ok((n, dest))
            }
            Err(e) => {
                self.counters.send_errors = self.counters.send_errors.saturating_add(1);
                Err(Drop::Esp(e.kind().as_str()))
            }
        }
    }
}

/// The pairs of the IKE SA that owns one address.
#[derive(Debug)]
struct Owned {
    ike_sa: SaId,
    spis: Vec<u32>,
}

/// Where an encapsulated packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EspDest {
    /// Raw ESP (IP protocol 50) to this address.
    Raw(Ipv4Addr),
    /// ESP in UDP from our port 4500 to this address and port.
    Udp(SocketAddr),
}

/// Why a packet was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drop {
    /// No SA for this SPI.
    UnknownSpi(u32),
    /// The `esp` crate refused it (kind).
    Esp(&'static str),
    /// The inner packet is malformed.
    BadInner,
    /// The inner packet is IPv6 (next header 41): the PIX 6.3 tunnels IPv4 only.
    Ipv6Inner,
    /// The inner addresses are outside the SA's Quick Mode selectors.
    Selector {
        /// Inner source.
        src: Ipv4Addr,
        /// Inner destination.
        dst: Ipv4Addr,
    },
    /// A dummy packet (next header 59): dropped by RFC 4303, not an error.
    Dummy,
    /// No SA covers this inside packet's destination.
    NoSa(Ipv4Addr),
    /// The inner source is inside the SA's selectors but is another tunnel's own
    /// address (a client's Mode Config address): the sender pretends to be that user.
    NotOwner {
        /// Inner source.
        src: Ipv4Addr,
    },
    /// An inside packet with Don't Fragment set that would not fit the outside MTU
    /// once encapsulated: an ICMP fragmentation-needed goes back (rate limited).
    TooBig {
        /// The largest inner packet that fits (the ICMP's next-hop MTU).
        mtu: u16,
    },
}

impl Drop {
    /// A short reason word (counters, debug).
    pub fn word(&self) -> &'static str {
        match self {
            Drop::UnknownSpi(_) => "unknown SPI",
            Drop::Esp(k) => k,
            Drop::BadInner => "malformed inner packet",
            Drop::Ipv6Inner => "IPv6 inner packet (IPv4 only)",
            Drop::Selector { .. } => "outside the SA's proxy identities",
            Drop::Dummy => "dummy packet",
            Drop::NoSa(_) => "no SA for the destination",
            Drop::NotOwner { .. } => "source address owned by another tunnel",
            Drop::TooBig { .. } => "too big for the tunnel with DF set",
        }
    }
}

/// The source and destination addresses and the protocol of an IPv4 packet; `None`
/// unless [`Ipv4Packet::new_checked`] accepts it (version 4, a whole header, a total
/// length within the packet).
pub fn ipv4_header(p: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8)> {
    let ip = Ipv4Packet::new_checked(p).ok()?;
    Some((ip.src_addr(), ip.dst_addr(), ip.next_header()))
}

/// Whether a selector covers an address (protocol/port selectors cover the address too;
/// the gateway's clients negotiate address-only selectors).
pub fn covers(sel: &TrafficSelector, a: Ipv4Addr) -> bool {
    match sel.addr {
        Selector::Addr(x) => x == a,
        Selector::Subnet(net, mask) => {
            let m = u32::from(mask);
            u32::from(a) & m == u32::from(net) & m
        }
        Selector::Range(lo, hi) => (u32::from(lo)..=u32::from(hi)).contains(&u32::from(a)),
    }
}

/// Whether `sel` covers exactly the one address `a`.
fn covers_only(sel: &TrafficSelector, a: Ipv4Addr) -> bool {
    match sel.addr {
        Selector::Addr(x) => x == a,
        Selector::Subnet(x, m) => x == a && m == Ipv4Addr::BROADCAST,
        Selector::Range(x, y) => x == a && y == a,
    }
}

fn selector_specificity(sel: &TrafficSelector) -> u32 {
    match sel.addr {
        Selector::Addr(_) => 32,
        Selector::Subnet(_, m) => u32::from(m).count_ones(),
        Selector::Range(lo, hi) => 32u32.saturating_sub(
            (u32::from(hi).saturating_sub(u32::from(lo)))
                .checked_ilog2()
                .map_or(0, |b| b.saturating_add(1)),
        ),
    }
}

/// The prefixes (length, network) a remote selector is filed under in
/// [`DataPlane::by_prefix`]: a subnet is one, a range the prefixes that cover it exactly;
/// `None` for a subnet whose mask is not contiguous (scanned instead).
fn prefixes(sel: &TrafficSelector) -> Option<Vec<(u8, u32)>> {
    match sel.addr {
        Selector::Addr(a) => Some(vec![(32, u32::from(a))]),
        Selector::Subnet(net, mask) => {
            let m = u32::from(mask);
            let len = m.count_ones();
            (m.leading_ones() == len)
                .then(|| vec![(u8::try_from(len).unwrap_or(32), u32::from(net) & m)])
        }
        Selector::Range(lo, hi) => Some(
            ipnet::Ipv4Subnets::new(lo, hi, 0)
                .map(|n| (n.prefix_len(), u32::from(n.network())))
                .collect(),
        ),
    }
}

/// How a pair ranks for a destination nobody owns: remote selector's specificity, local
/// selector's, the older IKE SA, the newer pair.
type Rank = (u32, u32, core::cmp::Reverse<u64>, u64);

fn prefix_mask(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

/// The data plane's maps: every packet looks up its SPI or its inner addresses here,
/// so they hash with the Fx hasher of `rustc-hash` instead of SipHash (the keys are our
/// own SPIs, pool addresses and the selectors of authenticated peers, nothing a stranger
/// inserts), which also makes iteration order the same in every run.
type Map<K, V> = rustc_hash::FxHashMap<K, V>;

/// The ESP SA database of the gateway.
#[derive(Debug)]
pub struct DataPlane {
    children: Map<u32, Child>,
    serial: u64,
    /// Owned address -> the pairs of the IKE SA that owns it.
    owners: Map<Ipv4Addr, Owned>,
    /// Pairs by remote selector, for the addresses nobody owns: (prefix length, network)
    /// -> inbound SPIs. A pair whose remote selector is exactly its owned address is
    /// found through `owners` only.
    by_prefix: Map<(u8, u32), Vec<u32>>,
    /// How many `by_prefix` entries each prefix length has (lengths without any are not
    /// looked up).
    prefix_lens: [u32; 33],
    /// Pairs whose remote selector has a non-contiguous mask: scanned (none in practice).
    odd: BTreeSet<u32>,
    /// Each IKE SA with pairs here: its seniority ([`Child::seniority`]) and how many
    /// pairs it has (the entry goes with its last pair).
    ike_age: Map<SaId, (u64, usize)>,
    /// Packets dropped outside any SA, by reason.
    pub global_drops: BTreeMap<&'static str, u64>,
    /// MTU, fragments and TCP MSS: settings, reassembly, ICMP, counters.
    mtu: Mtu,
}

impl Default for DataPlane {
    fn default() -> Self {
        Self {
            children: Map::default(),
            serial: 0,
            owners: Map::default(),
            by_prefix: Map::default(),
            prefix_lens: [0; 33],
            odd: BTreeSet::new(),
            ike_age: Map::default(),
            global_drops: BTreeMap::new(),
            mtu: Mtu::new(MtuPlan::default()),
        }
    }
}

impl DataPlane {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs both directions of a Quick Mode result.
    ///
    /// # Errors
    /// A transform or key the `esp` crate refuses (one line).
    pub fn install(&mut self, c: &ChildSa, now: Instant) -> Result<u32, String> {
        let (enc, integ) = (c.encryption, c.integrity);
        let encap = Encapsulation::from_attribute(c.encapsulation)
            .map_err(|e| format!("child SA {:#x}: {e}", c.spi_in))?;
        let lifetime = LifetimeConfig::from_hard(
            (c.life_secs > 0).then_some(c.life_secs),
            (c.life_kb > 0).then_some(c.life_kb),
        );
        let params = |spi: u32, ek: &[u8], ak: &[u8]| {
            let mut p = EspSaParams::new(spi, enc, integ, encap, EspKeys::new(ek, ak));
            p.lifetime = lifetime;
            p
        };
        let inbound = InboundSa::new(
            &params(
                c.spi_in,
                c.enc_key_in.expose_secret(),
                c.auth_key_in.expose_secret(),
            ),
            now,
        )
        .map_err(|e| format!("inbound SA {:#x}: {e}", c.spi_in))?;
        let outbound = OutboundSa::new(
            &params(
                c.spi_out,
                c.enc_key_out.expose_secret(),
                c.auth_key_out.expose_secret(),
            ),
            now,
        )
        .map_err(|e| format!("outbound SA {:#x}: {e}", c.spi_out))?;
        // A reinstalled SPI leaves no stale index entry behind (its IKE SA keeps its age).
        let kept = self.ike_age.get(&c.ike_sa).map(|e| e.0);
        let _ = self.remove(c.spi_in);
        self.serial = self.serial.wrapping_add(1);
        let age = self
            .ike_age
            .entry(c.ike_sa)
            .or_insert((kept.unwrap_or(self.serial), 0));
        age.1 = age.1.saturating_add(1);
        let seniority = age.0;
        let owner = c.assigned_address;
        if let Some(a) = owner {
            let o = self.owners.entry(a).or_insert_with(|| Owned {
                ike_sa: c.ike_sa,
                spis: Vec::new(),
            });
            if o.ike_sa != c.ike_sa {
                // Mode Config leases are exclusive: another IKE SA still filed under the
                // address missed its removal. The newest assignment is the owner.
                o.ike_sa = c.ike_sa;
                o.spis.clear();
            }
            o.spis.push(c.spi_in);
        }
        if owner.is_none_or(|a| !covers_only(&c.remote_selector, a)) {
            self.file_selector(c.spi_in, &c.remote_selector);
        }
        self.children.insert(
            c.spi_in,
            Child {
                ike_sa: c.ike_sa,
                inbound,
                outbound,
                local_selector: c.local_selector,
                remote_selector: c.remote_selector,
                local: c.local,
                remote: c.remote,
                natt: c.natt_ports,
                encryption: enc,
                integrity: integ,
                encapsulation: encap,
                life_secs: c.life_secs,
                life_kb: c.life_kb,
                installed: now,
                serial: self.serial,
                owner,
                seniority,
                counters: Counters::default(),
            },
        );
        Ok(c.spi_in)
    }

    fn file_selector(&mut self, spi: u32, sel: &TrafficSelector) {
        match prefixes(sel) {
            Some(v) => {
                for key in v {
                    self.by_prefix.entry(key).or_default().push(spi);
                    if let Some(n) = self.prefix_lens.get_mut(usize::from(key.0)) {
                        *n = n.saturating_add(1);
                    }
                }
            }
            None => {
                self.odd.insert(spi);
            }
        }
    }

    fn unfile_selector(&mut self, spi: u32, sel: &TrafficSelector) {
        match prefixes(sel) {
            Some(v) => {
                for key in v {
                    let Some(spis) = self.by_prefix.get_mut(&key) else {
                        continue;
                    };
                    let before = spis.len();
                    spis.retain(|s| *s != spi);
                    if spis.len() < before {
                        if let Some(n) = self.prefix_lens.get_mut(usize::from(key.0)) {
                            *n = n.saturating_sub(1);
                        }
                    }
                    if spis.is_empty() {
                        self.by_prefix.remove(&key);
                    }
                }
            }
            None => {
                self.odd.remove(&spi);
            }
        }
    }

    /// Removes one pair by inbound SPI.
    pub fn remove(&mut self, spi_in: u32) -> Option<Child> {
        let c = self.children.remove(&spi_in)?;
        if let Some(e) = self.ike_age.get_mut(&c.ike_sa) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                self.ike_age.remove(&c.ike_sa);
            }
        }
        if let Some(a) = c.owner {
            if let Some(o) = self.owners.get_mut(&a) {
                o.spis.retain(|s| *s != spi_in);
                if o.spis.is_empty() {
                    self.owners.remove(&a);
                }
            }
        }
        if c.owner.is_none_or(|a| !covers_only(&c.remote_selector, a)) {
            self.unfile_selector(spi_in, &c.remote_selector);
        }
        Some(c)
    }

    /// The octets and packets of the live pairs of IKE SA `sa` (those that own `addr`
    /// are found through it; without such pairs, every pair is looked at).
    #[must_use]
    pub fn tally_of(&self, sa: SaId, addr: Ipv4Addr) -> super::session_acct::Tally {
        let mut t = super::session_acct::Tally::default();
        match self.owners.get(&addr).filter(|o| o.ike_sa == sa) {
            Some(o) => {
                for c in o.spis.iter().filter_map(|s| self.children.get(s)) {
                    t.add_child(c);
                }
            }
            None => {
                for c in self.children.values().filter(|c| c.ike_sa == sa) {
                    t.add_child(c);
                }
            }
        }
        t
    }

    /// Removes every pair of an IKE SA; returns them (for counters and accounting).
    pub fn remove_ike(&mut self, sa: SaId) -> Vec<Child> {
        let spis: Vec<u32> = self
            .children
            .iter()
            .filter(|(_, c)| c.ike_sa == sa)
            .map(|(s, _)| *s)
            .collect();
        spis.into_iter().filter_map(|s| self.remove(s)).collect()
    }

    /// Moves every pair of IKE SA `old` to `new` (phase-1 rekey); how many moved. The
    /// addresses they own stay theirs, now under `new`, and `new` keeps the older
    /// seniority of the two.
    pub fn reassign(&mut self, old: SaId, new: SaId) -> usize {
        if old == new {
            return 0;
        }
        let age = match (self.ike_age.remove(&old), self.ike_age.get(&new).copied()) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.saturating_add(b.1))),
            (a, b) => a.or(b),
        };
        if let Some(a) = age {
            self.ike_age.insert(new, a);
        }
        let age = age.map(|a| a.0);
        let mut n = 0usize;
        for c in self.children.values_mut() {
            if c.ike_sa == old {
                c.ike_sa = new;
                n = n.saturating_add(1);
                if let Some(o) = c.owner.and_then(|a| self.owners.get_mut(&a)) {
                    if o.ike_sa == old {
                        o.ike_sa = new;
                    }
                }
            }
            if c.ike_sa == new {
                c.seniority = age.unwrap_or(c.seniority);
            }
        }
        n
    }

    /// Checks every index against one rebuilt from the pairs (tests): owners, prefixes,
    /// the odd selectors, the IKE SAs' pair counts.
    #[cfg(test)]
    pub(super) fn assert_indexes_consistent(&self) {
        let mut owners: BTreeMap<Ipv4Addr, BTreeSet<u32>> = BTreeMap::new();
        let mut by_prefix: BTreeMap<(u8, u32), BTreeSet<u32>> = BTreeMap::new();
        let mut odd = BTreeSet::new();
        let mut pairs: BTreeMap<SaId, usize> = BTreeMap::new();
        for (spi, c) in &self.children {
            let n = pairs.entry(c.ike_sa).or_default();
            *n = n.saturating_add(1);
            assert_eq!(self.ike_age.get(&c.ike_sa).map(|e| e.0), Some(c.seniority));
            if let Some(a) = c.owner {
                owners.entry(a).or_default().insert(*spi);
                assert_eq!(self.owners.get(&a).map(|o| o.ike_sa), Some(c.ike_sa));
            }
            if c.owner.is_none_or(|a| !covers_only(&c.remote_selector, a)) {
                match prefixes(&c.remote_selector) {
                    Some(v) => v.into_iter().for_each(|k| {
                        by_prefix.entry(k).or_default().insert(*spi);
                    }),
                    None => {
                        odd.insert(*spi);
                    }
                }
            }
        }
        let got: BTreeMap<Ipv4Addr, BTreeSet<u32>> = self
            .owners
            .iter()
            .map(|(a, o)| (*a, o.spis.iter().copied().collect()))
            .collect();
        assert_eq!(got, owners, "owners");
        let got: BTreeMap<(u8, u32), BTreeSet<u32>> = self
            .by_prefix
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect();
        assert_eq!(got, by_prefix, "by_prefix");
        let mut lens = [0u32; 33];
        for ((len, _), v) in &by_prefix {
            let n = &mut lens[usize::from(*len)];
            *n = n.saturating_add(u32::try_from(v.len()).unwrap());
        }
        assert_eq!(self.prefix_lens, lens, "prefix_lens");
        assert_eq!(self.odd, odd, "odd");
        let got: BTreeMap<SaId, usize> = self.ike_age.iter().map(|(k, v)| (*k, v.1)).collect();
        assert_eq!(got, pairs, "ike_age");
    }

    /// The IKE SA that owns address `a` (its Mode Config address), if it has pairs here.
    #[allow(dead_code)] // used by tests and embedders
    pub fn owner_of(&self, a: Ipv4Addr) -> Option<SaId> {
        self.owners.get(&a).map(|o| o.ike_sa)
    }

    /// The installed pairs, by inbound SPI.
    pub fn children(&self) -> impl Iterator<Item = (&u32, &Child)> {
        self.children.iter()
    }

    /// Number of installed pairs.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether none is installed.
    #[allow(dead_code)] // used by tests and embedders; the gateway asks len()
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    fn count_global(&mut self, d: &Drop) {
        let e = self.global_drops.entry(d.word()).or_insert(0);
        *e = e.saturating_add(1);
    }

    /// Decapsulates one inbound ESP packet in place (`esp` holds the ESP header on);
    /// returns the inner packet's range, the IKE SA and the inner addresses, or why it
    /// was dropped.
    ///
    /// # Errors
    /// The drop reason (counted).
    pub fn inbound(
        &mut self,
        now: Instant,
        from: IpAddr,
        esp: &mut [u8],
    ) -> Result<(std::ops::Range<usize>, SaId, Ipv4Addr, Ipv4Addr), Drop> {
        let spi = match esp::peek_spi(esp) {
            Ok(s) => s,
            Err(e) => {
                let d = Drop::Esp(e.kind().as_str());
                self.count_global(&d);
                return Err(d);
            }
        };
        let Some(child) = self.children.get_mut(&spi) else {
            let d = Drop::UnknownSpi(spi);
            self.count_global(&d);
            return Err(d);
        };
        let _ = from;
        let r = match child.inbound.decapsulate(now, esp) {
            Ok(d) if d.is_dummy() => Err(Drop::Dummy),
            // vpnc 0.5.3 marks every packet of its TUN as IPv4 (next header 4), its
            // IPv6 router solicitations too: look at the version nibble as well
            Ok(d)
                if d.next_header == 41 || esp.get(d.payload.start).is_some_and(|b| b >> 4 == 6) =>
            {
                Err(Drop::Ipv6Inner)
            }
            Ok(d) => {
                let inner = esp.get(d.payload.clone()).unwrap_or_default();
                match ipv4_header(inner) {
                    None => Err(Drop::BadInner),
                    Some((src, dst, _)) => {
                        let foreign = self
                            .owners
                            .get(&src)
                            .is_some_and(|o| o.ike_sa != child.ike_sa);
                        if !(covers(&child.remote_selector, src)
                            && covers(&child.local_selector, dst))
                        {
                            Err(Drop::Selector { src, dst })
                        } else if foreign {
                            Err(Drop::NotOwner { src })
                        } else {
                            child.counters.decaps = child.counters.decaps.saturating_add(1);
                            child.counters.bytes_in =
                                child.counters.bytes_in.saturating_add(inner.len() as u64);
                            Ok((d.payload, child.ike_sa, src, dst))
                        }
                    }
                }
            }
            Err(e) => Err(Drop::Esp(e.kind().as_str())),
        };
        if let Err(d) = &r {
            if *d != Drop::Dummy {
                let e = child.counters.recv_errors.entry(d.word()).or_insert(0);
                *e = e.saturating_add(1);
            }
        }
        r
    }

    /// The pair that carries an inside packet: its destination inside the client's
    /// selector and its source inside ours. An owned destination goes to its owner's
    /// pairs only (the most specific local selector, then the newest pair); any other to
    /// the most specific remote selector, then local selector, then the older IKE SA,
    /// then its newest pair.
    pub(super) fn route(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Option<u32> {
        if let Some(o) = self.owners.get(&dst) {
            return o
                .spis
                .iter()
                .filter_map(|s| Some((*s, self.children.get(s)?)))
                .filter(|(_, c)| {
                    c.ike_sa == o.ike_sa
                        && covers(&c.remote_selector, dst)
                        && covers(&c.local_selector, src)
                })
                .max_by_key(|(_, c)| (selector_specificity(&c.local_selector), c.serial))
                .map(|(s, _)| s);
        }
        let rank = |c: &Child, remote: u32| {
            (
                remote,
                selector_specificity(&c.local_selector),
                core::cmp::Reverse(c.seniority),
                c.serial,
            )
        };
        let mut best: Option<(u32, Rank)> = None;
        let mut consider = |spi: u32, key| {
            if best.is_none_or(|(_, k)| key > k) {
                best = Some((spi, key));
            }
        };
        for len in (0..=32u8).rev() {
            if self
                .prefix_lens
                .get(usize::from(len))
                .is_none_or(|n| *n == 0)
            {
                continue;
            }
            let Some(spis) = self
                .by_prefix
                .get(&(len, u32::from(dst) & prefix_mask(len)))
            else {
                continue;
            };
            let mut found = false;
            for s in spis {
                if let Some(c) = self.children.get(s) {
                    if covers(&c.local_selector, src) {
                        consider(*s, rank(c, u32::from(len)));
                        found = true;
                    }
                }
            }
            if found {
                break;
            }
        }
        for s in &self.odd {
            if let Some(c) = self.children.get(s) {
                if covers(&c.remote_selector, dst) && covers(&c.local_selector, src) {
                    consider(*s, rank(c, selector_specificity(&c.remote_selector)));
                }
            }
        }
        best.map(|(s, _)| s)
    }

    /// The ESP SA pair (by inbound SPI) that carries an inside packet, or why none does.
    fn pair_for(&mut self, packet: &[u8]) -> Result<u32, Drop> {
        let Some((src, dst, _)) = ipv4_header(packet) else {
            let d = Drop::BadInner;
            self.count_global(&d);
            return Err(d);
        };
        let Some(spi) = self.route(src, dst) else {
            let d = Drop::NoSa(dst);
            self.count_global(&d);
            return Err(d);
        };
        Ok(spi)
    }

    /// Encapsulates an inside packet for its client into `out`.
    ///
    /// # Errors
    /// The drop reason (counted).
    pub fn outbound<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, EspDest, SaId), Drop> {
        let spi = self.pair_for(packet)?;
        self.check_fits(now, spi, packet)?;
        let Some(child) = self.children.get_mut(&spi) else {
            return Err(Drop::BadInner);
        };
        let r = child.outbound.encapsulate_ip(now, rng, packet, out);
        child
            .sent(r, packet.len())
            .map(|(n, d)| (n, d, child.ike_sa))
    }

    /// Encapsulates the inside packet at `buf[INSIDE_HEADROOM..][..len]` where it lies
    /// ([`super::io::Input::InsideInPlace`]); returns the ESP packet's range of `buf`.
    ///
    /// # Errors
    /// The drop reason (counted).
    pub fn outbound_in_place<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        buf: &mut [u8],
        len: usize,
    ) -> Result<(std::ops::Range<usize>, EspDest, SaId), Drop> {
        use super::io::INSIDE_HEADROOM;
        let end = INSIDE_HEADROOM.saturating_add(len);
        let Some(packet) = buf.get(INSIDE_HEADROOM..end) else {
            let d = Drop::BadInner;
            self.count_global(&d);
            return Err(d);
        };
        let spi = self.pair_for(packet)?;
        self.check_fits(now, spi, packet)?;
        let nh = match packet.first().map(|b| b >> 4) {
            Some(6) => 41,
            _ => 4,
        };
        let Some(child) = self.children.get_mut(&spi) else {
            return Err(Drop::BadInner);
        };
        // The ESP header and IV go right before the packet (AES: 24 bytes, DES: 16).
        let start = INSIDE_HEADROOM.saturating_sub(child.outbound.payload_offset());
        let Some(esp) = buf.get_mut(start..) else {
            return Err(Drop::BadInner);
        };
        let r = child.outbound.encapsulate_in_place(now, rng, nh, esp, len);
        child
            .sent(r, len)
            .map(|(n, d)| (start..start.saturating_add(n), d, child.ike_sa))
    }

    /// Counts a failed socket send on the SA that produced the packet.
    pub fn send_failed(&mut self, sa: SaId) {
        if let Some(c) = self.children.values_mut().find(|c| c.ike_sa == sa) {
            c.counters.send_errors = c.counters.send_errors.saturating_add(1);
        }
    }

    /// SAs whose lifetime ran out (hard), by inbound SPI, with their IKE SA.
    pub fn expired(&mut self, now: Instant) -> Vec<(SaId, u32)> {
        let mut v = Vec::new();
        for (spi, c) in &mut self.children {
            let mut hard = false;
            while let Some(e) = c.outbound.poll_event(now) {
                hard |= matches!(e, esp::LifetimeEvent::Hard(_));
            }
            if hard {
                v.push((c.ike_sa, *spi));
            }
        }
        v
    }

    /// The lifetime deadline of the ESP SA pair whose inbound SPI is `spi_in`.
    pub fn deadline_of(&self, spi_in: u32) -> Option<Instant> {
        self.children.get(&spi_in)?.outbound.poll_timeout()
    }

    /// The earliest lifetime deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.children
            .values()
            .filter_map(|c| c.outbound.poll_timeout())
            .min()
    }
}

/// What the configuration says about sizes: `mtu IF N`, `sysopt connection tcpmss N`,
/// `fragment size|chain|timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtuPlan {
    /// `mtu OUTSIDE N`: the largest outer packet (default 1500).
    pub outside_mtu: u16,
    /// `mtu inside N`: the inside TUN device's MTU (default 1500).
    pub inside_mtu: u16,
    /// `sysopt connection tcpmss N` (default 1380; `None`: `tcpmss 0`, no clamping).
    pub tcp_mss: Option<u16>,
    /// `sysopt connection tcpmss minimum N` (default `None`: a small MSS is left alone).
    pub tcp_mss_minimum: Option<u16>,
    /// Reassembly bounds for decrypted traffic from the clients (the outside
    /// interface's `fragment` settings).
    pub from_clients: Limits,
    /// Reassembly bounds for inside traffic to the clients (the inside interface's).
    pub from_inside: Limits,
}

impl Default for MtuPlan {
    fn default() -> Self {
        MtuPlan {
            outside_mtu: 1500,
            inside_mtu: 1500,
            tcp_mss: Some(1380),
            tcp_mss_minimum: None,
            from_clients: Limits::default(),
            from_inside: Limits::default(),
        }
    }
}

impl MtuPlan {
    /// The sizes of a configuration whose crypto map is on `outside_if`.
    #[must_use]
    pub fn from_config(config: &pix_config::Config, outside_if: &str, inside_if: &str) -> Self {
        let limits = |f: pix_config::fragment::FragmentSettings| Limits {
            chain: usize::try_from(f.chain).unwrap_or(usize::MAX),
            datagrams: usize::try_from(f.size).unwrap_or(usize::MAX),
            timeout: std::time::Duration::from_secs(u64::from(f.timeout_secs)),
            ..Limits::default()
        };
        MtuPlan {
            outside_mtu: config.mtu(outside_if),
            inside_mtu: config.mtu(inside_if),
            tcp_mss: config.tcp_mss().maximum,
            tcp_mss_minimum: config.tcp_mss().minimum,
            from_clients: limits(config.fragment(outside_if)),
            from_inside: limits(config.fragment(inside_if)),
        }
    }
}

/// ICMP fragmentation-needed messages per second to the inside (and the burst).
const ICMP_PER_SEC: u32 = 100;
/// ICMP messages waiting for the core to take them ([`DataPlane::poll_to_inside`]).
const ICMP_QUEUE: usize = 64;

/// The MTU side of the data plane.
#[derive(Debug)]
struct Mtu {
    plan: MtuPlan,
    from_clients: Reassembler,
    from_inside: Reassembler,
    /// ICMP rate limit: tokens left, refilled every second.
    icmp_tokens: u32,
    icmp_refill: Option<Instant>,
    to_inside: std::collections::VecDeque<Vec<u8>>,
    counters: BTreeMap<&'static str, u64>,
}

impl Mtu {
    fn new(plan: MtuPlan) -> Self {
        Mtu {
            plan,
            from_clients: Reassembler::new(plan.from_clients),
            from_inside: Reassembler::new(plan.from_inside),
            icmp_tokens: ICMP_PER_SEC,
            icmp_refill: None,
            to_inside: std::collections::VecDeque::new(),
            counters: BTreeMap::new(),
        }
    }

    fn bump(&mut self, what: &'static str) {
        let e = self.counters.entry(what).or_insert(0);
        *e = e.saturating_add(1);
    }

    /// One ICMP message may go now.
    fn icmp_allowed(&mut self, now: Instant) -> bool {
        let refill = self
            .icmp_refill
            .is_none_or(|t| now.saturating_duration_since(t).as_secs() >= 1);
        if refill {
            self.icmp_tokens = ICMP_PER_SEC;
            self.icmp_refill = Some(now);
        }
        if self.icmp_tokens == 0 || self.to_inside.len() >= ICMP_QUEUE {
            return false;
        }
        self.icmp_tokens = self.icmp_tokens.saturating_sub(1);
        true
    }
}

/// The global drop counter's key of a reassembly drop.
fn frag_drop_key(d: FragDrop) -> &'static str {
    match d {
        FragDrop::Malformed => "fragment malformed",
        FragDrop::TooLong => "fragment too long (datagram over 65535 bytes)",
        FragDrop::Overlap => "fragment overlap",
        FragDrop::Duplicate => "fragment duplicate",
        FragDrop::BadEnd => "fragment inconsistent end",
        FragDrop::TinyFirst => "fragment tiny first",
        FragDrop::Chain => "fragment chain exceeded",
        FragDrop::Datagrams => "fragment size exceeded (datagrams awaiting reassembly)",
        FragDrop::SourceBytes => "fragment bytes per source exceeded",
        FragDrop::TotalBytes => "fragment bytes in all exceeded",
        FragDrop::Timeout => "fragment timeout",
        _ => "fragment dropped",
    }
}

/// An ICMP destination unreachable, fragmentation needed (type 3 code 4, RFC 1191)
/// about `packet`, with next-hop MTU `mtu`: from `src`, to the packet's source, with
/// the packet's header and first 8 bytes of data.
#[must_use]
pub fn frag_needed(packet: &[u8], mtu: u16, src: Ipv4Addr) -> Option<Vec<u8>> {
    let ip = Ipv4Packet::new_checked(packet).ok()?;
    let quoted = packet.get(
        ..ip.header_len()
            .checked_add(8)?
            .min(usize::from(ip.total_len())),
    )?;
    let total = 28usize.checked_add(quoted.len())?;
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0xc0]);
    p.extend_from_slice(&u16::try_from(total).ok()?.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 64, 1, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&ip.src_addr().octets());
    p.extend_from_slice(&[3, 4, 0, 0, 0, 0]);
    p.extend_from_slice(&mtu.to_be_bytes());
    p.extend_from_slice(quoted);
    Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
    let ck = !pix_primitives::ipv4::ones_complement_sum(p.get(20..)?);
    p.get_mut(22..24)?.copy_from_slice(&ck.to_be_bytes());
    Some(p)
}

impl DataPlane {
    /// The sizes in force.
    #[must_use]
    pub fn mtu_plan(&self) -> MtuPlan {
        self.mtu.plan
    }

    /// New sizes (datagrams waiting for reassembly stay until they complete or expire).
    pub fn set_mtu_plan(&mut self, plan: MtuPlan) {
        self.mtu.plan = plan;
        self.mtu.from_clients.set_limits(plan.from_clients);
        self.mtu.from_inside.set_limits(plan.from_inside);
    }

    /// Counters of the MTU side: fragments taken and datagrams reassembled by
    /// direction, TCP SYNs clamped, ICMP fragmentation-needed sent and rate limited,
    /// oversize packets sent for the kernel to fragment; and the reassembly gauges.
    #[must_use]
    pub fn mtu_counters(&self) -> BTreeMap<&'static str, u64> {
        let mut m = self.mtu.counters.clone();
        for (name, r) in [
            ("from_clients", &self.mtu.from_clients),
            ("from_inside", &self.mtu.from_inside),
        ] {
            let s = r.stats();
            let (f, d, w, b) = match name {
                "from_clients" => (
                    "fragments_from_clients",
                    "reassembled_from_clients",
                    "reassembly_waiting_from_clients",
                    "reassembly_bytes_from_clients",
                ),
                _ => (
                    "fragments_from_inside",
                    "reassembled_from_inside",
                    "reassembly_waiting_from_inside",
                    "reassembly_bytes_from_inside",
                ),
            };
            m.insert(f, s.fragments);
            m.insert(d, s.reassembled);
            m.insert(w, r.waiting() as u64);
            m.insert(b, r.held_bytes() as u64);
        }
        m
    }

    /// Takes an IPv4 fragment: `None` while its datagram is incomplete or when it was
    /// dropped (counted by reason), the whole datagram once complete. `from_client`:
    /// decrypted traffic from a client, else inside traffic to one.
    pub fn reassemble(
        &mut self,
        now: Instant,
        from_client: bool,
        packet: &[u8],
    ) -> Option<Vec<u8>> {
        self.expire_fragments(now);
        let r = if from_client {
            &mut self.mtu.from_clients
        } else {
            &mut self.mtu.from_inside
        };
        match r.push(now, packet) {
            Ok(d) => d,
            Err(d) => {
                let e = self.global_drops.entry(frag_drop_key(d)).or_insert(0);
                *e = e.saturating_add(1);
                None
            }
        }
    }

    /// Drops the datagrams waiting for reassembly whose `fragment timeout` ran out
    /// (counted); the core calls it at [`DataPlane::frag_poll_timeout`], and every
    /// fragment does too.
    pub fn expire_fragments(&mut self, now: Instant) {
        let expired = self
            .mtu
            .from_clients
            .expire(now)
            .saturating_add(self.mtu.from_inside.expire(now));
        if expired > 0 {
            let e = self
                .global_drops
                .entry(frag_drop_key(FragDrop::Timeout))
                .or_insert(0);
            *e = e.saturating_add(expired as u64);
        }
    }

    /// When the oldest datagram waiting for reassembly times out.
    #[must_use]
    pub fn frag_poll_timeout(&self) -> Option<Instant> {
        [
            self.mtu.from_clients.poll_timeout(),
            self.mtu.from_inside.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// `sysopt connection tcpmss [minimum]`: lowers the MSS of a TCP SYN passing through
    /// (either direction) to the maximum, raises it to the minimum; counted.
    pub fn clamp_mss(&mut self, packet: &mut [u8]) {
        let (min, max) = (
            self.mtu.plan.tcp_mss_minimum.unwrap_or(0),
            self.mtu.plan.tcp_mss.unwrap_or(0),
        );
        if min == 0 && max == 0 {
            return;
        }
        if let Some(old) = pix_nat::mss::adjust_mss(packet, min, max) {
            self.mtu.bump(if max != 0 && old > max {
                "tcpmss_clamped"
            } else {
                "tcpmss_raised"
            });
        }
    }

    /// ICMP messages for the inside network (fragmentation needed), one at a time.
    pub fn poll_to_inside(&mut self) -> Option<Vec<u8>> {
        self.mtu.to_inside.pop_front()
    }

    /// The largest inner packet the pair `spi` carries within the outside MTU: outer
    /// IP header, UDP when NAT-T floated, then the SA's ESP header, IV, padding,
    /// trailer and ICV.
    #[must_use]
    pub fn max_inner(&self, spi: u32) -> Option<u16> {
        let c = self.children.get(&spi)?;
        let outer = 20usize.saturating_add(if c.natt.is_some() { 8 } else { 0 });
        let room = usize::from(self.mtu.plan.outside_mtu).checked_sub(outer)?;
        // encapsulated_len grows by at most one block per byte: start at the room less
        // the fixed part and step down to the first that fits (at most a block's worth).
        let mut n = room.checked_sub(c.outbound.payload_offset())?;
        loop {
            if c.outbound.encapsulated_len(n).is_ok_and(|l| l <= room) {
                return u16::try_from(n).ok();
            }
            n = n.checked_sub(1)?;
        }
    }

    /// Whether an inside packet fits the pair `spi` within the outside MTU. One that
    /// does not and has DF set is dropped with an ICMP fragmentation-needed queued for
    /// the inside (rate limited); one without DF goes on and the kernel fragments the
    /// outer packet, as a PIX fragments after encryption.
    fn check_fits(&mut self, now: Instant, spi: u32, packet: &[u8]) -> Result<(), Drop> {
        let Some(c) = self.children.get(&spi) else {
            return Ok(());
        };
        let outer = 20usize.saturating_add(if c.natt.is_some() { 8 } else { 0 });
        let fits = c
            .outbound
            .encapsulated_len(packet.len())
            .is_ok_and(|l| l.saturating_add(outer) <= usize::from(self.mtu.plan.outside_mtu));
        if fits {
            return Ok(());
        }
        let df = Ipv4Packet::new_checked(packet).is_ok_and(|ip| ip.dont_frag());
        if !df {
            self.mtu.bump("oversize_sent_fragmented");
            return Ok(());
        }
        let mtu = self.max_inner(spi).unwrap_or(576);
        let d = Drop::TooBig { mtu };
        self.count_global(&d);
        if self.mtu.icmp_allowed(now) {
            // From the packet's destination (the client): the kernel under the TUN
            // device drops a packet that arrives with one of its own addresses as source.
            let src =
                Ipv4Packet::new_checked(packet).map_or(Ipv4Addr::UNSPECIFIED, |ip| ip.dst_addr());
            if let Some(icmp) = frag_needed(packet, mtu, src) {
                self.mtu.to_inside.push_back(icmp);
                self.mtu.bump("frag_needed_sent");
            }
        } else {
            self.mtu.bump("frag_needed_rate_limited");
        }
        Err(d)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::arithmetic_side_effects)] // tests: a start instant; small sizes
mod mtu_tests {
    use super::*;
    use ike_sm::Secret;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// A DES/MD5 pair for 10.89.129.200 (made-up keys), raw ESP or NAT-T.
    fn child(natt: bool) -> ChildSa {
        let a = Ipv4Addr::new(10, 89, 129, 200);
        ChildSa {
            ike_sa: SaId(1),
            message_id: 1,
            spi_in: 0x100,
            spi_out: 0x200,
            protocol: 3,
            encryption: EncryptionAlgorithm::Des,
            integrity: IntegrityAlgorithm::HmacMd5_96,
            encapsulation: if natt { 3 } else { 1 },
            enc_key_in: Secret::from_slice(&[1; 8]),
            auth_key_in: Secret::from_slice(&[2; 16]),
            enc_key_out: Secret::from_slice(&[3; 8]),
            auth_key_out: Secret::from_slice(&[4; 16]),
            local_selector: TrafficSelector::new(Selector::Subnet(
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
            )),
            remote_selector: TrafficSelector::new(Selector::Addr(a)),
            life_secs: 3600,
            life_kb: 0,
            local: "192.168.1.1:4500".parse().unwrap(),
            remote: "192.168.1.50:4500".parse().unwrap(),
            natt_ports: natt.then_some((4500, 4500)),
            peer_original_addr: None,
            assigned_address: Some(a),
        }
    }

    /// An IPv4 UDP packet of `len` bytes from the inside host to the client.
    fn packet(len: usize, df: bool) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        p[6] = if df { 0x40 } else { 0 };
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[10, 89, 129, 131]);
        p[16..20].copy_from_slice(&[10, 89, 129, 200]);
        p[20..22].copy_from_slice(&1234u16.to_be_bytes());
        p
    }

    fn setup(natt: bool) -> (DataPlane, Instant) {
        let now = Instant::now();
        let mut dp = DataPlane::new();
        dp.install(&child(natt), now).unwrap();
        (dp, now)
    }

    #[test]
    fn next_hop_mtu_is_the_largest_inner_packet_that_fits() {
        // DES (8-byte blocks, 8-byte IV), MD5-96: 20 + 8 + 8 + pad8(L + 2) + 12 <= 1500
        let (dp, _) = setup(false);
        assert_eq!(dp.max_inner(0x100), Some(1446));
        // with the UDP header of NAT-T: 8 bytes less, rounded down to the block
        let (dp, _) = setup(true);
        assert_eq!(dp.max_inner(0x100), Some(1438));
        assert_eq!(dp.max_inner(0x999), None);
    }

    #[test]
    fn too_big_with_df_gets_icmp_without_df_goes_out() {
        let (mut dp, now) = setup(true);
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = vec![0u8; 4096];
        // fits: encapsulated
        assert!(dp
            .outbound(now, &mut rng, &packet(1438, true), &mut out)
            .is_ok());
        assert!(dp.poll_to_inside().is_none());
        // one byte more with DF: dropped, ICMP 3/4 with MTU 1438 from the client
        let big = packet(1439, true);
        let r = dp.outbound(now, &mut rng, &big, &mut out);
        assert_eq!(r.err(), Some(Drop::TooBig { mtu: 1438 }));
        let icmp = dp.poll_to_inside().unwrap();
        assert_eq!(icmp.len(), 20 + 8 + 28);
        assert_eq!(&icmp[12..16], &[10, 89, 129, 200], "from the client");
        assert_eq!(&icmp[16..20], &[10, 89, 129, 131], "to the inside host");
        assert_eq!((icmp[20], icmp[21]), (3, 4));
        assert_eq!(u16::from_be_bytes([icmp[26], icmp[27]]), 1438);
        assert_eq!(&icmp[28..56], &big[..28], "the header and 8 bytes quoted");
        assert_eq!(
            pix_primitives::ipv4::ones_complement_sum(&icmp[..20]),
            0xffff,
            "IP checksum"
        );
        assert_eq!(
            pix_primitives::ipv4::ones_complement_sum(&icmp[20..]),
            0xffff,
            "ICMP checksum"
        );
        // without DF: encapsulated, the kernel fragments it
        assert!(dp
            .outbound(now, &mut rng, &packet(1439, false), &mut out)
            .is_ok());
        let c = dp.mtu_counters();
        assert_eq!(c.get("frag_needed_sent"), Some(&1));
        assert_eq!(c.get("oversize_sent_fragmented"), Some(&1));
        assert_eq!(
            dp.global_drops.get("too big for the tunnel with DF set"),
            Some(&1)
        );
    }

    #[test]
    fn icmp_is_rate_limited() {
        let (mut dp, now) = setup(false);
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = vec![0u8; 4096];
        let big = packet(1500, true);
        for _ in 0..300 {
            let _ = dp.outbound(now, &mut rng, &big, &mut out);
            // the core drains the queue after every packet
            while dp.poll_to_inside().is_some() {}
        }
        let c = dp.mtu_counters();
        assert_eq!(c.get("frag_needed_sent"), Some(&u64::from(ICMP_PER_SEC)));
        assert_eq!(
            c.get("frag_needed_rate_limited"),
            Some(&(300 - u64::from(ICMP_PER_SEC)))
        );
        // a second later the budget is back
        let later = now + std::time::Duration::from_secs(1);
        let _ = dp.outbound(later, &mut rng, &big, &mut out);
        assert!(dp.poll_to_inside().is_some());
    }

    #[test]
    fn plan_from_config_and_mss_clamp_counted() {
        let cfg = pix_config::parse(
            "mtu outside 1400\nsysopt connection tcpmss 1300\nfragment chain 3 outside\nfragment timeout 2\n",
        )
        .config;
        let p = MtuPlan::from_config(&cfg, "outside", "inside");
        assert_eq!(p.outside_mtu, 1400);
        assert_eq!(p.inside_mtu, 1500);
        assert_eq!(p.tcp_mss, Some(1300));
        assert_eq!(p.from_clients.chain, 3);
        assert_eq!(p.from_inside.chain, 24);
        assert_eq!(p.from_clients.timeout, std::time::Duration::from_secs(2));
        let (mut dp, _) = setup(false);
        dp.set_mtu_plan(p);
        assert_eq!(dp.max_inner(0x100), Some(1350));
        // a SYN with MSS 1460
        let mut syn = packet(44, true);
        syn[2..4].copy_from_slice(&44u16.to_be_bytes());
        syn[9] = 6;
        syn[32] = 0x60;
        syn[33] = 0x02;
        syn[40..44].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        let small = syn.clone();
        dp.clamp_mss(&mut syn);
        assert_eq!(&syn[42..44], &1300u16.to_be_bytes());
        assert_eq!(dp.mtu_counters().get("tcpmss_clamped"), Some(&1));
        // `sysopt connection tcpmss minimum 600` raises an MSS of 536
        let cfg = pix_config::parse("sysopt connection tcpmss minimum 600\n").config;
        let p = MtuPlan::from_config(&cfg, "outside", "inside");
        assert_eq!((p.tcp_mss, p.tcp_mss_minimum), (Some(1380), Some(600)));
        dp.set_mtu_plan(p);
        let mut syn = small;
        syn[42..44].copy_from_slice(&536u16.to_be_bytes());
        dp.clamp_mss(&mut syn);
        assert_eq!(&syn[42..44], &600u16.to_be_bytes());
        assert_eq!(dp.mtu_counters().get("tcpmss_raised"), Some(&1));
    }

    #[test]
    fn fragments_reassembled_and_drops_counted() {
        let (mut dp, now) = setup(false);
        let whole = packet(3000, false);
        let frag = |off: usize, len: usize, more: bool| {
            let mut f = whole[..20].to_vec();
            f[2..4].copy_from_slice(&u16::try_from(20 + len).unwrap().to_be_bytes());
            let ff = u16::try_from(off / 8).unwrap() | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&ff.to_be_bytes());
            f.extend_from_slice(&whole[20 + off..20 + off + len]);
            f
        };
        assert!(dp.reassemble(now, true, &frag(1480, 1500, false)).is_none());
        let got = dp.reassemble(now, true, &frag(0, 1480, true)).unwrap();
        assert_eq!(&got[20..], &whole[20..]);
        // overlap: counted under its reason
        assert!(dp.reassemble(now, true, &frag(0, 1480, true)).is_none());
        assert!(dp.reassemble(now, true, &frag(8, 1480, true)).is_none());
        assert_eq!(dp.global_drops.get("fragment overlap"), Some(&1));
        // a timeout is counted when the next fragment comes
        assert!(dp.reassemble(now, false, &frag(0, 1480, true)).is_none());
        let later = now + std::time::Duration::from_secs(6);
        assert!(dp.reassemble(later, false, &frag(1480, 8, true)).is_none());
        assert_eq!(dp.global_drops.get("fragment timeout"), Some(&1));
        let c = dp.mtu_counters();
        assert_eq!(c.get("reassembled_from_clients"), Some(&1));
        assert_eq!(c.get("reassembly_waiting_from_inside"), Some(&1));
        // the core's timer: the deadline, then the expiry without another fragment
        let deadline = later + std::time::Duration::from_secs(5);
        assert_eq!(dp.frag_poll_timeout(), Some(deadline));
        dp.expire_fragments(deadline - std::time::Duration::from_millis(1));
        assert_eq!(dp.global_drops.get("fragment timeout"), Some(&1));
        dp.expire_fragments(deadline);
        assert_eq!(dp.global_drops.get("fragment timeout"), Some(&2));
        assert_eq!(dp.frag_poll_timeout(), None);
        assert_eq!(
            dp.mtu_counters().get("reassembly_bytes_from_inside"),
            Some(&0)
        );
    }
}
