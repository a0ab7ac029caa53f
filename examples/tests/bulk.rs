//! Bulk TCP through the batched data path with the TUN offloads, against vpnc (raw ESP
//! and ESP in UDP behind a NAT): an 8 MB download from the inside web server and an
//! 8 MB upload to an inside TCP sink arrive intact (SHA-256 on both ends), the inside
//! host's TCP segmentation offload reaches the gateway as GSO super-packets that it
//! splits (`pix_batch_tun_packets_total` above `pix_batch_tun_reads_total`), and the
//! ESP leaves in `sendmmsg` batches (ESP in UDP: runs to the client in one `sendmsg`
//! with UDP GSO). Then the same download with `--no-offload`.
//!
//! Needs root and the Debian packages `scripts/deps.sh` installs (vpnc, python3).
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &["ip", "vpnc", "python3", "iptables"];
const MB: usize = 8;
const SINK_PORT: u16 = 9100;

/// A file of `MB` megabytes of pseudo-random bytes in the inside web server's
/// directory; its SHA-256.
fn bulk_file(lab: &Lab) -> (std::path::PathBuf, String) {
    let path = lab.dir.join("www").join("bulk.bin");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut data = Vec::with_capacity(MB << 20);
    while data.len() < MB << 20 {
        // xorshift64*: incompressible enough, deterministic
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        data.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    std::fs::write(&path, &data).unwrap();
    let sum = sha256_file(&path);
    (path, sum)
}

fn sha256_file(p: &std::path::Path) -> String {
    let o = run(&["sha256sum", p.to_str().unwrap()]);
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Downloads the bulk file through the tunnel from `ns`: (SHA-256, seconds).
fn download(lab: &Lab, ns: &str) -> (String, f64) {
    let t0 = Instant::now();
    let o = lab.exec(
        ns,
        60,
        &[
            "python3",
            "-c",
            &format!(
                "import urllib.request,hashlib,sys\n\
                 h=hashlib.sha256()\n\
                 r=urllib.request.urlopen('http://{INSIDE_HOST}/bulk.bin',timeout=20)\n\
                 n=0\n\
                 while True:\n  b=r.read(1<<16)\n  n+=len(b)\n  h.update(b)\n  if not b: break\n\
                 sys.stdout.write(h.hexdigest()+' '+str(n))"
            ),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut it = out.split_whitespace();
    let sum = it.next().unwrap_or_default().to_string();
    let n: usize = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert_eq!(
        n,
        MB << 20,
        "download: {n} bytes, stderr {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        lab.logs()
    );
    (sum, since(t0) / 1000.0)
}

/// Uploads `file` through the tunnel from `ns` to the inside sink; waits for the sink's
/// line "<sha256> <bytes>". Returns (SHA-256, seconds).
fn upload(lab: &mut Lab, ns: &str, file: &std::path::Path) -> (String, f64) {
    let inside = lab.inside.clone();
    let sink = lab.spawn(
        &inside,
        "sink",
        &[
            "python3",
            "-c",
            &format!(
                "import socket,hashlib,sys\n\
                 s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                 s.bind(('{INSIDE_HOST}',{SINK_PORT}));s.listen(1)\n\
                 print('listening',flush=True)\n\
                 c,_=s.accept();h=hashlib.sha256();n=0\n\
                 while True:\n  b=c.recv(1<<16)\n  if not b: break\n  n+=len(b);h.update(b)\n\
                 print('got',h.hexdigest(),n,flush=True)"
            ),
        ],
        60,
    );
    assert!(wait_for(Duration::from_secs(10), || lab
        .proc(sink)
        .log_text()
        .contains("listening")));
    let t0 = Instant::now();
    let o = lab.exec(
        ns,
        60,
        &[
            "python3",
            "-c",
            &format!(
                "import socket\n\
                 c=socket.create_connection(('{INSIDE_HOST}',{SINK_PORT}),timeout=20)\n\
                 f=open('{}','rb')\n\
                 while True:\n  b=f.read(1<<16)\n  if not b: break\n  c.sendall(b)\n\
                 c.shutdown(socket.SHUT_WR);c.recv(1);c.close()",
                file.display()
            ),
        ],
    );
    assert!(
        o.status.success(),
        "upload: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        lab.logs()
    );
    let secs = since(t0) / 1000.0;
    assert!(wait_for(Duration::from_secs(10), || lab
        .proc(sink)
        .log_text()
        .contains("got ")));
    let line = lab.proc(sink).log_text();
    let got: Vec<&str> = line
        .lines()
        .find(|l| l.starts_with("got "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(got[2].parse::<usize>().unwrap(), MB << 20, "{line}");
    (got[1].to_string(), secs)
}

fn bulk(natt: bool) {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let cfg = if natt {
        config_with(&[], &["isakmp nat-traversal 20"])
    } else {
        std::fs::read_to_string(DEMO_CFG).unwrap()
    };
    let gw = lab.start_gateway_quiet(
        &cfg,
        &demo_secrets(),
        &["--metrics", "127.0.0.1:9464", "--workers", "1"],
    );
    let log = lab.proc(gw).log_text();
    assert!(
        log.contains("offloads TSO"),
        "the TUN device should have its offloads:\n{log}"
    );
    let (file, want) = bulk_file(&lab);
    let (ns, conf) = if natt {
        (lab.natted_client(1), VpncConf::default())
    } else {
        (
            lab.direct_client(1),
            VpncConf {
                natt: "none".into(),
                ..VpncConf::default()
            },
        )
    };
    lab.vpnc_tunnel(&ns, "vpnc", &conf, "10.89.129.200");
    let (down, down_s) = download(&lab, &ns);
    assert_eq!(down, want, "downloaded bytes differ");
    let (up, up_s) = upload(&mut lab, &ns, &file);
    assert_eq!(up, want, "uploaded bytes differ");
    eprintln!(
        "{}: {MB} MB down in {down_s:.2} s ({:.0} Mbit/s), up in {up_s:.2} s ({:.0} Mbit/s)",
        if natt { "ESP in UDP" } else { "raw ESP" },
        (MB * 8) as f64 / down_s * 1.048_576,
        (MB * 8) as f64 / up_s * 1.048_576
    );
    let m = metrics(&lab, "127.0.0.1:9464");
    let reads = metric(&m, "pix_batch_tun_reads_total");
    let packets = metric(&m, "pix_batch_tun_packets_total");
    let batches = metric(&m, "pix_batch_send_batches_total");
    let sent = metric(&m, "pix_batch_sent_total");
    eprintln!(
        "TUN: {reads} reads -> {packets} packets; ESP: {batches} sendmmsg -> {sent} datagrams"
    );
    // MB megabytes of 1,300-odd-byte segments: over 750 packets per megabyte
    assert!(sent > (MB * 750) as u64, "ESP sent {sent}\n{m}");
    assert!(
        packets > reads + reads / 2,
        "TSO from the inside host should reach the gateway as GSO super-packets: {reads} reads, {packets} packets\n{m}"
    );
    assert!(batches < sent, "{batches} sendmmsg for {sent} datagrams");
    let gso = metric(&m, "pix_batch_gso_datagrams_total");
    if natt {
        // ESP in UDP to one client: runs of segments leave with UDP GSO
        assert!(
            gso > 1_000 && metric(&m, "pix_batch_gso_sends_total") < gso,
            "UDP GSO: {gso} datagrams\n{m}"
        );
    } else {
        assert_eq!(gso, 0, "raw ESP has no UDP GSO\n{m}");
    }
    assert_eq!(metric(&m, "pix_batch_send_refused_total"), 0, "{m}");
    // no ESP error but vpnc's IPv6 router solicitations (its TUN is dual-stack; the PIX
    // 6.3 tunnels IPv4 only)
    let sa = lab.show("crypto ipsec sa");
    assert!(sa.contains("#send errors 0"), "{sa}");
    for l in sa
        .lines()
        .filter(|l| l.trim_start().starts_with("recv errors ("))
    {
        assert!(l.contains("IPv6 inner packet"), "{l}\n{sa}");
    }
}

#[test]
fn megabytes_both_ways_over_raw_esp_with_tun_offloads() {
    bulk(false);
}

#[test]
fn megabytes_both_ways_over_esp_in_udp_with_tun_offloads() {
    bulk(true);
}

#[test]
fn the_same_download_without_offloads() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let gw = lab.start_gateway_quiet(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &[
            "--metrics",
            "127.0.0.1:9464",
            "--workers",
            "1",
            "--no-offload",
        ],
    );
    assert!(lab.proc(gw).log_text().contains("offloads off"));
    let (_, want) = bulk_file(&lab);
    let ns = lab.direct_client(1);
    let conf = VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    };
    lab.vpnc_tunnel(&ns, "vpnc", &conf, "10.89.129.200");
    let (down, _) = download(&lab, &ns);
    assert_eq!(down, want);
    let m = metrics(&lab, "127.0.0.1:9464");
    assert_eq!(
        metric(&m, "pix_batch_tun_reads_total"),
        metric(&m, "pix_batch_tun_packets_total"),
        "without offloads every read is one packet\n{m}"
    );
}
