//! Golden scenarios over the seed configuration, each with a reviewed trace snapshot.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use pix_nat::{
    show_conn, show_local_host, show_uauth, show_xlate, Action, DropReason, Packet, PhaseKind,
    PhaseResult, RecordKind, State, TcpFlags,
};

#[test]
fn s1_static_acl_real_address_denied() {
    let fw = seed();
    let st = State::new();
    let p = Packet::tcp("outside", ip("198.51.100.7"), 33000, ip("192.168.1.11"), 80);
    let t = fw.trace(&st, &p, t0());
    snapshot("s1_acl_real_address.txt", &t.render());
    assert_eq!(t.action, Action::Drop(DropReason::AclDrop));
    let un = t.phase(PhaseKind::UnNat).unwrap();
    assert_eq!(un.subtype, "static");
    assert_eq!(un.config[0].line, 47);
    let acl = t.phase(PhaseKind::AccessList).unwrap();
    assert_eq!(acl.result, PhaseResult::Drop);
    assert!(acl
        .info
        .iter()
        .any(|i| i.contains("would permit the real address 10.89.129.131")));
    assert_eq!(t.output_interface.as_deref(), Some("inside"));
}

#[test]
fn s1_corrected_acl_requires_uauth() {
    let text = seed_with(
        "access-list 120 permit tcp any host 10.89.129.131",
        "access-list 120 permit tcp any host 192.168.1.11",
    );
    let fw = build(&text);
    let mut st = State::new();
    let now = t0();
    let p = Packet::tcp("outside", ip("198.51.100.7"), 33000, ip("192.168.1.11"), 80);
    let v = fw.process(&mut st, &p, now);
    snapshot("s1_corrected_http_auth.txt", &v.trace.render());
    assert_eq!(
        v.trace.action,
        Action::Authenticate {
            server: "AuthInbound".into()
        }
    );
    let acl = v.trace.phase(PhaseKind::AccessList).unwrap();
    assert_eq!(acl.result, PhaseResult::Allow);
    assert_eq!(acl.config[1].line, 27);
    assert_eq!(v.trace.phase(PhaseKind::Aaa).unwrap().config[0].line, 60);
    assert!(st.conns.is_empty());
    assert_eq!(st.uauth.in_progress(), (1, 1));

    // the user answers the prompt: the connection now goes through, and is accounted
    st.authenticate(&fw, "webuser", ip("198.51.100.7"), now);
    let v = fw.process(&mut st, &p, secs(now, 1));
    assert_eq!(v.trace.action, Action::Allow);
    assert_eq!(v.egress.unwrap().dst, ip("10.89.129.131"));
    assert_eq!(v.accounting.len(), 1);
    // a non-prompting service to the same host from another address: ssh is not covered
    // by the aaa lines (http, ftp, telnet), so it passes without a user
    let ssh = Packet::tcp("outside", ip("198.51.100.8"), 33001, ip("192.168.1.11"), 22);
    assert!(fw.trace(&st, &ssh, secs(now, 2)).allowed());
    // after the absolute uauth timeout (5 min) the user must authenticate again
    let again = Packet::tcp("outside", ip("198.51.100.7"), 33002, ip("192.168.1.11"), 80);
    assert!(fw.trace(&st, &again, secs(now, 200)).allowed());
    assert!(matches!(
        fw.trace(&st, &again, secs(now, 301)).action,
        Action::Authenticate { .. }
    ));
}

#[test]
fn s2_pool_exhaustion() {
    let fw = seed();
    let mut st = State::new();
    let now = t0();
    // the web server has a static: it leaves as 192.168.1.11, not from the pool
    let web = Packet::tcp("inside", ip("10.89.129.131"), 1025, ip("203.0.113.5"), 80);
    let v = fw.process(&mut st, &web, now);
    snapshot("s2_static_host_outbound.txt", &v.trace.render());
    assert_eq!(v.egress.unwrap().src, ip("192.168.1.11"));
    assert_eq!(v.trace.phase(PhaseKind::Nat).unwrap().subtype, "static");

    let mut traces = String::new();
    let mut mapped = Vec::new();
    for (n, host) in (132..138).enumerate() {
        let src = ip(&format!("10.89.129.{host}"));
        let p = Packet::tcp("inside", src, 1025, ip("203.0.113.5"), 80);
        let v = fw.process(&mut st, &p, secs(now, n as u64));
        if n == 0 || n == 5 {
            traces.push_str(&format!("=== inside host {src}\n{}\n", v.trace.render()));
        }
        mapped.push(v.egress.map(|e| e.src));
        if n < 5 {
            assert!(v.trace.allowed(), "{}", v.trace.render());
        } else {
            assert_eq!(v.trace.action, Action::Drop(DropReason::PoolExhausted));
        }
    }
    snapshot("s2_pool_exhaustion.txt", &traces);
    let expect: Vec<_> = (6..=10)
        .map(|i| Some(ip(&format!("192.168.1.{i}"))))
        .chain([None])
        .collect();
    assert_eq!(mapped, expect);
    // a second connection of a translated host reuses its xlate
    let p = Packet::tcp("inside", ip("10.89.129.132"), 1026, ip("203.0.113.9"), 443);
    let v = fw.process(&mut st, &p, secs(now, 10));
    assert_eq!(
        v.trace.phase(PhaseKind::Nat).unwrap().subtype,
        "existing-xlate"
    );
    assert_eq!(v.egress.unwrap().src, ip("192.168.1.6"));
    snapshot("s2_show_xlate.txt", &show_xlate(&fw, &st));
    snapshot("s2_show_conn.txt", &show_conn(&st, secs(now, 20)));
    snapshot(
        "s2_show_local_host.txt",
        &show_local_host(&fw, &st, secs(now, 20)),
    );
}

