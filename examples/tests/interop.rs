//! `pix-gateway run` against real peers nobody here wrote, in network namespaces the
//! tests create (see `lab/mod.rs`): vpnc, strongSwan's charon-cmd, libreswan, ike-scan
//! with psk-crack, and tshark decrypting what we sent with keys taken from vpnc.
//!
//! They need root and the Debian packages `scripts/deps.sh` installs; without them they
//! fail with a message saying so (never a silent skip).
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &["ip", "vpnc", "python3", "ping", "iptables"];

/// Connects one vpnc and checks the tunnel: address, ping, HTTP. Returns the proc index
/// and the TUN interface.
fn connect_vpnc(
    lab: &mut Lab,
    ns: &str,
    name: &str,
    conf: &VpncConf,
    want_addr: &str,
) -> (usize, String) {
    let t0 = Instant::now();
    let (p, ifname) = lab.vpnc_tunnel(ns, name, conf, want_addr);
    eprintln!(
        "{name}: tunnel up in {:.0} ms (vpnc start -> TUN configured)",
        since(t0)
    );
    (p, ifname)
}

fn check_traffic(lab: &Lab, ns: &str, what: &str) {
    let got = lab.ping(ns, 3);
    assert!(
        got >= 2,
        "{what}: ping through the tunnel: {got}/3 replies\n{}",
        lab.logs()
    );
    let body = lab.http_get(ns);
    assert!(
        body.contains("inside web server 10.89.129.131"),
        "{what}: HTTP GET through the tunnel returned {body:?}\n{}",
        lab.logs()
    );
}

fn natt_config() -> String {
    config_with(&[], &["isakmp nat-traversal 20"])
}

#[test]
fn vpnc_natt_behind_nat_des_md5_group2() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    lab.start_gateway(&natt_config(), &demo_secrets(), &[]);
    let ns = lab.natted_client(1);
    let (p, _) = connect_vpnc(
        &mut lab,
        &ns,
        "vpnc-natt",
        &VpncConf::default(),
        "10.89.129.200",
    );
    check_traffic(&lab, &ns, "vpnc NAT-T");
    let sa = lab.show("crypto ipsec sa");
    assert!(sa.contains("current_peer: 192.168.1.50:"), "{sa}");
    assert!(
        sa.contains("in use settings ={Tunnel UDP-Encaps, }"),
        "NAT-T float expected:\n{sa}"
    );
    assert!(sa.contains("transform: esp-des esp-md5-hmac"), "{sa}");
    let decaps: u64 = sa
        .lines()
        .find_map(|l| l.trim().strip_prefix("#pkts decaps: "))
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(decaps >= 3, "decaps counter {decaps}:\n{sa}");
    lab.proc(p).stop(Duration::from_secs(5));
}

#[test]
fn vpnc_raw_esp_without_natt() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    lab.start_gateway(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &[],
    );
    let ns = lab.direct_client(1);
    // live debug over the control socket, as an admin watches it
    let (gw, ctl) = (lab.gw.clone(), lab.control.to_str().unwrap().to_string());
    let dbg = lab.spawn(
        &gw,
        "debug-isakmp",
        &[GATEWAY, "debug", "--control", &ctl, "crypto", "isakmp"],
        60,
    );
    let dbg_ipsec = lab.spawn(
        &gw,
        "debug-ipsec",
        &[GATEWAY, "debug", "--control", &ctl, "crypto", "ipsec"],
        60,
    );
    std::thread::sleep(Duration::from_millis(300));
    let conf = VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    };
    connect_vpnc(&mut lab, &ns, "vpnc-raw", &conf, "10.89.129.200");
    check_traffic(&lab, &ns, "vpnc raw ESP");
    let isakmp_lines = lab.proc(dbg).log_text();
    assert!(
        isakmp_lines.contains("ISAKMP (0): atts are acceptable. Next payload is 3"),
        "{isakmp_lines}"
    );
    assert!(
        !isakmp_lines.contains("IPSEC("),
        "isakmp debug only: {isakmp_lines}"
    );
    let ipsec_lines = lab.proc(dbg_ipsec).log_text();
    assert!(
        ipsec_lines.contains("IPSEC(spi_response): getting spi"),
        "{ipsec_lines}"
    );
    assert!(
        ipsec_lines.lines().all(|l| l.starts_with("IPSEC(")),
        "{ipsec_lines}"
    );
    let version = lab.show("version");
    assert!(
        version.contains("PIX Version 6.3 compatible") && version.contains("pixfirewall up"),
        "{version}"
    );
    let sa = lab.show("crypto ipsec sa");
    assert!(
        sa.contains("in use settings ={Tunnel, }"),
        "raw ESP expected:\n{sa}"
    );
    assert!(sa.contains("current_peer: 192.168.1.11:"), "{sa}");
    let isakmp = lab.show("crypto isakmp sa");
    assert!(isakmp.contains("Total     : 1"), "{isakmp}");
    assert!(isakmp.contains("QM_IDLE"), "{isakmp}");
    let uauth = lab.show("uauth");
    assert!(
        uauth.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{uauth}"
    );
    let pool = lab.show("local-pool VPNpool");
    assert!(pool.contains("VPNpool"), "{pool}");
    assert!(
        pool.lines()
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()[3..]
            == ["4", "1"],
        "{pool}"
    );
}

