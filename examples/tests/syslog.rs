//! The PIX's syslog end to end: `pix-gateway run` with `logging on`, `logging host
//! outside ADDR udp/PORT`, `logging trap debugging`, `logging buffered informational`,
//! `logging timestamp` and `logging device-id string ...` sends its events to a real
//! rsyslogd (Debian's) in a namespace of the lab. A vpnc login, a packet the outside
//! access-list denies and a logout arrive there with the PIX 6.3 ids, levels (PRI, as
//! rsyslog itself parses it) and fields; no secret of the configuration is on the wire;
//! `show logging` over the control socket shows the status and the same messages.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::Duration;

/// Where rsyslogd listens (a second wan client's namespace) and on which port.
const SYSLOG_IP: &str = "192.168.1.12";
const SYSLOG_PORT: &str = "5514";
const DEVICE_ID: &str = "pix-lab";
/// The password of the refused login (must not be logged either).
const WRONG: &str = "Wr0ngPassw0rd";

/// One message as rsyslog wrote it: its parsed facility and severity, and the datagram.
#[derive(Debug)]
struct Got {
    facility: u8,
    severity: u8,
    raw: String,
}

fn received(path: &std::path::Path) -> Vec<Got> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.splitn(3, ' ');
            Some(Got {
                facility: w.next()?.parse().ok()?,
                severity: w.next()?.parse().ok()?,
                raw: w.next()?.to_string(),
            })
        })
        .collect()
}

/// The messages of id `id`.
fn of(got: &[Got], id: u32) -> Vec<&Got> {
    got.iter()
        .filter(|g| g.raw.contains(&format!("-{id}: ")))
        .collect()
}

/// `Mmm dd yyyy hh:mm:ss` at the start of `s`.
fn is_pix_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() >= 20
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && b[4..6].iter().all(u8::is_ascii_digit)
        && b[6] == b' '
        && b[7..11].iter().all(u8::is_ascii_digit)
        && b[11] == b' '
        && b[12..14].iter().all(u8::is_ascii_digit)
        && b[14] == b':'
        && b[15..17].iter().all(u8::is_ascii_digit)
        && b[17] == b':'
        && b[18..20].iter().all(u8::is_ascii_digit)
}

/// The SPI of a 602301/602302 line (`sa_spi= 0x1234(4660)`), checked for agreement
/// of its two forms.
fn spi_of(raw: &str) -> u32 {
    let rest = raw.split("sa_spi= 0x").nth(1).unwrap();
    let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    let n = u32::from_str_radix(&hex, 16).unwrap();
    assert!(rest.contains(&format!("({n})")), "{raw}");
    n
}

