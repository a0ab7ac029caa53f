//! Files and sockets of `pix-gateway run` (issue 15, item 7), run as root in the lab's
//! network namespaces: the keylog is created 0600 and a pre-existing one that is a
//! symbolic link, not a regular file, not ours or wider than 0600 is refused; the
//! control socket is 0600 from the start, only a stale socket is removed and a live one
//! is never taken over; the demo listens on 127.0.0.1 only unless told otherwise; the
//! control and metrics listeners stay bounded under 100 idle connections.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

const LOADGEN: &str = env!("CARGO_BIN_EXE_pix-loadgen");

/// `pix-gateway run` on the demo configuration (given as `--config`, so it is not the
/// demo mode) in the lab's gateway namespace, with `extra` options.
fn gateway_args<'a>(ctl: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        GATEWAY,
        "run",
        "--config",
        DEMO_CFG,
        "--secrets",
        DEMO_SECRETS,
        "--control",
        ctl,
    ];
    v.extend_from_slice(extra);
    v
}

/// Starts a gateway that must come up; returns its lab process index.
fn start(lab: &mut Lab, ns: &str, name: &str, args: &[&str]) -> usize {
    let p = lab.spawn(ns, name, args, 60);
    let up = wait_for(Duration::from_secs(15), || {
        lab.proc(p).log_text().contains(" up: IKE on") || !lab.proc(p).alive()
    });
    let log = lab.proc(p).log_text();
    assert!(up && lab.proc(p).alive(), "{name} did not start:\n{log}");
    p
}

