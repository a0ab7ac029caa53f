//! The in-memory IKEv1 handshake shared by the `ike_handshake` and `ike_replay` benches: a
//! gateway endpoint (the seed's PIX configuration) answering a client endpoint of ours.

use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::{presets, Endpoint, Event, IsakmpPolicy, ModeCfgMode, Selector, TrafficSelector};
use rand::rngs::StdRng;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The handshake.
#[derive(Clone, Copy, PartialEq)]
pub enum Flow {
    /// Aggressive Mode (VPN Client 4.x offers) + Xauth + Mode Config pull + one Quick
    /// Mode with the seed's eight proposals (proposal 7 chosen).
    AmXauthCfgQm,
    /// Main Mode (one transform) + Quick Mode, no Xauth or Mode Config.
    MmQm,
}

/// The phase-1 suite: the seed's DES/MD5, or AES-128/SHA-1 (to show what DES costs: the
/// Transaction and Quick Mode messages are encrypted with it).
#[derive(Clone, Copy, PartialEq)]
pub enum Suite {
    DesMd5,
    Aes128Sha1,
}

impl Suite {
    fn algs(self) -> (CipherAlg, HashAlg) {
        match self {
            Suite::DesMd5 => (CipherAlg::Des, HashAlg::Md5),
            Suite::Aes128Sha1 => (CipherAlg::Aes128, HashAlg::Sha1),
        }
    }
}

/// The gateway's debug setting: `NoDebug` is the production one (the PIX with
/// `no debug`, `Limits::debug_events = false`: no debug events are built);
/// `DebugOn` is `debug crypto isakmp`/`ipsec` on (every debug event queued and drained).
#[derive(Clone, Copy, PartialEq)]
pub enum Debug {
    NoDebug,
    DebugOn,
}

/// The gateway: the seed's PIX with one `isakmp policy` of `group` and `suite`, and the
/// seed's five-address pool.
pub fn gateway(group: DhGroup, flow: Flow, suite: Suite, debug: Debug) -> Endpoint {
    gateway_with_pool(
        group,
        flow,
        suite,
        debug,
        Ipv4Addr::new(10, 89, 129, 200),
        Ipv4Addr::new(10, 89, 129, 204),
    )
}

/// [`gateway`] with the `ip local pool` from `first` to `last`.
pub fn gateway_with_pool(
    group: DhGroup,
    flow: Flow,
    suite: Suite,
    debug: Debug,
    first: Ipv4Addr,
    last: Ipv4Addr,
) -> Endpoint {
    let (mut cfg, pools) = presets::seed_gateway(b"cisco1234", first, last).unwrap();
    cfg.limits.debug_events = debug == Debug::DebugOn;
    let gw = cfg.gateway.as_mut().unwrap();
    let (encryption, hash) = suite.algs();
    gw.policies = vec![IsakmpPolicy {
        priority: 10,
        encryption,
        hash,
        group,
        lifetime_secs: 86_400,
    }];
    if flow == Flow::MmQm {
        gw.client_authentication = false;
        gw.mode_config = ModeCfgMode::default();
    }
    Endpoint::new(cfg, pools)
}

/// One thing the gateway is asked to do.
pub enum GwStep {
    /// A datagram from the client (remote, local, bytes).
    Datagram(SocketAddr, SocketAddr, Vec<u8>),
    /// Draining its events (granting every Xauth verdict), then its transmits.
    Poll,
}

/// What one handshake did on the gateway's side.
pub struct Run {
    /// Time spent inside the gateway's calls.
    pub in_gw: Duration,
    /// The gateway's IKE SA of this handshake.
    pub gw_sa: ike_sm::SaId,
    /// Each gateway step with the time it took.
    pub steps: Vec<(GwStep, Duration)>,
    /// Every datagram the gateway sent, in order.
    pub sent: Vec<Vec<u8>>,
}

/// The gateway's side of a polling step: events (Xauth verdicts granted, child SAs
/// counted), then transmits.
pub fn gw_poll(
    gw: &mut Endpoint,
    now: Instant,
    rng: &mut StdRng,
    children: &mut Vec<ike_sm::SaId>,
) -> Vec<ike_sm::Transmit> {
    let mut verdicts = Vec::new();
    while let Some(e) = gw.poll_event() {
        match e {
            Event::XauthCredentials { sa, .. } => verdicts.push(sa),
            Event::ChildSa(c) => children.push(c.ike_sa),
            _ => {}
        }
    }
    for v in verdicts {
        gw.xauth_verdict(now, v, true, rng).unwrap();
    }
    std::iter::from_fn(|| gw.poll_transmit()).collect()
}

