//! IPv4 fragment reassembly with hard bounds (PIX `fragment size`, `fragment chain`,
//! `fragment timeout`), Sans-IO: the clock comes in as `now`.
//!
//! ```
//! use std::time::Instant;
//! use pix_nat::frag::{Limits, Reassembler};
//!
//! // a 48-byte UDP datagram cut in two: 24 bytes at offset 0 (More Fragments), 24 at 24
//! let mut whole = vec![0x45, 0, 0, 68, 0, 7, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! whole.extend((0..48u8).collect::<Vec<_>>());
//! let frag = |off: usize, len: usize, more: bool| {
//!     let mut f = whole[..20].to_vec();
//!     let total = (20 + len) as u16;
//!     f[2..4].copy_from_slice(&total.to_be_bytes());
//!     let ff = (off / 8) as u16 | if more { 0x2000 } else { 0 };
//!     f[6..8].copy_from_slice(&ff.to_be_bytes());
//!     f.extend_from_slice(&whole[20 + off..20 + off + len]);
//!     f
//! };
//! let now = Instant::now();
//! let mut r = Reassembler::new(Limits::default());
//! assert_eq!(r.push(now, &frag(24, 24, false)), Ok(None)); // held
//! let got = r.push(now, &frag(0, 24, true)).unwrap().unwrap();
//! assert_eq!(&got[20..], &whole[20..]);
//! assert_eq!(r.stats().reassembled, 1);
//! ```
//!
//! # The lessons of CVE-2016-1287
//!
//! Cisco ASA's IKEv1/IKEv2 fragment reassembly trusted lengths from the wire in its
//! size arithmetic, so a crafted fragment overflowed the heap. Here every length comes
//! from the received bytes themselves (a fragment's data is the slice it arrived in),
//! every sum is checked, a datagram's buffer is allocated once, after it is complete,
//! from a total that was validated (at most 65,535 bytes, covered exactly by fragments
//! that do not overlap), and memory held is bounded by the [`Limits`] before a byte is
//! copied: fragments per datagram, datagrams waiting, bytes per source, bytes in all.
//!
//! # Policy
//!
//! * Overlapping fragments, or a repeated fragment whose data differs, drop the whole
//!   datagram (RFC 1858's overlap attacks, RFC 5722's rule for IPv6); an identical
//!   repeat is ignored.
//! * A first fragment too short for its transport header (TCP 20, UDP 8, ICMP 8
//!   bytes) drops the datagram (RFC 1858's tiny-fragment attack: the ports and flags
//!   a firewall decides on must be in the first fragment).
//! * A fragment that is not the last carries a multiple of 8 bytes (RFC 791).
//! * A new datagram beyond `fragment size` is refused (the waiting ones are kept);
//!   a datagram with more than `fragment chain` fragments, or whose source would hold
//!   more than its byte budget, or that would take the total past its budget, is
//!   dropped; so is one not complete within `fragment timeout` of its first fragment.
//! * Every drop is counted by its [`FragDrop`] reason.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pix_primitives::Ipv4Packet;

/// The bounds of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `fragment chain`: fragments one datagram may have (PIX default 24; 1 refuses
    /// every fragment).
    pub chain: usize,
    /// `fragment size`: datagrams waiting for reassembly (PIX default 200).
    pub datagrams: usize,
    /// `fragment timeout`: how long a datagram may take from its first fragment
    /// (PIX default 5 s).
    pub timeout: Duration,
    /// Bytes one source address may have waiting.
    pub per_source_bytes: usize,
    /// Bytes waiting in all.
    pub total_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            chain: 24,
            datagrams: 200,
            timeout: Duration::from_secs(5),
            per_source_bytes: 256 << 10,
            total_bytes: 2 << 20,
        }
    }
}

/// Why a fragment (and perhaps its datagram) was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FragDrop {
    /// Not a well-formed IPv4 packet (version, header or total length), or a fragment
    /// that is not the last with a length that is no multiple of 8, or an empty one.
    Malformed,
    /// The datagram would be longer than 65,535 bytes.
    TooLong,
    /// Fragments overlap, or a repeat carries different data: the datagram is dropped.
    Overlap,
    /// An identical repeat of a fragment already held (the datagram is kept).
    Duplicate,
    /// Fragments disagree on where the datagram ends: the datagram is dropped.
    BadEnd,
    /// The first fragment cannot hold the transport header: the datagram is dropped.
    TinyFirst,
    /// More than `fragment chain` fragments: the datagram is dropped.
    Chain,
    /// `fragment size` datagrams are already waiting: the new one is refused.
    Datagrams,
    /// The source's byte budget is spent: its datagram is dropped.
    SourceBytes,
    /// The total byte budget is spent: the datagram is dropped.
    TotalBytes,
    /// Not complete within `fragment timeout`.
    Timeout,
}

