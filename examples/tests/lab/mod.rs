//! A network lab in namespaces for the interop tests: our gateway (or the strongSwan
//! baseline) in one namespace, real clients in others, an inside host with an HTTP
//! server. Everything runs under `timeout`, and the lab deletes its namespaces and kills
//! its processes when dropped, even when a test fails; namespaces left behind by a
//! killed test run are removed by the next one.
//!
//! ```text
//!  c1 192.168.1.11 ─┐                         ┌─ gw 192.168.1.1 ── TUN pixin0 (the gateway)
//!  c2 192.168.1.12 ─┼── wan (bridge br0) ─────┤     10.89.129.194/28 ── in 10.89.129.193
//!  natr 192.168.1.50┘                         │                         lo 10.89.129.131 (HTTP)
//!   └ MASQUERADE ── n1 10.0.1.2, n2 10.0.2.2
//! ```
#![allow(clippy::disallowed_methods)] // the lab runs real processes on the real clock
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use testkit::freeradius::{self, edit};

pub mod multi;

/// The gateway binary under test.
pub const GATEWAY: &str = env!("CARGO_BIN_EXE_pix-gateway");
/// The interop kit.
pub const KIT: &str = testkit::shared::INTEROP_DIR;
/// The demo configuration.
pub const DEMO_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pix63-demo.cfg");
/// The demo secrets.
pub const DEMO_SECRETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pix63-demo.secrets");

pub const GW_IP: &str = "192.168.1.1";
pub const INSIDE_HOST: &str = "10.89.129.131";
/// The seed's AAA server (`aaa-server AuthInbound (inside) host 10.89.129.134`).
pub const AAA_HOST: &str = "10.89.129.134";
pub const PSK: &str = "cisco1234";
pub const USER: &str = "cisco_customer";
pub const PASS: &str = "cisco123";

static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One test at a time: handshakes are timed and the machine has two cores.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Fails loudly when the test cannot run here (never a silent skip).
pub fn require_root_and_tools(tools: &[&str]) {
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the interop tests need root (network namespaces, TUN, raw sockets): run scripts/test.sh as root"
    );
    for t in tools {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "the interop tests need `{t}`: scripts/deps.sh installs it"
        );
    }
    assert!(
        Path::new(KIT).join("vpnc-script.sh").exists(),
        "the interop kit ../shared/interop is missing (expected at {KIT})"
    );
}

