//! `pix-gateway check` on the seed's configuration and on broken ones.
#![allow(clippy::disallowed_methods)] // real processes on the real clock

use std::path::PathBuf;
use std::process::Command;

use testkit::shared::seed_fixture_path as fixture;

fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pix-gateway"))
        .arg("check")
        .args(args)
        .output()
        .expect("run pix-gateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pix-gateway-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}

#[test]
fn seed_config_parses_and_lints_as_expected() {
    let f = fixture();
    let (code, out, err) = check(&[f.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // Exactly the ACL 120 findings (three permits of the real address), weak crypto ...
    let rules: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split("warning[").nth(1))
        .map(|r| r.split(']').next().unwrap())
        .collect();
    assert_eq!(
        rules.iter().filter(|r| **r == "acl-real-address").count(),
        3,
        "{out}"
    );
    // ... and the wildcard `isakmp key` beside `vpngroup vpn3000` (Aggressive Mode
    // probes, issue 15).
    assert_eq!(
        rules
            .iter()
            .filter(|r| **r == "aggressive-address-key")
            .count(),
        1,
        "{out}"
    );
    assert!(
        rules.iter().all(|r| *r == "acl-real-address"
            || *r == "weak-crypto"
            || *r == "aggressive-address-key"),
        "{rules:?}"
    );
    assert!(
        out.contains("suggestion: access-list 120 permit tcp any host 192.168.1.11"),
        "{out}"
    );
    assert!(out.contains("isakmp policy 20 uses group 1"), "{out}");
    assert!(
        out.trim_end().ends_with(&format!(
            "{}: 0 errors, 0 warnings, {} lint findings (99 commands)",
            f.display(),
            rules.len()
        )),
        "{out}"
    );
}

#[test]
fn json_report_is_machine_readable() {
    let f = fixture();
    let (code, out, _) = check(&["--format", "json", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["errors"], 0);
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["line"] == 27
            && f["suggestion"] == "access-list 120 permit tcp any host 192.168.1.11"),
        "{out}"
    );
}

#[test]
fn errors_are_compiler_style_all_reported_and_exit_1() {
    let cfg = temp(
        "bad.cfg",
        "nameif ethernet0 outside security0\nroute outside 10.0.0.0 255.255.255.3x 192.168.1.3 1\naccess-group 999 in interface outside\nip address outside 300.1.1.1 255.255.255.0\n",
    );
    let (code, out, _) = check(&[cfg.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let name = cfg.to_str().unwrap();
    assert!(
        out.contains(&format!(
            "{name}:2:24: error: expected a netmask after 10.0.0.0, found \"255.255.255.3x\""
        )),
        "{out}"
    );
    assert!(
        out.contains("  |                        ^^^^^^^^^^^^^^"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{name}:4:")),
        "the error on line 4 is reported too: {out}"
    );
    assert!(
        out.contains(&format!("{name}:3:")),
        "the dangling access-group on line 3 is reported: {out}"
    );
}

#[test]
fn strict_turns_unknown_commands_into_errors() {
    let cfg = temp("unknown.cfg", "hostname pix\nfrobnicate the widgets\n");
    let (lenient, out, _) = check(&[cfg.to_str().unwrap()]);
    assert_eq!(lenient, 0, "{out}");
    assert!(out.contains(":2:1: warning:"), "{out}");
    let (strict, out, _) = check(&["--strict", cfg.to_str().unwrap()]);
    assert_eq!(strict, 1, "{out}");
    assert!(out.contains(":2:1: error:"), "{out}");
}

#[test]
fn secrets_overlay_fills_masked_keys_and_never_prints_them() {
    let f = fixture();
    let secrets = temp(
        "secrets.txt",
        "# demo secrets\nisakmp key 0.0.0.0 netmask 0.0.0.0 cisco1234\nvpngroup vpn3000 password s3cr3t-group\nvpngroup nosuchgroup password leaked-if-printed\nisakmp key not-an-address hunter2-secret\n",
    );
    let (code, out, err) = check(&["--secrets", secrets.to_str().unwrap(), f.to_str().unwrap()]);
    assert!(
        !out.contains("is masked"),
        "overlay did not fill the masked secrets: {out}"
    );
    for secret in [
        "cisco1234",
        "s3cr3t-group",
        "leaked-if-printed",
        "hunter2-secret",
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "secret {secret} printed: {out}{err}"
        );
    }
    // The bad overlay line is an error on the overlay's own line, and the entry that
    // fills nothing is a warning there too (not at "line 0" of the configuration).
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{}:5:", secrets.display())), "{out}");
    assert!(
        out.contains(&format!(
            "{}:4:1: warning: overlay entry `vpngroup nosuchgroup password` matches nothing",
            secrets.display()
        )),
        "{out}"
    );
    assert!(!out.contains(":0:"), "{out}");
}

#[test]
fn missing_file_is_one_clear_line() {
    let (code, out, err) = check(&["/nonexistent/pix.cfg"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(
        err.trim(),
        "pix-gateway: cannot read /nonexistent/pix.cfg: No such file or directory (os error 2)"
    );
}

/// The largest real dump (pix-config/tests/configs/real/, sources in its SOURCES.md):
/// a sanitized PIX 6.3(3) `show run` of 4,876 lines.
fn largest_real_dump() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../pix-config/tests/configs/real/06-pix2asa-pix38-6.3.3.cfg")
}

#[test]
fn real_dump_checks_lenient_and_fails_strict() {
    let f = largest_real_dump();
    let name = f.to_str().unwrap();
    let (code, out, err) = check(&[name]);
    assert_eq!(code, 0, "{err}{}", out.lines().last().unwrap_or(""));
    // 2 redacted hashes, 4 anonymized netmasks, 743 `example8-*` lines of the
    // sanitizer's damage: warnings, located
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{name}: 0 errors, 749 warnings,"))),
        "{}",
        out.lines().last().unwrap_or("")
    );
    assert!(
        out.contains(&format!(
            "{name}:20:17: warning: the enable password hash is redacted (\"XXXXXXXXXXXX\")"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{name}:193:29: warning: expected a netmask after 10.0.0.247, found the address 198.51.100.133"
        )),
        "{out}"
    );
    let (code, out, _) = check(&["--strict", name]);
    assert_eq!(code, 1, "{}", out.lines().last().unwrap_or(""));
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{name}: 749 errors, 0 warnings,"))),
        "{}",
        out.lines().last().unwrap_or("")
    );
    assert!(
        out.contains(&format!("{name}:21:8: error: the passwd hash is redacted")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{name}:2932:1: error: unknown or unsupported command `example8-list`"
        )),
        "{out}"
    );
}