impl FragDrop {
    /// Every reason, in counter order.
    pub const ALL: [FragDrop; 11] = [
        FragDrop::Malformed,
        FragDrop::TooLong,
        FragDrop::Overlap,
        FragDrop::Duplicate,
        FragDrop::BadEnd,
        FragDrop::TinyFirst,
        FragDrop::Chain,
        FragDrop::Datagrams,
        FragDrop::SourceBytes,
        FragDrop::TotalBytes,
        FragDrop::Timeout,
    ];

    /// A short word for counters and metrics labels.
    pub fn word(self) -> &'static str {
        match self {
            FragDrop::Malformed => "malformed",
            FragDrop::TooLong => "too_long",
            FragDrop::Overlap => "overlap",
            FragDrop::Duplicate => "duplicate",
            FragDrop::BadEnd => "inconsistent_end",
            FragDrop::TinyFirst => "tiny_first",
            FragDrop::Chain => "chain",
            FragDrop::Datagrams => "size",
            FragDrop::SourceBytes => "source_bytes",
            FragDrop::TotalBytes => "total_bytes",
            FragDrop::Timeout => "timeout",
        }
    }

    fn index(self) -> usize {
        FragDrop::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }
}

impl core::fmt::Display for FragDrop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.word())
    }
}

/// What a [`Reassembler`] did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FragStats {
    /// Fragments pushed.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Drops by reason, in [`FragDrop::ALL`] order (see [`FragStats::drops`]).
    drops: [u64; 11],
}

impl FragStats {
    /// Drops of one reason.
    pub fn drops_of(&self, d: FragDrop) -> u64 {
        self.drops.get(d.index()).copied().unwrap_or(0)
    }

    /// Every reason with its count.
    pub fn drops(&self) -> impl Iterator<Item = (FragDrop, u64)> + '_ {
        FragDrop::ALL.iter().map(|d| (*d, self.drops_of(*d)))
    }

    /// All drops.
    pub fn drop_total(&self) -> u64 {
        self.drops.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Datagram identity (RFC 791): source, destination, protocol, identification.
type Key = (Ipv4Addr, Ipv4Addr, u8, u16);

/// One fragment's data, at its byte offset.
#[derive(Debug)]
struct Piece {
    off: usize,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Pending {
    deadline: Instant,
    serial: u64,
    /// The first fragment's IP header (offset 0).
    header: Option<Vec<u8>>,
    /// The data length, once the last fragment came.
    end: Option<usize>,
    /// Sorted by offset, not overlapping.
    pieces: Vec<Piece>,
    /// Data bytes held (the sum of the pieces' lengths).
    data: usize,
    /// Bytes charged to the budgets (data and header).
    charged: usize,
}

/// The fields of a fragment, validated.
struct Frag<'a> {
    key: Key,
    /// The packet up to its total length.
    whole: &'a [u8],
    header: &'a [u8],
    off: usize,
    more: bool,
    data: &'a [u8],
}

/// Whether `packet` is an IPv4 fragment (More Fragments set or a non-zero offset).
pub fn is_fragment(packet: &[u8]) -> bool {
    let ip = Ipv4Packet::new_unchecked(packet);
    ip.version() == 4 && ip.is_fragment()
}

/// Bytes of the transport header a first fragment must hold to be checked.
fn transport_min(proto: u8) -> usize {
    match proto {
        6 => 20,
        17 | 1 => 8,
        _ => 0,
    }
}

fn parse(p: &[u8]) -> Option<Frag<'_>> {
    let ip = Ipv4Packet::new_checked(p).ok()?;
    let ihl = ip.header_len();
    let total = usize::from(ip.total_len());
    let more = ip.more_frags();
    let data = p.get(ihl..total)?;
    if data.is_empty() || (more && data.len() % 8 != 0) {
        return None;
    }
    Some(Frag {
        key: (ip.src_addr(), ip.dst_addr(), ip.next_header(), ip.ident()),
        whole: p.get(..total)?,
        header: p.get(..ihl)?,
        off: usize::from(ip.frag_offset()),
        more,
        data,
    })
}

