//! `ClientProfile::force_natt_encapsulation` (strongSwan's `forceencaps`, for load tests
//! between network namespaces): without any NAT in the path, a VPN Client 4.x profile
//! with it makes the gateway detect "initiator behind NAT", both sides float to UDP 4500
//! after Aggressive Mode's second message, and the child SA is UDP-encapsulated tunnel
//! mode (RFC 3947: 3) on both sides. Without it (the default) the same handshake stays
//! on port 500 with plain tunnel mode. Virtual clock, seeded RNG.
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

/// What one handshake showed.
struct Outcome {
    /// (local port, remote port) of every datagram the client sent, in order.
    client_ports: Vec<(u16, u16)>,
    /// The client's and the gateway's child SA.
    client_child: Box<ChildSa>,
    gw_child: Box<ChildSa>,
}

fn handshake(force: bool) -> Outcome {
    let (mut cfg, pools) = presets::seed_gateway(
        b"cisco1234",
        Ipv4Addr::new(10, 89, 129, 1),
        Ipv4Addr::new(10, 89, 129, 50),
    )
    .unwrap();
    cfg.gateway.as_mut().unwrap().nat_traversal = Some(Duration::from_secs(20));
    let mut gw = Endpoint::new(cfg, pools);
    let mut cl = Endpoint::new(presets::client(), modecfg::Pools::new());
    let mut rng = StdRng::seed_from_u64(7);
    let mut now = Instant::now();
    let gw_addr: SocketAddr = "192.168.1.1:500".parse().unwrap();
    let local: SocketAddr = "192.168.1.2:40000".parse().unwrap();
    let mut profile =
        presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "cisco_customer", b"c");
    profile.nat_t = true;
    profile.force_natt_encapsulation = force;
    let sa = cl.initiate(now, local, gw_addr, profile, &mut rng).unwrap();
    let (mut client_ports, mut client_child, mut gw_child) = (Vec::new(), None, None);
    let mut qm = false;
    let end = now + Duration::from_secs(10);
    while now < end && (client_child.is_none() || gw_child.is_none()) {
        let mut moved = false;
        while let Some(t) = cl.poll_transmit() {
            moved = true;
            client_ports.push((t.local.port(), t.remote.port()));
            now += Duration::from_millis(5);
            gw.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
        }
        while let Some(t) = gw.poll_transmit() {
            moved = true;
            now += Duration::from_millis(5);
            cl.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
        }
        while let Some(e) = gw.poll_event() {
            match e {
                Event::XauthCredentials { sa, .. } => {
                    gw.xauth_verdict(now, sa, true, &mut rng).unwrap();
                    moved = true;
                }
                Event::ChildSa(c) => gw_child = Some(c),
                _ => {}
            }
        }
        while let Some(e) = cl.poll_event() {
            if let Event::ChildSa(c) = e {
                client_child = Some(c);
            }
        }
        if !qm && cl.ready_for_quick_mode(sa) {
            let addr = cl.assigned_address(sa).unwrap();
            let q = presets::vpn_client_quick_mode(addr);
            cl.initiate_quick_mode(now, sa, q, &mut rng).unwrap();
            qm = true;
            moved = true;
        }
        if !moved {
            now += Duration::from_millis(100);
            gw.handle_timeout(now, &mut rng);
            cl.handle_timeout(now, &mut rng);
        }
    }
    Outcome {
        client_ports,
        client_child: client_child.expect("the client got no child SA"),
        gw_child: gw_child.expect("the gateway got no child SA"),
    }
}

#[test]
fn forced_encapsulation_floats_to_4500_without_a_nat() {
    let o = handshake(true);
    // AM1 from port 40000 to 500; AM3 and everything after it on 4500 <-> 4500.
    assert_eq!(o.client_ports.first(), Some(&(40000, 500)));
    assert!(o.client_ports.len() >= 3, "{:?}", o.client_ports);
    assert!(
        o.client_ports[1..].iter().all(|p| *p == (4500, 4500)),
        "{:?}",
        o.client_ports
    );
    // UDP-Encapsulated-Tunnel (RFC 3947) on both sides, and the gateway's ports are the
    // ones it saw the client float to.
    assert_eq!(o.client_child.encapsulation, 3);
    assert_eq!(o.gw_child.encapsulation, 3);
    assert_eq!(o.client_child.natt_ports, Some((4500, 4500)));
    assert_eq!(o.gw_child.natt_ports, Some((4500, 4500)));
    assert_eq!(o.client_child.spi_out, o.gw_child.spi_in);
}

#[test]
fn without_forcing_the_same_handshake_stays_on_port_500() {
    let o = handshake(false);
    assert!(
        o.client_ports.iter().all(|p| *p == (40000, 500)),
        "{:?}",
        o.client_ports
    );
    assert_eq!(o.client_child.encapsulation, 1);
    assert_eq!(o.gw_child.encapsulation, 1);
    assert_eq!(o.client_child.natt_ports, None);
}
