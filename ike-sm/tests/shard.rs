//! Shards: an endpoint on shard k of n chooses every cookie and inbound SPI of its shard
//! (what a dispatcher in front of n endpoints routes by), real handshakes included; the
//! dispatcher's pure functions; the sole shard changes nothing; and endpoints of several
//! shards leasing from one shared set of pools never hand an address out twice.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

mod common;

use common::net::*;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use modecfg::{LeaseStore, Pools};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const C4: &str = "192.168.1.2:500";
const C11: &str = "192.168.1.3:500";

fn seed_gateway() -> Endpoint {
    let (cfg, pools) = seed_gateway_config(SEED_POOL);
    Endpoint::new(cfg, pools)
}

/// The cookies of an ISAKMP datagram (bytes 0..8 and 8..16 of its header).
fn cookies(d: &[u8]) -> ([u8; 8], [u8; 8]) {
    (d[..8].try_into().unwrap(), d[8..16].try_into().unwrap())
}

/// A VPN Client 4.x (Aggressive Mode, Xauth, CFG pull) and a 1.1 (Main Mode, Xauth, CFG
/// push) log in to the gateway of `net`, each from a client endpoint on `client_shard`;
/// the 4.x one asks for two Quick Modes, the 1.1 one for one.
fn two_logins(net: &mut Net, client_shard: Shard, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let profiles = [
        (
            C4,
            presets::vpn_client_4x(DhGroup::Modp1024, SEED_PSK, "cisco_customer", b"cisco123"),
            2,
        ),
        (
            C11,
            presets::vpn_client_11(SEED_PSK, "cisco_customer", b"cisco123"),
            1,
        ),
    ];
    for (addr, profile, quick_modes) in profiles {
        let c = net.client(addr);
        net.cli(c).set_shard(client_shard);
        let sa = net.initiate(c, profile, &mut rng);
        net.run(Duration::from_secs(30));
        assert!(net.cli(c).ready_for_quick_mode(sa), "{:#?}", net.gw_debug());
        let addr = net.cli(c).assigned_address(sa).unwrap();
        for _ in 0..quick_modes {
            let now = net.now;
            net.cli(c)
                .initiate_quick_mode(now, sa, presets::vpn_client_quick_mode(addr), &mut rng)
                .unwrap();
        }
        net.run(Duration::from_secs(30));
    }
}

/// Shards 0, the last and one in the middle, of each count.
fn some_shards(n: u8) -> BTreeSet<u8> {
    [0, n / 2, n - 1].into_iter().collect()
}

#[test]
fn handshakes_on_shard_k_of_n_use_cookies_and_spis_of_shard_k() {
    for n in [1u8, 2, 3, 7, 64] {
        for k in some_shards(n) {
            let gw_shard = Shard::new(k, n).unwrap();
            // The clients sit on another shard of the same count, so that the initiator
            // side is checked too and the two sides' values cannot be mistaken.
            let cl_shard = Shard::new((k + 1) % n, n).unwrap();
            let mut gw = seed_gateway();
            gw.set_shard(gw_shard);
            assert_eq!(gw.shard(), gw_shard);
            let mut net = Net::new(u64::from(n) << 8 | u64::from(k), gw);
            two_logins(&mut net, cl_shard, u64::from(k) * 31 + u64::from(n));
            let ctx = format!("shard {k} of {n}");

            // Every datagram after a first message carries the gateway's responder
            // cookie; every datagram carries a client's initiator cookie.
            let mut responder = BTreeSet::new();
            let mut initiator = BTreeSet::new();
            for d in &net.wire {
                let (i, r) = cookies(d);
                initiator.insert(i);
                if r != [0; 8] {
                    responder.insert(r);
                }
            }
            assert_eq!(responder.len(), 2, "{ctx}: one IKE SA per client");
            assert_eq!(initiator.len(), 2, "{ctx}");
            for r in &responder {
                assert_eq!(
                    Shard::of_cookie(n, r),
                    k,
                    "{ctx}: responder cookie {r:02x?}"
                );
                assert!(gw_shard.owns_cookie(r));
            }
            for i in &initiator {
                assert_eq!(
                    Shard::of_cookie(n, i),
                    cl_shard.index(),
                    "{ctx}: initiator cookie {i:02x?}"
                );
            }

            // Inbound SPIs: the gateway's of its shard, the clients' of theirs; and the
            // two sides agree (the peer sends with the SPI its owner chose).
            let (g, c) = (net.gw_children(), net.cli_children());
            assert_eq!(g.len(), 3, "{ctx}: three Quick Modes");
            assert_eq!(c.len(), 3, "{ctx}");
            let mut spis = BTreeSet::new();
            for gc in &g {
                assert!(gc.spi_in >= 256, "{ctx}: reserved SPI {:#x}", gc.spi_in);
                assert_eq!(
                    Shard::of_spi(n, gc.spi_in),
                    k,
                    "{ctx}: SPI {:#x}",
                    gc.spi_in
                );
                assert!(gw_shard.owns_spi(gc.spi_in));
                assert!(spis.insert(gc.spi_in), "{ctx}: SPI {:#x} twice", gc.spi_in);
                let cc = c.iter().find(|cc| cc.spi_out == gc.spi_in).unwrap();
                assert_eq!(cc.spi_in, gc.spi_out);
                assert!(cc.spi_in >= 256);
                assert_eq!(Shard::of_spi(n, cc.spi_in), cl_shard.index(), "{ctx}");
            }
        }
    }
}

