//! The RADIUS client against a real FreeRADIUS 3.2, started by the test on
//! unique loopback ports with its own copy of the Debian configuration.
#![allow(clippy::disallowed_types)] // IO in a test: runs FreeRADIUS on loopback from a configuration in a temp dir
#![allow(
    clippy::disallowed_methods,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // tests use the clock and may panic

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    drive, free_ports, require_tool, wait_for_text, DriveLog, ProcGuard, TempDir, TestRng,
};
use testkit::freeradius::{self, edit};
use xauth::aaa::{
    AaaClient, AaaConfig, AaaEvent, AcctInfo, AuthOutcome, AuthRequest, Protocol, ServerSpec,
};
use xauth::radius::AcctStatus;
use xauth::{LocalUsers, Secret, XauthError};

struct FreeRadius {
    _proc: ProcGuard,
    auth: SocketAddr,
    acct: SocketAddr,
    dir: TempDir,
}

fn start_freeradius() -> FreeRadius {
    start_freeradius_with(true)
}

/// `message_authenticator`: configure the server to send one in every reply (the
/// stock Debian 3.2.1 configuration does not).
fn start_freeradius_with(message_authenticator: bool) -> FreeRadius {
    require_tool("freeradius", &["-v"]);
    require_tool("timeout", &["--version"]);
    let dir = TempDir::new("radius");
    let raddb = if message_authenticator {
        freeradius::copy_config(dir.path(), "log", "run")
    } else {
        freeradius::copy_config_stock(dir.path(), "log", "run")
    };
    let base = free_ports(5);
    // Listen on loopback only, on our ports (auth, acct, and the two former IPv6
    // listeners moved to loopback on ports of their own).
    freeradius::listen_on(&raddb, "127.0.0.1", base);
    edit(&raddb.join("sites-enabled/inner-tunnel"), |s| {
        s.replace("port = 18120", &format!("port = {}", base + 4))
    });
    edit(&raddb.join("clients.conf"), |s| {
        s.replace("secret = testing123", "secret = secretkey")
    });
    // Users: the seed's Xauth user, and one with a RADIUS-assigned address.
    edit(&raddb.join("mods-config/files/authorize"), |s| {
        format!(
            "token_user State == \"token-round-2\", Cleartext-Password := \"556677\"\n\
             \tReply-Message = \"token accepted\"\n\n\
             token_user Cleartext-Password := \"1234\", Response-Packet-Type := Access-Challenge\n\
             \tReply-Message = \"Enter token code\", State = \"token-round-2\"\n\n\
             cisco_customer Cleartext-Password := \"cisco123\"\n\n\
             framed_user Cleartext-Password := \"framed123\"\n\
             \tFramed-IP-Address = 10.1.1.77,\n\
             \tFramed-IP-Netmask = 255.255.255.0,\n\
             \tReply-Message = \"welcome\"\n\n{s}"
        )
    });
    let log = dir.path().join("radiusd.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("timeout")
        .args(["90", "freeradius", "-X", "-l", "stdout", "-d"])
        .arg(&raddb)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("start freeradius");
    let proc = ProcGuard(child);
    wait_for_text(&log, freeradius::READY, Duration::from_secs(30));
    FreeRadius {
        _proc: proc,
        auth: SocketAddr::from(([127, 0, 0, 1], base)),
        acct: SocketAddr::from(([127, 0, 0, 1], base + 1)),
        dir,
    }
}

fn client_for(servers: Vec<ServerSpec>, retries: u32) -> AaaClient {
    client_with(servers, retries, true)
}

fn client_with(servers: Vec<ServerSpec>, retries: u32, message_authenticator: bool) -> AaaClient {
    let mut cfg = AaaConfig::new(Protocol::Radius, Ipv4Addr::LOCALHOST);
    cfg.servers = servers;
    cfg.radius_retries = retries;
    cfg.radius_message_authenticator = message_authenticator;
    AaaClient::new(cfg, LocalUsers::new())
}

fn spec(r: &FreeRadius, key: &str) -> ServerSpec {
    ServerSpec {
        addr: r.auth,
        acct_addr: Some(r.acct),
        key: Secret::from(key),
        timeout: Duration::from_secs(2),
    }
}

fn login(user: &str, pw: &str) -> AuthRequest {
    AuthRequest {
        user: user.as_bytes().to_vec(),
        password: Secret::from(pw),
        client_addr: Some("192.168.1.2".parse().unwrap()),
        radius_state: None,
    }
}

fn auth_outcome(c: &mut AaaClient, req: AuthRequest, limit: Duration) -> (AuthOutcome, DriveLog) {
    let mut rng = TestRng(7);
    let id = c
        .authenticate(std::time::Instant::now(), &mut rng, req)
        .unwrap();
    let mut log = DriveLog::default();
    match drive(c, &mut rng, limit, &mut log) {
        Some(AaaEvent::Auth { request, outcome }) => {
            assert_eq!(request, id);
            (outcome, log)
        }
        other => panic!("no authentication result: {other:?}, log {log:?}"),
    }
}

#[test]
fn accept_and_reject() {
    let r = start_freeradius();
    let mut c = client_for(vec![spec(&r, "secretkey")], 3);
    let (o, log) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Accept(Default::default()));
    assert_eq!(log.datagrams_sent.len(), 1, "answered on the first try");
    let (o, _) = auth_outcome(
        &mut c,
        login("cisco_customer", "wrong"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Reject { message: None });
    let (o, _) = auth_outcome(&mut c, login("nobody", "cisco123"), Duration::from_secs(10));
    assert_eq!(o, AuthOutcome::Reject { message: None });
    assert_eq!(c.pending(), 0);
    // The server saw our Message-Authenticator and NAS-Port-Type.
    let log = std::fs::read_to_string(r.dir.path().join("radiusd.log")).unwrap();
    assert!(
        log.contains("Message-Authenticator"),
        "server log lacks Message-Authenticator"
    );
    assert!(
        log.contains("NAS-Port-Type = Virtual"),
        "server log lacks NAS-Port-Type"
    );
}

#[test]
fn framed_ip_from_access_accept() {
    let r = start_freeradius();
    let mut c = client_for(vec![spec(&r, "secretkey")], 3);
    let (o, _) = auth_outcome(
        &mut c,
        login("framed_user", "framed123"),
        Duration::from_secs(10),
    );
    let AuthOutcome::Accept(info) = o else {
        panic!("expected accept, got {o:?}")
    };
    assert_eq!(info.framed_ip, Some(Ipv4Addr::new(10, 1, 1, 77)));
    assert_eq!(info.framed_netmask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(info.reply_message.as_deref(), Some(&b"welcome"[..]));
}

#[test]
fn wrong_shared_secret_fails_verification() {
    let r = start_freeradius();
    let wrong = || ServerSpec {
        timeout: Duration::from_millis(1500),
        ..spec(&r, "not-the-key")
    };
    // Without a Message-Authenticator (as the PIX 6.3 sent them) FreeRADIUS
    // answers, with its own key: the password it recovers is garbage, so it
    // rejects, and our check of the Response Authenticator fails. Every reply is
    // dropped and the request ends unreachable after its retries.
    let mut c = client_with(vec![wrong()], 2, false);
    let (o, log) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Unreachable);
    assert_eq!(log.datagrams_sent.len(), 2, "one retransmission");
    // (FreeRADIUS delays a reject by 1 s and answers a retransmission from its
    // cache, so one or two replies arrive.)
    assert!(!log.dropped_replies.is_empty(), "FreeRADIUS sent no reply");
    for e in &log.dropped_replies {
        assert_eq!(
            *e,
            XauthError::BadAuthenticator {
                what: "Response Authenticator"
            }
        );
    }
    assert!(log.dropped_replies.iter().all(|e| e.is_silent_drop()));
    // With a Message-Authenticator, FreeRADIUS itself finds our key wrong and
    // stays silent: the request times out the same way.
    let mut c = client_with(vec![wrong()], 1, true);
    let (o, log) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Unreachable);
    assert!(log.dropped_replies.is_empty());
    let server_log = std::fs::read_to_string(r.dir.path().join("radiusd.log")).unwrap();
    assert!(
        server_log.contains("invalid Message-Authenticator"),
        "FreeRADIUS did not report our Message-Authenticator as invalid"
    );
}

