//! Every state transition of the Xauth server and client machines, driven in
//! memory through the real attribute-payload codec (emit -> bytes -> parse).
#![allow(
    clippy::disallowed_methods,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // tests use the clock and may panic

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::TestRng;
use isakmp_wire::{Attribute, CfgType, ConfigPayload, OwnedAttribute, OwnedConfigPayload};
use xauth::aaa::{AaaClient, AaaConfig, AaaEvent, AuthOutcome, AuthRequest, Protocol};
use xauth::attrs::*;
use xauth::*;

fn bytes(p: &OwnedConfigPayload) -> Vec<u8> {
    let mut b = Vec::new();
    p.emit(&mut b).unwrap();
    assert_eq!(b.len(), p.wire_len());
    b
}

fn kinds(p: &OwnedConfigPayload) -> Vec<u16> {
    p.attributes.iter().map(|a| a.kind).collect()
}

fn feed_server(
    s: &mut XauthServer,
    now: Instant,
    p: &OwnedConfigPayload,
) -> Result<(), XauthError> {
    let b = bytes(p);
    s.handle(now, &ConfigPayload::parse(&b, 0).unwrap())
}

fn feed_client(
    c: &mut XauthClient,
    now: Instant,
    p: &OwnedConfigPayload,
) -> Result<(), XauthError> {
    let b = bytes(p);
    c.handle(now, &ConfigPayload::parse(&b, 0).unwrap())
}

fn start(cfg: ServerConfig) -> (XauthServer, Instant) {
    let t0 = Instant::now();
    (XauthServer::start(cfg, t0, &mut TestRng(1)), t0)
}

fn creds(s: &mut XauthServer) -> Credentials {
    match s.poll_event() {
        Some(ServerEvent::Credentials(c)) => c,
        other => panic!("expected credentials, got {other:?}"),
    }
}

fn reply(id: u16, attrs: Vec<XauthAttribute>) -> OwnedConfigPayload {
    OwnedConfigPayload {
        cfg_type: CfgType::Reply,
        identifier: id,
        attributes: to_owned_list(&attrs),
    }
}

fn user_pw(id: u16, u: &str, p: &str) -> OwnedConfigPayload {
    reply(
        id,
        vec![
            XauthAttribute::UserName(u.as_bytes().to_vec()),
            XauthAttribute::UserPassword(Secret::from(p)),
        ],
    )
}

fn ack(id: u16) -> OwnedConfigPayload {
    OwnedConfigPayload {
        cfg_type: CfgType::Ack,
        identifier: id,
        attributes: vec![],
    }
}

fn status_of(p: &OwnedConfigPayload) -> XauthStatus {
    assert_eq!(p.cfg_type, CfgType::Set);
    let b = bytes(p);
    let parsed = ConfigPayload::parse(&b, 0).unwrap();
    match parse_list(parsed.attributes()).unwrap().as_slice() {
        [XauthAttribute::Status { value, .. }] => *value,
        other => panic!("SET should carry only STATUS: {other:?}"),
    }
}

#[test]
fn full_dialogue_between_our_server_and_client() {
    let (mut s, t0) = start(ServerConfig::default());
    let req = s.poll_transmit().unwrap();
    assert!(s.poll_transmit().is_none());
    // The PIX's request, as the seed log shows it: TYPE, USER_NAME, USER_PASSWORD.
    assert_eq!(req.cfg_type, CfgType::Request);
    assert_eq!(
        kinds(&req),
        [XAUTH_TYPE, XAUTH_USER_NAME, XAUTH_USER_PASSWORD]
    );
    assert_eq!(req.attributes[0], OwnedAttribute::basic(XAUTH_TYPE, 0));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(120)));

    let mut c = XauthClient::new(Duration::from_secs(30));
    feed_client(&mut c, t0, &req).unwrap();
    let Some(ClientEvent::Prompt(p)) = c.poll_event() else {
        panic!("no prompt")
    };
    assert_eq!(p.identifier, req.identifier);
    assert_eq!(p.xauth_type, XauthType::Generic);
    assert_eq!(
        p.wants,
        Wants {
            user_name: true,
            password: true,
            ..Wants::default()
        }
    );
    c.answer(
        t0,
        p.identifier,
        Answer {
            user_name: Some(b"cisco_customer".to_vec()),
            password: Some(Secret::from("cisco123")),
            ..Answer::default()
        },
    )
    .unwrap();
    let rep = c.poll_transmit().unwrap();
    assert_eq!(
        (rep.cfg_type, rep.identifier),
        (CfgType::Reply, req.identifier)
    );
    assert_eq!(kinds(&rep), [XAUTH_USER_NAME, XAUTH_USER_PASSWORD]);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(30)));

    let t1 = t0 + Duration::from_secs(5);
    feed_server(&mut s, t1, &rep).unwrap();
    let cr = creds(&mut s);
    assert_eq!(cr.user_name, b"cisco_customer");
    assert_eq!(cr.password, Some(Secret::from("cisco123")));
    assert_eq!((cr.attempt, cr.round), (1, Round::Password));
    assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(35)));
    assert!(
        s.poll_transmit().is_none(),
        "nothing is sent while AAA decides"
    );

    s.verdict(t1, cr.id, Verdict::Accept).unwrap();
    let set = s.poll_transmit().unwrap();
    assert_eq!(status_of(&set), XauthStatus::Ok);
    assert_ne!(set.identifier, req.identifier);

    feed_client(&mut c, t1, &set).unwrap();
    assert_eq!(c.poll_event(), Some(ClientEvent::Finished { ok: true }));
    assert!(c.is_finished());
    let a = c.poll_transmit().unwrap();
    assert_eq!((a.cfg_type, a.identifier), (CfgType::Ack, set.identifier));

    feed_server(&mut s, t1, &a).unwrap();
    let ev = s.poll_event().unwrap();
    let ServerEvent::Finished(outcome) = ev else {
        panic!()
    };
    assert_eq!(
        outcome,
        Outcome::Authenticated {
            user_name: b"cisco_customer".to_vec()
        }
    );
    assert!(!outcome.tear_down());
    assert!(s.is_finished());
    assert_eq!(s.poll_timeout(), None);
    // Anything after the end is unexpected.
    assert!(matches!(
        feed_server(&mut s, t1, &a),
        Err(XauthError::UnexpectedMessage { .. })
    ));
}

