//! Admission of new phase-1 negotiations when the gateway is on the hostile Internet.
//!
//! IKEv1 has no stateless cookie exchange: every first message (MM1, AM1) costs state,
//! and in Aggressive Mode a Diffie-Hellman. The rules here keep real users in under a
//! flood of spoofed first messages (DESIGN.md, "Admission under attack"):
//!
//! - **Shed, never refuse.** The half-open table (`Limits::max_half_open`) never refuses
//!   a new peer because others are waiting: when it is full, one half-open SA is
//!   *evicted* (counted as [`Refusal::HalfOpenEvicted`](crate::Refusal)). The victim is
//!   picked in the most crowded /16, within it the most crowded /24, within that the most
//!   crowded /32 (ties broken at a random point), and then a random SA of that address.
//!   A flood from one range therefore only ever evicts its own SAs while another range
//!   holds fewer; inside one /24 a peer with fewer half-open SAs than the busiest address
//!   is never the victim.
//! - **Per-address cap.** One address holds at most `Limits::max_half_open_per_peer`
//!   half-open SAs; a new first message over it evicts that address's *oldest* half-open
//!   SA (instead of refusing: a client that restarted, or whose address a spoofer uses,
//!   still gets its newest negotiation answered).
//! - **Proven peers last.** Addresses that completed phase 1 recently (a bounded FIFO of
//!   `Limits::recent_peers`), and Main Mode SAs whose peer sent MM3 (it received our
//!   cookie, so its address is real), are filed apart and evicted only when no other
//!   half-open SA is left (at most a quarter of the table is kept apart this way). A peer
//!   that merely retransmits its first message gets no preference (a spoofer can send
//!   twice as cheaply); but each retransmission of an evicted negotiation starts afresh
//!   and so gets a new chance.
//! - **Pressure.** With at least `Limits::pressure_half_open` half-open SAs the wait for
//!   the next message is `Limits::half_open_timeout_under_pressure` instead of
//!   `Limits::half_open_timeout`, and the responder reuses one DH key pair per group for
//!   `Limits::dh_reuse_window` (see [`Admission::shared_key_pair`]).
//! - **Rate per source after the proposal.** New negotiations per source address and
//!   second are counted in two fixed arrays of hashed buckets (keyed with a secret drawn
//!   from the endpoint's rng at first use): a source is refused only when both of its
//!   buckets are over `Limits::new_sas_per_peer_per_sec` (a count-min sketch), so the
//!   structure never grows and never refuses everyone.
//!
//! Every operation on a first message is O(log n) in the half-open SAs (ordered maps),
//! or O(`max_half_open_per_peer`) for the SAs of one address: nothing walks the table.

use super::SaId;
use crate::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use crate::crypto::hash::HashAlg;
use crate::SmError;
use core::net::{IpAddr, SocketAddr};
use pix_primitives::Secret;
use rand_core::CryptoRng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Buckets in each of the two rate arrays.
const RATE_BUCKETS: usize = 16_384;

/// The half-open table key: the initiator cookie and the peer's address.
pub(crate) type HalfOpenKey = ([u8; 8], SocketAddr);

/// One half-open SA.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: HalfOpenKey,
    ip: u32,
    /// Filed apart (a recently completed peer), not in the crowd counts.
    protected: bool,
}

/// A 32-bit source key whose /16, /24 and /32 are the prefixes fairness is kept over:
/// the address itself for IPv4; for IPv6 the first 16 bits, then one byte of the /48 and
/// one of the /64 (a site and a subnet stand for the /24 and the /32).
pub(crate) fn source_key(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let [b0, b1, _, _, _, b5, _, b7, ..] = o;
            u32::from_be_bytes([b0, b1, b5, b7])
        }
    }
}

/// One rate bucket: the second it counts (whole seconds since the first use) and the
/// count.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    second: u32,
    count: u32,
}

/// The per-source rate of new negotiations (see the module docs).
struct Rate {
    secret: zeroize::Zeroizing<[u8; 16]>,
    base: Instant,
    buckets: Vec<Bucket>,
}

