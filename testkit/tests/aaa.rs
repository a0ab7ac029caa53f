//! A real `xauth::aaa::AaaClient` (RADIUS and TACACS+ groups) against the
//! in-memory servers of `testkit::aaa`, on a virtual clock with a seeded RNG:
//! accept and reject, Framed-IP, accounting Start/Stop with their fields, the
//! client's own timeouts against silent servers, and the same bytes for the same
//! seed.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)] // tests may panic

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use testkit::aaa::{AaaReply, MemAaa, MemRadius, MemTacacs, RadiusDrop, TacacsLoginOutcome};
use xauth::aaa::{
    AaaClient, AaaConfig, AaaEvent, AaaTransmit, AcctInfo, AuthOutcome, AuthRequest, Protocol,
    ServerSpec,
};
use xauth::radius::{self, AcceptInfo, AcctStatus};
use xauth::tacacs::{self, acct_flag, authen_type, LoginKind, StreamBuffer};
use xauth::{LocalUsers, Secret, XauthError};

const RADIUS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 1645);
const RADIUS_ACCT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 1646);
const TACACS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)), 49);
const TIMEOUT: Duration = Duration::from_secs(5);
const NAS: Ipv4Addr = Ipv4Addr::new(10, 89, 129, 194);
const CLIENT: &str = "10.89.129.200";

fn group(protocol: Protocol, addr: SocketAddr, key: &str) -> AaaClient {
    let mut cfg = AaaConfig::new(protocol, NAS);
    cfg.tag = "scenario".into();
    cfg.servers.push(ServerSpec {
        addr,
        acct_addr: (protocol == Protocol::Radius).then_some(RADIUS_ACCT),
        key: Secret::from(key),
        timeout: TIMEOUT,
    });
    AaaClient::new(cfg, LocalUsers::new())
}

fn tacacs_group(kind: LoginKind, key: &str) -> AaaClient {
    let mut cfg = AaaConfig::new(Protocol::Tacacs, NAS);
    cfg.tacacs_login = kind;
    cfg.servers.push(ServerSpec {
        addr: TACACS,
        acct_addr: None,
        key: Secret::from(key),
        timeout: TIMEOUT,
    });
    AaaClient::new(cfg, LocalUsers::new())
}

fn radius_servers(server: MemRadius) -> MemAaa {
    MemAaa::new().with_radius(RADIUS, RADIUS_ACCT, server)
}

fn tacacs_servers(server: MemTacacs) -> MemAaa {
    MemAaa::new().with_tacacs(TACACS, server)
}

/// The client, the servers, a virtual clock and a seeded RNG; every byte on the
/// wire in both directions is kept, in order.
struct Rig {
    client: AaaClient,
    aaa: MemAaa,
    now: Instant,
    base: Instant,
    rng: StdRng,
    wire: Vec<Vec<u8>>,
    errors: Vec<XauthError>,
    transmits: usize,
}

impl Rig {
    fn new(client: AaaClient, aaa: MemAaa, seed: u64) -> Self {
        // Any fixed Instant will do: only differences from it matter.
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        Rig {
            client,
            aaa,
            now: base,
            base,
            rng: StdRng::seed_from_u64(seed),
            wire: Vec::new(),
            errors: Vec::new(),
            transmits: 0,
        }
    }

    fn login(&mut self, user: &str, password: &str) -> AuthOutcome {
        let id = self
            .client
            .authenticate(
                self.now,
                &mut self.rng,
                AuthRequest {
                    user: user.as_bytes().to_vec(),
                    password: Secret::from(password),
                    client_addr: Some(CLIENT.parse().unwrap()),
                    radius_state: None,
                },
            )
            .unwrap();
        match self.run().as_slice() {
            [AaaEvent::Auth { request, outcome }] if *request == id => outcome.clone(),
            other => panic!("one Auth event for {id:?} expected, got {other:?}"),
        }
    }

    fn account(&mut self, info: AcctInfo) -> bool {
        let id = self.client.account(self.now, &mut self.rng, info).unwrap();
        match self.run().as_slice() {
            [AaaEvent::Accounting { request, ok }] if *request == id => *ok,
            other => panic!("one Accounting event for {id:?} expected, got {other:?}"),
        }
    }