/// Reassembles IPv4 datagrams from their fragments within [`Limits`].
#[derive(Debug)]
pub struct Reassembler {
    limits: Limits,
    pending: BTreeMap<Key, Pending>,
    by_deadline: BTreeMap<(Instant, u64), Key>,
    per_source: BTreeMap<Ipv4Addr, usize>,
    total: usize,
    serial: u64,
    stats: FragStats,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            pending: BTreeMap::new(),
            by_deadline: BTreeMap::new(),
            per_source: BTreeMap::new(),
            total: 0,
            serial: 0,
            stats: FragStats::default(),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// New bounds (datagrams already waiting stay until they complete or expire).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Counters.
    pub fn stats(&self) -> &FragStats {
        &self.stats
    }

    /// Datagrams waiting.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held (data and first-fragment headers).
    pub fn held_bytes(&self) -> usize {
        self.total
    }

    /// When the oldest waiting datagram times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(t, _)| *t)
    }

    fn count(&mut self, d: FragDrop) {
        if let Some(n) = self.stats.drops.get_mut(d.index()) {
            *n = n.saturating_add(1);
        }
    }

    /// Drops the datagrams whose time ran out; how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut n = 0usize;
        while let Some((&(t, s), &key)) = self.by_deadline.iter().next() {
            if t > now {
                break;
            }
            self.by_deadline.remove(&(t, s));
            if self.release(&key).is_some() {
                self.count(FragDrop::Timeout);
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// Removes a datagram and gives its bytes back to the budgets.
    fn release(&mut self, key: &Key) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.by_deadline.remove(&(p.deadline, p.serial));
        self.total = self.total.saturating_sub(p.charged);
        if let Some(b) = self.per_source.get_mut(&key.0) {
            *b = b.saturating_sub(p.charged);
            if *b == 0 {
                self.per_source.remove(&key.0);
            }
        }
        Some(p)
    }

    /// Drops a datagram for `why`; the error to return.
    fn fail(&mut self, key: &Key, why: FragDrop) -> Result<Option<Vec<u8>>, FragDrop> {
        let _ = self.release(key);
        self.count(why);
        Err(why)
    }

    /// Takes one packet. A fragment is held (`Ok(None)`) until its datagram is
    /// complete, which is then returned whole (`Ok(Some)`: header of the first
    /// fragment, fragment fields cleared, total length and checksum set); a packet that
    /// is no fragment comes back as it is. `Err` is why the fragment was dropped
    /// (counted; the reason says whether its datagram went too).
    ///
    /// # Errors
    /// The [`FragDrop`] reason.
    pub fn push(&mut self, now: Instant, packet: &[u8]) -> Result<Option<Vec<u8>>, FragDrop> {
        self.expire(now);
        let Some(f) = parse(packet) else {
            self.stats.fragments = self.stats.fragments.saturating_add(1);
            self.count(FragDrop::Malformed);
            return Err(FragDrop::Malformed);
        };
        if f.off == 0 && !f.more {
            return Ok(Some(f.whole.to_vec()));
        }
        self.stats.fragments = self.stats.fragments.saturating_add(1);
        let key = f.key;
        if self.limits.chain <= 1 {
            self.count(FragDrop::Chain);
            return Err(FragDrop::Chain);
        }
        // The end of this fragment's data, and of the whole datagram with the header.
        let Some(end) = f.off.checked_add(f.data.len()) else {
            return self.fail(&key, FragDrop::TooLong);
        };
        if end.checked_add(f.header.len()).is_none_or(|n| n > 65_535) {
            return self.fail(&key, FragDrop::TooLong);
        }
        if f.off == 0 && f.data.len() < transport_min(key.2) {
            return self.fail(&key, FragDrop::TinyFirst);
        }
        // What this fragment costs the budgets (its data; the header if it is first).
        let cost = f
            .data
            .len()
            .saturating_add(if f.off == 0 { f.header.len() } else { 0 });
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.limits.datagrams {
                self.count(FragDrop::Datagrams);
                return Err(FragDrop::Datagrams);
            }
            self.serial = self.serial.wrapping_add(1);
            let deadline = now.checked_add(self.limits.timeout).unwrap_or(now);
            self.pending.insert(
                key,
                Pending {
                    deadline,
                    serial: self.serial,
                    header: None,
                    end: None,
                    pieces: Vec::new(),
                    data: 0,
                    charged: 0,
                },
            );
            self.by_deadline.insert((deadline, self.serial), key);
        }
        let Some(p) = self.pending.get(&key) else {
            return Err(FragDrop::Malformed);
        };
        // Where the datagram ends: the last fragment says, every fragment agrees.
        if !f.more {
            if p.end.is_some_and(|e| e != end)
                || p.pieces
                    .last()
                    .is_some_and(|l| l.off.saturating_add(l.data.len()) > end)
            {
                return self.fail(&key, FragDrop::BadEnd);
            }
        } else if p.end.is_some_and(|e| end >= e) {
            return self.fail(&key, FragDrop::BadEnd);
        }
        // Overlap: the pieces are sorted and disjoint, so only the neighbours matter.
        let at = p.pieces.partition_point(|q| q.off < f.off);
        if let Some(q) = p.pieces.get(at).filter(|q| q.off == f.off) {
            if q.data.as_slice() == f.data {
                self.count(FragDrop::Duplicate);
                return Err(FragDrop::Duplicate);
            }
            return self.fail(&key, FragDrop::Overlap);
        }
        let before_overlaps = at
            .checked_sub(1)
            .and_then(|i| p.pieces.get(i))
            .is_some_and(|q| q.off.saturating_add(q.data.len()) > f.off);
        let after_overlaps = p.pieces.get(at).is_some_and(|q| q.off < end);
        if before_overlaps || after_overlaps {
            return self.fail(&key, FragDrop::Overlap);
        }
        if p.pieces.len() >= self.limits.chain {
            return self.fail(&key, FragDrop::Chain);
        }
        let src_held = self.per_source.get(&key.0).copied().unwrap_or(0);
        if src_held
            .checked_add(cost)
            .is_none_or(|n| n > self.limits.per_source_bytes)
        {
            return self.fail(&key, FragDrop::SourceBytes);
        }
        if self
            .total
            .checked_add(cost)
            .is_none_or(|n| n > self.limits.total_bytes)
        {
            return self.fail(&key, FragDrop::TotalBytes);
        }
        // Within every bound: hold it.
        self.total = self.total.saturating_add(cost);
        *self.per_source.entry(key.0).or_insert(0) = src_held.saturating_add(cost);
        let Some(p) = self.pending.get_mut(&key) else {
            return Err(FragDrop::Malformed);
        };
        p.charged = p.charged.saturating_add(cost);
        p.data = p.data.saturating_add(f.data.len());
        if f.off == 0 {
            p.header = Some(f.header.to_vec());
        }
        if !f.more {
            p.end = Some(end);
        }
        p.pieces.insert(
            at,
            Piece {
                off: f.off,
                data: f.data.to_vec(),
            },
        );
        let complete = p.header.is_some() && p.end == Some(p.data);
        if !complete {
            return Ok(None);
        }
        let Some(p) = self.release(&key) else {
            return Err(FragDrop::Malformed);
        };
        match assemble(&p) {
            Some(d) => {
                self.stats.reassembled = self.stats.reassembled.saturating_add(1);
                Ok(Some(d))
            }
            None => {
                self.count(FragDrop::Malformed);
                Err(FragDrop::Malformed)
            }
        }
    }
}

