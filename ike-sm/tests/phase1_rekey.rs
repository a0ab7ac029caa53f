//! Phase-1 rekey: a client endpoint of ours rekeys its IKE SA before the lifetime ends,
//! the gateway endpoint keeps both SAs until the client deletes the old one, child SAs
//! live on under the new IKE SA on both sides, and later Quick Modes (and the child SAs'
//! own expiry) use the new IKE SA. Virtual clock, seeded RNG.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const LIFE: u64 = 1000;

struct Net {
    start: Instant,
    now: Instant,
    rng: StdRng,
    gw: Endpoint,
    cl: Endpoint,
    gw_addr: SocketAddr,
    cl_addr: SocketAddr,
    /// (seconds since start, event)
    gw_events: Vec<(u64, Event)>,
    cl_events: Vec<(u64, Event)>,
}

impl Net {
    fn new(seed: u64, main_mode: bool) -> Self {
        let (mut cfg, pools) = presets::seed_gateway(
            b"cisco1234",
            Ipv4Addr::new(10, 89, 129, 200),
            Ipv4Addr::new(10, 89, 129, 204),
        )
        .unwrap();
        let gw = cfg.gateway.as_mut().unwrap();
        for p in &mut gw.policies {
            p.lifetime_secs = LIFE;
        }
        if main_mode {
            gw.client_authentication = false;
            gw.mode_config = ModeCfgMode::default();
        }
        let now = Instant::now();
        Net {
            start: now,
            now,
            rng: StdRng::seed_from_u64(seed),
            gw: Endpoint::new(cfg, pools),
            cl: Endpoint::new(presets::client(), modecfg::Pools::new()),
            gw_addr: "192.168.1.1:500".parse().unwrap(),
            cl_addr: "192.168.1.2:500".parse().unwrap(),
            gw_events: Vec::new(),
            cl_events: Vec::new(),
        }
    }

    fn secs(&self) -> u64 {
        (self.now - self.start).as_secs()
    }

    /// Delivers datagrams (5 ms each) and runs timers until `limit` has passed.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            let mut moved = false;
            while let Some(t) = self.cl.poll_transmit() {
                moved = true;
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
                self.gw_events.push((self.secs(), e));
            }
            while let Some(e) = self.cl.poll_event() {
                self.cl_events.push((self.secs(), e));
            }
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

    fn quick_mode(&mut self, sa: SaId, life_secs: u64) {
        let local = self
            .cl
            .assigned_address(self.cl.current_sa(sa))
            .unwrap_or(Ipv4Addr::new(192, 168, 1, 2));
        let req = QuickModeRequest {
            local: TrafficSelector::new(Selector::Addr(local)),
            remote: TrafficSelector::new(Selector::Addr(Ipv4Addr::new(192, 168, 1, 1))),
            offers: presets::seed_qm_offers(),
            pfs: None,
            life_secs,
            life_kb: 0,
        };
        let now = self.now;
        self.cl
            .initiate_quick_mode(now, sa, req, &mut self.rng)
            .unwrap();
    }

