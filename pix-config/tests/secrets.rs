//! Masked vs clear secrets, the secrets overlay, redaction.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use common::*;
use pix_config::isakmp::Isakmp;
use pix_config::vpngroup::VpngroupAttr;
use pix_config::{
    parse_with, Command, ConfigError, ParseOptions, Secret, SecretValue, SecretsOverlay, Severity,
};

#[test]
fn masked_is_not_clear() {
    assert_ne!(
        SecretValue::Masked,
        SecretValue::Clear(Box::new(Secret::from("********x")))
    );
    assert_ne!(
        SecretValue::Masked,
        SecretValue::Clear(Box::new(Secret::from("")))
    );
    assert_eq!(SecretValue::from_token("********"), SecretValue::Masked);
    assert_eq!(
        SecretValue::from_token("abc"),
        SecretValue::Clear(Box::new(Secret::from("abc")))
    );
    assert_eq!(format!("{:?}", Secret::from("hunter2")), "<redacted>");
}

#[test]
fn overlay_fills_the_fixture_secrets() {
    let (ov, diags) = SecretsOverlay::parse(
        "# secrets for the seed\nisakmp key 0.0.0.0 netmask 0.0.0.0 cisco123\n\nvpngroup vpn3000 password groupsecret\r\n",
    );
    assert!(diags.is_empty());
    assert_eq!(ov.entries.len(), 2);
    let out = parse_with(
        &fixture(),
        &ParseOptions {
            secrets: Some(&ov),
            ..Default::default()
        },
    );
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    let mut filled = 0;
    for (_, c) in out.config.iter() {
        match c {
            Command::Isakmp(Isakmp::Key { key, .. }) => {
                assert_eq!(key.clear().unwrap().expose_str(), Some("cisco123"));
                filled += 1;
            }
            Command::Vpngroup(g) => {
                if let VpngroupAttr::Password(p) = &g.attr {
                    assert_eq!(p.clear().unwrap().expose_str(), Some("groupsecret"));
                    filled += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(filled, 2);
    let printed = out.config.to_pix_string();
    assert!(printed.contains("isakmp key cisco123 address 0.0.0.0 netmask 0.0.0.0\n"));
    assert!(printed.contains("vpngroup vpn3000 password groupsecret\n"));
    let shown = out.config.to_show_run_string();
    assert!(shown.contains("isakmp key ******** address 0.0.0.0 netmask 0.0.0.0\n"));
    assert!(!shown.contains("groupsecret"));
    // the model's Debug never shows a clear secret
    let dbg = format!("{:?}", out.config);
    assert!(
        !dbg.contains("cisco123") && !dbg.contains("groupsecret") && !dbg.contains("secretkey")
    );
}

#[test]
fn overlay_reports_unmatched_entries_and_syntax_errors() {
    let (ov, diags) = SecretsOverlay::parse(
        "isakmp key 10.0.0.1 k1\nvpngroup nosuch password p\nvpngroup x passwd p\nisakmp key 0.0.0.0 netmask 0.0.0.0 ********\naaa-server AuthInbound 10.89.129.134 key k3\naaa-server T 10.1.1.1 key timeout\n",
    );
    assert_eq!(diags.len(), 3);
    assert_eq!(
        diags[2].message,
        "expected an AAA key other than the keyword `timeout`, found \"timeout\""
    );
    assert_eq!((diags[0].line, diags[0].column), (3, 12));
    assert_eq!(diags[1].line, 4);
    let out = parse_with(
        &fixture(),
        &ParseOptions {
            secrets: Some(&ov),
            ..Default::default()
        },
    );
    let warnings: Vec<_> = out
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.error.clone(), d.related[0].line))
        .collect();
    // the aaa-server key in the fixture is clear, so its entry matches nothing masked
    assert_eq!(
        warnings,
        vec![
            (
                ConfigError::OverlayUnmatched {
                    entry: "isakmp key 10.0.0.1".into()
                },
                1
            ),
            (
                ConfigError::OverlayUnmatched {
                    entry: "vpngroup nosuch password".into()
                },
                2
            ),
            (
                ConfigError::OverlayUnmatched {
                    entry: "aaa-server AuthInbound 10.89.129.134 key".into()
                },
                5
            ),
        ]
    );
    // still masked: two notes
    assert_eq!(
        out.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Note)
            .count(),
        2
    );
}

#[test]
fn overlay_username_entries_are_local_users_not_model_changes() {
    let (ov, diags) = SecretsOverlay::parse(
        "username cisco_customer password cisco123\nusername bob password one\nusername bob password two\nusername\n",
    );
    // the bare `username` line is an error on line 4; the good lines are kept
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].line, 4);
    let users: Vec<(&str, &str)> = ov
        .users()
        .iter()
        .map(|(n, s)| (*n, s.expose_str().unwrap()))
        .collect();
    assert_eq!(users, vec![("cisco_customer", "cisco123"), ("bob", "two")]);
    let text = "username cisco_customer password 3USUcOPFUiMCO4Jk encrypted privilege 2\n";
    let out = parse_with(
        text,
        &ParseOptions {
            strict: false,
            secrets: Some(&ov),
        },
    );
    // no "unmatched overlay entry" warning for users, and the hash still prints as written
    assert!(
        out.diagnostics
            .iter()
            .all(|d| !matches!(d.error, ConfigError::OverlayUnmatched { .. })),
        "{:?}",
        out.diagnostics
    );
    assert_eq!(out.config.to_pix_string(), text);
    let (_, diags) = SecretsOverlay::parse("username bob password ********\n");
    assert_eq!(diags.len(), 1, "the mask is not a password");
}