#[test]
fn s3_vpn_client_telnet() {
    let fw = seed();
    let mut st = State::new();
    let now = t0();
    assert!(st.vpn_connect(&fw, "cisco_customer", ip("10.89.129.200"), "outside", now));
    snapshot("s3_show_uauth.txt", &show_uauth(&fw, &st, now));
    let syn = Packet::tcp(
        "outside",
        ip("10.89.129.200"),
        1040,
        ip("10.89.129.131"),
        23,
    )
    .decrypted_for("cisco_customer");
    let v = fw.process(&mut st, &syn, now);
    snapshot("s3_vpn_telnet.txt", &v.trace.render());
    assert!(v.trace.allowed());
    assert!(v.trace.phase(PhaseKind::AccessList).is_none());
    assert_eq!(
        v.trace.phase(PhaseKind::IpsecBypass).unwrap().config[0].line,
        69
    );
    let un = v.trace.phase(PhaseKind::UnNat).unwrap();
    assert_eq!(un.subtype, "nat-exempt");
    assert_eq!((un.config[0].line, un.config[1].line), (45, 25));
    assert_eq!(v.egress.unwrap().dst, ip("10.89.129.131"));
    assert_eq!(v.egress.unwrap().src, ip("10.89.129.200"));
    assert_eq!(v.accounting.len(), 1);
    assert_eq!(v.accounting[0].kind, RecordKind::Start);
    let conn = v.conn.unwrap();

    // the session: 99 bytes typed, 1879 bytes of output, over 15 s
    let back = |flags, len| {
        Packet::tcp("inside", ip("10.89.129.131"), 23, ip("10.89.129.200"), 1040)
            .with_flags(flags)
            .with_len(len)
    };
    let fwd = |flags, len| {
        Packet::tcp(
            "outside",
            ip("10.89.129.200"),
            1040,
            ip("10.89.129.131"),
            23,
        )
        .decrypted_for("cisco_customer")
        .with_flags(flags)
        .with_len(len)
    };
    let r = fw.process(&mut st, &back(TcpFlags::SYN_ACK, 0), secs(now, 1));
    assert_eq!(r.conn, Some(conn));
    assert_eq!(r.trace.phases.len(), 1);
    fw.process(&mut st, &fwd(TcpFlags::ACK, 99), secs(now, 5));
    fw.process(&mut st, &back(TcpFlags::ACK, 1879), secs(now, 6));
    snapshot("s3_show_conn.txt", &show_conn(&st, secs(now, 10)));
    fw.process(&mut st, &fwd(TcpFlags::FIN, 0), secs(now, 14));
    let v = fw.process(&mut st, &back(TcpFlags::FIN, 0), secs(now, 15));
    assert_eq!(v.accounting.len(), 1);
    let stop = &v.accounting[0];
    assert_eq!(stop.kind, RecordKind::Stop);
    assert_eq!(
        (stop.elapsed_secs, stop.bytes_in, stop.bytes_out),
        (Some(15), Some(99), Some(1879))
    );
    let start = fw.process(&mut State::new(), &syn, now).accounting;
    let records = format!(
        "{}\n{}\n{}\n",
        stop.render_acs("07/27/2004 15:17:54", "Default Group"),
        start[0].render_acs("07/27/2004 15:17:39", "Default Group"),
        stop.av_pairs().join(" ")
    );
    snapshot("s3_accounting.txt", &records);
    // the seed's TACACS+ stop record, field for field (its task_id counts the PIX's
    // earlier accounted connections; ours is the first)
    assert_eq!(
        stop.render_acs("07/27/2004 15:17:54", "Default Group").replace("0x1", "0x5"),
        "07/27/2004 15:17:54 cisco_customer Default Group 10.89.129.200 stop 15 .. 99 1879 .. .. 0x5 .. PIX 10.89.129.194 telnet"
    );
    assert!(st.conns.is_empty());
}

