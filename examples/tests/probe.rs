//! Aggressive Mode probes against `pix-gateway run` with the seed-like demo
//! configuration (a wildcard `isakmp key` beside `vpngroup vpn3000`), with ike-scan and
//! psk-crack in network namespaces the test creates (see `lab/mod.rs`; root and the
//! Debian packages of `scripts/deps.sh`, or a loud failure).
//!
//! Issue 15, item 3: an Aggressive Mode probe whose identity is an address (ID_IPV4_ADDR)
//! must not get a HASH_R keyed with the Main Mode wildcard key, so psk-crack with that key
//! in its dictionary cracks nothing; the group-name probe in the same test, cracked with
//! the group key, does crack (the test can fail).
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;

/// The wildcard key of this test: distinct from the group key, so that a HASH_R keyed
/// with either can be told apart.
const WILDCARD_KEY: &str = "wildcard-key-7391";

/// One Aggressive Mode probe: ike-scan's `-P` output (the PSK parameters psk-crack reads)
/// and whether psk-crack finds a key of `dict` for it.
fn probe_and_crack(
    lab: &Lab,
    ns: &str,
    name: &str,
    id: &[&str],
    dict: &[&str],
) -> (String, String) {
    let psk_file = lab.dir.join(format!("{name}.psk"));
    let mut cmd = vec!["ike-scan", "-M", "-A", "--trans=1,1,65001,2"];
    cmd.extend_from_slice(id);
    let p = format!("-P{}", psk_file.display());
    cmd.push(&p);
    cmd.push(GW_IP);
    let o = lab.exec(ns, 15, &cmd);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("Aggressive Mode Handshake returned"),
        "{name}: no AM2\n{out}\n{}",
        lab.logs()
    );
    let params = std::fs::read_to_string(&psk_file).unwrap();
    assert!(
        !params.trim().is_empty(),
        "{name}: ike-scan wrote no PSK parameters"
    );
    let dict = lab.file(&format!("{name}.dict"), &(dict.join("\n") + "\n"));
    let o = run(&[
        "timeout",
        "30",
        "psk-crack",
        "-d",
        dict.to_str().unwrap(),
        psk_file.to_str().unwrap(),
    ]);
    (out, String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The demo gateway with its wildcard `isakmp key` set to [`WILDCARD_KEY`].
fn start_with_wildcard_key(lab: &mut Lab, extra: &[&str]) -> usize {
    let secrets = demo_secrets().replace(
        "isakmp key 0.0.0.0 netmask 0.0.0.0 cisco1234",
        &format!("isakmp key 0.0.0.0 netmask 0.0.0.0 {WILDCARD_KEY}"),
    );
    assert!(secrets.contains(WILDCARD_KEY), "demo secrets changed shape");
    lab.start_gateway(&std::fs::read_to_string(DEMO_CFG).unwrap(), &secrets, extra)
}

#[test]
fn ike_scan_ipv4_identity_probe_gives_psk_crack_nothing() {
    let _g = serial();
    require_root_and_tools(&["ip", "ike-scan", "psk-crack", "timeout"]);
    let mut lab = Lab::new();
    start_with_wildcard_key(&mut lab, &[]);
    let ns = lab.direct_client(1);
    let dict = ["wrong", "vpn3000", PSK, WILDCARD_KEY];
    // ID_IPV4_ADDR of the prober's own address (192.168.1.11), as 4 bytes.
    let (_, crack) = probe_and_crack(&lab, &ns, "ipv4", &["--idtype=1", "--id=0xc0a8010b"], &dict);
    assert!(
        !crack.contains("matches"),
        "psk-crack recovered a key from the IPV4_ADDR probe:\n{crack}"
    );
    assert!(crack.contains("no match"), "{crack}");
    // The positive control: the group name (ID_KEY_ID) probe, cracked with the group key.
    let (_, crack) = probe_and_crack(&lab, &ns, "group", &["--idtype=11", "--id=vpn3000"], &dict);
    assert!(crack.contains(&format!("key \"{PSK}\" matches")), "{crack}");
}

/// The operator's explicit switch: with `--allow-aggressive-address-keys` the address key
/// answers the same probe, and psk-crack does recover it (which is why it is off).
#[test]
fn allow_aggressive_address_keys_answers_with_the_address_key() {
    let _g = serial();
    require_root_and_tools(&["ip", "ike-scan", "psk-crack", "timeout"]);
    let mut lab = Lab::new();
    let gw = start_with_wildcard_key(&mut lab, &["--allow-aggressive-address-keys"]);
    assert!(lab
        .proc(gw)
        .log_text()
        .contains("WARNING: --allow-aggressive-address-keys"));
    let ns = lab.direct_client(1);
    let dict = ["wrong", "vpn3000", PSK, WILDCARD_KEY];
    let (_, crack) = probe_and_crack(&lab, &ns, "ipv4", &["--idtype=1", "--id=0xc0a8010b"], &dict);
    assert!(
        crack.contains(&format!("key \"{WILDCARD_KEY}\" matches")),
        "{crack}"
    );
}
