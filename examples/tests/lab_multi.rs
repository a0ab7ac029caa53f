//! The lab for several gateways proves itself (issue 18), with a stand-in gateway so that
//! only the harness is under test: a few lines of Python in each box that answer UDP on
//! the shared address (bound with IP_FREEBIND before the box owns it, as the real
//! standby binds) and the control commands keepalived runs (`show version`,
//! `failover active|standby`). Real keepalived 2.2.7 with the operator's template
//! (examples/failover/keepalived.conf.in) moves the address; the test measures how long.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::multi::*;
use lab::*;
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &["ip", "ping", "keepalived", "/usr/bin/python3"];

/// The stand-in gateway: `serve NAME VIP SOCK MARKER`, `ctl SOCK WORDS...` (exit 0 on an
/// answer: keepalived's check and notify), `probe ADDR` (one UDP datagram to ADDR:500,
/// prints the answer), `garp IF ADDR` (a gratuitous ARP request for ADDR with IF's MAC,
/// as the gateway sends when it takes over a client's proxy-ARP entry).
const STANDIN: &str = r#"
import os, selectors, socket, struct, sys
IP_FREEBIND = 15
def serve(name, vip, sock_path, marker):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    u.bind((vip, 500))
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.bind(sock_path)
    c.listen(8)
    sel = selectors.DefaultSelector()
    sel.register(u, selectors.EVENT_READ)
    sel.register(c, selectors.EVENT_READ)
    print(name, "up: IKE on", vip, flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is u:
                data, peer = u.recvfrom(2048)
                u.sendto(name.encode() + b" " + data, peer)
                continue
            conn, _ = c.accept()
            conn.settimeout(2)
            try:
                line = conn.recv(256).decode().strip()
                print(name, "control:", line, flush=True)
                if line.startswith("failover "):
                    with open(marker, "a") as f:
                        f.write(line + "\n")
                conn.sendall(("ok " + name + " " + line + "\n").encode())
            except OSError as e:
                print(name, "control error:", e, flush=True)
            conn.close()
def ctl(sock_path, words):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(1)
    c.connect(sock_path)
    c.sendall((" ".join(words) + "\n").encode())
    reply = c.recv(256)
    sys.stdout.write(reply.decode())
    sys.exit(0 if reply.startswith(b"ok ") else 1)
def probe(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    s.sendto(b"probe", (addr, 500))
    print(s.recvfrom(256)[0].decode())
def garp(ifname, addr):
    mac = bytes.fromhex(open("/sys/class/net/%s/address" % ifname).read().strip().replace(":", ""))
    ip = socket.inet_aton(addr)
    frame = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) \
        + mac + ip + b"\x00" * 6 + ip
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    s.send(frame)
cmd = sys.argv[1]
if cmd == "serve":
    serve(*sys.argv[2:6])
elif cmd == "ctl":
    ctl(sys.argv[2], sys.argv[3:])
elif cmd == "probe":
    probe(sys.argv[2])
elif cmd == "garp":
    garp(sys.argv[2], sys.argv[3])
"#;

/// A client's inside address for the proxy-ARP part (outside the demo pool).
const CLIENT_INSIDE: &str = "10.89.129.206";

struct Standin {
    script: String,
}

impl Standin {
    fn new(ml: &MultiLab) -> Standin {
        let p = ml.file("standin.py", STANDIN);
        Standin {
            script: p.to_str().unwrap().to_string(),
        }
    }
    fn marker(ml: &MultiLab, k: u8) -> std::path::PathBuf {
        ml.dir.join(format!("failover{k}.marker"))
    }
    fn start(&self, ml: &mut MultiLab, k: u8) -> usize {
        let sock = ml.gw(k).control.to_str().unwrap().to_string();
        let marker = Standin::marker(ml, k);
        let name = format!("box{k}");
        ml.start_in_gateway(
            k,
            &[
                "/usr/bin/python3",
                &self.script,
                "serve",
                &name,
                VIP,
                &sock,
                marker.to_str().unwrap(),
            ],
            "up: IKE on",
        )
    }
    fn ctl(&self, ml: &MultiLab, k: u8, words: &str) -> String {
        format!(
            "/usr/bin/python3 {} ctl {} {words}",
            self.script,
            ml.gw(k).control.display()
        )
    }
    fn vrrp(&self, ml: &MultiLab, k: u8) -> Vrrp {
        Vrrp {
            check: self.ctl(ml, k, "show version"),
            notify_master: self.ctl(ml, k, "failover active"),
            notify_backup: self.ctl(ml, k, "failover standby"),
            notify_fault: self.ctl(ml, k, "failover standby"),
            priority: None,
            vrid: 51,
        }
    }
    /// One UDP probe from `ns` to the VIP: the answering box's name.
    fn probe(&self, ml: &MultiLab, ns: &str) -> Option<String> {
        let o = ml.exec(ns, 3, &["/usr/bin/python3", &self.script, "probe", VIP]);
        let s = String::from_utf8_lossy(&o.stdout);
        s.split_whitespace().next().map(str::to_string)
    }
    fn garp(&self, ml: &MultiLab, k: u8, addr: &str) {
        let o = ml.exec(
            &ml.gw(k).ns,
            5,
            &["/usr/bin/python3", &self.script, "garp", INSIDE_IF, addr],
        );
        assert!(
            o.status.success(),
            "gratuitous ARP from box {k} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

fn sh(ns: &str, cmd: &str) {
    let o = run(&["ip", "netns", "exec", ns, "sh", "-c", cmd]);
    assert!(
        o.status.success(),
        "{cmd} in {ns}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn markers(ml: &MultiLab, k: u8) -> String {
    std::fs::read_to_string(Standin::marker(ml, k)).unwrap_or_default()
}

/// Box `k` answers ARP for the client's inside address and routes it to the client.
fn take_client(ml: &MultiLab, k: u8) {
    sh(
        &ml.gw(k).ns,
        &format!(
            "ip neigh add proxy {CLIENT_INSIDE} dev {INSIDE_IF} && \
             ip route add {CLIENT_INSIDE}/32 via 192.168.1.11 dev {OUTSIDE_IF}"
        ),
    );
}

/// What SIGKILL leaves on box `k`: the TUN device, and with it the client's host route,
/// is gone; the proxy-ARP entry stays.
fn lose_route(ml: &MultiLab, k: u8) {
    sh(&ml.gw(k).ns, &format!("ip route del {CLIENT_INSIDE}/32"));
}

#[test]
fn keepalived_moves_the_address_when_the_active_box_dies() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut ml = MultiLab::new(2, Outside::FailoverPair);
    let c1 = ml.direct_client(1);
    let standin = Standin::new(&ml);
    for k in [1, 2] {
        standin.start(&mut ml, k);
    }

    // keepalived elects box 1 (the higher priority), which runs `failover active`
    let (owner, took) = ml.start_failover(|ml, k| standin.vrrp(ml, k));
    println!("first election: box {owner} holds {VIP} after {took:?}");
    assert_eq!(owner, 1, "{}", ml.keepalived_logs());
    assert_eq!(ml.vrrp_state(1).as_deref(), Some("MASTER"));
    assert_eq!(ml.vrrp_state(2).as_deref(), Some("BACKUP"));
    for k in [1, 2] {
        let log = ml.keepalived_log(k);
        for bad in [
            "SECURITY",
            "unsafe",
            "WARNING",
            "not executable",
            "Unknown keyword",
        ] {
            assert!(
                !log.contains(bad),
                "keepalived on box {k} complains ({bad}):\n{log}"
            );
        }
        assert!(
            log.contains("VRRP_Script(pix_gateway_alive) succeeded"),
            "box {k}'s check never ran as root:\n{log}"
        );
    }
    let notified = wait_for(Duration::from_secs(5), || {
        markers(&ml, 1).contains("failover active") && markers(&ml, 2).contains("failover standby")
    });
    assert!(
        notified,
        "notify commands: box 1 {:?}, box 2 {:?}\n{}",
        markers(&ml, 1),
        markers(&ml, 2),
        ml.keepalived_logs()
    );

    // the client reaches the VIP on box 1 (kernel and the freebind-bound UDP socket)
    assert_eq!(
        ping_count(&ml, &c1, VIP, 2),
        2,
        "ping {VIP} before the failover"
    );
    assert_eq!(standin.probe(&ml, &c1).as_deref(), Some("box1"));

    // the inside host reaches a client's inside address proxied by box 1; the client
    // answers through the VIP
    sh(
        &c1,
        &format!(
            "ip addr add {CLIENT_INSIDE}/32 dev lo && ip route add 10.89.129.128/25 via {VIP}"
        ),
    );
    take_client(&ml, 1);
    assert_eq!(
        ml.inside_ping(CLIENT_INSIDE, 2),
        2,
        "inside -> client via box 1"
    );
    assert_eq!(ml.inside_sends_to(CLIENT_INSIDE), Some(1));

    // SIGKILL box 1's gateway: its check fails, box 1 goes FAULT, box 2 takes the VIP
    let t0 = Instant::now();
    ml.kill_gateway(1);
    let moved = ml.wait_vip(2, Duration::from_secs(6));
    let moved = moved.unwrap_or_else(|| {
        panic!(
            "the VIP did not move to box 2 within 6 s (owners {:?}):\n{}",
            ml.vip_owners(),
            ml.keepalived_logs()
        )
    });
    let mut answered = None;
    while t0.elapsed() < Duration::from_secs(8) {
        if standin.probe(&ml, &c1).as_deref() == Some("box2") {
            answered = Some(t0.elapsed());
            break;
        }
    }
    let answered = answered.unwrap_or_else(|| panic!("box 2 never answered on {VIP}:500"));
    println!(
        "failover: SIGKILL -> VIP on box 2 after {:.0} ms, first UDP answer from box 2 after {:.0} ms",
        moved.as_secs_f64() * 1000.0,
        answered.as_secs_f64() * 1000.0
    );
    assert!(moved < Duration::from_secs(4), "failover took {moved:?}");
    assert_eq!(ml.vrrp_state(1).as_deref(), Some("FAULT"));
    assert_eq!(ml.vrrp_state(2).as_deref(), Some("MASTER"));
    assert!(
        wait_for(Duration::from_secs(3), || markers(&ml, 2)
            .contains("failover active")),
        "box 2's notify_master did not run: {:?}\n{}",
        markers(&ml, 2),
        ml.keepalived_log(2)
    );
    assert_eq!(
        ping_count(&ml, &c1, VIP, 2),
        2,
        "ping {VIP} after the failover"
    );

    // box 2 takes over the client's proxy-ARP entry and host route (box 1 keeps a
    // stale entry but no route); the inside host still sends to box 1 until box 2's
    // gratuitous ARP, then to box 2 at once
    lose_route(&ml, 1);
    take_client(&ml, 2);
    assert_eq!(ml.proxy_arp_entries(2), [CLIENT_INSIDE]);
    assert_eq!(ml.proxy_arp_entries(1), [CLIENT_INSIDE]);
    assert_eq!(
        ml.inside_sends_to(CLIENT_INSIDE),
        Some(1),
        "before the GARP"
    );
    standin.garp(&ml, 2, CLIENT_INSIDE);
    assert!(
        wait_for(Duration::from_millis(500), || ml
            .inside_sends_to(CLIENT_INSIDE)
            == Some(2)),
        "the inside host ignored box 2's gratuitous ARP: {:?}",
        ml.inside_neighbour(CLIENT_INSIDE)
    );
    let t = Instant::now();
    assert_eq!(
        ml.inside_ping(CLIENT_INSIDE, 1),
        1,
        "inside -> client via box 2"
    );
    println!(
        "inside -> client through box 2 right after the GARP: first ping answered in {:.0} ms",
        since(t)
    );
    assert_eq!(ml.inside_sends_to(CLIENT_INSIDE), Some(2));

    // box 1's leftover proxy entry is inert: the kernel proxies an address only while it
    // routes it out of another interface. Without box 2's entry a fresh ARP of the
    // inside host gets no answer at all; with it, box 2 answers.
    let inside_ns = ml.inside.clone();
    sh(
        &ml.gw(2).ns,
        &format!("ip neigh del proxy {CLIENT_INSIDE} dev {INSIDE_IF}"),
    );
    sh(&inside_ns, &format!("ip neigh del {CLIENT_INSIDE} dev br0"));
    assert_eq!(
        ml.inside_ping(CLIENT_INSIDE, 1),
        0,
        "someone proxies for box 2"
    );
    assert_eq!(ml.inside_neighbour(CLIENT_INSIDE), None);
    sh(
        &ml.gw(2).ns,
        &format!("ip neigh add proxy {CLIENT_INSIDE} dev {INSIDE_IF}"),
    );
    // The failed resolution just before left a FAILED neighbour entry, which the kernel
    // re-resolves on its own schedule: start from no entry, and allow a retry.
    let _ = ml.lab.exec(
        &inside_ns,
        5,
        &["ip", "neigh", "del", CLIENT_INSIDE, "dev", "br0"],
    );
    assert!(
        wait_for(Duration::from_secs(5), || ml.inside_ping(CLIENT_INSIDE, 1)
            == 1),
        "no fresh ARP via box 2"
    );
    assert_eq!(ml.inside_sends_to(CLIENT_INSIDE), Some(2));

    // box 1's gateway comes back: box 1 leaves FAULT as BACKUP and does not preempt
    standin.start(&mut ml, 1);
    let backup = wait_for(Duration::from_secs(5), || {
        ml.vrrp_state(1).as_deref() == Some("BACKUP")
    });
    assert!(
        backup,
        "box 1 did not return as backup:\n{}",
        ml.keepalived_log(1)
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        ml.vip_owners(),
        [2],
        "box 1 preempted:\n{}",
        ml.keepalived_logs()
    );
    assert_eq!(standin.probe(&ml, &c1).as_deref(), Some("box2"));
}

#[test]
fn the_template_renders_for_every_box_and_keepalived_accepts_it() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let ml = MultiLab::new(2, Outside::FailoverPair);
    for k in [1, 2] {
        let text = ml.keepalived_conf(k, &ml.vrrp_for_gateway(k));
        let me = &ml.gw(k).own_ip;
        let peer = &ml.gw(3 - k).own_ip;
        assert!(text.contains(&format!("unicast_src_ip {me}\n")), "{text}");
        assert!(
            text.contains(&format!("unicast_peer {{\n        {peer}\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "notify_master \"{GATEWAY} failover --control {} active\"",
                ml.gw(k).control.display()
            )),
            "{text}"
        );
        let conf = ml.file(&format!("check{k}.conf"), &text);
        let o = ml.exec(
            &ml.gw(k).ns,
            10,
            &["keepalived", "-t", "-l", "-f", conf.to_str().unwrap()],
        );
        assert!(
            o.status.success(),
            "keepalived -t: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // a placeholder left over, or a quote in a command, is an error (not a broken file)
    let bad = render_template("a @X@ b @Y@\n", &[("X", "1")]);
    assert!(bad.unwrap_err().contains("unreplaced"));
    let quote = render_template("script \"@X@\"\n", &[("X", "a\" b")]);
    assert!(quote.unwrap_err().contains("quote"));
}

#[test]
fn active_active_gateways_have_their_own_addresses_and_one_inside_lan() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let ml = MultiLab::new(3, Outside::ActiveActive);
    for k in 1..=3u8 {
        let g = ml.gw(k);
        assert!(has_addr(&g.ns, OUTSIDE_IF, &format!("192.168.1.{k}")));
        assert_eq!(g.inside_ip, format!("10.89.129.{}", 193 + k));
        assert_eq!(ml.client_target(k), format!("192.168.1.{k}"));
        // each box reaches the inside host and the AAA host over the shared LAN
        assert_eq!(
            ping_count(&ml, &g.ns, INSIDE_HOST, 1),
            1,
            "box {k} -> inside"
        );
        assert_eq!(ping_count(&ml, &g.ns, AAA_HOST, 1), 1, "box {k} -> AAA");
        // no blanket proxy ARP on the inside
        let o = ml.exec(
            &g.ns,
            5,
            &[
                "sysctl",
                "-n",
                "net.ipv4.conf.inside.proxy_arp",
                "net.ipv4.neigh.inside.proxy_delay",
            ],
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), "0\n0\n");
    }
    // the boxes see each other on both sides
    assert_eq!(ping_count(&ml, &ml.gw(1).ns, "192.168.1.3", 1), 1);
    assert_eq!(ping_count(&ml, &ml.gw(1).ns, "10.89.129.196", 1), 1);
}

#[test]
fn real_gateways_serve_their_own_clients_side_by_side() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc"]);
    let mut ml = MultiLab::new(2, Outside::ActiveActive);
    for k in [1, 2] {
        let cfg = ml.gateway_config(k, &[], &[]);
        ml.start_gateway(k, &cfg, &demo_secrets(), &[]);
        let v = ml.show(k, "version");
        assert!(v.contains("pixfirewall up"), "gateway {k}: {v}");
    }
    let c1 = ml.direct_client(1);
    let conf = VpncConf {
        gateway: ml.client_target(2),
        ..VpncConf::default()
    };
    ml.vpnc_tunnel(&c1, "vpnc1", &conf, "10.89.129.200");
    let on2 = ml.show(2, "uauth");
    assert!(
        on2.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{on2}"
    );
    let on1 = ml.show(1, "uauth");
    assert!(!on1.contains("cisco_customer"), "{on1}");
    assert!(ml
        .show(2, "crypto ipsec sa")
        .contains("current_peer: 192.168.1.11:"));
}
