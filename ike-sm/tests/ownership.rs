//! Who owns what (issue 15, items 4 and 5), on the virtual clock: a gateway configured
//! like the seed's PIX plus an `isakmp key ... no-xauth no-config-mode` site-to-site
//! peer, and clients of ours.
//!
//! * An IKE SA without a Mode Config address cannot claim, in its Quick Mode initiator
//!   ID, every address, a local pool's addresses or an address assigned to another SA:
//!   INVALID-ID-INFORMATION, counted, the IKE SA stays; its own networks are accepted.
//!   Child SAs carry the address their IKE SA owns, for the data plane.
//! * INITIAL-CONTACT acts only after Xauth accepted the user, and only on the SAs of that
//!   user from that peer.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

mod common;

use common::net::*;
use ike_sm::counters::Refusal;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::presets;
use ike_sm::Secret;
use ike_sm::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The site-to-site peer with its own `isakmp key ... no-xauth no-config-mode`.
const B: &str = "198.51.100.9:500";
const B_KEY: &[u8] = b"site-to-site-key";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn subnet(a: &str, m: &str) -> Selector {
    Selector::Subnet(ip(a), ip(m))
}

impl Net {
    /// The seed's gateway plus the site-to-site peer's key; Xauth answered from alice,
    /// bob and carol.
    fn new_ownership(seed: u64) -> Self {
        let (mut cfg, pools) = seed_gateway_config(SEED_POOL);
        cfg.gateway.as_mut().unwrap().keys.push(PeerKey {
            address: ip("198.51.100.9"),
            netmask: Ipv4Addr::BROADCAST,
            key: Secret::from_slice(B_KEY),
            no_xauth: true,
            no_config_mode: true,
        });
        let mut users = Users::new();
        users.insert("alice".to_string(), ("alice-pw", None));
        users.insert("bob".to_string(), ("bob-pw", None));
        // Carol's address comes from AAA, outside every pool.
        users.insert("carol".to_string(), ("carol-pw", Some(ip("10.20.0.7"))));
        let mut net = Net::new(seed, Endpoint::new(cfg, pools));
        net.users = Some(users);
        net
    }

    /// A client endpoint (re)starting at `addr` (a restart forgets its SAs); returns the
    /// SA it starts.
    fn start(&mut self, addr: &str, profile: ClientProfile) -> (SocketAddr, SaId) {
        let a = self.restart_client(addr);
        let sa = self.initiate(a, profile, &mut StdRng::seed_from_u64(7));
        self.run(Duration::from_secs(30));
        (a, sa)
    }

    /// A VPN Client 4.x user logging in from `addr` (with INITIAL-CONTACT).
    fn login(&mut self, addr: &str, user: &str, password: &str) -> (SocketAddr, SaId) {
        let p = presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", user, password.as_bytes());
        self.start(addr, p)
    }

    /// The site-to-site peer: Main Mode with its address key, no Xauth, no Mode Config.
    fn site_to_site(&mut self) -> (SocketAddr, SaId) {
        let mut p = presets::vpn_client_11(B_KEY, "unused", b"unused");
        p.xauth = None;
        p.mode_config = ClientModeCfg::None;
        p.initial_contact = false;
        let (a, sa) = self.start(B, p);
        assert!(
            self.cli(a).ready_for_quick_mode(sa),
            "{:#?}",
            self.gw_debug()
        );
        (a, sa)
    }

    fn in_use(&self) -> u32 {
        self.gw.pools().pool("VPNpool").unwrap().in_use()
    }

    /// A Quick Mode from client `c`'s SA `sa` with initiator ID `ours`; runs the network.
    fn quick_mode(&mut self, c: SocketAddr, sa: SaId, ours: Selector, theirs: Selector) {
        let req = QuickModeRequest {
            local: TrafficSelector::new(ours),
            remote: TrafficSelector::new(theirs),
            offers: presets::seed_qm_offers(),
            pfs: None,
            life_secs: 28_800,
            life_kb: 0,
        };
        let (now, mut rng) = (self.now, StdRng::seed_from_u64(self.rng.next_u64()));
        self.cli(c)
            .initiate_quick_mode(now, sa, req, &mut rng)
            .unwrap();
        self.run(Duration::from_secs(10));
    }
}

const INSIDE: (&str, &str) = ("10.89.129.128", "255.255.255.128");