/// Runs a gateway that must refuse to start: exit status 1 and one log line that
/// contains every one of `want`; returns its stderr.
fn refused(lab: &Lab, ns: &str, args: &[&str], want: &[&str]) -> String {
    let t0 = Instant::now();
    let o = lab.exec(ns, 20, args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{args:?}:\n{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "slow refusal: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let line = err.lines().find(|l| want.iter().all(|w| l.contains(w)));
    assert!(line.is_some(), "no line with {want:?}:\n{err}");
    err
}

/// The `pix-gateway` process under `ip netns exec` and `timeout`.
fn gateway_pid(lab: &mut Lab, p: usize) -> u32 {
    child_pid(lab, p, "pix-gateway")
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn keylog_is_0600_never_followed_and_never_shared() {
    let _g = serial();
    require_root_and_tools(&["ip", "python3", "mkfifo"]);
    let mut lab = Lab::new();
    let gw = lab.gw.clone();
    let ctl = lab.control.to_str().unwrap().to_string();

    // a fresh keylog: a regular file, mode 0600 (even under a permissive umask)
    let fresh = lab.dir.join("fresh.keylog");
    let fresh_s = fresh.to_str().unwrap().to_string();
    let args = gateway_args(&ctl, &["--keylog", &fresh_s]);
    let mut sh = vec!["sh", "-c", "umask 000; exec \"$0\" \"$@\""];
    sh.extend_from_slice(&args);
    let p = start(&mut lab, &gw, "fresh", &sh);
    let m = std::fs::symlink_metadata(&fresh).unwrap();
    assert!(m.file_type().is_file(), "{m:?}");
    assert_eq!(mode(&fresh), 0o600);
    lab.proc(p).stop(Duration::from_secs(5));

    // a pre-existing 0600 keylog of ours: appended to (one login through our own
    // initiator writes its ISAKMP and ESP keys after the old line)
    let old = lab.dir.join("old.keylog");
    std::fs::write(&old, "# kept line\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o600)).unwrap();
    let old_s = old.to_str().unwrap().to_string();
    let p = start(
        &mut lab,
        &gw,
        "append",
        &gateway_args(&ctl, &["--keylog", &old_s]),
    );
    let client = lab.direct_client(1);
    let o = lab.exec(
        &client,
        30,
        &[
            LOADGEN,
            "--gateway",
            GW_IP,
            "--hold",
            "--users",
            "1",
            "--concurrency",
            "1",
        ],
    );
    assert!(
        o.status.success(),
        "pix-loadgen: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let wrote = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&old).is_ok_and(|t| t.contains("esp_sa:"))
    });
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(wrote, "no keys appended:\n{text}\n{}", lab.logs());
    assert!(text.starts_with("# kept line\n"), "{text}");
    assert!(text.contains("\nikev1_decryption_table:"), "{text}");
    assert_eq!(mode(&old), 0o600);
    // the keys went to the keylog only: not to the gateway's log
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("ikev1_decryption_table:"))
        .and_then(|l| l.split(',').nth(1))
        .unwrap()
        .to_string();
    assert!(key.len() >= 16, "{key}");
    lab.proc(p).stop(Duration::from_secs(5));
    assert!(!lab.logs().contains(&key), "a key reached a log");

    // refused, each with a clear line and the file left as it was:
    let real = lab.dir.join("real.keylog");
    std::fs::write(&real, "real\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    // a symbolic link (to an acceptable file)
    let link = lab.dir.join("link.keylog");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let link_s = link.to_str().unwrap().to_string();
    refused(
        &lab,
        &gw,
        &gateway_args(&ctl, &["--keylog", &link_s]),
        &["keylog file", &link_s, "symbolic link"],
    );
    // a dangling symbolic link: nothing is created at its target
    let target = lab.dir.join("target.keylog");
    let dangling = lab.dir.join("dangling.keylog");
    std::os::unix::fs::symlink(&target, &dangling).unwrap();
    let dangling_s = dangling.to_str().unwrap().to_string();
    refused(
        &lab,
        &gw,
        &gateway_args(&ctl, &["--keylog", &dangling_s]),
        &["keylog file", "symbolic link"],
    );
    assert!(!target.exists(), "created through a symlink");
    // mode 0644
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    let real_s = real.to_str().unwrap().to_string();
    refused(
        &lab,
        &gw,
        &gateway_args(&ctl, &["--keylog", &real_s]),
        &["refusing keylog file", &real_s, "0644"],
    );
    // not ours
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&real, Some(65534), None).unwrap();
    refused(
        &lab,
        &gw,
        &gateway_args(&ctl, &["--keylog", &real_s]),
        &["refusing keylog file", "owned by uid 65534"],
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "real\n");
    assert_eq!(mode(&real), 0o600);
    // a FIFO: refused at once (no reader to block on), not written
    let fifo = lab.dir.join("fifo.keylog");
    assert!(run(&["mkfifo", "-m", "600", fifo.to_str().unwrap()])
        .status
        .success());
    refused(
        &lab,
        &gw,
        &gateway_args(&ctl, &["--keylog", fifo.to_str().unwrap()]),
        &["keylog file", "FIFO"],
    );
    // no refused start left a control socket behind
    assert!(!Path::new(&ctl).exists());
}

#[test]
fn control_socket_is_0600_and_only_a_stale_one_is_replaced() {
    let _g = serial();
    require_root_and_tools(&["ip", "python3"]);
    let mut lab = Lab::new();
    let gw = lab.gw.clone();
    let inside = lab.inside.clone();
    let ctl = lab.control.clone();
    let ctl_s = ctl.to_str().unwrap().to_string();
    let on_loopback = ["--outside-addr", "127.0.0.1"];

    // a regular file at the path: refused, left untouched
    std::fs::write(&ctl, "not a socket\n").unwrap();
    refused(
        &lab,
        &gw,
        &gateway_args(&ctl_s, &[]),
        &["control socket path", &ctl_s, "regular file"],
    );
    assert_eq!(std::fs::read_to_string(&ctl).unwrap(), "not a socket\n");
    std::fs::remove_file(&ctl).unwrap();

    // a stale socket (nobody listens): removed and replaced; 0600 right after start
    drop(std::os::unix::net::UnixListener::bind(&ctl).unwrap());
    let stale_ino = std::fs::symlink_metadata(&ctl).unwrap().ino();
    let p = start(&mut lab, &gw, "first", &gateway_args(&ctl_s, &[]));
    let m = std::fs::symlink_metadata(&ctl).unwrap();
    assert!(m.file_type().is_socket());
    assert_ne!(m.ino(), stale_ino, "the stale socket was not replaced");
    assert_eq!(m.mode() & 0o7777, 0o600);
    // nothing else was left in the directory (the private bind directory is gone)
    let scratch: Vec<_> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(scratch.is_empty(), "{scratch:?}");
    assert!(lab.show("version").contains("Version"), "{}", lab.logs());

    // a second gateway (elsewhere, so its UDP ports are free) does not steal it
    let mut second = gateway_args(&ctl_s, &on_loopback);
    second.extend_from_slice(&["--inside-tun", "pixin1", "--no-routes"]);
    refused(&lab, &inside, &second, &["control socket", "in use"]);
    let m2 = std::fs::symlink_metadata(&ctl).unwrap();
    assert_eq!(m2.ino(), m.ino(), "the live socket was replaced");
    assert!(lab.show("version").contains("Version"));

    // 100 idle control connections: at most 16 stay open, the gateway still answers
    let idle: Vec<_> = (0..100)
        .map(|_| std::os::unix::net::UnixStream::connect(&ctl).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    assert!(lab.show("version").contains("Version"));
    assert!(t0.elapsed() < Duration::from_secs(3));
    let open = idle
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 64];
            // WouldBlock: still open; Ok(0): closed by the gateway
            matches!(std::io::Read::read(&mut &**s, &mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert!(open <= 16, "{open} idle control connections kept open");
    drop(idle);

    // at exit the gateway removes its own socket
    lab.proc(p).stop(Duration::from_secs(5));
    assert!(
        std::fs::symlink_metadata(&ctl).is_err(),
        "socket left behind"
    );
}

/// The UDP sockets of `ss -uln` in `ns` on ports 500 and 4500, as "ADDR:PORT".
fn ike_listeners(lab: &Lab, ns: &str) -> Vec<String> {
    let o = lab.exec(ns, 10, &["ss", "-H", "-uln"]);
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .filter(|a| a.ends_with(":500") || a.ends_with(":4500"))
        .collect()
}

#[test]
fn demo_listens_on_loopback_only_unless_told() {
    let _g = serial();
    require_root_and_tools(&["ip", "python3", "ss"]);
    let mut lab = Lab::new();
    let gw = lab.gw.clone();
    let ctl = lab.control.to_str().unwrap().to_string();
    // the namespace owns the demo configuration's outside address
    let o = run(&["ip", "-n", &gw, "-4", "-o", "addr"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("192.168.1.1/24"));

    let p = start(&mut lab, &gw, "demo", &[GATEWAY, "run", "--control", &ctl]);
    let log = lab.proc(p).log_text();
    assert!(log.contains("demo: listening on 127.0.0.1 only"), "{log}");
    assert!(
        log.contains("PUBLISHED credentials LIVE")
            && log.contains("vpn3000")
            && log.contains("cisco_customer"),
        "{log}"
    );
    let mut l = ike_listeners(&lab, &gw);
    l.sort();
    // one socket per worker in an SO_REUSEPORT group, all on the same address
    l.dedup();
    assert_eq!(l, ["127.0.0.1:4500", "127.0.0.1:500"], "{l:?}");
    lab.proc(p).stop(Duration::from_secs(5));

    // --outside-addr: there, and still warned about
    let p = start(
        &mut lab,
        &gw,
        "demo-outside",
        &[GATEWAY, "run", "--control", &ctl, "--outside-addr", GW_IP],
    );
    let log = lab.proc(p).log_text();
    assert!(
        log.contains("PUBLISHED credentials LIVE") && log.contains("reaches 192.168.1.1"),
        "{log}"
    );
    let mut l = ike_listeners(&lab, &gw);
    l.sort();
    // one socket per worker in an SO_REUSEPORT group, all on the same address
    l.dedup();
    assert_eq!(l, ["192.168.1.1:4500", "192.168.1.1:500"], "{l:?}");
    lab.proc(p).stop(Duration::from_secs(5));
}

/// Opens 100 idle TCP connections to the metrics endpoint, plus one that sends a byte
/// every 0.3 s (slowloris), scrapes /metrics while they are open, waits past the 5 s
/// limit and scrapes again. Prints JSON.
const METRICS_PROBE: &str = r#"
import json, select, socket, sys, time, urllib.request
addr = ("127.0.0.1", int(sys.argv[1]))
def scrape():
    t = time.time()
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % addr[1], timeout=4).read().decode()
    return body, time.time() - t
idle = [socket.create_connection(addr, timeout=2) for _ in range(100)]
time.sleep(0.5)
slow = socket.create_connection(addr, timeout=2)
slow.setblocking(False)
during, during_s = scrape()
def closed(s):
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1) == b""
    except OSError:
        return True
idle_open = sum(1 for s in idle if not closed(s))
t0 = time.time()
slow_closed_after = None
while time.time() - t0 < 8:
    try:
        slow.send(b"G")
    except OSError:
        slow_closed_after = time.time() - t0
        break
    if closed(slow):
        slow_closed_after = time.time() - t0
        break
    time.sleep(0.3)
idle_open_later = sum(1 for s in idle if not closed(s))
after, after_s = scrape()
print(json.dumps(dict(during=during, during_s=during_s, idle_open=idle_open,
    slow_closed_after=slow_closed_after, idle_open_later=idle_open_later,
    after=after, after_s=after_s)))
"#;

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

#[test]
fn metrics_listener_stays_bounded_under_idle_connections() {
    let _g = serial();
    require_root_and_tools(&["ip", "python3"]);
    let mut lab = Lab::new();
    let gw = lab.gw.clone();
    let ctl = lab.control.to_str().unwrap().to_string();
    let probe = lab.file("probe.py", METRICS_PROBE);
    let p = start(
        &mut lab,
        &gw,
        "gateway",
        &gateway_args(&ctl, &["--metrics", "127.0.0.1:9464"]),
    );
    let pid = gateway_pid(&mut lab, p);
    let (fds0, rss0) = (fds(pid), rss_kb(pid));
    // sample the gateway's descriptors while the probe holds its connections
    let probe_i = lab.spawn(
        &gw,
        "probe",
        &["python3", probe.to_str().unwrap(), "9464"],
        40,
    );
    let mut peak_fds = 0;
    let done = wait_for(Duration::from_secs(30), || {
        peak_fds = peak_fds.max(fds(pid));
        !lab.proc(probe_i).alive()
    });
    let out = lab.proc(probe_i).log_text();
    assert!(done, "probe did not finish: {out}");
    let r: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let during = r["during"].as_str().unwrap();
    let after = r["after"].as_str().unwrap();
    let open = "pix_listener_connections_open{listener=\"metrics\"}";
    let total = |res: &str| {
        format!("pix_listener_connections_total{{listener=\"metrics\",result=\"{res}\"}}")
    };

    // answered at once while 100 idle connections were open
    assert!(r["during_s"].as_f64().unwrap() < 2.0, "{r}");
    assert!(
        during.contains("pix_ike_sas{state=\"established\"}"),
        "{during}"
    );
    // at most 16 open at once (the scrape's own included), the rest evicted
    assert!(metric(during, open) <= 16, "{during}");
    assert!(
        metric(during, &total("evicted")) >= 100 + 1 - 16,
        "{during}"
    );
    assert!(r["idle_open"].as_u64().unwrap() <= 16, "{r}");
    // descriptors: at most 16 connections more than before, never 100
    assert!(peak_fds <= fds0 + 16 + 2, "fds {fds0} -> {peak_fds}");
    // time: the slowloris that keeps sending is cut after 5 s in all, not per byte
    let slow = r["slow_closed_after"].as_f64();
    assert!(slow.is_some_and(|s| (3.0..6.0).contains(&s)), "{r}");
    // later every idle connection is gone (timed out or evicted); only the scrape is open
    assert_eq!(r["idle_open_later"].as_u64(), Some(0), "{r}");
    assert_eq!(metric(after, open), 1, "{after}");
    assert!(metric(after, &total("timed_out")) >= 1, "{after}");
    assert!(metric(after, &total("served")) >= 1, "{after}");
    let rss1 = rss_kb(pid);
    assert!(rss1 < rss0 + 8 * 1024, "RSS {rss0} kB -> {rss1} kB");
    eprintln!(
        "metrics probe: fds {fds0} -> peak {peak_fds}, RSS {rss0} -> {rss1} kB, idle open {} then {}, slowloris cut after {slow:?} s, scrape {:.3} s",
        r["idle_open"], r["idle_open_later"], r["during_s"].as_f64().unwrap_or(-1.0)
    );
    lab.proc(p).stop(Duration::from_secs(5));
}
