//! Behaviour written from the PIX 6.3 command reference: conduits, port statics,
//! policy NAT, PAT port bands, identity NAT, AAA include/exclude, statefulness, timers.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use pix_nat::{Action, DropReason, Packet, PhaseKind, State, TcpFlags, XlateKind};

const BASE: &str = "\
nameif ethernet0 outside security0
nameif ethernet1 inside security100
ip address outside 209.165.201.2 255.255.255.224
ip address inside 10.1.1.1 255.255.0.0
route outside 0.0.0.0 0.0.0.0 209.165.201.1 1
";

fn cfg(extra: &str) -> pix_nat::Firewall {
    build(&format!("{BASE}{extra}"))
}

#[test]
fn conduit_lists_destination_first() {
    let fw = cfg(
        "static (inside,outside) 209.165.201.5 10.1.1.5 netmask 255.255.255.255 0 0
conduit deny tcp host 209.165.201.5 eq www host 192.0.2.66
conduit permit tcp host 209.165.201.5 eq www any
",
    );
    let st = State::new();
    let www = Packet::tcp("outside", ip("192.0.2.7"), 40000, ip("209.165.201.5"), 80);
    let t = fw.trace(&st, &www, t0());
    assert!(t.allowed(), "{}", t.render());
    let c = t.phase(PhaseKind::Conduit).unwrap();
    assert_eq!(c.config[0].line, 8);
    assert!(c.config[0]
        .text
        .starts_with("conduit permit tcp host 209.165.201.5 eq www any"));
    // first match: the deny line for that one foreign host
    let bad = Packet::tcp("outside", ip("192.0.2.66"), 40000, ip("209.165.201.5"), 80);
    assert_eq!(
        fw.trace(&st, &bad, t0()).action,
        Action::Drop(DropReason::ConduitDrop)
    );
    // nothing permits ftp
    let ftp = Packet::tcp("outside", ip("192.0.2.7"), 40000, ip("209.165.201.5"), 21);
    assert_eq!(
        fw.trace(&st, &ftp, t0()).action,
        Action::Drop(DropReason::ConduitDrop)
    );
}

#[test]
fn access_list_beats_conduit() {
    let fw = cfg(
        "static (inside,outside) 209.165.201.5 10.1.1.5 netmask 255.255.255.255 0 0
conduit permit tcp host 209.165.201.5 eq www any
access-list acl_out permit tcp any host 209.165.201.5 eq ftp
access-group acl_out in interface outside
",
    );
    let st = State::new();
    let www = Packet::tcp("outside", ip("192.0.2.7"), 40000, ip("209.165.201.5"), 80);
    let t = fw.trace(&st, &www, t0());
    assert_eq!(t.action, Action::Drop(DropReason::AclDrop));
    assert!(t.phase(PhaseKind::Conduit).is_none());
    let ftp = Packet::tcp("outside", ip("192.0.2.7"), 40000, ip("209.165.201.5"), 21);
    assert!(fw.trace(&st, &ftp, t0()).allowed());
}

#[test]
fn no_acl_no_conduit_denies_inbound() {
    let fw = cfg("static (inside,outside) 209.165.201.5 10.1.1.5 netmask 255.255.255.255 0 0\n");
    let p = Packet::tcp("outside", ip("192.0.2.7"), 40000, ip("209.165.201.5"), 80);
    assert_eq!(
        fw.trace(&State::new(), &p, t0()).action,
        Action::Drop(DropReason::ConduitDrop)
    );
}

#[test]
fn port_static_both_ways() {
    let fw = cfg(
        "static (inside,outside) tcp 209.165.201.10 8080 10.1.1.10 www netmask 255.255.255.255 0 0
static (inside,outside) tcp interface telnet 10.1.1.20 telnet netmask 255.255.255.255 0 0
access-list acl_out permit tcp any host 209.165.201.10 eq 8080
access-list acl_out permit tcp any host 209.165.201.2 eq telnet
access-group acl_out in interface outside
nat (inside) 1 0.0.0.0 0.0.0.0 0 0
global (outside) 1 209.165.201.20
",
    );
    let mut st = State::new();
    let now = t0();
    let p = Packet::tcp(
        "outside",
        ip("192.0.2.7"),
        40000,
        ip("209.165.201.10"),
        8080,
    );
    let v = fw.process(&mut st, &p, now);
    assert!(v.trace.allowed(), "{}", v.trace.render());
    let e = v.egress.unwrap();
    assert_eq!((e.dst, e.dport), (ip("10.1.1.10"), 80));
    // port 80 of the mapped address has no static: nothing un-translates it, and the
    // address routes back out the outside interface
    let p80 = Packet::tcp("outside", ip("192.0.2.7"), 40001, ip("209.165.201.10"), 80);
    assert_eq!(
        fw.trace(&st, &p80, now).action,
        Action::Drop(DropReason::SameInterface)
    );
    // `interface` statics map onto the interface address
    let tel = Packet::tcp("outside", ip("192.0.2.7"), 40002, ip("209.165.201.2"), 23);
    let t = fw.trace(&st, &tel, now);
    assert!(t.allowed(), "{}", t.render());
    // a new outbound connection from the real port leaves through the port static;
    // from another port it takes the PAT global
    let out = Packet::tcp("inside", ip("10.1.1.10"), 80, ip("192.0.2.9"), 5000);
    let e = fw.process(&mut st, &out, now).egress.unwrap();
    assert_eq!((e.src, e.sport), (ip("209.165.201.10"), 8080));
    let out2 = Packet::tcp("inside", ip("10.1.1.10"), 3000, ip("192.0.2.9"), 80);
    let e = fw.process(&mut st, &out2, now).egress.unwrap();
    assert_eq!((e.src, e.sport), (ip("209.165.201.20"), 3000));
}

