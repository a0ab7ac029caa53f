//! The flow index's hash key (`State::with_flow_key`) changes nothing observable: the
//! same packets give the same verdicts, traces, connections and fast-path answers
//! under key 0 (`State::new`) and under other keys.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use pix_nat::{Packet, State, TcpFlags};

/// A short life of two connections: SYN out, SYN-ACK back, data both ways through
/// `process` and the fast path, FIN from both sides. Returns everything it saw.
fn run(mut st: State) -> Vec<String> {
    let fw = seed();
    let now = t0();
    let mut seen = Vec::new();
    st.vpn_connect(&fw, "cisco_customer", ip("10.89.129.200"), "outside", now);
    let outside = fw.interface_index("outside").expect("outside");
    let inside = fw.interface_index("inside").expect("inside");
    for (n, sport) in [1040u16, 1041].into_iter().enumerate() {
        let at = secs(now, n as u64);
        let syn = Packet::tcp(
            "outside",
            ip("10.89.129.200"),
            sport,
            ip("10.89.129.131"),
            23,
        )
        .decrypted_for("cisco_customer");
        let back = Packet::tcp(
            "inside",
            ip("10.89.129.131"),
            23,
            ip("10.89.129.200"),
            sport,
        )
        .with_flags(TcpFlags::SYN_ACK);
        for p in [syn.clone(), back.clone()] {
            let v = fw.process(&mut st, &p, at);
            seen.push(format!("{} {:?} {:?}", v.trace.render(), v.conn, v.egress));
        }
        let data = syn.clone().with_flags(TcpFlags::ACK).with_len(100);
        let fast = fw.forward_established(&mut st, outside, &data.tuple(), data.flags, 100, at);
        let reply = back.clone().with_flags(TcpFlags::ACK).with_len(50);
        let fast_back =
            fw.forward_established(&mut st, inside, &reply.tuple(), reply.flags, 50, at);
        seen.push(format!("fast {fast:?} {fast_back:?}"));
    }
    seen.push(pix_nat::show_conn(&st, secs(now, 5)));
    for (p, at) in [
        (
            Packet::tcp(
                "outside",
                ip("10.89.129.200"),
                1040,
                ip("10.89.129.131"),
                23,
            )
            .decrypted_for("cisco_customer")
            .with_flags(TcpFlags::FIN),
            6,
        ),
        (
            Packet::tcp("inside", ip("10.89.129.131"), 23, ip("10.89.129.200"), 1040)
                .with_flags(TcpFlags::FIN),
            7,
        ),
    ] {
        let v = fw.process(&mut st, &p, secs(now, at));
        seen.push(format!("{} {:?}", v.trace.render(), v.accounting.len()));
    }
    seen.push(pix_nat::show_conn(&st, secs(now, 8)));
    seen
}

#[test]
fn the_flow_key_changes_nothing_observable() {
    let reference = run(State::new());
    // the run did what it says: two connections up, data on the fast path, one closed
    assert!(reference
        .iter()
        .any(|s| s.contains("New flow created with id 2")));
    assert!(reference
        .iter()
        .any(|s| s.starts_with("fast Some(") && !s.contains("None")));
    assert!(reference.iter().any(|s| s.contains("torn down")));
    for key in [1u128, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
        assert_eq!(run(State::with_flow_key(key)), reference, "key {key:#x}");
    }
}
