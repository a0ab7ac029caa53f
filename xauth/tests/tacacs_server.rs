//! The TACACS+ client against the scapy-based TACACS+ server of the interop kit
//! (`shared/interop/tacacs-scapy-server.py`: packet coding and obfuscation by
//! scapy's independent implementation), started by the test on a unique port.
#![allow(clippy::disallowed_types)] // IO in a test: starts the scapy TACACS+ server and reads its files
#![allow(
    clippy::disallowed_methods,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // tests use the clock and may panic

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    drive, free_ports, require_tool, wait_for_text, DriveLog, ProcGuard, TempDir, TestRng,
};
use xauth::aaa::{
    tacacs_record, AaaClient, AaaConfig, AaaEvent, AcctInfo, AuthOutcome, AuthRequest, Protocol,
    ServerSpec,
};
use xauth::radius::AcctStatus;
use xauth::tacacs::{acct_flag, LoginKind, TacacsAccounting};
use xauth::{LocalUsers, Secret};

struct Server {
    _proc: ProcGuard,
    addr: SocketAddr,
    log: PathBuf,
    _dir: TempDir,
}

fn start_server() -> Server {
    require_tool("python3", &["-c", "import scapy.contrib.tacacs"]);
    require_tool("timeout", &["--version"]);
    let script = testkit::shared::interop("tacacs-scapy-server.py");
    let dir = TempDir::new("tacacs");
    let port = free_ports(1);
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("timeout")
        .args(["60", "python3"])
        .arg(&script)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--key", "secretkey", "--user", "cisco_customer:cisco123"])
        .args(["--timeout", "55"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("start the TACACS+ server");
    let proc = ProcGuard(child);
    wait_for_text(&log, "listening", Duration::from_secs(30));
    Server {
        _proc: proc,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
        _dir: dir,
    }
}

fn client(servers: Vec<SocketAddr>, key: &str, kind: LoginKind) -> AaaClient {
    let mut cfg = AaaConfig::new(Protocol::Tacacs, Ipv4Addr::new(10, 89, 129, 194));
    cfg.tacacs_login = kind;
    cfg.servers = servers
        .into_iter()
        .map(|addr| ServerSpec {
            addr,
            acct_addr: None,
            key: Secret::from(key),
            timeout: Duration::from_secs(2),
        })
        .collect();
    AaaClient::new(cfg, LocalUsers::new())
}

fn login(c: &mut AaaClient, user: &str, pw: &str) -> (AuthOutcome, DriveLog) {
    let mut rng = TestRng(3);
    let id = c
        .authenticate(
            Instant::now(),
            &mut rng,
            AuthRequest {
                user: user.as_bytes().to_vec(),
                password: Secret::from(pw),
                client_addr: Some("10.89.129.200".parse().unwrap()),
                radius_state: None,
            },
        )
        .unwrap();
    let mut log = DriveLog::default();
    match drive(c, &mut rng, Duration::from_secs(10), &mut log) {
        Some(AaaEvent::Auth { request, outcome }) => {
            assert_eq!(request, id);
            (outcome, log)
        }
        other => panic!("no result: {other:?} {log:?}"),
    }
}

#[test]
fn ascii_login_pass_and_wrong_password() {
    let s = start_server();
    let mut c = client(vec![s.addr], "secretkey", LoginKind::Ascii);
    let (o, log) = login(&mut c, "cisco_customer", "cisco123");
    assert_eq!(o, AuthOutcome::Accept(Default::default()));
    // START, then CONTINUE with the password after the server's GETPASS.
    assert_eq!((log.connections_opened, log.stream_writes), (1, 2));
    let (o, _) = login(&mut c, "cisco_customer", "wrong");
    assert_eq!(o, AuthOutcome::Reject { message: None });
    let server = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        server.contains("ASCII user='cisco_customer' -> PASS"),
        "{server}"
    );
    assert!(
        server.contains("ASCII user='cisco_customer' -> FAIL"),
        "{server}"
    );
    assert_eq!(c.pending(), 0);
}

#[test]
fn pap_login_pass_and_wrong_password() {
    let s = start_server();
    let mut c = client(vec![s.addr], "secretkey", LoginKind::Pap);
    let (o, log) = login(&mut c, "cisco_customer", "cisco123");
    assert_eq!(o, AuthOutcome::Accept(Default::default()));
    assert_eq!((log.connections_opened, log.stream_writes), (1, 1));
    let (o, _) = login(&mut c, "cisco_customer", "wrong");
    assert_eq!(o, AuthOutcome::Reject { message: None });
    let (o, _) = login(&mut c, "someone_else", "cisco123");
    assert_eq!(o, AuthOutcome::Reject { message: None });
    let server = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        server.contains("PAP user='cisco_customer' -> PASS"),
        "{server}"
    );
    assert!(
        server.contains("PAP user='cisco_customer' -> FAIL"),
        "{server}"
    );
    // Single-connection mode stays off, minor version 1 for PAP.
    assert!(server.contains("ver=0xc1 seq=1"), "{server}");
}

