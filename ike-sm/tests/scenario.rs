//! Scenario tests: a gateway endpoint configured like the seed's PIX and client endpoints
//! playing Cisco VPN Client 4.x (Aggressive Mode, Xauth, CFG pull, two Quick Modes) and
//! 1.1 (Main Mode, Xauth, CFG push, one Quick Mode), on a virtual clock with a seeded RNG.
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
use ike_sm::Secret;
use ike_sm::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

const C4: &str = "192.168.1.2:500";
const C11: &str = "192.168.1.3:500";

fn gateway_config(pool: &str) -> (Config, modecfg::Pools) {
    let (mut cfg, pools) = seed_gateway_config(pool.split_once('-').unwrap());
    // Listed out of order on purpose: the PIX checks policies by priority, not by position.
    cfg.gateway.as_mut().unwrap().policies.reverse();
    (cfg, pools)
}

/// A scenario network around the seed's gateway with pool `pool` (`first-last`).
fn seed_net(seed: u64, pool: &str) -> Net {
    let (cfg, pools) = gateway_config(pool);
    Net::new(seed, Endpoint::new(cfg, pools))
}

/// The seed's first six transforms (VPN Client 4.x), then the rest of a vpnc-style list
/// of 24 (AES-256/AES-128 x SHA/MD5 x XAUTH/PSK with group 2, 3DES/DES likewise with
/// group 5). Aggressive Mode sends one KE, so a real client's later groups cannot win.
fn vpn_client_4x_offers() -> Vec<P1Offer> {
    let g2 = DhGroup::from_attribute(2).unwrap();
    let g5 = DhGroup::from_attribute(5).unwrap();
    let o = |e: CipherAlg, h: HashAlg, g: DhGroup, a: u16| P1Offer {
        encryption: e,
        hash: h,
        group: g,
        auth_method: a,
        life_secs: Some(2_147_483),
    };
    let (sha, md5) = (HashAlg::Sha1, HashAlg::Md5);
    let (tdes, des) = (CipherAlg::TripleDes, CipherAlg::Des);
    let mut v = vec![
        o(tdes, sha, g2, 65001),
        o(tdes, md5, g2, 65001),
        o(tdes, sha, g2, 1),
        o(tdes, md5, g2, 1),
        o(des, sha, g2, 65001),
        o(des, md5, g2, 65001),
        o(des, sha, g2, 1),
        o(des, md5, g2, 1),
    ];
    for e in [CipherAlg::Aes256, CipherAlg::Aes128] {
        for h in [sha, md5] {
            for a in [65001, 1] {
                v.push(o(e, h, g2, a));
            }
        }
    }
    for e in [tdes, des] {
        for h in [sha, md5] {
            for a in [65001, 1] {
                v.push(o(e, h, g5, a));
            }
        }
    }
    assert_eq!(v.len(), 24);
    v
}

fn profile_4x(psk: &[u8], password: &str) -> ClientProfile {
    ClientProfile {
        mode: Phase1Mode::Aggressive,
        group_name: Some("vpn3000".into()),
        psk: Secret::from_slice(psk),
        offers: vpn_client_4x_offers(),
        xauth: Some((
            "cisco_customer".into(),
            Secret::from_slice(password.as_bytes()),
        )),
        mode_config: ClientModeCfg::Pull,
        vendor_ids: true,
        nat_t: false,
        initial_contact: true,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

fn profile_11() -> ClientProfile {
    ClientProfile {
        mode: Phase1Mode::Main,
        group_name: None,
        psk: Secret::from_slice(b"cisco1234"),
        offers: vec![P1Offer {
            encryption: CipherAlg::Des,
            hash: HashAlg::Md5,
            group: DhGroup::from_attribute(1).unwrap(),
            auth_method: 1,
            life_secs: None,
        }],
        xauth: Some(("cisco_customer".into(), Secret::from_slice(b"cisco123"))),
        mode_config: ClientModeCfg::Push,
        vendor_ids: false,
        nat_t: false,
        initial_contact: true,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

fn seed_qm_offers() -> Vec<QmOffer> {
    let o = |c, a, i| QmOffer {
        cipher: c,
        auth: a,
        with_ipcomp: i,
        transport: false,
    };
    use EncryptionAlgorithm::{Des, TripleDes};
    use IntegrityAlgorithm::{HmacMd5_96 as HmacMd5, HmacSha1_96 as HmacSha1};
    vec![
        o(TripleDes, HmacMd5, true),
        o(TripleDes, HmacSha1, true),
        o(TripleDes, HmacMd5, false),
        o(TripleDes, HmacSha1, false),
        o(Des, HmacMd5, true),
        o(Des, HmacSha1, true),
        o(Des, HmacMd5, false),
        o(Des, HmacSha1, false),
    ]
}

impl Net {
    /// A VPN Client 4.x (re)starting at `addr`: a new endpoint there, which logs in with
    /// the seed's group and user; runs the network for 30 s.
    fn login_4x(&mut self, addr: &str, rng: &mut StdRng) {
        let a = self.restart_client(addr);
        self.initiate(a, profile_4x(b"cisco1234", "cisco123"), rng);
        self.run(Duration::from_secs(30));
    }
}

fn host(a: &str) -> TrafficSelector {
    TrafficSelector::new(Selector::Addr(a.parse().unwrap()))
}

fn qm_request(local: Ipv4Addr, remote: Selector) -> QuickModeRequest {
    QuickModeRequest {
        local: TrafficSelector::new(Selector::Addr(local)),
        remote: TrafficSelector::new(remote),
        offers: seed_qm_offers(),
        pfs: None,
        life_secs: 2_147_483,
        life_kb: 0,
    }
}

/// Runs the seed's 4.x flow; returns the network for inspection.
fn flow_4x(seed: u64, tweak: impl FnOnce(&mut Net)) -> Net {
    flow_4x_from(seed, C4, |_| {}, tweak)
}

fn flow_4x_from(
    seed: u64,
    client: &str,
    profile: impl FnOnce(&mut ClientProfile),
    tweak: impl FnOnce(&mut Net),
) -> Net {
    let mut net = seed_net(seed, "10.89.129.200-10.89.129.204");
    tweak(&mut net);
    let c = net.client(client);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4444);
    let mut p = profile_4x(b"cisco1234", "cisco123");
    profile(&mut p);
    let sa = net.initiate(c, p, &mut rng);
    net.run(Duration::from_secs(30));
    if net.cli(c).ready_for_quick_mode(sa) {
        let addr = net.cli(c).assigned_address(sa).unwrap();
        let now = net.now;
        net.cli(c)
            .initiate_quick_mode(
                now,
                sa,
                qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap())),
                &mut rng,
            )
            .unwrap();
        net.cli(c)
            .initiate_quick_mode(
                now,
                sa,
                qm_request(
                    addr,
                    Selector::Subnet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED),
                ),
                &mut rng,
            )
            .unwrap();
        net.run(Duration::from_secs(30));
    }
    net
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decision lines of the seed, in order, from the part of the trace between `from` and `to`.
fn seed_decisions(from: &str, to: &str, patterns: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/seed/000_0608b75d84f51a80.txt"
    ))
    .or_else(|_| std::fs::read_to_string("/work/shared/seed/000_0608b75d84f51a80.txt"))
    .unwrap();
    let flat = norm(&text);
    let start = flat.find(from).unwrap();
    let end = flat[start..].find(to).map_or(flat.len(), |e| start + e);
    let part = &flat[start..end];
    extract(part, patterns)
}