/// A key pair the responder reuses under pressure, with the time it was made.
struct Reused {
    kp: Arc<KeyPair>,
    made: Instant,
    /// Initiator with `Limits::initiator_dh_agreement_cache` (load testing only): the
    /// shared secrets of this key pair with peer public values, oldest first, at most
    /// the configured number. Zeroized when dropped (with the key pair, or evicted).
    agreements: VecDeque<(Box<[u8]>, Secret)>,
}

/// The admission state of an endpoint (see the module docs).
#[derive(Default)]
pub(crate) struct Admission {
    entries: BTreeMap<SaId, Entry>,
    by_key: BTreeMap<HalfOpenKey, SaId>,
    by_ip: BTreeSet<(u32, SaId)>,
    n32: BTreeMap<u32, u32>,
    n24: BTreeMap<u32, u32>,
    n16: BTreeMap<u32, u32>,
    /// (count, /16) of every /16 with half-open SAs.
    top16: BTreeSet<(u32, u32)>,
    /// (/16, count, /24).
    top24: BTreeSet<(u32, u32, u32)>,
    /// (/24, count, address).
    top32: BTreeSet<(u32, u32, u32)>,
    /// Half-open SAs of recently completed peers, oldest first (ids grow).
    protected: BTreeSet<SaId>,
    recent: VecDeque<u32>,
    recent_set: BTreeMap<u32, u32>,
    rate: Option<Rate>,
    reuse: BTreeMap<u16, Reused>,
    /// The initiator's reused key pairs (`Limits::initiator_dh_reuse`, load testing).
    initiator_reuse: BTreeMap<u16, Reused>,
    /// Phase-1 modular exponentiations the responder did (key pairs and agreements).
    pub(crate) modexps: u64,
    /// Phase-1 modular exponentiations the initiator did (key pairs and agreements).
    pub(crate) initiator_modexps: u64,
}

impl core::fmt::Debug for Admission {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Admission")
            .field("half_open", &self.entries.len())
            .field("protected", &self.protected.len())
            .field("reused_key_pairs", &self.reuse.len())
            .finish_non_exhaustive()
    }
}

fn bump(map: &mut BTreeMap<u32, u32>, k: u32, up: bool) -> (u32, u32) {
    let old = map.get(&k).copied().unwrap_or(0);
    let new = if up {
        old.saturating_add(1)
    } else {
        old.saturating_sub(1)
    };
    if new == 0 {
        map.remove(&k);
    } else {
        map.insert(k, new);
    }
    (old, new)
}

impl Admission {
    /// Half-open SAs filed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The half-open SA of a first message's initiator cookie and source.
    pub(crate) fn get(&self, key: &HalfOpenKey) -> Option<SaId> {
        self.by_key.get(key).copied()
    }

    /// Half-open SAs of one source address.
    pub(crate) fn of_address(&self, ip: IpAddr) -> usize {
        let k = source_key(ip);
        let n = self.by_ip.range((k, SaId(0))..=(k, SaId(u64::MAX))).count();
        n
    }

    /// Files a new half-open SA.
    pub(crate) fn insert(&mut self, id: SaId, key: HalfOpenKey, max_protected: usize) {
        let ip = source_key(key.1.ip());
        let protected = self.recent_set.contains_key(&ip) && self.protected.len() < max_protected;
        self.entries.insert(id, Entry { key, ip, protected });
        self.by_key.insert(key, id);
        self.by_ip.insert((ip, id));
        if protected {
            self.protected.insert(id);
        } else {
            self.count(ip, true);
        }
    }

