//! A client that re-runs phase 1 (a phase-1 rekey, with Xauth and Mode Config again) keeps
//! its Mode Config address: the gateway gives the new IKE SA the address the old one holds
//! without leasing a second one, the old SA keeps the lease until it goes, and then the
//! lease moves to the new SA with the child SAs. Every lease decision of the gateway goes
//! through a recording lease store, so that a second lease or a double release shows.
//! Virtual clock, seeded RNG.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    missing_docs
)]

mod common;

use common::events::{self, assigned, child_deleted, failed};
use common::net::{Net, Users, GW, SEED_PSK};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use modecfg::{AaaAddress, Lease, LeaseStore, ModeCfgError, Pools};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIFE: u64 = 1000;
const FIRST: Ipv4Addr = Ipv4Addr::new(10, 89, 129, 200);
const SECOND: Ipv4Addr = Ipv4Addr::new(10, 89, 129, 201);

/// What the gateway did with its pools.
#[derive(Debug, Default)]
struct Record {
    pools: Pools,
    /// Every address leased, in order.
    leased: Vec<Ipv4Addr>,
    /// Every address given back, in order.
    released: Vec<Ipv4Addr>,
    /// Releases the pools refused (an address given back twice).
    refused: Vec<(Ipv4Addr, ModeCfgError)>,
    /// Addresses in use after every datagram, timer run and verdict of the gateway.
    in_use: Vec<usize>,
}

/// The gateway's lease store: the pools behind a lock, every decision recorded.
#[derive(Debug, Clone)]
struct Recorder(Arc<Mutex<Record>>);

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&Record) -> T) -> T {
        f(&self.0.lock().unwrap())
    }

    fn in_use(&self) -> usize {
        self.with(|r| r.pools.total_in_use())
    }

    fn leased(&self) -> Vec<Ipv4Addr> {
        self.with(|r| r.leased.clone())
    }

    fn released(&self) -> Vec<Ipv4Addr> {
        self.with(|r| r.released.clone())
    }

    /// Notes the addresses in use now.
    fn sample(&self) {
        let mut g = self.0.lock().unwrap();
        let n = g.pools.total_in_use();
        g.in_use.push(n);
    }

    /// The addresses in use at each step since the last [`Recorder::clear_samples`].
    fn samples(&self) -> Vec<usize> {
        self.with(|r| r.in_use.clone())
    }

    fn clear_samples(&self) {
        self.0.lock().unwrap().in_use.clear();
    }

    /// No address was given back twice (or never leased).
    fn no_bad_release(&self) {
        let refused = self.with(|r| r.refused.clone());
        assert!(refused.is_empty(), "{refused:?}");
    }

    fn held(&self, a: Ipv4Addr) -> bool {
        self.with(|r| r.pools.is_in_use(a))
    }

    fn record(&self, r: Result<Lease, ModeCfgError>) -> Result<Lease, ModeCfgError> {
        if let Ok(l) = &r {
            self.0.lock().unwrap().leased.push(l.addr());
        }
        r
    }
}

impl LeaseStore for Recorder {
    fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError> {
        let r = self.0.lock().unwrap().pools.allocate(pools, user);
        self.record(r)
    }

    fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError> {
        let r = self.0.lock().unwrap().pools.assign_aaa(aaa, user);
        self.record(r)
    }

    fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError> {
        let mut g = self.0.lock().unwrap();
        let addr = lease.addr();
        let r = g.pools.release(lease);
        match &r {
            Ok(()) => g.released.push(addr),
            Err(e) => g.refused.push((addr, e.clone())),
        }
        r
    }

    fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        self.with(|r| r.pools.overlaps(first, last))
    }

    fn is_in_use(&self, addr: Ipv4Addr) -> bool {
        self.held(addr)
    }

    fn total_in_use(&self) -> usize {
        self.in_use()
    }

    fn with_pools(&self, f: &mut dyn FnMut(&Pools)) {
        f(&self.0.lock().unwrap().pools);
    }
}

fn a() -> SocketAddr {
    "192.168.1.2:500".parse().unwrap()
}

fn b() -> SocketAddr {
    "192.168.1.3:500".parse().unwrap()
}