#[test]
fn wrong_password_is_re_prompted_then_accepted() {
    let (mut s, t0) = start(ServerConfig::default());
    let r1 = s.poll_transmit().unwrap();
    feed_server(&mut s, t0, &user_pw(r1.identifier, "u", "bad")).unwrap();
    let c1 = creds(&mut s);
    s.verdict(t0, c1.id, Verdict::Reject).unwrap();
    let r2 = s.poll_transmit().unwrap();
    assert_eq!(r2.cfg_type, CfgType::Request);
    assert_ne!(r2.identifier, r1.identifier);
    assert_eq!(
        kinds(&r2),
        [
            XAUTH_TYPE,
            XAUTH_USER_NAME,
            XAUTH_USER_PASSWORD,
            XAUTH_MESSAGE
        ]
    );
    // The old identifier is no longer accepted.
    assert_eq!(
        feed_server(&mut s, t0, &user_pw(r1.identifier, "u", "x")),
        Err(XauthError::IdentifierMismatch {
            expected: r2.identifier,
            got: r1.identifier
        })
    );
    // Identifier 0 (strongSwan's answer to every REQUEST) means the outstanding one.
    feed_server(&mut s, t0, &user_pw(0, "u", "good")).unwrap();
    let c2 = creds(&mut s);
    assert_eq!(c2.attempt, 2);
    assert_ne!(c2.id, c1.id);
    // The stale verdict id is refused.
    assert_eq!(
        s.verdict(t0, c1.id, Verdict::Accept),
        Err(XauthError::UnknownRequest(c1.id.0))
    );
    s.verdict(t0, c2.id, Verdict::Accept).unwrap();
    assert_eq!(status_of(&s.poll_transmit().unwrap()), XauthStatus::Ok);
}