/// Every occurrence of each pattern (a prefix, with the number or words that follow it up
/// to the pattern's terminator), in text order.
fn extract(text: &str, patterns: &[&str]) -> Vec<String> {
    let mut hits: Vec<(usize, String)> = Vec::new();
    for p in patterns {
        let (head, tail) = p.split_once('*').unwrap_or((p, ""));
        let mut at = 0;
        while let Some(i) = text[at..].find(head) {
            let s = at + i;
            let rest = &text[s + head.len()..];
            let e = if tail.is_empty() {
                rest.find(' ').unwrap_or(rest.len())
            } else {
                rest.find(tail).map_or(0, |e| e + tail.len())
            };
            hits.push((s, format!("{head}{}", &rest[..e])));
            at = s + head.len();
        }
    }
    hits.sort();
    hits.into_iter().map(|(_, s)| s).collect()
}

const P1_PATTERNS: &[&str] = &[
    "Checking ISAKMP transform * policy",
    "atts are not acceptable. Next payload is *",
    "atts are acceptable. Next payload is *",
    "remote peer supports dead peer detection",
    "speaking to a Unity client",
    "processing NOTIFY payload 24578",
    "SA has been authenticated",
];

const QM_PATTERNS: &[&str] = &[
    "Checking IPsec proposal * ",
    "transform proposal (prot * not supported",
    "skipping next ANDED proposal (*)",
    "bad SPI size of 2 octets!",
    "atts are acceptable.",
];

#[test]
fn vpn_client_4x_flow_matches_the_seed() {
    let net = flow_4x(1, |_| {});
    let dbg: Vec<String> = net.gw_debug().iter().map(|l| norm(l)).collect();
    let ours = norm(&dbg.join(" "));
    // Phase 1: the same policy checks, transform 6 accepted against policy 10.
    let want = seed_decisions(
        "src 192.168.1.2, dest 192.168.1.1",
        "request attribute XAUTH_TYPE",
        P1_PATTERNS,
    );
    let p1_end = ours.find("SA has been authenticated").unwrap() + 30;
    let got = extract(&ours[..p1_end], P1_PATTERNS);
    // The seed's AM1 shows "processing NOTIFY" before "SA has been authenticated"; ours too.
    assert_eq!(got, want, "phase-1 decisions differ from the seed");
    assert!(dbg
        .iter()
        .any(|l| l == "ISAKMP (0): Checking ISAKMP transform 6 against priority 10 policy"));
    // Quick Mode 1: proposals 1..7, 7 chosen, with the seed's words.
    let want_qm = seed_decisions(
        "message ID = 942875080",
        "IPSEC(validate_proposal_request)",
        QM_PATTERNS,
    );
    let qm_start = ours.find("Checking IPsec proposal 1").unwrap();
    let qm_end = ours[qm_start..].find("getting spi").unwrap() + qm_start;
    let got_qm = extract(&ours[qm_start..qm_end], QM_PATTERNS);
    assert_eq!(got_qm, want_qm, "Quick Mode decisions differ from the seed");
    // Xauth, then CFG pull answered with the pool's first address.
    assert!(net
        .gw_events
        .iter()
        .any(|e| matches!(e, Event::XauthDone { user: Some(u), .. } if u == "cisco_customer")));
    assert!(net.gw_events.iter().any(|e| matches!(e, Event::AddressAssigned { addr, .. } if *addr == Ipv4Addr::new(10, 89, 129, 200))));
    assert!(dbg.iter().any(|l| l == "Unsupported Attr: 5"));
    // Two Quick Modes, both proposal 7 (ESP-DES/HMAC-MD5), keys agree pairwise.
    let (g, c) = (net.gw_children(), net.cli_children());
    assert_eq!(g.len(), 2);
    assert_eq!(c.len(), 2);
    for gc in &g {
        assert_eq!(
            (
                gc.encryption.transform_id(),
                gc.integrity.attribute(),
                gc.encapsulation
            ),
            (2, Some(1), 1)
        );
        assert_eq!(gc.enc_key_in.len(), 8);
        assert_eq!(gc.auth_key_in.len(), 16);
        assert_eq!(
            gc.life_secs, 28_800,
            "ours is shorter than the offered 2147483 s"
        );
        let cc = c.iter().find(|cc| cc.spi_out == gc.spi_in).unwrap();
        assert_eq!(cc.spi_in, gc.spi_out);
        assert_eq!(
            cc.enc_key_out.expose_secret(),
            gc.enc_key_in.expose_secret()
        );
        assert_eq!(
            cc.auth_key_out.expose_secret(),
            gc.auth_key_in.expose_secret()
        );
        assert_eq!(
            cc.enc_key_in.expose_secret(),
            gc.enc_key_out.expose_secret()
        );
        assert_eq!(
            cc.auth_key_in.expose_secret(),
            gc.auth_key_out.expose_secret()
        );
        assert_eq!(
            cc.life_secs, 28_800,
            "RESPONDER-LIFETIME applied by the client"
        );
    }
    let remotes: Vec<_> = g.iter().map(|c| c.remote_selector).collect();
    assert!(remotes.iter().all(|r| *r == host("10.89.129.200")));
    let locals: Vec<_> = g.iter().map(|c| c.local_selector.addr).collect();
    assert!(locals.contains(&Selector::Addr("192.168.1.1".parse().unwrap())));
    assert!(locals.contains(&Selector::Subnet(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED
    )));
}

#[test]
fn same_seed_same_bytes() {
    let a = flow_4x(7, |_| {});
    let b = flow_4x(7, |_| {});
    assert_eq!(a.wire.len(), 15, "AM(3) + Xauth(4) + CFG(2) + QM(2x3) = 15");
    assert_eq!(a.wire, b.wire);
    let c = flow_4x(8, |_| {});
    assert_ne!(a.wire, c.wire);
}