/// A gateway with a pool of two addresses behind a recording lease store, sampled after
/// each of its inputs; client endpoints at [`a`] and [`b`] that rekey phase 1 (`rekey`)
/// or not. Xauth accepts every password.
fn new_net(seed: u64, rekey: bool) -> (Net, Recorder) {
    let (mut cfg, pools) = presets::seed_gateway(SEED_PSK, FIRST, SECOND).unwrap();
    for p in &mut cfg.gateway.as_mut().unwrap().policies {
        p.lifetime_secs = LIFE;
    }
    let store = Recorder(Arc::new(Mutex::new(Record {
        pools,
        ..Record::default()
    })));
    let client = || {
        let mut c = presets::client();
        if !rekey {
            c.limits.phase1_rekey_margin = None;
        }
        c
    };
    let mut net = Net::new(
        seed,
        Endpoint::with_lease_store(cfg, Box::new(store.clone())),
    );
    net.any_password = true;
    let sampler = store.clone();
    net.after_gw_input = Some(Box::new(move |_| sampler.sample()));
    for at in [a(), b()] {
        net.client_with(&at.to_string(), Endpoint::new(client(), Pools::new()));
    }
    (net, store)
}

/// Phase 1 (with Xauth and Mode Config) from `from` as `user`; `initial_contact` as
/// a fresh client sends it, not a rekeying one. Returns the client's SA.
fn login(net: &mut Net, from: SocketAddr, user: &str, push: bool, initial_contact: bool) -> SaId {
    let mut profile = if push {
        presets::vpn_client_11(b"cisco1234", user, b"pw")
    } else {
        presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", user, b"pw")
    };
    for o in &mut profile.offers {
        o.life_secs = Some(LIFE);
    }
    profile.initial_contact = initial_contact;
    let sa = initiate(net, from, profile);
    net.run_for(Duration::from_secs(2));
    assert!(net.cli(from).ready_for_quick_mode(sa), "{user} logged in");
    sa
}

/// The client at `from` starts phase 1 with `profile`.
fn initiate(net: &mut Net, from: SocketAddr, profile: ClientProfile) -> SaId {
    let (now, g) = (net.now, GW.parse().unwrap());
    let i = net.clients.iter().position(|(x, _)| *x == from).unwrap();
    net.clients[i]
        .1
        .initiate(now, from, g, profile, &mut net.rng)
        .unwrap()
}

/// A Quick Mode of the client at [`a`] for its Mode Config address on `sa` (as asked,
/// the gateway refuses any other source); returns how many child SAs the gateway made
/// by then.
fn quick_mode(net: &mut Net, sa: SaId) -> usize {
    let cur = net.cli(a()).current_sa(sa);
    let local = net.cli(a()).assigned_address(cur).unwrap();
    let req = QuickModeRequest {
        local: TrafficSelector::new(Selector::Addr(local)),
        remote: TrafficSelector::new(Selector::Addr(Ipv4Addr::new(192, 168, 1, 1))),
        offers: presets::seed_qm_offers(),
        pfs: None,
        life_secs: 28_800,
        life_kb: 0,
    };
    let now = net.now;
    net.clients[0]
        .1
        .initiate_quick_mode(now, sa, req, &mut net.rng)
        .unwrap();
    net.run_for(Duration::from_secs(2));
    children(&net.gw_log()).len()
}

fn gw_delete(net: &mut Net, store: &Recorder, sa: SaId) {
    let now = net.now;
    net.gw.delete(now, sa, &mut net.rng).unwrap();
    store.sample();
    net.run_for(Duration::from_secs(1));
}

/// Child SAs installed: (IKE SA, inbound SPI).
fn children(events: &[(u64, &Event)]) -> Vec<(SaId, u32)> {
    events::children(events)
        .into_iter()
        .map(|(sa, spi_in, _)| (sa, spi_in))
        .collect()
}

/// Phase 1 rekeyed: (old SA, new SA).
fn rekeyed(events: &[(u64, &Event)]) -> Vec<(SaId, SaId)> {
    events::rekeyed(events)
        .into_iter()
        .map(|(_, old, new)| (old, new))
        .collect()
}