/// The datagram of a complete entry: the first fragment's header, fragment fields
/// cleared, then the pieces in order. `None` unless the pieces cover exactly
/// `0..end` (the caller's invariant, checked again) and it fits 65,535 bytes.
fn assemble(p: &Pending) -> Option<Vec<u8>> {
    let header = p.header.as_deref()?;
    let end = p.end?;
    let total = header.len().checked_add(end)?;
    let total16 = u16::try_from(total).ok()?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(header);
    let mut next = 0usize;
    for q in &p.pieces {
        if q.off != next {
            return None;
        }
        out.extend_from_slice(&q.data);
        next = next.checked_add(q.data.len())?;
    }
    if next != end || out.len() != total {
        return None;
    }
    // Keep DF and the reserved bit; clear More Fragments and the offset.
    *out.get_mut(6)? &= 0xc0;
    *out.get_mut(7)? = 0;
    let mut ip = Ipv4Packet::new_unchecked(&mut out[..]);
    ip.set_total_len(total16);
    ip.fill_checksum();
    Some(out)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::arithmetic_side_effects)] // tests: a real clock for a start instant; small sizes
mod tests {
    use super::*;

    /// A datagram of `proto` with `len` bytes of data (a pattern), id `id`.
    fn datagram(src: [u8; 4], proto: u8, id: u16, len: usize) -> Vec<u8> {
        let total = u16::try_from(20 + len).unwrap();
        let mut d = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        d[2..4].copy_from_slice(&total.to_be_bytes());
        d[4..6].copy_from_slice(&id.to_be_bytes());
        d.extend_from_slice(&src);
        d.extend_from_slice(&[10, 0, 0, 9]);
        d.extend((0..len).map(|i| (i % 251) as u8));
        let s = pix_primitives::ipv4::ones_complement_sum(&d[..20]);
        d[10..12].copy_from_slice(&(!s).to_be_bytes());
        d
    }