#[test]
fn retries_exhausted_gives_status_fail_and_tear_down() {
    let (mut s, t0) = start(ServerConfig {
        max_attempts: 3,
        ..ServerConfig::default()
    });
    for attempt in 1..=3 {
        let r = s.poll_transmit().unwrap();
        assert_eq!(r.cfg_type, CfgType::Request);
        feed_server(&mut s, t0, &user_pw(r.identifier, "u", "bad")).unwrap();
        let c = creds(&mut s);
        assert_eq!(c.attempt, attempt);
        s.verdict(t0, c.id, Verdict::Reject).unwrap();
    }
    let set = s.poll_transmit().unwrap();
    assert_eq!(status_of(&set), XauthStatus::Fail);
    let mut client = XauthClient::new(Duration::from_secs(5));
    feed_client(&mut client, t0, &set).unwrap();
    assert_eq!(
        client.poll_event(),
        Some(ClientEvent::Finished { ok: false })
    );
    feed_server(&mut s, t0, &client.poll_transmit().unwrap()).unwrap();
    let Some(ServerEvent::Finished(o)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(
        o,
        Outcome::Failed {
            user_name: Some(b"u".to_vec()),
            reason: FailReason::Rejected
        }
    );
    assert!(o.tear_down());
}

#[test]
fn mismatched_and_unexpected_messages_are_silent_drops() {
    let (mut s, t0) = start(ServerConfig::default());
    let r = s.poll_transmit().unwrap();
    let wrong = r.identifier.wrapping_add(7);
    let e = feed_server(&mut s, t0, &user_pw(wrong, "u", "p")).unwrap_err();
    assert!(e.is_silent_drop(), "{e}");
    for t in [
        CfgType::Request,
        CfgType::Set,
        CfgType::Ack,
        CfgType::Unknown(9),
    ] {
        let m = OwnedConfigPayload {
            cfg_type: t,
            identifier: r.identifier,
            attributes: vec![],
        };
        let e = feed_server(&mut s, t0, &m).unwrap_err();
        assert!(matches!(e, XauthError::UnexpectedMessage { got, .. } if got == t));
        assert!(e.is_silent_drop());
    }
    assert!(s.poll_event().is_none() && s.poll_transmit().is_none());
    // The dialogue is intact: the right REPLY still works.
    feed_server(&mut s, t0, &user_pw(r.identifier, "u", "p")).unwrap();
    let c = creds(&mut s);
    // A retransmitted REPLY while AAA decides is unexpected too.
    let e = feed_server(&mut s, t0, &user_pw(r.identifier, "u", "p")).unwrap_err();
    assert!(e.is_silent_drop());
    s.verdict(t0, c.id, Verdict::Accept).unwrap();
    let set = s.poll_transmit().unwrap();
    // An ACK with another identifier is dropped; the right one ends it.
    assert!(feed_server(&mut s, t0, &ack(set.identifier ^ 1))
        .unwrap_err()
        .is_silent_drop());
    feed_server(&mut s, t0, &ack(set.identifier)).unwrap();
    assert!(s.is_finished());
}

#[test]
fn incomplete_reply_is_refused_and_the_request_stays() {
    let (mut s, t0) = start(ServerConfig::default());
    let r = s.poll_transmit().unwrap();
    let only_user = reply(r.identifier, vec![XauthAttribute::UserName(b"u".to_vec())]);
    assert_eq!(
        feed_server(&mut s, t0, &only_user),
        Err(XauthError::MissingAttribute {
            kind: XAUTH_USER_PASSWORD,
            message: "Xauth REPLY"
        })
    );
    let only_pw = reply(
        r.identifier,
        vec![XauthAttribute::UserPassword(Secret::from("p"))],
    );
    assert!(matches!(
        feed_server(&mut s, t0, &only_pw),
        Err(XauthError::MissingAttribute {
            kind: XAUTH_USER_NAME,
            ..
        })
    ));
    // A REPLY naming another XAUTH_TYPE is refused.
    let other_type = reply(
        r.identifier,
        vec![
            XauthAttribute::Type {
                value: XauthType::Otp,
                form: IntForm::Basic,
            },
            XauthAttribute::UserName(b"u".to_vec()),
            XauthAttribute::UserPassword(Secret::from("p")),
        ],
    );
    assert!(matches!(
        feed_server(&mut s, t0, &other_type),
        Err(XauthError::BadAttribute {
            kind: XAUTH_TYPE,
            ..
        })
    ));
    // A peer that sends XAUTH_TYPE as a 4-byte TLV is fine.
    let mut tlv = user_pw(r.identifier, "u", "p");
    tlv.attributes
        .insert(0, OwnedAttribute::variable(XAUTH_TYPE, vec![0, 0, 0, 0]));
    feed_server(&mut s, t0, &tlv).unwrap();
    assert!(matches!(s.poll_event(), Some(ServerEvent::Credentials(_))));
}

#[test]
fn reply_timeout_ends_without_set() {
    let (mut s, t0) = start(ServerConfig {
        reply_timeout: Duration::from_secs(10),
        ..ServerConfig::default()
    });
    s.poll_transmit().unwrap();
    s.handle_timeout(t0 + Duration::from_secs(9));
    assert!(s.poll_event().is_none());
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Finished(Outcome::Failed {
            user_name: None,
            reason: FailReason::ReplyTimeout
        }))
    );
    assert!(s.poll_transmit().is_none());
    assert!(s.is_finished());
}

#[test]
fn verdict_timeout_sends_fail() {
    let (mut s, t0) = start(ServerConfig {
        verdict_timeout: Duration::from_secs(3),
        ..ServerConfig::default()
    });
    let r = s.poll_transmit().unwrap();
    feed_server(&mut s, t0, &user_pw(r.identifier, "u", "p")).unwrap();
    let c = creds(&mut s);
    s.handle_timeout(t0 + Duration::from_secs(3));
    let set = s.poll_transmit().unwrap();
    assert_eq!(status_of(&set), XauthStatus::Fail);
    // A late verdict is refused.
    assert!(s.verdict(t0, c.id, Verdict::Accept).is_err());
    feed_server(&mut s, t0, &ack(set.identifier)).unwrap();
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Finished(Outcome::Failed {
            user_name: Some(b"u".to_vec()),
            reason: FailReason::VerdictTimeout
        }))
    );
}