pub fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Runs `cmd` and returns its output (panics if it cannot start).
pub fn run(cmd: &[&str]) -> Output {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn sh_ok(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

fn must(cmd: &str) {
    let o = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        o.status.success(),
        "lab setup failed: {cmd}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Deletes namespaces of earlier runs whose test process is gone.
fn reap_stale() {
    let o = run(&["ip", "netns", "list"]);
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("pgt") else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = run(&["ip", "netns", "del", name]);
    }
}

/// A running process of the lab.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if !self.alive() {
            return;
        }
        let _ = run(&["kill", "-TERM", &self.child.id().to_string()]);
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    /// SIGKILL to the process itself (the child of `timeout`, which would otherwise
    /// survive as an orphan), then to `timeout`.
    pub fn kill9(&mut self) {
        let _ = run(&["pkill", "-KILL", "-P", &self.child.id().to_string()]);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The lab.
pub struct Lab {
    pub id: String,
    pub dir: PathBuf,
    pub wan: String,
    pub gw: String,
    pub inside: String,
    pub natr: Option<String>,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    links: u32,
    pub control: PathBuf,
}

impl Lab {
    /// The wan bridge, the gateway's namespace and the inside host with its HTTP server.
    pub fn new() -> Lab {
        let mut lab = Lab::unbuilt("g", "control.sock");
        for ns in [lab.wan.clone(), lab.gw.clone(), lab.inside.clone()] {
            lab.add_ns(&ns);
        }
        let w = lab.wan.clone();
        must(&format!(
            "ip -n {w} link add br0 type bridge && ip -n {w} link set br0 up"
        ));
        let gw = lab.gw.clone();
        lab.wan_port(&gw, "192.168.1.1/24");
        let (a, b) = lab.veth(&gw, &lab.inside.clone());
        let i = lab.inside.clone();
        must(&format!(
            "ip -n {gw} addr add 10.89.129.194/28 dev {a} && ip -n {gw} link set {a} up && \
             ip -n {i} addr add 10.89.129.193/28 dev {b} && ip -n {i} link set {b} up && \
             ip -n {i} addr add {INSIDE_HOST}/32 dev lo && ip -n {i} addr add {AAA_HOST}/32 dev lo && \
             ip -n {gw} route add 10.89.129.128/25 via 10.89.129.193 && \
             ip netns exec {gw} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.{a}.proxy_arp=1 net.ipv4.neigh.{a}.proxy_delay=0"
        ));
        lab.inside_web_server(&i, 120);
        lab
    }

    /// The inside web server (the seed's 10.89.129.131) in namespace `ns`, for `secs`.
    pub fn inside_web_server(&mut self, ns: &str, secs: u32) {
        let www = self.dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), "inside web server 10.89.129.131\n").unwrap();
        self.spawn(
            ns,
            "http",
            &[
                "python3",
                "-m",
                "http.server",
                "--bind",
                INSIDE_HOST,
                "--directory",
                www.to_str().unwrap(),
                "80",
            ],
            secs,
        );
    }

    /// A lab with its names and directory, no namespace yet (the first gateway's
    /// namespace is `<id><gw>`, its control socket `<dir>/<control>`); stale labs of
    /// dead test processes are removed first.
    pub(crate) fn unbuilt(gw: &str, control: &str) -> Lab {
        reap_stale();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("pgt{}x{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("{id}.d"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            wan: format!("{id}w"),
            gw: format!("{id}{gw}"),
            inside: format!("{id}i"),
            natr: None,
            control: dir.join(control),
            id,
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
            links: 0,
        }
    }

    fn add_ns(&mut self, ns: &str) {
        must(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
        self.namespaces.push(ns.to_string());
    }

    fn veth(&mut self, a_ns: &str, b_ns: &str) -> (String, String) {
        self.links += 1;
        let (a, b) = (format!("va{}", self.links), format!("vb{}", self.links));
        must(&format!(
            "ip link add {a}{id} type veth peer name {b}{id} && ip link set {a}{id} netns {a_ns} name {a} && ip link set {b}{id} netns {b_ns} name {b}",
            id = self.links_suffix()
        ));
        (a, b)
    }

    fn links_suffix(&self) -> String {
        // interface names in the root namespace must be unique and short (15 bytes)
        format!("{}", std::process::id() % 100_000)
    }

    /// Plugs a namespace into the wan bridge with `cidr`.
    fn wan_port(&mut self, ns: &str, cidr: &str) -> String {
        let w = self.wan.clone();
        let (a, b) = self.veth(ns, &w);
        must(&format!(
            "ip -n {ns} addr add {cidr} dev {a} && ip -n {ns} link set {a} up && \
             ip -n {w} link set {b} master br0 && ip -n {w} link set {b} up"
        ));
        a
    }

    /// A client directly on the wan (192.168.1.10+n).
    pub fn direct_client(&mut self, n: u8) -> String {
        let ns = format!("{}c{n}", self.id);
        self.add_ns(&ns);
        self.wan_port(&ns, &format!("192.168.1.{}/24", 10 + u32::from(n)));
        ns
    }

    /// A client behind a NAT router (10.0.n.2, masqueraded to 192.168.1.50).
    pub fn natted_client(&mut self, n: u8) -> String {
        let natr = match &self.natr {
            Some(r) => r.clone(),
            None => {
                let r = format!("{}r", self.id);
                self.add_ns(&r);
                let up = self.wan_port(&r, "192.168.1.50/24");
                must(&format!(
                    "ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1 && \
                     ip netns exec {r} iptables -t nat -A POSTROUTING -o {up} -j MASQUERADE"
                ));
                self.natr = Some(r.clone());
                r
            }
        };
        let ns = format!("{}n{n}", self.id);
        self.add_ns(&ns);
        let (a, b) = self.veth(&ns, &natr);
        must(&format!(
            "ip -n {ns} addr add 10.0.{n}.2/24 dev {a} && ip -n {ns} link set {a} up && \
             ip -n {natr} addr add 10.0.{n}.1/24 dev {b} && ip -n {natr} link set {b} up && \
             ip -n {ns} route add default via 10.0.{n}.1"
        ));
        ns
    }

    /// Starts `cmd` in `ns` under `timeout secs`, output to a log file.
    pub fn spawn(&mut self, ns: &str, name: &str, cmd: &[&str], secs: u32) -> usize {
        self.spawn_stdin(ns, name, cmd, secs, None)
    }

    /// The same with text on stdin.
    pub fn spawn_stdin(
        &mut self,
        ns: &str,
        name: &str,
        cmd: &[&str],
        secs: u32,
        stdin: Option<&str>,
    ) -> usize {
        let log = self.dir.join(format!("{name}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, "timeout", "-k", "3", &secs.to_string()])
            .args(cmd)
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        if let Some(text) = stdin {
            let mut si = child.stdin.take().unwrap();
            si.write_all(text.as_bytes()).unwrap();
        }
        self.procs.push(Proc {
            name: name.into(),
            child,
            log,
        });
        self.procs.len() - 1
    }

    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// Runs a command in `ns` (bounded) and returns its output.
    pub fn exec(&self, ns: &str, secs: u32, cmd: &[&str]) -> Output {
        let s = secs.to_string();
        let mut v = vec!["ip", "netns", "exec", ns, "timeout", "-k", "2", &s];
        v.extend_from_slice(cmd);
        run(&v)
    }

    /// Writes a file into the lab directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Starts our gateway with `config` and `secrets` text, a key log and both debugs;
    /// waits until it listens.
    pub fn start_gateway(&mut self, config: &str, secrets: &str, extra: &[&str]) -> usize {
        let keylog = self.dir.join("gw.keylog");
        let keylog = keylog.to_str().unwrap().to_string();
        let mut all = vec![
            "--keylog", &keylog, "--debug", "crypto", "isakmp", "crypto", "ipsec",
        ];
        all.extend_from_slice(extra);
        self.start_gateway_quiet(config, secrets, &all)
    }

    /// Starts our gateway with `config` and `secrets` text and only the `extra` flags (no
    /// key log, no debug: as in production); waits until it listens.
    pub fn start_gateway_quiet(&mut self, config: &str, secrets: &str, extra: &[&str]) -> usize {
        let cfg = self.file("gw.cfg", config);
        let sec = self.file("gw.secrets", secrets);
        let ctl = self.control.clone();
        let gw = self.gw.clone();
        let mut cmd = vec![
            GATEWAY,
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--secrets",
            sec.to_str().unwrap(),
            "--control",
            ctl.to_str().unwrap(),
        ];
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_string()).collect();
        let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
        cmd.extend_from_slice(&extra_refs);
        let i = self.spawn(&gw, "gateway", &cmd, 170);
        let up = wait_for(Duration::from_secs(20), || {
            self.procs[i].log_text().contains(" up: IKE on") || !self.procs[i].alive()
        });
        assert!(
            up && self.procs[i].alive(),
            "the gateway did not start:\n{}",
            self.procs[i].log_text()
        );
        i
    }

    /// The strongSwan responder of the interop kit (`gw-strongswan.conf`,
    /// `gw-swanctl.conf`: configured like the PIX, UDP-encapsulated ESP) in the gateway's
    /// namespace, its own /run in a private mount, running at most `secs`; waits until
    /// its connection is loaded. Its process index.
    pub fn strongswan_responder(&mut self, secs: u32) -> usize {
        let gw = self.gw.clone();
        let dir = self.dir.to_str().unwrap().to_string();
        let conf = std::fs::read_to_string(kit("gw-strongswan.conf"))
            .unwrap()
            .replace("RUNDIR", &dir);
        let conf_path = self.file("gw-strongswan.conf", &conf);
        let swanctl = std::fs::read_to_string(kit("gw-swanctl.conf"))
            .unwrap()
            .replace("192.0.2.1", GW_IP);
        let swanctl_path = self.file("swanctl.conf", &swanctl);
        let charon = self.spawn(
            &gw,
            "charon",
            &[
                "unshare",
                "-m",
                "sh",
                "-c",
                &format!(
                    "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF={} /usr/lib/ipsec/charon",
                    conf_path.display()
                ),
            ],
            secs,
        );
        let vici = self.dir.join("gw-charon.vici");
        assert!(
            wait_for(Duration::from_secs(15), || vici.exists()),
            "charon did not start\n{}",
            self.logs()
        );
        let o = self.exec(
            &gw,
            20,
            &[
                "swanctl",
                "--load-all",
                "--noprompt",
                "--file",
                swanctl_path.to_str().unwrap(),
                "--uri",
                &format!("unix://{}", vici.display()),
            ],
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("loaded connection 'pix'"),
            "swanctl: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        charon
    }

    /// `pix-gateway show ...` against the lab's gateway.
    pub fn show(&self, what: &str) -> String {
        let mut v = vec![GATEWAY, "show", "--control", self.control.to_str().unwrap()];
        v.extend(what.split_whitespace());
        let o = self.exec(&self.gw, 10, &v);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `pix-gateway clear ...`.
    pub fn clear(&self, what: &str) -> String {
        let mut v = vec![
            GATEWAY,
            "clear",
            "--control",
            self.control.to_str().unwrap(),
        ];
        v.extend(what.split_whitespace());
        let o = self.exec(&self.gw, 10, &v);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Starts vpnc in `ns` with `conf` (key/value lines); returns (proc, interface name).
    pub fn vpnc(&mut self, ns: &str, name: &str, conf: &VpncConf, debug: u8) -> (usize, String) {
        let ifname = format!("vpnc{}", self.procs.len());
        let text = conf.render(&ifname);
        let script_log = self.dir.join(format!("{name}-script.log"));
        let pidfile = self.dir.join(format!("{name}.pid"));
        let script = format!("{KIT}/vpnc-script.sh");
        let debug = debug.to_string();
        let i = self.spawn_stdin(
            ns,
            name,
            &[
                "env",
                &format!("VPNC_SCRIPT_LOG={}", script_log.display()),
                "vpnc",
                "--debug",
                &debug,
                "--pid-file",
                pidfile.to_str().unwrap(),
                "--script",
                &script,
                "-",
            ],
            90,
            Some(&text),
        );
        (i, ifname)
    }

    /// Starts vpnc and waits for its tunnel with the address `want`; returns the process
    /// index and the TUN interface.
    pub fn vpnc_tunnel(
        &mut self,
        ns: &str,
        name: &str,
        conf: &VpncConf,
        want: &str,
    ) -> (usize, String) {
        let (p, ifname) = self.vpnc(ns, name, conf, 3);
        let got = self.wait_tunnel(ns, &ifname, p, 30);
        assert_eq!(
            got.as_deref(),
            Some(want),
            "vpnc {name}: no tunnel with {want}\n{}",
            self.logs()
        );
        (p, ifname)
    }

    /// Starts vpnc, which must give up within `secs` without a tunnel; returns the
    /// process index and how long it ran (ms).
    pub fn vpnc_refused(
        &mut self,
        ns: &str,
        name: &str,
        conf: &VpncConf,
        secs: u64,
    ) -> (usize, f64) {
        let (p, ifname) = self.vpnc(ns, name, conf, 3);
        let t0 = Instant::now();
        let ended = wait_for(Duration::from_secs(secs), || !self.procs[p].alive());
        assert!(
            ended,
            "vpnc {name} still running after {secs} s\n{}",
            self.logs()
        );
        assert!(
            self.addr_of(ns, &ifname).is_none(),
            "vpnc {name} got a tunnel"
        );
        (p, since(t0))
    }

    /// The IPv4 address on `ifname` in `ns`, if any.
    pub fn addr_of(&self, ns: &str, ifname: &str) -> Option<String> {
        let o = run(&["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", ifname]);
        let s = String::from_utf8_lossy(&o.stdout);
        s.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .map(|a| a.split('/').next().unwrap_or("").to_string())
    }

    /// Waits for the tunnel of a vpnc: its TUN has the Mode Config address and the route
    /// to the inside through it.
    pub fn wait_tunnel(
        &mut self,
        ns: &str,
        ifname: &str,
        proc_i: usize,
        secs: u64,
    ) -> Option<String> {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            // the kit's vpnc-script adds the route after the address: a ping in between
            // fails with "Network is unreachable"
            if let Some(a) = self.addr_of(ns, ifname) {
                let r = run(&["ip", "-n", ns, "route", "show", "10.89.129.128/25"]);
                if String::from_utf8_lossy(&r.stdout).contains(ifname) {
                    return Some(a);
                }
            }
            if !self.procs[proc_i].alive() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// `ping -c N` from `ns` to the inside host: how many replies.
    pub fn ping(&self, ns: &str, n: u32) -> u32 {
        let c = n.to_string();
        let o = self.exec(
            ns,
            20,
            // -w: until N replies or 6 s, so that the first echo, sent while vpnc's
            // Quick Mode may still be finishing (it configures its TUN before), can
            // be answered by a later one
            &["ping", "-c", &c, "-i", "0.2", "-w", "6", INSIDE_HOST],
        );
        if std::env::var("LAB_DEBUG").is_ok() {
            eprintln!(
                "ping: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        ping_received(&o.stdout)
    }

    /// HTTP GET of the inside web server from `ns`: the body.
    pub fn http_get(&self, ns: &str) -> String {
        let o = self.exec(
            ns,
            15,
            &["python3", "-c", &format!(
                "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen('http://{INSIDE_HOST}/',timeout=5).read().decode())"
            )],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Starts tshark on the gateway's outside interface.
    pub fn capture(&mut self, name: &str) -> (usize, PathBuf) {
        let pcap = self.dir.join(format!("{name}.pcap"));
        let gw = self.gw.clone();
        let i = self.spawn(
            &gw,
            name,
            &[
                "tshark",
                "-i",
                "va1",
                "-w",
                pcap.to_str().unwrap(),
                "-f",
                "udp port 500 or udp port 4500 or esp",
            ],
            170,
        );
        let ok = wait_for(Duration::from_secs(15), || {
            self.procs[i].log_text().contains("Capturing on")
        });
        assert!(ok, "tshark did not start: {}", self.procs[i].log_text());
        // dumpcap says "Capturing on" a moment before its capture is live
        std::thread::sleep(Duration::from_millis(1000));
        (i, pcap)
    }

    /// Everything the lab logged (for failure messages).
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for p in &self.procs {
            let t = p.log_text();
            let tail: Vec<&str> = t.lines().rev().take(60).collect();
            s.push_str(&format!("----- {} ({}) -----\n", p.name, p.log.display()));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.stop(Duration::from_secs(3));
        }
        for ns in self.namespaces.iter().rev() {
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("lab directory kept: {}", self.dir.display());
        }
    }
}

pub use testkit::wait_for;

/// The replies `ping`'s summary line counts (0 when it printed none).
pub fn ping_received(stdout: &[u8]) -> u32 {
    String::from_utf8_lossy(stdout)
        .split(',')
        .find(|p| p.contains("received"))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A vpnc configuration.
#[derive(Clone)]
pub struct VpncConf {
    pub gateway: String,
    pub group: String,
    pub secret: String,
    pub user: String,
    pub password: String,
    pub dh: String,
    pub natt: String,
    /// `DPD idle timeout (our side)`: 0 turns DPD off, and vpnc then does not announce
    /// the DPD vendor ID either (so the gateway sends no R-U-THERE).
    pub dpd_idle: u32,
    pub extra: Vec<String>,
}

impl Default for VpncConf {
    fn default() -> Self {
        VpncConf {
            gateway: GW_IP.into(),
            group: "vpn3000".into(),
            secret: PSK.into(),
            user: USER.into(),
            password: PASS.into(),
            dh: "dh2".into(),
            natt: "natt".into(),
            dpd_idle: 0,
            extra: Vec::new(),
        }
    }
}

impl VpncConf {
    fn render(&self, ifname: &str) -> String {
        let mut s = format!(
            "IPSec gateway {}\nIPSec ID {}\nIPSec secret {}\nXauth username {}\nXauth password {}\n\
             IKE DH Group {}\nPerfect Forward Secrecy nopfs\nEnable weak encryption\nEnable weak authentication\n\
             NAT Traversal Mode {}\nLocal Port 0\nDPD idle timeout (our side) {}\nInterface name {ifname}\nNoninteractive\nNo Detach\n",
            self.gateway,
            self.group,
            self.secret,
            self.user,
            self.password,
            self.dh,
            self.natt,
            self.dpd_idle
        );
        for l in &self.extra {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// The demo configuration with lines replaced (`(old, new)`, whole lines) or appended.
pub fn config_with(changes: &[(&str, &str)], append: &[&str]) -> String {
    let mut text = std::fs::read_to_string(DEMO_CFG).unwrap();
    for (old, new) in changes {
        assert!(text.contains(old), "demo config has no line {old:?}");
        text = text.replace(old, new);
    }
    // appended commands go before the framing lines at the end
    let end = text.find("Cryptochecksum").unwrap_or(text.len());
    let mut out = text[..end].to_string();
    for a in append {
        out.push_str(a);
        out.push('\n');
    }
    out.push_str(&text[end..]);
    out
}

/// The demo secrets.
pub fn demo_secrets() -> String {
    std::fs::read_to_string(DEMO_SECRETS).unwrap()
}

/// Path helper for the tests.
pub fn kit(file: &str) -> String {
    format!("{KIT}/{file}")
}

/// Milliseconds since `t0` (for handshake timing prints).
pub fn since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

impl Lab {
    /// A real FreeRADIUS in the inside namespace on the seed's AAA host, PIX ports
    /// 1645/1646, key `secretkey`, users cisco_customer/cisco123 and framed_user/framed123
    /// (Framed-IP-Address 10.89.129.203). Returns the process index.
    pub fn freeradius(&mut self) -> usize {
        let raddb = freeradius::copy_config(&self.dir, "rlog", "rrun");
        freeradius::listen_on(&raddb, AAA_HOST, 1645);
        edit(&raddb.join("clients.conf"), |s| {
            format!("{s}\nclient pix {{\n\tipaddr = 10.89.129.192/28\n\tsecret = secretkey\n}}\n")
        });
        edit(&raddb.join("mods-config/files/authorize"), |s| {
            format!(
                "cisco_customer Cleartext-Password := \"cisco123\"\n\n\
                 framed_user Cleartext-Password := \"framed123\"\n\
                 \tFramed-IP-Address = 10.89.129.203,\n\
                 \tFramed-IP-Netmask = 255.255.255.255\n\n{s}"
            )
        });
        let ns = self.inside.clone();
        let i = self.spawn(
            &ns,
            "radiusd",
            &[
                "freeradius",
                "-X",
                "-l",
                "stdout",
                "-d",
                raddb.to_str().unwrap(),
            ],
            150,
        );
        let ok = wait_for(Duration::from_secs(30), || {
            self.procs[i].log_text().contains(freeradius::READY)
        });
        assert!(
            ok,
            "FreeRADIUS did not start:\n{}",
            self.procs[i].log_text()
        );
        i
    }

    /// The interop kit's TACACS+ server (scapy's codec) in the inside namespace on the
    /// seed's AAA host, key `secretkey`, users cisco_customer/cisco123.
    pub fn tacacs(&mut self) -> usize {
        let ns = self.inside.clone();
        let script = kit("tacacs-scapy-server.py");
        let i = self.spawn(
            &ns,
            "tacacs",
            &[
                "python3",
                &script,
                "--bind",
                AAA_HOST,
                "--port",
                "49",
                "--key",
                "secretkey",
                "--timeout",
                "140",
                "--user",
                "cisco_customer:cisco123",
            ],
            150,
        );
        let ok = wait_for(Duration::from_secs(20), || {
            self.procs[i].log_text().contains("listening on")
        });
        assert!(
            ok,
            "TACACS+ server did not start:\n{}",
            self.procs[i].log_text()
        );
        i
    }
}

/// Whether a command exists (for optional timing comparisons only).
pub fn have(tool: &str) -> bool {
    sh_ok(&format!("command -v {tool} >/dev/null"))
}

impl Lab {
    /// A namespace for a flood generator on the wan (192.168.1.99/24), and a route in
    /// the gateway's namespace for the spoofed sources `cidr` toward it: the gateway's
    /// (or strongSwan's) replies to spoofed addresses end in that namespace, which does
    /// not forward them, and never leave the lab. Returns the namespace.
    pub fn flooder(&mut self, cidr: &str) -> String {
        let ns = format!("{}f", self.id);
        self.add_ns(&ns);
        self.wan_port(&ns, "192.168.1.99/24");
        must(&format!(
            "ip netns exec {ns} sysctl -qw net.ipv4.ip_forward=0 && \
             ip -n {} route add {cidr} via 192.168.1.99",
            self.gw
        ));
        ns
    }
}

/// The process a lab process runs under `timeout` (the gateway, say): the child of the
/// `timeout` the lab started, checked to be `comm`.
pub fn child_pid(lab: &mut Lab, i: usize, comm: &str) -> u32 {
    let tpid = lab.proc(i).child.id();
    let children =
        std::fs::read_to_string(format!("/proc/{tpid}/task/{tpid}/children")).unwrap_or_default();
    let pid: u32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no process under timeout {tpid}"));
    let got = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(got.trim(), comm, "the child of timeout {tpid}");
    pid
}

/// A `/proc/PID/status` field in kB (`VmRSS:`, `VmHWM:`).
pub fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("/proc/{pid}/status has no {field}"))
}

/// The gateway's Prometheus text from `--metrics ADDR:PORT`, fetched in its namespace.
pub fn metrics(lab: &Lab, addr: &str) -> String {
    let script = format!(
        "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen('http://{addr}/metrics',timeout=5).read().decode())"
    );
    let o = lab.exec(&lab.gw, 10, &["python3", "-c", &script]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One sample of a metrics text, by its name and labels (`pix_x{a="b"}`).
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}