    /// The fragment of `d` carrying data `off..off+len`.
    fn frag(d: &[u8], off: usize, len: usize, more: bool) -> Vec<u8> {
        let mut f = d[..20].to_vec();
        f[2..4].copy_from_slice(&u16::try_from(20 + len).unwrap().to_be_bytes());
        let ff = u16::try_from(off / 8).unwrap() | if more { 0x2000 } else { 0 };
        f[6..8].copy_from_slice(&ff.to_be_bytes());
        f.extend_from_slice(&d[20 + off..20 + off + len]);
        f
    }

    fn check_header(d: &[u8]) {
        assert_eq!(
            pix_primitives::ipv4::ones_complement_sum(&d[..20]),
            0xffff,
            "header checksum"
        );
    }

    #[test]
    fn reassembles_in_any_order() {
        let d = datagram([10, 0, 0, 1], 1, 7, 4000);
        let now = Instant::now();
        let mut r = Reassembler::new(Limits::default());
        assert_eq!(r.push(now, &frag(&d, 1480, 1480, true)), Ok(None));
        assert_eq!(r.push(now, &frag(&d, 2960, 1040, false)), Ok(None));
        assert_eq!(r.waiting(), 1);
        let got = r.push(now, &frag(&d, 0, 1480, true)).unwrap().unwrap();
        assert_eq!(got, d);
        check_header(&got);
        assert_eq!((r.waiting(), r.held_bytes()), (0, 0));
        assert_eq!(r.stats().reassembled, 1);
        assert_eq!(r.stats().fragments, 3);
    }

    #[test]
    fn whole_packet_passes_through() {
        let d = datagram([10, 0, 0, 1], 17, 1, 100);
        let mut r = Reassembler::new(Limits::default());
        assert_eq!(r.push(Instant::now(), &d), Ok(Some(d.clone())));
        assert!(!is_fragment(&d));
        assert!(is_fragment(&frag(&d, 0, 48, true)));
    }

    #[test]
    fn overlap_and_conflicting_duplicate_drop_the_datagram() {
        let d = datagram([10, 0, 0, 1], 17, 2, 64);
        let now = Instant::now();
        let mut r = Reassembler::new(Limits::default());
        assert_eq!(r.push(now, &frag(&d, 0, 32, true)), Ok(None));
        // identical repeat: ignored
        assert_eq!(
            r.push(now, &frag(&d, 0, 32, true)),
            Err(FragDrop::Duplicate)
        );
        assert_eq!(r.waiting(), 1);
        // overlapping the first piece
        assert_eq!(
            r.push(now, &frag(&d, 24, 40, false)),
            Err(FragDrop::Overlap)
        );
        assert_eq!((r.waiting(), r.held_bytes()), (0, 0));
        // same offset, different data
        assert_eq!(r.push(now, &frag(&d, 0, 32, true)), Ok(None));
        let mut other = frag(&d, 0, 32, true);
        other[30] ^= 0xff;
        assert_eq!(r.push(now, &other), Err(FragDrop::Overlap));
        assert_eq!(r.waiting(), 0);
        assert_eq!(r.stats().drops_of(FragDrop::Overlap), 2);
        assert_eq!(r.stats().drops_of(FragDrop::Duplicate), 1);
    }