/// `Limits::debug_events = false` (the PIX with `no debug`): the same bytes on the wire,
/// the same tunnels and non-debug events, and no debug event at all.
#[test]
fn no_debug_events_same_wire_no_debug_lines() {
    let on = flow_4x(7, |_| {});
    let off = flow_4x(7, |n| {
        let (mut cfg, pools) = gateway_config("10.89.129.200-10.89.129.204");
        cfg.limits.debug_events = false;
        n.gw = Endpoint::new(cfg, pools);
    });
    assert_eq!(on.wire, off.wire);
    assert!(on.gw_events.iter().any(|e| matches!(e, Event::Debug(_))));
    assert!(!off.gw_events.iter().any(|e| matches!(e, Event::Debug(_))));
    let non_debug = |n: &Net| {
        n.gw_events
            .iter()
            .filter(|e| !matches!(e, Event::Debug(_)))
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(non_debug(&on), non_debug(&off));
    assert_eq!(off.gw_children().len(), 2);
}

#[test]
fn debug_events_toggle_at_run_time() {
    // `no debug` while running: the same handshake, the same bytes, no debug event.
    let on = flow_4x(7, |_| {});
    let off = flow_4x(7, |n| n.gw.set_debug_events(false));
    assert!(!off.gw.debug_events());
    assert_eq!(on.wire, off.wire);
    assert!(!off.gw_events.iter().any(|e| matches!(e, Event::Debug(_))));
    // And back on (`debug crypto isakmp`): the next negotiation is traced again.
    let mut again = flow_4x(8, |n| n.gw.set_debug_events(false));
    again.gw.set_debug_events(true);
    let gw: SocketAddr = GW.parse().unwrap();
    let c: SocketAddr = "192.168.1.30:500".parse().unwrap();
    let mut cl = client_endpoint();
    let mut rng = StdRng::seed_from_u64(2100);
    cl.initiate(again.now, c, gw, profile_4x(b"cisco1234", "x"), &mut rng)
        .unwrap();
    let am1 = cl.poll_transmit().unwrap();
    again
        .gw
        .handle_datagram(again.now, gw, c, &am1.bytes, &mut again.rng);
    assert!(std::iter::from_fn(|| again.gw.poll_event()).any(|e| matches!(e, Event::Debug(_))));
}

#[test]
fn vpn_client_11_flow_main_mode_push() {
    let mut net = seed_net(2, "10.89.129.200-10.89.129.204");
    let c = net.client(C11);
    let mut rng = StdRng::seed_from_u64(22);
    let sa = net.initiate(c, profile_11(), &mut rng);
    // Deliver phase 1 only, then send the Quick Mode before Xauth as the 1.1 client does.
    let mut steps = 0;
    while net.cli(c).sa_state(sa) != Some(P1State::Established) && steps < 20 {
        let t = net.cli(c).poll_transmit();
        if let Some(t) = t {
            let now = net.now;
            net.gw
                .handle_datagram(now, t.remote, t.local, &t.bytes, &mut net.rng);
        }
        while let Some(t) = net.gw.poll_transmit() {
            if t.bytes[18] == 2 {
                let now = net.now;
                net.cli(c)
                    .handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
            } else {
                // Transaction messages wait until the QM is out.
                net.gw.transmits_for_test(t);
                break;
            }
        }
        steps += 1;
    }
    assert_eq!(net.cli(c).sa_state(sa), Some(P1State::Established));
    let now = net.now;
    net.cli(c)
        .initiate_quick_mode(
            now,
            sa,
            QuickModeRequest {
                offers: vec![QmOffer {
                    cipher: EncryptionAlgorithm::Des,
                    auth: IntegrityAlgorithm::HmacMd5_96,
                    with_ipcomp: false,
                    transport: false,
                }],
                ..qm_request(
                    "10.89.129.200".parse().unwrap(),
                    Selector::Subnet(
                        "10.89.129.128".parse().unwrap(),
                        "255.255.255.128".parse().unwrap(),
                    ),
                )
            },
            &mut rng,
        )
        .unwrap();
    net.run(Duration::from_secs(30));
    let dbg: Vec<String> = net.gw_debug().iter().map(|l| norm(l)).collect();
    let ours = norm(&dbg.join(" "));
    let want = seed_decisions(
        "src 192.168.1.3, dest 192.168.1.1",
        "Total payload length",
        P1_PATTERNS,
    );
    let p1_end = ours.find("SA has been authenticated").unwrap() + 30;
    assert_eq!(extract(&ours[..p1_end], P1_PATTERNS), want);
    assert!(
        dbg.iter().any(|l| l == "ISAKMP (0:0): Need XAUTH"),
        "QM held until Xauth"
    );
    assert!(
        dbg.iter().any(|l| l.contains("peer accepted the address")),
        "{dbg:#?}"
    );
    let g = net.gw_children();
    assert_eq!(g.len(), 1, "{dbg:#?}");
    assert_eq!(
        g[0].local_selector.addr,
        Selector::Subnet(
            "10.89.129.128".parse().unwrap(),
            "255.255.255.128".parse().unwrap()
        )
    );
    assert_eq!(net.cli_children().len(), 1);
    assert_eq!(
        net.cli(c).assigned_address(sa),
        Some("10.89.129.200".parse().unwrap())
    );
}

#[test]
fn wrong_psk_and_unknown_group_look_the_same_on_the_wire() {
    for (group, psk) in [
        ("vpn3000", &b"wrong"[..]),
        ("nosuchgroup", &b"cisco1234"[..]),
    ] {
        let mut net = seed_net(3, "10.89.129.200-10.89.129.204");
        let c = net.client(C4);
        let mut p = profile_4x(psk, "cisco123");
        p.group_name = Some(group.into());
        let mut rng = StdRng::seed_from_u64(33);
        net.initiate(c, p, &mut rng);
        net.run(Duration::from_secs(5));
        // AM1, AM2 (normal looking), then the client refuses HASH_R: AUTHENTICATION-FAILED.
        assert!(
            net.cli_events.iter().any(|(_, e)| matches!(
                e,
                Event::Failed {
                    reason: FailReason::AuthenticationFailed,
                    ..
                }
            )),
            "{group}"
        );
        assert!(!net
            .gw_events
            .iter()
            .any(|e| matches!(e, Event::Phase1Established { .. })));
        // The gateway's AM2 has the same shape either way: SA, KE, NONCE, ID, HASH, VIDs.
        let am2 = isakmp_wire::Message::parse(&net.wire[1]).unwrap();
        let kinds: Vec<u8> = am2
            .payloads()
            .unwrap()
            .map(|p| p.unwrap().kind.into())
            .collect();
        assert_eq!(kinds, vec![1, 4, 10, 5, 8, 13, 13, 13], "{group}");
    }
}

#[test]
fn wrong_xauth_password_fails_after_retries() {
    let net = flow_4x(4, |n| n.passwords_ok = "something-else");
    assert!(net.gw_events.iter().any(|e| matches!(
        e,
        Event::Failed {
            reason: FailReason::XauthFailed,
            ..
        }
    )));
    assert!(net.gw_children().is_empty());
    assert_eq!(net.gw.pools().pool("VPNpool").map(|p| p.in_use()), Some(0));
}

#[test]
fn pool_exhausted_fails_cleanly() {
    let net = flow_4x(5, |n| {
        let (cfg, mut pools) = gateway_config("10.89.129.200-10.89.129.200");
        // Somebody else holds the only address.
        let _held = pools
            .acquire("other", None, &["VPNpool".to_string()])
            .unwrap();
        n.gw = Endpoint::new(cfg, pools);
    });
    assert!(net.gw_events.iter().any(|e| matches!(
        e,
        Event::Failed {
            reason: FailReason::AddressUnavailable,
            ..
        }
    )));
    assert!(net.gw_children().is_empty());
    // The client is told at once (a DELETE), not left retransmitting its request.
    assert!(
        net.cli_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Deleted { .. })),
        "{:#?}",
        net.gw_debug()
    );
    assert_eq!(net.gw.sa_count(), 0);
}

#[test]
fn loss_is_repaired_by_retransmission_with_stored_replies() {
    // Drop the 2nd (AM2), 5th and 9th datagrams once each.
    let net = flow_4x(6, |n| {
        n.drop = Box::new(|i, _| i == 1 || i == 4 || i == 8);
    });
    let dbg = net.gw_debug();
    let cdbg: Vec<_> = net
        .cli_events
        .iter()
        .map(|(_, e)| match e {
            Event::Debug(d) => d.pix_lines().join("|"),
            e => format!("{e:?}"),
        })
        .collect();
    assert_eq!(net.gw_children().len(), 2, "{dbg:#?} {cdbg:#?}");
    assert_eq!(net.cli_children().len(), 2);
    // Only one phase-1 computation on the gateway: one "SA has been authenticated".
    assert_eq!(
        dbg.iter()
            .filter(|l| l.ends_with("SA has been authenticated"))
            .count(),
        1
    );
}

#[test]
fn duplicate_am1_gets_the_same_am2() {
    let mut net = seed_net(9, "10.89.129.200-10.89.129.204");
    let c = net.client(C4);
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(99);
    net.initiate(c, profile_4x(b"cisco1234", "cisco123"), &mut rng);
    let am1 = net.cli(c).poll_transmit().unwrap();
    let gw: SocketAddr = GW.parse().unwrap();
    net.gw.handle_datagram(now, gw, c, &am1.bytes, &mut net.rng);
    let a = net.gw.poll_transmit().unwrap();
    net.gw.handle_datagram(now, gw, c, &am1.bytes, &mut net.rng);
    let b = net.gw.poll_transmit().unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(net.gw.sa_count(), 1);
}