/// IKE SAs deleted.
fn deleted(events: &[(u64, &Event)]) -> Vec<SaId> {
    events::deleted(events)
        .into_iter()
        .map(|(_, sa)| sa)
        .collect()
}

/// The client's own rekey (before the lifetime ends, Xauth and Mode Config again, the
/// old SA deleted once the new one is up): one lease all along, the same address on both
/// IKE SAs on both sides, the child SA moved, later Quick Modes on the new SA with that
/// address; another client then gets the pool's other address. Pull (VPN Client 4.x)
/// and push (1.x) Mode Config.
#[test]
fn a_rekeying_client_keeps_its_address_and_holds_one_lease() {
    for (seed, push) in [(51, false), (52, true)] {
        let (mut net, store) = new_net(seed, true);
        let old_cl = login(&mut net, a(), "alice", push, true);
        assert_eq!(quick_mode(&mut net, old_cl), 1);
        assert_eq!(store.leased(), [FIRST]);
        let old_gw = assigned(&net.gw_log())[0].0;
        store.clear_samples();

        net.run_for(Duration::from_secs(LIFE - 50));
        // The rekey happened (the client's old SA replaced and deleted)...
        let rk = rekeyed(&net.cli_log());
        assert_eq!(rk.len(), 1, "{rk:?}");
        let new_cl = rk[0].1;
        let grk = rekeyed(&net.gw_log());
        assert_eq!(grk.len(), 1, "{grk:?}");
        let new_gw = grk[0].1;
        assert_eq!(grk[0].0, old_gw);
        assert_eq!(deleted(&net.gw_log()), [old_gw]);
        // ...with Mode Config on the new SA giving the same address, on both sides...
        assert_eq!(assigned(&net.gw_log()), [(old_gw, FIRST), (new_gw, FIRST)]);
        assert_eq!(assigned(&net.cli_log()), [(old_cl, FIRST), (new_cl, FIRST)]);
        assert_eq!(net.gw.assigned_address(new_gw), Some(FIRST));
        assert_eq!(net.cli(a()).assigned_address(new_cl), Some(FIRST));
        // ...and never a second lease: one address in use at every step.
        assert_eq!(store.leased(), [FIRST], "push {push}");
        let in_use = store.samples();
        assert!(!in_use.is_empty());
        assert!(in_use.iter().all(|n| *n == 1), "{in_use:?}");
        assert!(store.released().is_empty());
        // The child SA moved to the new IKE SA, none was deleted.
        assert!(child_deleted(&net.gw_log()).is_empty());
        assert!(child_deleted(&net.cli_log()).is_empty());
        // A Quick Mode asked for on the old SA runs on the new one, for the same address,
        // and the gateway accepts it (it checks the selector against the SA's address).
        assert_eq!(quick_mode(&mut net, old_cl), 2);
        assert_eq!(children(&net.gw_log())[1].0, new_gw);
        assert_eq!(failed(&net.gw_log()), 0);

        // Another client gets the pool's other address (two leases would have left none).
        let other = login(&mut net, b(), "bob", push, true);
        assert_eq!(net.cli(b()).assigned_address(other), Some(SECOND));
        assert_eq!(store.in_use(), 2);

        // The rekeyed client leaves: its address is given back, once.
        gw_delete(&mut net, &store, new_gw);
        assert_eq!(store.released(), [FIRST]);
        assert!(!store.held(FIRST) && store.held(SECOND));
        assert_eq!(store.in_use(), 1);
        store.no_bad_release();
    }
}