    fn children(events: &[(u64, Event)]) -> Vec<(SaId, u32, u32)> {
        events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildSa(c) => Some((c.ike_sa, c.spi_in, c.spi_out)),
                _ => None,
            })
            .collect()
    }

    fn established(events: &[(u64, Event)]) -> Vec<(u64, SaId)> {
        events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Phase1Established { sa, .. } => Some((*t, *sa)),
                _ => None,
            })
            .collect()
    }

    fn rekeyed(events: &[(u64, Event)]) -> Vec<(u64, SaId, SaId)> {
        events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Phase1Rekeyed { old, new } => Some((*t, *old, *new)),
                _ => None,
            })
            .collect()
    }

    fn deleted(events: &[(u64, Event)]) -> Vec<(u64, SaId)> {
        events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Deleted { sa } => Some((*t, *sa)),
                _ => None,
            })
            .collect()
    }

    fn child_deleted(events: &[(u64, Event)]) -> Vec<(SaId, u32)> {
        events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildDeleted { sa, spi_in } => Some((*sa, *spi_in)),
                _ => None,
            })
            .collect()
    }

    fn debug(events: &[(u64, Event)]) -> Vec<String> {
        events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Debug(d) => Some(d.pix_lines()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// Phase 1 and one Quick Mode; returns the client's SA.
fn connect(net: &mut Net, main_mode: bool) -> SaId {
    let mut profile = if main_mode {
        let mut p = presets::vpn_client_11(b"cisco1234", "u", b"p");
        p.offers[0].group = DhGroup::Modp1024;
        p.xauth = None;
        p.mode_config = ClientModeCfg::None;
        p
    } else {
        presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "cisco_customer", b"c")
    };
    for o in &mut profile.offers {
        o.life_secs = Some(LIFE);
    }
    let (now, c, g) = (net.now, net.cl_addr, net.gw_addr);
    let sa = net.cl.initiate(now, c, g, profile, &mut net.rng).unwrap();
    net.run(Duration::from_secs(2));
    assert!(net.cl.ready_for_quick_mode(sa));
    net.quick_mode(sa, 28_800);
    net.run(Duration::from_secs(2));
    assert_eq!(Net::children(&net.cl_events).len(), 1);
    assert_eq!(Net::children(&net.gw_events).len(), 1);
    sa
}

fn check_rekey(net: &mut Net, old_cl: SaId) -> (SaId, SaId) {
    // Client: rekeyed before the lifetime (at 90% of it: 1000 s with the default 540 s
    // margin capped at a tenth), the old SA deleted right after the new one was up.
    let rk = Net::rekeyed(&net.cl_events);
    assert_eq!(rk.len(), 1, "{rk:?}");
    let (t, old, new_cl) = rk[0];
    assert_eq!(old, old_cl);
    assert!((900..LIFE).contains(&t), "rekeyed at {t}");
    assert_eq!(net.cl.current_sa(old_cl), new_cl);
    assert!(Net::deleted(&net.cl_events).contains(&(t, old_cl)));
    assert_eq!(net.cl.sa_count(), 1);
    assert_eq!(net.cl.sa_state(new_cl), Some(P1State::Established));
    // Gateway: a second SA from the same peer while the old one lives (no
    // INITIAL-CONTACT), then the client's DELETE removes the old one; its child SA moves
    // to the new IKE SA instead of being deleted.
    let est = Net::established(&net.gw_events);
    assert_eq!(est.len(), 2);
    let (old_gw, new_gw) = (est[0].1, est[1].1);
    let grk = Net::rekeyed(&net.gw_events);
    assert_eq!(grk.len(), 1);
    assert_eq!((grk[0].1, grk[0].2), (old_gw, new_gw));
    let gdel = Net::deleted(&net.gw_events);
    assert_eq!(gdel.len(), 1);
    assert_eq!(gdel[0].1, old_gw);
    assert!(gdel[0].0 >= est[1].0 && gdel[0].0 < LIFE);
    assert_eq!(net.gw.sa_count(), 1);
    assert!(Net::child_deleted(&net.gw_events).is_empty());
    assert!(Net::child_deleted(&net.cl_events).is_empty());
    // The debug rendering tells the story on both sides.
    let cd = Net::debug(&net.cl_events);
    assert!(
        cd.iter().any(|l| l.starts_with(&format!(
            "ISAKMP (0): IKE SA {} expires in 100 seconds: beginning phase 1 rekey, new IKE SA {}",
            old_cl.0, new_cl.0
        ))),
        "{cd:#?}"
    );
    assert!(cd.contains(&format!(
        "ISAKMP (0): IKE SA {o} replaced by IKE SA {n}: deleting IKE SA {o}, 1 IPsec SA pair(s) moved to IKE SA {n}",
        o = old_cl.0,
        n = new_cl.0
    )));
    let gd = Net::debug(&net.gw_events);
    assert!(gd.contains(&format!(
        "ISAKMP (0): IKE SA {o} replaced by IKE SA {n}: deleting IKE SA {o}, 1 IPsec SA pair(s) moved to IKE SA {n}",
        o = old_gw.0,
        n = new_gw.0
    )));
    (new_cl, new_gw)
}

#[test]
fn aggressive_xauth_cfg_rekeys_before_expiry_and_keeps_children() {
    let mut net = Net::new(41, false);
    let old = connect(&mut net, false);
    net.run(Duration::from_secs(LIFE - 50));
    let (new_cl, new_gw) = check_rekey(&mut net, old);
    // The new SA ran Xauth and Mode Config again, as the profile says.
    assert!(net.cl.ready_for_quick_mode(new_cl));
    assert!(net.cl.assigned_address(new_cl).is_some());
    // A Quick Mode asked for on the old SA id runs on the new SA, on both sides.
    net.quick_mode(old, 28_800);
    net.run(Duration::from_secs(2));
    let (c, g) = (Net::children(&net.cl_events), Net::children(&net.gw_events));
    assert_eq!((c.len(), g.len()), (2, 2));
    assert_eq!(c[1].0, new_cl);
    assert_eq!(g[1].0, new_gw);
    assert_eq!(c[1].2, g[1].1);
    // Past the old SA's lifetime nothing else happens: no second delete, no expiry.
    net.run(Duration::from_secs(100));
    assert_eq!(Net::deleted(&net.cl_events).len(), 1);
    assert_eq!(Net::deleted(&net.gw_events).len(), 1);
    // The address the old SA's child uses is held until the new SA goes.
    assert!(net.gw.pools().pool("VPNpool").map_or(0, |p| p.in_use()) >= 1);
}

#[test]
fn main_mode_rekey_then_child_expiry_and_phase2_rekey_use_the_new_sa() {
    let mut net = Net::new(42, true);
    let (now, c, g) = (net.now, net.cl_addr, net.gw_addr);
    let mut profile = presets::vpn_client_11(b"cisco1234", "u", b"p");
    profile.offers[0].group = DhGroup::Modp1024;
    profile.offers[0].life_secs = Some(LIFE);
    profile.xauth = None;
    profile.mode_config = ClientModeCfg::None;
    let old = net.cl.initiate(now, c, g, profile, &mut net.rng).unwrap();
    net.run(Duration::from_secs(2));
    // A child that outlives the old IKE SA but expires under the new one.
    net.quick_mode(old, 1200);
    net.run(Duration::from_secs(2));
    let first = Net::children(&net.cl_events)[0];
    let gw_first = Net::children(&net.gw_events)[0];
    net.run(Duration::from_secs(LIFE - 50));
    let (new_cl, new_gw) = check_rekey(&mut net, old);
    // Phase-2 rekey after the phase-1 rekey: a new child on the new SA, then the child
    // of the old SA expires and its DELETE goes under the new SA (the gateway hears it).
    net.quick_mode(old, 1200);
    net.run(Duration::from_secs(2));
    let c2 = Net::children(&net.cl_events);
    assert_eq!(c2.len(), 2);
    assert_eq!(c2[1].0, new_cl);
    net.run(Duration::from_secs(300));
    assert_eq!(
        Net::child_deleted(&net.cl_events),
        vec![(new_cl, first.1)],
        "the old child expired under the new IKE SA"
    );
    assert_eq!(
        Net::child_deleted(&net.gw_events),
        vec![(new_gw, gw_first.1)],
        "the gateway got the IPsec DELETE through the new IKE SA"
    );
    assert_eq!(net.gw.sa_count(), 1);
    assert_eq!(net.cl.sa_count(), 1);
}

#[test]
fn manual_rekey_and_no_rekey_without_margin() {
    // rekey_phase1 on demand.
    let mut net = Net::new(43, true);
    let old = connect(&mut net, true);
    let now = net.now;
    let new = net.cl.rekey_phase1(now, old, &mut net.rng).unwrap();
    assert_ne!(new, old);
    // Asking again while it runs gives the same new SA.
    assert_eq!(net.cl.rekey_phase1(now, old, &mut net.rng).unwrap(), new);
    net.run(Duration::from_secs(5));
    assert_eq!(Net::rekeyed(&net.cl_events)[0].1, old);
    assert_eq!(net.cl.current_sa(old), new);
    assert_eq!(net.cl.sa_count(), 1);
    assert_eq!(net.gw.sa_count(), 1);
    // A responder SA is not ours to rekey.
    let gw_sa = Net::established(&net.gw_events)[1].1;
    let now = net.now;
    assert!(matches!(
        net.gw.rekey_phase1(now, gw_sa, &mut net.rng),
        Err(SmError::NotEstablished(_))
    ));

    // With the margin off, the SA simply expires (and the gateway's copy with it).
    let mut net = Net::new(44, true);
    let limits = Limits {
        phase1_rekey_margin: None,
        ..Limits::default()
    };
    net.cl = Endpoint::new(
        Config {
            limits,
            ..presets::client()
        },
        modecfg::Pools::new(),
    );
    let _ = connect(&mut net, true);
    net.run(Duration::from_secs(LIFE + 10));
    assert!(Net::rekeyed(&net.cl_events).is_empty());
    assert_eq!((net.cl.sa_count(), net.gw.sa_count()), (0, 0));
}
