//! `Firewall::forward_established` (the established-flow fast path the gateway's data
//! plane takes per packet) against `Firewall::process` (the full check with its trace):
//! on any sequence of packets over PAT, static and exempt flows, in both directions,
//! with random TCP flags, sizes and gaps of time, the fast path takes exactly the
//! packets that ride a live flow without opening or closing it while nothing is due to
//! expire, and for those gives the same egress addresses and leaves the same state
//! (`show conn`, `show xlate`, `show uauth`, the next deadline) as `process`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

mod common;
use common::*;

use pix_nat::{show_conn, show_uauth, show_xlate, Firewall, Packet, State, TcpFlags};
use proptest::prelude::*;

const CFG: &str = "\
nameif ethernet0 outside security0
nameif ethernet1 inside security100
ip address outside 209.165.201.2 255.255.255.224
ip address inside 10.1.1.1 255.255.0.0
route outside 0.0.0.0 0.0.0.0 209.165.201.1 1
static (inside,outside) tcp 209.165.201.10 8080 10.1.1.10 www netmask 255.255.255.255 0 0
access-list acl_out permit tcp any host 209.165.201.10 eq 8080
access-list acl_out permit udp any any
access-group acl_out in interface outside
access-list nonat permit ip 10.1.0.0 255.255.0.0 10.9.0.0 255.255.0.0
nat (inside) 0 access-list nonat
nat (inside) 1 0.0.0.0 0.0.0.0 0 0
global (outside) 1 209.165.201.20
timeout conn 0:02:00 half-closed 0:01:00 udp 0:00:30
";

/// The flows: (inside host, inside port, outside host, outside port, TCP?).
const FLOWS: [(&str, u16, &str, u16, bool); 4] = [
    ("10.1.1.10", 3000, "192.0.2.9", 80, true),  // PAT
    ("10.1.1.11", 5353, "192.0.2.9", 53, false), // PAT, UDP
    ("10.1.1.12", 4000, "10.9.0.5", 22, true),   // nat 0 (exempt)
    ("10.1.1.13", 6000, "10.9.0.6", 500, false), // nat 0, UDP
];

#[derive(Debug, Clone)]
struct Step {
    flow: usize,
    /// false: from the inside host (forward); true: the reply.
    reply: bool,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    len: u32,
    /// Seconds since the previous packet.
    gap: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..FLOWS.len(),
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.03),
        0u32..1500,
        prop_oneof![8 => Just(0u64), 3 => 1u64..20, 1 => 20u64..200],
    )
        .prop_map(|(flow, reply, syn, ack, fin, rst, len, gap)| Step {
            flow,
            reply,
            syn,
            ack,
            fin,
            rst,
            len,
            gap,
        })
}

/// The packet of `s` as it arrives, given the translations `process` reported so far
/// (a reply goes to the flow's outside face).
fn packet(fw: &Firewall, st: &State, s: &Step) -> Packet {
    let (ih, ip_, oh, op, tcp) = FLOWS[s.flow];
    let (src, sport, dst, dport, input) = if s.reply {
        // the reply targets whatever the inside host looks like outside now
        let face = outside_face(fw, st, s.flow).unwrap_or((ip(ih), ip_));
        (ip(oh), op, face.0, face.1, "outside")
    } else {
        (ip(ih), ip_, ip(oh), op, "inside")
    };
    let p = if tcp {
        Packet::tcp(input, src, sport, dst, dport).with_flags(TcpFlags {
            syn: s.syn,
            ack: s.ack,
            fin: s.fin,
            rst: s.rst,
        })
    } else {
        Packet::udp(input, src, sport, dst, dport)
    };
    Packet { len: s.len, ..p }
}

/// Where the inside host of `flow` appears outside: from a live connection's egress.
fn outside_face(fw: &Firewall, st: &State, flow: usize) -> Option<(std::net::Ipv4Addr, u16)> {
    let (ih, ip_, oh, op, tcp) = FLOWS[flow];
    let p = if tcp {
        Packet::tcp("inside", ip(ih), ip_, ip(oh), op).with_flags(TcpFlags {
            ack: true,
            ..TcpFlags::default()
        })
    } else {
        Packet::udp("inside", ip(ih), ip_, ip(oh), op)
    };
    let mut scratch = st.clone();
    let v = fw.process(&mut scratch, &p, t0());
    v.egress.map(|e| (e.src, e.sport))
}

