//! Heap bytes per established user of the gateway core, counted by a counting global
//! allocator (`stats_alloc`), and a regression guard on them.
//!
//! N VPN Client 4.x users (Aggressive Mode, Xauth against LOCAL, Mode Config pull, Quick
//! Mode) log in to one core of the demo configuration, each from its own address, on a
//! virtual clock. Every call into the gateway (and the drop of what it hands out) runs
//! in a measured window, every call into the clients in another: the gateway's live heap
//! is the sum of the deltas of its windows only, so the clients' own memory does not
//! count. Nothing crosses the two (the gateway copies what it keeps of a client's
//! datagram; the client only borrows the gateway's). The figures are per user after
//! phase 1 with Xauth and Mode Config, after Quick Mode, and after the clock moved past
//! the retransmission windows (what a held user costs), taken as the difference between
//! gateways of N/2 and N users (so that tables made once on first use do not count).
//! `MEM_USERS=N` changes N (default 200); the output says where the bytes are, by what
//! the gateway was handling, with the sizes of the per-SA structures. `MEM_PROFILE=1`
//! leaves the gateway's heap allocated at the end, for `heaptrack --print-leaks`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, Endpoint, Event, SaId};
use pix_gateway::{demo, Gateway, Input, Output, Settings};
use rand::rngs::StdRng;
use rand::SeedableRng;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The regression guard: heap bytes per held user (the second half of 200 users),
/// 5,473 after the cuts of issue 20 (before them: 19,808), plus 20 %.
const MAX_HELD_BYTES_PER_USER: f64 = 6_600.0;

const GW_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

/// Live heap bytes of the whole process.
fn live() -> i64 {
    let s = GLOBAL.stats();
    // (`bytes_reallocated` is already in these two: a growth counts as allocated.)
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

/// The gateway, the clients and the two ledgers.
struct Bench {
    gw: Gateway,
    clients: Vec<(SocketAddr, Endpoint, SaId)>,
    rng: StdRng,
    now: Instant,
    /// Live heap bytes the gateway's windows added.
    gw_bytes: i64,
    /// The same, by what the gateway was handling: the exchange type of the client's
    /// datagram (4 Aggressive, 6 Transaction, 32 Quick Mode, 5 Informational), 0 for
    /// timers and its outputs.
    by_exchange: std::collections::BTreeMap<u8, i64>,
}

impl Bench {
    /// Runs `f` as the gateway's: its heap delta goes to the gateway's ledger.
    fn on_gw<T>(&mut self, f: impl FnOnce(&mut Gateway, &mut StdRng, Instant) -> T) -> T {
        let before = live();
        let r = f(&mut self.gw, &mut self.rng, self.now);
        self.gw_bytes += live() - before;
        r
    }

    /// Moves datagrams between client `i` and the gateway until both are quiet.
    fn exchange(&mut self, i: usize) {
        let mut last_exchange = 0;
        for _ in 0..64 {
            let mut moved = false;
            // The client's window: its transmits are taken (and later dropped) outside
            // the gateway's ledger; the gateway only borrows them.
            let mut sent = Vec::new();
            while let Some(t) = self.clients[i].1.poll_transmit() {
                sent.push(t);
            }
            let sent_exchange = sent
                .last()
                .and_then(|t| t.bytes.get(18).copied())
                .unwrap_or(last_exchange);
            last_exchange = sent_exchange;
            for t in &mut sent {
                moved = true;
                let (local, remote) = (t.remote, t.local);
                let exchange = t.bytes.get(18).copied().unwrap_or(0);
                let payload = &mut t.bytes;
                let before = self.gw_bytes;
                self.on_gw(|gw, rng, now| {
                    gw.handle(
                        now,
                        Input::Udp {
                            local,
                            remote,
                            payload,
                        },
                        rng,
                    );
                });
                *self.by_exchange.entry(exchange).or_default() += self.gw_bytes - before;
            }
            drop(sent);
            // The gateway's outputs are dropped inside its window; the client only reads.
            let ledger = self.gw_bytes;
            let exchange = sent_exchange;
            loop {
                let before = live();
                let Some(o) = self.gw.poll_output() else {
                    self.gw_bytes += live() - before;
                    break;
                };
                if let Output::Udp {
                    local,
                    remote,
                    ref payload,
                } = o
                {
                    moved = true;
                    let mid = live();
                    let who = self.clients.iter().position(|c| c.0 == remote).unwrap();
                    let (now, rng) = (self.now, &mut self.rng);
                    self.clients[who]
                        .1
                        .handle_datagram(now, remote, local, payload, rng);
                    let after_client = live();
                    drop(o);
                    self.gw_bytes += (mid - before) + (live() - after_client);
                } else {
                    drop(o);
                    self.gw_bytes += live() - before;
                }
            }
            // What the gateway queued while handling a datagram is freed as it is drained:
            // both are that exchange's.
            *self.by_exchange.entry(exchange).or_default() += self.gw_bytes - ledger;
            if !moved {
                return;
            }
        }
        panic!("client {i}: the exchange did not end in 64 rounds");
    }

    /// Moves the clock to `to`, running the gateway's (and answering clients') timers.
    fn advance(&mut self, to: Instant) {
        loop {
            let next = self.gw.poll_timeout().filter(|d| *d <= to);
            let client_next = self
                .clients
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.1.poll_timeout().map(|d| (d, i)))
                .filter(|(d, _)| *d <= to)
                .min();
            match (next, client_next) {
                (Some(d), c) if c.is_none_or(|(cd, _)| d <= cd) => {
                    self.now = self.now.max(d);
                    let before = self.gw_bytes;
                    self.on_gw(|gw, rng, now| gw.handle_timeout(now, rng));
                    *self.by_exchange.entry(0).or_default() += self.gw_bytes - before;
                    for i in 0..self.clients.len() {
                        self.exchange(i);
                    }
                }
                (_, Some((d, i))) => {
                    self.now = self.now.max(d);
                    let (now, rng) = (self.now, &mut self.rng);
                    self.clients[i].1.handle_timeout(now, rng);
                    self.exchange(i);
                }
                _ => break,
            }
        }
        self.now = to;
    }
}