#[test]
fn timeout_when_nothing_listens_then_failover_to_the_next_server() {
    let r = start_freeradius();
    let dead = free_ports(1);
    let dead_spec = ServerSpec {
        addr: SocketAddr::from(([127, 0, 0, 1], dead)),
        acct_addr: None,
        key: Secret::from("secretkey"),
        timeout: Duration::from_millis(300),
    };
    // Only a dead server: 3 transmissions at 300 ms, then Unreachable.
    let mut c = client_for(vec![dead_spec], 3);
    let t0 = std::time::Instant::now();
    let (o, log) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Unreachable);
    assert_eq!(log.datagrams_sent.len(), 3);
    assert!(
        log.datagrams_sent.windows(2).all(|w| w[0] == w[1]),
        "retransmissions are identical"
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    // Dead server first, real one second: tried in order, accepted by the second.
    let dead_spec = ServerSpec {
        addr: SocketAddr::from(([127, 0, 0, 1], dead)),
        acct_addr: None,
        key: Secret::from("secretkey"),
        timeout: Duration::from_millis(300),
    };
    let mut c = client_for(vec![dead_spec, spec(&r, "secretkey")], 2);
    let (o, log) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Accept(Default::default()));
    let to: Vec<_> = log.datagrams_sent.iter().map(|(a, _)| a.port()).collect();
    assert_eq!(to, vec![dead, dead, r.auth.port()]);
}

