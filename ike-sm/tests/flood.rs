//! Admission under attack (issue 15, items 1 and 3), on the virtual clock: floods of
//! spoofed first messages from random sources in a /16 (or in the real client's own /24)
//! and a seed VPN Client 4.x flow (Aggressive Mode, Xauth, Mode Config pull, two Quick
//! Modes) that must still complete; the DH work and the SA table stay bounded; the first
//! reply to a silent peer is sent at most twice; an Aggressive Mode probe with an
//! IPV4_ADDR identity never gets a HASH_R keyed with the Main Mode address key.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

mod common;

use common::net::*;
use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::phase1::skeyid_psk;
use ike_sm::Secret;
use ike_sm::*;
use isakmp_wire::payload::id::OwnedId;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::{Message, OwnedMessage, Payload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The real client, outside the flood's /16.
const CLIENT: &str = "192.168.1.2:500";
const GROUP_KEY: &[u8] = SEED_PSK;
/// The Main Mode wildcard key (`isakmp key ... address 0.0.0.0 netmask 0.0.0.0`), kept
/// different from the group key so that a HASH_R keyed with it can be told apart.
const WILDCARD_KEY: &[u8] = b"wildcard-secret";

fn gateway(f: impl FnOnce(&mut GatewayConfig, &mut Limits)) -> Endpoint {
    let (mut cfg, pools) = seed_gateway_config(SEED_POOL);
    let gw = cfg.gateway.as_mut().unwrap();
    gw.keys[0].key = Secret::from_slice(WILDCARD_KEY);
    // No `debug crypto isakmp` (a gateway under a flood has it off; the lines are built
    // for every transform of every first message otherwise).
    cfg.limits.debug_events = false;
    f(gw, &mut cfg.limits);
    Endpoint::new(cfg, pools)
}

fn profile_4x(group: &str, psk: &[u8]) -> ClientProfile {
    ClientProfile {
        mode: Phase1Mode::Aggressive,
        group_name: Some(group.into()),
        psk: Secret::from_slice(psk),
        offers: offers_4x_des(),
        xauth: Some(("cisco_customer".into(), Secret::from_slice(b"cisco123"))),
        mode_config: ClientModeCfg::Pull,
        vendor_ids: true,
        nat_t: false,
        initial_contact: true,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

/// VPN Client 1.1 style Main Mode (DES/MD5, group 1).
fn profile_mm() -> ClientProfile {
    ClientProfile {
        mode: Phase1Mode::Main,
        group_name: None,
        psk: Secret::from_slice(WILDCARD_KEY),
        offers: vec![P1Offer {
            encryption: CipherAlg::Des,
            hash: HashAlg::Md5,
            group: DhGroup::from_attribute(1).unwrap(),
            auth_method: 1,
            life_secs: None,
        }],
        xauth: None,
        mode_config: ClientModeCfg::None,
        vendor_ids: false,
        nat_t: false,
        initial_contact: false,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

/// The first message a client with `profile` sends.
fn first_message(profile: ClientProfile, seed: u64) -> Vec<u8> {
    let mut c = client_endpoint();
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Instant::now();
    c.initiate(
        now,
        CLIENT.parse().unwrap(),
        GW.parse().unwrap(),
        profile,
        &mut rng,
    )
    .unwrap();
    c.poll_transmit().unwrap().bytes
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Mm1,
    Am1,
    Am1UnknownGroup,
    HeaderOnly,
}

/// Spoofed first messages: templates with a fresh random initiator cookie each, from
/// random sources in `base/prefix_len`.
struct Spoofer {
    rng: StdRng,
    base: u32,
    host_bits: u32,
    mm1: Vec<u8>,
    am1: Vec<u8>,
    am1_unknown: Vec<u8>,
    /// Datagrams the gateway sent to spoofed sources.
    answers: usize,
}

impl Spoofer {
    fn new(seed: u64, net: Ipv4Addr, prefix_len: u32) -> Self {
        Spoofer {
            rng: StdRng::seed_from_u64(seed),
            base: u32::from(net),
            host_bits: 32 - prefix_len,
            mm1: first_message(profile_mm(), seed ^ 1),
            am1: first_message(profile_4x("vpn3000", GROUP_KEY), seed ^ 2),
            am1_unknown: first_message(profile_4x("nosuchgroup", GROUP_KEY), seed ^ 3),
            answers: 0,
        }
    }

    fn source(&mut self) -> SocketAddr {
        loop {
            let host = self.rng.next_u32() & ((1u32 << self.host_bits) - 1);
            // Not the network or broadcast address, never the real client.
            let a = Ipv4Addr::from(self.base | host);
            let o = a.octets()[3];
            if o != 0 && o != 255 && a.to_string() + ":500" != CLIENT {
                return SocketAddr::from((a, 500));
            }
        }
    }

    fn packet(&mut self, kind: Kind) -> (SocketAddr, Vec<u8>) {
        let mut b = match kind {
            Kind::Mm1 => self.mm1.clone(),
            Kind::Am1 => self.am1.clone(),
            Kind::Am1UnknownGroup => self.am1_unknown.clone(),
            Kind::HeaderOnly => {
                // A bare ISAKMP header: next payload none, Identity Protection, length 28.
                let mut h = vec![0u8; 28];
                h[17] = 0x10;
                h[18] = 2;
                h[27] = 28;
                h
            }
        };
        self.rng.fill_bytes(&mut b[..8]);
        (self.source(), b)
    }

    /// Sends one spoofed packet of `kind` to the gateway and drains what it answers;
    /// datagrams for the real client (queued before) go to `keep`.
    fn send(
        &mut self,
        gw: &mut Endpoint,
        now: Instant,
        kind: Kind,
        rng: &mut StdRng,
        keep: &mut Vec<Transmit>,
    ) {
        let (src, b) = self.packet(kind);
        gw.handle_datagram(now, GW.parse().unwrap(), src, &b, rng);
        let client: SocketAddr = CLIENT.parse().unwrap();
        while let Some(t) = gw.poll_transmit() {
            if t.remote == client {
                keep.push(t);
            } else {
                self.answers += 1;
            }
        }
    }
}

/// The gateway and one real client on a virtual clock (5 ms per datagram), the
/// gateway's timers driven every 50 ms; the gateway's answers to spoofed sources are
/// dropped (nobody is there) and its log keeps no Deleted, Failed or Debug events.
fn flood_net(seed: u64, gw: Endpoint) -> Net {
    let mut net = Net::new(seed, gw);
    net.client(CLIENT);
    net.timer_step = Some(Duration::from_millis(50));
    net.keep_gw_event = |e| {
        !matches!(
            e,
            Event::Deleted { .. } | Event::Failed { .. } | Event::Debug(_)
        )
    };
    net
}

impl Net {
    /// The seed's 4.x flow from [`CLIENT`]: phase 1, Xauth, Mode Config, then two Quick
    /// Modes. Returns the child SAs the gateway installed.
    /// `flood` runs before each of the client's datagrams reaches the gateway (see
    /// [`FloodHook`]).
    fn flow_4x(
        &mut self,
        seed: u64,
        flood: impl FnMut(&mut Endpoint, Instant, &mut StdRng, &mut Vec<Transmit>) + 'static,
    ) -> usize {
        self.flood = Some(Box::new(flood));
        let c = self.client(CLIENT);
        let mut rng = StdRng::seed_from_u64(seed);
        let sa = self.initiate(c, profile_4x("vpn3000", GROUP_KEY), &mut rng);
        self.run(Duration::from_secs(30));
        assert!(
            self.cli(c).ready_for_quick_mode(sa),
            "the real client is not logged in: {:?}",
            self.cli_events
        );
        let addr = self.cli(c).assigned_address(sa).unwrap();
        for remote in [
            Selector::Addr("192.168.1.1".parse().unwrap()),
            Selector::Subnet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED),
        ] {
            let now = self.now;
            self.cli(c)
                .initiate_quick_mode(
                    now,
                    sa,
                    QuickModeRequest {
                        local: TrafficSelector::new(Selector::Addr(addr)),
                        remote: TrafficSelector::new(remote),
                        offers: vec![QmOffer {
                            cipher: EncryptionAlgorithm::Des,
                            auth: IntegrityAlgorithm::HmacMd5_96,
                            with_ipcomp: false,
                            transport: false,
                        }],
                        pfs: None,
                        life_secs: 2_147_483,
                        life_kb: 0,
                    },
                    &mut rng,
                )
                .unwrap();
        }
        self.run(Duration::from_secs(30));
        self.gw_events
            .iter()
            .filter(|e| matches!(e, Event::ChildSa(_)))
            .count()
    }
}

fn no_flood() -> impl FnMut(&mut Endpoint, Instant, &mut StdRng, &mut Vec<Transmit>) {
    |_, _, _, _| {}
}

/// `kinds` spoofed first messages, spread evenly over one simulated second from `start`;
/// the SA table is checked against its bound as it goes.
fn flood(gw: &mut Endpoint, sp: &mut Spoofer, start: Instant, kinds: &[Kind], rng: &mut StdRng) {
    let n = kinds.len() as u32;
    let bound = Limits::default().max_half_open;
    for (i, k) in kinds.iter().enumerate() {
        let now = start + Duration::from_secs(1) * (i as u32) / n;
        let mut keep = Vec::new();
        sp.send(gw, now, *k, rng, &mut keep);
        assert!(keep.is_empty());
        while gw.poll_event().is_some() {}
        if i % 512 == 0 {
            gw.handle_timeout(now, rng);
            assert!(gw.sa_count() <= bound, "{} SAs", gw.sa_count());
        }
    }
    assert!(gw.half_open_count() <= bound);
    assert!(gw.sa_count() <= bound);
}

/// 10,000 spoofed MM1 and 5,000 header-only messages from random sources in a /16
/// within one simulated second, then the seed's 4.x flow from another address.
#[test]
fn main_mode_and_header_flood_then_a_real_login() {
    let mut net = flood_net(1, gateway(|_, _| {}));
    let mut sp = Spoofer::new(11, Ipv4Addr::new(10, 77, 0, 0), 16);
    let kinds: Vec<Kind> = (0..15_000)
        .map(|i| {
            if i % 3 == 2 {
                Kind::HeaderOnly
            } else {
                Kind::Mm1
            }
        })
        .collect();
    let start = net.now;
    flood(&mut net.gw, &mut sp, start, &kinds, &mut net.rng);
    net.now = start + Duration::from_secs(1);
    let c = net.gw.counters().clone();
    let max = Limits::default().max_half_open as u64;
    assert_eq!(c.get(Refusal::BadFirstMessage), 5_000, "{c:?}");
    // Every MM1 was answered (none refused): those over the table's size evicted others.
    assert_eq!(sp.answers, 10_000);
    assert_eq!(c.get(Refusal::HalfOpenEvicted), 10_000 - max, "{c:?}");
    assert_eq!(c.get(Refusal::RateLimited), 0);
    // Main Mode first messages cost no Diffie-Hellman.
    assert_eq!(net.gw.phase1_modexps(), 0);
    let children = net.flow_4x(7, no_flood());
    assert_eq!(children, 2, "the real client got both child SAs");
    assert!(net
        .gw_events
        .iter()
        .any(|e| matches!(e, Event::Phase1Established { .. })));
}

/// 5,000 spoofed AM1 (half of a known group, half of an unknown one) within one second:
/// the Diffie-Hellman work stays small (reused key pairs under pressure, g^xy only at
/// AM3), the table bounded; then the real login works, during a second such flood too.
#[test]
fn aggressive_mode_flood_costs_few_modexps_and_a_real_login_gets_in() {
    let mut net = flood_net(2, gateway(|_, _| {}));
    let mut sp = Spoofer::new(12, Ipv4Addr::new(10, 77, 0, 0), 16);
    let kinds: Vec<Kind> = (0..5_000)
        .map(|i| {
            if i % 2 == 0 {
                Kind::Am1
            } else {
                Kind::Am1UnknownGroup
            }
        })
        .collect();
    let start = net.now;
    flood(&mut net.gw, &mut sp, start, &kinds, &mut net.rng);
    net.now = start + Duration::from_secs(1);
    let l = Limits::default();
    let flood_modexps = net.gw.phase1_modexps();
    // One key pair per AM1 until the table is under pressure, then one per group and
    // window: nowhere near one (let alone two) per spoofed AM1.
    assert!(
        flood_modexps <= l.pressure_half_open as u64 + 2,
        "{flood_modexps} modexps for 5,000 AM1"
    );
    assert_eq!(sp.answers, 5_000, "every AM1 answered");
    let c = net.gw.counters().clone();
    assert_eq!(
        c.get(Refusal::HalfOpenEvicted),
        5_000 - l.max_half_open as u64,
        "{c:?}"
    );
    // A second flood runs while the real client logs in: 100 spoofed AM1 before each of
    // its datagrams.
    let mut sp2 = Spoofer::new(13, Ipv4Addr::new(10, 77, 0, 0), 16);
    let during =
        move |gw: &mut Endpoint, now: Instant, rng: &mut StdRng, keep: &mut Vec<Transmit>| {
            for i in 0..100 {
                let k = if i % 2 == 0 {
                    Kind::Am1
                } else {
                    Kind::Am1UnknownGroup
                };
                sp2.send(gw, now, k, rng, keep);
            }
        };
    let children = net.flow_4x(8, during);
    assert_eq!(children, 2);
    // The real login added one key pair at most (shared under pressure) and one agreement.
    // By the Quick Modes the first flood's SAs had expired (the table was quiet), so
    // that burst paid key pairs again until pressure set in: at most as many as the first.
    let total = net.gw.phase1_modexps();
    assert!(
        total <= 2 * flood_modexps + 2,
        "{total} modexps (first flood {flood_modexps})"
    );
    assert!(net.gw.sa_count() <= l.max_half_open + 1);
}

/// A flood from random sources in the real client's own /24, against a table of 256,
/// during the whole login (200 spoofed AM1 before each of the client's datagrams). The
/// guarantee: a full table evicts in its most crowded address, and 256 half-open SAs in
/// one /24 put at least two on some address, so the client's single half-open SA is never
/// the victim. It gets in with its first AM1 (no retransmission needed).
#[test]
fn flood_from_the_clients_own_slash24_still_lets_it_in() {
    let gw = gateway(|_, l| l.max_half_open = 256);
    let mut net = flood_net(3, gw);
    let mut sp = Spoofer::new(14, Ipv4Addr::new(192, 168, 1, 0), 24);
    let mut during =
        move |gw: &mut Endpoint, now: Instant, rng: &mut StdRng, keep: &mut Vec<Transmit>| {
            for i in 0..200 {
                let k = if i % 2 == 0 { Kind::Am1 } else { Kind::Mm1 };
                sp.send(gw, now, k, rng, keep);
            }
        };
    // The table is full before the client starts.
    let t = net.now;
    let mut keep = Vec::new();
    during(&mut net.gw, t, &mut net.rng, &mut keep);
    during(&mut net.gw, t, &mut net.rng, &mut keep);
    assert!(keep.is_empty());
    assert_eq!(net.gw.half_open_count(), 256);
    let children = net.flow_4x(9, during);
    assert_eq!(children, 2);
    assert!(net.gw.counters().get(Refusal::HalfOpenEvicted) > 1_000);
    // AM1, AM3, Xauth reply and ack, CFG request and ack (some clients), two QM1, two
    // QM3: no datagram was resent (resending would show up as more).
    let first_try = net
        .cli_events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Phase1Established { .. }))
        .count();
    assert_eq!(first_try, 1);
    assert!(net.cli_sent <= 10, "{} datagrams", net.cli_sent);
}

/// The responder's first reply (MM2, AM2) to a peer that never answers is sent at most
/// twice in all; a later exchange (MM4) keeps the full retransmission count.
#[test]
fn first_reply_to_a_silent_peer_is_sent_at_most_twice() {
    let silent: SocketAddr = "198.51.100.7:500".parse().unwrap();
    let gw_addr: SocketAddr = GW.parse().unwrap();
    for first in [
        first_message(profile_mm(), 21),
        first_message(profile_4x("vpn3000", GROUP_KEY), 22),
        first_message(profile_4x("nosuchgroup", GROUP_KEY), 23),
    ] {
        let mut gw = gateway(|_, _| {});
        let mut rng = StdRng::seed_from_u64(5);
        let mut now = Instant::now();
        gw.handle_datagram(now, gw_addr, silent, &first, &mut rng);
        let end = now + Duration::from_secs(120);
        let mut sent = 0;
        loop {
            while let Some(t) = gw.poll_transmit() {
                assert_eq!(t.remote, silent);
                sent += 1;
            }
            match gw.poll_timeout() {
                Some(t) if t <= end => {
                    now = t;
                    gw.handle_timeout(now, &mut rng);
                }
                _ => break,
            }
        }
        assert_eq!(sent, 2, "first reply sent {sent} times");
        assert_eq!(gw.sa_count(), 0, "the half-open SA went");
    }
    // Main Mode to MM4, then silence: MM4 goes out 1 + retransmit_count times.
    let mut gw = gateway(|_, _| {});
    let mut cl = client_endpoint();
    let mut rng = StdRng::seed_from_u64(6);
    let mut now = Instant::now();
    let c: SocketAddr = CLIENT.parse().unwrap();
    cl.initiate(now, c, gw_addr, profile_mm(), &mut rng)
        .unwrap();
    let mm1 = cl.poll_transmit().unwrap();
    gw.handle_datagram(now, gw_addr, c, &mm1.bytes, &mut rng);
    let mm2 = gw.poll_transmit().unwrap();
    cl.handle_datagram(now, c, gw_addr, &mm2.bytes, &mut rng);
    let mm3 = cl.poll_transmit().unwrap();
    gw.handle_datagram(now, gw_addr, c, &mm3.bytes, &mut rng);
    let mut mm4 = 0;
    let end = now + Duration::from_secs(120);
    loop {
        while gw.poll_transmit().is_some() {
            mm4 += 1;
        }
        match gw.poll_timeout() {
            Some(t) if t <= end => {
                now = t;
                gw.handle_timeout(now, &mut rng);
            }
            _ => break,
        }
    }
    assert_eq!(mm4, 1 + Limits::default().retransmit_count as usize);
}

/// The AM1 of `profile` with its identity replaced by ID_IPV4_ADDR `addr`.
fn am1_with_ipv4_identity(seed: u64, addr: Ipv4Addr) -> Vec<u8> {
    let am1 = first_message(profile_4x("vpn3000", GROUP_KEY), seed);
    let mut m = OwnedMessage::parse(&am1).unwrap();
    let isakmp_wire::message::OwnedBodyKind::Payloads(ps) = &mut m.body else {
        panic!("AM1 encrypted");
    };
    let mut replaced = 0;
    for p in ps.iter_mut() {
        if let OwnedBody::Identification(id) = &mut p.body {
            *id = OwnedId::ipv4(addr, 17, 500);
            replaced += 1;
        }
    }
    assert_eq!(replaced, 1);
    m.to_bytes().unwrap()
}

/// Whether AM2's HASH_R verifies with `psk` (RFC 2409 5.4: HASH_R = prf(SKEYID, g^xr |
/// g^xi | CKY-R | CKY-I | SAi_b | IDir_b), SKEYID = prf(psk, Ni_b | Nr_b)).
fn hash_r_verifies(am1: &[u8], am2: &[u8], psk: &[u8]) -> bool {
    let (m1, m2) = (Message::parse(am1).unwrap(), Message::parse(am2).unwrap());
    let (mut sa_i, mut g_xi, mut ni) = (Vec::new(), Vec::new(), Vec::new());
    for p in m1.payloads().unwrap() {
        match p.unwrap().body {
            Payload::Sa(s) => s.emit(&mut sa_i),
            Payload::KeyExchange(k) => g_xi = k.to_vec(),
            Payload::Nonce(n) => ni = n.to_vec(),
            _ => {}
        }
    }
    let (mut g_xr, mut nr, mut id_r, mut hash) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in m2.payloads().unwrap() {
        match p.unwrap().body {
            Payload::KeyExchange(k) => g_xr = k.to_vec(),
            Payload::Nonce(n) => nr = n.to_vec(),
            Payload::Identification(i) => i.emit(&mut id_r),
            Payload::Hash(h) => hash = h.to_vec(),
            _ => {}
        }
    }
    assert!(!g_xi.is_empty() && !g_xr.is_empty() && !ni.is_empty() && !nr.is_empty());
    let alg = match hash.len() {
        16 => HashAlg::Md5,
        20 => HashAlg::Sha1,
        n => panic!("HASH_R of {n} bytes"),
    };
    let skeyid = skeyid_psk(alg, psk, &ni, &nr);
    let (cky_i, cky_r) = (&am2[..8], &am2[8..16]);
    let want = alg.prf(
        skeyid.expose_secret(),
        &[&g_xr, &g_xi, cky_r, cky_i, &sa_i, &id_r],
    );
    want.expose_secret() == &hash[..]
}

fn probe(gw: &mut Endpoint, am1: &[u8]) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(8);
    let src: SocketAddr = "203.0.113.9:500".parse().unwrap();
    gw.handle_datagram(Instant::now(), GW.parse().unwrap(), src, am1, &mut rng);
    gw.poll_transmit().expect("AM2").bytes
}

fn payload_kinds_and_sizes(b: &[u8]) -> Vec<(u8, usize)> {
    Message::parse(b)
        .unwrap()
        .payloads()
        .unwrap()
        .map(|p| {
            let p = p.unwrap();
            (p.kind.into(), usize::from(p.length))
        })
        .collect()
}

/// An Aggressive Mode probe with an IPV4_ADDR identity, against the wildcard
/// `isakmp key`: a HASH_R keyed with a random key (the real wildcard key does not verify
/// it), shaped exactly like the answer to an unknown group; keyed with the wildcard key
/// only when the operator allowed it (which also shows the check can fail).
#[test]
fn aggressive_mode_ipv4_identity_gets_a_fake_key_unless_allowed() {
    let am1 = am1_with_ipv4_identity(31, Ipv4Addr::new(203, 0, 113, 9));
    let mut gw = gateway(|_, _| {});
    let am2 = probe(&mut gw, &am1);
    assert!(!hash_r_verifies(&am1, &am2, WILDCARD_KEY));
    assert!(!hash_r_verifies(&am1, &am2, GROUP_KEY));
    // Indistinguishable from an unknown group: the same payloads, of the same sizes.
    let unknown = first_message(profile_4x("nosuchgroup", GROUP_KEY), 32);
    let mut gw2 = gateway(|_, _| {});
    let am2_unknown = probe(&mut gw2, &unknown);
    assert_eq!(
        payload_kinds_and_sizes(&am2),
        payload_kinds_and_sizes(&am2_unknown)
    );
    assert_eq!(am2.len(), am2_unknown.len());
    // The same DH work as a known group (one key pair, no agreement before AM3).
    assert_eq!(gw.phase1_modexps(), 1);
    assert_eq!(gw2.phase1_modexps(), 1);
    // A known group's AM2 verifies with the group key (the computation is right).
    let known = first_message(profile_4x("vpn3000", GROUP_KEY), 33);
    let mut gw3 = gateway(|_, _| {});
    let am2_known = probe(&mut gw3, &known);
    assert!(hash_r_verifies(&known, &am2_known, GROUP_KEY));
    assert_eq!(
        payload_kinds_and_sizes(&am2_known),
        payload_kinds_and_sizes(&am2)
    );
    // Allowed by the operator: the address key answers.
    let mut open = gateway(|g, _| g.aggressive_address_keys = true);
    let am2_open = probe(&mut open, &am1);
    assert!(hash_r_verifies(&am1, &am2_open, WILDCARD_KEY));
}

/// Under pressure the responder's key pair is shared by the SAs of one group (the same
/// KE in every AM2 of the window) and made afresh after the window; a quiet gateway
/// draws a fresh one per SA.
#[test]
fn key_pair_reuse_only_under_pressure_and_for_a_window() {
    let mut gw = gateway(|_, l| l.pressure_half_open = 4);
    let mut sp = Spoofer::new(15, Ipv4Addr::new(10, 78, 0, 0), 16);
    let mut rng = StdRng::seed_from_u64(9);
    let start = Instant::now();
    let ke = |b: &[u8]| -> Vec<u8> {
        Message::parse(b)
            .unwrap()
            .payloads()
            .unwrap()
            .find_map(|p| match p.unwrap().body {
                Payload::KeyExchange(k) => Some(k.to_vec()),
                _ => None,
            })
            .unwrap()
    };
    let mut kes = Vec::new();
    for i in 0..10u32 {
        let now = start + Duration::from_millis(u64::from(i));
        let (src, b) = sp.packet(Kind::Am1);
        gw.handle_datagram(now, GW.parse().unwrap(), src, &b, &mut rng);
        kes.push(ke(&gw.poll_transmit().unwrap().bytes));
    }
    // The first 4 (not under pressure) are all different; then one shared value.
    for i in 0..4 {
        for j in 0..i {
            assert_ne!(kes[i], kes[j]);
        }
    }
    assert!(kes[4..].iter().all(|k| *k == kes[4]));
    assert!(!kes[..4].contains(&kes[4]));
    assert_eq!(gw.phase1_modexps(), 5);
    // After the window, a new one.
    let later = start + Limits::default().dh_reuse_window + Duration::from_millis(20);
    let (src, b) = sp.packet(Kind::Am1);
    gw.handle_datagram(later, GW.parse().unwrap(), src, &b, &mut rng);
    assert_ne!(ke(&gw.poll_transmit().unwrap().bytes), kes[4]);
    assert_eq!(gw.phase1_modexps(), 6);
}
