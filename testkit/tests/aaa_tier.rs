//! The shared AAA tier (testkit::aaa_tier: PostgreSQL + FreeRADIUS with sql and
//! sqlippool, configured with examples/aaa-tier) driven by radclient as two NASes
//! (gateways A and B), in a network namespace of the test's own: addresses from
//! the pool with Message-Authenticator, session accounting Start/Interim/Stop,
//! the same address for a returning user through another gateway, Accounting-On
//! of a restarted gateway, pool exhaustion, concurrent allocation by two NASes,
//! and a FreeRADIUS outage with the database kept.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::disallowed_methods
)] // tests may panic; the tier runs real processes on the real clock

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use testkit::aaa_tier::{AaaTier, AaaTierOpts};

const SECRET: &str = "secretkey";
const NAS_A: &str = "10.89.129.194";
const NAS_B: &str = "10.89.129.195";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace with loopback up and a work directory, removed on drop (the tier,
/// declared after it, is dropped first).
struct Place {
    ns: String,
    dir: PathBuf,
}

impl Place {
    fn new() -> Place {
        let uid = Command::new("id").arg("-u").output().expect("id");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "the AAA tier test runs as root (network namespace, postgres user)"
        );
        reap_stale();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let ns = format!("aaat{}x{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("{ns}.d"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for cmd in [
            vec!["ip", "netns", "add", &ns],
            vec!["ip", "-n", &ns, "link", "set", "lo", "up"],
        ] {
            let st = Command::new(cmd[0]).args(&cmd[1..]).status().unwrap();
            assert!(st.success(), "{cmd:?} failed");
        }
        Place { ns, dir }
    }

    fn opts(&self, users: &[&str], pool_last: u8) -> AaaTierOpts {
        let mut o = AaaTierOpts::new(&self.dir);
        o.netns = Some(self.ns.clone());
        o.listen = Ipv4Addr::LOCALHOST;
        o.port = 1812;
        o.clients.push(("127.0.0.0/8".into(), SECRET.into()));
        o.users = users
            .iter()
            .map(|u| (u.to_string(), format!("{u}-pw")))
            .collect();
        o.pool_name = "vpn".into();
        o.pool_first = Ipv4Addr::new(10, 89, 130, 1);
        o.pool_last = Ipv4Addr::new(10, 89, 130, pool_last);
        o.lease_seconds = 600;
        o.lifetime_secs = 120;
        o
    }
}

/// Namespaces and directories left by a killed run (aaat<pid>x<n> of a dead pid).
fn reap_stale() {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("aaat") else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("{name}.d")));
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("AAA tier directory kept: {}", self.dir.display());
        }
    }
}

/// A helper process killed if the test fails before it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn login(t: &AaaTier, user: &str, nas: &str, peer: &str) -> testkit::aaa_tier::RadReply {
    let name = format!("User-Name = {user}");
    let pw = format!("User-Password = {user}-pw");
    let nas_ip = format!("NAS-IP-Address = {nas}");
    let nas_id = format!("NAS-Identifier = gw-{nas}");
    let csid = format!("Calling-Station-Id = {peer}");
    t.radclient(
        "auth",
        SECRET,
        &[
            &name,
            &pw,
            &nas_ip,
            &nas_id,
            &csid,
            "NAS-Port-Type = Virtual",
        ],
    )
}

/// One session as the gateway reports it: user, Acct-Session-Id, gateway
/// (NAS-IP-Address), peer (Calling-Station-Id), inside address.
struct Sess<'a>(&'a str, &'a str, &'a str, &'a str, Ipv4Addr);

/// An accounting request of one session; `extra` adds counters or a cause.
fn acct(t: &AaaTier, status: &str, s: &Sess, extra: &[&str]) {
    let Sess(user, sid, nas, peer, ip) = s;
    let lines = [
        format!("Acct-Status-Type = {status}"),
        format!("User-Name = {user}"),
        format!("Acct-Session-Id = {sid}"),
        format!("NAS-IP-Address = {nas}"),
        format!("NAS-Identifier = gw-{nas}"),
        format!("Calling-Station-Id = {peer}"),
        format!("Framed-IP-Address = {ip}"),
    ];
    let mut attrs: Vec<&str> = lines.iter().map(String::as_str).collect();
    attrs.extend_from_slice(extra);
    let r = t.radclient("acct", SECRET, &attrs);
    assert_eq!(
        r.code,
        "Accounting-Response",
        "{status} {user}: {}\n{}",
        r.raw,
        tail(t)
    );
}

fn nas_event(t: &AaaTier, status: &str, nas: &str) {
    let s = format!("Acct-Status-Type = {status}");
    let n = format!("NAS-IP-Address = {nas}");
    let id = format!("NAS-Identifier = gw-{nas}");
    let r = t.radclient("acct", SECRET, &[&s, &n, &id, "Acct-Session-Id = 0"]);
    assert_eq!(r.code, "Accounting-Response", "{status}: {}", r.raw);
}

