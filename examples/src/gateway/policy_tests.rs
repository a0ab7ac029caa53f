//! The VPN data-plane policy over the demo configuration and variants, with a
//! virtual clock.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::disallowed_methods
)]

use super::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const DEMO: &str = include_str!("../../data/pix63-demo.cfg");
const USER: &str = "cisco_customer";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn client() -> Ipv4Addr {
    ip("10.89.129.200")
}

fn server() -> Ipv4Addr {
    ip("10.89.129.131")
}

fn policy_from(text: &str) -> Policy {
    let cfg = pix_config::parse(text).config;
    Policy::new(&cfg, "outside").unwrap()
}

/// A policy over `text` with the demo user connected at 10.89.129.200.
fn connected(text: &str, t0: Instant) -> Policy {
    let mut p = policy_from(text);
    p.vpn_connect(USER, client(), Some("198.51.100.7".parse().unwrap()), t0);
    p
}

fn sum16(data: &[u8], init: u32) -> u16 {
    let mut s = init;
    for c in data.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        s += u32::from(w);
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn pseudo(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let (s, d) = (src.octets(), dst.octets());
    [s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3]]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>()
        + u32::from(proto)
        + len as u32
}

fn ipv4(proto: u8, src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8]) -> Vec<u8> {
    let total = 20 + l4.len();
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let ck = sum16(&p, 0);
    p[10..12].copy_from_slice(&ck.to_be_bytes());
    p.extend_from_slice(l4);
    p
}

const SYN: u8 = 0x02;
const SYNACK: u8 = 0x12;
const ACK: u8 = 0x10;
const FINACK: u8 = 0x11;
const RST: u8 = 0x04;

fn tcp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8, data: usize) -> Vec<u8> {
    let mut l4 = vec![0u8; 20 + data];
    l4[0..2].copy_from_slice(&sport.to_be_bytes());
    l4[2..4].copy_from_slice(&dport.to_be_bytes());
    l4[12] = 5 << 4;
    l4[13] = flags;
    l4[14] = 0xff;
    for (i, b) in l4[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let ck = sum16(&l4, pseudo(src, dst, 6, l4.len()));
    l4[16..18].copy_from_slice(&ck.to_be_bytes());
    ipv4(6, src, dst, &l4)
}

fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, data: usize) -> Vec<u8> {
    let mut l4 = vec![0u8; 8 + data];
    l4[0..2].copy_from_slice(&sport.to_be_bytes());
    l4[2..4].copy_from_slice(&dport.to_be_bytes());
    l4[4..6].copy_from_slice(&((8 + data) as u16).to_be_bytes());
    let ck = sum16(&l4, pseudo(src, dst, 17, l4.len()));
    l4[6..8].copy_from_slice(&ck.to_be_bytes());
    ipv4(17, src, dst, &l4)
}

fn icmp(src: Ipv4Addr, dst: Ipv4Addr, ty: u8, id: u16) -> Vec<u8> {
    let mut l4 = vec![ty, 0, 0, 0, (id >> 8) as u8, id as u8, 0, 1];
    l4.extend_from_slice(b"abcdefghijklmnop");
    let ck = sum16(&l4, 0);
    l4[2..4].copy_from_slice(&ck.to_be_bytes());
    ipv4(1, src, dst, &l4)
}

/// IP header and TCP/UDP checksums verify.
fn checksums_ok(p: &[u8]) -> bool {
    if sum16(&p[..20], 0) != 0 {
        return false;
    }
    let (src, dst) = (
        Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        Ipv4Addr::new(p[16], p[17], p[18], p[19]),
    );
    let l4 = &p[20..];
    match p[9] {
        6 | 17 => sum16(l4, pseudo(src, dst, p[9], l4.len())) == 0,
        1 => sum16(l4, 0) == 0,
        _ => true,
    }
}

fn from_client(p: &mut Policy, now: Instant, mut pkt: Vec<u8>) -> (Decision, Vec<AcctEvent>) {
    p.from_client(now, &mut pkt)
}

fn to_client(p: &mut Policy, now: Instant, mut pkt: Vec<u8>) -> (Decision, Vec<AcctEvent>) {
    p.to_client(now, &mut pkt)
}

