//! A VPN client's tunnel going away tears down its connections with stop records;
//! the state's next deadline is what `expire` needs.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use pix_nat::{Packet, RecordKind, State, TcpFlags};

#[test]
fn vpn_disconnect_closes_the_clients_connections() {
    let fw = seed();
    let mut st = State::new();
    let now = t0();
    assert_eq!(st.next_deadline(), None);
    st.vpn_connect(&fw, "cisco_customer", ip("10.89.129.200"), "outside", now);
    st.vpn_connect(&fw, "other", ip("10.89.129.201"), "outside", now);
    let syn = |src: &str, sport| {
        Packet::tcp("outside", ip(src), sport, ip("10.89.129.131"), 23).decrypted_for("u")
    };
    let v = fw.process(&mut st, &syn("10.89.129.200", 1040), now);
    assert_eq!(v.accounting[0].kind, RecordKind::Start);
    // the deadline is the connection's idle timeout (timeout conn 1:00:00)
    assert_eq!(st.next_deadline(), Some(secs(now, 3600)));
    fw.process(&mut st, &syn("10.89.129.201", 1041), now);
    let back = Packet::tcp("inside", ip("10.89.129.131"), 23, ip("10.89.129.200"), 1040)
        .with_flags(TcpFlags::SYN_ACK)
        .with_len(10);
    fw.process(&mut st, &back, secs(now, 1));
    // an inside-initiated connection to the client goes too
    fw.process(
        &mut st,
        &Packet::tcp(
            "inside",
            ip("10.89.129.131"),
            1050,
            ip("10.89.129.200"),
            139,
        ),
        secs(now, 2),
    );
    assert_eq!(st.conns.len(), 3);
    let stops = fw.vpn_disconnect(&mut st, ip("10.89.129.200"), secs(now, 30));
    assert_eq!(stops.len(), 1);
    let s = &stops[0];
    assert_eq!(s.kind, RecordKind::Stop);
    assert_eq!(
        (s.caller, s.elapsed_secs, s.bytes_in, s.bytes_out),
        (ip("10.89.129.200"), Some(30), Some(0), Some(10))
    );
    assert_eq!(st.conns.len(), 1);
    assert!(st
        .uauth
        .entries()
        .iter()
        .all(|e| e.addr != ip("10.89.129.200")));
    assert!(!st.vpn.contains_key(&ip("10.89.129.200")));
}