#[test]
fn a_peer_without_an_address_cannot_claim_pools_or_other_users_addresses() {
    let mut net = Net::new_ownership(1);
    // Carol logs in (4.x); AAA gives her 10.20.0.7, outside every pool.
    let (carol, carol_sa) = net.login("203.0.113.5:500", "carol", "carol-pw");
    assert_eq!(
        net.cli(carol).assigned_address(carol_sa),
        Some(ip("10.20.0.7"))
    );
    net.quick_mode(
        carol,
        carol_sa,
        Selector::Addr(ip("10.20.0.7")),
        subnet("0.0.0.0", "0.0.0.0"),
    );
    // Alice logs in and gets the pool's first address.
    let (alice, alice_sa) = net.login("203.0.113.6:500", "alice", "alice-pw");
    let alice_addr = net.cli(alice).assigned_address(alice_sa).unwrap();
    assert_eq!(alice_addr, ip(SEED_POOL.0));
    net.quick_mode(
        alice,
        alice_sa,
        Selector::Addr(alice_addr),
        subnet("0.0.0.0", "0.0.0.0"),
    );
    let children = net.gw_children();
    assert_eq!(children.len(), 2);
    // Each user's child SAs carry the address its IKE SA owns.
    assert_eq!(children[0].assigned_address, Some(ip("10.20.0.7")));
    assert_eq!(children[1].assigned_address, Some(alice_addr));

    let (b, b_sa) = net.site_to_site();
    let before = net.gw.counters().get(Refusal::SelectorNotOwned);
    let inside = subnet(INSIDE.0, INSIDE.1);
    let claims = [
        subnet("0.0.0.0", "0.0.0.0"),
        Selector::Range(ip("0.0.0.0"), ip("255.255.255.255")),
        // A pool address nobody holds, the one Alice holds, and a subnet over the pool.
        Selector::Addr(ip("10.89.129.203")),
        Selector::Addr(alice_addr),
        subnet("10.89.129.0", "255.255.255.0"),
        Selector::Range(ip("10.89.129.204"), ip("10.89.129.250")),
        // Carol's AAA address, as a /32 and inside a subnet.
        subnet("10.20.0.7", "255.255.255.255"),
        subnet("10.20.0.0", "255.255.0.0"),
    ];
    let mut counted = before;
    for (i, claim) in claims.iter().enumerate() {
        net.quick_mode(b, b_sa, *claim, inside);
        assert_eq!(
            net.gw_children().len(),
            2,
            "claim {i} {claim:?} was accepted"
        );
        // Each refused QM1, and each of its retransmissions, is counted.
        let now_counted = net.gw.counters().get(Refusal::SelectorNotOwned);
        assert!(now_counted > counted, "claim {i} {claim:?} not counted");
        counted = now_counted;
    }
    // The client gives up on the refused Quick Modes (their retransmissions stop).
    net.run(Duration::from_secs(300));
    assert_eq!(net.gw_children().len(), 2);
    let dbg = net.gw_debug();
    assert!(
        dbg.iter().any(|l| l
            == "IPSEC(validate_proposal): proxy identity 0.0.0.0/0.0.0.0/0/0 is not this peer's: it covers every address"),
        "{dbg:#?}"
    );
    assert!(
        dbg.iter().any(|l| l
            == "IPSEC(validate_proposal): proxy identity 10.20.0.0/255.255.0.0/0/0 is not this peer's: it covers 10.20.0.7, a pool address or another peer's"),
        "{dbg:#?}"
    );
    // Refused with INVALID-ID-INFORMATION (18); the IKE SA stays up.
    assert!(dbg
        .iter()
        .any(|l| l == "ISAKMP (0): sending NOTIFY 18 protocol 1"));
    assert!(net.cli(b).ready_for_quick_mode(b_sa));
    assert_eq!(net.gw.sa_count(), 3);

    // Its own address and its own LAN are its to claim.
    net.quick_mode(b, b_sa, Selector::Addr(ip("198.51.100.9")), inside);
    net.quick_mode(b, b_sa, subnet("10.1.2.0", "255.255.255.0"), inside);
    let children = net.gw_children();
    assert_eq!(children.len(), 4, "{:#?}", net.gw_debug());
    assert_eq!(
        children[3].remote_selector.addr,
        subnet("10.1.2.0", "255.255.255.0")
    );
    assert!(children[2..].iter().all(|c| c.assigned_address.is_none()));

    // The same subnet that covered Carol's address is fine once she is gone: it was the
    // lease, not a fixed rule, that refused it.
    let now = net.now;
    let carol_gw = net.gw_sa_of(carol);
    net.gw.delete(now, carol_gw, &mut net.rng).unwrap();
    net.run(Duration::from_secs(5));
    net.quick_mode(b, b_sa, subnet("10.20.0.0", "255.255.0.0"), inside);
    assert_eq!(net.gw_children().len(), 5, "{:#?}", net.gw_debug());
    // A user with an address still selects only that address (counted the same way).
    let refused = net.gw.counters().get(Refusal::SelectorNotOwned);
    net.quick_mode(
        alice,
        alice_sa,
        subnet("10.1.2.0", "255.255.255.0"),
        subnet("0.0.0.0", "0.0.0.0"),
    );
    assert_eq!(net.gw_children().len(), 5);
    assert!(net.gw.counters().get(Refusal::SelectorNotOwned) > refused);
}