fn s(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

fn without_permit_ipsec() -> String {
    let t = DEMO.replace("sysopt connection permit-ipsec\n", "");
    assert_ne!(t, DEMO);
    t
}

#[test]
fn permit_ipsec_client_reaches_server_on_any_port_and_icmp() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    for (i, port) in [22u16, 23, 80, 139, 443, 3389, 8080].iter().enumerate() {
        let sport = 40000 + i as u16;
        let (d, ev) = from_client(&mut p, t0, tcp(client(), sport, server(), *port, SYN, 0));
        assert_eq!(d, Decision::Forward, "port {port}");
        assert_eq!(ev.len(), 1, "accounting start for port {port}");
        let (d, _) = to_client(&mut p, t0, tcp(server(), *port, client(), sport, SYNACK, 0));
        assert_eq!(d, Decision::Forward);
    }
    // UDP (DNS) and its reply
    let (d, ev) = from_client(&mut p, t0, udp(client(), 5353, server(), 53, 30));
    assert_eq!(
        (d, ev.len()),
        (Decision::Forward, 0),
        "no accounting for UDP"
    );
    let (d, _) = to_client(&mut p, t0, udp(server(), 53, client(), 5353, 60));
    assert_eq!(d, Decision::Forward);
    // ICMP echo and reply (not stateful: each checked, both permitted)
    let (d, _) = from_client(&mut p, t0, icmp(client(), server(), 8, 7));
    assert_eq!(d, Decision::Forward);
    let (d, _) = to_client(&mut p, t0, icmp(server(), client(), 0, 7));
    assert_eq!(d, Decision::Forward);
    // any inside host: permit-ipsec skips the access-list
    let (d, _) = from_client(
        &mut p,
        t0,
        tcp(client(), 40100, ip("10.89.129.134"), 49, SYN, 0),
    );
    assert_eq!(d, Decision::Forward);
    // an inside host may open a connection to the client (outbound, nat 0 exempt)
    let (d, _) = to_client(&mut p, t0, tcp(server(), 1050, client(), 139, SYN, 0));
    assert_eq!(d, Decision::Forward);
    // no hairpin: the Internet or another client through the tunnel is same-interface
    let (d, _) = from_client(&mut p, t0, tcp(client(), 40200, ip("8.8.8.8"), 80, SYN, 0));
    assert!(!d.forwarded());
    match d {
        Decision::Drop { reason, .. } => assert!(reason.contains("same-interface"), "{reason}"),
        Decision::Forward => panic!("hairpin forwarded"),
    }
    assert!(p.drops().keys().any(|k| k.contains("same-interface")));
    // the pool is exempt from NAT: no xlate
    assert!(
        p.show(t0, "xlate").unwrap().starts_with("1 in use"),
        "only the static"
    );
}

#[test]
fn without_permit_ipsec_access_list_120_decides() {
    let t0 = Instant::now();
    let mut p = connected(&without_permit_ipsec(), t0);
    // 10.89.129.131 is what the client sees (nat 0 exemption: real = mapped), so
    // lines 26-28 let ICMP, TCP and UDP in
    assert_eq!(p.firewall().permit_ipsec, None);
    let (d, _) = from_client(&mut p, t0, tcp(client(), 40000, server(), 23, SYN, 0));
    assert!(d.forwarded());
    let (d, _) = from_client(&mut p, t0, tcp(client(), 40001, server(), 3389, SYN, 0));
    assert_eq!(d, Decision::Forward);
    let (d, _) = from_client(&mut p, t0, udp(client(), 40002, server(), 161, 10));
    assert_eq!(d, Decision::Forward);
    let (d, _) = from_client(&mut p, t0, icmp(client(), server(), 8, 1));
    assert_eq!(d, Decision::Forward);
    // replies to the client are outbound and ride the connection / are permitted
    let (d, _) = to_client(&mut p, t0, tcp(server(), 23, client(), 40000, SYNACK, 0));
    assert_eq!(d, Decision::Forward);
    let (d, _) = to_client(&mut p, t0, icmp(server(), client(), 0, 1));
    assert_eq!(d, Decision::Forward);
    // any other inside host: implicit deny of access-list 120 (access-group, line 48)
    let (d, _) = from_client(
        &mut p,
        t0,
        tcp(client(), 40003, ip("10.89.129.134"), 49, SYN, 0),
    );
    let Decision::Drop { reason, line } = d else {
        panic!("forwarded")
    };
    assert_eq!(line, Some(48));
    assert!(reason.starts_with("(acl-drop)"), "{reason}");
    assert!(
        reason.contains("access-group 120 in interface outside"),
        "{reason}"
    );
    assert!(reason.contains("implicit deny"), "{reason}");
    // GRE (47) to the server: no entry permits it
    let (d, _) = from_client(&mut p, t0, ipv4(47, client(), server(), &[0; 8]));
    assert!(matches!(d, Decision::Drop { line: Some(48), .. }), "{d:?}");
    assert_eq!(
        p.drops().get(pix_nat::DropReason::AclDrop.as_str()),
        Some(&2)
    );

    // an explicit deny names its own line
    let text = without_permit_ipsec().replace(
        "access-list 120 permit icmp any host 10.89.129.131\n",
        "access-list 120 deny tcp any host 10.89.129.131 eq 3389\naccess-list 120 permit icmp any host 10.89.129.131\n",
    );
    let mut p = connected(&text, t0);
    let (d, _) = from_client(&mut p, t0, tcp(client(), 40001, server(), 3389, SYN, 0));
    let Decision::Drop { reason, line } = d else {
        panic!("forwarded")
    };
    assert_eq!(line, Some(26), "{reason}");
    assert!(
        reason.contains("access-list 120 deny tcp any host 10.89.129.131 eq 3389"),
        "{reason}"
    );
    let (d, _) = from_client(&mut p, t0, tcp(client(), 40002, server(), 23, SYN, 0));
    assert_eq!(d, Decision::Forward);
}