#[test]
fn accounting_start_stop_in_detail_file() {
    let r = start_freeradius();
    let mut c = client_for(vec![spec(&r, "secretkey")], 3);
    let mut rng = TestRng(11);
    let mut info = AcctInfo {
        status: AcctStatus::Start,
        user: b"cisco_customer".to_vec(),
        group: Some(b"Default Group".to_vec()),
        client_addr: "10.89.129.200".parse().unwrap(),
        framed_ip: Some(Ipv4Addr::new(10, 1, 1, 1)),
        service: b"telnet".to_vec(),
        task_id: 0x5a17,
        start_time: 1_090_941_459,
        elapsed_time: None,
        bytes_in: None,
        bytes_out: None,
        packets_in: None,
        packets_out: None,
        class: None,
        terminate_cause: None,
        session_id: None,
    };
    for status in [AcctStatus::Start, AcctStatus::Stop] {
        info.status = status;
        if status == AcctStatus::Stop {
            info.elapsed_time = Some(15);
            info.bytes_in = Some(99);
            info.bytes_out = Some(1879);
        }
        let id = c
            .account(std::time::Instant::now(), &mut rng, info.clone())
            .unwrap();
        let mut log = DriveLog::default();
        let ev = drive(&mut c, &mut rng, Duration::from_secs(10), &mut log);
        assert_eq!(
            ev,
            Some(AaaEvent::Accounting {
                request: id,
                ok: true
            }),
            "{log:?}"
        );
        assert_eq!(log.datagrams_sent[0].0, r.acct);
    }
    let dir = r.dir.path().join("log/radacct/127.0.0.1");
    let detail: String = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no detail dir {}: {e}", dir.display()))
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(detail.contains("Acct-Status-Type = Start"), "{detail}");
    assert!(detail.contains("Acct-Status-Type = Stop"), "{detail}");
    assert_eq!(
        detail.matches("Acct-Session-Id = \"00005A17\"").count(),
        2,
        "{detail}"
    );
    assert!(
        detail.contains("User-Name = \"cisco_customer\""),
        "{detail}"
    );
    assert!(detail.contains("Acct-Input-Octets = 99"), "{detail}");
    assert!(detail.contains("Acct-Output-Octets = 1879"), "{detail}");
    assert!(detail.contains("Acct-Session-Time = 15"), "{detail}");
    assert!(detail.contains("Framed-IP-Address = 10.1.1.1"), "{detail}");
    assert!(detail.contains("NAS-Port-Type = Virtual"), "{detail}");
}