/// The client runs a second phase 1 and the gateway's new SA goes first (cleared): the
/// old SA keeps its lease (and the address stays out of the pool), nothing is given back
/// until the old SA goes too, and then once.
#[test]
fn the_new_sa_going_first_leaves_the_lease_with_the_old() {
    let (mut net, store) = new_net(53, false);
    let old_cl = login(&mut net, a(), "alice", false, true);
    assert_eq!(quick_mode(&mut net, old_cl), 1);
    let old_gw = assigned(&net.gw_log())[0].0;
    // Phase 1 again, as a rekeying client does: same address, group and user, no
    // INITIAL-CONTACT.
    let new_cl = login(&mut net, a(), "alice", false, false);
    let assigned = assigned(&net.gw_log());
    assert_eq!(assigned.len(), 2);
    let new_gw = assigned[1].0;
    assert_ne!(new_gw, old_gw);
    assert_eq!(assigned[1].1, FIRST);
    assert_eq!(net.cli(a()).assigned_address(new_cl), Some(FIRST));
    assert_eq!(store.leased(), [FIRST]);
    assert_eq!(store.in_use(), 1);
    // A tunnel under the new SA for that address.
    assert_eq!(quick_mode(&mut net, new_cl), 2);

    gw_delete(&mut net, &store, new_gw);
    assert!(deleted(&net.gw_log()).contains(&new_gw));
    assert_eq!(net.gw.sa_count(), 1);
    assert_eq!(net.gw.assigned_address(old_gw), Some(FIRST));
    assert!(store.released().is_empty(), "the old SA still holds it");
    assert!(store.held(FIRST));
    assert_eq!(store.in_use(), 1);
    // Still held: another client gets the other address.
    let other = login(&mut net, b(), "bob", false, true);
    assert_eq!(net.cli(b()).assigned_address(other), Some(SECOND));
    assert_eq!(store.leased(), [FIRST, SECOND]);

    // The old SA's lifetime ends: its address goes back, once.
    net.run_for(Duration::from_secs(LIFE));
    assert!(deleted(&net.gw_log()).contains(&old_gw));
    assert_eq!(store.released(), [FIRST, SECOND]);
    assert_eq!(store.in_use(), 0);
    store.no_bad_release();
}

/// The old SA's lifetime ends while the new SA uses its address: the lease moves to the
/// new SA with the child SAs, nothing is given back; the new SA's end gives it back once.
#[test]
fn the_old_sa_expiring_hands_its_lease_to_the_new() {
    let (mut net, store) = new_net(54, false);
    let old_cl = login(&mut net, a(), "alice", false, true);
    assert_eq!(quick_mode(&mut net, old_cl), 1);
    let old_gw = assigned(&net.gw_log())[0].0;
    let first_child = children(&net.gw_log())[0].1;
    net.run_for(Duration::from_secs(10));
    let new_cl = login(&mut net, a(), "alice", false, false);
    let new_gw = assigned(&net.gw_log())[1].0;
    assert_eq!(assigned(&net.gw_log())[1].1, FIRST);
    assert_eq!(quick_mode(&mut net, new_cl), 2);
    store.clear_samples();

    // Past the old SA's lifetime, before the new one's.
    net.run_for(Duration::from_secs(LIFE - 10));
    assert!(deleted(&net.gw_log()).contains(&old_gw));
    assert!(!deleted(&net.gw_log()).contains(&new_gw));
    assert_eq!(rekeyed(&net.gw_log()), [(old_gw, new_gw)]);
    assert!(
        !child_deleted(&net.gw_log()).contains(&(old_gw, first_child)),
        "the old SA's child moved"
    );
    assert_eq!(net.gw.sa_count(), 1);
    assert_eq!(net.gw.assigned_address(new_gw), Some(FIRST));
    let in_use = store.samples();
    assert!(in_use.iter().all(|n| *n == 1), "{in_use:?}");
    assert!(store.released().is_empty());
    assert!(store.held(FIRST));
    // Moved, not lost: a newcomer gets the other address.
    let other = login(&mut net, b(), "bob", false, true);
    assert_eq!(net.cli(b()).assigned_address(other), Some(SECOND));

    gw_delete(&mut net, &store, new_gw);
    assert_eq!(store.released(), [FIRST]);
    assert_eq!(store.in_use(), 1);
    assert_eq!(store.leased(), [FIRST, SECOND]);
    store.no_bad_release();
}