#[test]
fn unacknowledged_ok_is_a_failure() {
    let (mut s, t0) = start(ServerConfig {
        ack_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    });
    let r = s.poll_transmit().unwrap();
    feed_server(&mut s, t0, &user_pw(r.identifier, "u", "p")).unwrap();
    let c = creds(&mut s);
    s.verdict(t0, c.id, Verdict::Accept).unwrap();
    s.poll_transmit().unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    s.handle_timeout(t0 + Duration::from_secs(2));
    let Some(ServerEvent::Finished(o)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(
        o,
        Outcome::Failed {
            user_name: Some(b"u".to_vec()),
            reason: FailReason::AckTimeout
        }
    );
}

#[test]
fn challenge_and_next_pin_rounds_for_token_users() {
    let (mut s, t0) = start(ServerConfig::default());
    let mut c = XauthClient::new(Duration::from_secs(30));
    let r = s.poll_transmit().unwrap();
    feed_server(&mut s, t0, &user_pw(r.identifier, "tok", "1234")).unwrap();
    let c1 = creds(&mut s);
    s.verdict(
        t0,
        c1.id,
        Verdict::Challenge {
            message: b"Enter the next code".to_vec(),
            challenge: Some(b"77 seed".to_vec()),
        },
    )
    .unwrap();
    let rq = s.poll_transmit().unwrap();
    assert_eq!(
        kinds(&rq),
        [XAUTH_TYPE, XAUTH_CHALLENGE, XAUTH_ANSWER, XAUTH_MESSAGE]
    );
    feed_client(&mut c, t0, &rq).unwrap();
    let Some(ClientEvent::Prompt(p)) = c.poll_event() else {
        panic!()
    };
    assert_eq!(p.message.as_deref(), Some(&b"Enter the next code"[..]));
    assert_eq!(p.challenge.as_deref(), Some(&b"77 seed"[..]));
    assert!(p.wants.answer && !p.wants.password && !p.wants.user_name);
    c.answer(
        t0,
        p.identifier,
        Answer {
            answer: Some(Secret::from("556677")),
            ..Answer::default()
        },
    )
    .unwrap();
    feed_server(&mut s, t0, &c.poll_transmit().unwrap()).unwrap();
    let c2 = creds(&mut s);
    assert_eq!(c2.round, Round::Challenge);
    assert_eq!(c2.user_name, b"tok", "the user of the first round");
    assert_eq!(c2.answer, Some(Secret::from("556677")));

    s.verdict(
        t0,
        c2.id,
        Verdict::NextPin {
            message: b"New PIN:".to_vec(),
        },
    )
    .unwrap();
    let rq = s.poll_transmit().unwrap();
    assert_eq!(kinds(&rq), [XAUTH_TYPE, XAUTH_NEXT_PIN, XAUTH_MESSAGE]);
    feed_client(&mut c, t0, &rq).unwrap();
    let Some(ClientEvent::Prompt(p)) = c.poll_event() else {
        panic!()
    };
    assert!(p.wants.next_pin);
    // Leaving out what was asked is refused by the client.
    assert!(matches!(
        c.answer(t0, p.identifier, Answer::default()),
        Err(XauthError::MissingAttribute {
            kind: XAUTH_NEXT_PIN,
            ..
        })
    ));
    c.answer(
        t0,
        p.identifier,
        Answer {
            next_pin: Some(Secret::from("9999")),
            ..Answer::default()
        },
    )
    .unwrap();
    feed_server(&mut s, t0, &c.poll_transmit().unwrap()).unwrap();
    let c3 = creds(&mut s);
    assert_eq!(c3.round, Round::NextPin);
    assert_eq!(c3.next_pin, Some(Secret::from("9999")));
    s.verdict(t0, c3.id, Verdict::Accept).unwrap();
    assert_eq!(status_of(&s.poll_transmit().unwrap()), XauthStatus::Ok);
}

#[test]
fn extra_rounds_are_bounded() {
    let (mut s, t0) = start(ServerConfig {
        max_extra_rounds: 2,
        ..ServerConfig::default()
    });
    let r = s.poll_transmit().unwrap();
    feed_server(&mut s, t0, &user_pw(r.identifier, "u", "p")).unwrap();
    let mut id = creds(&mut s).id;
    for _ in 0..2 {
        s.verdict(
            t0,
            id,
            Verdict::Challenge {
                message: b"again".to_vec(),
                challenge: None,
            },
        )
        .unwrap();
        let rq = s.poll_transmit().unwrap();
        let a = reply(
            rq.identifier,
            vec![XauthAttribute::Answer(Secret::from("x"))],
        );
        feed_server(&mut s, t0, &a).unwrap();
        id = creds(&mut s).id;
    }
    s.verdict(
        t0,
        id,
        Verdict::Challenge {
            message: b"again".to_vec(),
            challenge: None,
        },
    )
    .unwrap();
    let set = s.poll_transmit().unwrap();
    assert_eq!(status_of(&set), XauthStatus::Fail);
    feed_server(&mut s, t0, &ack(set.identifier)).unwrap();
    assert!(matches!(
        s.poll_event(),
        Some(ServerEvent::Finished(Outcome::Failed {
            reason: FailReason::TooManyRounds,
            ..
        }))
    ));
}

#[test]
fn client_cancel_ends_the_dialogue() {
    let (mut s, t0) = start(ServerConfig::default());
    let mut c = XauthClient::new(Duration::from_secs(30));
    feed_client(&mut c, t0, &s.poll_transmit().unwrap()).unwrap();
    let Some(ClientEvent::Prompt(p)) = c.poll_event() else {
        panic!()
    };
    assert!(c.cancel(t0, p.identifier ^ 1).is_err());
    c.cancel(t0, p.identifier).unwrap();
    let rep = c.poll_transmit().unwrap();
    assert_eq!(kinds(&rep), [XAUTH_STATUS]);
    feed_server(&mut s, t0, &rep).unwrap();
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Finished(Outcome::Failed {
            user_name: None,
            reason: FailReason::ClientCancelled
        }))
    );
    assert!(s.poll_transmit().is_none());
    assert!(s.is_finished());
}