#[test]
fn xauth_dialogue_with_a_radius_token_challenge() {
    // Gateway, VPN client and RADIUS client together: the password round gets an
    // Access-Challenge, which becomes an Xauth challenge round; the answer goes back
    // with the State and is accepted.
    use isakmp_wire::{ConfigPayload, OwnedConfigPayload};
    use xauth::{
        Answer, ClientEvent, Outcome, Round, ServerConfig, ServerEvent, Verdict, XauthClient,
        XauthServer,
    };
    fn pass<F: FnOnce(&ConfigPayload<'_>)>(p: OwnedConfigPayload, f: F) {
        let mut b = Vec::new();
        p.emit(&mut b).unwrap();
        f(&ConfigPayload::parse(&b, 0).unwrap());
    }
    let r = start_freeradius();
    let mut aaa = client_for(vec![spec(&r, "secretkey")], 3);
    let mut rng = TestRng(21);
    let now = std::time::Instant::now();
    let mut gw = XauthServer::start(ServerConfig::default(), now, &mut rng);
    let mut vpn = XauthClient::new(Duration::from_secs(30));

    let mut ask_radius = |user: &[u8], pw: &Secret, state: Option<Vec<u8>>| {
        let id = aaa
            .authenticate(
                now,
                &mut rng,
                AuthRequest {
                    user: user.to_vec(),
                    password: pw.duplicate(),
                    client_addr: None,
                    radius_state: state,
                },
            )
            .unwrap();
        let mut log = DriveLog::default();
        match drive(&mut aaa, &mut rng, Duration::from_secs(10), &mut log) {
            Some(AaaEvent::Auth { request, outcome }) if request == id => outcome,
            other => panic!("{other:?} {log:?}"),
        }
    };

    // Password round.
    pass(gw.poll_transmit().unwrap(), |m| vpn.handle(now, m).unwrap());
    let Some(ClientEvent::Prompt(p)) = vpn.poll_event() else {
        panic!()
    };
    vpn.answer(
        now,
        p.identifier,
        Answer {
            user_name: Some(b"token_user".to_vec()),
            password: Some(Secret::from("1234")),
            ..Answer::default()
        },
    )
    .unwrap();
    pass(vpn.poll_transmit().unwrap(), |m| gw.handle(now, m).unwrap());
    let Some(ServerEvent::Credentials(c1)) = gw.poll_event() else {
        panic!()
    };
    let o1 = ask_radius(&c1.user_name, c1.password.as_ref().unwrap(), None);
    let AuthOutcome::Challenge {
        message,
        radius_state,
    } = &o1
    else {
        panic!("expected an Access-Challenge, got {o1:?}")
    };
    assert_eq!(message.as_deref(), Some(&b"Enter token code"[..]));
    assert_eq!(radius_state.as_deref(), Some(&b"token-round-2"[..]));
    let state = radius_state.clone();
    gw.verdict(now, c1.id, o1.to_verdict()).unwrap();

    // Challenge round: the client shows the server's text and answers.
    pass(gw.poll_transmit().unwrap(), |m| vpn.handle(now, m).unwrap());
    let Some(ClientEvent::Prompt(p)) = vpn.poll_event() else {
        panic!()
    };
    assert_eq!(p.message.as_deref(), Some(&b"Enter token code"[..]));
    assert!(p.wants.answer);
    vpn.answer(
        now,
        p.identifier,
        Answer {
            answer: Some(Secret::from("556677")),
            ..Answer::default()
        },
    )
    .unwrap();
    pass(vpn.poll_transmit().unwrap(), |m| gw.handle(now, m).unwrap());
    let Some(ServerEvent::Credentials(c2)) = gw.poll_event() else {
        panic!()
    };
    assert_eq!(
        (c2.round, c2.user_name.as_slice()),
        (Round::Challenge, &b"token_user"[..])
    );
    let o2 = ask_radius(&c2.user_name, c2.answer.as_ref().unwrap(), state);
    let AuthOutcome::Accept(info) = &o2 else {
        panic!("expected accept, got {o2:?}")
    };
    assert_eq!(info.reply_message.as_deref(), Some(&b"token accepted"[..]));
    assert_eq!(o2.to_verdict(), Verdict::Accept);
    gw.verdict(now, c2.id, o2.to_verdict()).unwrap();

    // SET(OK) / ACK.
    pass(gw.poll_transmit().unwrap(), |m| vpn.handle(now, m).unwrap());
    assert_eq!(vpn.poll_event(), Some(ClientEvent::Finished { ok: true }));
    pass(vpn.poll_transmit().unwrap(), |m| gw.handle(now, m).unwrap());
    assert_eq!(
        gw.poll_event(),
        Some(ServerEvent::Finished(Outcome::Authenticated {
            user_name: b"token_user".to_vec()
        }))
    );
}

#[test]
fn stock_freeradius_without_message_authenticator_is_refused_with_a_clear_error() {
    // FreeRADIUS 3.2.1 as Debian ships it puts no Message-Authenticator in an
    // Access-Accept to a PAP request: refused at once (Blast-RADIUS), with an
    // error that says what to change, not after timeouts.
    let r = start_freeradius_with(false);
    let mut c = client_for(vec![spec(&r, "secretkey")], 3);
    let t0 = std::time::Instant::now();
    let (o, log) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Unreachable);
    assert_eq!(log.datagrams_sent.len(), 1, "refused on the first reply");
    assert!(t0.elapsed() < Duration::from_secs(2), "before the timeout");
    assert_eq!(
        log.dropped_replies,
        vec![XauthError::MissingMessageAuthenticator {
            group: String::new(),
            server: r.auth.ip(),
            reply: "Access-Accept",
        }]
    );
    assert_eq!(c.refused_without_message_authenticator(), 1);
    // The operator's explicit opt-out for such a server still works.
    let mut cfg = AaaConfig::new(Protocol::Radius, Ipv4Addr::LOCALHOST);
    cfg.servers = vec![spec(&r, "secretkey")];
    cfg.radius_require_message_authenticator = false;
    let mut c = AaaClient::new(cfg, LocalUsers::new());
    let (o, _) = auth_outcome(
        &mut c,
        login("cisco_customer", "cisco123"),
        Duration::from_secs(10),
    );
    assert_eq!(o, AuthOutcome::Accept(Default::default()));
}