fn views(fw: &Firewall, st: &State, now: std::time::Instant) -> String {
    format!(
        "{}\n{}\n{}\n{:?}",
        show_conn(st, now),
        show_xlate(fw, st),
        show_uauth(fw, st, now),
        st.next_deadline()
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn the_fast_path_declines_or_agrees_with_process(steps in proptest::collection::vec(step(), 1..80)) {
        let fw = build(CFG);
        let mut slow = State::new();
        let mut fast = State::new();
        let mut now = t0();
        // every flow opens with a SYN (or a first UDP datagram) from the inside
        let opening: Vec<Step> = (0..FLOWS.len())
            .map(|flow| Step { flow, reply: false, syn: true, ack: false, fin: false, rst: false, len: 0, gap: 0 })
            .collect();
        for s in opening.iter().chain(steps.iter()) {
            now = secs(now, s.gap);
            let p = packet(&fw, &slow, s);
            let due = slow.next_deadline().is_some_and(|d| now >= d);
            let v = fw.process(&mut slow, &p, now);
            let rode = v.trace.phases.iter().any(|ph| ph.info.iter().any(|i| i.contains("using existing flow")));
            let plain = !(p.flags.syn || p.flags.fin || p.flags.rst);
            let should = rode && plain && !due;
            let input = fw.interface_index(&p.input).unwrap();
            match fw.forward_established(&mut fast, input, &p.tuple(), p.flags, p.len, now) {
                Some(egress) => {
                    prop_assert!(should, "fast path taken where process did not ride a flow: {}", v.trace.render());
                    prop_assert!(v.trace.allowed(), "fast path forwarded what process drops: {}", v.trace.render());
                    prop_assert_eq!(Some(egress), v.egress);
                    prop_assert!(v.accounting.is_empty(), "process closed something the fast path did not");
                }
                None => {
                    prop_assert!(!should, "fast path declined a plain packet of a live flow: {}", v.trace.render());
                    // the caller then runs the full check
                    let w = fw.process(&mut fast, &p, now);
                    prop_assert_eq!(w.egress, v.egress);
                }
            }
            prop_assert_eq!(views(&fw, &fast, now), views(&fw, &slow, now));
        }
    }
}

#[test]
fn a_plain_packet_of_an_established_connection_takes_the_fast_path_and_a_fin_does_not() {
    let fw = build(CFG);
    let mut st = State::new();
    let now = t0();
    let syn =
        Packet::tcp("inside", ip("10.1.1.10"), 3000, ip("192.0.2.9"), 80).with_flags(TcpFlags {
            syn: true,
            ..TcpFlags::default()
        });
    let e = fw.process(&mut st, &syn, now).egress.unwrap();
    let inside = fw.interface_index("inside").unwrap();
    let outside = fw.interface_index("outside").unwrap();
    let ack = TcpFlags {
        ack: true,
        ..TcpFlags::default()
    };
    let data = Packet::tcp("inside", ip("10.1.1.10"), 3000, ip("192.0.2.9"), 80).with_flags(ack);
    assert_eq!(
        fw.forward_established(&mut st, inside, &data.tuple(), ack, 100, now),
        Some(e)
    );
    // the reply to the translated address comes back to the real one
    let reply = Packet::tcp("outside", ip("192.0.2.9"), 80, e.src, e.sport).with_flags(ack);
    let back = fw
        .forward_established(&mut st, outside, &reply.tuple(), ack, 1400, now)
        .unwrap();
    assert_eq!((back.dst, back.dport), (ip("10.1.1.10"), 3000));
    let fin = TcpFlags {
        fin: true,
        ack: true,
        ..TcpFlags::default()
    };
    assert_eq!(
        fw.forward_established(&mut st, inside, &data.tuple(), fin, 0, now),
        None
    );
    // an unknown flow and ICMP never take it
    let other = Packet::tcp("inside", ip("10.1.1.10"), 3001, ip("192.0.2.9"), 80);
    assert_eq!(
        fw.forward_established(&mut st, inside, &other.tuple(), ack, 0, now),
        None
    );
    let icmp = Packet::icmp("inside", ip("10.1.1.10"), 8, 0, ip("192.0.2.9"));
    assert_eq!(
        fw.forward_established(&mut st, inside, &icmp.tuple(), ack, 0, now),
        None
    );
    // bytes were counted as process counts them
    assert!(
        show_conn(&st, now).contains("Bytes 1500"),
        "{}",
        show_conn(&st, now)
    );
}