    /// Moves bytes until the client has nothing pending, advancing the virtual
    /// clock to the client's next deadline whenever it waits.
    fn run(&mut self) -> Vec<AaaEvent> {
        let mut events = Vec::new();
        for _ in 0..1000 {
            while let Some(t) = self.client.poll_transmit() {
                self.transmits += 1;
                match &t {
                    AaaTransmit::Datagram { payload, .. } | AaaTransmit::Stream { payload, .. } => {
                        self.wire.push(payload.clone())
                    }
                    AaaTransmit::Close { .. } => {}
                }
                for reply in self.aaa.handle(&t) {
                    let r = match reply {
                        AaaReply::Datagram { from, payload } => {
                            self.wire.push(payload.clone());
                            self.client
                                .handle_datagram(self.now, &mut self.rng, from, &payload)
                        }
                        AaaReply::Stream { conn, payload } => {
                            self.wire.push(payload.clone());
                            self.client
                                .handle_stream(self.now, &mut self.rng, conn, &payload)
                        }
                        AaaReply::Closed { conn } => {
                            self.client
                                .handle_stream_closed(self.now, &mut self.rng, conn);
                            Ok(())
                        }
                    };
                    if let Err(e) = r {
                        self.errors.push(e);
                    }
                }
            }
            while let Some(e) = self.client.poll_event() {
                events.push(e);
            }
            if self.client.pending() == 0 {
                return events;
            }
            let Some(deadline) = self.client.poll_timeout() else {
                panic!("requests pending without a deadline: {events:?}");
            };
            assert!(deadline > self.now, "a deadline in the past");
            self.now = deadline;
            self.client.handle_timeout(self.now, &mut self.rng);
        }
        panic!("the client did not settle: {events:?}");
    }

    fn elapsed(&self) -> Duration {
        self.now - self.base
    }
}

fn acct(status: AcctStatus, elapsed: Option<u32>, bytes: Option<(u64, u64)>) -> AcctInfo {
    AcctInfo {
        status,
        user: b"cisco_customer".to_vec(),
        group: Some(b"Default Group".to_vec()),
        client_addr: CLIENT.parse().unwrap(),
        framed_ip: Some(Ipv4Addr::new(10, 1, 1, 5)),
        service: b"ipsec".to_vec(),
        task_id: 5,
        start_time: 1_090_941_459,
        elapsed_time: elapsed,
        bytes_in: bytes.map(|b| b.0),
        bytes_out: bytes.map(|b| b.1),
        packets_in: bytes.map(|_| 3),
        packets_out: bytes.map(|_| 4),
        class: None,
    }
}

fn radius_server() -> MemRadius {
    MemRadius::new("secretkey")
        .user_with_ip("cisco_customer", "cisco123", Ipv4Addr::new(10, 1, 1, 5))
        .user("plain", "pw")
}

#[test]
fn radius_accepts_the_right_password_with_framed_ip() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(radius_server()),
        1,
    );
    let o = rig.login("cisco_customer", "cisco123");
    assert_eq!(
        o,
        AuthOutcome::Accept(AcceptInfo {
            framed_ip: Some(Ipv4Addr::new(10, 1, 1, 5)),
            ..AcceptInfo::default()
        })
    );
    // A user without an address is accepted without Framed-IP-Address.
    assert_eq!(
        rig.login("plain", "pw"),
        AuthOutcome::Accept(AcceptInfo::default())
    );
    let s = rig.aaa.radius(RADIUS).unwrap();
    assert_eq!(s.attempts().len(), 2);
    let a = &s.attempts()[0];
    assert_eq!(a.user, b"cisco_customer");
    assert!(a.accepted && a.message_authenticator);
    assert_eq!(a.nas_ip, Some(NAS));
    assert_eq!(a.calling_station_id.as_deref(), Some(CLIENT.as_bytes()));
    assert_eq!(a.framed_ip, Some(Ipv4Addr::new(10, 1, 1, 5)));
    assert!(s.drops().is_empty(), "{:?}", s.drops());
    // Answered at once: no retransmission, no time passed, no client error.
    assert_eq!((rig.transmits, rig.elapsed()), (2, Duration::ZERO));
    assert!(rig.errors.is_empty(), "{:?}", rig.errors);
}