#[test]
fn policy_nat_chooses_by_destination() {
    let fw = cfg(
        "access-list NET1 permit ip 10.1.2.0 255.255.255.0 209.165.200.224 255.255.255.224
access-list NET2 permit ip 10.1.2.0 255.255.255.0 209.165.200.0 255.255.255.0
access-list POL permit ip host 10.1.3.5 198.51.100.0 255.255.255.0
nat (inside) 1 access-list NET1
nat (inside) 2 access-list NET2
nat (inside) 3 0.0.0.0 0.0.0.0
global (outside) 1 209.165.202.129
global (outside) 2 209.165.202.130
global (outside) 3 209.165.202.131
static (inside,outside) 209.165.202.150 access-list POL
",
    );
    let mut st = State::new();
    let now = t0();
    let mut src_for = |src: &str, dst: &str| {
        let p = Packet::tcp("inside", ip(src), 2000, ip(dst), 80);
        let v = fw.process(&mut st, &p, now);
        assert!(v.trace.allowed(), "{}", v.trace.render());
        v.egress.unwrap().src
    };
    // first matching policy nat in config order (NET1 is inside NET2's range)
    assert_eq!(
        src_for("10.1.2.27", "209.165.200.225"),
        ip("209.165.202.129")
    );
    assert_eq!(src_for("10.1.2.28", "209.165.200.5"), ip("209.165.202.130"));
    // no policy matches: the plain nat 3
    assert_eq!(src_for("10.1.2.29", "192.0.2.1"), ip("209.165.202.131"));
    // a policy static wins over every nat, but only toward its destinations
    assert_eq!(src_for("10.1.3.5", "198.51.100.7"), ip("209.165.202.150"));
    assert_eq!(src_for("10.1.3.5", "192.0.2.1"), ip("209.165.202.131"));
    // inbound through the policy static, from a foreign address its ACL names
    let fw2 = cfg(
        "access-list POL permit ip host 10.1.3.5 198.51.100.0 255.255.255.0
static (inside,outside) 209.165.202.150 access-list POL
access-list acl_out permit tcp any host 209.165.202.150
access-group acl_out in interface outside
",
    );
    let inb = Packet::tcp(
        "outside",
        ip("198.51.100.7"),
        3333,
        ip("209.165.202.150"),
        80,
    );
    let v = fw2.process(&mut State::new(), &inb, now);
    assert_eq!(v.egress.unwrap().dst, ip("10.1.3.5"));
    // from a foreign address the policy does not name, nothing un-translates it
    let other = Packet::tcp("outside", ip("192.0.2.1"), 3333, ip("209.165.202.150"), 80);
    let t = fw2.trace(&State::new(), &other, now);
    assert_eq!(t.action, Action::Drop(DropReason::SameInterface));
    assert!(t.phase(PhaseKind::UnNat).is_none());
}