fn strong_crypto(lab: &mut Lab, policy: &[&str], transform: &str, want: &str) -> usize {
    let cfg = config_with(
        &[(
            "crypto ipsec transform-set myset esp-des esp-md5-hmac",
            transform,
        )],
        policy,
    );
    let gw = lab.start_gateway(&cfg, &demo_secrets(), &[]);
    let ns = lab.direct_client(1);
    let conf = VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    };
    connect_vpnc(lab, &ns, "vpnc-strong", &conf, "10.89.129.200");
    check_traffic(lab, &ns, want);
    let sa = lab.show("crypto ipsec sa");
    assert!(sa.contains(want), "{want} expected:\n{sa}");
    gw
}

#[test]
fn vpnc_3des_sha1() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let gw = strong_crypto(
        &mut lab,
        &[
            "isakmp policy 5 authentication pre-share",
            "isakmp policy 5 encryption 3des",
            "isakmp policy 5 hash sha",
            "isakmp policy 5 group 2",
        ],
        "crypto ipsec transform-set myset esp-3des esp-sha-hmac",
        "transform: esp-3des esp-sha-hmac",
    );
    let log = lab.proc(gw).log_text();
    assert!(log.contains("against priority 5 policy"), "{log}");
}

#[test]
fn vpnc_aes128_sha1() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    strong_crypto(
        &mut lab,
        &[
            "isakmp policy 5 authentication pre-share",
            "isakmp policy 5 encryption aes",
            "isakmp policy 5 hash sha",
            "isakmp policy 5 group 2",
        ],
        "crypto ipsec transform-set myset esp-aes esp-sha-hmac",
        "transform: esp-aes esp-sha-hmac",
    );
}

