//! The lab with several gateways (issue 18): N gateway namespaces on the wan bridge and
//! one shared inside LAN, and keepalived (VRRP) moving the shared outside address
//! between a failover pair.
//!
//! ```text
//!                          wan (bridge br0)                 inside LAN (bridge br0 in `in`)
//!  c1 192.168.1.11 ─┐      │                                │
//!  c2 192.168.1.12 ─┼──────┼── g1: outside 192.168.1.1  (a) ─ inside 10.89.129.194/28 ──┤
//!                   │      │        or .21 + VIP .1     (b)                              │  in: br0 10.89.129.193/28
//!                   │      └── g2: outside 192.168.1.2  (a) ─ inside 10.89.129.195/28 ──┤      lo 10.89.129.131 (HTTP)
//!                   │               or .22 + VIP .1     (b)                              │      lo 10.89.129.134 (AAA)
//!                                   ... gk: 192.168.1.k / 192.168.1.(20+k), 10.89.129.(193+k)
//! ```
//!
//! (a) [`Outside::ActiveActive`]: gateway k owns 192.168.1.k. (b) [`Outside::FailoverPair`]:
//! each box owns 192.168.1.(20+k) and keepalived moves [`VIP`] between them. In every
//! gateway namespace the interfaces are called `outside` and `inside` (as the PIX names
//! them), `ip_forward` is on, the inside LAN's proxy ARP is NOT (the gateway adds one
//! `ip neigh add proxy ADDR dev inside` per client, and `proxy_delay` is 0 so that such
//! an entry answers at once), and 10.89.129.128/25 is routed via the inside host.
//!
//! The [`MultiLab`] is a [`Lab`] (it derefs to one), so clients, vpnc, pings, logs and
//! the clean-up on drop are the lab's; its `gw` and `control` are gateway 1's.

use std::ops::{Deref, DerefMut};

use super::*;

/// The shared outside address of a failover pair (the address clients connect to).
pub const VIP: &str = GW_IP;
/// [`VIP`] with its prefix, as keepalived adds it.
pub const VIP_CIDR: &str = "192.168.1.1/24";
/// The inside host's address on the shared inside LAN (the gateways' next hop).
pub const INSIDE_LAN_HOST: &str = "10.89.129.193";
/// The operator's keepalived template (placeholders documented in the file).
pub const KEEPALIVED_TEMPLATE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/failover/keepalived.conf.in");
/// The gateway's interface names in its namespace.
pub const OUTSIDE_IF: &str = "outside";
pub const INSIDE_IF: &str = "inside";
/// How long the lab's processes may run by default (`timeout`: a safety net for a test
/// killed before its lab's drop; [`MultiLab::proc_secs`] changes it for later starts).
pub const PROC_SECS: u32 = 300;
/// The stderr/stdout line our gateway prints when it listens.
pub const GATEWAY_UP: &str = " up: IKE on";

/// How the gateways face the wan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    /// Gateway k owns 192.168.1.k/24.
    ActiveActive,
    /// Gateway k owns 192.168.1.(20+k)/24; keepalived moves [`VIP_CIDR`].
    FailoverPair,
}

/// One gateway box of the lab.
#[derive(Debug)]
pub struct Gateway {
    /// 1-based.
    pub k: u8,
    /// Its network namespace.
    pub ns: String,
    /// Its own outside address (192.168.1.k or 192.168.1.(20+k)).
    pub own_ip: String,
    /// Its inside address 10.89.129.(193+k).
    pub inside_ip: String,
    /// Its control socket (`--control`).
    pub control: PathBuf,
    /// The lab process index of the running gateway (or stand-in), if started.
    pub process: Option<usize>,
    /// The lab process index of its keepalived, if started.
    pub keepalived: Option<usize>,
    /// How many times a gateway was started here (names the logs: gateway2, gateway2.2).
    starts: u32,
}

/// The lab with several gateways.
pub struct MultiLab {
    pub lab: Lab,
    pub mode: Outside,
    pub gws: Vec<Gateway>,
    /// `timeout` for gateways and keepalived started from now on ([`PROC_SECS`]).
    pub proc_secs: u32,
}

impl Deref for MultiLab {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl DerefMut for MultiLab {
    fn deref_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }
}

