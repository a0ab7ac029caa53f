//! The seed's policy end to end through `pix-gateway run`, with a real vpnc: tunnelled
//! traffic bypasses the ACLs under `sysopt connection permit-ipsec`, the outside ACL 120
//! decides without it, a spoofed inner source is dropped, and each TCP connection of the
//! VPN user is accounted (start and stop, with bytes and duration) at the seed's TACACS+
//! server, decoded independently by tshark. Metrics come from the Prometheus listener.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::Duration;

fn raw() -> VpncConf {
    VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    }
}

fn ping_to(lab: &Lab, ns: &str, dst: &str, src: Option<&str>) -> u32 {
    let mut v = vec!["ping", "-c", "2", "-i", "0.2", "-w", "3"];
    if let Some(s) = src {
        v.extend(["-I", s]);
    }
    v.push(dst);
    let o = lab.exec(ns, 10, &v);
    lab::ping_received(&o.stdout)
}

#[test]
fn seed_policy_accounting_at_tacacs_spoofing_and_metrics() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "python3", "ping", "tshark"]);
    let mut lab = Lab::new();
    let tac = lab.tacacs();
    let ns = lab.direct_client(1);
    // the seed's configuration as it is: Xauth and accounting at AuthInbound (TACACS+)
    let seed = std::fs::read_to_string(kit("../fixtures/pix63-vpnclient.cfg")).unwrap();
    let gw = lab.start_gateway(&seed, &demo_secrets(), &["--metrics", "127.0.0.1:9464"]);
    // capture the AAA traffic on the gateway's inside interface
    let pcap = lab.dir.join("tacacs.pcap");
    let g = lab.gw.clone();
    let cap = lab.spawn(
        &g,
        "tshark-aaa",
        &[
            "tshark",
            "-i",
            "va2",
            "-w",
            pcap.to_str().unwrap(),
            "-f",
            "tcp port 49",
        ],
        120,
    );
    assert!(wait_for(Duration::from_secs(15), || lab
        .proc(cap)
        .log_text()
        .contains("Capturing on")));
    std::thread::sleep(Duration::from_millis(1000));
    let (p, ifname) = lab.vpnc(&ns, "vpnc", &raw(), 3);
    assert_eq!(
        lab.wait_tunnel(&ns, &ifname, p, 20).as_deref(),
        Some("10.89.129.200"),
        "{}",
        lab.logs()
    );

    // permit-ipsec: any inside host, any service
    assert!(ping_to(&lab, &ns, INSIDE_HOST, None) >= 1, "{}", lab.logs());
    assert!(
        ping_to(&lab, &ns, AAA_HOST, None) >= 1,
        "permit-ipsec lets the VPN user reach any inside host\n{}",
        lab.logs()
    );
    let body = lab.http_get(&ns);
    assert!(body.contains("inside web server"), "{body}");
    // the HTTP connection was accounted: start, then stop once both sides closed
    let stopped = wait_for(Duration::from_secs(10), || {
        lab.proc(gw)
            .log_text()
            .contains("accounting stop: user 'cisco_customer' at 10.89.129.200")
    });
    let log = lab.proc(gw).log_text();
    assert!(stopped, "{log}");
    assert!(
        log.contains(
            "accounting start: user 'cisco_customer' at 10.89.129.200 http to 10.89.129.131"
        ),
        "{log}"
    );
    let stop = log
        .lines()
        .find(|l| l.contains("accounting stop: user 'cisco_customer'"))
        .unwrap();
    // "..., N bytes in, M bytes out, S s": the GET is ~80 bytes, the page ~200 with headers
    let nums: Vec<u64> = stop
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (bin, bout) = (nums[nums.len() - 3], nums[nums.len() - 2]);
    assert!(
        (60..400).contains(&bin) && (150..2000).contains(&bout),
        "{stop}"
    );
    let tlog = lab.proc(tac).log_text();
    assert!(
        tlog.matches("ACCT user=b'cisco_customer'").count() >= 2,
        "{tlog}"
    );

    // a spoofed inner source (another pool address) is dropped by the SA's selectors
    let _ = run(&[
        "ip",
        "-n",
        &ns,
        "addr",
        "add",
        "10.89.129.201/32",
        "dev",
        &ifname,
    ]);
    assert_eq!(ping_to(&lab, &ns, INSIDE_HOST, Some("10.89.129.201")), 0);
    let sa = lab.show("crypto ipsec sa");
    assert!(
        sa.contains("recv errors (outside the SA's proxy identities): "),
        "{sa}"
    );
    // an open TCP connection shows in show conn and show local-host
    let holder = lab.spawn(
        &ns,
        "tcp-holder",
        &["python3", "-c", "import socket,time;s=socket.create_connection(('10.89.129.131',80));print('open',flush=True);time.sleep(8)"],
        20,
    );
    assert!(wait_for(Duration::from_secs(5), || lab
        .proc(holder)
        .log_text()
        .contains("open")));
    let conn = lab.show("conn");
    assert!(
        conn.contains("TCP") && conn.contains("10.89.129.200") && conn.contains("10.89.129.131"),
        "{conn}"
    );
    let local = lab.show("local-host");
    assert!(
        local.contains("10.89.129.131") || local.contains("10.89.129.200"),
        "{local}"
    );
    lab.proc(holder).stop(Duration::from_secs(3));

    // metrics
    let m = metrics(&lab, "127.0.0.1:9464");
    assert!(m.contains("pix_ike_sas{state=\"established\"} 1"), "{m}");
    assert!(m.contains("pix_uauth_users 1"), "{m}");
    assert!(m.contains("pix_handshakes_total{result=\"ok\"} 1"), "{m}");
    assert!(m.contains("pix_xauth_total{verdict=\"accepted\"} 1"), "{m}");
    assert!(
        m.contains("pix_drops_total{stage=\"esp\",reason=\"outside the SA's proxy identities\"}"),
        "{m}"
    );
    assert!(
        m.contains("pix_pool_addresses_in_use{pool=\"VPNpool\"} 1"),
        "{m}"
    );

    // disconnect: the uauth entry and the address go
    lab.proc(p).stop(Duration::from_secs(5));
    assert!(wait_for(Duration::from_secs(10), || lab
        .show("uauth")
        .contains("Authenticated Users         0")));
    lab.proc(cap).stop(Duration::from_secs(5));
    // tshark decodes our TACACS+ accounting records with the key: start and stop with
    // the stop's elapsed time and byte counts
    let o = run(&[
        "tshark",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        "tacplus.key:secretkey",
        "-Y",
        "tacplus.type == 3 && tacplus.request",
        "-T",
        "fields",
        "-e",
        "tacplus.user",
        "-e",
        "tacplus.arg_value",
    ]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.lines()
            .any(|l| l.starts_with("cisco_customer") && l.contains("service=http")),
        "{t}"
    );
    let stop_rec = t
        .lines()
        .find(|l| l.contains("elapsed_time="))
        .unwrap_or_else(|| panic!("no stop record: {t}"));
    assert!(
        stop_rec.contains(&format!("bytes_in={bin}"))
            && stop_rec.contains(&format!("bytes_out={bout}")),
        "{stop_rec}"
    );
}