#[test]
fn static_mapped_address_is_untranslated_and_rewritten() {
    // a client reaching the static's mapped address 192.168.1.11 (permit-ipsec): the
    // PIX un-translates it to 10.89.129.131, and the reply is translated back
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    let mut pkt = tcp(client(), 40000, ip("192.168.1.11"), 80, SYN, 0);
    let (d, _) = p.from_client(t0, &mut pkt);
    assert_eq!(d, Decision::Forward);
    assert_eq!(&pkt[16..20], &server().octets());
    assert!(checksums_ok(&pkt));
    let mut back = tcp(server(), 80, client(), 40000, SYNACK, 0);
    let (d, _) = p.to_client(t0, &mut back);
    assert_eq!(d, Decision::Forward);
    assert_eq!(&back[12..16], &ip("192.168.1.11").octets());
    assert!(checksums_ok(&back));
    // UDP too
    let mut u = udp(client(), 5000, ip("192.168.1.11"), 53, 12);
    assert_eq!(p.from_client(t0, &mut u).0, Decision::Forward);
    assert_eq!(&u[16..20], &server().octets());
    assert!(checksums_ok(&u));
}

#[test]
fn tcp_session_yields_start_and_stop_records() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    let mut events = Vec::new();
    let mut run = |p: &mut Policy, at: u64, up: bool, flags: u8, data: usize| {
        let (d, ev) = if up {
            from_client(p, s(t0, at), tcp(client(), 1040, server(), 23, flags, data))
        } else {
            to_client(p, s(t0, at), tcp(server(), 23, client(), 1040, flags, data))
        };
        assert_eq!(d, Decision::Forward, "at {at}s");
        events.extend(ev);
    };
    run(&mut p, 0, true, SYN, 0);
    run(&mut p, 0, false, SYNACK, 0);
    run(&mut p, 1, true, ACK, 0);
    run(&mut p, 2, false, ACK, 1000);
    run(&mut p, 5, true, ACK, 40);
    run(&mut p, 6, false, ACK, 879);
    run(&mut p, 10, true, ACK, 59);
    run(&mut p, 14, true, FINACK, 0);
    run(&mut p, 15, false, FINACK, 0);
    // the last ACK still passes though the connection is gone
    run(&mut p, 15, true, ACK, 0);
    assert_eq!(events.len(), 2, "{events:?}");
    let (start, stop) = (&events[0], &events[1]);
    assert!(start.start && !stop.start);
    for e in [start, stop] {
        assert_eq!(e.user, USER);
        assert_eq!(e.client, client());
        assert_eq!(e.peer, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(e.service, "telnet");
        assert_eq!(e.local, server());
        assert_eq!(e.foreign, client());
        assert_eq!(e.tag.as_deref(), Some("AuthInbound"));
        assert_eq!(e.nas_ip, Some(ip("10.89.129.194")));
    }
    assert_eq!(start.task_id, stop.task_id);
    assert_eq!((stop.bytes_in, stop.bytes_out), (99, 1879));
    assert_eq!(stop.elapsed, Duration::from_secs(15));
    assert!(p.state().conns.is_empty());
    assert!(p
        .show(s(t0, 16), "conn")
        .unwrap()
        .starts_with("0 in use, 1 most used"));
    // after the linger, a stray ACK is dropped as the PIX would
    let (d, _) = from_client(&mut p, s(t0, 60), tcp(client(), 1040, server(), 23, ACK, 0));
    let Decision::Drop { reason, .. } = d else {
        panic!("forwarded")
    };
    assert!(reason.contains("tcp-not-syn"), "{reason}");
    // a RST from either side ends it too
    let (_, ev) = from_client(&mut p, s(t0, 70), tcp(client(), 1041, server(), 80, SYN, 0));
    assert_eq!(ev.len(), 1);
    let (_, ev) = to_client(&mut p, s(t0, 71), tcp(server(), 80, client(), 1041, RST, 0));
    assert_eq!(ev.len(), 1);
    assert!(!ev[0].start);
    assert_eq!(
        (ev[0].service.as_str(), ev[0].elapsed),
        ("http", Duration::from_secs(1))
    );
}