#[test]
fn radius_rejects_a_wrong_password_and_an_unknown_user() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(radius_server()),
        2,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco124"),
        AuthOutcome::Reject { message: None }
    );
    assert_eq!(
        rig.login("nobody", "cisco123"),
        AuthOutcome::Reject { message: None }
    );
    // A password longer than one 16-byte block is recovered too.
    assert_eq!(
        rig.login("cisco_customer", "cisco123-and-some-more"),
        AuthOutcome::Reject { message: None }
    );
    let s = rig.aaa.radius(RADIUS).unwrap();
    let seen: Vec<(&[u8], bool)> = s
        .attempts()
        .iter()
        .map(|a| (a.user.as_slice(), a.accepted))
        .collect();
    assert_eq!(
        seen,
        [
            (&b"cisco_customer"[..], false),
            (&b"nobody"[..], false),
            (&b"cisco_customer"[..], false)
        ]
    );
    assert!(rig.errors.is_empty(), "{:?}", rig.errors);
}

#[test]
fn radius_accounting_start_and_stop_are_recorded_with_their_fields() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(radius_server()),
        3,
    );
    assert!(rig.account(acct(AcctStatus::Start, None, None)));
    assert!(rig.account(acct(
        AcctStatus::Stop,
        Some(15),
        Some(((5u64 << 32) | 99, 1879))
    )));
    let s = rig.aaa.radius(RADIUS_ACCT).unwrap();
    let [start, stop] = s.accounting() else {
        panic!("two records expected: {:?}", s.accounting())
    };
    assert_eq!(start.status(), Some(AcctStatus::Start));
    assert_eq!(stop.status(), Some(AcctStatus::Stop));
    for r in [start, stop] {
        assert_eq!(r.user.as_deref(), Some(&b"cisco_customer"[..]));
        assert_eq!(r.session_id.as_deref(), Some(&b"00000005"[..]));
        assert_eq!(r.nas_ip, Some(NAS));
        assert_eq!(r.framed_ip, Some(Ipv4Addr::new(10, 1, 1, 5)));
    }
    assert_eq!(
        (
            start.session_time,
            start.input_octets,
            start.terminate_cause
        ),
        (None, None, None)
    );
    assert_eq!(stop.session_time, Some(15));
    assert_eq!(stop.input_octets, Some((5u64 << 32) | 99));
    assert_eq!(stop.output_octets, Some(1879));
    assert_eq!(
        (stop.input_packets, stop.output_packets),
        (Some(3), Some(4))
    );
    assert_eq!(stop.terminate_cause, Some(1));
    assert!(s.attempts().is_empty());
    assert!(rig.errors.is_empty(), "{:?}", rig.errors);
}

#[test]
fn radius_silent_server_ends_in_unreachable_after_the_clients_retries() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(radius_server().silent(true)),
        4,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    // AaaConfig::new's 4 transmissions, each waited for for the server's timeout.
    let s = rig.aaa.radius(RADIUS).unwrap();
    assert_eq!(s.received(), 4);
    assert_eq!(s.drops(), vec![RadiusDrop::Silent; 4].as_slice());
    assert_eq!(rig.elapsed(), TIMEOUT * 4);
    // The four are one request sent four times: the same bytes.
    assert_eq!(rig.wire.len(), 4);
    assert!(rig.wire.iter().all(|w| *w == rig.wire[0]));
    assert!(rig.aaa.radius(RADIUS).unwrap().attempts().is_empty());
    assert!(!rig.account(acct(AcctStatus::Start, None, None)));
    assert_eq!(rig.aaa.radius(RADIUS).unwrap().received(), 8);
    // Back on line, the same client gets through.
    rig.aaa.radius_mut(RADIUS).unwrap().set_silent(false);
    assert!(matches!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Accept(_)
    ));
}