    #[test]
    fn tiny_first_fragment_and_malformed() {
        let d = datagram([10, 0, 0, 1], 6, 3, 64);
        let now = Instant::now();
        let mut r = Reassembler::new(Limits::default());
        assert_eq!(
            r.push(now, &frag(&d, 0, 16, true)),
            Err(FragDrop::TinyFirst)
        );
        // not a multiple of 8 before the end
        assert_eq!(
            r.push(now, &frag(&d, 0, 28, true)),
            Err(FragDrop::Malformed)
        );
        assert_eq!(r.push(now, &[0x45, 0, 0]), Err(FragDrop::Malformed));
        assert_eq!(r.push(now, &[]), Err(FragDrop::Malformed));
        assert_eq!(r.waiting(), 0);
    }

    #[test]
    fn too_long_and_inconsistent_end() {
        let d = datagram([10, 0, 0, 1], 17, 4, 80);
        let now = Instant::now();
        let mut r = Reassembler::new(Limits::default());
        // offset 65,528 + 16 bytes: past 65,535
        let mut f = frag(&d, 0, 16, false);
        f[6..8].copy_from_slice(&(65_528u16 / 8).to_be_bytes());
        assert_eq!(r.push(now, &f), Err(FragDrop::TooLong));
        assert_eq!(r.push(now, &frag(&d, 32, 32, false)), Ok(None));
        assert_eq!(r.push(now, &frag(&d, 40, 16, false)), Err(FragDrop::BadEnd));
        assert_eq!(r.waiting(), 0);
        assert_eq!(r.push(now, &frag(&d, 32, 32, false)), Ok(None));
        assert_eq!(r.push(now, &frag(&d, 64, 8, true)), Err(FragDrop::BadEnd));
    }

