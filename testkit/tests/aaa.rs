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
use xauth::tacacs::{acct_flag, authen_type, LoginKind};
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
        terminate_cause: None,
        session_id: None,
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
        &xauth::aaa::radius_accounting(&acct(AcctStatus::Start, None, None), NAS, None),
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

/// The client takes only a reply the server signed: every prefix of a genuine
/// Access-Accept and every single-bit flip of it is dropped (no event, the request still
/// pending), and the genuine reply still completes the login.
#[test]
fn a_radius_reply_cut_short_or_with_a_bit_flipped_is_never_taken() {
    let mut client = group(Protocol::Radius, RADIUS, "secretkey");
    let mut server = radius_server();
    let mut rng = StdRng::seed_from_u64(16);
    #[allow(clippy::disallowed_methods)] // any fixed Instant will do
    let now = Instant::now();
    let id = client
        .authenticate(
            now,
            &mut rng,
            AuthRequest {
                user: b"cisco_customer".to_vec(),
                password: Secret::from("cisco123"),
                client_addr: Some(CLIENT.parse().unwrap()),
                radius_state: None,
            },
        )
        .unwrap();
    let request = match client.poll_transmit() {
        Some(AaaTransmit::Datagram { payload, .. }) => payload,
        other => panic!("an Access-Request expected, got {other:?}"),
    };
    let reply = server.answer(&request).expect("the server answers");
    assert_eq!(reply[0], radius::code::ACCESS_ACCEPT);
    let mut forged: Vec<Vec<u8>> = (0..reply.len()).map(|n| reply[..n].to_vec()).collect();
    for i in 0..reply.len() {
        for bit in 0..8 {
            let mut b = reply.clone();
            b[i] ^= 1 << bit;
            forged.push(b);
        }
    }
    assert_eq!(forged.len(), reply.len() * 9);
    for f in &forged {
        let _ = client.handle_datagram(now, &mut rng, RADIUS, f);
        if let Some(e) = client.poll_event() {
            panic!("{e:?} from a forged reply {f:02x?}");
        }
        assert_eq!(client.pending(), 1, "{f:02x?}");
    }
    client
        .handle_datagram(now, &mut rng, RADIUS, &reply)
        .unwrap();
    match client.poll_event() {
        Some(AaaEvent::Auth {
            request,
            outcome: AuthOutcome::Accept(_),
        }) if request == id => {}
        other => panic!("the genuine reply: {other:?}"),
    }
    assert_eq!(client.pending(), 0);
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

/// The client reassembles the server's replies from a stream that brings them one
/// byte at a time: nothing happens before a reply is whole, and the login completes
/// once (PAP: one reply; ASCII: GETPASS, then PASS).
#[test]
fn a_tacacs_reply_in_pieces_completes_the_login_once() {
    for (kind, replies) in [(LoginKind::Pap, 1), (LoginKind::Ascii, 2)] {
        let mut client = tacacs_group(kind, "secretkey");
        let mut server = tacacs_server();
        let mut rng = StdRng::seed_from_u64(17);
        #[allow(clippy::disallowed_methods)] // any fixed Instant will do
        let now = Instant::now();
        let id = client
            .authenticate(
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
        let mut whole = 0;
        let mut events = Vec::new();
        for _ in 0..10 {
            let mut reply = Vec::new();
            let mut conn = None;
            while let Some(t) = client.poll_transmit() {
                if let AaaTransmit::Stream {
                    conn: c, payload, ..
                } = t
                {
                    conn = Some(c);
                    reply.extend(server.feed(&payload));
                }
            }
            let Some(conn) = conn.filter(|_| !reply.is_empty()) else {
                break;
            };
            whole += 1;
            for (i, b) in reply.iter().enumerate() {
                client.handle_stream(now, &mut rng, conn, &[*b]).unwrap();
                events.extend(std::iter::from_fn(|| client.poll_event()));
                if i + 1 < reply.len() {
                    assert!(events.is_empty(), "{kind:?}: {events:?} at byte {i}");
                }
            }
        }
        assert_eq!(whole, replies, "{kind:?}");
        match events.as_slice() {
            [AaaEvent::Auth {
                request,
                outcome: AuthOutcome::Accept(_),
            }] if *request == id => {}
            other => panic!("{kind:?}: {other:?}"),
        }
        assert_eq!(client.pending(), 0);
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

/// No server at the address: the client gives up on RADIUS after its tries (each one
/// sent, none reaching a server) and at once on a refused TCP connection.
#[test]
fn unreachable_servers_end_in_unreachable() {
    let mut rig = Rig::new(
        group(Protocol::Radius, RADIUS, "secretkey"),
        MemAaa::new(),
        12,
    );
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert_eq!((rig.wire.len(), rig.aaa.unrouted()), (4, 4));
    let mut rig = Rig::new(tacacs_group(LoginKind::Pap, "secretkey"), MemAaa::new(), 12);
    // A refused TCP connection: the client gives up at once.
    assert_eq!(
        rig.login("cisco_customer", "cisco123"),
        AuthOutcome::Unreachable
    );
    assert_eq!(
        (rig.wire.len(), rig.aaa.unrouted(), rig.elapsed()),
        (1, 1, Duration::ZERO)
    );
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