#[test]
fn pix_syslog_to_rsyslog_login_acl_deny_logout_and_show_logging() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "ping", "ss", "/usr/sbin/rsyslogd"]);
    let t0 = std::time::Instant::now();
    let mut lab = Lab::new();
    let client = lab.direct_client(1);
    let sys_ns = lab.direct_client(2);

    // rsyslogd: UDP input on the port, every message to a file with the facility and
    // severity rsyslog parsed from the PRI, and the datagram as received
    let out = lab.dir.join("syslog.out");
    let conf = lab.file(
        "rsyslog.conf",
        &format!(
            "global(workDirectory=\"{dir}\")\n\
             module(load=\"imudp\")\n\
             input(type=\"imudp\" address=\"{SYSLOG_IP}\" port=\"{SYSLOG_PORT}\")\n\
             template(name=\"pix\" type=\"string\" string=\"%syslogfacility% %syslogseverity% %rawmsg%\\n\")\n\
             *.* action(type=\"omfile\" file=\"{out}\" template=\"pix\")\n",
            dir = lab.dir.display(),
            out = out.display()
        ),
    );
    let pidfile = lab.dir.join("rsyslogd.pid");
    let rs = lab.spawn(
        &sys_ns,
        "rsyslogd",
        &[
            "/usr/sbin/rsyslogd",
            "-n",
            "-f",
            conf.to_str().unwrap(),
            "-i",
            pidfile.to_str().unwrap(),
        ],
        120,
    );
    let listening = wait_for(Duration::from_secs(10), || {
        let o = lab.exec(&sys_ns, 5, &["ss", "-lun"]);
        String::from_utf8_lossy(&o.stdout).contains(&format!("{SYSLOG_IP}:{SYSLOG_PORT}"))
    });
    assert!(
        listening && lab.proc(rs).alive(),
        "rsyslogd did not start:\n{}",
        lab.logs()
    );

    // the demo configuration without permit-ipsec (access-list 120 decides), logging on
    let cfg = config_with(
        &[("sysopt connection permit-ipsec\n", "")],
        &[
            "logging on",
            "logging timestamp",
            "logging trap debugging",
            "logging buffered informational",
            &format!("logging device-id string {DEVICE_ID}"),
            &format!("logging host outside {SYSLOG_IP} udp/{SYSLOG_PORT}"),
        ],
    );
    let gw = lab.start_gateway_quiet(&cfg, &demo_secrets(), &[]);

    // login
    let (p, _ifname) = lab.vpnc_tunnel(&client, "vpnc", &VpncConf::default(), "10.89.129.200");
    // allowed by access-list 120: the inside host answers
    assert!(lab.ping(&client, 2) >= 1, "{}", lab.logs());
    // a TCP connection through the tunnel (permitted): built, then torn down by FINs
    let body = lab.http_get(&client);
    assert!(body.contains("inside web server"), "{body}\n{}", lab.logs());
    let closed = wait_for(Duration::from_secs(10), || {
        !of(&received(&out), 302_014).is_empty()
    });
    assert!(closed, "no 302014:\n{:#?}", received(&out));
    // denied by access-list 120's implicit deny: the AAA host is no permitted destination
    let o = lab.exec(&client, 10, &["ping", "-c", "1", "-W", "2", AAA_HOST]);
    assert_eq!(ping_received(&o.stdout), 0, "{}", lab.logs());
    // logout: vpnc deletes its SAs on SIGTERM
    lab.proc(p).stop(Duration::from_secs(5));
    let gone = wait_for(Duration::from_secs(10), || {
        of(&received(&out), 109_012).len() == 1 && of(&received(&out), 602_302).len() == 2
    });
    assert!(
        gone,
        "no logout in rsyslog's file:\n{:#?}\n{}",
        received(&out),
        lab.logs()
    );
    // a wrong password: 109006, and the password typed is nowhere
    let bad = VpncConf {
        password: WRONG.into(),
        ..VpncConf::default()
    };
    let (b, _) = lab.vpnc(&client, "vpnc-bad", &bad, 1);
    let refused = wait_for(Duration::from_secs(15), || {
        !of(&received(&out), 109_006).is_empty()
    });
    assert!(refused, "no 109006:\n{:#?}\n{}", received(&out), lab.logs());
    lab.proc(b).stop(Duration::from_secs(3));
    // show logging's count of messages sent matches what rsyslog wrote (asked again
    // until both agree: a periodic summary may go out meanwhile)
    let trap_count = |show: &str| -> usize {
        show.lines()
            .find(|l| l.trim_start().starts_with("Trap logging:"))
            .and_then(|l| l.split(", ").last())
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no trap count in show logging:\n{show}"))
    };
    let mut show = String::new();
    let agree = wait_for(Duration::from_secs(5), || {
        show = lab.show("logging");
        received(&out).len() == trap_count(&show)
    });
    let got = received(&out);
    assert!(
        agree,
        "show logging says {} sent, rsyslog has {}:\n{show}\n{got:#?}",
        trap_count(&show),
        got.len()
    );

    // every message: facility local4 (20), the PRI's severity is the id's level, the
    // PIX timestamp, then the device id, then %PIX-L-ID
    for g in &got {
        assert_eq!(g.facility, 20, "{g:?}");
        let pri = format!("<{}>", 20 * 8 + u32::from(g.severity));
        let rest = g.raw.strip_prefix(&pri).unwrap_or_else(|| panic!("{g:?}"));
        assert!(is_pix_timestamp(rest), "{g:?}");
        let body = rest[20..]
            .strip_prefix(&format!(": {DEVICE_ID} : "))
            .unwrap_or_else(|| panic!("{g:?}"));
        assert!(
            body.starts_with(&format!("%PIX-{}-", g.severity)),
            "the PRI's severity is not the message's level: {g:?}"
        );
    }
    let one = |id: u32| -> &Got {
        let v = of(&got, id);
        assert_eq!(v.len(), 1, "{id}: {v:#?}\n{got:#?}");
        v[0]
    };
    let client_ip = "192.168.1.11";
    // login: phase 1 (602201), Xauth (109005), the address (800002), the SA pair (602301)
    let p1s = of(&got, 602_201);
    assert_eq!(p1s.len(), 2, "two logins: {got:#?}");
    let p1 = p1s[0];
    assert_eq!(p1.severity, 6);
    assert!(
        p1.raw.contains(&format!(
            "%PIX-6-602201: ISAKMP Phase 1 SA created (local {GW_IP}/500 (responder), remote {client_ip}/"
        )) && p1.raw.contains("identity vpn3000"),
        "{p1:?}"
    );
    let auth = one(109_005);
    assert_eq!(auth.severity, 6);
    assert!(
        auth.raw.contains(&format!(
            "%PIX-6-109005: Authentication succeeded for user '{USER}' from {client_ip}/"
        )) && auth
            .raw
            .contains(&format!("to {GW_IP}/500 on interface outside")),
        "{auth:?}"
    );
    let addr = one(800_002);
    assert!(
        addr.raw.contains("10.89.129.200") && addr.raw.contains(&format!("user '{USER}'")),
        "{addr:?}"
    );
    let created = of(&got, 602_301);
    assert_eq!(created.len(), 2, "{got:#?}");
    let mut dests: Vec<&str> = created
        .iter()
        .map(|g| {
            assert_eq!(g.severity, 6, "{g:?}");
            assert!(g.raw.contains("sa_prot= 50"), "{g:?}");
            g.raw
                .split("sa_dest= ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
        })
        .collect();
    dests.sort_unstable();
    assert_eq!(dests, [GW_IP, client_ip]);
    let mut spis_up: Vec<u32> = created.iter().map(|g| spi_of(&g.raw)).collect();
    spis_up.sort_unstable();
    // the connection: 302013 when built, 302014 with the same number when torn down
    let built = one(302_013);
    assert_eq!(built.severity, 6);
    let after = built
        .raw
        .split("%PIX-6-302013: Built inbound TCP connection ")
        .nth(1)
        .unwrap_or_else(|| panic!("{built:?}"));
    let conn = after.split_whitespace().next().unwrap();
    assert!(
        after.contains(" for outside:10.89.129.200/")
            && after.ends_with(&format!(
                " to inside:{INSIDE_HOST}/80 ({INSIDE_HOST}/80) ({USER})"
            )),
        "{built:?}"
    );
    let down = one(302_014);
    let after = down
        .raw
        .split(&format!(
            "%PIX-6-302014: Teardown TCP connection {conn} for outside:10.89.129.200/"
        ))
        .nth(1)
        .unwrap_or_else(|| panic!("{down:?}"));
    let bytes: u64 = after
        .split(" bytes ")
        .nth(1)
        .and_then(|b| b.split_whitespace().next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("{down:?}"));
    // the GET (~80 bytes) and the page with its headers (~200)
    assert!(
        (200..4000).contains(&bytes)
            && after.contains(&format!(" to inside:{INSIDE_HOST}/80 duration 0:00:0"))
            && after.ends_with(&format!(" TCP FINs ({USER})")),
        "{down:?}"
    );
    // the ACL deny (106023, warnings): protocol, interfaces, addresses, ICMP type and
    // code, the access-group's ACL
    let deny = one(106_023);
    assert_eq!(deny.severity, 4);
    assert!(
        deny.raw.ends_with(&format!(
            "%PIX-4-106023: Deny icmp src outside:10.89.129.200 dst inside:{AAA_HOST} (type 8, code 0) by access-group \"120\""
        )),
        "{deny:?}"
    );
    // logout: 109012 (notifications) for the user, 602302 for the same two SAs, the
    // phase-1 delete (702201, debugging: sent with `logging trap debugging`)
    let end = one(109_012);
    assert_eq!(end.severity, 5);
    assert!(
        end.raw.contains(&format!(
            "%PIX-5-109012: Authen Session End: user '{USER}', sid "
        )),
        "{end:?}"
    );
    let mut spis_down: Vec<u32> = of(&got, 602_302).iter().map(|g| spi_of(&g.raw)).collect();
    spis_down.sort_unstable();
    assert_eq!(spis_up, spis_down, "the SAs deleted are the SAs created");
    let p1_del: Vec<&Got> = of(&got, 702_201)
        .into_iter()
        .filter(|g| g.raw.contains("10.89.129.200 back to the pool"))
        .collect();
    assert_eq!(p1_del.len(), 1, "{got:#?}");
    assert_eq!(p1_del[0].severity, 7);
    // the refused login
    let failed = one(109_006);
    assert_eq!(failed.severity, 6);
    assert!(
        failed.raw.contains(&format!(
            "%PIX-6-109006: Authentication failed for user '{USER}' from {client_ip}/"
        )) && failed
            .raw
            .contains(&format!("to {GW_IP}/500 on interface outside")),
        "{failed:?}"
    );

    // never a secret: the group key, the user's password, the AAA key
    let wire = std::fs::read_to_string(&out).unwrap();
    for secret in [PSK, PASS, WRONG, "secretkey"] {
        assert!(!wire.contains(secret), "{secret} on the wire:\n{wire}");
    }

    // show logging: the PIX header, then the buffer (informational and up: no 702201),
    // timestamped, without PRI or device id
    for want in [
        "Syslog logging: enabled",
        "    Facility: 20",
        "    Timestamp logging: enabled",
        "    Buffer logging: level informational, ",
        "    Trap logging: level debugging, facility 20, ",
        &format!("        Logging to outside {SYSLOG_IP} udp/{SYSLOG_PORT}"),
        &format!("    Device ID: string {DEVICE_ID}"),
    ] {
        assert!(
            show.lines().any(|l| l.starts_with(want)),
            "{want:?}:\n{show}"
        );
    }
    let buffer: Vec<&str> = show.lines().filter(|l| l.contains("%PIX-")).collect();
    for b in &buffer {
        assert!(is_pix_timestamp(b) && b[20..].starts_with(": %PIX-"), "{b}");
    }
    for id in [
        602_201, 109_005, 602_301, 302_013, 302_014, 106_023, 109_012, 602_302, 109_006,
    ] {
        let in_buffer = buffer
            .iter()
            .filter(|l| l.contains(&format!("-{id}: ")))
            .count();
        assert_eq!(in_buffer, of(&got, id).len(), "{id}:\n{show}");
    }
    assert!(!buffer.iter().any(|l| l.contains("-702201: ")), "{show}");
    let deny_line = buffer.iter().find(|l| l.contains("-106023: ")).unwrap();
    assert!(deny.raw.ends_with(&deny_line[22..]), "{deny_line}");
    let buffered: usize = show
        .lines()
        .find(|l| l.trim_start().starts_with("Buffer logging:"))
        .and_then(|l| l.split(", ").last())
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(buffered, buffer.len(), "{show}");
    for secret in [PSK, PASS, WRONG, "secretkey"] {
        assert!(!show.contains(secret), "{secret} in show logging:\n{show}");
    }

    // clear logging empties the buffer (only a later periodic summary may be there);
    // the count goes on
    let _ = lab.clear("logging");
    let after = lab.show("logging");
    let left: Vec<&str> = after.lines().filter(|l| l.contains("%PIX-")).collect();
    assert!(left.iter().all(|l| l.contains("-800005: ")), "{after}");
    let count_after: usize = after
        .lines()
        .find(|l| l.trim_start().starts_with("Buffer logging:"))
        .and_then(|l| l.split(", ").last())
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(count_after, buffered + left.len(), "{after}");

    // the gateway's own log still has its lines
    assert!(lab.proc(gw).log_text().contains("%PIX-6-109005"));
    eprintln!("syslog test: {:.1} s", t0.elapsed().as_secs_f64());
}