#[test]
fn disconnect_ends_open_connections() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    from_client(&mut p, t0, tcp(client(), 1040, server(), 23, SYN, 0));
    to_client(&mut p, t0, tcp(server(), 23, client(), 1040, SYNACK, 0));
    from_client(&mut p, s(t0, 3), tcp(client(), 1040, server(), 23, ACK, 10));
    from_client(&mut p, s(t0, 4), tcp(client(), 1041, server(), 80, SYN, 0));
    assert_eq!(p.state().conns.len(), 2);
    let ev = p.vpn_disconnect(client(), s(t0, 20));
    assert_eq!(ev.len(), 2);
    assert!(ev
        .iter()
        .all(|e| !e.start && e.user == USER && e.peer.is_some()));
    let telnet = ev.iter().find(|e| e.service == "telnet").unwrap();
    assert_eq!(
        (telnet.bytes_in, telnet.elapsed),
        (10, Duration::from_secs(20))
    );
    assert!(p.state().conns.is_empty());
    assert!(!p.show(s(t0, 20), "uauth").unwrap().contains(USER));
    // the address is no client any more
    let (d, _) = from_client(&mut p, s(t0, 21), tcp(client(), 1042, server(), 23, SYN, 0));
    assert!(matches!(d, Decision::Drop { .. }));
    let (d, _) = to_client(&mut p, s(t0, 21), tcp(server(), 23, client(), 1040, ACK, 0));
    assert!(matches!(d, Decision::Drop { .. }));
}

#[test]
fn expire_ends_idle_connections() {
    let t0 = Instant::now();
    let text = DEMO.replace(
        "timeout conn 1:00:00 half-closed 0:10:00 udp 0:02:00",
        "timeout conn 0:05:00 half-closed 0:10:00 udp 0:02:00",
    );
    let mut p = connected(&text, t0);
    assert_eq!(p.poll_timeout(), None);
    from_client(&mut p, t0, tcp(client(), 1040, server(), 23, SYN, 0));
    to_client(
        &mut p,
        s(t0, 1),
        tcp(server(), 23, client(), 1040, SYNACK, 0),
    );
    from_client(&mut p, s(t0, 10), tcp(client(), 1040, server(), 23, ACK, 5));
    from_client(&mut p, s(t0, 100), udp(client(), 5000, server(), 53, 20));
    // the UDP flow's timer (2 min) runs first
    let due = p.poll_timeout().unwrap();
    assert!(due <= s(t0, 220), "{due:?}");
    assert!(p.expire(s(t0, 221)).is_empty(), "UDP has no accounting");
    assert_eq!(p.state().conns.len(), 1);
    // the TCP connection idles out 5 min after its last packet (at 10 s)
    assert!(p.expire(s(t0, 309)).is_empty());
    let ev = p.expire(s(t0, 400));
    assert_eq!(ev.len(), 1);
    assert!(!ev[0].start);
    assert_eq!(ev[0].bytes_in, 5);
    assert_eq!(
        ev[0].elapsed,
        Duration::from_secs(310),
        "ends at last + timeout conn"
    );
    assert!(p.state().conns.is_empty());
    // the uauth entry of an ipsec user stays as long as its tunnel
    assert!(p.show(s(t0, 400), "uauth").unwrap().contains(USER));
}