#[test]
fn initial_contact_replaces_the_old_sa() {
    let mut net = flow_4x(10, |_| {});
    assert_eq!(net.gw.sa_count(), 1);
    // The same client (same address) comes back with a new phase 1 + INITIAL-CONTACT.
    net.login_4x(C4, &mut StdRng::seed_from_u64(1010));
    assert!(net
        .gw_events
        .iter()
        .any(|e| matches!(e, Event::Deleted { .. })));
    assert_eq!(net.gw.sa_count(), 1);
    // The old lease went back and the new SA got the same first address again.
    let addrs = net.gw_assigned();
    assert_eq!(addrs.len(), 2);
    assert_eq!(net.gw.pools().pool("VPNpool").map(|p| p.in_use()), Some(1));
}

#[test]
fn initial_contact_drops_only_that_peers_sa() {
    // Two users from two addresses; the first comes back with INITIAL-CONTACT. Only its
    // old SA goes (looked up in the endpoint's peer index; debug builds check the lookup
    // against a pass over every SA).
    let mut net = flow_4x(12, |_| {});
    let first_gw_sa = net.gw_first_sa();
    let mut rng = StdRng::seed_from_u64(1212);
    net.login_4x(C11, &mut rng);
    assert_eq!(net.gw.sa_count(), 2);
    assert!(!net
        .gw_events
        .iter()
        .any(|e| matches!(e, Event::Deleted { .. })));
    // The first user's client restarts (new endpoint, same address) and logs in again.
    net.login_4x(C4, &mut rng);
    let deleted: Vec<SaId> = net
        .gw_events
        .iter()
        .filter_map(|e| match e {
            Event::Deleted { sa, .. } => Some(*sa),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, vec![first_gw_sa]);
    assert_eq!(net.gw.sa_count(), 2);
    assert_eq!(net.gw.pools().pool("VPNpool").map(|p| p.in_use()), Some(2));
}

#[test]
fn dpd_detects_a_dead_gateway() {
    let mut net = flow_4x(11, |_| {});
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    // The gateway answers R-U-THERE with an ACK.
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(1111);
    net.cli(c).send_dpd(now, sa, &mut rng).unwrap();
    net.run(Duration::from_secs(1));
    let dbg: Vec<String> = net.gw_debug();
    assert!(dbg
        .iter()
        .any(|l| l.contains("processing DPD R-U-THERE seq")));
    assert!(net
        .cli_events
        .iter()
        .any(|(_, e)| matches!(e, Event::Debug(DebugEvent::Dpd { request: false, .. }))));
    // Now the gateway vanishes: every datagram to it is lost.
    net.drop =
        Box::new(|_, t| t.remote.port() == 500 && t.remote.ip().to_string() == "192.168.1.1");
    let now = net.now;
    net.cli(c).send_dpd(now, sa, &mut rng).unwrap();
    net.run(Duration::from_secs(60));
    assert!(net.cli_events.iter().any(|(_, e)| matches!(
        e,
        Event::Failed {
            reason: FailReason::DeadPeer,
            ..
        }
    )));
}

#[test]
fn debug_rendering_snapshot_of_the_4x_phase1() {
    let net = flow_4x(12, |_| {});
    let dbg = net.gw_debug();
    let end = dbg
        .iter()
        .position(|l| l.ends_with("SA has been authenticated"))
        .unwrap();
    let start = dbg
        .iter()
        .position(|l| l.contains("transform 6 against"))
        .unwrap();
    let snap = dbg[start..=end].join("\n");
    let want = "\
ISAKMP (0): Checking ISAKMP transform 6 against priority 10 policy
ISAKMP:      encryption DES-CBC
ISAKMP:      hash MD5
ISAKMP:      default group 2
ISAKMP:      extended auth pre-share
ISAKMP:      life type in seconds
ISAKMP:      life duration (VPI) of  0x0 0x20 0xc4 0x9b
ISAKMP (0): atts are acceptable. Next payload is 3
ISAKMP (0): processing KE payload. message ID = 0
ISAKMP (0): processing NONCE payload. message ID = 0
ISAKMP (0): processing ID payload. message ID = 0
ISAKMP (0): processing vendor id payload
ISAKMP (0): processing vendor id payload
ISAKMP (0): remote peer supports dead peer detection
ISAKMP (0): processing vendor id payload
ISAKMP (0): speaking to a Unity client
crypto_isakmp_process_block: src 192.168.1.2, dest 192.168.1.1
OAK_AG exchange
ISAKMP (0): processing HASH payload. message ID = 0
ISAKMP (0): processing NOTIFY payload 24578 protocol 1 spi 0, message ID = 0
ISAKMP (0): processing notify INITIAL_CONTACT
ISAKMP (0): SA has been authenticated";
    assert_eq!(snap, want);
}

fn with_gateway(net: &mut Net, f: impl FnOnce(&mut GatewayConfig, &mut Limits)) {
    let (mut cfg, pools) = gateway_config("10.89.129.200-10.89.129.204");
    let gw = cfg.gateway.as_mut().unwrap();
    f(gw, &mut cfg.limits);
    net.gw = Endpoint::new(cfg, pools);
}

#[test]
fn nat_t_float_to_4500_and_udp_encapsulation() {
    let mut net = flow_4x_from(
        13,
        "10.0.0.2:500",
        |p| p.nat_t = true,
        |n| {
            with_gateway(n, |g, _| g.nat_traversal = Some(Duration::from_secs(20)));
            n.nat = Some((
                "10.0.0.2".parse().unwrap(),
                "192.168.1.2".parse().unwrap(),
                30000,
            ));
        },
    );
    let dbg = net.gw_debug();
    assert!(dbg
        .iter()
        .any(|l| l == "ISAKMP (0): remote peer supports NAT-T"));
    assert!(
        dbg.iter()
            .any(|l| l == "ISAKMP (0): NAT-D: local behind NAT: no, remote behind NAT: yes"),
        "{dbg:#?}"
    );
    assert!(dbg
        .iter()
        .any(|l| l == "ISAKMP (0): floating to UDP port 4500"));
    let cdbg: Vec<String> = net
        .cli_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Debug(d) => Some(d.pix_lines().join("|")),
            _ => None,
        })
        .collect();
    assert!(cdbg
        .iter()
        .any(|l| l == "ISAKMP (0): NAT-D: local behind NAT: yes, remote behind NAT: no"));
    let g = net.gw_children();
    assert_eq!(g.len(), 2, "{dbg:#?}");
    for c in &g {
        assert_eq!(c.encapsulation, 3, "UDP-Encapsulated-Tunnel (RFC 3947)");
        assert_eq!(
            c.natt_ports,
            Some((4500, 34500)),
            "the NAT's mapping of the client's 4500"
        );
    }
    for c in net.cli_children() {
        assert_eq!(c.natt_ports, Some((4500, 4500)));
    }
    // The client behind the NAT keeps the mapping open with 0xFF keepalives every 20 s.
    let before = net.wire.len();
    net.run(Duration::from_secs(45));
    let keepalives = net.wire[before..]
        .iter()
        .filter(|w| w.as_slice() == [0xff])
        .count();
    assert_eq!(keepalives, 2);
}

#[test]
fn nat_t_not_configured_means_no_float() {
    let net = flow_4x_from(14, C4, |p| p.nat_t = true, |_| {});
    let dbg = net.gw_debug();
    assert!(!dbg.iter().any(|l| l.contains("floating")));
    assert!(net
        .gw_children()
        .iter()
        .all(|c| c.natt_ports.is_none() && c.encapsulation == 1));
}