fn tail(t: &AaaTier) -> String {
    let log = t.radius_log_text();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

fn lease_of(t: &AaaTier, addr: Ipv4Addr) -> testkit::aaa_tier::Lease {
    t.leases().into_iter().find(|l| l.address == addr).unwrap()
}

#[test]
fn pool_accounting_sticky_addresses_accounting_on_and_outage() {
    let place = Place::new();
    let mut t = AaaTier::start(place.opts(&["alice", "bob", "carol", "dave"], 3));
    eprintln!(
        "AaaTier::start (initdb + schemas + FreeRADIUS ready): {} ms {:?}",
        t.started_in().as_millis(),
        t.start_phases()
    );
    assert_eq!(t.leases().len(), 3);
    assert!(t.live_leases().is_empty());

    // Two users from gateway A: two distinct addresses, signed replies.
    let a = login(&t, "alice", NAS_A, "192.168.1.11");
    assert_eq!(a.code, "Access-Accept", "{}\n{}", a.raw, tail(&t));
    assert!(
        a.attr("Message-Authenticator").is_some(),
        "no Message-Authenticator: {}",
        a.raw
    );
    let alice_ip = a.framed_ip().expect("alice got no Framed-IP-Address");
    let b = login(&t, "bob", NAS_A, "192.168.1.12");
    assert_eq!(b.code, "Access-Accept", "{}", b.raw);
    let bob_ip = b.framed_ip().expect("bob got no Framed-IP-Address");
    assert_ne!(alice_ip, bob_ip);
    let live = t.live_leases();
    assert_eq!(live.len(), 2, "{live:?}");
    let la = lease_of(&t, alice_ip);
    assert!(
        la.live && la.user == "alice" && la.nas_ip == NAS_A,
        "{la:?}"
    );
    assert_eq!(la.calling_station_id, "192.168.1.11");

    // A wrong password: rejected, no lease taken.
    let r = t.radclient(
        "auth",
        SECRET,
        &[
            "User-Name = carol",
            "User-Password = nope",
            "NAS-IP-Address = 10.89.129.194",
        ],
    );
    assert_eq!(r.code, "Access-Reject", "{}", r.raw);
    assert!(r.framed_ip().is_none());
    assert_eq!(t.live_leases().len(), 2);

    // Session accounting: Start, Interim, Stop.
    acct(
        &t,
        "Start",
        &Sess("alice", "s-alice-1", NAS_A, "192.168.1.11", alice_ip),
        &[],
    );
    acct(
        &t,
        "Start",
        &Sess("bob", "s-bob-1", NAS_A, "192.168.1.12", bob_ip),
        &[],
    );
    let open = t.open_sessions();
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open[0].user, "alice");
    assert_eq!(open[0].nas_ip, NAS_A.parse::<Ipv4Addr>().unwrap());
    assert_eq!(open[0].nas_identifier, format!("gw-{NAS_A}"));
    assert_eq!(open[0].framed_ip, Some(alice_ip));
    assert_eq!(open[0].calling_station_id, "192.168.1.11");
    assert_eq!(open[0].acct_session_id, "s-alice-1");
    assert_eq!(open[1].framed_ip, Some(bob_ip));

    acct(
        &t,
        "Interim-Update",
        &Sess("alice", "s-alice-1", NAS_A, "192.168.1.11", alice_ip),
        &[
            "Acct-Session-Time = 5",
            "Acct-Input-Octets = 1000",
            "Acct-Output-Octets = 2000",
            "Acct-Input-Packets = 10",
            "Acct-Output-Packets = 20",
        ],
    );
    let row = t.sql(
        "SELECT acctsessiontime, acctinputoctets, acctoutputoctets, acctinputpackets, \
         acctoutputpackets FROM radacct WHERE acctsessionid = 's-alice-1' AND acctstoptime IS NULL",
    );
    assert_eq!(row, vec![vec!["5", "1000", "2000", "10", "20"]]);

    acct(
        &t,
        "Stop",
        &Sess("alice", "s-alice-1", NAS_A, "192.168.1.11", alice_ip),
        &[
            "Acct-Session-Time = 9",
            "Acct-Input-Octets = 1500",
            "Acct-Output-Octets = 2500",
            "Acct-Output-Gigawords = 1",
            "Acct-Input-Packets = 15",
            "Acct-Output-Packets = 25",
            "Acct-Terminate-Cause = User-Request",
        ],
    );
    let stopped = t.stopped_sessions();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    let s = &stopped[0];
    assert_eq!(s.session.user, "alice");
    assert_eq!(s.session.framed_ip, Some(alice_ip));
    assert_eq!(s.session_time, 9);
    assert_eq!(s.input_octets, 1500);
    assert_eq!(s.output_octets, (1u64 << 32) + 2500);
    assert_eq!(s.input_packets, Some(15));
    assert_eq!(s.output_packets, Some(25));
    assert_eq!(s.terminate_cause, "User-Request");
    assert_eq!(t.open_sessions().len(), 1);
    let la = lease_of(&t, alice_ip);
    assert!(
        !la.live && la.user == "alice",
        "Stop did not free the lease: {la:?}"
    );

    // Another user takes the never-used address, not alice's just-freed one...
    let c = login(&t, "carol", NAS_A, "192.168.1.13");
    assert_eq!(c.code, "Access-Accept", "{}", c.raw);
    let carol_ip = c.framed_ip().unwrap();
    assert!(carol_ip != alice_ip && carol_ip != bob_ip);
    // ... so alice, back through gateway B from another address, gets hers again.
    let a2 = login(&t, "alice", NAS_B, "192.168.1.21");
    assert_eq!(a2.code, "Access-Accept", "{}", a2.raw);
    assert_eq!(a2.framed_ip(), Some(alice_ip), "{}", a2.raw);
    let la = lease_of(&t, alice_ip);
    assert!(la.live && la.nas_ip == NAS_B, "{la:?}");

    // The pool is full: dave is refused (Access-Reject with a Reply-Message; the
    // gateway fails his Xauth), and nothing changed hands.
    let d = login(&t, "dave", NAS_B, "192.168.1.22");
    assert_eq!(d.code, "Access-Reject", "{}\n{}", d.raw, tail(&t));
    assert!(
        d.attr("Reply-Message")
            .is_some_and(|m| m.contains("No free address in pool vpn")),
        "{}",
        d.raw
    );
    let live: BTreeSet<(String, Ipv4Addr)> = t
        .live_leases()
        .into_iter()
        .map(|l| (l.user, l.address))
        .collect();
    assert_eq!(
        live,
        BTreeSet::from([
            ("alice".to_string(), alice_ip),
            ("bob".to_string(), bob_ip),
            ("carol".to_string(), carol_ip)
        ])
    );

    // The same peer logging in again through the same gateway while its lease is
    // live keeps its address (no second lease).
    let a3 = login(&t, "alice", NAS_B, "192.168.1.21");
    assert_eq!(a3.framed_ip(), Some(alice_ip), "{}", a3.raw);
    acct(
        &t,
        "Start",
        &Sess("alice", "s-alice-2", NAS_B, "192.168.1.21", alice_ip),
        &[],
    );
    acct(
        &t,
        "Start",
        &Sess("carol", "s-carol-1", NAS_A, "192.168.1.13", carol_ip),
        &[],
    );
    assert_eq!(t.open_sessions().len(), 3);

    // Gateway A restarts: Accounting-On closes A's sessions and frees A's leases;
    // B's session and lease stay.
    nas_event(&t, "Accounting-On", NAS_A);
    let open = t.open_sessions();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0].user.as_str(), open[0].nas_ip),
        ("alice", NAS_B.parse().unwrap())
    );
    let closed: Vec<(String, String)> = t
        .stopped_sessions()
        .into_iter()
        .filter(|s| s.session.nas_ip == NAS_A.parse::<Ipv4Addr>().unwrap())
        .map(|s| (s.session.user, s.terminate_cause))
        .collect();
    assert_eq!(
        closed,
        vec![
            ("alice".into(), "User-Request".into()),
            ("bob".into(), "NAS-Reboot".into()),
            ("carol".into(), "NAS-Reboot".into())
        ]
    );
    let live = t.live_leases();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(
        (live[0].address, live[0].nas_ip.as_str()),
        (alice_ip, NAS_B)
    );

    // Alice through A while her lease on B is live: another address, never hers.
    let a4 = login(&t, "alice", NAS_A, "192.168.1.11");
    assert_eq!(a4.code, "Access-Accept", "{}", a4.raw);
    assert_ne!(a4.framed_ip(), Some(alice_ip));
    // dave now gets an address.
    let d2 = login(&t, "dave", NAS_A, "192.168.1.22");
    assert_eq!(d2.code, "Access-Accept", "{}", d2.raw);
    let addrs: BTreeSet<Ipv4Addr> = t.live_leases().iter().map(|l| l.address).collect();
    assert_eq!(addrs.len(), 3);

    // Gateway B shuts down cleanly: Accounting-Off.
    nas_event(&t, "Accounting-Off", NAS_B);
    assert!(t.open_sessions().is_empty());
    let b_closed: Vec<(String, String)> = t
        .stopped_sessions()
        .into_iter()
        .filter(|s| s.session.nas_ip == NAS_B.parse::<Ipv4Addr>().unwrap())
        .map(|s| (s.session.acct_session_id, s.terminate_cause))
        .collect();
    assert_eq!(b_closed, vec![("s-alice-2".into(), "NAS-Reboot".into())]);
    assert!(!lease_of(&t, alice_ip).live);

    // The RADIUS server goes away; the database stays and keeps its records.
    t.stop_radius();
    assert!(!t.radius_running());
    let r = login(&t, "bob", NAS_A, "192.168.1.12");
    assert_eq!(r.code, "none", "a reply from a stopped server: {}", r.raw);
    assert_eq!(t.stopped_sessions().len(), 4);
    t.start_radius();
    let b2 = login(&t, "bob", NAS_B, "192.168.1.12");
    assert_eq!(b2.code, "Access-Accept", "{}", b2.raw);
    // The pool state survived the outage: alice (through A) and dave hold two
    // addresses, the one left free is alice's old one (Accounting-Off of B).
    assert_eq!(b2.framed_ip(), Some(alice_ip), "{}", b2.raw);
    assert_eq!(t.live_leases().len(), 3);
}