#[test]
fn decrypted_packet_from_a_non_vpn_address_is_dropped() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    for src in ["10.89.129.201", "10.89.129.140", "198.51.100.7"] {
        let (d, ev) = from_client(&mut p, t0, tcp(ip(src), 1040, server(), 23, SYN, 0));
        let Decision::Drop { reason, line } = d else {
            panic!("{src} forwarded")
        };
        assert!(
            reason.contains("not-vpn-source") && reason.contains(src),
            "{reason}"
        );
        assert_eq!(line, None);
        assert!(ev.is_empty());
    }
    assert_eq!(p.drops().values().sum::<u64>(), 3);
    assert!(p.state().conns.is_empty());
    // and an inside packet to an address without a tunnel
    let (d, _) = to_client(
        &mut p,
        t0,
        tcp(server(), 23, ip("10.89.129.201"), 1040, SYN, 0),
    );
    assert!(
        matches!(&d, Decision::Drop { reason, .. } if reason.contains("no-tunnel")),
        "{d:?}"
    );
}

#[test]
fn malformed_packets_are_dropped() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    let good = tcp(client(), 1040, server(), 23, SYN, 0);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one byte", vec![0x45]),
        ("truncated header", good[..19].to_vec()),
        ("truncated tcp", good[..30].to_vec()),
        ("ipv6", {
            let mut v = vec![0x60; 40];
            v[6] = 6;
            v
        }),
    ];
    let mut bad_ihl = good.clone();
    bad_ihl[0] = 0x44;
    cases.push(("ihl 16", bad_ihl));
    let mut long_ihl = good.clone();
    long_ihl[0] = 0x4f;
    cases.push(("ihl 60 beyond tcp", long_ihl));
    let mut total = good.clone();
    total[2..4].copy_from_slice(&200u16.to_be_bytes());
    cases.push(("total length beyond buffer", total));
    let mut doff = good.clone();
    doff[32] = 0x20;
    cases.push(("tcp data offset 8", doff));
    let mut frag = good.clone();
    frag[6] = 0x20; // MF
    cases.push(("fragment", frag));
    let mut icmp_short = icmp(client(), server(), 8, 1);
    icmp_short.truncate(24);
    icmp_short[2..4].copy_from_slice(&24u16.to_be_bytes());
    cases.push(("short icmp", icmp_short));
    for (name, c) in cases {
        let (d, ev) = from_client(&mut p, t0, c.clone());
        assert!(
            matches!(d, Decision::Drop { line: None, .. }),
            "{name}: {d:?}"
        );
        assert!(ev.is_empty());
        let (d, _) = to_client(&mut p, t0, c);
        assert!(
            matches!(d, Decision::Drop { line: None, .. }),
            "{name}: {d:?}"
        );
    }
    assert!(p.drops().keys().any(|k| k.starts_with("(malformed)")));
    assert!(p.drops().keys().any(|k| k.starts_with("(fragment)")));
    // trailing bytes beyond the total length (link padding) are fine
    let mut padded = good.clone();
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(from_client(&mut p, t0, padded).0, Decision::Forward);
}

#[test]
fn random_bytes_never_panic() {
    // a small property test (seeded): random buffers, and valid packets with random
    // bytes flipped, through both directions
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    let mut rng = StdRng::seed_from_u64(0x9e11);
    let seeds = [
        tcp(client(), 1040, server(), 23, SYN, 10),
        udp(client(), 1041, server(), 53, 10),
        icmp(client(), server(), 8, 3),
        tcp(server(), 23, client(), 1040, SYNACK, 0),
    ];
    for i in 0..4000u64 {
        let mut buf: Vec<u8> = if i % 2 == 0 {
            let n = rng.random_range(0..80usize);
            (0..n).map(|_| rng.random::<u8>()).collect()
        } else {
            let mut b = seeds[(i / 2 % 4) as usize].clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            if rng.random_bool(0.3) {
                let n = rng.random_range(0..b.len());
                b.truncate(n);
            }
            b
        };
        if let Some(v) = buf.first_mut().filter(|_| i % 3 != 0) {
            // mostly IPv4 with some header length
            *v = 0x40 | (*v & 0x0f);
        }
        let now = s(t0, i);
        let _ = p.from_client(now, &mut buf.clone());
        let _ = p.to_client(now, &mut buf);
        let _ = p.expire(now);
    }
}

