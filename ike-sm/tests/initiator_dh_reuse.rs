//! `Limits::initiator_dh_reuse` (a load-testing knob): a client endpoint with it sends
//! the same KE in every negotiation it starts within the window and a new one after it,
//! and the handshakes still complete; by default every negotiation has its own KE.
//! Virtual clock, seeded RNG.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use isakmp_wire::{Message, Payload};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

struct Net {
    now: Instant,
    rng: StdRng,
    gw: Endpoint,
    cl: Endpoint,
    gw_addr: SocketAddr,
    /// The KE payload of every plaintext message the client sent, in order.
    client_kes: Vec<Vec<u8>>,
}

impl Net {
    fn new(seed: u64, main_mode: bool, reuse: Duration) -> Self {
        let (mut cfg, pools) = presets::seed_gateway(
            b"cisco1234",
            Ipv4Addr::new(10, 89, 129, 1),
            Ipv4Addr::new(10, 89, 129, 50),
        )
        .unwrap();
        if main_mode {
            let gw = cfg.gateway.as_mut().unwrap();
            gw.client_authentication = false;
            gw.mode_config = ModeCfgMode::default();
        }
        let client = Config {
            limits: Limits {
                initiator_dh_reuse: reuse,
                ..Limits::default()
            },
            ..presets::client()
        };
        Net {
            now: Instant::now(),
            rng: StdRng::seed_from_u64(seed),
            gw: Endpoint::new(cfg, pools),
            cl: Endpoint::new(client, modecfg::Pools::new()),
            gw_addr: "192.168.1.1:500".parse().unwrap(),
            client_kes: Vec::new(),
        }
    }

    /// Delivers datagrams (5 ms each) and runs timers for `limit`.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            let mut moved = false;
            while let Some(t) = self.cl.poll_transmit() {
                moved = true;
                if let Some(ke) = Message::parse(&t.bytes)
                    .ok()
                    .and_then(|m| m.payloads())
                    .and_then(|mut ps| {
                        ps.find_map(|p| match p.ok()?.body {
                            Payload::KeyExchange(k) => Some(k.to_vec()),
                            _ => None,
                        })
                    })
                {
                    self.client_kes.push(ke);
                }
                self.now += Duration::from_millis(5);
                self.gw
                    .handle_datagram(self.now, t.remote, t.local, &t.bytes, &mut self.rng);
            }
            while let Some(t) = self.gw.poll_transmit() {
                moved = true;
                self.now += Duration::from_millis(5);
                self.cl
                    .handle_datagram(self.now, t.remote, t.local, &t.bytes, &mut self.rng);
            }
            while let Some(e) = self.gw.poll_event() {
                if let Event::XauthCredentials { sa, .. } = &e {
                    let (sa, now) = (*sa, self.now);
                    self.gw.xauth_verdict(now, sa, true, &mut self.rng).unwrap();
                    moved = true;
                }
            }
            while self.cl.poll_event().is_some() {}
            if moved {
                continue;
            }
            match [self.gw.poll_timeout(), self.cl.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
            {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    self.gw.handle_timeout(now, &mut self.rng);
                    self.cl.handle_timeout(now, &mut self.rng);
                }
                _ => {
                    self.now = self.now.max(end);
                    break;
                }
            }
        }
    }

    /// One phase 1 from client port `port`, run to completion; returns the KE it sent.
    fn connect(&mut self, main_mode: bool, port: u16) -> Vec<u8> {
        let profile = if main_mode {
            let mut p = presets::vpn_client_11(b"cisco1234", "u", b"p");
            p.offers[0].group = DhGroup::Modp1024;
            p.xauth = None;
            p.mode_config = ClientModeCfg::None;
            p
        } else {
            presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "cisco_customer", b"c")
        };
        let local = SocketAddr::from((Ipv4Addr::new(192, 168, 1, 2), port));
        let before = self.client_kes.len();
        let (now, gw) = (self.now, self.gw_addr);
        let sa = self
            .cl
            .initiate(now, local, gw, profile, &mut self.rng)
            .unwrap();
        self.run(Duration::from_secs(2));
        assert!(
            self.cl.ready_for_quick_mode(sa),
            "phase 1 from port {port} did not complete"
        );
        assert_eq!(self.client_kes.len(), before + 1, "one KE per phase 1");
        self.client_kes.pop().unwrap()
    }
}

fn within_window_same_ke_after_it_new(main_mode: bool) {
    let window = Duration::from_secs(60);
    let mut net = Net::new(7, main_mode, window);
    let start = net.now;
    let a = net.connect(main_mode, 500);
    let b = net.connect(main_mode, 501);
    assert_eq!(a, b, "two negotiations within the window send the same KE");
    net.run(start + window + Duration::from_secs(1) - net.now);
    let c = net.connect(main_mode, 502);
    assert_ne!(a, c, "after the window the initiator makes a new key pair");
    let d = net.connect(main_mode, 503);
    assert_eq!(c, d, "and reuses that one within its window");
}

#[test]
fn aggressive_mode_initiator_reuses_its_key_pair_for_the_window() {
    within_window_same_ke_after_it_new(false);
}

#[test]
fn main_mode_initiator_reuses_its_key_pair_for_the_window() {
    within_window_same_ke_after_it_new(true);
}

/// Off by default: every negotiation draws its own key pair.
#[test]
fn by_default_every_negotiation_has_its_own_ke() {
    assert_eq!(Limits::default().initiator_dh_reuse, Duration::ZERO);
    for main_mode in [false, true] {
        let mut net = Net::new(8, main_mode, Limits::default().initiator_dh_reuse);
        let a = net.connect(main_mode, 500);
        let b = net.connect(main_mode, 501);
        assert_ne!(a, b, "main mode: {main_mode}");
    }
}