#[test]
fn plain_nat_longest_match_and_missing_global() {
    let fw = cfg("nat (inside) 1 10.1.0.0 255.255.0.0
nat (inside) 2 10.1.5.0 255.255.255.0
global (outside) 1 209.165.202.129
");
    let now = t0();
    let p = Packet::tcp("inside", ip("10.1.5.9"), 2000, ip("192.0.2.1"), 80);
    let t = fw.trace(&State::new(), &p, now);
    assert_eq!(
        t.action,
        Action::Drop(DropReason::NoGlobal),
        "{}",
        t.render()
    );
    let p = Packet::tcp("inside", ip("10.1.6.9"), 2000, ip("192.0.2.1"), 80);
    assert!(fw.trace(&State::new(), &p, now).allowed());
    let none = cfg("");
    assert_eq!(
        none.trace(&State::new(), &p, now).action,
        Action::Drop(DropReason::NoTranslationGroup)
    );
}

#[test]
fn pat_keeps_port_then_uses_its_band() {
    let fw = cfg("nat (inside) 1 0.0.0.0 0.0.0.0
global (outside) 1 209.165.201.10-209.165.201.11
global (outside) 1 209.165.201.12
");
    let mut st = State::new();
    let now = t0();
    let mut out = |src: &str, sport: u16| {
        let p = Packet::tcp("inside", ip(src), sport, ip("192.0.2.1"), 80);
        let v = fw.process(&mut st, &p, now);
        assert!(v.trace.allowed(), "{}", v.trace.render());
        let e = v.egress.unwrap();
        (e.src, e.sport)
    };
    // the NAT addresses go first, lowest first
    assert_eq!(out("10.1.1.50", 1025), (ip("209.165.201.10"), 1025));
    assert_eq!(out("10.1.1.51", 1025), (ip("209.165.201.11"), 1025));
    // then PAT: the port is kept where free ...
    assert_eq!(out("10.1.1.52", 1025), (ip("209.165.201.12"), 1025));
    // ... else the lowest free port of its band
    assert_eq!(out("10.1.1.53", 1025), (ip("209.165.201.12"), 1024));
    assert_eq!(out("10.1.1.54", 1025), (ip("209.165.201.12"), 1026));
    assert_eq!(out("10.1.1.55", 500), (ip("209.165.201.12"), 500));
    assert_eq!(out("10.1.1.56", 500), (ip("209.165.201.12"), 0));
    assert_eq!(out("10.1.1.57", 700), (ip("209.165.201.12"), 700));
    assert_eq!(out("10.1.1.58", 700), (ip("209.165.201.12"), 512));
    // a PAT slot takes no new inbound connection, even where the ACL would permit it
    let fw_acl = cfg("nat (inside) 1 0.0.0.0 0.0.0.0
global (outside) 1 209.165.201.12
access-list acl_out permit tcp any any
access-group acl_out in interface outside
");
    let mut st2 = State::new();
    let p = Packet::tcp("inside", ip("10.1.1.50"), 1025, ip("192.0.2.1"), 80);
    assert!(fw_acl.process(&mut st2, &p, now).trace.allowed());
    let inb = Packet::tcp(
        "outside",
        ip("192.0.2.99"),
        5555,
        ip("209.165.201.12"),
        1025,
    );
    assert!(!fw_acl.trace(&st2, &inb, now).allowed());
    let kinds: Vec<XlateKind> = st.xlates.iter().map(|x| x.kind).collect();
    assert_eq!(kinds[..3], [XlateKind::Nat, XlateKind::Nat, XlateKind::Pat]);
    snapshot("ref_pat_show_xlate.txt", &pix_nat::show_xlate(&fw, &st));
}

#[test]
fn pat_xlate_idles_out_after_30s_and_addresses_return() {
    let fw = cfg("nat (inside) 1 0.0.0.0 0.0.0.0
global (outside) 1 209.165.201.10-209.165.201.11
global (outside) 1 209.165.201.12
");
    let mut st = State::new();
    let now = t0();
    // ICMP makes no connection, so the xlates idle from the start
    let ping = |src: &str| Packet::icmp("inside", ip(src), 8, 0, ip("192.0.2.1"));
    for h in ["10.1.1.50", "10.1.1.51", "10.1.1.52"] {
        assert!(fw.process(&mut st, &ping(h), now).trace.allowed());
    }
    assert_eq!(st.xlates.len(), 3);
    fw.expire(&mut st, secs(now, 30));
    assert_eq!(
        st.xlates.len(),
        2,
        "the PAT xlate went after 30 s, the NAT ones stay"
    );
    fw.expire(&mut st, secs(now, 3 * 3600));
    assert!(st.xlates.is_empty());
    // freed: the next host gets the lowest address again
    let v = fw.process(&mut st, &ping("10.1.1.99"), secs(now, 3 * 3600 + 1));
    assert_eq!(v.egress.unwrap().src, ip("209.165.201.10"));
}

#[test]
fn identity_nat_is_outbound_only() {
    let fw = cfg("nat (inside) 0 10.1.1.0 255.255.255.0
access-list acl_out permit tcp any 10.1.1.0 255.255.255.0
access-group acl_out in interface outside
");
    let mut st = State::new();
    let now = t0();
    let out = Packet::tcp("inside", ip("10.1.1.5"), 2000, ip("192.0.2.1"), 80);
    let v = fw.process(&mut st, &out, now);
    assert_eq!(v.egress.unwrap().src, ip("10.1.1.5"));
    assert_eq!(v.trace.phase(PhaseKind::Nat).unwrap().subtype, "identity");
    let inb = Packet::tcp("outside", ip("192.0.2.1"), 4000, ip("10.1.1.6"), 80);
    let t = fw.trace(&st, &inb, now);
    assert_eq!(
        t.action,
        Action::Drop(DropReason::NoStatic),
        "{}",
        t.render()
    );
}

#[test]
fn aaa_include_exclude_and_non_prompting_services() {
    let fw = cfg("nat (inside) 1 0.0.0.0 0.0.0.0
global (outside) 1 209.165.201.20
aaa authentication include any inside 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0 TACACS+
aaa authentication exclude udp/53 inside 0.0.0.0 0.0.0.0 192.0.2.53 255.255.255.255 TACACS+
");
    let mut st = State::new();
    let now = t0();
    let host = ip("10.1.1.5");
    let dns_excluded = Packet::udp("inside", host, 5353, ip("192.0.2.53"), 53);
    assert!(fw.trace(&st, &dns_excluded, now).allowed());
    let dns_other = Packet::udp("inside", host, 5353, ip("192.0.2.54"), 53);
    assert_eq!(
        fw.trace(&st, &dns_other, now).action,
        Action::Drop(DropReason::AuthRequired)
    );
    let web = Packet::tcp("inside", host, 3000, ip("192.0.2.80"), 80);
    assert!(matches!(
        fw.process(&mut st, &web, now).trace.action,
        Action::Authenticate { .. }
    ));
    st.authenticate(&fw, "alice", host, now);
    // once authenticated, the user's other services pass too
    assert!(fw.trace(&st, &dns_other, secs(now, 1)).allowed());
    snapshot(
        "ref_show_uauth_cut_through.txt",
        &pix_nat::show_uauth(&fw, &st, secs(now, 60)),
    );
}

#[test]
fn stateful_replies_ride_the_connection() {
    let fw = seed();
    let mut st = State::new();
    let now = t0();
    let syn = Packet::tcp("inside", ip("10.89.129.140"), 1025, ip("203.0.113.5"), 80);
    let v = fw.process(&mut st, &syn, now);
    let e = v.egress.unwrap();
    // the reply is not checked against access-list 120
    let reply =
        Packet::tcp("outside", e.dst, e.dport, e.src, e.sport).with_flags(TcpFlags::SYN_ACK);
    let r = fw.process(&mut st, &reply, secs(now, 1));
    assert!(r.trace.allowed());
    assert!(r.trace.phase(PhaseKind::AccessList).is_none());
    assert_eq!(r.egress.unwrap().dst, ip("10.89.129.140"));
    // a stray ACK without a connection is dropped
    let stray = Packet::tcp("outside", ip("203.0.113.5"), 80, ip("192.168.1.11"), 9999)
        .with_flags(TcpFlags::ACK);
    assert_eq!(
        fw.trace(&st, &stray, now).action,
        Action::Drop(DropReason::TcpNotSyn)
    );
}

#[test]
fn udp_and_half_closed_timers() {
    let fw = seed();
    let mut st = State::new();
    let now = t0();
    let dns = Packet::udp("inside", ip("10.89.129.140"), 5353, ip("203.0.113.53"), 53);
    fw.process(&mut st, &dns, now);
    let tcp = Packet::tcp("inside", ip("10.89.129.141"), 1025, ip("203.0.113.5"), 80);
    let v = fw.process(&mut st, &tcp, now);
    let e = v.egress.unwrap();
    fw.process(
        &mut st,
        &Packet::tcp("outside", e.dst, e.dport, e.src, e.sport).with_flags(TcpFlags::SYN_ACK),
        now,
    );
    fw.process(&mut st, &tcp.clone().with_flags(TcpFlags::FIN), now);
    assert_eq!(st.conns.len(), 2);
    fw.expire(&mut st, secs(now, 120));
    assert_eq!(st.conns.len(), 1, "udp 0:02:00");
    fw.expire(&mut st, secs(now, 599));
    assert_eq!(st.conns.len(), 1);
    fw.expire(&mut st, secs(now, 600));
    assert!(st.conns.is_empty(), "half-closed 0:10:00");
}

#[test]
fn step_is_process_by_value() {
    let fw = seed();
    let p = Packet::tcp("inside", ip("10.89.129.140"), 1025, ip("203.0.113.5"), 80);
    let (v, st) = fw.step(State::new(), &p, t0());
    assert!(v.trace.allowed());
    assert_eq!(st.conns.len(), 1);
    assert_eq!(st.xlates.len(), 1);
}