#[test]
fn wrong_password_and_wrong_group_secret_leave_nothing_behind() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    // A wrong group key is caught by vpnc itself (our HASH_R in AM2 does not verify), so
    // the gateway is left with an embryonic SA that only its half-open timeout ends: 5 s
    // here instead of the default 60.
    let gw = lab.start_gateway(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &["--limit", "half-open-timeout=5"],
    );
    let ns = lab.direct_client(1);
    // wrong Xauth password: vpnc gives up, the gateway refuses after its retries
    let conf = VpncConf {
        natt: "none".into(),
        password: "wrong".into(),
        ..VpncConf::default()
    };
    let (p, ms) = lab.vpnc_refused(&ns, "vpnc-badpass", &conf, 40);
    eprintln!("wrong password: vpnc gave up after {ms:.0} ms");
    let log = lab.proc(gw).log_text();
    let rejected = log.matches("user 'cisco_customer' rejected").count();
    eprintln!("wrong password: rejected {rejected} time(s)");
    // The gateway offers the configured retries (a new REQUEST with the PIX's retry
    // message); vpnc, non-interactive, cannot answer twice and gives up.
    let vpnc_log = lab.proc(p).log_text();
    assert!(
        vpnc_log.contains("Authentication failed, please try again"),
        "{vpnc_log}"
    );
    assert!(
        vpnc_log.contains("noninteractive can't reuse password"),
        "{vpnc_log}"
    );
    assert!(rejected >= 1, "{log}");
    // wrong group secret: AUTHENTICATION-FAILED, no tunnel
    let conf = VpncConf {
        natt: "none".into(),
        secret: "not-the-group-key".into(),
        ..VpncConf::default()
    };
    let (_, ms) = lab.vpnc_refused(&ns, "vpnc-badpsk", &conf, 40);
    eprintln!("wrong group key: vpnc gave up after {ms:.0} ms");
    let t0 = Instant::now();
    // no state behind: no IKE SA, the whole pool free
    assert!(
        lab.show("crypto isakmp sa").contains("Embryonic : 1"),
        "{}",
        lab.show("crypto isakmp sa")
    );
    let clean = wait_for(Duration::from_secs(15), || {
        lab.show("crypto isakmp sa").contains("Total     : 0")
    });
    assert!(
        clean,
        "SAs left behind:\n{}\n{}",
        lab.show("crypto isakmp sa"),
        lab.logs()
    );
    eprintln!("no SA left {:.0} ms after that", since(t0));
    let pool = lab.show("local-pool");
    let row: Vec<String> = pool
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(
        row.get(3..5),
        Some(&["5".to_string(), "0".to_string()][..]),
        "{pool}"
    );
    assert!(lab.show("uauth").contains("Authenticated Users         0"));
}

#[test]
fn two_clients_get_200_and_201_and_a_disconnect_returns_the_address() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let secrets = format!("{}username alice password wonderland\n", demo_secrets());
    lab.start_gateway(&natt_config(), &secrets, &[]);
    let a = lab.natted_client(1);
    let b = lab.natted_client(2);
    let alice = VpncConf {
        user: "alice".into(),
        password: "wonderland".into(),
        ..VpncConf::default()
    };
    let (pa, _) = connect_vpnc(
        &mut lab,
        &a,
        "vpnc-a",
        &VpncConf::default(),
        "10.89.129.200",
    );
    let (pb, _) = connect_vpnc(&mut lab, &b, "vpnc-b", &alice, "10.89.129.201");
    check_traffic(&lab, &a, "first client");
    check_traffic(&lab, &b, "second client behind the same NAT");
    let isakmp = lab.show("crypto isakmp sa");
    assert!(isakmp.contains("Total     : 2"), "{isakmp}");
    // vpnc sends DELETEs on SIGTERM: .200 goes back to the pool
    lab.proc(pa).stop(Duration::from_secs(5));
    let back = wait_for(Duration::from_secs(10), || {
        lab.show("crypto isakmp sa").contains("Total     : 1")
    });
    assert!(back, "{}\n{}", lab.show("crypto isakmp sa"), lab.logs());
    let pool = lab.show("local-pool VPNpool");
    assert!(
        pool.contains("In use addresses:\n10.89.129.201\n"),
        "{pool}"
    );
    // the user comes back (from elsewhere) and gets the returned .200 again
    let c = lab.natted_client(3);
    connect_vpnc(
        &mut lab,
        &c,
        "vpnc-c",
        &VpncConf::default(),
        "10.89.129.200",
    );
    check_traffic(&lab, &c, "third client");
    lab.proc(pb).stop(Duration::from_secs(5));
}

#[test]
fn sigterm_deletes_sas_and_the_client_sees_it() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let gw = lab.start_gateway(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &[],
    );
    let ns = lab.direct_client(1);
    let conf = VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    };
    let (p, _) = connect_vpnc(&mut lab, &ns, "vpnc", &conf, "10.89.129.200");
    lab.proc(gw).stop(Duration::from_secs(10));
    let log = lab.proc(gw).log_text();
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    assert!(log.contains("deleting 1 IKE SA(s)"), "{log}");
    assert!(log.contains("stopped; 0 address(es) still leased"), "{log}");
    // vpnc leaves when it gets the gateway's DELETE
    let gone = wait_for(Duration::from_secs(10), || !lab.proc(p).alive());
    assert!(gone, "vpnc did not see the DELETE\n{}", lab.logs());
}