fn per_user(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

/// The gateway's heap after `n` users logged in, did Quick Mode, and were held past the
/// retransmission windows.
struct Report {
    after_login: i64,
    after_qm: i64,
    held: i64,
    by_exchange: std::collections::BTreeMap<u8, i64>,
}

fn scenario(n: usize) -> Report {
    // The demo's pool, widened to hold N users.
    let last = 130 + n / 254;
    let plan = demo::plan_with(
        |t| {
            let e = t.replace(
                "ip local pool VPNpool 10.89.129.200-10.89.129.204",
                &format!("ip local pool VPNpool 10.89.130.1-10.89.{last}.254"),
            );
            assert_ne!(e, t, "the demo changed");
            e
        },
        &[],
        &[],
    )
    .unwrap();
    #[allow(clippy::disallowed_methods)] // the virtual clock's base
    let start = Instant::now();
    let mut b = Bench {
        gw: Gateway::new(plan, Settings::new(GW_IP), start),
        clients: Vec::with_capacity(n),
        rng: StdRng::seed_from_u64(20),
        now: start,
        gw_bytes: 0,
        by_exchange: std::collections::BTreeMap::new(),
    };
    let gw_addr = SocketAddr::new(IpAddr::V4(GW_IP), 500);
    // Phase 1 (Aggressive Mode), Xauth and Mode Config, user after user.
    for i in 0..n {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 1)) + i as u32);
        let addr = SocketAddr::new(IpAddr::V4(ip), 500);
        let mut ep = Endpoint::new(presets::client(), modecfg::Pools::new());
        let mut profile = presets::vpn_client_4x(
            DhGroup::Modp1024,
            b"cisco1234",
            "cisco_customer",
            b"cisco123",
        );
        profile.initial_contact = false;
        let sa = ep
            .initiate(b.now, addr, gw_addr, profile, &mut b.rng)
            .unwrap();
        b.clients.push((addr, ep, sa));
        b.exchange(i);
        assert!(b.clients[i].1.ready_for_quick_mode(sa), "user {i}");
    }
    let after_login = b.gw_bytes;
    // Quick Mode.
    for i in 0..n {
        let sa = b.clients[i].2;
        let ep = &mut b.clients[i].1;
        let addr = ep.assigned_address(sa).unwrap();
        ep.initiate_quick_mode(b.now, sa, presets::vpn_client_quick_mode(addr), &mut b.rng)
            .unwrap();
        b.exchange(i);
        let mut child = false;
        while let Some(e) = b.clients[i].1.poll_event() {
            child |= matches!(e, Event::ChildSa(_));
        }
        assert!(child, "user {i}: no IPsec SA");
    }
    let after_qm = b.gw_bytes;
    let by_exchange = b.by_exchange.clone();
    // Past every retransmission and stored-reply window, short of any lifetime.
    b.advance(start + Duration::from_secs(300));
    let held = b.gw_bytes;
    // Every user is still there.
    let line = "show crypto isakmp sa";
    let text = match b.gw.handle(b.now, Input::Command { line }, &mut b.rng) {
        pix_gateway::Handled::Answer(t) => t,
        _ => String::new(),
    };
    while b.gw.poll_output().is_some() {}
    let total = text
        .lines()
        .find(|l| l.starts_with("Total"))
        .and_then(|l| l.split_whitespace().nth(2));
    assert_eq!(total, Some(n.to_string().as_str()), "{text}");
    if std::env::var_os("MEM_PROFILE").is_some() {
        // For a heap profiler (heaptrack --print-leaks): what the gateway holds is left
        // allocated, the clients' memory is freed.
        b.clients.clear();
        std::mem::forget(b);
    }
    Report {
        after_login,
        after_qm,
        held,
        by_exchange,
    }
}