#[test]
fn main_mode_wrong_psk_is_authentication_failed() {
    let mut net = seed_net(15, "10.89.129.200-10.89.129.204");
    let c = net.client(C11);
    let mut rng = StdRng::seed_from_u64(1515);
    let mut p = profile_11();
    p.psk = Secret::from_slice(b"not-the-key");
    net.initiate(c, p, &mut rng);
    net.run(Duration::from_secs(5));
    assert!(net.gw_events.iter().any(|e| matches!(
        e,
        Event::Failed {
            reason: FailReason::AuthenticationFailed,
            ..
        }
    )));
    assert!(net.cli_events.iter().any(|(_, e)| matches!(
        e,
        Event::Failed {
            reason: FailReason::PeerNotify(24),
            ..
        }
    )));
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l == "ISAKMP (0): sending NOTIFY 24 protocol 1"));
    assert_eq!(net.gw.sa_count(), 0);
}

#[test]
fn main_mode_peer_without_key_looks_like_a_wrong_key() {
    let mut net = seed_net(16, "10.89.129.200-10.89.129.204");
    with_gateway(&mut net, |g, _| {
        g.keys[0].address = "172.16.0.0".parse().unwrap();
        g.keys[0].netmask = "255.255.0.0".parse().unwrap();
    });
    let c = net.client(C11);
    let mut rng = StdRng::seed_from_u64(1616);
    net.initiate(c, profile_11(), &mut rng);
    net.run(Duration::from_secs(5));
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l.contains("No pre-shared key")));
    assert!(net.cli_events.iter().any(|(_, e)| matches!(
        e,
        Event::Failed {
            reason: FailReason::PeerNotify(24),
            ..
        }
    )));
}

#[test]
fn no_acceptable_policy_is_no_proposal_chosen() {
    let mut net = seed_net(17, "10.89.129.200-10.89.129.204");
    let c = net.client(C4);
    let mut rng = StdRng::seed_from_u64(1717);
    let mut p = profile_4x(b"cisco1234", "cisco123");
    p.offers.retain(|o| o.encryption == CipherAlg::Aes256);
    net.initiate(c, p, &mut rng);
    net.run(Duration::from_secs(5));
    assert!(net.gw_events.iter().any(|e| matches!(
        e,
        Event::Failed {
            reason: FailReason::NoProposalChosen,
            ..
        }
    )));
    assert!(net.cli_events.iter().any(|(_, e)| matches!(
        e,
        Event::Failed {
            reason: FailReason::PeerNotify(14),
            ..
        }
    )));
    // Both policies were tried against all four AES-256 transforms.
    let checks = net
        .gw_debug()
        .iter()
        .filter(|l| l.contains("Checking ISAKMP transform"))
        .count();
    assert_eq!(checks, 8);
}

/// Sends one fresh VPN Client 4.x AM1 from `c` (client RNG seeded `seed`) to the gateway;
/// whether the gateway answered it. The gateway's answer, if any, is consumed.
fn am1_answered(net: &mut Net, c: SocketAddr, seed: u64) -> bool {
    let gw: SocketAddr = GW.parse().unwrap();
    let mut cl = client_endpoint();
    let mut rng = StdRng::seed_from_u64(seed);
    cl.initiate(net.now, c, gw, profile_4x(b"cisco1234", "x"), &mut rng)
        .unwrap();
    let am1 = cl.poll_transmit().unwrap();
    net.gw
        .handle_datagram(net.now, gw, c, &am1.bytes, &mut net.rng);
    net.gw.poll_transmit().is_some()
}

#[test]
fn half_open_limit_per_peer() {
    let mut net = seed_net(18, "10.89.129.200-10.89.129.204");
    with_gateway(&mut net, |_, l| l.max_half_open_per_peer = 2);
    let c: SocketAddr = C4.parse().unwrap();
    let answers = (0..4u64)
        .filter(|i| am1_answered(&mut net, c, 1800 + i))
        .count();
    // Over the per-address cap the address's oldest half-open SA is evicted: every new
    // negotiation is answered, the address never holds more than 2 (issue 15).
    assert_eq!(answers, 4);
    assert_eq!(net.gw.sa_count(), 2);
    assert_eq!(net.gw.counters().get(Refusal::HalfOpenEvicted), 2);
    // Half-open SAs expire and make room again.
    let later = net.now + Duration::from_secs(61);
    net.gw.handle_timeout(later, &mut net.rng);
    assert_eq!(net.gw.sa_count(), 0);
}

#[test]
fn half_open_limit_counts_unfinished_negotiations_only() {
    // One half-open SA at a time: a completed handshake frees its slot, and the limit
    // holds across peers.
    let mut net = flow_4x(20, |net| with_gateway(net, |_, l| l.max_half_open = 1));
    assert_eq!(net.gw_children().len(), 2, "the first client is up");
    let answers = [("192.168.1.21:500", 2000), ("192.168.1.22:500", 2001)]
        .into_iter()
        .filter(|(c, seed)| am1_answered(&mut net, c.parse().unwrap(), *seed))
        .count();
    // A full half-open table sheds (evicts) instead of refusing the new peer (issue 15);
    // the established SA is not half-open and stays.
    assert_eq!(answers, 2, "a new peer is never refused for a full table");
    assert_eq!(net.gw.sa_count(), 2);
    assert_eq!(net.gw.half_open_count(), 1);
    assert_eq!(net.gw.counters().get(Refusal::HalfOpenEvicted), 1);
}

#[test]
fn rate_limit_per_peer() {
    let mut net = seed_net(19, "10.89.129.200-10.89.129.204");
    with_gateway(&mut net, |_, l| l.new_sas_per_peer_per_sec = 3);
    let gw: SocketAddr = GW.parse().unwrap();
    let c: SocketAddr = C4.parse().unwrap();
    let count = |net: &mut Net, base: u64| {
        let mut n = 0;
        for i in 0..5u64 {
            let mut cl = client_endpoint();
            let mut rng = StdRng::seed_from_u64(base + i);
            cl.initiate(net.now, c, gw, profile_11(), &mut rng).unwrap();
            let mm1 = cl.poll_transmit().unwrap();
            net.gw
                .handle_datagram(net.now, gw, c, &mm1.bytes, &mut net.rng);
            n += usize::from(net.gw.poll_transmit().is_some());
        }
        n
    };
    assert_eq!(count(&mut net, 1900), 3);
    net.now += Duration::from_millis(1500);
    assert_eq!(count(&mut net, 1950), 3);
}

#[test]
fn cisco_fragments_are_reassembled() {
    let mut net = flow_4x_from(20, C4, |p| p.fragmentation = true, |_| {});
    assert_eq!(net.gw_children().len(), 2);
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(2020);
    net.cli(c)
        .initiate_quick_mode(
            now,
            sa,
            qm_request(addr, Selector::Addr("10.89.129.131".parse().unwrap())),
            &mut rng,
        )
        .unwrap();
    let qm1 = net.cli(c).poll_transmit().unwrap();
    // Cut QM1 into three Cisco fragments (payload 132: id, number, flags, data).
    let chunks: Vec<&[u8]> = qm1.bytes.chunks(qm1.bytes.len() / 3 + 1).collect();
    let gw: SocketAddr = GW.parse().unwrap();
    for (i, ch) in chunks.iter().enumerate().rev() {
        let mut f = Vec::new();
        f.extend_from_slice(&qm1.bytes[..16]);
        f.extend_from_slice(&[132, 0x10, 32, 0]);
        f.extend_from_slice(&[0; 4]);
        let plen = 8 + ch.len();
        f.extend_from_slice(&u32::try_from(28 + plen).unwrap().to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&u16::try_from(plen).unwrap().to_be_bytes());
        f.extend_from_slice(&7u16.to_be_bytes());
        f.push(u8::try_from(i + 1).unwrap());
        f.push(u8::from(i + 1 == chunks.len()));
        f.extend_from_slice(ch);
        net.gw.handle_datagram(now, gw, c, &f, &mut net.rng);
    }
    net.run(Duration::from_secs(5));
    assert_eq!(net.gw_children().len(), 3, "{:#?}", net.gw_debug());
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l == "ISAKMP (0): received fragment 3 of id 7 (last)"));
}