/// strongSwan's charon-cmd as the client (`kernel-libipsec`, which only does ESP in UDP:
/// the client sits behind a NAT so NAT-T floats to 4500).
fn charon_cmd(profile: &str, want_log: &str) {
    let _g = serial();
    require_root_and_tools(&["ip", "charon-cmd", "iptables", "ping"]);
    let mut lab = Lab::new();
    lab.start_gateway(&natt_config(), &demo_secrets(), &[]);
    let ns = lab.natted_client(1);
    let conf = std::fs::read_to_string(kit("cli-strongswan.conf"))
        .unwrap()
        .replace("RUNDIR", lab.dir.to_str().unwrap());
    let conf_path = lab.file("cli-strongswan.conf", &conf);
    let t0 = Instant::now();
    let p = lab.spawn_stdin(
        &ns,
        "charon-cmd",
        &[
            "env",
            &format!("STRONGSWAN_CONF={}", conf_path.display()),
            "charon-cmd",
            "--host",
            GW_IP,
            "--identity",
            "keyid:vpn3000",
            "--remote-identity",
            GW_IP,
            "--xauth-username",
            USER,
            "--profile",
            profile,
            "--ike-proposal",
            "des-md5-modp1024",
            "--esp-proposal",
            "des-md5",
            "--remote-ts",
            "10.89.129.128/25",
        ],
        60,
        Some(&format!("{PSK}\n{PASS}\n")),
    );
    let log = lab.dir.join("cli-charon-cmd.log");
    let up = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("CHILD_SA cmd{1} established")
            || !lab.proc(p).alive()
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        up && text.contains("CHILD_SA cmd{1} established"),
        "charon-cmd {profile}: no CHILD_SA\n{text}\n{}",
        lab.logs()
    );
    eprintln!("charon-cmd {profile}: CHILD_SA in {:.0} ms", since(t0));
    assert!(
        text.contains(want_log),
        "charon-cmd {profile}: {want_log:?} not in\n{text}"
    );
    assert!(
        text.contains("installing new virtual IP 10.89.129.200"),
        "{text}"
    );
    let got = lab.ping(&ns, 3);
    assert!(
        got >= 2,
        "charon-cmd {profile}: ping {got}/3\n{}",
        lab.logs()
    );
    lab.proc(p).stop(Duration::from_secs(5));
}

#[test]
fn charon_cmd_aggressive_mode() {
    charon_cmd("ikev1-xauth-psk-am", "initiating Aggressive Mode IKE_SA");
}

#[test]
fn charon_cmd_main_mode() {
    charon_cmd("ikev1-xauth-psk", "initiating Main Mode IKE_SA");
}