#[test]
fn radius_lost_request_is_retransmitted_and_answered_once() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(radius_server()),
        5,
    );
    rig.aaa.radius_mut(RADIUS).unwrap().drop_next(1);
    assert!(matches!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Accept(_)
    ));
    assert_eq!(rig.elapsed(), TIMEOUT);
    assert_eq!(rig.aaa.radius(RADIUS).unwrap().attempts().len(), 1);

    // A retransmission the server already answered (the reply was lost) gets
    // the same reply and is not recorded twice.
    let mut s = radius_server();
    let bytes = radius::build_accounting_request(
        &xauth::aaa::radius_accounting(&acct(AcctStatus::Start, None, None), NAS),
        9,
        &Secret::from("secretkey"),
    )
    .unwrap();
    let first = s.answer(&bytes).unwrap();
    assert_eq!(s.answer(&bytes), Some(first));
    assert_eq!((s.accounting().len(), s.duplicates()), (1, 1));
}

#[test]
fn radius_server_without_message_authenticator_is_refused_by_default() {
    let server = radius_server().message_authenticator(false);
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(server),
        6,
    );
    // Blast-RADIUS: the client refuses the verified but unsigned reply at once.
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert_eq!(rig.elapsed(), Duration::ZERO);
    assert!(matches!(
        rig.errors.as_slice(),
        [XauthError::MissingMessageAuthenticator { .. }]
    ));
    assert_eq!(rig.client.refused_without_message_authenticator(), 1);
    // A client that does not require it accepts the same server's answer.
    let mut cfg = AaaConfig::new(Protocol::Radius, NAS);
    cfg.radius_require_message_authenticator = false;
    cfg.radius_message_authenticator = false;
    cfg.servers.push(ServerSpec {
        addr: RADIUS,
        acct_addr: Some(RADIUS_ACCT),
        key: Secret::from("secretkey"),
        timeout: TIMEOUT,
    });
    let mut rig = Rig::new(
        AaaClient::new(cfg, LocalUsers::new()),
        radius_servers(radius_server().message_authenticator(false)),
        6,
    );
    assert!(matches!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Accept(_)
    ));
    assert!(!rig.aaa.radius(RADIUS).unwrap().attempts()[0].message_authenticator);
    // ...unless the server requires one in the request.
    rig.aaa = radius_servers(radius_server().require_message_authenticator(true));
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert!(matches!(
        rig.aaa.radius(RADIUS).unwrap().drops()[0],
        RadiusDrop::MissingMessageAuthenticator { .. }
    ));
}

#[test]
fn radius_wrong_secret_is_dropped_by_the_server() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "not-the-key"),
        radius_servers(radius_server()),
        7,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert!(!rig.account(acct(AcctStatus::Start, None, None)));
    let s = rig.aaa.radius(RADIUS).unwrap();
    assert_eq!(s.received(), 8);
    assert!(s.attempts().is_empty() && s.accounting().is_empty());
    assert!(matches!(
        s.drops()[0],
        RadiusDrop::BadMessageAuthenticator { .. }
    ));
    assert!(matches!(
        s.drops()[7],
        RadiusDrop::BadRequestAuthenticator { .. }
    ));
}

#[test]
fn radius_malformed_datagrams_are_dropped_without_panic() {
    let mut s = radius_server();
    let pw = Secret::from("cisco123");
    let good = radius::build_access_request(
        &radius::AccessRequest {
            user_name: b"cisco_customer",
            password: &pw,
            nas_ip: NAS,
            nas_port: Some(1),
            calling_station_id: None,
            state: None,
            message_authenticator: true,
        },
        1,
        [3; 16],
        &Secret::from("secretkey"),
    )
    .unwrap();
    for n in 0..good.len() {
        assert_eq!(s.answer(&good[..n]), None, "prefix {n}");
    }
    // Every single-bit flip of the signed request is dropped (the HMAC covers
    // it all), except one that turns the Message-Authenticator's type into
    // another attribute: a request without one, which only a server that
    // requires it drops. None panics.
    let ma_type_at = good.len() - 18;
    assert_eq!(good[ma_type_at], radius::attr::MESSAGE_AUTHENTICATOR);
    let mut strict = radius_server().require_message_authenticator(true);
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            assert_eq!(strict.answer(&b), None, "byte {i} bit {bit} answered");
            if s.answer(&b).is_some() {
                assert_eq!(i, ma_type_at, "byte {i} bit {bit} answered");
            }
        }
    }
    assert!(strict.attempts().is_empty(), "{:?}", strict.attempts());
    assert!(s.attempts().iter().all(|a| !a.message_authenticator));
    assert_eq!(s.attempts().len(), 8);
    let code_5 = {
        let mut b = good.clone();
        b[0] = radius::code::ACCOUNTING_RESPONSE;
        b
    };
    s.answer(&code_5);
    assert_eq!(
        s.drops().last(),
        Some(&RadiusDrop::UnexpectedCode {
            identifier: 1,
            code: 5
        })
    );
    assert_eq!(
        s.answer(&good).map(|r| r[0]),
        Some(radius::code::ACCESS_ACCEPT)
    );
}