#[test]
fn fragments_from_a_peer_without_the_vid_are_dropped() {
    let mut net = flow_4x(21, |_| {});
    let c: SocketAddr = C4.parse().unwrap();
    let gw: SocketAddr = GW.parse().unwrap();
    let cookies = net.wire[0][..8].to_vec();
    let mut f = cookies.clone();
    f.extend_from_slice(&net.wire[1][8..16]);
    f.extend_from_slice(&[132, 0x10, 32, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&(28u32 + 12).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 12, 0, 1, 1, 1, 1, 2, 3, 4]);
    let now = net.now;
    net.gw.handle_datagram(now, gw, c, &f, &mut net.rng);
    net.run(Duration::from_secs(1));
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l.contains("fragment from a peer without the fragmentation VID")));
}

#[test]
fn rekey_then_delete_the_old_child() {
    let mut net = flow_4x(22, |_| {});
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let old = net.cli_children()[0].spi_in;
    net.now += Duration::from_secs(3600);
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(2222);
    net.cli(c)
        .initiate_quick_mode(
            now,
            sa,
            qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap())),
            &mut rng,
        )
        .unwrap();
    net.run(Duration::from_secs(5));
    assert_eq!(net.gw_children().len(), 3);
    net.cli(c).delete_child(now, sa, old, &mut rng).unwrap();
    net.run(Duration::from_secs(5));
    let gone: Vec<u32> = net
        .gw_events
        .iter()
        .filter_map(|e| match e {
            Event::ChildDeleted { spi_in, .. } => Some(*spi_in),
            _ => None,
        })
        .collect();
    let gw_old = net
        .gw_children()
        .iter()
        .find(|g| g.spi_out == old)
        .unwrap()
        .spi_in;
    assert_eq!(gone, vec![gw_old]);
}

#[test]
fn phase1_lifetime_expiry_deletes_both_ends() {
    let mut net = flow_4x(23, |_| {});
    assert_eq!(net.gw.pools().pool("VPNpool").map(|p| p.in_use()), Some(1));
    net.run(Duration::from_secs(86_400 + 10));
    assert_eq!(net.gw.sa_count(), 0);
    assert!(net
        .cli_events
        .iter()
        .any(|(_, e)| matches!(e, Event::Deleted { .. })));
    assert_eq!(net.gw.pools().pool("VPNpool").map(|p| p.in_use()), Some(0));
}

#[test]
fn quick_mode_with_pfs() {
    let mut net = flow_4x(24, |n| {
        with_gateway(n, |g, _| g.pfs = Some(DhGroup::Modp1024));
    });
    // The seed's QMs carry no KE: with `set pfs group2` the gateway refuses them.
    assert!(net.gw_children().is_empty());
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l == "ISAKMP (0): sending NOTIFY 14 protocol 1"));
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(2424);
    let mut req = qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap()));
    req.pfs = Some(DhGroup::Modp1024);
    net.cli(c)
        .initiate_quick_mode(now, sa, req, &mut rng)
        .unwrap();
    net.run(Duration::from_secs(5));
    let (g, cl) = (net.gw_children(), net.cli_children());
    assert_eq!((g.len(), cl.len()), (1, 1));
    assert_eq!(
        cl[0].enc_key_out.expose_secret(),
        g[0].enc_key_in.expose_secret()
    );
    assert_eq!(
        cl[0].auth_key_in.expose_secret(),
        g[0].auth_key_out.expose_secret()
    );
    // With PFS the keys differ from what the same nonces would give without g^xy(qm):
    // the KE payload went both ways.
    let qms: Vec<_> = net.wire.iter().filter(|w| w[18] == 32).collect();
    let qm2 = qms[qms.len() - 2];
    // HASH 20 + SA ~56 + Nonce 24 + IDs 24 + RESPONDER-LIFETIME 28: about 150 bytes
    // without KE; with the 128-byte group-2 KE (+4) it is well above 280.
    assert!(
        qm2.len() > 280,
        "the responder's KE is inside ({} bytes)",
        qm2.len()
    );
}

#[test]
fn child_sa_lifetime_expiry_deletes_the_pair() {
    let mut net = flow_4x(25, |_| {});
    assert_eq!(net.gw_children().len(), 2);
    net.run(Duration::from_secs(28_800 + 5));
    let gw_deleted = net
        .gw_events
        .iter()
        .filter(|e| matches!(e, Event::ChildDeleted { .. }))
        .count();
    let cl_deleted = net
        .cli_events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ChildDeleted { .. }))
        .count();
    // Both ends expire both pairs (the client adopted the 28800 s RESPONDER-LIFETIME), and
    // the IKE SA stays up.
    assert_eq!(gw_deleted, 2);
    assert_eq!(cl_deleted, 2);
    assert_eq!(net.gw.sa_count(), 1);
}

#[test]
fn unanswered_quick_mode_is_abandoned_not_the_ike_sa() {
    let mut net = flow_4x(26, |_| {});
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(2626);
    // Every Quick Mode datagram from the client is lost from now on.
    net.drop = Box::new(|_, t| {
        t.bytes.len() > 18 && t.bytes[18] == 32 && t.local.ip().to_string() == "192.168.1.2"
    });
    net.cli(c)
        .initiate_quick_mode(
            now,
            sa,
            qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap())),
            &mut rng,
        )
        .unwrap();
    net.run(Duration::from_secs(120));
    assert_eq!(net.cli(c).sa_state(sa), Some(P1State::Established));
    assert!(net.cli_events.iter().any(|(_, e)| matches!(e, Event::Debug(DebugEvent::Dropped(w)) if w.contains("Quick Mode unanswered"))));
}

#[test]
fn debug_rendering_snapshot_of_the_first_quick_mode() {
    let net = flow_4x(12, |_| {});
    let dbg = net.gw_debug();
    let start = dbg
        .iter()
        .position(|l| l == "ISAKMP : Checking IPsec proposal 1")
        .unwrap();
    let end = start
        + dbg[start..]
            .iter()
            .position(|l| l.starts_with("IPSEC(spi_response)"))
            .unwrap();
    let snap: Vec<&str> = dbg[start..end].iter().map(String::as_str).collect();
    let mut want = Vec::new();
    let t = |n: u8, id: &str, auth: &str| {
        vec![
            format!("ISAKMP : Checking IPsec proposal {n}"),
            format!("ISAKMP: transform 1, {id}"),
            "ISAKMP:   attributes in transform:".to_string(),
            format!("ISAKMP:      authenticator is {auth}"),
            "ISAKMP:      encaps is 1".to_string(),
            "ISAKMP:      SA life type in seconds".to_string(),
            "ISAKMP:      SA life duration (VPI) of  0x0 0x20 0xc4 0x9b".to_string(),
        ]
    };
    let no = |p: u8, tr: u8, h: u8| {
        vec![
            format!("IPSEC(validate_proposal): transform proposal (prot {p}, trans {tr}, hmac_alg {h}) not supported"),
            "ISAKMP (0): atts not acceptable. Next payload is 0".to_string(),
        ]
    };
    want.extend(t(1, "ESP_3DES", "HMAC-MD5"));
    want.extend(no(3, 3, 1));
    want.push("ISAKMP (0): skipping next ANDED proposal (1)".into());
    want.extend(t(2, "ESP_3DES", "HMAC-SHA"));
    want.extend(no(3, 3, 2));
    want.push("ISAKMP (0): skipping next ANDED proposal (2)".into());
    want.extend(t(3, "ESP_3DES", "HMAC-MD5"));
    want.extend(no(3, 3, 1));
    want.extend(t(4, "ESP_3DES", "HMAC-SHA"));
    want.extend(no(3, 3, 2));
    want.extend(t(5, "ESP_DES", "HMAC-MD5"));
    want.push("ISAKMP (0): atts are acceptable.".into());
    want.push("ISAKMP (0): bad SPI size of 2 octets!".into());
    want.extend(t(6, "ESP_DES", "HMAC-SHA"));
    want.extend(no(3, 2, 2));
    want.push("ISAKMP (0): skipping next ANDED proposal (6)".into());
    want.extend(t(7, "ESP_DES", "HMAC-MD5"));
    want.push("ISAKMP (0): atts are acceptable.".into());
    want.push("ISAKMP (0): processing NONCE payload. message ID = MID".into());
    want.push("ISAKMP (0): processing ID payload. message ID = MID".into());
    want.push("ISAKMP (0): ID_IPV4_ADDR src 10.89.129.200 prot 0 port 0".into());
    want.push("ISAKMP (0): processing ID payload. message ID = MID".into());
    want.push("ISAKMP (0): ID_IPV4_ADDR dst 192.168.1.1 prot 0 port 0".into());
    let mid = dbg[start - 1].rsplit(' ').next().unwrap().to_string();
    let want: Vec<String> = want.into_iter().map(|l| l.replace("MID", &mid)).collect();
    assert_eq!(snap, want);
}