#[test]
fn ike_scan_am_and_mm_and_psk_crack_recomputes_our_hash_r() {
    let _g = serial();
    require_root_and_tools(&["ip", "ike-scan", "psk-crack"]);
    let mut lab = Lab::new();
    lab.start_gateway(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &[],
    );
    let ns = lab.direct_client(1);
    let psk_file = lab.dir.join("am.psk");
    let o = lab.exec(
        &ns,
        15,
        &[
            "ike-scan",
            "-M",
            "-A",
            "--id=vpn3000",
            "--idtype=11",
            "--trans=1,1,65001,2",
            &format!("-P{}", psk_file.display()),
            GW_IP,
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Aggressive Mode Handshake returned"),
        "{out}\n{}",
        lab.logs()
    );
    assert!(
        out.contains("Enc=DES") && out.contains("Hash=MD5") && out.contains("Group=2:modp1024"),
        "{out}"
    );
    assert!(out.contains("Auth=XAUTH"), "{out}");
    let dict = lab.file("dict.txt", &format!("wrong\nvpn3000\n{PSK}\n"));
    let o = run(&[
        "psk-crack",
        "-d",
        dict.to_str().unwrap(),
        psk_file.to_str().unwrap(),
    ]);
    let crack = String::from_utf8_lossy(&o.stdout);
    assert!(crack.contains(&format!("key \"{PSK}\" matches")), "{crack}");
    // Main Mode, DES/MD5/PSK/group 1: policy 20 of the seed
    let o = lab.exec(&ns, 15, &["ike-scan", "-M", "--trans=1,1,1,1", GW_IP]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Main Mode Handshake returned"),
        "{out}\n{}",
        lab.logs()
    );
    assert!(out.contains("Group=1:modp768"), "{out}");
    // a transform nothing accepts: NO-PROPOSAL-CHOSEN
    let o = lab.exec(&ns, 15, &["ike-scan", "-M", "--trans=7/256,2,1,14", GW_IP]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("NO-PROPOSAL-CHOSEN"), "{out}\n{}", lab.logs());
}

/// tshark, with keys taken from vpnc's own debug output (not from us), decrypts our
/// Xauth, Mode Config and Quick Mode messages and our ESP with correct ICVs; then the
/// same with our `--keylog` file.
#[test]
fn tshark_decrypts_our_messages_with_vpnc_keys_and_with_our_keylog() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "tshark", "python3", "ping"]);
    let mut lab = Lab::new();
    lab.start_gateway(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &[],
    );
    let ns = lab.direct_client(1);
    let (cap, pcap) = lab.capture("capture");
    let conf = VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    };
    let (p, ifname) = lab.vpnc(&ns, "vpnc99", &conf, 99);
    let addr = lab.wait_tunnel(&ns, &ifname, p, 20);
    assert_eq!(addr.as_deref(), Some("10.89.129.200"), "{}", lab.logs());
    assert!(lab.ping(&ns, 3) >= 2, "{}", lab.logs());
    std::thread::sleep(Duration::from_millis(300));
    lab.proc(cap).stop(Duration::from_secs(5));
    lab.proc(p).stop(Duration::from_secs(5));
    let vpnc_log = lab.proc(p).log_text();
    let uat_vpnc = lab.dir.join("uat-vpnc");
    let (ike_rows, esp_rows) = vpnc_key_tables(&vpnc_log);
    assert!(
        !ike_rows.is_empty() && esp_rows.len() >= 2,
        "no keys in vpnc's log"
    );
    write_uat(&uat_vpnc, &ike_rows, &esp_rows);
    // our own key log, split into the two Wireshark tables
    let ours = std::fs::read_to_string(lab.dir.join("gw.keylog")).unwrap();
    let table = |prefix: &str| -> Vec<String> {
        ours.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(String::from)
            .collect()
    };
    let (ike_ours, esp_ours) = (table("ikev1_decryption_table:"), table("esp_sa:"));
    assert!(
        !ike_ours.is_empty() && esp_ours.len() >= 2,
        "keylog: {ours:?}"
    );
    // the same phase-1 key as vpnc's
    assert_eq!(
        ike_ours, ike_rows,
        "our keylog and vpnc disagree on the phase-1 key"
    );
    write_uat(&lab.dir.join("uat-ours"), &ike_ours, &esp_ours);
    for (who, dir) in [
        ("vpnc's keys", uat_vpnc),
        ("our keylog", lab.dir.join("uat-ours")),
    ] {
        let o = std::process::Command::new("tshark")
            .env("XDG_CONFIG_HOME", &dir)
            .args([
                "-r",
                pcap.to_str().unwrap(),
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-e",
                "ip.src",
                "-e",
                "isakmp.exchangetype",
                "-e",
                "isakmp.cfg.attr.xauth.user_name",
                "-e",
                "isakmp.cfg.attr.internal_ip4_address",
                "-e",
                "isakmp.id.data.ipv4_addr",
                "-e",
                "esp.icv_good",
                "-e",
                "icmp.type",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
        let from_gw = |r: &&Vec<&str>| r[0].split(',').next() == Some(GW_IP);
        // Xauth: our REQUEST/SET are ours; the user name is in vpnc's REPLY
        assert!(
            rows.iter().any(|r| r[2] == USER),
            "{who}: no decrypted Xauth user name\n{text}"
        );
        // Mode Config: our CFG_REPLY carries the address
        assert!(
            rows.iter().filter(from_gw).any(|r| r[3] == "10.89.129.200"),
            "{who}: our Mode Config address not decrypted\n{text}"
        );
        // Quick Mode (exchange 32) from us, with the client's ID
        assert!(
            rows.iter()
                .filter(from_gw)
                .any(|r| r[1] == "32" && r[4].contains("10.89.129.200")),
            "{who}: our Quick Mode not decrypted\n{text}"
        );
        // ESP both ways: ICMP inside, ICV correct
        let esp_ok = |gw: bool| {
            rows.iter()
                .filter(|r| from_gw(r) == gw)
                .filter(|r| r[5] == "1" && !r[6].is_empty())
                .count()
        };
        assert!(esp_ok(true) >= 2, "{who}: our ESP not verified\n{text}");
        assert!(esp_ok(false) >= 2, "{who}: vpnc's ESP not verified\n{text}");
        assert!(
            !rows.iter().any(|r| r[5] == "0"),
            "{who}: an ICV failed\n{text}"
        );
    }
}

/// Wireshark key tables from a `vpnc --debug 99` log (vpnc 0.5.3 prints short keys on
/// the label's line and long ones on the lines after it).
fn vpnc_key_tables(log: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<&str> = log.lines().collect();
    let is_hex =
        |w: &str| !w.is_empty() && w.len() <= 8 && w.chars().all(|c| c.is_ascii_hexdigit());
    let value = |i: usize, label: &str| -> String {
        let rest = lines[i].trim().strip_prefix(label).unwrap_or("").trim();
        let mut h: String = rest.split_whitespace().filter(|w| is_hex(w)).collect();
        if rest.is_empty() {
            for l in &lines[i + 1..] {
                let ws: Vec<&str> = l.split_whitespace().collect();
                if ws.is_empty() || !ws.iter().all(|w| is_hex(w)) {
                    break;
                }
                h.extend(ws);
            }
        }
        h
    };
    let (mut ike, mut esp) = (Vec::new(), Vec::new());
    let (mut icky, mut alg) = (None::<String>, None::<(&str, &str)>);
    let mut k: std::collections::HashMap<&str, String> = Default::default();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.starts_with("i_cookie:") && icky.is_none() {
            icky = Some(value(i, "i_cookie:"));
        } else if t.starts_with("enc-key:") {
            ike.push(format!(
                "{},{}",
                icky.clone().unwrap_or_default(),
                value(i, "enc-key:")
            ));
        } else if let Some(sel) = t.strip_prefix("IPSEC SA selected ") {
            let (e, a) = sel.rsplit_once('-').unwrap();
            let enc = match e {
                "des" => "DES-CBC [RFC2405]",
                "3des" => "TripleDES-CBC [RFC2451]",
                _ => "AES-CBC [RFC3602]",
            };
            let auth = if a == "md5" {
                "HMAC-MD5-96 [RFC2403]"
            } else {
                "HMAC-SHA-1-96 [RFC2404]"
            };
            alg = Some((enc, auth));
        } else {
            for label in ["rx.key_cry:", "rx.key_md:", "tx.key_cry:", "tx.key_md:"] {
                if t.starts_with(label) {
                    k.insert(label, value(i, label));
                }
            }
            if let Some(spi) = t.strip_prefix("remote -> local spi: ") {
                k.insert("rx", spi.trim().to_string());
            }
            if let Some(spi) = t.strip_prefix("local -> remote spi: ") {
                let (enc, auth) = alg.unwrap();
                for (d, s) in [("rx", k["rx"].clone()), ("tx", spi.trim().to_string())] {
                    esp.push(format!(
                        "\"IPv4\",\"*\",\"*\",\"{s}\",\"{enc}\",\"0x{}\",\"{auth}\",\"0x{}\"",
                        k[format!("{d}.key_cry:").as_str()],
                        k[format!("{d}.key_md:").as_str()]
                    ));
                }
            }
        }
    }
    (ike, esp)
}