#[test]
fn initial_contact_replaces_the_same_users_sa_only_after_xauth_accepts() {
    let mut net = Net::new_ownership(2);
    let (_, _) = net.login("203.0.113.6:500", "alice", "alice-pw");
    let first = net.gw_sa_of("203.0.113.6:500".parse().unwrap());
    assert_eq!(net.in_use(), 1);
    // Alice's client restarts (INITIAL-CONTACT); her AAA server is slow to answer.
    net.hold_verdicts = true;
    net.login("203.0.113.6:500", "alice", "alice-pw");
    assert_eq!(net.held.len(), 1);
    let dbg = net.gw_debug();
    assert!(dbg
        .iter()
        .any(|l| l == "ISAKMP (0): processing notify INITIAL_CONTACT"));
    // Phase 1 alone proves only the group key: the old SA is still there.
    assert!(net.gw_deleted().is_empty(), "{:#?}", net.gw_debug());
    assert_eq!(net.gw.sa_count(), 2);
    assert_eq!(net.gw.sa_state(first), Some(P1State::Established));
    // Xauth accepts her: now her old SA goes, and its address is hers again.
    net.release_verdicts();
    assert_eq!(net.gw_deleted(), vec![first]);
    assert_eq!(net.gw.sa_count(), 1);
    assert_eq!(net.in_use(), 1);
    let dbg = net.gw_debug();
    assert!(
        dbg.iter().any(|l| l
            == "ISAKMP (0): INITIAL_CONTACT honoured: 1 older IKE SA(s) of this user and peer deleted"),
        "{dbg:#?}"
    );
    let addrs = net.gw_assigned();
    assert_eq!(addrs, vec![ip(SEED_POOL.0), ip(SEED_POOL.0)]);
}

#[test]
fn initial_contact_from_another_user_at_the_same_address_drops_nothing() {
    let mut net = Net::new_ownership(3);
    let peer: SocketAddr = "203.0.113.6:500".parse().unwrap();
    net.login("203.0.113.6:500", "alice", "alice-pw");
    let alice = net.gw_sa_of(peer);
    // Bob logs in from the same address (same host, or the same NAT address without
    // NAT-T), with INITIAL-CONTACT, and passes Xauth as himself.
    net.login("203.0.113.6:500", "bob", "bob-pw");
    let bob = net.gw_sa_of(peer);
    assert_ne!(alice, bob);
    assert!(net.gw_deleted().is_empty(), "{:#?}", net.gw_debug());
    assert_eq!(net.gw.sa_count(), 2);
    assert_eq!(net.in_use(), 2);
    assert_eq!(net.gw.assigned_address(alice), Some(ip("10.89.129.200")));
    assert_eq!(net.gw.assigned_address(bob), Some(ip("10.89.129.201")));
    assert!(net.gw_debug().iter().any(|l| {
        l == "ISAKMP (0): INITIAL_CONTACT honoured: 0 older IKE SA(s) of this user and peer deleted"
    }));
    // When Alice's SA goes, nothing of hers is handed to Bob's SA (same peer and group,
    // another user): her address goes back to the pool.
    let now = net.now;
    net.gw.delete(now, alice, &mut net.rng).unwrap();
    net.run(Duration::from_secs(5));
    assert!(!net
        .gw_events
        .iter()
        .any(|e| matches!(e, Event::Phase1Rekeyed { .. })));
    assert_eq!(net.gw_deleted(), vec![alice]);
    assert_eq!(net.in_use(), 1);
    assert_eq!(net.gw.sa_state(bob), Some(P1State::Established));
}

#[test]
fn initial_contact_with_a_wrong_password_drops_nothing() {
    let mut net = Net::new_ownership(4);
    let peer: SocketAddr = "203.0.113.6:500".parse().unwrap();
    net.login("203.0.113.6:500", "alice", "alice-pw");
    let alice = net.gw_sa_of(peer);
    let ignored = net.gw.counters().get(Refusal::InitialContactIgnored);
    // Somebody at her address guesses her password, with INITIAL-CONTACT.
    let (g, g_sa) = net.login("203.0.113.6:500", "alice", "guess");
    assert!(!net.cli(g).ready_for_quick_mode(g_sa));
    assert!(net.gw_events.iter().any(|e| matches!(
        e,
        Event::Failed {
            reason: FailReason::XauthFailed,
            ..
        }
    )));
    let guesser = net.gw_sa_of(peer);
    assert_ne!(guesser, alice);
    // Only the guesser's SA went; Alice keeps hers and her address.
    assert_eq!(net.gw_deleted(), vec![guesser], "{:#?}", net.gw_debug());
    assert_eq!(net.gw.sa_state(alice), Some(P1State::Established));
    assert_eq!(net.gw.assigned_address(alice), Some(ip("10.89.129.200")));
    assert_eq!(net.in_use(), 1);
    assert_eq!(
        net.gw.counters().get(Refusal::InitialContactIgnored),
        ignored + 1
    );
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l == "ISAKMP: dropping message: INITIAL-CONTACT ignored: Xauth did not succeed"));
}
