//! Blast-RADIUS (CVE-2024-3596): a reply whose only protection is the MD5
//! Response Authenticator is refused. A tiny RADIUS responder in this process, on
//! loopback, answers each Access-Request with a correctly Response-Authenticated
//! reply, with or without a (valid or wrong) Message-Authenticator.
#![allow(clippy::disallowed_types)] // IO in a test: a RADIUS responder on a loopback UDP socket
#![allow(
    clippy::disallowed_methods,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // tests use sockets and the clock and may panic

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{drive, DriveLog, TestRng};
use xauth::aaa::{AaaClient, AaaConfig, AaaEvent, AuthOutcome, AuthRequest, Protocol, ServerSpec};
use xauth::radius::{self, attr, code, Packet, RadiusAttr};
use xauth::{LocalUsers, Secret, XauthError};

const KEY: &str = "secretkey";

/// What the responder puts in its replies.
#[derive(Clone, Copy, Debug)]
enum Ma {
    Absent,
    Valid,
    Wrong,
}

struct Responder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u32>>,
}

impl Responder {
    /// Answers `reply_code` (Accept only when the password is `cisco123`).
    fn start(reply_code: u8, ma: Ma) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let key = Secret::from(KEY);
            let mut answered = 0;
            let mut buf = [0u8; 4096];
            let end = Instant::now() + Duration::from_secs(20);
            while !s2.load(Ordering::Relaxed) && Instant::now() < end {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let req = Packet::parse(&buf[..n]).unwrap();
                assert_eq!(req.code, code::ACCESS_REQUEST);
                assert!(
                    req.attr(attr::MESSAGE_AUTHENTICATOR).is_some(),
                    "our requests carry one"
                );
                let pw = radius::unhide_password(
                    &key,
                    &req.authenticator,
                    req.attr(attr::USER_PASSWORD).unwrap(),
                )
                .unwrap();
                let code = if reply_code == code::ACCESS_ACCEPT && !pw.ct_eq_bytes(b"cisco123") {
                    code::ACCESS_REJECT
                } else {
                    reply_code
                };
                let mut attrs = vec![RadiusAttr {
                    kind: attr::REPLY_MESSAGE,
                    value: b"hello".to_vec(),
                }];
                if code == code::ACCESS_CHALLENGE {
                    attrs.push(RadiusAttr {
                        kind: attr::STATE,
                        value: b"s".to_vec(),
                    });
                }
                if let Ma::Wrong = ma {
                    // Correct Response Authenticator over a garbage HMAC.
                    attrs.push(RadiusAttr {
                        kind: attr::MESSAGE_AUTHENTICATOR,
                        value: vec![0x5a; 16],
                    });
                }
                let reply = radius::build_response(
                    code,
                    req.identifier,
                    &req.authenticator,
                    attrs,
                    &key,
                    matches!(ma, Ma::Valid),
                )
                .unwrap();
                sock.send_to(&reply, from).unwrap();
                answered += 1;
            }
            answered
        });
        Responder {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the responder; how many requests it answered.
    fn answered(mut self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn client(to: SocketAddr, require: bool) -> AaaClient {
    let mut cfg = AaaConfig::new(Protocol::Radius, Ipv4Addr::LOCALHOST);
    cfg.tag = "RADIUS".into();
    cfg.radius_retries = 2;
    cfg.radius_require_message_authenticator = require;
    cfg.servers.push(ServerSpec {
        addr: to,
        acct_addr: None,
        key: Secret::from(KEY),
        timeout: Duration::from_millis(300),
    });
    AaaClient::new(cfg, LocalUsers::new())
}

fn login(c: &mut AaaClient, pw: &str) -> (AuthOutcome, DriveLog, Duration) {
    let mut rng = TestRng(3);
    let t0 = Instant::now();
    c.authenticate(
        t0,
        &mut rng,
        AuthRequest {
            user: b"cisco_customer".to_vec(),
            password: Secret::from(pw),
            client_addr: Some("192.168.1.2".parse().unwrap()),
            radius_state: None,
        },
    )
    .unwrap();
    let mut log = DriveLog::default();
    match drive(c, &mut rng, Duration::from_secs(5), &mut log) {
        Some(AaaEvent::Auth { outcome, .. }) => (outcome, log, t0.elapsed()),
        other => panic!("no result: {other:?} {log:?}"),
    }
}

#[test]
fn reply_without_message_authenticator_is_refused_at_once_with_a_clear_error() {
    for reply in [
        code::ACCESS_ACCEPT,
        code::ACCESS_REJECT,
        code::ACCESS_CHALLENGE,
    ] {
        let r = Responder::start(reply, Ma::Absent);
        let mut c = client(r.addr, true);
        let (outcome, log, took) = login(&mut c, "cisco123");
        assert_eq!(outcome, AuthOutcome::Unreachable, "code {reply}");
        let name = radius::code_name(reply);
        assert_eq!(
            log.dropped_replies,
            vec![XauthError::MissingMessageAuthenticator {
                group: "RADIUS".into(),
                server: r.addr.ip(),
                reply: name,
            }]
        );
        assert!(!log.dropped_replies[0].is_silent_drop());
        assert_eq!(
            log.dropped_replies[0].to_string(),
            format!(
                "aaa-server RADIUS host 127.0.0.1 answered {name} without Message-Authenticator: \
                 refused (Blast-RADIUS, CVE-2024-3596); make the server send it"
            )
        );
        // Refused on the first reply, not after retransmissions and timeouts.
        assert_eq!(log.datagrams_sent.len(), 1);
        assert!(took < Duration::from_millis(300), "{took:?}");
        assert_eq!(c.refused_without_message_authenticator(), 1);
        assert_eq!(r.answered(), 1);
    }
}

#[test]
fn reply_with_a_valid_message_authenticator_is_believed() {
    let r = Responder::start(code::ACCESS_ACCEPT, Ma::Valid);
    let mut c = client(r.addr, true);
    let (outcome, log, _) = login(&mut c, "cisco123");
    let AuthOutcome::Accept(info) = outcome else {
        panic!("{outcome:?} {log:?}")
    };
    assert_eq!(info.reply_message.as_deref(), Some(&b"hello"[..]));
    let (outcome, _, _) = login(&mut c, "wrong");
    assert_eq!(
        outcome,
        AuthOutcome::Reject {
            message: Some(b"hello".to_vec())
        }
    );
    assert_eq!(c.refused_without_message_authenticator(), 0);
    assert_eq!(r.answered(), 2);
}

#[test]
fn reply_with_a_wrong_message_authenticator_is_refused() {
    // Required or not: a wrong HMAC is a forgery (or a wrong key), dropped; the
    // request ends unanswered after its retransmission.
    for require in [true, false] {
        let r = Responder::start(code::ACCESS_ACCEPT, Ma::Wrong);
        let mut c = client(r.addr, require);
        let (outcome, log, _) = login(&mut c, "cisco123");
        assert_eq!(outcome, AuthOutcome::Unreachable);
        assert_eq!(log.datagrams_sent.len(), 2, "sent, then retransmitted once");
        assert!(!log.dropped_replies.is_empty());
        assert!(log.dropped_replies.iter().all(|e| *e
            == XauthError::BadAuthenticator {
                what: "Message-Authenticator"
            }));
        assert_eq!(r.answered(), 2);
    }
}

#[test]
fn the_requirement_can_be_turned_off_for_an_old_server() {
    let r = Responder::start(code::ACCESS_ACCEPT, Ma::Absent);
    let mut c = client(r.addr, false);
    let (outcome, log, _) = login(&mut c, "cisco123");
    assert!(matches!(outcome, AuthOutcome::Accept(_)), "{log:?}");
    assert_eq!(c.refused_without_message_authenticator(), 0);
}
