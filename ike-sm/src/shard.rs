//! [`Shard`]: which of N endpoints (one per worker thread of a gateway) owns an SA, as
//! the wire says it.

use crate::SmError;
use rand_core::CryptoRng;

/// Draws of the first byte before giving up on rejection sampling. Each draw is rejected
/// with probability below 1/256, so a good generator never gets near this; the bound is
/// for a broken one (a constant stream), which must not hang the endpoint.
const MAX_DRAWS: usize = 16;

/// One shard of `count`: the endpoint that owns the cookies and SPIs whose first byte is
/// `index` modulo `count`.
///
/// A gateway that runs N endpoints side by side, each with its own IKE and ESP SAs, must
/// send every datagram to the endpoint that owns its SA without a shared table on the
/// per-packet path. The wire already carries a value the owner chose itself: the
/// responder cookie of every ISAKMP message after the first, and the SPI of every ESP
/// packet (our inbound SPI). An endpoint on shard `index` of `count` chooses them so that
///
/// * `cookie[0] % count == index` for every cookie it chooses (the responder cookie of
///   the SAs it answers, and the initiator cookie of the SAs it starts), and
/// * `(spi >> 24) as u8 % count == index` for every inbound SPI,
///
/// and a dispatcher reads the owner back with [`Shard::of_cookie`] and [`Shard::of_spi`].
/// (A first message, with a zero responder cookie, belongs to no shard yet: the
/// dispatcher picks one, e.g. by a hash of the peer's address.)
///
/// Only the first byte is constrained: it is drawn uniformly among the byte values of
/// the shard (rejection sampling, no modulo bias) and every other byte stays uniformly
/// random, so a cookie keeps 64 - log2(count) bits an attacker cannot guess, and an SPI
/// 32 - log2(count). The sole shard ([`Shard::SOLE`], the default) draws exactly as an
/// endpoint without shards always did: the same random bytes give the same cookies and
/// SPIs.
///
/// ```
/// use ike_sm::Shard;
///
/// let s = Shard::new(2, 3).unwrap();
/// assert!(Shard::new(3, 3).is_err());
/// assert_eq!(Shard::of_spi(3, 0x0512_3456), 2); // 0x05 % 3
/// assert!(s.owns_spi(0x0512_3456));
/// assert_eq!(Shard::of_cookie(3, &[0x08, 0, 0, 0, 0, 0, 0, 1]), 2);
/// assert_eq!(Shard::SOLE.count(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u8,
    count: u8,
}

impl Default for Shard {
    fn default() -> Self {
        Self::SOLE
    }
}