fn write_uat(dir: &std::path::Path, ike: &[String], esp: &[String]) {
    let w = dir.join("wireshark");
    std::fs::create_dir_all(&w).unwrap();
    let join = |v: &[String]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    std::fs::write(w.join("ikev1_decryption_table"), join(ike)).unwrap();
    std::fs::write(w.join("esp_sa"), join(esp)).unwrap();
    std::fs::write(
        w.join("preferences"),
        "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n",
    )
    .unwrap();
}

/// libreswan 4.10 (unpacked by scripts/deps.sh, not installed: it conflicts with
/// strongSwan in apt). Its Debian build has no DES and no group 1/2, so the gateway gets a
/// 3DES/SHA/group 5 policy. Aggressive Mode, Xauth and Mode Config succeed; its Quick Mode
/// then fails locally, in its kernel interface (no ESP in this kernel), as in the kit.
#[test]
fn libreswan_aggressive_mode_xauth_mode_config() {
    let _g = serial();
    require_root_and_tools(&["ip", "certutil", "unshare"]);
    let root = std::env::var("LSW_ROOT")
        .unwrap_or_else(|_| "/var/cache/pix-gateway-interop/libreswan/root".into());
    let pluto = format!("{root}/usr/libexec/ipsec/pluto");
    assert!(
        std::path::Path::new(&pluto).exists(),
        "libreswan is not unpacked at {root}: scripts/deps.sh does it (or set LSW_ROOT)"
    );
    let mut lab = Lab::new();
    let cfg = config_with(
        &[(
            "crypto ipsec transform-set myset esp-des esp-md5-hmac",
            "crypto ipsec transform-set myset esp-3des esp-sha-hmac",
        )],
        &[
            "isakmp policy 5 authentication pre-share",
            "isakmp policy 5 encryption 3des",
            "isakmp policy 5 hash sha",
            "isakmp policy 5 group 5",
        ],
    );
    lab.start_gateway(&cfg, &demo_secrets(), &[]);
    let ns = lab.direct_client(1);
    let l = lab.dir.join("lsw");
    for d in ["nss", "run"] {
        std::fs::create_dir_all(l.join(d)).unwrap();
    }
    let o = run(&[
        "certutil",
        "-N",
        "-d",
        &format!("sql:{}", l.join("nss").display()),
        "--empty-password",
    ]);
    assert!(
        o.status.success(),
        "certutil: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let conf = std::fs::read_to_string(kit("libreswan-ipsec.conf"))
        .unwrap()
        .replace("LSWDIR", l.to_str().unwrap())
        .replace("192.0.2.2", "192.168.1.11")
        .replace("192.0.2.1", GW_IP);
    std::fs::write(l.join("ipsec.conf"), conf).unwrap();
    let secrets = std::fs::read_to_string(kit("libreswan-ipsec.secrets"))
        .unwrap()
        .replace("192.0.2.1", GW_IP);
    std::fs::write(l.join("ipsec.secrets"), secrets).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            l.join("ipsec.secrets"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let ls = l.display().to_string();
    // pluto execs its compiled-in /usr/libexec/ipsec/addconn: give it one in a private
    // mount namespace
    let script = format!(
        "mount -t tmpfs tmpfs /usr/libexec && mkdir /usr/libexec/ipsec && \
         mount --bind {root}/usr/libexec/ipsec /usr/libexec/ipsec && exec {pluto} \
         --config {ls}/ipsec.conf --nofork --stderrlog --rundir {ls}/run --dumpdir {ls}/run \
         --nssdir {ls}/nss --secretsfile {ls}/ipsec.secrets --ipsecdir {ls}"
    );
    let p = lab.spawn(&ns, "pluto", &["unshare", "-m", "sh", "-c", &script], 60);
    let added = wait_for(Duration::from_secs(15), || {
        lab.proc(p)
            .log_text()
            .contains("\"pix\": added IKEv1 connection")
    });
    assert!(added, "pluto did not start\n{}", lab.logs());
    let whack = format!("{root}/usr/libexec/ipsec/whack");
    let ctl = format!("{ls}/run/pluto.ctl");
    let t0 = Instant::now();
    let o = lab.exec(
        &ns,
        20,
        &[&whack, "--ctlsocket", &ctl, "--name", "pix", "--initiate"],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    let _ = lab.exec(&ns, 5, &[&whack, "--ctlsocket", &ctl, "--shutdown"]);

    assert!(
        out.contains("XAUTH: Successfully Authenticated"),
        "libreswan: no Xauth\n{out}\n{}",
        lab.logs()
    );
    assert!(
        out.contains("Received IPv4 address: 10.89.129.200"),
        "libreswan: no Mode Config address\n{out}\n{}",
        lab.logs()
    );
    eprintln!("libreswan: AM + Xauth + Mode Config in {:.0} ms", since(t0));
    assert!(out.contains("sent Quick Mode request"), "{out}");
}