#[test]
fn dead_server_then_live_one_in_order() {
    let s = start_server();
    let dead = SocketAddr::from(([127, 0, 0, 1], free_ports(1)));
    let mut c = client(vec![dead, s.addr], "secretkey", LoginKind::Pap);
    let (o, _) = login(&mut c, "cisco_customer", "cisco123");
    assert_eq!(o, AuthOutcome::Accept(Default::default()));
    let mut c = client(vec![dead], "secretkey", LoginKind::Pap);
    let (o, _) = login(&mut c, "cisco_customer", "cisco123");
    assert_eq!(o, AuthOutcome::Unreachable);
}

#[test]
fn wrong_key_is_never_a_pass() {
    // The server de-obfuscates our START with its own key into garbage and its
    // answer is garbage to us: the login must end without a PASS.
    let s = start_server();
    for kind in [LoginKind::Pap, LoginKind::Ascii] {
        let mut c = client(vec![s.addr], "not-the-key", kind);
        let (o, log) = login(&mut c, "cisco_customer", "cisco123");
        assert_eq!(o, AuthOutcome::Unreachable, "{kind:?} {log:?}");
        assert_eq!(c.pending(), 0);
    }
}

fn record(status: AcctStatus) -> AcctInfo {
    let stop = status != AcctStatus::Start;
    AcctInfo {
        status,
        user: b"cisco_customer".to_vec(),
        group: Some(b"Default Group".to_vec()),
        client_addr: "10.89.129.200".parse().unwrap(),
        framed_ip: None,
        service: b"telnet".to_vec(),
        task_id: 5,
        start_time: 1_090_941_459,
        elapsed_time: stop.then_some(15),
        bytes_in: stop.then_some(99),
        bytes_out: stop.then_some(1879),
        packets_in: None,
        packets_out: None,
        class: None,
        terminate_cause: None,
        session_id: None,
    }
}

#[test]
fn accounting_start_watchdog_stop() {
    let s = start_server();
    let mut c = client(vec![s.addr], "secretkey", LoginKind::Pap);
    let mut rng = TestRng(5);
    for status in [
        AcctStatus::Start,
        AcctStatus::InterimUpdate,
        AcctStatus::Stop,
    ] {
        let id = c.account(Instant::now(), &mut rng, record(status)).unwrap();
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
    }
    let server = std::fs::read_to_string(&s.log).unwrap();
    let acct: Vec<&str> = server
        .lines()
        .filter(|l| l.contains("ACCT user="))
        .collect();
    assert_eq!(acct.len(), 3, "{server}");
    assert!(
        acct.iter().all(|l| l.contains("user=b'cisco_customer'")),
        "{server}"
    );
    // The flags byte as the server decoded it: START 0x02, WATCHDOG 0x08, STOP 0x04.
    assert!(acct[0].ends_with("flags=2"), "{}", acct[0]);
    assert!(acct[1].ends_with("flags=8"), "{}", acct[1]);
    assert!(acct[2].ends_with("flags=4"), "{}", acct[2]);
}

#[test]
fn scapy_decodes_our_accounting_record() {
    // scapy's TACACS+ layer de-obfuscates and parses the STOP record we send;
    // the arguments (which scapy leaves as payload) are split by its arg lengths.
    require_tool("python3", &["-c", "import scapy.contrib.tacacs"]);
    let rec = tacacs_record(
        &record(AcctStatus::Stop),
        Ipv4Addr::new(10, 89, 129, 194),
        b"PIX",
    );
    assert_eq!(rec.flag, acct_flag::STOP);
    let (_, packet) =
        TacacsAccounting::start(&Secret::from("secretkey"), 0x0bad_cafe, &rec.to_request())
            .unwrap();
    let script = r#"
import sys
import scapy.contrib.tacacs as T
T.SECRET = "secretkey"
p = T.TacacsHeader(bytes.fromhex(sys.argv[1]))
b = p.payload
print("session=%08x seq=%d flags=%d" % (p.session_id, p.seq, int(b.flags)))
print("user=" + b.user.decode())
print("port=" + b.port.decode())
print("rem_addr=" + b.rem_addr.decode())
raw = bytes(b.payload)
for l in b.arg_len_list:
    print("arg:" + raw[:l].decode()); raw = raw[l:]
"#;
    let out = Command::new("timeout")
        .args(["30", "python3", "-c", script, &hex::encode(&packet)])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "session=0badcafe seq=1 flags=4");
    assert_eq!(lines[1], "user=cisco_customer");
    assert_eq!(lines[2], "port=PIX");
    assert_eq!(lines[3], "rem_addr=10.89.129.200");
    let args: Vec<&str> = lines[4..]
        .iter()
        .map(|l| l.strip_prefix("arg:").unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "task_id=0x5",
            "start_time=1090941459",
            "elapsed_time=15",
            "bytes_in=99",
            "bytes_out=1879",
            "service=telnet",
            "addr=10.89.129.200",
            "group=Default Group",
            "nas_addr=10.89.129.194",
        ]
    );
}