    /// The peer of a half-open SA proved its address (Main Mode: MM3 came back with our
    /// responder cookie): the SA is filed apart and evicted last, like a recent peer's,
    /// while there is room apart (`max_protected`).
    pub(crate) fn promote(&mut self, id: SaId, max_protected: usize) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if e.protected || self.protected.len() >= max_protected {
            return;
        }
        e.protected = true;
        let ip = e.ip;
        self.protected.insert(id);
        self.count(ip, false);
    }

    /// Removes an SA from the half-open table (phase 1 completed, or the SA died).
    pub(crate) fn remove(&mut self, id: SaId) -> bool {
        let Some(e) = self.entries.remove(&id) else {
            return false;
        };
        self.by_key.remove(&e.key);
        self.by_ip.remove(&(e.ip, id));
        if e.protected {
            self.protected.remove(&id);
        } else {
            self.count(e.ip, false);
        }
        true
    }

    /// Moves the crowd counts of address `ip` by one.
    fn count(&mut self, ip: u32, up: bool) {
        let (p24, p16) = (ip >> 8, ip >> 16);
        let (o32, n32) = bump(&mut self.n32, ip, up);
        let (o24, n24) = bump(&mut self.n24, p24, up);
        let (o16, n16) = bump(&mut self.n16, p16, up);
        self.top32.remove(&(p24, o32, ip));
        self.top24.remove(&(p16, o24, p24));
        self.top16.remove(&(o16, p16));
        if n32 > 0 {
            self.top32.insert((p24, n32, ip));
        }
        if n24 > 0 {
            self.top24.insert((p16, n24, p24));
        }
        if n16 > 0 {
            self.top16.insert((n16, p16));
        }
    }

    /// The oldest half-open SA of one address.
    pub(crate) fn oldest_of(&self, ip: IpAddr) -> Option<SaId> {
        let k = source_key(ip);
        self.by_ip
            .range((k, SaId(0))..=(k, SaId(u64::MAX)))
            .next()
            .map(|(_, id)| *id)
    }

    /// The half-open SA to evict when the table is full (see the module docs).
    pub(crate) fn victim<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Option<SaId> {
        let r = super::random_u32(rng);
        let Some(&(c16, _)) = self.top16.last() else {
            return self.protected.first().copied();
        };
        // Among the /16s with the highest count, the first at or after a random point.
        let start16 = r >> 16;
        let (_, p16) = *self
            .top16
            .range((c16, start16)..=(c16, u32::MAX))
            .next()
            .or_else(|| self.top16.range((c16, 0)..=(c16, u32::MAX)).next())?;
        let (_, c24, _) = *self
            .top24
            .range((p16, 0, 0)..=(p16, u32::MAX, u32::MAX))
            .next_back()?;
        let start24 = (p16 << 8) | ((r >> 8) & 0xff);
        let (_, _, p24) = *self
            .top24
            .range((p16, c24, start24)..=(p16, c24, u32::MAX))
            .next()
            .or_else(|| {
                self.top24
                    .range((p16, c24, 0)..=(p16, c24, u32::MAX))
                    .next()
            })?;
        let (_, c32, _) = *self
            .top32
            .range((p24, 0, 0)..=(p24, u32::MAX, u32::MAX))
            .next_back()?;
        let start32 = (p24 << 8) | (r & 0xff);
        let (_, _, ip) = *self
            .top32
            .range((p24, c32, start32)..=(p24, c32, u32::MAX))
            .next()
            .or_else(|| {
                self.top32
                    .range((p24, c32, 0)..=(p24, c32, u32::MAX))
                    .next()
            })?;
        // A random SA of that address (at most `max_half_open_per_peer` of them), skipping
        // any filed apart.
        let ids: Vec<SaId> = self
            .by_ip
            .range((ip, SaId(0))..=(ip, SaId(u64::MAX)))
            .map(|(_, id)| *id)
            .filter(|id| !self.protected.contains(id))
            .collect();
        let n = u32::try_from(ids.len()).ok().filter(|n| *n > 0)?;
        let pick = usize::try_from(super::random_u32(rng).checked_rem(n)?).ok()?;
        ids.get(pick).copied()
    }

    /// An address completed phase 1: remembered (FIFO of `max`) so that its next
    /// negotiations are evicted last.
    pub(crate) fn completed(&mut self, ip: IpAddr, max: usize) {
        if max == 0 {
            return;
        }
        let k = source_key(ip);
        while self.recent.len() >= max {
            let Some(old) = self.recent.pop_front() else {
                break;
            };
            bump(&mut self.recent_set, old, false);
        }
        self.recent.push_back(k);
        bump(&mut self.recent_set, k, true);
    }

    /// Counts one new negotiation from `ip`; false when that source is over `max` per
    /// second (both of its buckets over the limit).
    pub(crate) fn rate_ok<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        ip: IpAddr,
        max: u32,
        rng: &mut R,
    ) -> bool {
        let rate = self.rate.get_or_insert_with(|| Rate {
            secret: zeroize::Zeroizing::new(super::random_bytes(rng)),
            base: now,
            buckets: vec![Bucket::default(); RATE_BUCKETS.saturating_mul(2)],
        });
        let second =
            u32::try_from(now.saturating_duration_since(rate.base).as_secs()).unwrap_or(u32::MAX);
        let k = source_key(ip).to_be_bytes();
        let d = HashAlg::Sha1.digest(&[&rate.secret[..], &k]);
        let d = d.as_ref();
        let idx = |i: usize| {
            let b = d.get(i..i.saturating_add(4)).unwrap_or(&[0; 4]);
            let v = u32::from_be_bytes([
                b.first().copied().unwrap_or(0),
                b.get(1).copied().unwrap_or(0),
                b.get(2).copied().unwrap_or(0),
                b.get(3).copied().unwrap_or(0),
            ]);
            usize::try_from(v).unwrap_or(0) % RATE_BUCKETS
        };
        let slots = [idx(0), RATE_BUCKETS.saturating_add(idx(4))];
        let mut min = u32::MAX;
        for s in slots {
            if let Some(b) = rate.buckets.get_mut(s) {
                if b.second != second {
                    *b = Bucket { second, count: 0 };
                }
                min = min.min(b.count);
            }
        }
        if min >= max {
            return false;
        }
        for s in slots {
            if let Some(b) = rate.buckets.get_mut(s) {
                b.count = b.count.saturating_add(1);
            }
        }
        true
    }

    /// The key pair a responder uses for `group` under pressure: one per group, made
    /// afresh once `window` has passed since it was made (a new one, never an extended
    /// one). In memory only (never across restarts); the private exponent is zeroized
    /// when the last SA using it goes. Cf. RFC 7296 section 2.12: reusing DH exponents
    /// for a short time is acceptable; the nonces (fresh per SA) keep every SA's keys
    /// distinct.
    pub(crate) fn shared_key_pair<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        group: DhGroup,
        size: ExponentSize,
        window: Duration,
        rng: &mut R,
    ) -> Result<Arc<KeyPair>, SmError> {
        reused_or_new(
            &mut self.reuse,
            &mut self.modexps,
            now,
            group,
            size,
            window,
            rng,
        )
    }

    /// The key pair an initiator uses for `group` with `Limits::initiator_dh_reuse` on
    /// (load testing only): one per group, made afresh once `window` has passed since it
    /// was made. Kept apart from the responder's, and counted in `initiator_modexps`, not
    /// in `modexps` (which counts what the responder pays).
    pub(crate) fn initiator_key_pair<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        group: DhGroup,
        size: ExponentSize,
        window: Duration,
        rng: &mut R,
    ) -> Result<Arc<KeyPair>, SmError> {
        reused_or_new(
            &mut self.initiator_reuse,
            &mut self.initiator_modexps,
            now,
            group,
            size,
            window,
            rng,
        )
    }

    /// The initiator's shared secret of `kp` with `peer`. With `cache` > 0 (the
    /// `Limits::initiator_dh_agreement_cache` load-testing knob) and `kp` the group's
    /// current reused key pair, an agreement with exactly this peer value is taken from
    /// that key pair's cache (no modexp) and a new one is added to it, the oldest going
    /// once `cache` are held. Otherwise computed; every computation is counted in
    /// `initiator_modexps`. The peer value is validated either way.
    pub(crate) fn initiator_agree(
        &mut self,
        kp: &Arc<KeyPair>,
        peer: &[u8],
        cache: usize,
    ) -> Result<Secret, SmError> {
        let entry = if cache == 0 {
            None
        } else {
            self.initiator_reuse
                .get_mut(&kp.group().attribute())
                .filter(|r| Arc::ptr_eq(&r.kp, kp))
        };
        let Some(r) = entry else {
            let g_xy = kp.agree(peer)?;
            self.initiator_modexps = self.initiator_modexps.saturating_add(1);
            return Ok(g_xy);
        };
        kp.group().validate_public_value(peer)?;
        if let Some((_, g_xy)) = r.agreements.iter().find(|(p, _)| **p == *peer) {
            return Ok(g_xy.duplicate());
        }
        let g_xy = kp.agree(peer)?;
        self.initiator_modexps = self.initiator_modexps.saturating_add(1);
        while r.agreements.len() >= cache {
            r.agreements.pop_front();
        }
        r.agreements.push_back((peer.into(), g_xy.duplicate()));
        Ok(g_xy)
    }

    /// Drops reused key pairs whose window passed (called when pressure ends, so that an
    /// idle gateway holds no long-lived exponent).
    pub(crate) fn expire_key_pairs(&mut self, now: Instant, window: Duration) {
        self.reuse
            .retain(|_, r| now.saturating_duration_since(r.made) < window);
    }
}