fn tacacs_server() -> MemTacacs {
    MemTacacs::new("secretkey").user("cisco_customer", "cisco123")
}

#[test]
fn tacacs_pap_and_ascii_logins_accept_and_reject() {
    for (kind, writes) in [(LoginKind::Pap, 1), (LoginKind::Ascii, 2)] {
        let mut rig = Rig::new(
            tacacs_group(kind, "secretkey"),
            tacacs_servers(tacacs_server()),
            8,
        );
        assert_eq!(
            rig.login("cisco_customer", "cisco123"),
            AuthOutcome::Accept(AcceptInfo::default())
        );
        // START (and, for ASCII, the CONTINUE answering GETPASS), then Close.
        assert_eq!(rig.transmits, writes + 1, "{kind:?}");
        assert_eq!(
            rig.login("cisco_customer", "wrong"),
            AuthOutcome::Reject { message: None }
        );
        assert_eq!(
            rig.login("nobody", "cisco123"),
            AuthOutcome::Reject { message: None }
        );
        let s = rig.aaa.tacacs(TACACS).unwrap();
        let want_type = match kind {
            LoginKind::Pap => authen_type::PAP,
            LoginKind::Ascii => authen_type::ASCII,
        };
        let seen: Vec<_> = s
            .logins()
            .iter()
            .map(|l| (l.user.as_slice(), l.authen_type, l.outcome))
            .collect();
        assert_eq!(
            seen,
            [
                (&b"cisco_customer"[..], want_type, TacacsLoginOutcome::Pass),
                (&b"cisco_customer"[..], want_type, TacacsLoginOutcome::Fail),
                (&b"nobody"[..], want_type, TacacsLoginOutcome::Fail),
            ]
        );
        assert!(s
            .logins()
            .iter()
            .all(|l| l.rem_addr == CLIENT.as_bytes() && l.port == b"PIX"));
        // One connection per login, each closed by the client.
        assert_eq!((s.opened(), s.open_connections()), (3, 0));
        assert!(s.errors().is_empty(), "{:?}", s.errors());
        assert!(rig.errors.is_empty(), "{:?}", rig.errors);
    }
}

#[test]
fn tacacs_accounting_start_and_stop_are_recorded_with_their_fields() {
    let mut rig = Rig::new(
        tacacs_group(LoginKind::Pap, "secretkey"),
        tacacs_servers(tacacs_server()),
        9,
    );
    assert!(rig.account(acct(AcctStatus::Start, None, None)));
    assert!(rig.account(acct(AcctStatus::Stop, Some(15), Some((99, 1879)))));
    let s = rig.aaa.tacacs(TACACS).unwrap();
    let [start, stop] = s.accounting() else {
        panic!("two records expected: {:?}", s.accounting())
    };
    assert_eq!(start.request.flags, acct_flag::START);
    assert_eq!(stop.request.flags, acct_flag::STOP);
    for r in [start, stop] {
        assert_eq!(r.request.user, b"cisco_customer");
        assert_eq!(r.request.rem_addr, CLIENT.as_bytes());
        assert_eq!(r.arg_u64("task_id"), Some(5));
        assert_eq!(r.arg_u64("start_time"), Some(1_090_941_459));
        assert_eq!(r.request.arg("service"), Some(&b"ipsec"[..]));
        assert_eq!(r.request.arg("group"), Some(&b"Default Group"[..]));
    }
    assert_eq!(start.arg_u64("elapsed_time"), None);
    assert_eq!(stop.arg_u64("elapsed_time"), Some(15));
    assert_eq!(stop.arg_u64("bytes_in"), Some(99));
    assert_eq!(stop.arg_u64("bytes_out"), Some(1879));
    assert_ne!(start.session_id, stop.session_id);
    assert!(s.logins().is_empty());
    assert!(rig.errors.is_empty(), "{:?}", rig.errors);
}