/// The default is the sole shard, and setting it explicitly changes nothing: the same
/// seed gives the same bytes as an endpoint that never heard of shards.
#[test]
fn the_sole_shard_is_the_default_and_changes_no_byte() {
    let run = |set: bool| {
        let mut gw = seed_gateway();
        assert_eq!(gw.shard(), Shard::SOLE);
        if set {
            gw.set_shard(Shard::new(0, 1).unwrap());
        }
        let mut net = Net::new(11, gw);
        two_logins(&mut net, Shard::SOLE, 12);
        net.wire
    };
    let (a, b) = (run(false), run(true));
    assert!(a.len() >= 20, "{}", a.len());
    assert_eq!(a, b);
}

/// A Main Mode responder on shard k of n answers a first message with a responder cookie
/// of shard k, and a Main Mode initiator on shard k of n starts with an initiator cookie
/// of shard k (no Diffie-Hellman in MM1 and MM2, so hundreds of cases are cheap).
fn main_mode_first_exchange(k: u8, n: u8, seed: u64) -> Result<(), TestCaseError> {
    let shard = Shard::new(k, n).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut gw = seed_gateway();
    gw.set_shard(shard);
    let mut cl = client_endpoint();
    cl.set_shard(shard);
    let (c, g): (SocketAddr, SocketAddr) = (C11.parse().unwrap(), GW.parse().unwrap());
    #[allow(clippy::disallowed_methods)]
    let now = std::time::Instant::now();
    cl.initiate(
        now,
        c,
        g,
        presets::vpn_client_11(SEED_PSK, "u", b"p"),
        &mut rng,
    )
    .unwrap();
    let mm1 = cl.poll_transmit().unwrap();
    let (i, r) = cookies(&mm1.bytes);
    prop_assert_eq!(r, [0; 8]);
    prop_assert_eq!(Shard::of_cookie(n, &i), k);
    gw.handle_datagram(now, g, c, &mm1.bytes, &mut rng);
    let mm2 = gw.poll_transmit().unwrap();
    let (i2, r2) = cookies(&mm2.bytes);
    prop_assert_eq!(i2, i);
    prop_assert_ne!(r2, [0; 8]);
    prop_assert_eq!(Shard::of_cookie(n, &r2), k);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The dispatcher's functions: always a shard below the count; the SPI's owner is
    /// read from its top byte only, the cookie's from its first byte only, the same way;
    /// a shard owns exactly what they give it; a count of 0 is read as 1.
    #[test]
    fn dispatch_functions(n in 1u8..=255, spi: u32, cookie: [u8; 8], other: [u8; 8], low: u32) {
        let s = Shard::of_spi(n, spi);
        let c = Shard::of_cookie(n, &cookie);
        prop_assert!(s < n && c < n);
        prop_assert_eq!(u32::from(s), (spi >> 24) % u32::from(n));
        prop_assert_eq!(c, cookie[0] % n);
        let same_top = (spi & 0xff00_0000) | (low & 0x00ff_ffff);
        prop_assert_eq!(Shard::of_spi(n, same_top), s);
        let mut same_first = other;
        same_first[0] = cookie[0];
        prop_assert_eq!(Shard::of_cookie(n, &same_first), c);
        prop_assert_eq!(Shard::of_cookie(n, &[spi.to_be_bytes()[0], 0, 0, 0, 0, 0, 0, 0]), s);
        for k in 0..n {
            let shard = Shard::new(k, n).unwrap();
            prop_assert_eq!(shard.owns_spi(spi), k == s);
            prop_assert_eq!(shard.owns_cookie(&cookie), k == c);
        }
        prop_assert_eq!(Shard::of_spi(0, spi), 0);
        prop_assert_eq!(Shard::of_cookie(0, &cookie), 0);
        prop_assert_eq!(Shard::of_spi(1, spi), 0);
    }

    /// `Shard::new` accepts exactly index < count, count >= 1, and says which was wrong.
    #[test]
    fn shard_constructor(index: u8, count: u8) {
        match Shard::new(index, count) {
            Ok(s) => {
                prop_assert!(count >= 1 && index < count);
                prop_assert_eq!((s.index(), s.count()), (index, count));
            }
            Err(e) => {
                prop_assert!(count == 0 || index >= count);
                prop_assert_eq!(&e, &SmError::BadShard { index, count });
                let want = format!("shard {index} of {count}");
                prop_assert!(e.to_string().contains(&want));
            }
        }
    }

    #[test]
    fn main_mode_cookies_of_any_shard((n, k) in (1u8..=255).prop_flat_map(|n| (Just(n), 0..n)), seed: u64) {
        main_mode_first_exchange(k, n, seed)?;
    }
}