/// keepalived's settings for one box (rendered into [`KEEPALIVED_TEMPLATE`]). Commands
/// are absolute paths with arguments separated by spaces, no double quotes.
#[derive(Clone, Debug)]
pub struct Vrrp {
    /// The health check, every second (`pix-gateway show version --control SOCK`).
    pub check: String,
    /// Run on becoming master (`pix-gateway failover active --control SOCK`).
    pub notify_master: String,
    /// Run on becoming backup, and when keepalived stops.
    pub notify_backup: String,
    /// Run when the check fails.
    pub notify_fault: String,
    /// None: 150 for box 1, 100 for box 2, 50 for box 3...
    pub priority: Option<u8>,
    pub vrid: u8,
}

impl MultiLab {
    /// `n` gateway namespaces (1..=6: the inside /28 holds .194..=.199 before the demo
    /// pool at .200) on the wan and one inside LAN, the inside host with its HTTP server.
    pub fn new(n: u8, mode: Outside) -> MultiLab {
        assert!(
            (1..=6).contains(&n),
            "MultiLab::new: 1 to 6 gateways, not {n}"
        );
        let mut lab = Lab::unbuilt("g1", "gw1.sock");
        let (w, i) = (lab.wan.clone(), lab.inside.clone());
        lab.add_ns(&w);
        lab.add_ns(&i);
        must(&format!(
            "ip -n {w} link add br0 type bridge && ip -n {w} link set br0 up && \
             ip -n {i} link add br0 type bridge && ip -n {i} link set br0 up && \
             ip -n {i} addr add {INSIDE_LAN_HOST}/28 dev br0 && \
             ip -n {i} addr add {INSIDE_HOST}/32 dev lo && ip -n {i} addr add {AAA_HOST}/32 dev lo"
        ));
        let mut gws = Vec::new();
        for k in 1..=n {
            let ns = format!("{}g{k}", lab.id);
            lab.add_ns(&ns);
            let own_ip = match mode {
                Outside::ActiveActive => format!("192.168.1.{k}"),
                Outside::FailoverPair => format!("192.168.1.{}", 20 + u32::from(k)),
            };
            let inside_ip = format!("10.89.129.{}", 193 + u32::from(k));
            let port = format!("gw{k}");
            veth_named(&mut lab, &ns, OUTSIDE_IF, &w, &port);
            veth_named(&mut lab, &ns, INSIDE_IF, &i, &port);
            must(&format!(
                "ip -n {ns} addr add {own_ip}/24 dev {OUTSIDE_IF} && ip -n {ns} link set {OUTSIDE_IF} up && \
                 ip -n {w} link set {port} master br0 && ip -n {w} link set {port} up && \
                 ip -n {ns} addr add {inside_ip}/28 dev {INSIDE_IF} && ip -n {ns} link set {INSIDE_IF} up && \
                 ip -n {i} link set {port} master br0 && ip -n {i} link set {port} up && \
                 ip -n {ns} route add 10.89.129.128/25 via {INSIDE_LAN_HOST} && \
                 ip netns exec {ns} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.neigh.{INSIDE_IF}.proxy_delay=0"
            ));
            gws.push(Gateway {
                k,
                control: lab.dir.join(format!("gw{k}.sock")),
                ns,
                own_ip,
                inside_ip,
                process: None,
                keepalived: None,
                starts: 0,
            });
        }
        lab.inside_web_server(&i, PROC_SECS);
        MultiLab {
            lab,
            mode,
            gws,
            proc_secs: PROC_SECS,
        }
    }

    /// Gateway `k` (1-based).
    pub fn gw(&self, k: u8) -> &Gateway {
        self.gws
            .get(usize::from(k).wrapping_sub(1))
            .unwrap_or_else(|| panic!("the lab has gateways 1..={}, not {k}", self.gws.len()))
    }

    fn gw_mut(&mut self, k: u8) -> &mut Gateway {
        let n = self.gws.len();
        self.gws
            .get_mut(usize::from(k).wrapping_sub(1))
            .unwrap_or_else(|| panic!("the lab has gateways 1..={n}, not {k}"))
    }

    /// A client directly on the wan (192.168.1.10+n), as [`Lab::direct_client`], refusing
    /// an address that a box of this lab has.
    pub fn direct_client(&mut self, n: u8) -> String {
        let ip = format!("192.168.1.{}", 10 + u32::from(n));
        assert!(
            self.gws.iter().all(|g| g.own_ip != ip) && ip != VIP,
            "client {n} would get {ip}, an address of a gateway box"
        );
        self.lab.direct_client(n)
    }