#[test]
fn xauth_dialogue_against_tacacs_with_a_re_prompt_and_accounting() {
    // The seed's flow: the PIX asks for user and password, TACACS+ refuses a
    // mistyped password, the PIX re-prompts, TACACS+ accepts, STATUS=OK, and the
    // user's connection is accounted START then STOP.
    use isakmp_wire::{ConfigPayload, OwnedConfigPayload};
    use xauth::{
        Answer, ClientEvent, Outcome, ServerConfig, ServerEvent, XauthClient, XauthServer,
    };
    fn pass<F: FnOnce(&ConfigPayload<'_>)>(p: OwnedConfigPayload, f: F) {
        let mut b = Vec::new();
        p.emit(&mut b).unwrap();
        f(&ConfigPayload::parse(&b, 0).unwrap());
    }
    let s = start_server();
    let mut aaa = client(vec![s.addr], "secretkey", LoginKind::Pap);
    let mut rng = TestRng(33);
    let now = Instant::now();
    let mut gw = XauthServer::start(ServerConfig::default(), now, &mut rng);
    let mut vpn = XauthClient::new(Duration::from_secs(30));
    let mut verdicts = Vec::new();
    for typed in ["cisco12", "cisco123"] {
        pass(gw.poll_transmit().unwrap(), |m| vpn.handle(now, m).unwrap());
        let Some(ClientEvent::Prompt(p)) = vpn.poll_event() else {
            panic!()
        };
        vpn.answer(
            now,
            p.identifier,
            Answer {
                user_name: Some(b"cisco_customer".to_vec()),
                password: Some(Secret::from(typed)),
                ..Answer::default()
            },
        )
        .unwrap();
        pass(vpn.poll_transmit().unwrap(), |m| gw.handle(now, m).unwrap());
        let Some(ServerEvent::Credentials(c)) = gw.poll_event() else {
            panic!()
        };
        let id = aaa
            .authenticate(
                now,
                &mut rng,
                AuthRequest {
                    user: c.user_name.clone(),
                    password: c.password.as_ref().unwrap().duplicate(),
                    client_addr: Some("192.168.1.2".parse().unwrap()),
                    radius_state: None,
                },
            )
            .unwrap();
        let mut log = DriveLog::default();
        let Some(AaaEvent::Auth { request, outcome }) =
            drive(&mut aaa, &mut rng, Duration::from_secs(10), &mut log)
        else {
            panic!("{log:?}")
        };
        assert_eq!(request, id);
        verdicts.push(outcome.to_verdict());
        gw.verdict(now, c.id, outcome.to_verdict()).unwrap();
    }
    assert_eq!(verdicts, [xauth::Verdict::Reject, xauth::Verdict::Accept]);
    pass(gw.poll_transmit().unwrap(), |m| vpn.handle(now, m).unwrap());
    assert_eq!(vpn.poll_event(), Some(ClientEvent::Finished { ok: true }));
    pass(vpn.poll_transmit().unwrap(), |m| gw.handle(now, m).unwrap());
    assert_eq!(
        gw.poll_event(),
        Some(ServerEvent::Finished(Outcome::Authenticated {
            user_name: b"cisco_customer".to_vec()
        }))
    );
    for status in [AcctStatus::Start, AcctStatus::Stop] {
        let id = aaa.account(now, &mut rng, record(status)).unwrap();
        let mut log = DriveLog::default();
        let ev = drive(&mut aaa, &mut rng, Duration::from_secs(10), &mut log);
        assert_eq!(
            ev,
            Some(AaaEvent::Accounting {
                request: id,
                ok: true
            })
        );
    }
    let server = std::fs::read_to_string(&s.log).unwrap();
    let lines: Vec<&str> = server
        .lines()
        .filter(|l| l.contains("PAP user=") || l.contains("ACCT user="))
        .collect();
    assert_eq!(lines.len(), 4, "{server}");
    assert!(
        lines[0].ends_with("PAP user='cisco_customer' -> FAIL"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("PAP user='cisco_customer' -> PASS"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with("flags=2") && lines[3].ends_with("flags=4"),
        "{server}"
    );
}