#[test]
fn otp_type_asks_for_a_passcode() {
    let (mut s, t0) = start(ServerConfig {
        xauth_type: XauthType::Otp,
        prompt: Some(b"Token:".to_vec()),
        ..ServerConfig::default()
    });
    let r = s.poll_transmit().unwrap();
    assert_eq!(
        kinds(&r),
        [XAUTH_TYPE, XAUTH_USER_NAME, XAUTH_PASSCODE, XAUTH_MESSAGE]
    );
    let mut c = XauthClient::new(Duration::from_secs(30));
    feed_client(&mut c, t0, &r).unwrap();
    let Some(ClientEvent::Prompt(p)) = c.poll_event() else {
        panic!()
    };
    assert_eq!(p.xauth_type, XauthType::Otp);
    assert!(p.wants.passcode && p.wants.user_name && !p.wants.password);
    c.answer(
        t0,
        p.identifier,
        Answer {
            user_name: Some(b"u".to_vec()),
            passcode: Some(Secret::from("123456")),
            ..Answer::default()
        },
    )
    .unwrap();
    let rep = c.poll_transmit().unwrap();
    // A non-generic type is named in the REPLY.
    assert_eq!(kinds(&rep), [XAUTH_TYPE, XAUTH_USER_NAME, XAUTH_PASSCODE]);
    feed_server(&mut s, t0, &rep).unwrap();
    let cr = creds(&mut s);
    assert_eq!(cr.passcode, Some(Secret::from("123456")));
    assert_eq!(cr.password, None);
}

#[test]
fn client_refuses_what_it_cannot_do() {
    let t0 = Instant::now();
    let mut c = XauthClient::new(Duration::from_secs(30));
    let chap = OwnedConfigPayload {
        cfg_type: CfgType::Request,
        identifier: 1,
        attributes: vec![OwnedAttribute::basic(XAUTH_TYPE, 1)],
    };
    assert_eq!(
        feed_client(&mut c, t0, &chap),
        Err(XauthError::UnsupportedXauthType(1))
    );
    let no_status = OwnedConfigPayload {
        cfg_type: CfgType::Set,
        identifier: 2,
        attributes: vec![],
    };
    assert!(matches!(
        feed_client(&mut c, t0, &no_status),
        Err(XauthError::MissingAttribute {
            kind: XAUTH_STATUS,
            ..
        })
    ));
    let stray_ack = ack(3);
    assert!(feed_client(&mut c, t0, &stray_ack)
        .unwrap_err()
        .is_silent_drop());
    assert!(
        c.answer(t0, 1, Answer::default()).is_err(),
        "no prompt pending"
    );
    // STATUS as a 4-byte TLV (some gateways) is understood.
    let set = OwnedConfigPayload {
        cfg_type: CfgType::Set,
        identifier: 4,
        attributes: vec![OwnedAttribute::variable(XAUTH_STATUS, vec![0, 0, 0, 1])],
    };
    feed_client(&mut c, t0, &set).unwrap();
    assert_eq!(c.poll_event(), Some(ClientEvent::Finished { ok: true }));
    let a = c.poll_transmit().unwrap();
    assert_eq!((a.cfg_type, a.identifier), (CfgType::Ack, 4));
}

#[test]
fn client_times_out_waiting_for_the_gateway() {
    let t0 = Instant::now();
    let mut c = XauthClient::new(Duration::from_secs(5));
    assert_eq!(c.poll_timeout(), None);
    let rq = OwnedConfigPayload {
        cfg_type: CfgType::Request,
        identifier: 9,
        attributes: to_owned_list(&[
            XauthAttribute::UserName(vec![]),
            XauthAttribute::UserPassword(Secret::new(vec![])),
        ]),
    };
    feed_client(&mut c, t0, &rq).unwrap();
    c.poll_event().unwrap();
    c.answer(
        t0,
        9,
        Answer {
            user_name: Some(b"u".to_vec()),
            password: Some(Secret::from("p")),
            ..Answer::default()
        },
    )
    .unwrap();
    c.handle_timeout(t0 + Duration::from_secs(4));
    assert!(c.poll_event().is_none());
    c.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(c.poll_event(), Some(ClientEvent::TimedOut));
    assert!(c.is_finished());
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let (mut s, _) = start(ServerConfig::default());
        bytes(&s.poll_transmit().unwrap())
    };
    assert_eq!(run(), run());
    let t0 = Instant::now();
    let mut other = XauthServer::start(ServerConfig::default(), t0, &mut TestRng(2));
    assert_ne!(
        bytes(&other.poll_transmit().unwrap()),
        run(),
        "identifier comes from the RNG"
    );
}