    /// The address clients use for gateway `k`: its own in active-active, [`VIP`] in a
    /// failover pair.
    pub fn client_target(&self, k: u8) -> String {
        match self.mode {
            Outside::ActiveActive => self.gw(k).own_ip.clone(),
            Outside::FailoverPair => VIP.to_string(),
        }
    }

    /// The demo configuration for gateway `k` with `changes` and `append` as
    /// [`config_with`]: `ip address outside` is the address its clients use
    /// ([`MultiLab::client_target`]), `ip address inside` its own inside address.
    pub fn gateway_config(&self, k: u8, changes: &[(&str, &str)], append: &[&str]) -> String {
        let outside = format!("ip address outside {} 255.255.255.0", self.client_target(k));
        let inside = format!("ip address inside {} 255.255.255.240", self.gw(k).inside_ip);
        let mut all = vec![
            (
                "ip address outside 192.168.1.1 255.255.255.0",
                outside.as_str(),
            ),
            (
                "ip address inside 10.89.129.194 255.255.255.240",
                inside.as_str(),
            ),
        ];
        all.extend_from_slice(changes);
        config_with(&all, append)
    }

    /// Sets sysctls (`name=value`) in gateway `k`'s namespace, e.g.
    /// `net.ipv4.ip_nonlocal_bind=1` (which `arping -U` for a proxied address would need
    /// (the gateway sends its gratuitous ARP from a packet socket instead), but
    /// which also lets any bind to a foreign address succeed: it hides whether the
    /// gateway's IP_FREEBIND works).
    pub fn sysctl(&self, k: u8, settings: &[&str]) {
        let mut v = vec!["sysctl", "-qw"];
        v.extend_from_slice(settings);
        let o = self.lab.exec(&self.gw(k).ns, 5, &v);
        assert!(
            o.status.success(),
            "sysctl {settings:?} on gateway {k}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Starts our gateway in gateway `k`'s namespace with `config` and `secrets` text,
    /// its control socket and only the `extra` flags; waits until it listens.
    pub fn start_gateway(&mut self, k: u8, config: &str, secrets: &str, extra: &[&str]) -> usize {
        let cfg = self.file(&format!("gw{k}.cfg"), config);
        let sec = self.file(&format!("gw{k}.secrets"), secrets);
        let ctl = self.gw(k).control.to_str().unwrap().to_string();
        let mut cmd = vec![
            GATEWAY,
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--secrets",
            sec.to_str().unwrap(),
            "--control",
            &ctl,
        ];
        cmd.extend_from_slice(extra);
        self.start_in_gateway(k, &cmd, GATEWAY_UP)
    }

    /// Starts `cmd` as gateway `k`'s process (our gateway, or a stand-in) and waits until
    /// its log shows `ready`; it is then what [`MultiLab::kill_gateway`] kills. The log
    /// is `gateway{k}.log`, `gateway{k}.2.log` for a restart, and so on.
    pub fn start_in_gateway(&mut self, k: u8, cmd: &[&str], ready: &str) -> usize {
        let g = self.gw_mut(k);
        g.starts += 1;
        let name = match g.starts {
            1 => format!("gateway{k}"),
            s => format!("gateway{k}.{s}"),
        };
        let ns = g.ns.clone();
        let i = self.lab.spawn(&ns, &name, cmd, self.proc_secs);
        self.gw_mut(k).process = Some(i);
        let up = wait_for(Duration::from_secs(20), || {
            self.lab.procs[i].log_text().contains(ready) || !self.lab.procs[i].alive()
        });
        assert!(
            up && self.lab.procs[i].alive(),
            "gateway {k} did not start ({ready:?} not in its log):\n{}",
            self.lab.procs[i].log_text()
        );
        i
    }

    /// Gateway `k`'s running process index.
    pub fn gateway_proc(&self, k: u8) -> usize {
        self.gw(k)
            .process
            .unwrap_or_else(|| panic!("gateway {k} was not started"))
    }

    /// SIGKILL to gateway `k`'s process (not to `timeout`'s other children).
    pub fn kill_gateway(&mut self, k: u8) {
        let i = self.gateway_proc(k);
        self.lab.procs[i].kill9();
    }

    /// `PROGRAM SUBCOMMAND --control SOCK REST` for gateway `k`, as one command line (for
    /// keepalived): `control_command(1, "show version")`. The socket goes right after the
    /// subcommand: `show`'s words would take a `--control` after them as words (and the
    /// command would ask the default socket).
    pub fn control_command(&self, k: u8, words: &str) -> String {
        self.control_argv(k, words).join(" ")
    }

    fn control_argv(&self, k: u8, words: &str) -> Vec<String> {
        let mut w = words.split_whitespace();
        let sub = w
            .next()
            .unwrap_or_else(|| panic!("control_command: no subcommand in {words:?}"));
        let mut v = vec![
            GATEWAY.to_string(),
            sub.to_string(),
            "--control".to_string(),
            self.gw(k).control.to_str().unwrap().to_string(),
        ];
        v.extend(w.map(str::to_string));
        v
    }

    /// Runs `pix-gateway SUBCOMMAND --control SOCK REST` in gateway `k`'s namespace.
    pub fn control(&self, k: u8, words: &str) -> Output {
        let argv = self.control_argv(k, words);
        let v: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.lab.exec(&self.gw(k).ns, 10, &v)
    }

    /// `pix-gateway show WHAT` against gateway `k`: its stdout.
    pub fn show(&self, k: u8, what: &str) -> String {
        let o = self.control(k, &format!("show {what}"));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `pix-gateway clear WHAT` against gateway `k`: its stdout.
    pub fn clear(&self, k: u8, what: &str) -> String {
        let o = self.control(k, &format!("clear {what}"));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `pix-gateway failover ROLE` against gateway `k` (what keepalived's notify runs).
    pub fn failover(&self, k: u8, role: &str) -> Output {
        self.control(k, &format!("failover {role}"))
    }

    /// The real commands for gateway `k`: the check is `show version`, master runs
    /// `failover active`, backup and fault `failover standby`.
    pub fn vrrp_for_gateway(&self, k: u8) -> Vrrp {
        Vrrp {
            check: self.control_command(k, "show version"),
            notify_master: self.control_command(k, "failover active"),
            notify_backup: self.control_command(k, "failover standby"),
            notify_fault: self.control_command(k, "failover standby"),
            priority: None,
            vrid: 51,
        }
    }

    /// The keepalived.conf of box `k` (failover pair only): the template with this
    /// box's addresses, the other boxes as unicast peers, and `v`'s commands.
    pub fn keepalived_conf(&self, k: u8, v: &Vrrp) -> String {
        assert_eq!(
            self.mode,
            Outside::FailoverPair,
            "keepalived runs on a failover pair (MultiLab::new(2, Outside::FailoverPair))"
        );
        let g = self.gw(k);
        let peers: Vec<&str> = self
            .gws
            .iter()
            .filter(|o| o.k != k)
            .map(|o| o.own_ip.as_str())
            .collect();
        let priority = v
            .priority
            .unwrap_or_else(|| 200u8.saturating_sub(k.saturating_mul(50)).max(1))
            .to_string();
        let template = std::fs::read_to_string(KEEPALIVED_TEMPLATE)
            .unwrap_or_else(|e| panic!("cannot read {KEEPALIVED_TEMPLATE}: {e}"));
        let router_id = format!("box{k}");
        let vrid = v.vrid.to_string();
        let peer_lines = peers.join("\n        ");
        render_template(
            &template,
            &[
                ("ROUTER_ID", &router_id),
                ("INTERFACE", OUTSIDE_IF),
                ("VRID", &vrid),
                ("PRIORITY", &priority),
                ("SELF_IP", &g.own_ip),
                ("PEER_IPS", &peer_lines),
                ("VIP_CIDR", VIP_CIDR),
                ("CHECK_COMMAND", &v.check),
                ("NOTIFY_MASTER", &v.notify_master),
                ("NOTIFY_BACKUP", &v.notify_backup),
                ("NOTIFY_FAULT", &v.notify_fault),
            ],
        )
        .unwrap_or_else(|e| panic!("{KEEPALIVED_TEMPLATE}: {e}"))
    }

    /// Renders box `k`'s keepalived.conf, has keepalived check it (`-t`), and starts
    /// `keepalived -n -l -D -P -G` in box `k`'s namespace with its own pid files; waits
    /// for its VRRP process to start. Its log is `keepalived{k}.log`.
    pub fn start_keepalived(&mut self, k: u8, v: &Vrrp) -> usize {
        let conf_text = self.keepalived_conf(k, v);
        let conf = self.file(&format!("keepalived{k}.conf"), &conf_text);
        let conf = conf.to_str().unwrap().to_string();
        let ns = self.gw(k).ns.clone();
        let t = self
            .lab
            .exec(&ns, 10, &["keepalived", "-t", "-l", "-f", &conf]);
        assert!(
            t.status.success(),
            "keepalived -t rejects box {k}'s configuration:\n{}{}\n{conf_text}",
            String::from_utf8_lossy(&t.stdout),
            String::from_utf8_lossy(&t.stderr)
        );
        let pid = self.dir.join(format!("keepalived{k}.pid"));
        let vrrp_pid = self.dir.join(format!("keepalived{k}-vrrp.pid"));
        let i = self.lab.spawn(
            &ns,
            &format!("keepalived{k}"),
            &[
                "keepalived",
                "-n", // stay in the foreground (under timeout)
                "-l", // log to stdout: the lab's log file
                "-D",
                "-P", // VRRP only (no IPVS checker)
                "-G", // not to syslog
                "-f",
                &conf,
                "-p",
                pid.to_str().unwrap(),
                "-r",
                vrrp_pid.to_str().unwrap(),
            ],
            self.proc_secs,
        );
        self.gw_mut(k).keepalived = Some(i);
        let ok = wait_for(Duration::from_secs(10), || {
            self.lab.procs[i].log_text().contains("Startup complete") || !self.lab.procs[i].alive()
        });
        assert!(
            ok && self.lab.procs[i].alive(),
            "keepalived on box {k} did not start:\n{}",
            self.lab.procs[i].log_text()
        );
        i
    }

    /// Starts keepalived on every box (each with `vrrp(k)`) and waits until exactly one
    /// box holds [`VIP`]; returns that box and how long it took (about 3.5 s: VRRP's
    /// master-down time, as both start as BACKUP for nopreempt).
    pub fn start_failover(&mut self, vrrp: impl Fn(&MultiLab, u8) -> Vrrp) -> (u8, Duration) {
        let t0 = Instant::now();
        let ks: Vec<u8> = self.gws.iter().map(|g| g.k).collect();
        for k in ks {
            let v = vrrp(self, k);
            self.start_keepalived(k, &v);
        }
        let mut owners = Vec::new();
        let ok = wait_for(Duration::from_secs(15), || {
            owners = self.vip_owners();
            owners.len() == 1
        });
        assert!(
            ok,
            "no single VIP owner after 15 s (owners {owners:?}):\n{}",
            self.keepalived_logs()
        );
        (owners[0], t0.elapsed())
    }

    /// The boxes that have [`VIP`] on their outside interface (more than one is a split
    /// brain).
    pub fn vip_owners(&self) -> Vec<u8> {
        self.gws
            .iter()
            .filter(|g| has_addr(&g.ns, OUTSIDE_IF, VIP))
            .map(|g| g.k)
            .collect()
    }

    /// Waits until box `k` alone holds [`VIP`]; how long that took, or None after
    /// `limit`.
    pub fn wait_vip(&self, k: u8, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        wait_for(limit, || self.vip_owners() == [k]).then(|| t0.elapsed())
    }

    /// Box `k`'s keepalived log.
    pub fn keepalived_log(&self, k: u8) -> String {
        self.gw(k)
            .keepalived
            .map(|i| self.lab.procs[i].log_text())
            .unwrap_or_default()
    }

    /// Every box's keepalived log (for failure messages).
    pub fn keepalived_logs(&self) -> String {
        let mut s = String::new();
        for g in &self.gws {
            s.push_str(&format!(
                "----- keepalived on box {} -----\n{}",
                g.k,
                self.keepalived_log(g.k)
            ));
        }
        s
    }

    /// The last VRRP state box `k`'s keepalived entered (`MASTER`, `BACKUP`, `FAULT`).
    pub fn vrrp_state(&self, k: u8) -> Option<String> {
        self.keepalived_log(k).lines().rev().find_map(|l| {
            let rest = l.split("Entering ").nth(1)?;
            Some(rest.strip_suffix(" STATE")?.trim().to_string())
        })
    }

    /// The MAC address of `ifname` in gateway `k`'s namespace.
    pub fn mac(&self, k: u8, ifname: &str) -> String {
        let o = run(&[
            "ip",
            "-n",
            &self.gw(k).ns,
            "-o",
            "link",
            "show",
            "dev",
            ifname,
        ]);
        let s = String::from_utf8_lossy(&o.stdout);
        s.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC for {ifname} on gateway {k}: {s}"))
            .to_string()
    }

    /// The addresses gateway `k` answers ARP for on its inside interface
    /// (`ip neigh show proxy dev inside`).
    pub fn proxy_arp_entries(&self, k: u8) -> Vec<String> {
        let o = run(&[
            "ip",
            "-n",
            &self.gw(k).ns,
            "-4",
            "neigh",
            "show",
            "proxy",
            "dev",
            INSIDE_IF,
        ]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }

    /// Gateway `k`'s route to `addr` (`ip route get`), e.g. `10.89.129.200 dev pixin0 ...`.
    pub fn route_to(&self, k: u8, addr: &str) -> String {
        let o = run(&["ip", "-n", &self.gw(k).ns, "route", "get", addr]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// The MAC the inside host has for `addr` (its neighbour entry), if any: which
    /// gateway it sends that client's packets to.
    pub fn inside_neighbour(&self, addr: &str) -> Option<String> {
        let o = run(&["ip", "-n", &self.inside, "-4", "neigh", "show", addr]);
        let s = String::from_utf8_lossy(&o.stdout);
        s.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .map(str::to_string)
    }

    /// Which gateway the inside host sends `addr`'s packets to (by its neighbour entry).
    pub fn inside_sends_to(&self, addr: &str) -> Option<u8> {
        let mac = self.inside_neighbour(addr)?;
        self.gws
            .iter()
            .find(|g| self.mac(g.k, INSIDE_IF) == mac)
            .map(|g| g.k)
    }

    /// `ping -c n` from the inside host to `addr` (a client's inside address): replies.
    pub fn inside_ping(&self, addr: &str, n: u32) -> u32 {
        ping_count(&self.lab, &self.inside, addr, n)
    }
}

/// `ping -c n -i 0.2 -W 1` from `ns` to `addr`: how many replies.
pub fn ping_count(lab: &Lab, ns: &str, addr: &str, n: u32) -> u32 {
    let c = n.to_string();
    let o = lab.exec(
        ns,
        20,
        &["ping", "-n", "-c", &c, "-i", "0.2", "-W", "1", addr],
    );
    super::ping_received(&o.stdout)
}

/// Whether `ns` has `addr` on `ifname`.
pub fn has_addr(ns: &str, ifname: &str, addr: &str) -> bool {
    let o = run(&["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", ifname]);
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .any(|w| w.split('/').next() == Some(addr))
}

/// A veth pair named `a_name` in `a_ns` and `b_name` in `b_ns` (short temporary names in
/// the root namespace, unique across parallel test binaries as the lab's).
fn veth_named(lab: &mut Lab, a_ns: &str, a_name: &str, b_ns: &str, b_name: &str) {
    lab.links += 1;
    let (a, b) = (
        format!("vm{}{}", lab.links, lab.links_suffix()),
        format!("vn{}{}", lab.links, lab.links_suffix()),
    );
    must(&format!(
        "ip link add {a} type veth peer name {b} && ip link set {a} netns {a_ns} name {a_name} && \
         ip link set {b} netns {b_ns} name {b_name}"
    ));
}

/// Replaces each `@NAME@` of `template` by its value. Fails when a value is missing,
/// unused, or holds a double quote or a newline that could break out of keepalived's
/// quoted strings (newlines are allowed in the peer list, which is not quoted).
pub fn render_template(template: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = template.to_string();
    for (name, value) in vars {
        let key = format!("@{name}@");
        if !out.contains(&key) {
            return Err(format!("the template has no placeholder {key}"));
        }
        if value.contains('"') || (value.contains('\n') && *name != "PEER_IPS") {
            return Err(format!(
                "the value of {key} holds a quote or newline: {value:?}"
            ));
        }
        if value.trim().is_empty() {
            return Err(format!("the value of {key} is empty"));
        }
        out = out.replace(&key, value);
    }
    for (n, line) in out.lines().enumerate() {
        let code = line.split('#').next().unwrap_or("");
        if let Some(at) = code.find('@') {
            if code[at + 1..].contains('@') {
                return Err(format!(
                    "line {}: a placeholder was left unreplaced: {line}",
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}