#[test]
fn tacacs_silent_server_and_wrong_key_end_in_unreachable() {
    let mut rig = Rig::new(
        tacacs_group(LoginKind::Ascii, "secretkey"),
        tacacs_servers(tacacs_server().silent(true)),
        10,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    // TCP is not retransmitted by the client: one server timeout.
    assert_eq!(rig.elapsed(), TIMEOUT);
    let s = rig.aaa.tacacs(TACACS).unwrap();
    assert!(s.logins().is_empty());
    assert_eq!(s.opened(), 1);

    // With the wrong key the body does not parse: the server closes at once.
    let mut rig = Rig::new(
        tacacs_group(LoginKind::Pap, "not-the-key"),
        tacacs_servers(tacacs_server()),
        10,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert_eq!(rig.elapsed(), Duration::ZERO);
    let s = rig.aaa.tacacs(TACACS).unwrap();
    assert_eq!(s.errors().len(), 1);
    assert!(s.logins().is_empty());
}

/// The bytes an AAA client of `kind` writes first for a login.
fn client_bytes(kind: LoginKind) -> Vec<Vec<u8>> {
    let mut c = tacacs_group(kind, "secretkey");
    let mut rng = StdRng::seed_from_u64(11);
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    c.authenticate(
        now,
        &mut rng,
        AuthRequest {
            user: b"cisco_customer".to_vec(),
            password: Secret::from("cisco123"),
            client_addr: None,
            radius_state: None,
        },
    )
    .unwrap();
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit() {
        if let AaaTransmit::Stream { payload, .. } = t {
            out.push(payload);
        }
    }
    out
}

#[test]
fn tacacs_bytes_in_pieces_are_reassembled_and_garbage_closes() {
    // PAP START fed one byte at a time: one reply, after the last byte.
    let start = &client_bytes(LoginKind::Pap)[0];
    let mut s = tacacs_server();
    let mut replies = Vec::new();
    for (i, b) in start.iter().enumerate() {
        let r = s.feed(&[*b]);
        if i + 1 < start.len() {
            assert!(r.is_empty(), "reply before the packet was whole (byte {i})");
        }
        replies.extend(r);
    }
    let mut buf = StreamBuffer::new();
    buf.feed(&replies);
    let reply = buf.next_packet().unwrap().unwrap();
    let (h, body) = tacacs::open(&reply, &Secret::from("secretkey")).unwrap();
    assert_eq!(h.seq_no, 2);
    assert_eq!(
        tacacs::AuthenReply::parse(&body).unwrap().status,
        tacacs::authen_status::PASS
    );
    assert!(s.closed() && s.error().is_none());
    // Bytes after the session are ignored.
    assert!(s.feed(start).is_empty());

    // Every prefix of a START is incomplete, not an error; garbage closes.
    for n in 0..start.len() {
        let mut s = tacacs_server();
        assert!(s.feed(&start[..n]).is_empty());
        assert!(!s.closed(), "prefix {n}");
    }
    let mut s = tacacs_server();
    assert!(s.feed(b"GET / HTTP/1.0\r\n\r\n").is_empty());
    assert!(s.closed());
    assert!(matches!(s.error(), Some(XauthError::BadValue { .. })));
    // Every single-bit flip of the START: no panic; one in the password (the
    // last 8 bytes of a PAP START) is a FAIL, never a PASS.
    for i in 0..start.len() {
        for bit in 0..8 {
            let mut b = start.clone();
            b[i] ^= 1 << bit;
            let mut s = tacacs_server();
            let _ = s.feed(&b);
            assert!(s.closed() || s.received() < start.len() as u64 || s.logins().is_empty());
            if i >= start.len() - 8 {
                let outcomes: Vec<_> = s.logins().iter().map(|l| l.outcome).collect();
                assert_eq!(outcomes, [TacacsLoginOutcome::Fail], "byte {i} bit {bit}");
            }
        }
    }
}

/// Everything on the wire for one RADIUS and one TACACS+ scenario.
fn scenario(seed: u64) -> Vec<Vec<u8>> {
    let mut wire = Vec::new();
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        radius_servers(radius_server()),
        seed,
    );
    rig.login("cisco_customer", "cisco123");
    rig.login("cisco_customer", "wrong");
    rig.account(acct(AcctStatus::Start, None, None));
    rig.account(acct(AcctStatus::Stop, Some(15), Some((99, 1879))));
    rig.aaa.radius_mut(RADIUS).unwrap().set_silent(true);
    rig.login("cisco_customer", "cisco123");
    wire.append(&mut rig.wire);
    for kind in [LoginKind::Ascii, LoginKind::Pap] {
        let mut rig = Rig::new(
            tacacs_group(kind, "secretkey"),
            tacacs_servers(tacacs_server()),
            seed,
        );
        rig.login("cisco_customer", "cisco123");
        rig.login("cisco_customer", "wrong");
        rig.account(acct(AcctStatus::Stop, Some(15), Some((99, 1879))));
        wire.append(&mut rig.wire);
    }
    wire
}

#[test]
fn same_seed_same_bytes() {
    let a = scenario(42);
    let b = scenario(42);
    // 2 + 2 + 2 + 2 + 4 RADIUS datagrams; per TACACS+ group, the login and the
    // record (ASCII: 4 + 4 + 2, PAP: 2 + 2 + 2).
    assert_eq!(a.len(), 12 + 10 + 6);
    assert_eq!(a, b);
    // The seed matters: another one changes the authenticators and session ids.
    let c = scenario(43);
    assert_eq!(c.len(), a.len());
    assert_ne!(a, c);
}

#[test]
fn unrouted_transmits_are_counted() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        MemAaa::new(),
        12,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert_eq!(rig.aaa.unrouted(), 4);
    let mut rig = Rig::new(tacacs_group(LoginKind::Pap, "secretkey"), MemAaa::new(), 12);
    // A refused TCP connection: the client gives up at once.
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert_eq!((rig.aaa.unrouted(), rig.elapsed()), (1, Duration::ZERO));
}