#[test]
fn throttle_refuses_before_asking_aaa() {
    let peer: IpAddr = "192.168.1.2".parse().unwrap();
    let mut th = Throttle::new(ThrottleConfig {
        max_failures: 2,
        ..ThrottleConfig::default()
    });
    let t0 = Instant::now();
    let mut asked_aaa = 0;
    let mut outcomes = Vec::new();
    for _dialogue in 0..3 {
        let mut s = XauthServer::start(
            ServerConfig {
                max_attempts: 1,
                ..ServerConfig::default()
            },
            t0,
            &mut TestRng(4),
        );
        let r = s.poll_transmit().unwrap();
        feed_server(&mut s, t0, &user_pw(r.identifier, "victim", "guess")).unwrap();
        let c = creds(&mut s);
        let ok = match th.check(t0, &c.user_name, peer) {
            Ok(()) => {
                asked_aaa += 1;
                false // the AAA server says no
            }
            Err(Throttled {
                scope: xauth::throttle::Scope::UserSource,
                ..
            }) => false,
            Err(e) => panic!("{e:?}"),
        };
        th.record(t0, &c.user_name, peer, ok);
        s.verdict(t0, c.id, if ok { Verdict::Accept } else { Verdict::Reject })
            .unwrap();
        let set = s.poll_transmit().unwrap();
        feed_server(&mut s, t0, &ack(set.identifier)).unwrap();
        outcomes.push(s.poll_event().unwrap());
    }
    assert_eq!(asked_aaa, 2, "the third try is refused without asking AAA");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        ServerEvent::Finished(Outcome::Failed {
            reason: FailReason::Rejected,
            ..
        })
    )));
}

#[test]
fn local_aaa_group_answers_at_once() {
    let mut users = LocalUsers::new();
    users
        .add_config_line("username cisco_customer password cisco123")
        .unwrap();
    let mut c = AaaClient::new(AaaConfig::new(Protocol::Local, Ipv4Addr::LOCALHOST), users);
    let mut rng = TestRng(1);
    let t0 = Instant::now();
    for (pw, want) in [
        ("cisco123", AuthOutcome::Accept(Default::default())),
        ("nope", AuthOutcome::Reject { message: None }),
    ] {
        let id = c
            .authenticate(
                t0,
                &mut rng,
                AuthRequest {
                    user: b"cisco_customer".to_vec(),
                    password: Secret::from(pw),
                    client_addr: None,
                    radius_state: None,
                },
            )
            .unwrap();
        assert_eq!(
            c.poll_event(),
            Some(AaaEvent::Auth {
                request: id,
                outcome: want
            })
        );
        assert!(c.poll_transmit().is_none());
    }
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn aaa_group_without_servers_is_an_error() {
    let mut c = AaaClient::new(
        AaaConfig::new(Protocol::Radius, Ipv4Addr::LOCALHOST),
        LocalUsers::new(),
    );
    let r = c.authenticate(
        Instant::now(),
        &mut TestRng(1),
        AuthRequest {
            user: b"u".to_vec(),
            password: Secret::from("p"),
            client_addr: None,
            radius_state: None,
        },
    );
    assert_eq!(r, Err(XauthError::NoServer("this AAA group")));
}

#[test]
fn tacacs_group_with_an_empty_key_sends_nothing() {
    // A keyless TACACS+ host would send the password in a clear body: the
    // request fails with a clear error and nothing reaches the wire, for the
    // login and for accounting alike.
    let mut cfg = AaaConfig::new(Protocol::Tacacs, Ipv4Addr::LOCALHOST);
    cfg.servers.push(xauth::aaa::ServerSpec {
        addr: "127.0.0.1:49".parse().unwrap(),
        acct_addr: None,
        key: Secret::new(Vec::new()),
        timeout: Duration::from_secs(5),
    });
    let mut c = AaaClient::new(cfg, LocalUsers::new());
    let r = c.authenticate(
        Instant::now(),
        &mut TestRng(1),
        AuthRequest {
            user: b"u".to_vec(),
            password: Secret::from("p"),
            client_addr: None,
            radius_state: None,
        },
    );
    let want = XauthError::TacacsUnencrypted {
        reason: "no shared key",
    };
    assert_eq!(r, Err(want.clone()));
    assert_eq!(
        want.to_string(),
        "TACACS+ refuses to send an unencrypted body (no shared key): give the aaa-server host a key"
    );
    let acct = xauth::aaa::AcctInfo {
        status: xauth::radius::AcctStatus::Start,
        user: b"u".to_vec(),
        group: None,
        client_addr: "192.0.2.1".parse().unwrap(),
        framed_ip: None,
        service: b"ipsec".to_vec(),
        task_id: 1,
        start_time: 0,
        elapsed_time: None,
        bytes_in: None,
        bytes_out: None,
        packets_in: None,
        packets_out: None,
        class: None,
        terminate_cause: None,
        session_id: None,
    };
    assert_eq!(c.account(Instant::now(), &mut TestRng(1), acct), Err(want));
    assert_eq!(c.poll_transmit(), None);
    assert_eq!(c.pending(), 0);
}

#[test]
fn attribute_list_with_mode_config_neighbours() {
    // A list mixing Xauth and Mode Config attributes keeps the others as Unknown.
    let raw = [0xc0, 0x88, 0, 0, 0x00, 0x01, 0, 0, 0x40, 0x89, 0, 1, b'x'];
    let list = parse_list(isakmp_wire::AttributeIter::new(&raw, 0)).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list[1],
        XauthAttribute::Unknown(Attribute::variable(1, &[]).to_owned_attr())
    );
    let mut out = Vec::new();
    for a in to_owned_list(&list) {
        a.emit(&mut out).unwrap();
    }
    assert_eq!(out, raw);
}