/// One complete handshake of a client of ours against `gw`; only the gateway's calls are
/// timed. The gateway draws from `gw_rng` alone, so a fresh gateway seeded the same way
/// and fed the recorded steps repeats it byte for byte.
pub fn run(
    gw: &mut Endpoint,
    group: DhGroup,
    flow: Flow,
    suite: Suite,
    gw_rng: &mut StdRng,
    rng: &mut StdRng,
) -> Run {
    run_from(
        gw,
        group,
        flow,
        suite,
        gw_rng,
        rng,
        Ipv4Addr::new(192, 168, 1, 2),
    )
}

/// [`run`] with the client at `client`.
pub fn run_from(
    gw: &mut Endpoint,
    group: DhGroup,
    flow: Flow,
    suite: Suite,
    gw_rng: &mut StdRng,
    rng: &mut StdRng,
    client: Ipv4Addr,
) -> Run {
    let mut cl = Endpoint::new(presets::client(), modecfg::Pools::new());
    let g: SocketAddr = "192.168.1.1:500".parse().unwrap();
    let c = SocketAddr::new(client.into(), 500);
    let now = Instant::now();
    let mut profile = match flow {
        Flow::AmXauthCfgQm => {
            presets::vpn_client_4x(group, b"cisco1234", "cisco_customer", b"cisco123")
        }
        Flow::MmQm => presets::vpn_client_11(b"cisco1234", "u", b"p"),
    };
    if flow == Flow::MmQm {
        profile.offers[0].group = group;
        (profile.offers[0].encryption, profile.offers[0].hash) = suite.algs();
        profile.xauth = None;
        profile.mode_config = ike_sm::ClientModeCfg::None;
    }
    let sa = cl.initiate(now, c, g, profile, rng).unwrap();
    let mut r = Run {
        in_gw: Duration::ZERO,
        gw_sa: ike_sm::SaId(0),
        steps: Vec::new(),
        sent: Vec::new(),
    };
    let mut qm_sent = false;
    let mut children = Vec::new();
    for _ in 0..64 {
        let mut moved = false;
        while let Some(t) = cl.poll_transmit() {
            moved = true;
            let t0 = Instant::now();
            gw.handle_datagram(now, t.remote, t.local, &t.bytes, gw_rng);
            let dt = t0.elapsed();
            r.in_gw += dt;
            r.steps
                .push((GwStep::Datagram(t.remote, t.local, t.bytes), dt));
        }
        let t0 = Instant::now();
        let out = gw_poll(gw, now, gw_rng, &mut children);
        let dt = t0.elapsed();
        r.in_gw += dt;
        r.steps.push((GwStep::Poll, dt));
        for t in out {
            moved = true;
            cl.handle_datagram(now, t.remote, t.local, &t.bytes, rng);
            r.sent.push(t.bytes);
        }
        while cl.poll_event().is_some() {}
        if !qm_sent && cl.ready_for_quick_mode(sa) {
            qm_sent = true;
            moved = true;
            let local = cl
                .assigned_address(sa)
                .unwrap_or(Ipv4Addr::new(192, 168, 1, 2));
            let req = ike_sm::QuickModeRequest {
                local: TrafficSelector::new(Selector::Addr(local)),
                remote: TrafficSelector::new(Selector::Addr(Ipv4Addr::new(192, 168, 1, 1))),
                offers: presets::seed_qm_offers(),
                pfs: None,
                life_secs: 28_800,
                life_kb: 0,
            };
            cl.initiate_quick_mode(now, sa, req, rng).unwrap();
        }
        if !moved {
            break;
        }
    }
    assert_eq!(children.len(), 1, "the handshake must complete");
    r.gw_sa = children[0];
    r
}

/// The median (sorts `v`).
/// The responder's DH work alone: one key pair and one shared secret (the baseline the
/// handshake benches pair every handshake with).
pub fn dh_only(group: DhGroup, peer: &[u8], rng: &mut StdRng) -> Duration {
    let t0 = Instant::now();
    let kp = KeyPair::generate(group, ExponentSize::default(), rng).unwrap();
    std::hint::black_box(kp.agree(peer).unwrap());
    t0.elapsed()
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}
