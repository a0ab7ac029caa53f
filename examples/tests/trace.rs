//! `pix-gateway trace` on the seed's configuration.
#![allow(clippy::disallowed_methods)] // real processes on the real clock

use std::process::Command;

use testkit::shared::seed_fixture_path as fixture;

fn trace(words: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pix-gateway"))
        .arg("trace")
        .arg(fixture())
        .args(words)
        .output()
        .expect("run pix-gateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn internet_to_web_server_is_denied_because_acl_120_names_the_real_address() {
    let (code, out, err) = trace(&[
        "input",
        "outside",
        "tcp",
        "198.51.100.7",
        "40000",
        "192.168.1.11",
        "80",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Type: UN-NAT")
            && out.contains("47: static (inside,outside) 192.168.1.11 10.89.129.131"),
        "{out}"
    );
    assert!(
        out.contains("Type: ACCESS-LIST")
            && out.contains("48: access-group 120 in interface outside"),
        "{out}"
    );
    assert!(
        out.contains("line 27 would permit the real address 10.89.129.131"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("Drop-reason: (acl-drop) Flow is denied by configured rule"),
        "{out}"
    );
}

#[test]
fn vpn_user_to_inside_host_bypasses_the_acl_and_nat() {
    let (code, out, err) = trace(&[
        "input",
        "outside",
        "tcp",
        "10.89.129.200",
        "40000",
        "10.89.129.131",
        "23",
        "--vpn-user",
        "cisco_customer",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Type: IPSEC-BYPASS") && out.contains("69: sysopt connection permit-ipsec"),
        "{out}"
    );
    assert!(out.contains("45: nat (inside) 0 access-list 101"), "{out}");
    assert!(
        !out.contains("Type: ACCESS-LIST"),
        "permit-ipsec skips the ACL: {out}"
    );
    assert!(out.contains("Action: allow"), "{out}");
}

#[test]
fn json_is_machine_readable_and_icmp_uses_the_asa_word_order() {
    let (code, out, err) = trace(&[
        "input",
        "outside",
        "icmp",
        "198.51.100.7",
        "echo-reply",
        "0",
        "192.168.1.11",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        v["phases"].as_array().is_some_and(|p| !p.is_empty()),
        "{out}"
    );
}

#[test]
fn bad_arguments_are_one_clear_line() {
    let (code, out, err) = trace(&[
        "input",
        "outside",
        "tcp",
        "198.51.100.300",
        "1",
        "192.168.1.11",
        "80",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("198.51.100.300"), "{err}");
    let (code, _, err) = trace(&["input", "dmz", "tcp", "1.1.1.1", "1", "192.168.1.11", "80"]);
    assert_eq!(code, 2);
    assert!(err.contains("dmz"), "{err}");
}