#[test]
fn quick_mode_initiator_id_must_be_the_mode_config_address() {
    let mut net = flow_4x(27, |_| {});
    assert_eq!(net.gw_children().len(), 2);
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(2727);
    // Claim another address of the pool (another user's) as our proxy: refused with
    // INVALID-ID-INFORMATION (18), no child SA on either side, the IKE SA stays up.
    let other: Ipv4Addr = "10.89.129.203".parse().unwrap();
    assert_ne!(addr, other);
    for claimed in [
        Selector::Addr(other),
        Selector::Subnet(
            "10.89.129.0".parse().unwrap(),
            "255.255.255.0".parse().unwrap(),
        ),
    ] {
        let mut req = qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap()));
        req.local = TrafficSelector::new(claimed);
        net.cli(c)
            .initiate_quick_mode(now, sa, req, &mut rng)
            .unwrap();
        net.run(Duration::from_secs(5));
    }
    assert_eq!(net.gw_children().len(), 2);
    assert_eq!(net.cli_children().len(), 2);
    let refusals = net
        .gw_debug()
        .iter()
        .filter(|l| *l == "ISAKMP (0): sending NOTIFY 18 protocol 1")
        .count();
    // Each refused QM1 (and each of its retransmissions) gets the notify.
    assert!(refusals >= 2, "{refusals}");
    assert_eq!(net.gw.sa_count(), 1);
    // Its own address still works.
    let now = net.now;
    net.cli(c)
        .initiate_quick_mode(
            now,
            sa,
            qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap())),
            &mut rng,
        )
        .unwrap();
    net.run(Duration::from_secs(5));
    assert_eq!(net.gw_children().len(), 3);
}

#[test]
fn responder_lifetime_in_kilobytes_when_ours_is_shorter() {
    // The seed's client offers no kilobyte lifetime; the gateway's 4608000 KB limit is
    // shorter, so RESPONDER-LIFETIME carries it and the client adopts it.
    let net = flow_4x(28, |_| {});
    let (g, cl) = (net.gw_children(), net.cli_children());
    assert_eq!((g.len(), cl.len()), (2, 2));
    for (g, c) in g.iter().zip(&cl) {
        assert_eq!(g.life_kb, 4_608_000);
        assert_eq!(c.life_kb, g.life_kb);
        assert_eq!(c.life_secs, g.life_secs);
    }
}

#[test]
fn unknown_cookies_are_dropped_silently() {
    let mut net = flow_4x(29, |_| {});
    while net.gw.poll_event().is_some() {}
    let gw: SocketAddr = GW.parse().unwrap();
    let c: SocketAddr = C4.parse().unwrap();
    // A real Quick Mode message of the client, with its responder cookie changed, and
    // the same with both cookies unknown: no INVALID-COOKIE, no answer of any kind.
    let qm1 = net
        .wire
        .iter()
        .find(|w| w[18] == 32 && w.len() > 60)
        .unwrap()
        .clone();
    let mut wrong_r = qm1.clone();
    wrong_r[12] ^= 0x55;
    let mut wrong_both = wrong_r.clone();
    wrong_both[0] ^= 0x55;
    // An informational with an unknown initiator cookie and a zero responder cookie.
    let mut info = qm1.clone();
    info[0] ^= 0x33;
    info[8..16].fill(0);
    info[18] = 5;
    let sas = net.gw.sa_count();
    for bytes in [wrong_r, wrong_both, info] {
        let now = net.now;
        net.gw.handle_datagram(now, gw, c, &bytes, &mut net.rng);
        assert!(net.gw.poll_transmit().is_none(), "no notify is sent");
        let mut dropped = false;
        while let Some(e) = net.gw.poll_event() {
            if matches!(e, Event::Debug(DebugEvent::Dropped(w)) if w == "unknown cookies") {
                dropped = true;
            }
        }
        assert!(dropped, "the drop is visible as an event");
    }
    assert_eq!(net.gw.sa_count(), sas);
}

#[test]
fn commit_bit_gets_connected_after_the_sas_are_installed() {
    let mut net = flow_4x(30, |_| {});
    let c: SocketAddr = C4.parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(3030);
    net.cli(c)
        .initiate_quick_mode(
            now,
            sa,
            qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap())),
            &mut rng,
        )
        .unwrap();
    net.clear_events();
    // Carry the datagrams by hand, setting the commit bit on the client's QM1 (the flags
    // byte is covered by neither the encryption nor HASH(1)).
    let mut first = true;
    let mut gw_sent = Vec::new();
    for _ in 0..4 {
        while let Some(mut t) = net.cli(c).poll_transmit() {
            if first {
                assert_eq!(t.bytes[18], 32);
                t.bytes[19] |= 0x02;
                first = false;
            }
            let now = net.now;
            net.gw
                .handle_datagram(now, t.remote, t.local, &t.bytes, &mut net.rng);
        }
        while let Some(t) = net.gw.poll_transmit() {
            gw_sent.push(t.bytes.clone());
            let now = net.now;
            net.cli(c)
                .handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
        }
    }
    while let Some(e) = net.gw.poll_event() {
        net.record_gw_event(e);
    }
    while let Some(e) = net.cli(c).poll_event() {
        net.record_cli_event(c, e);
    }
    // QM2, then QM4 (CONNECTED, commit bit, same message ID) after the child SA event.
    assert_eq!(gw_sent.len(), 2);
    assert_eq!(gw_sent[1][18], 32);
    assert_eq!(gw_sent[1][19], 0x03, "encrypted and commit");
    assert_eq!(gw_sent[0][20..24], gw_sent[1][20..24]);
    let dbg = net.gw_debug();
    let created = dbg.iter().position(|l| l.contains("Creating IPsec SAs"));
    let connected = dbg
        .iter()
        .position(|l| l == "ISAKMP (0): sending NOTIFY 16384 protocol 1");
    assert!(created.is_some() && connected.is_some(), "{dbg:#?}");
    assert!(created < connected);
    // The client verifies its HASH and takes it.
    assert!(net.cli_events.iter().any(|(_, e)| matches!(
        e,
        Event::Debug(DebugEvent::Processing {
            what: "NOTIFY CONNECTED",
            ..
        })
    )));
    assert!(!net
        .cli_events
        .iter()
        .any(|(_, e)| matches!(e, Event::Debug(DebugEvent::Dropped(_)))));
    // (events were cleared before this Quick Mode: one new pair on each side)
    assert_eq!(net.cli_children().len(), 1);
    assert_eq!(net.gw_children().len(), 1);
}