#[test]
fn show_contains_the_users_entries() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    from_client(&mut p, t0, tcp(client(), 1040, server(), 23, SYN, 0));
    to_client(
        &mut p,
        s(t0, 1),
        tcp(server(), 23, client(), 1040, SYNACK, 0),
    );
    from_client(&mut p, s(t0, 2), tcp(client(), 1040, server(), 23, ACK, 99));
    to_client(
        &mut p,
        s(t0, 3),
        tcp(server(), 23, client(), 1040, ACK, 1879),
    );
    let now = s(t0, 10);
    let uauth = p.show(now, "uauth").unwrap();
    assert!(
        uauth.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{uauth}"
    );
    assert!(uauth.contains("Authenticated Users       1"), "{uauth}");
    let conn = p.show(now, "conn").unwrap();
    assert!(conn.starts_with("1 in use, 1 most used\n"), "{conn}");
    assert!(
        conn.contains(
            "TCP out 10.89.129.200:1040 in 10.89.129.131:23 idle 0:00:07 Bytes 1978 flags BUIO"
        ),
        "{conn}"
    );
    let lh = p.show(now, "local-host").unwrap();
    assert!(lh.contains("Interface inside: 1 active"), "{lh}");
    assert!(lh.contains("local host: <10.89.129.131>,"), "{lh}");
    assert!(
        lh.contains("TCP connection count/limit = 1/unlimited"),
        "{lh}"
    );
    assert!(
        lh.contains("Conn(s):\n    TCP out 10.89.129.200:1040 in 10.89.129.131:23"),
        "{lh}"
    );
    let xl = p.show(now, "xlate").unwrap();
    assert!(
        xl.contains("Global 192.168.1.11 Local 10.89.129.131 static"),
        "{xl}"
    );
    assert_eq!(p.show(now, "route"), None);
}

#[test]
fn new_reports_errors_in_one_line() {
    let cfg = pix_config::parse(DEMO).config;
    let e = Policy::new(&cfg, "dmz").unwrap_err();
    assert!(e.contains("dmz") && !e.contains('\n'), "{e}");
}

#[test]
fn connections_are_logged_built_and_torn_down_as_the_pix_does() {
    let t0 = Instant::now();
    let mut p = connected(DEMO, t0);
    let mut logs: Vec<String> = Vec::new();
    let mut run = |p: &mut Policy, at: u64, up: bool, flags: u8, data: usize| {
        let (d, _) = if up {
            from_client(p, s(t0, at), tcp(client(), 1040, server(), 23, flags, data))
        } else {
            to_client(p, s(t0, at), tcp(server(), 23, client(), 1040, flags, data))
        };
        assert_eq!(d, Decision::Forward, "at {at}s");
        logs.extend(
            p.take_conn_logs()
                .iter()
                .map(super::super::LogRecord::pix_line),
        );
    };
    run(&mut p, 0, true, SYN, 0);
    run(&mut p, 0, false, SYNACK, 0);
    run(&mut p, 2, false, ACK, 1000);
    run(&mut p, 10, true, ACK, 99);
    run(&mut p, 14, true, FINACK, 0);
    run(&mut p, 15, false, FINACK, 0);
    run(&mut p, 15, true, ACK, 0);
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(
        logs[0].starts_with("%PIX-6-302013: Built inbound TCP connection ")
            && logs[0].ends_with(
                " for outside:10.89.129.200/1040 (10.89.129.200/1040) to inside:10.89.129.131/23 (10.89.129.131/23) (cisco_customer)"
            ),
        "{logs:?}"
    );
    let id = logs[0].split_whitespace().nth(5).unwrap().to_string();
    assert_eq!(
        logs[1],
        format!("%PIX-6-302014: Teardown TCP connection {id} for outside:10.89.129.200/1040 to inside:10.89.129.131/23 duration 0:00:15 bytes 1099 TCP FINs (cisco_customer)")
    );
    // a UDP flow, torn down when the tunnel goes
    let (d, _) = from_client(&mut p, s(t0, 20), udp(client(), 5353, server(), 53, 30));
    assert_eq!(d, Decision::Forward);
    let built = p.take_conn_logs();
    assert_eq!(built.len(), 1);
    assert!(
        built[0]
            .pix_line()
            .starts_with("%PIX-6-302015: Built inbound UDP connection "),
        "{built:?}"
    );
    let _ = p.vpn_disconnect(client(), s(t0, 83));
    let down = p.take_conn_logs();
    assert_eq!(down.len(), 1, "{down:?}");
    let l = down[0].pix_line();
    assert!(
        l.starts_with("%PIX-6-302016: Teardown UDP connection ")
            && l.ends_with(
                " for outside:10.89.129.200/5353 to inside:10.89.129.131/53 duration 0:01:03 bytes 30 (cisco_customer)"
            ),
        "{l}"
    );
    // nothing more, and nothing pending
    assert!(p.take_conn_logs().is_empty());
}