#[test]
fn radius_failover_to_the_second_server_after_the_first_times_out() {
    let second = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)), 1645);
    let second_acct = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)), 1646);
    let mut cfg = AaaConfig::new(Protocol::Radius, NAS);
    cfg.radius_retries = 2;
    for (addr, acct_addr) in [(RADIUS, RADIUS_ACCT), (second, second_acct)] {
        cfg.servers.push(ServerSpec {
            addr,
            acct_addr: Some(acct_addr),
            key: Secret::from("secretkey"),
            timeout: TIMEOUT,
        });
    }
    let aaa = MemAaa::new()
        .with_radius(RADIUS, RADIUS_ACCT, radius_server().silent(true))
        .with_radius(second, second_acct, radius_server());
    let mut rig = Rig::new(AaaClient::new(cfg, LocalUsers::new()), aaa, 13);
    assert!(matches!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Accept(_)
    ));
    // Two tries on the first server, each waited out, then the second at once.
    assert_eq!(rig.elapsed(), TIMEOUT * 2);
    assert_eq!(rig.aaa.radius(RADIUS).unwrap().received(), 2);
    assert_eq!(rig.aaa.radius(second).unwrap().attempts().len(), 1);
    assert!(rig.aaa.radius(RADIUS).unwrap().attempts().is_empty());
}

#[test]
fn tacacs_server_going_silent_mid_test() {
    let mut rig = Rig::new(
        tacacs_group(LoginKind::Pap, "secretkey"),
        tacacs_servers(tacacs_server()),
        14,
    );
    assert!(matches!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Accept(_)
    ));
    rig.aaa.tacacs_mut(TACACS).unwrap().set_silent(true);
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert!(!rig.account(acct(AcctStatus::Start, None, None)));
    assert_eq!(rig.elapsed(), TIMEOUT * 2);
    rig.aaa.tacacs_mut(TACACS).unwrap().set_silent(false);
    assert!(rig.account(acct(AcctStatus::Start, None, None)));
    let s = rig.aaa.tacacs(TACACS).unwrap();
    assert_eq!(
        (s.logins().len(), s.accounting().len(), s.opened()),
        (1, 1, 4)
    );
}