#[test]
fn without_permit_ipsec_acl_120_decides() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "python3", "ping"]);
    let mut lab = Lab::new();
    let ns = lab.direct_client(1);
    let cfg = config_with(&[("sysopt connection permit-ipsec\n", "")], &[]);
    let gw = lab.start_gateway(&cfg, &demo_secrets(), &[]);
    let (p, ifname) = lab.vpnc(&ns, "vpnc", &raw(), 3);
    assert_eq!(
        lab.wait_tunnel(&ns, &ifname, p, 20).as_deref(),
        Some("10.89.129.200"),
        "{}",
        lab.logs()
    );
    // ACL 120 permits icmp/tcp/udp to host 10.89.129.131 and nothing else
    assert!(ping_to(&lab, &ns, INSIDE_HOST, None) >= 1, "{}", lab.logs());
    assert!(lab.http_get(&ns).contains("inside web server"));
    assert_eq!(
        ping_to(&lab, &ns, AAA_HOST, None),
        0,
        "ACL 120 must deny 10.89.129.134"
    );
    let log = lab.proc(gw).log_text();
    assert!(log.contains("no sysopt connection permit-ipsec"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("IPSEC(inbound): packet dropped by policy (config line")),
        "{log}"
    );
    // show drops: the counters and the last drops with the deciding line
    let drops = lab.show("drops");
    assert!(
        drops.contains("IPSEC(inbound): packet dropped by policy (config line"),
        "{drops}"
    );
    assert!(drops.contains("  policy "), "{drops}");
}