#[test]
fn tacacs_getdata_challenge_is_answered_on_the_same_connection() {
    use std::net::SocketAddr;
    use xauth::aaa::{AaaTransmit, ServerSpec};
    use xauth::tacacs::{self, authen_status, AuthenContinue, AuthenReply, Header, LoginKind};

    let key = Secret::from("k");
    let server = SocketAddr::from(([127, 0, 0, 1], 49));
    let mut cfg = AaaConfig::new(Protocol::Tacacs, Ipv4Addr::LOCALHOST);
    cfg.tacacs_login = LoginKind::Ascii;
    cfg.servers.push(ServerSpec {
        addr: server,
        acct_addr: None,
        key: Secret::from("k"),
        timeout: Duration::from_secs(5),
    });
    let mut c = AaaClient::new(cfg, LocalUsers::new());
    let mut rng = TestRng(9);
    let t0 = Instant::now();
    let id = c
        .authenticate(
            t0,
            &mut rng,
            AuthRequest {
                user: b"tok".to_vec(),
                password: Secret::from("pin"),
                client_addr: None,
                radius_state: None,
            },
        )
        .unwrap();
    let Some(AaaTransmit::Stream { conn, to, payload }) = c.poll_transmit() else {
        panic!()
    };
    assert_eq!(to, server);
    let (h, _) = tacacs::open(&payload, &key).unwrap();
    let answer = |seq: u8, status: u8, msg: &[u8]| {
        let body = AuthenReply {
            status,
            flags: 1,
            server_msg: msg.to_vec(),
            data: vec![],
        }
        .emit()
        .unwrap();
        tacacs::seal(Header { seq_no: seq, ..h }, &body, &key).unwrap()
    };
    // The server asks for a token code: the driver gets a Challenge and no deadline runs.
    c.handle_stream(
        t0,
        &mut rng,
        conn,
        &answer(2, authen_status::GETDATA, b"Code: "),
    )
    .unwrap();
    assert_eq!(
        c.poll_event(),
        Some(AaaEvent::Auth {
            request: id,
            outcome: AuthOutcome::Challenge {
                message: Some(b"Code: ".to_vec()),
                radius_state: None
            }
        })
    );
    assert_eq!(c.poll_timeout(), None);
    c.answer_challenge(t0, id, &Secret::from("424242")).unwrap();
    let Some(AaaTransmit::Stream {
        conn: same,
        payload,
        ..
    }) = c.poll_transmit()
    else {
        panic!()
    };
    assert_eq!(same, conn);
    let (h3, body) = tacacs::open(&payload, &key).unwrap();
    assert_eq!(h3.seq_no, 3);
    assert_eq!(AuthenContinue::parse(&body).unwrap().user_msg, b"424242");
    assert!(c.poll_timeout().is_some());
    // PASS arrives split over two reads.
    let pass = answer(4, authen_status::PASS, b"");
    c.handle_stream(t0, &mut rng, conn, &pass[..5]).unwrap();
    assert!(c.poll_event().is_none());
    c.handle_stream(t0, &mut rng, conn, &pass[5..]).unwrap();
    assert_eq!(
        c.poll_event(),
        Some(AaaEvent::Auth {
            request: id,
            outcome: AuthOutcome::Accept(Default::default())
        })
    );
    assert_eq!(c.poll_transmit(), Some(AaaTransmit::Close { conn }));
    assert_eq!(c.pending(), 0);
    // Bytes for a finished connection are refused as stray.
    assert!(c
        .handle_stream(t0, &mut rng, conn, &pass)
        .unwrap_err()
        .is_silent_drop());

    // A second login abandoned while the user is prompted: the connection closes.
    let id2 = c
        .authenticate(
            t0,
            &mut rng,
            AuthRequest {
                user: b"tok".to_vec(),
                password: Secret::from("pin"),
                client_addr: None,
                radius_state: None,
            },
        )
        .unwrap();
    let Some(AaaTransmit::Stream { conn: conn2, .. }) = c.poll_transmit() else {
        panic!()
    };
    assert_ne!(conn2, conn);
    c.cancel(id2).unwrap();
    assert_eq!(c.poll_transmit(), Some(AaaTransmit::Close { conn: conn2 }));
    assert_eq!(c.pending(), 0);
    assert_eq!(c.cancel(id2), Err(XauthError::UnknownRequest(id2.0)));
}