    #[test]
    fn bounds_chain_size_bytes_and_timeout() {
        let now = Instant::now();
        let limits = Limits {
            chain: 3,
            datagrams: 2,
            timeout: Duration::from_secs(5),
            per_source_bytes: 1000,
            total_bytes: 1500,
        };
        let mut r = Reassembler::new(limits);
        let d = datagram([10, 0, 0, 1], 17, 1, 64);
        for i in 0..3 {
            assert_eq!(r.push(now, &frag(&d, 8 * i, 8, true)), Ok(None));
        }
        assert_eq!(r.push(now, &frag(&d, 24, 8, true)), Err(FragDrop::Chain));
        assert_eq!(r.waiting(), 0);
        // fragment size: a third datagram is refused, the two waiting stay
        for id in [10, 11] {
            let d = datagram([10, 0, 0, 1], 17, id, 64);
            assert_eq!(r.push(now, &frag(&d, 8, 8, true)), Ok(None));
        }
        let d3 = datagram([10, 0, 0, 2], 17, 12, 64);
        assert_eq!(
            r.push(now, &frag(&d3, 8, 8, true)),
            Err(FragDrop::Datagrams)
        );
        assert_eq!(r.waiting(), 2);
        // timeout
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(5)));
        assert_eq!(r.expire(now + Duration::from_secs(5)), 2);
        assert_eq!((r.waiting(), r.held_bytes()), (0, 0));
        assert_eq!(r.stats().drops_of(FragDrop::Timeout), 2);
        // bytes per source, then in all
        let big = datagram([10, 0, 0, 1], 17, 20, 2000);
        assert_eq!(r.push(now, &frag(&big, 0, 800, true)), Ok(None));
        assert_eq!(
            r.push(now, &frag(&big, 800, 400, true)),
            Err(FragDrop::SourceBytes)
        );
        assert_eq!(r.held_bytes(), 0);
        let a = datagram([10, 0, 0, 1], 17, 21, 2000);
        let b = datagram([10, 0, 0, 2], 17, 22, 2000);
        assert_eq!(r.push(now, &frag(&a, 8, 896, true)), Ok(None));
        assert_eq!(r.push(now, &frag(&b, 8, 600, true)), Ok(None));
        assert_eq!(
            r.push(now, &frag(&b, 608, 200, true)),
            Err(FragDrop::TotalBytes)
        );
        assert_eq!(r.held_bytes(), 896);
        assert_eq!(r.stats().drop_total(), 6);
    }

    #[test]
    fn chain_one_refuses_every_fragment() {
        let mut r = Reassembler::new(Limits {
            chain: 1,
            ..Limits::default()
        });
        let d = datagram([10, 0, 0, 1], 17, 1, 64);
        assert_eq!(
            r.push(Instant::now(), &frag(&d, 0, 32, true)),
            Err(FragDrop::Chain)
        );
        assert_eq!(r.waiting(), 0);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A datagram cut at random multiples of 8, its fragments in a random order.
        fn cut(len: usize, cuts: &[usize], order: &[usize]) -> (Vec<u8>, Vec<Vec<u8>>) {
            let d = datagram([10, 0, 0, 1], 17, 99, len);
            let mut points: Vec<usize> = cuts.iter().map(|c| (c % len) / 8 * 8).collect();
            points.push(0);
            points.sort_unstable();
            points.dedup();
            points.retain(|p| *p < len);
            let mut frags: Vec<Vec<u8>> = points
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    let e = points.get(i + 1).copied().unwrap_or(len);
                    frag(&d, s, e - s, e < len)
                })
                .collect();
            for (i, o) in order.iter().enumerate() {
                let n = frags.len();
                frags.swap(i % n, o % n);
            }
            (d, frags)
        }

        proptest! {
            /// Random fragmentations of random datagrams, in random order, give the
            /// datagram back, and nothing stays held.
            #[test]
            fn any_order_reassembles(
                len in 9usize..6000,
                cuts in proptest::collection::vec(any::<usize>(), 1..20),
                order in proptest::collection::vec(any::<usize>(), 0..30),
            ) {
                let (d, frags) = cut(len, &cuts, &order);
                prop_assume!(frags.len() > 1);
                let now = Instant::now();
                let mut r = Reassembler::new(Limits::default());
                let n = frags.len();
                for (i, f) in frags.iter().enumerate() {
                    let got = r.push(now, f).unwrap();
                    if i + 1 < n {
                        prop_assert!(got.is_none());
                    } else {
                        prop_assert_eq!(got.as_deref(), Some(d.as_slice()));
                    }
                }
                prop_assert_eq!((r.waiting(), r.held_bytes()), (0, 0));
                prop_assert_eq!(r.stats().drop_total(), 0);
            }

            /// Garbage and mutated fragments never panic, and what is held stays
            /// within every bound.
            #[test]
            fn garbage_stays_bounded(
                packets in proptest::collection::vec(
                    (proptest::collection::vec(any::<u8>(), 0..200), any::<u16>(), any::<u16>(), 0u8..4, any::<u8>()),
                    1..300),
            ) {
                let limits = Limits {
                    chain: 5,
                    datagrams: 8,
                    timeout: Duration::from_secs(5),
                    per_source_bytes: 3000,
                    total_bytes: 5000,
                };
                let start = Instant::now();
                let mut r = Reassembler::new(limits);
                for (i, (mut p, ff, id, src, secs)) in packets.into_iter().enumerate() {
                    // half the packets look like fragments of a few datagrams
                    if i % 2 == 0 && p.len() >= 20 {
                        p[0] = 0x45;
                        let total = u16::try_from(p.len()).unwrap();
                        p[2..4].copy_from_slice(&total.to_be_bytes());
                        p[4..6].copy_from_slice(&(id % 16).to_be_bytes());
                        p[6..8].copy_from_slice(&(ff & 0x3fff).to_be_bytes());
                        p[12..16].copy_from_slice(&[10, 0, 0, src]);
                    }
                    let now = start + Duration::from_millis(u64::from(secs) * 40 * (i as u64 % 4));
                    if let Ok(Some(out)) = r.push(now, &p) {
                        prop_assert!(out.len() <= 65_535);
                    }
                    prop_assert!(r.waiting() <= limits.datagrams);
                    prop_assert!(r.held_bytes() <= limits.total_bytes);
                    for s in 0..4u8 {
                        let held = r.per_source.get(&Ipv4Addr::new(10, 0, 0, s)).copied().unwrap_or(0);
                        prop_assert!(held <= limits.per_source_bytes);
                    }
                    for p in r.pending.values() {
                        prop_assert!(p.pieces.len() <= limits.chain);
                    }
                }
                let sum: usize = r.pending.values().map(|p| p.charged).sum();
                prop_assert_eq!(sum, r.held_bytes());
                prop_assert_eq!(r.by_deadline.len(), r.pending.len());
            }
        }
    }
}