/// A third phase 1 with INITIAL-CONTACT (the client restarted) drops the old SA that
/// holds the address and the newer one that uses it; the address is given back once and
/// the restarted client gets it again.
#[test]
fn initial_contact_frees_a_lent_address_once() {
    let (mut net, store) = new_net(55, false);
    let first = login(&mut net, a(), "alice", false, true);
    let second = login(&mut net, a(), "alice", false, false);
    assert_eq!(net.cli(a()).assigned_address(second), Some(FIRST));
    assert_eq!(store.leased(), [FIRST]);
    let (g1, g2) = {
        let a = assigned(&net.gw_log());
        (a[0].0, a[1].0)
    };
    let third = login(&mut net, a(), "alice", false, true);
    let deleted = deleted(&net.gw_log());
    assert!(
        deleted.contains(&g1) && deleted.contains(&g2),
        "{deleted:?}"
    );
    assert_eq!(net.gw.sa_count(), 1);
    assert_eq!(store.released(), [FIRST]);
    assert_eq!(store.leased(), [FIRST, FIRST]);
    assert_eq!(net.cli(a()).assigned_address(third), Some(FIRST));
    assert_eq!(store.in_use(), 1);
    assert_ne!(first, third);
    store.no_bad_release();
}

/// Another user from the same address and group gets an address of its own: an address
/// is given again only to the same client.
#[test]
fn another_user_behind_the_same_address_gets_its_own() {
    let (mut net, store) = new_net(56, false);
    let _ = login(&mut net, a(), "alice", false, true);
    let other = login(&mut net, a(), "bob", false, false);
    assert_eq!(net.cli(a()).assigned_address(other), Some(SECOND));
    assert_eq!(store.leased(), [FIRST, SECOND]);
    assert_eq!(store.in_use(), 2);
}

/// A RADIUS Framed-IP-Address: the client's second phase 1 gets the same AAA address
/// again (it used to fail as "address in use"), with one lease.
#[test]
fn an_aaa_address_is_given_again_on_a_rekey() {
    let framed = Ipv4Addr::new(172, 16, 0, 9);
    let (mut net, store) = new_net(57, true);
    net.users = Some(Users::from([("alice".to_string(), ("pw", Some(framed)))]));
    let old_cl = login(&mut net, a(), "alice", false, true);
    assert_eq!(net.cli(a()).assigned_address(old_cl), Some(framed));
    assert_eq!(quick_mode(&mut net, old_cl), 1);
    net.run_for(Duration::from_secs(LIFE - 50));
    let rk = rekeyed(&net.cli_log());
    assert_eq!(rk.len(), 1, "{rk:?}");
    assert_eq!(net.cli(a()).assigned_address(rk[0].1), Some(framed));
    let gw = assigned(&net.gw_log());
    assert_eq!(gw.len(), 2);
    assert!(gw.iter().all(|(_, a)| *a == framed), "{gw:?}");
    assert_eq!(failed(&net.gw_log()), 0);
    assert_eq!(store.leased(), [framed]);
    assert_eq!(store.in_use(), 1);
    let new_gw = gw[1].0;
    gw_delete(&mut net, &store, new_gw);
    assert_eq!(store.released(), [framed]);
    assert_eq!(store.in_use(), 0);
    store.no_bad_release();
}

/// A 1.x client whose CFG_ACK never arrives: the gateway's CFG_SET gives up, the SA
/// fails, and the address it leased for the SET goes back to the pool.
#[test]
fn a_push_that_fails_gives_its_address_back() {
    let (mut net, store) = new_net(58, false);
    // The client's datagrams are lost from the SET's lease on (its CFG_ACK, after Xauth).
    let leased = store.clone();
    let gw: SocketAddr = GW.parse().unwrap();
    net.drop = Box::new(move |_, t| t.remote == gw && !leased.leased().is_empty());
    let mut profile = presets::vpn_client_11(b"cisco1234", "alice", b"pw");
    profile.offers[0].life_secs = Some(LIFE);
    let _ = initiate(&mut net, a(), profile);
    net.run_for(Duration::from_secs(2));
    assert_eq!(store.leased(), [FIRST], "the SET's address");
    net.run_for(Duration::from_secs(120));
    assert!(
        net.gw_events.iter().any(|e| matches!(
            e,
            Event::Failed {
                reason: FailReason::AddressUnavailable,
                ..
            }
        )),
        "the push gave up"
    );
    assert_eq!(net.gw.sa_count(), 0);
    assert_eq!(store.released(), [FIRST]);
    assert_eq!(store.in_use(), 0);
    store.no_bad_release();
}