/// The client's REPLY holds the user's secrets only in zeroizing, redacting
/// types, from the prompt's answer to the bytes on the wire; the server's
/// copies of what it received are `Secret`s.
#[test]
fn client_reply_secrets_are_zeroizing_and_redacted() {
    fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    assert_zeroize_on_drop::<ZeroizingPayload>();

    let (mut s, t0) = start(ServerConfig::default());
    let mut c = XauthClient::new(Duration::from_secs(30));
    let req = s.poll_transmit().unwrap();
    // Ask for every secret field the client can fill in.
    let mut asks = req.clone();
    for kind in [XAUTH_PASSCODE, XAUTH_ANSWER, XAUTH_NEXT_PIN] {
        asks.attributes
            .push(OwnedAttribute::variable(kind, Vec::<u8>::new()));
    }
    feed_client(&mut c, t0, &asks).unwrap();
    let Some(ClientEvent::Prompt(p)) = c.poll_event() else {
        panic!("no prompt")
    };
    let secrets = ["pw-cisco123", "passcode-4242", "answer-yes", "pin-9876"];
    c.answer(
        t0,
        p.identifier,
        Answer {
            user_name: Some(b"cisco_customer".to_vec()),
            password: Some(Secret::from(secrets[0])),
            passcode: Some(Secret::from(secrets[1])),
            answer: Some(Secret::from(secrets[2])),
            next_pin: Some(Secret::from(secrets[3])),
            ..Answer::default()
        },
    )
    .unwrap();

    // Debug of the machine holding the queued REPLY, and of the REPLY itself,
    // shows neither the text nor the bytes of any secret.
    let redacted = |out: &str| {
        for secret in secrets {
            let bytes = format!("{:?}", secret.as_bytes());
            let hex = format!("{:02x?}", secret.as_bytes());
            assert!(!out.contains(secret), "{secret} in {out}");
            assert!(!out.contains(bytes.trim_matches(['[', ']'])), "{out}");
            assert!(!out.contains(hex.trim_matches(['[', ']'])), "{out}");
        }
    };
    redacted(&format!("{c:?}"));
    redacted(&format!("{c:#?}"));
    let rep = c.poll_transmit_zeroizing().unwrap();
    redacted(&format!("{rep:?}"));
    assert!(format!("{rep:?}").contains("XAUTH_USER_PASSWORD(<redacted>)"));
    assert_eq!(
        rep.attributes().iter().map(|a| a.kind).collect::<Vec<_>>(),
        [
            XAUTH_USER_NAME,
            XAUTH_USER_PASSWORD,
            XAUTH_PASSCODE,
            XAUTH_ANSWER,
            XAUTH_NEXT_PIN
        ]
    );

    // The wire bytes come out in a zeroizing buffer of the exact length, and the
    // server reads them into `Secret`s.
    let wire: zeroize::Zeroizing<Vec<u8>> = rep.to_bytes().unwrap();
    assert_eq!(wire.len(), rep.wire_len());
    s.handle(t0, &ConfigPayload::parse(&wire, 0).unwrap())
        .unwrap();
    let cr = creds(&mut s);
    assert_eq!(cr.password, Some(Secret::from(secrets[0])));
    assert_eq!(cr.passcode, Some(Secret::from(secrets[1])));
    assert_eq!(cr.answer, Some(Secret::from(secrets[2])));
    assert_eq!(cr.next_pin, Some(Secret::from(secrets[3])));
    redacted(&format!("{cr:?}"));
    redacted(&format!("{s:?}"));

    // What the wrapper wipes on drop: every value, in place.
    let mut rep = rep;
    zeroize::Zeroize::zeroize(&mut rep);
    for a in rep.attributes() {
        if let isakmp_wire::OwnedAttrValue::Variable(v) = &a.value {
            assert!(v.iter().all(|b| *b == 0), "{}", kind_name(a.kind));
        }
    }

    // The plain payload of `poll_transmit` (kept for compatibility) can be wiped by
    // the caller once it is on the wire.
    let mut c2 = XauthClient::new(Duration::from_secs(30));
    feed_client(&mut c2, t0, &req).unwrap();
    let Some(ClientEvent::Prompt(p)) = c2.poll_event() else {
        panic!("no prompt")
    };
    c2.answer(
        t0,
        p.identifier,
        Answer {
            user_name: Some(b"u".to_vec()),
            password: Some(Secret::from(secrets[0])),
            ..Answer::default()
        },
    )
    .unwrap();
    let mut plain = c2.poll_transmit().unwrap();
    assert_eq!(
        plain.attributes[1],
        OwnedAttribute::variable(XAUTH_USER_PASSWORD, secrets[0].as_bytes().to_vec())
    );
    xauth::payload::wipe_payload(&mut plain);
    assert_eq!(
        plain.attributes[1],
        OwnedAttribute::variable(XAUTH_USER_PASSWORD, vec![0; secrets[0].len()])
    );
}