impl Shard {
    /// The only shard (index 0 of 1): an endpoint that owns everything, as before shards.
    pub const SOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`. Refuses `count == 0` and `index >= count`.
    pub const fn new(index: u8, count: u8) -> Result<Shard, SmError> {
        if count == 0 || index >= count {
            return Err(SmError::BadShard { index, count });
        }
        Ok(Shard { index, count })
    }

    /// This shard's index, below [`Shard::count`].
    #[must_use]
    pub const fn index(self) -> u8 {
        self.index
    }

    /// How many shards there are (at least 1).
    #[must_use]
    pub const fn count(self) -> u8 {
        self.count
    }

    /// Which of `count` shards owns a cookie it chose: `cookie[0] % count`. A `count` of
    /// 0 is taken as 1 (everything belongs to shard 0).
    #[must_use]
    pub const fn of_cookie(count: u8, cookie: &[u8; 8]) -> u8 {
        Self::of_byte(count, cookie[0])
    }

    /// Which of `count` shards owns an inbound SPI it chose: `(spi >> 24) as u8 % count`.
    /// A `count` of 0 is taken as 1 (everything belongs to shard 0).
    #[must_use]
    pub const fn of_spi(count: u8, spi: u32) -> u8 {
        Self::of_byte(count, spi.to_be_bytes()[0])
    }

    const fn of_byte(count: u8, b: u8) -> u8 {
        match b.checked_rem(count) {
            Some(r) => r,
            None => 0,
        }
    }

    /// Whether this shard owns `cookie`.
    #[must_use]
    pub const fn owns_cookie(self, cookie: &[u8; 8]) -> bool {
        Self::of_cookie(self.count, cookie) == self.index
    }

    /// Whether this shard owns the inbound SPI `spi`.
    #[must_use]
    pub const fn owns_spi(self, spi: u32) -> bool {
        Self::of_spi(self.count, spi) == self.index
    }

    /// A random byte `b` with `b % count == index`, uniform over those values.
    fn first_byte<R: CryptoRng + ?Sized>(self, rng: &mut R) -> u8 {
        let count = u16::from(self.count.max(1));
        let index = u16::from(self.index);
        // The byte values of this shard: index, index + count, ... up to 255 (at least 1,
        // as index < count).
        let values = 255u16
            .saturating_sub(index)
            .checked_div(count)
            .unwrap_or(0)
            .saturating_add(1);
        // Rejection sampling over a 16-bit draw: accept below the largest multiple of
        // `values` (at most 255 of 65536 draws are rejected), so every value of the shard
        // is equally likely.
        let zone = 65_536u32.saturating_sub(65_536u32.checked_rem(u32::from(values)).unwrap_or(0));
        let mut r = 0u16;
        for _ in 0..MAX_DRAWS {
            let mut b = [0u8; 2];
            rng.fill_bytes(&mut b);
            r = u16::from_be_bytes(b);
            if u32::from(r) < zone {
                break;
            }
        }
        let pick = r
            .checked_rem(values)
            .unwrap_or(0)
            .saturating_mul(count)
            .saturating_add(index);
        u8::try_from(pick).unwrap_or(self.index)
    }

    /// A random cookie of this shard (only its first byte constrained).
    pub(crate) fn random_cookie<R: CryptoRng + ?Sized>(self, rng: &mut R) -> [u8; 8] {
        let mut c = [0u8; 8];
        rng.fill_bytes(&mut c);
        if self.count > 1 {
            c[0] = self.first_byte(rng);
        }
        c
    }

    /// A random SPI of this shard (only its top byte constrained); may be reserved (< 256):
    /// the caller draws again.
    pub(crate) fn random_spi<R: CryptoRng + ?Sized>(self, rng: &mut R) -> u32 {
        let mut b = [0u8; 4];
        rng.fill_bytes(&mut b);
        if self.count > 1 {
            b[0] = self.first_byte(rng);
        }
        u32::from_be_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator (xorshift; not cryptographic, a test's stand-in).
    struct Xs(u64);
    impl rand_core::TryRng for Xs {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            self.try_next_u64().map(|v| (v >> 32) as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            Ok(self.0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for c in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                c.copy_from_slice(&v[..c.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Xs {}

    /// A broken generator that always yields 0xff: rejection sampling must still end.
    struct Stuck;
    impl rand_core::TryRng for Stuck {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::MAX)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::MAX)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0xff);
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Stuck {}

    #[test]
    fn bad_shards_are_refused() {
        assert_eq!(
            Shard::new(0, 0),
            Err(SmError::BadShard { index: 0, count: 0 })
        );
        assert_eq!(
            Shard::new(5, 5),
            Err(SmError::BadShard { index: 5, count: 5 })
        );
        assert_eq!(Shard::new(4, 5).map(|s| (s.index(), s.count())), Ok((4, 5)));
        assert_eq!(Shard::default(), Shard::SOLE);
        let e = SmError::BadShard { index: 5, count: 5 }.to_string();
        assert!(e.contains("shard 5 of 5"), "{e}");
    }

    /// Every byte value of a shard comes up, each about equally often (chi-square well
    /// below what a bias of one value in a few would give).
    #[test]
    fn first_byte_is_uniform_over_the_shard() {
        let mut rng = Xs(0x9e37_79b9_7f4a_7c15);
        for count in [2u8, 3, 7, 64, 255] {
            let s = Shard::new(count - 1, count).unwrap();
            let mut hist = [0u32; 256];
            let draws = 40_000u32;
            for _ in 0..draws {
                let b = s.first_byte(&mut rng);
                assert_eq!(b % count, count - 1);
                hist[usize::from(b)] += 1;
            }
            let values: Vec<u32> = hist
                .iter()
                .enumerate()
                .filter(|(b, _)| *b as u8 % count == count - 1)
                .map(|(_, n)| *n)
                .collect();
            let k = values.len() as f64;
            let expect = f64::from(draws) / k;
            let chi2: f64 = values
                .iter()
                .map(|n| (f64::from(*n) - expect).powi(2) / expect)
                .sum();
            // Mean of chi-square is k - 1, standard deviation sqrt(2(k-1)); allow 6 sigma.
            let bound = (k - 1.0) + 6.0 * (2.0 * (k - 1.0)).sqrt() + 6.0;
            assert!(chi2 < bound, "count {count}: chi2 {chi2} >= {bound}");
            assert!(
                values.iter().all(|n| *n > 0),
                "count {count}: a value never drawn"
            );
        }
    }

    #[test]
    fn a_stuck_generator_still_yields_a_value_of_the_shard() {
        for (index, count) in [(0u8, 3u8), (2, 3), (6, 7), (63, 64)] {
            let s = Shard::new(index, count).unwrap();
            assert!(s.owns_spi(s.random_spi(&mut Stuck)));
            assert!(s.owns_cookie(&s.random_cookie(&mut Stuck)));
        }
    }

    #[test]
    fn the_sole_shard_draws_as_before() {
        let mut a = Xs(7);
        let mut b = Xs(7);
        let mut c = [0u8; 8];
        rand_core::Rng::fill_bytes(&mut b, &mut c);
        assert_eq!(Shard::SOLE.random_cookie(&mut a), c);
        let mut s = [0u8; 4];
        rand_core::Rng::fill_bytes(&mut b, &mut s);
        assert_eq!(Shard::SOLE.random_spi(&mut a), u32::from_be_bytes(s));
    }
}
