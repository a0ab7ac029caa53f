//! The SA table's bookkeeping (SA ids, insertion, look-up by peer) and fresh identifiers
//! of this endpoint's shard: cookies, inbound SPIs, random message IDs and nonces.

use super::sa::IkeSa;
use super::Endpoint;
use crate::event::SaId;
use core::net::IpAddr;
use rand_core::CryptoRng;

impl Endpoint {
    pub(super) fn next_sa_id(&mut self) -> SaId {
        let id = SaId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    pub(crate) fn insert_sa(&mut self, mut sa: IkeSa) {
        self.by_cookies.insert(sa.cookies(), sa.id);
        self.file_timer(&mut sa);
        self.sas.insert(sa.id, Box::new(sa));
    }

    /// The SAs filed under peer address `ip` (from [`Endpoint::peers`]; the SA being
    /// processed, which is out of `sas` meanwhile, is not among them).
    pub(crate) fn sas_of_peer(&self, ip: IpAddr) -> impl Iterator<Item = &IkeSa> + '_ {
        self.peers
            .range((ip, SaId(0))..=(ip, SaId(u64::MAX)))
            .filter_map(|(_, id)| self.sas.get(id).map(|b| &**b))
    }
}

/// Draws before a fresh cookie or SPI is taken even if it collides: with a working
/// generator a second draw is already a 2^-24 event (SPI) or a 2^-64 one (cookie); the
/// bound only keeps a broken generator (a constant stream) from hanging the endpoint.
const MAX_FRESH_DRAWS: usize = 8;

impl Endpoint {
    /// A cookie of this endpoint's shard, never zero (a zero responder cookie means "no
    /// responder yet"), and, as responder cookie for `cky_i`, not the cookie pair of an
    /// SA that exists.
    pub(crate) fn fresh_cookie<R: CryptoRng + ?Sized>(
        &self,
        cky_i: Option<[u8; 8]>,
        rng: &mut R,
    ) -> [u8; 8] {
        let mut c = self.shard.random_cookie(rng);
        for _ in 0..MAX_FRESH_DRAWS {
            let taken = cky_i.is_some_and(|i| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&i);
                k[8..].copy_from_slice(&c);
                self.by_cookies.contains_key(&k)
            });
            if c != [0; 8] && !taken {
                break;
            }
            c = self.shard.random_cookie(rng);
        }
        if c == [0; 8] {
            // Only a broken generator gets here; the first byte (the shard's) stays.
            c[7] = 1;
        }
        c
    }

    /// An inbound SPI of this endpoint's shard: not reserved (RFC 4303 section 2.1: 1 to
    /// 255 are reserved, 0 is never sent), not the inbound SPI of a child SA of any IKE
    /// SA, nor of a Quick Mode in flight on `sa`. (A Quick Mode in flight on another IKE
    /// SA is not looked for: that would be a pass over every SA per Quick Mode, for a
    /// collision of two fresh draws within one exchange's time.)
    pub(crate) fn fresh_spi<R: CryptoRng + ?Sized>(&self, sa: &IkeSa, rng: &mut R) -> u32 {
        let mut spi = self.shard.random_spi(rng);
        for _ in 0..MAX_FRESH_DRAWS {
            let taken = self.spis_in.contains(&spi)
                || sa.children.iter().any(|c| c.0 == spi)
                || sa.quick.values().any(|q| q.spi_in() == spi);
            if spi >= 256 && !taken {
                break;
            }
            spi = self.shard.random_spi(rng);
        }
        if spi < 256 {
            // Only a broken generator gets here; the top byte (the shard's) stays.
            spi |= 0x100;
        }
        spi
    }
}

pub(crate) fn random_u32<R: CryptoRng + ?Sized>(rng: &mut R) -> u32 {
    let mut b = [0u8; 4];
    rng.fill_bytes(&mut b);
    u32::from_be_bytes(b)
}

pub(crate) fn random_bytes<R: CryptoRng + ?Sized, const N: usize>(rng: &mut R) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)]
    use super::*;
    use crate::config::Phase1Mode;
    use crate::event::Event;
    use crate::sm::queues::tests::child;
    use crate::sm::{phase, Role};
    use core::net::SocketAddr;
    use std::time::Instant;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// A fresh inbound SPI is never the inbound SPI of a child SA of another IKE SA (the
    /// same generator state would give it), and is free again once that child is gone.
    #[test]
    fn a_fresh_spi_is_never_one_in_use() {
        let mut ep = Endpoint::new(crate::presets::client(), modecfg::Pools::new());
        let shard = crate::Shard::new(1, 3).unwrap();
        ep.set_shard(shard);
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let sa = IkeSa::new(
            SaId(1),
            Role::Initiator,
            Phase1Mode::Main,
            (a, a),
            ([1; 8], [0; 8]),
            Instant::now(),
            phase::Phase::Ended,
        );
        let draw = |ep: &Endpoint| ep.fresh_spi(&sa, &mut StdRng::seed_from_u64(3));
        let first = draw(&ep);
        assert!(shard.owns_spi(first) && first >= 256);
        ep.event(child(first));
        let second = draw(&ep);
        assert_ne!(second, first);
        assert!(shard.owns_spi(second) && second >= 256);
        ep.event(Event::ChildDeleted {
            sa: SaId(2),
            spi_in: first,
        });
        assert_eq!(draw(&ep), first);
        assert!(ep.spis_in.is_empty());
    }
}