/// The NAT-T flow of `nat_t_float_to_4500_and_udp_encapsulation`, then one Quick Mode
/// offering only UDP-encapsulated transport mode.
fn natt_transport_qm(seed: u64, gateway_transport: bool) -> Net {
    let mut net = flow_4x_from(
        seed,
        "10.0.0.2:500",
        |p| p.nat_t = true,
        |n| {
            with_gateway(n, |g, _| {
                g.nat_traversal = Some(Duration::from_secs(20));
                g.transport_mode = gateway_transport;
            });
            n.nat = Some((
                "10.0.0.2".parse().unwrap(),
                "192.168.1.2".parse().unwrap(),
                30000,
            ));
        },
    );
    assert_eq!(net.gw_children().len(), 2, "the tunnel-mode QMs");
    let c: SocketAddr = "10.0.0.2:500".parse().unwrap();
    let sa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let mut req = qm_request(addr, Selector::Addr("192.168.1.1".parse().unwrap()));
    for o in &mut req.offers {
        o.transport = true;
    }
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7777);
    net.cli(c)
        .initiate_quick_mode(now, sa, req, &mut rng)
        .unwrap();
    net.run(Duration::from_secs(10));
    net
}

#[test]
fn udp_encapsulated_transport_mode_only_when_configured() {
    // Configured: UDP-Encapsulated-Transport (RFC 3947: 4) is accepted, ports and all.
    let net = natt_transport_qm(31, true);
    let g = net.gw_children();
    assert_eq!(g.len(), 3);
    assert_eq!(g[2].encapsulation, 4);
    assert_eq!(g[2].natt_ports, Some((4500, 34500)));
    assert_eq!(net.cli_children()[2].encapsulation, 4);
    // NAT-OA both ways (RFC 3947 5.2): the gateway learns the client's private address
    // (for transport-mode checksum fix-up), the client the gateway's; tunnel mode has none.
    assert_eq!(
        g[2].peer_original_addr,
        Some("10.0.0.2".parse().unwrap()),
        "NAT-OAi"
    );
    assert_eq!(
        net.cli_children()[2].peer_original_addr,
        Some("192.168.1.1".parse().unwrap()),
        "NAT-OAr"
    );
    assert!(g[..2].iter().all(|c| c.peer_original_addr.is_none()));
    // Not configured (the seed's PIX): tunnel mode only, NO-PROPOSAL-CHOSEN.
    let net = natt_transport_qm(31, false);
    assert_eq!(net.gw_children().len(), 2);
    assert!(net
        .gw_debug()
        .iter()
        .any(|l| l == "ISAKMP (0): sending NOTIFY 14 protocol 1"));
}

/// strongSwan's charon-cmd sends no Unity VID, so the gateway (`initiate` and `respond`)
/// pushes a CFG_SET, while charon pulls with its own CFG_REQUEST and ignores the SET.
/// The request must win: the gateway drops its SET (and lease) and answers the pull.
#[test]
fn pull_from_a_client_without_unity_vid_crosses_our_push_and_wins() {
    let mut net = seed_net(31, "10.89.129.200-10.89.129.204");
    let c = net.client(C4);
    let gw: SocketAddr = GW.parse().unwrap();
    // Drop every gateway-initiated Transaction message after the two of Xauth (REQUEST,
    // SET): the client never sees our CFG_SET, as charon ignores it.
    let mut client_ids: Vec<[u8; 4]> = Vec::new();
    let mut gw_ids: Vec<[u8; 4]> = Vec::new();
    net.drop = Box::new(move |_, t| {
        if t.bytes.len() < 28 || t.bytes[18] != 6 {
            return false;
        }
        let id: [u8; 4] = t.bytes[20..24].try_into().unwrap();
        if t.local != gw {
            if !client_ids.contains(&id) {
                client_ids.push(id);
            }
            return false;
        }
        if client_ids.contains(&id) {
            return false;
        }
        if !gw_ids.contains(&id) {
            gw_ids.push(id);
        }
        gw_ids.iter().position(|x| *x == id).unwrap() >= 2
    });
    let mut profile = profile_4x(b"cisco1234", "cisco123");
    profile.vendor_ids = false;
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(32);
    let sa = net.cli(c).initiate(now, c, gw, profile, &mut rng).unwrap();
    net.run(Duration::from_secs(20));
    assert!(net.cli(c).ready_for_quick_mode(sa), "{:#?}", net.gw_debug());
    assert_eq!(
        net.cli(c).assigned_address(sa),
        Some("10.89.129.200".parse().unwrap())
    );
    // One lease only: the abandoned SET's address went back to the pool.
    assert_eq!(net.gw.pools().total_in_use(), 1);
}

/// The key-log material both ends report is the same cookie and phase-1 key, of the
/// cipher's length (DES: 8 bytes; 3DES with MD5 needs Appendix B expansion to 24).
#[test]
fn phase1_keylog_agrees_on_both_ends() {
    let mut net = seed_net(41, "10.89.129.200-10.89.129.204");
    let c = net.client(C4);
    let gw: SocketAddr = GW.parse().unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(42);
    let sa = net
        .cli(c)
        .initiate(now, c, gw, profile_4x(b"cisco1234", "cisco123"), &mut rng)
        .unwrap();
    net.run(Duration::from_secs(20));
    let gw_sa = net.gw_first_sa();
    let (ck_c, key_c) = net.cli(c).phase1_keylog(sa).unwrap();
    let (ck_g, key_g) = net.gw.phase1_keylog(gw_sa).unwrap();
    assert_eq!(ck_c, ck_g);
    assert!(key_c.ct_eq(key_g.expose_secret()));
    // policy 10 of the seed: DES
    assert_eq!(key_g.len(), 8);
    assert!(net.gw.phase1_keylog(SaId(9999)).is_none());
}

/// RADIUS Framed-IP-Address: the verdict carries the address and Mode Config hands it
/// out instead of the next one from the pool.
#[test]
fn xauth_verdict_with_an_aaa_address_is_what_mode_config_assigns() {
    let mut net = seed_net(51, "10.89.129.200-10.89.129.204");
    net.answer_xauth = false;
    let c = net.client(C4);
    let gw: SocketAddr = GW.parse().unwrap();
    let now = net.now;
    let mut rng = StdRng::seed_from_u64(52);
    let sa = net
        .cli(c)
        .initiate(now, c, gw, profile_4x(b"cisco1234", "cisco123"), &mut rng)
        .unwrap();
    net.run(Duration::from_secs(5));
    let gw_sa = net
        .gw_events
        .iter()
        .find_map(|e| match e {
            Event::XauthCredentials { sa, .. } => Some(*sa),
            _ => None,
        })
        .unwrap();
    let addr: Ipv4Addr = "10.89.129.203".parse().unwrap();
    let now = net.now;
    net.gw
        .xauth_verdict_with_address(
            now,
            gw_sa,
            true,
            Some(modecfg::AaaAddress {
                addr,
                netmask: None,
            }),
            &mut net.rng,
        )
        .unwrap();
    net.run(Duration::from_secs(10));
    assert!(net.cli(c).ready_for_quick_mode(sa));
    assert_eq!(net.cli(c).assigned_address(sa), Some(addr));
    assert!(net.gw.pools().is_in_use(addr));
    assert_eq!(net.gw.pools().total_in_use(), 1);
}
