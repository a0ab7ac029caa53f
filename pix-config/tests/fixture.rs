//! The seed configuration: parses clean, prints identically, lints to exactly the
//! ACL 120 findings, the weak-crypto findings and the wildcard key beside a vpngroup.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use common::*;
use pix_config::{lint, parse, Command, LintRule, Severity};

#[test]
fn fixture_parses_without_errors_or_warnings() {
    let src = fixture();
    let out = parse(&src);
    let bad: Vec<_> = out
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    // the only notes are the two masked secrets
    assert_eq!(out.diagnostics.len(), 2);
    assert!(out
        .diagnostics
        .iter()
        .all(|d| d.message.contains("is masked")));
    assert_eq!(out.config.commands.len(), 99);
    assert!(!out
        .config
        .commands
        .iter()
        .any(|c| matches!(c.value, Command::Unknown(_))));
}

#[test]
fn fixture_prints_back_byte_for_byte() {
    let src = fixture();
    let out = parse(&src);
    assert_eq!(out.config.to_pix_string(), src);
}

#[test]
fn fixture_round_trips_and_printing_is_idempotent() {
    let src = fixture();
    let m = parse(&src).config;
    let p1 = m.to_pix_string();
    let m2 = parse(&p1).config;
    assert_eq!(m2, m);
    assert_eq!(m2.to_pix_string(), p1);
}

#[test]
fn fixture_lints_to_acl_120_and_weak_crypto_only() {
    let out = parse(&fixture());
    let findings = lint(&out.config);
    let acl: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == LintRule::AclRealAddress)
        .collect();
    let weak: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == LintRule::WeakCrypto)
        .collect();
    // The seed's wildcard `isakmp key` beside `vpngroup vpn3000`: open to Aggressive
    // Mode probes with an address identity (issue 15).
    let am: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == LintRule::AggressiveAddressKey)
        .collect();
    assert_eq!(am.len(), 1, "{findings:#?}");
    assert_eq!(
        acl.len() + weak.len() + am.len(),
        findings.len(),
        "{findings:#?}"
    );
    assert_eq!(
        acl.iter().map(|f| f.line).collect::<Vec<_>>(),
        vec![26, 27, 28]
    );
    assert_eq!(
        acl.iter()
            .map(|f| f.suggestion.clone().unwrap())
            .collect::<Vec<_>>(),
        vec![
            "access-list 120 permit icmp any host 192.168.1.11",
            "access-list 120 permit tcp any host 192.168.1.11",
            "access-list 120 permit udp any host 192.168.1.11",
        ]
    );
    assert!(acl.iter().all(|f| f.related == vec![47]));
    // transform-set: esp-des and esp-md5-hmac; policy 10: des, md5; policy 20: des, md5, group 1
    assert_eq!(
        weak.iter().map(|f| f.line).collect::<Vec<_>>(),
        vec![70, 70, 82, 83, 87, 88, 89]
    );
    check_snapshot(
        "fixture.lint.txt",
        &render_lint("pix63-vpnclient.cfg", &findings),
    );
}

#[test]
fn fixture_model_snapshot() {
    let out = parse(&fixture());
    check_snapshot("fixture.model.txt", &format!("{:#?}\n", out.config));
}

#[test]
fn fixture_passwords_verify() {
    let out = parse(&fixture());
    let mut seen = 0;
    for (_, c) in out.config.iter() {
        match c {
            Command::EnablePassword(e) => {
                assert!(e.password.verify(""));
                assert!(!e.password.verify("cisco"));
                seen += 1;
            }
            Command::Passwd(p) => {
                assert!(p.password.verify("cisco"));
                assert!(!p.password.verify(""));
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 2);
}

#[test]
fn fixture_show_run_masks_the_aaa_key() {
    let out = parse(&fixture());
    let shown = out.config.to_show_run_string();
    assert!(
        shown.contains("aaa-server AuthInbound (inside) host 10.89.129.134 ******** timeout 10\n")
    );
    assert!(!shown.contains("secretkey"));
    assert!(out.config.to_pix_string().contains("secretkey"));
}
