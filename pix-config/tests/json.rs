//! The report types serialize to JSON (the `check --format json` output).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use common::*;

#[test]
fn diagnostics_and_findings_serialize() {
    let src = format!(
        "{}\nroute outside 10.0.0.0 255.255.255.3x 192.168.1.3 1\n",
        fixture().trim_end()
    );
    let out = pix_config::parse(&src);
    let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1);
    let v = serde_json::to_value(errors[0]).unwrap();
    assert_eq!(v["severity"], "error");
    assert_eq!(v["line"], 100);
    assert_eq!(v["column"], 24);
    assert_eq!(v["width"], 14);
    assert_eq!(
        v["message"],
        "expected a netmask after 10.0.0.0, found \"255.255.255.3x\""
    );
    assert!(v.get("error").is_none());
    let findings = pix_config::lint(&out.config);
    let j = serde_json::to_value(&findings[0]).unwrap();
    assert_eq!(j["rule"], "acl-real-address");
    assert_eq!(j["line"], 26);
    assert_eq!(
        j["suggestion"],
        "access-list 120 permit icmp any host 192.168.1.11"
    );
    assert_eq!(j["related"], serde_json::json!([47]));
}