/// The key pair kept in `table` for `group` while it is younger than `window`, else a
/// new one (counted in `modexps`) that replaces it: the one rule of the responder's
/// reuse under pressure and of the load-testing initiator's.
fn reused_or_new<R: CryptoRng + ?Sized>(
    table: &mut BTreeMap<u16, Reused>,
    modexps: &mut u64,
    now: Instant,
    group: DhGroup,
    size: ExponentSize,
    window: Duration,
    rng: &mut R,
) -> Result<Arc<KeyPair>, SmError> {
    let g = group.attribute();
    if let Some(r) = table.get(&g) {
        if now.saturating_duration_since(r.made) < window && now >= r.made {
            return Ok(Arc::clone(&r.kp));
        }
    }
    let kp = Arc::new(KeyPair::generate(group, size, rng)?);
    *modexps = modexps.saturating_add(1);
    table.insert(
        g,
        Reused {
            kp: Arc::clone(&kp),
            made: now,
            agreements: VecDeque::new(),
        },
    );
    Ok(kp)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::arithmetic_side_effects,
        clippy::disallowed_methods
    )]
    use super::*;
    use core::net::Ipv4Addr;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn key(ip: [u8; 4], c: u8) -> HalfOpenKey {
        ([c; 8], SocketAddr::from((Ipv4Addr::from(ip), 500)))
    }

    /// Model check: the victim always comes from a /16 with the most half-open SAs, and
    /// removal restores every count.
    #[test]
    fn victim_is_in_the_most_crowded_prefix_and_counts_balance() {
        let mut a = Admission::default();
        let mut rng = StdRng::seed_from_u64(1);
        let mut id = 0u64;
        for i in 0..50u8 {
            id += 1;
            a.insert(SaId(id), key([10, 1, i % 7, i], i), 0);
        }
        for i in 0..3u8 {
            id += 1;
            a.insert(SaId(id), key([192, 0, 2, i], i), 0);
        }
        for _ in 0..20 {
            let v = a.victim(&mut rng).unwrap();
            let e = a.entries.get(&v).copied().unwrap();
            assert_eq!(e.ip >> 16, u32::from_be_bytes([0, 0, 10, 1]));
        }
        // The crowded /24 inside 10.1/16 is 10.1.0 .. 10.1.6 (8 or 7 each): the victim is
        // in one of the fullest.
        let v = a.victim(&mut rng).unwrap();
        let p24 = a.entries.get(&v).unwrap().ip >> 8;
        let max = a
            .n24
            .iter()
            .filter(|(k, _)| *k >> 8 == 0x0a01)
            .map(|(_, c)| *c)
            .max();
        assert_eq!(a.n24.get(&p24).copied(), max);
        for i in 1..=id {
            assert!(a.remove(SaId(i)));
        }
        assert!(a.n32.is_empty() && a.n24.is_empty() && a.n16.is_empty());
        assert!(a.top16.is_empty() && a.top24.is_empty() && a.top32.is_empty());
        assert!(a.by_ip.is_empty() && a.by_key.is_empty());
    }

    #[test]
    fn recent_peers_are_evicted_last() {
        let mut a = Admission::default();
        let mut rng = StdRng::seed_from_u64(2);
        a.completed(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)), 4);
        a.insert(SaId(1), key([10, 1, 1, 1], 1), 8);
        a.insert(SaId(2), key([10, 9, 9, 9], 2), 8);
        assert_eq!(a.victim(&mut rng), Some(SaId(2)));
        a.remove(SaId(2));
        assert_eq!(a.victim(&mut rng), Some(SaId(1)));
        // A proven peer (MM3 received) is filed apart too, and its counts move with it.
        a.insert(SaId(3), key([10, 9, 9, 9], 3), 8);
        a.insert(SaId(4), key([10, 9, 9, 8], 4), 8);
        a.promote(SaId(3), 8);
        assert_eq!(a.victim(&mut rng), Some(SaId(4)));
        assert_eq!(a.n16.get(&0x0a09).copied(), Some(1));
        for i in 1..=4 {
            a.remove(SaId(i));
        }
        assert!(a.n16.is_empty() && a.protected.is_empty() && a.entries.is_empty());
    }

    #[test]
    fn rate_never_refuses_everyone() {
        let mut a = Admission::default();
        let mut rng = StdRng::seed_from_u64(3);
        let now = Instant::now();
        let ip = |i: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i));
        // 20,000 sources once each in one second: a fresh source is still admitted.
        let refused = (0..20_000u32)
            .filter(|i| !a.rate_ok(now, ip(*i), 10, &mut rng))
            .count();
        assert_eq!(refused, 0);
        assert!(a.rate_ok(now, ip(1 << 20), 10, &mut rng));
        // One source over the limit is refused, and admitted again a second later.
        let one = ip(77 << 16);
        let ok = (0..20)
            .filter(|_| a.rate_ok(now, one, 10, &mut rng))
            .count();
        assert!((10..13).contains(&ok), "{ok}");
        assert!(a.rate_ok(now + Duration::from_secs(1), one, 10, &mut rng));
    }

    /// The initiator's agreement cache holds at most `cache` peer values (the oldest
    /// goes), answers only for the current key pair, and returns the right secret.
    #[test]
    fn initiator_agreement_cache_is_bounded_and_per_key_pair() {
        let mut a = Admission::default();
        let mut rng = StdRng::seed_from_u64(3);
        let (g, size) = (DhGroup::Modp768, ExponentSize::Bits(160));
        let now = Instant::now();
        let w = Duration::from_secs(60);
        let kp = a.initiator_key_pair(now, g, size, w, &mut rng).unwrap();
        assert_eq!(a.initiator_modexps, 1);
        let peers: Vec<KeyPair> = (0..3)
            .map(|_| KeyPair::generate(g, size, &mut rng).unwrap())
            .collect();
        let agree = |a: &mut Admission, i: usize| {
            let p = &peers[i];
            let s = a.initiator_agree(&kp, p.public_value(), 2).unwrap();
            assert!(s.ct_eq(p.agree(kp.public_value()).unwrap().expose_secret()));
        };
        agree(&mut a, 0);
        agree(&mut a, 1);
        assert_eq!(a.initiator_modexps, 3);
        agree(&mut a, 0);
        agree(&mut a, 1);
        assert_eq!(a.initiator_modexps, 3, "both cached");
        agree(&mut a, 2);
        assert_eq!(a.initiator_modexps, 4);
        agree(&mut a, 0);
        assert_eq!(a.initiator_modexps, 5, "peer 0 was the oldest and went");
        // A bad peer value is refused, cached or not.
        assert!(a.initiator_agree(&kp, &[0], 2).is_err());
        // Another key pair of the same group (not the current one): never from the cache.
        let other = Arc::new(KeyPair::generate(g, size, &mut rng).unwrap());
        let p = peers[2].public_value();
        a.initiator_agree(&other, p, 2).unwrap();
        a.initiator_agree(&other, p, 2).unwrap();
        assert_eq!(a.initiator_modexps, 7);
        // Cache size 0: off.
        a.initiator_agree(&kp, p, 0).unwrap();
        assert_eq!(a.initiator_modexps, 8);
    }
}