/// One set of pools shared by several endpoints, as a gateway with one endpoint per
/// worker thread keeps them (the gateway's own store also records owners; this one is
/// the bare minimum the trait asks for).
#[derive(Debug, Clone)]
struct Shared(Arc<Mutex<Pools>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.0.lock().unwrap()
    }
}

impl LeaseStore for Shared {
    fn allocate(
        &mut self,
        pools: &[String],
        user: &str,
    ) -> Result<modecfg::Lease, modecfg::ModeCfgError> {
        self.lock().allocate(pools, user)
    }
    fn assign_aaa(
        &mut self,
        aaa: modecfg::AaaAddress,
        user: &str,
    ) -> Result<modecfg::Lease, modecfg::ModeCfgError> {
        self.lock().assign_aaa(aaa, user)
    }
    fn release(&mut self, lease: modecfg::Lease) -> Result<(), modecfg::ModeCfgError> {
        self.lock().release(lease)
    }
    fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        self.lock().overlaps(first, last)
    }
    fn is_in_use(&self, addr: Ipv4Addr) -> bool {
        self.lock().is_in_use(addr)
    }
    fn total_in_use(&self) -> usize {
        self.lock().total_in_use()
    }
    fn with_pools(&self, f: &mut dyn FnMut(&Pools)) {
        f(&self.lock());
    }
}

/// An endpoint moves to its worker thread, whatever it leases from.
#[test]
fn endpoints_stay_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (cfg, pools) = seed_gateway_config(SEED_POOL);
    let store = Shared(Arc::new(Mutex::new(pools)));
    send_sync(&Endpoint::with_lease_store(cfg, Box::new(store)));
    send_sync(&seed_gateway());
}

/// Two endpoints (shards 0 and 1 of 2) lease from one pool of five: every login gets
/// an address no other session of either endpoint holds, the sixth is refused, a
/// teardown on one endpoint frees the address for the other, and both see the same usage.
#[test]
fn shards_lease_from_one_shared_pool() {
    let (_, pools) = seed_gateway_config(SEED_POOL);
    let store = Shared(Arc::new(Mutex::new(pools)));
    let mut nets: Vec<Net> = (0..2u8)
        .map(|k| {
            // Each shard has its configuration; the pools come from the one store.
            let (cfg, _) = seed_gateway_config(SEED_POOL);
            let mut gw = Endpoint::with_lease_store(cfg, Box::new(store.clone()));
            gw.set_shard(Shard::new(k, 2).unwrap());
            Net::new(100 + u64::from(k), gw)
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(5);
    let mut login = |net: &mut Net, host: u8| -> Option<(SocketAddr, SaId, Ipv4Addr)> {
        let c = net.client(&format!("192.168.2.{host}:500"));
        let p = presets::vpn_client_4x(
            DhGroup::Modp1024,
            SEED_PSK,
            &format!("user{host}"),
            b"cisco123",
        );
        let sa = net.initiate(c, p, &mut rng);
        net.run(Duration::from_secs(30));
        let addr = net.cli(c).assigned_address(sa)?;
        Some((c, sa, addr))
    };
    let mut held = Vec::new();
    for host in 1..=5u8 {
        let net = &mut nets[usize::from(host % 2)];
        let (_, _, addr) = login(net, host).expect("an address while the pool has one");
        held.push((host % 2, addr));
    }
    let addrs: BTreeSet<Ipv4Addr> = held.iter().map(|h| h.1).collect();
    assert_eq!(addrs.len(), 5, "no address twice: {held:?}");
    let (first, last): (Ipv4Addr, Ipv4Addr) =
        (SEED_POOL.0.parse().unwrap(), SEED_POOL.1.parse().unwrap());
    assert!(addrs.iter().all(|a| (first..=last).contains(a)));
    for net in &nets {
        assert_eq!(net.gw.lease_store().total_in_use(), 5);
        let mut in_use = None;
        net.gw
            .with_pools(&mut |p| in_use = p.pool("VPNpool").map(|p| p.in_use()));
        assert_eq!(in_use, Some(5));
        // The endpoint owns no pools of its own.
        assert!(net.gw.pools().pools().is_empty());
    }
    // The pool is empty for either shard.
    assert_eq!(login(&mut nets[0], 6).map(|l| l.2), None);
    assert_eq!(store.lock().total_in_use(), 5);

    // A user of shard 1 leaves; a new user of shard 0 gets the address back.
    let gone = held.iter().find(|h| h.0 == 1).unwrap().1;
    let n1 = &mut nets[1];
    let sa = n1
        .gw_events
        .iter()
        .find_map(|e| match e {
            Event::AddressAssigned { sa, addr, .. } if *addr == gone => Some(*sa),
            _ => None,
        })
        .unwrap();
    let now = n1.now;
    n1.gw
        .delete(now, sa, &mut StdRng::seed_from_u64(9))
        .unwrap();
    n1.run(Duration::from_secs(5));
    assert!(!store.lock().is_in_use(gone));
    assert_eq!(nets[0].gw.lease_store().total_in_use(), 4);
    let (_, _, again) = login(&mut nets[0], 7).expect("the freed address");
    assert_eq!(again, gone);
    assert_eq!(store.lock().total_in_use(), 5);
}