#[test]
fn heap_bytes_per_established_user() {
    let n: usize = std::env::var("MEM_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    assert!((2..=60_000).contains(&n));
    // Two gateways, of n/2 and n users: the difference is what the second n/2 users
    // cost, without what the first user pays once (tables made on first use).
    let half = n / 2;
    let small = scenario(half);
    let big = scenario(n);
    let m = n - half;
    let marginal = |a: i64, b: i64| per_user(b - a, m);
    println!("heap bytes per user of the gateway core (users {half} -> {n}):");
    println!(
        "  phase 1 + Xauth + Mode Config:        {:8.1}",
        marginal(small.after_login, big.after_login)
    );
    println!(
        "  + Quick Mode (2 ESP SAs, policy):     {:8.1}",
        marginal(
            small.after_qm - small.after_login,
            big.after_qm - big.after_login
        )
    );
    println!(
        "  + the retransmission windows passing: {:8.1}",
        marginal(small.held - small.after_qm, big.held - big.after_qm)
    );
    let held = marginal(small.held, big.held);
    println!("  = a held user:                        {held:8.1}");
    println!(
        "  (with the fixed costs, {n} users: {:.1} per user)",
        per_user(big.held, n)
    );
    println!("  by what the gateway handled, up to Quick Mode:");
    for (x, bytes) in &big.by_exchange {
        let what = match x {
            0 => "timers",
            4 => "Aggressive Mode (IKE SA, keys, half-open)",
            6 => "Transaction (Xauth, Mode Config, lease, session)",
            32 => "Quick Mode (ESP SAs, data plane, policy)",
            5 => "Informational",
            _ => "other",
        };
        let before = small.by_exchange.get(x).copied().unwrap_or(0);
        println!("    {what:50} {:8.1}", marginal(before, *bytes));
    }
    let mut sizes: Vec<(&str, usize)> = Endpoint::layout();
    sizes.push(("esp::InboundSa", core::mem::size_of::<esp::InboundSa>()));
    sizes.push(("esp::OutboundSa", core::mem::size_of::<esp::OutboundSa>()));
    sizes.push((
        "dataplane::Child",
        core::mem::size_of::<pix_gateway::gateway::dataplane::Child>(),
    ));
    sizes.push((
        "gateway::Session",
        core::mem::size_of::<pix_gateway::Session>(),
    ));
    println!("structure sizes (bytes): {sizes:?}");
    assert!(held > 0.0, "no heap per user? {held}");
    assert!(
        held <= MAX_HELD_BYTES_PER_USER,
        "{held:.0} heap bytes per held user, more than the guard {MAX_HELD_BYTES_PER_USER}"
    );
}