#[test]
fn s4_inside_to_vpn_client_exempt() {
    let fw = seed();
    let mut st = State::new();
    let now = t0();
    st.vpn_connect(&fw, "cisco_customer", ip("10.89.129.200"), "outside", now);
    let p = Packet::tcp(
        "inside",
        ip("10.89.129.131"),
        1050,
        ip("10.89.129.200"),
        139,
    );
    let v = fw.process(&mut st, &p, now);
    snapshot("s4_inside_to_vpn.txt", &v.trace.render());
    assert!(v.trace.allowed());
    let ex = v.trace.phase(PhaseKind::NatExempt).unwrap();
    assert_eq!((ex.config[0].line, ex.config[1].line), (45, 25));
    assert_eq!(v.egress.unwrap().src, ip("10.89.129.131"));
    assert!(st.xlates.is_empty());
    // without the tunnel the pool address is on the inside subnet: same interface
    let t = fw.trace(&State::new(), &p, now);
    assert_eq!(t.action, Action::Drop(DropReason::SameInterface));
}

#[test]
fn s5_same_level_unrouted_expired_icmp() {
    // same-level interfaces: a dmz at security0 beside outside
    let text = seed_with(
        "nameif ethernet1 inside security100\n",
        "nameif ethernet1 inside security100\ninterface ethernet2 100full\nnameif ethernet2 dmz security0\n",
    )
    .replacen(
        "ip address inside 10.89.129.194 255.255.255.240\n",
        "ip address inside 10.89.129.194 255.255.255.240\nip address dmz 172.16.1.1 255.255.255.0\n",
        1,
    );
    let fw = build(&text);
    let now = t0();
    let p = Packet::tcp("outside", ip("198.51.100.7"), 33000, ip("172.16.1.20"), 80);
    let same = fw.trace(&State::new(), &p, now);
    assert_eq!(same.action, Action::Drop(DropReason::SameSecurityLevel));

    // unrouted: the seed without its default route
    let fw2 = build(&seed_with(
        "route outside 0.0.0.0 0.0.0.0 192.168.1.3 1\n",
        "",
    ));
    let p2 = Packet::tcp("inside", ip("10.89.129.140"), 1025, ip("203.0.113.5"), 80);
    let unrouted = fw2.trace(&State::new(), &p2, now);
    assert_eq!(unrouted.action, Action::Drop(DropReason::NoRoute));

    // expired xlate: 10.89.129.140 -> 192.168.1.6; the connection idles out after
    // 1:00:00 (timeout conn), the xlate 3:00:00 after its last use (timeout xlate);
    // then nothing un-translates 192.168.1.6
    let fw = seed();
    let mut st = State::new();
    let out = fw.process(&mut st, &p2, now);
    assert_eq!(out.egress.unwrap().src, ip("192.168.1.6"));
    let inbound = Packet::tcp("outside", ip("203.0.113.5"), 80, ip("192.168.1.6"), 1025);
    let later = secs(now, 3 * 3600 - 1);
    assert_eq!(
        fw.trace(&st, &inbound, later)
            .phase(PhaseKind::UnNat)
            .unwrap()
            .subtype,
        "dynamic"
    );
    let expired_at = secs(now, 3 * 3600);
    fw.expire(&mut st, expired_at);
    assert!(st.xlates.is_empty());
    let expired = fw.trace(&st, &inbound, expired_at);
    assert_eq!(expired.action, Action::Drop(DropReason::SameInterface));
    assert!(expired
        .render()
        .contains("192.168.1.6 is in global pool 1 (line 44) but no xlate holds it"));

    // ICMP echo reply to an inside-initiated ping: ICMP is not stateful, ACL 120 has no permit
    let ping = Packet::icmp("inside", ip("10.89.129.140"), 8, 0, ip("203.0.113.5"));
    let v = fw.process(&mut st, &ping, expired_at);
    assert!(v.trace.allowed());
    assert_eq!(
        v.egress.unwrap().src,
        ip("192.168.1.6"),
        "freed address handed out again"
    );
    let reply = Packet::icmp("outside", ip("203.0.113.5"), 0, 0, ip("192.168.1.6"));
    let r = fw.trace(&st, &reply, secs(expired_at, 1));
    assert_eq!(r.action, Action::Drop(DropReason::AclDrop));

    let all = format!(
        "=== same security level\n{}\n=== unrouted destination\n{}\n=== expired xlate\n{}\n=== ICMP echo reply without a permit\n{}",
        same.render(),
        unrouted.render(),
        expired.render(),
        r.render()
    );
    snapshot("s5_drops.txt", &all);

    // with a permit for echo-reply the reply passes
    let fw3 = build(&seed_with(
        "access-list 120 permit icmp any host 10.89.129.131\n",
        "access-list 120 permit icmp any host 10.89.129.131\naccess-list 120 permit icmp any any echo-reply\n",
    ));
    let mut st3 = State::new();
    fw3.process(&mut st3, &ping, now);
    assert!(fw3.trace(&st3, &reply, secs(now, 1)).allowed());
}