/// Two gateways allocating at once from a threaded FreeRADIUS: an allocation
/// skips the rows another transaction holds locked (SKIP LOCKED: no wait, no
/// double allocation); every accepted login has its own address, a pool of 10
/// free addresses serves exactly 10 of 12 users, and the refusals are for want
/// of an address.
#[test]
fn concurrent_allocation_from_two_nases() {
    let place = Place::new();
    let mut users: Vec<String> = (1..=12).map(|i| format!("u{i:02}")).collect();
    users.push("x".into());
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let t = AaaTier::start(place.opts(&names, 11));
    users.pop();

    // Another allocation holds every address but the last locked for 4 s: x's
    // login does not wait for it and gets the last one.
    let locker = Command::new("timeout")
        .args(["-k", "2", "20", "psql", "-X", "-q", "-h"])
        .arg(t.socket_dir())
        .args(["-U", "postgres", "-d", "radius", "-c"])
        .arg(
            "BEGIN; SELECT id FROM radippool WHERE framedipaddress <> '10.89.130.11' FOR UPDATE; \
             SELECT pg_sleep(4); COMMIT;",
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    let mut locker = KillOnDrop(locker);
    let t0 = Instant::now();
    while t
        .sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND state = 'active' AND pid <> pg_backend_pid()")
        != vec![vec!["1"]]
    {
        assert!(t0.elapsed() < Duration::from_secs(10), "the locking transaction did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t1 = Instant::now();
    let x = login(&t, "x", NAS_B, "192.168.1.99");
    let took = t1.elapsed();
    assert_eq!(x.code, "Access-Accept", "{}", x.raw);
    assert_eq!(
        x.framed_ip(),
        Some(Ipv4Addr::new(10, 89, 130, 11)),
        "{}",
        x.raw
    );
    assert!(
        took < Duration::from_secs(2),
        "the allocation waited {took:?} on locked rows"
    );
    assert!(
        locker.0.wait().unwrap().success(),
        "the locking transaction failed"
    );

    let lines: Vec<Vec<String>> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let nas = if i % 2 == 0 { NAS_A } else { NAS_B };
            vec![
                format!("User-Name = {u}"),
                format!("User-Password = {u}-pw"),
                format!("NAS-IP-Address = {nas}"),
                format!("Calling-Station-Id = 192.168.1.{}", 100 + i),
            ]
        })
        .collect();
    let reqs: Vec<Vec<&str>> = lines
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    let replies = t.radclient_many("auth", SECRET, &reqs);
    assert_eq!(
        replies.len(),
        12,
        "{}",
        replies.first().map(|r| r.raw.as_str()).unwrap_or("")
    );
    let accepted: Vec<Ipv4Addr> = replies
        .iter()
        .filter(|r| r.code == "Access-Accept")
        .map(|r| r.framed_ip().expect("an Access-Accept without an address"))
        .collect();
    let distinct: BTreeSet<Ipv4Addr> = accepted.iter().copied().collect();
    assert_eq!(accepted.len(), 10, "{}", tail(&t));
    assert_eq!(
        distinct.len(),
        10,
        "an address handed out twice: {accepted:?}"
    );
    let live = t.live_leases();
    assert_eq!(live.len(), 11);
    let holders: BTreeSet<&str> = live.iter().map(|l| l.user.as_str()).collect();
    assert_eq!(holders.len(), 11, "{live:?}");
    assert_eq!(
        replies.iter().filter(|r| r.code == "Access-Reject").count(),
        2
    );
    let log = t.radius_log_text();
    assert_eq!(
        log.matches("pool appears to be full").count(),
        2,
        "{}",
        tail(&t)
    );
}