/// A client packet of session 77 with `seq_no`, sealed with the test key.
fn client_packet(version: u8, seq_no: u8, body: &[u8]) -> Vec<u8> {
    let h = tacacs::Header {
        version,
        kind: tacacs::PacketType::Authentication,
        seq_no,
        flags: 0,
        session_id: 77,
        length: 0,
    };
    tacacs::seal(h, body, &Secret::from("secretkey")).unwrap()
}

/// The status of a server REPLY, checking its sequence number.
fn reply_status(bytes: &[u8], seq_no: u8) -> u8 {
    let (h, body) = tacacs::open(bytes, &Secret::from("secretkey")).unwrap();
    assert_eq!((h.seq_no, h.session_id), (seq_no, 77));
    tacacs::AuthenReply::parse(&body).unwrap().status
}

fn cont(msg: &[u8], flags: u8) -> Vec<u8> {
    tacacs::AuthenContinue {
        user_msg: msg.to_vec(),
        data: Vec::new(),
        flags,
    }
    .emit()
    .unwrap()
}

fn ascii_start(user: &[u8]) -> Vec<u8> {
    tacacs::AuthenStart {
        action: 1,
        priv_lvl: 1,
        authen_type: authen_type::ASCII,
        authen_service: 1,
        user: user.to_vec(),
        port: b"PIX".to_vec(),
        rem_addr: Vec::new(),
        data: Vec::new(),
    }
    .emit()
    .unwrap()
}

#[test]
fn tacacs_ascii_getuser_abort_and_out_of_sequence() {
    use tacacs::authen_status::{GETPASS, GETUSER, PASS};
    // No user in the START: GETUSER, then GETPASS, then PASS.
    let mut s = tacacs_server();
    let v = tacacs::VERSION_DEFAULT;
    assert_eq!(
        reply_status(&s.feed(&client_packet(v, 1, &ascii_start(b""))), 2),
        GETUSER
    );
    assert_eq!(
        reply_status(
            &s.feed(&client_packet(v, 3, &cont(b"cisco_customer", 0))),
            4
        ),
        GETPASS
    );
    assert_eq!(
        reply_status(&s.feed(&client_packet(v, 5, &cont(b"cisco123", 0))), 6),
        PASS
    );
    assert!(s.closed() && s.error().is_none());
    assert_eq!(s.logins()[0].user, b"cisco_customer");
    assert_eq!(s.logins()[0].outcome, TacacsLoginOutcome::Pass);

    // ABORT ends the session without a reply.
    let mut s = tacacs_server();
    assert_eq!(
        reply_status(
            &s.feed(&client_packet(v, 1, &ascii_start(b"cisco_customer"))),
            2
        ),
        GETPASS
    );
    assert!(s.feed(&client_packet(v, 3, &cont(b"", 1))).is_empty());
    assert!(s.closed());
    assert_eq!(s.logins()[0].outcome, TacacsLoginOutcome::Aborted);

    // A CONTINUE out of sequence, or of another version, closes with the reason.
    for (version, seq, what) in [
        (v, 5, "TACACS+ seq_no"),
        (tacacs::VERSION_ONE, 3, "TACACS+ version"),
    ] {
        let mut s = tacacs_server();
        s.feed(&client_packet(v, 1, &ascii_start(b"cisco_customer")));
        assert!(s
            .feed(&client_packet(version, seq, &cont(b"cisco123", 0)))
            .is_empty());
        assert!(s.closed());
        assert!(
            matches!(s.error(), Some(XauthError::Mismatch { what: w, .. }) if *w == what),
            "{:?}",
            s.error()
        );
        assert!(s.logins().is_empty());
    }

    // An ASCII START sent as version 0xc1 (PAP's) is an ERROR, recorded.
    let mut s = tacacs_server();
    let r = s.feed(&client_packet(
        tacacs::VERSION_ONE,
        1,
        &ascii_start(b"cisco_customer"),
    ));
    assert_eq!(reply_status(&r, 2), tacacs::authen_status::ERROR);
    assert_eq!(s.logins()[0].outcome, TacacsLoginOutcome::Error);
}
