//! The `trace` command API the gateway binary wires up.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use pix_nat::{
    run_trace_command, Action, DropReason, Format, Proto, TraceArgsError, TraceError, TraceRequest,
};

#[test]
fn parses_asa_word_order() {
    let r = TraceRequest::parse(&[
        "input",
        "outside",
        "tcp",
        "198.51.100.7",
        "33000",
        "192.168.1.11",
        "www",
    ])
    .unwrap();
    assert_eq!(r.packet.proto, Proto::Tcp);
    assert_eq!((r.packet.sport, r.packet.dport), (33000, 80));
    assert_eq!(r.format, Format::Text);
    let r = TraceRequest::parse(&[
        "input",
        "outside",
        "icmp",
        "203.0.113.5",
        "echo-reply",
        "0",
        "192.168.1.6",
        "--format",
        "json",
    ])
    .unwrap();
    assert_eq!((r.packet.icmp_type, r.packet.icmp_code), (0, 0));
    assert_eq!(r.format, Format::Json);
    let r = TraceRequest::parse(&[
        "--vpn-user",
        "cisco_customer",
        "input",
        "outside",
        "tcp",
        "10.89.129.200",
        "1040",
        "10.89.129.131",
        "23",
    ])
    .unwrap();
    assert!(r.packet.decrypted);
    assert_eq!(r.packet.vpn_user.as_deref(), Some("cisco_customer"));
}

#[test]
fn rejects_bad_words() {
    assert_eq!(
        TraceRequest::parse(&["input", "outside", "tcp", "1.2.3.4"]),
        Err(TraceArgsError::Missing {
            what: "a source port"
        })
    );
    assert!(matches!(
        TraceRequest::parse(&["input", "outside", "tcp", "1.2.3.999", "1", "1.1.1.1", "2"]),
        Err(TraceArgsError::Invalid { .. })
    ));
    assert!(matches!(
        TraceRequest::parse(&["input", "outside", "udp", "1.2.3.4", "1", "1.1.1.1", "2", "extra"]),
        Err(TraceArgsError::Trailing { .. })
    ));
    assert!(matches!(
        TraceRequest::parse(&["output", "outside"]),
        Err(TraceArgsError::Invalid { .. })
    ));
}

#[test]
fn command_text_and_json() {
    let cfg = seed_text();
    let now = t0();
    let text = run_trace_command(
        &cfg,
        &[
            "input",
            "outside",
            "tcp",
            "10.89.129.200",
            "1040",
            "10.89.129.131",
            "telnet",
            "--vpn-user",
            "cisco_customer",
        ],
        now,
    )
    .unwrap();
    snapshot("cli_vpn_telnet.txt", &text);
    assert!(text.ends_with("Action: allow\n"));
    let json = run_trace_command(
        &cfg,
        &[
            "input",
            "outside",
            "tcp",
            "198.51.100.7",
            "33000",
            "192.168.1.11",
            "80",
            "--format",
            "json",
        ],
        now,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["action"]["Drop"], "AclDrop");
    assert_eq!(v["phases"][1]["kind"], "UnNat");
    assert_eq!(v["phases"][1]["config"][0]["line"], 47);
    assert_eq!(
        run_trace_command(
            &cfg,
            &["input", "dmz", "udp", "1.1.1.1", "1", "2.2.2.2", "2"],
            now
        ),
        Err(TraceError::UnknownInterface("dmz".into()))
    );
    let t = pix_nat::trace(
        &cfg,
        &TraceRequest::parse(&[
            "input",
            "inside",
            "icmp",
            "10.89.129.140",
            "8",
            "0",
            "203.0.113.5",
        ])
        .unwrap(),
        now,
    )
    .unwrap();
    assert_eq!(t.action, Action::Allow);
    let t = pix_nat::trace(
        &cfg,
        &TraceRequest::parse(&["input", "outside", "gre", "203.0.113.5", "192.168.1.11"]).unwrap(),
        now,
    )
    .unwrap();
    assert_eq!(t.action, Action::Drop(DropReason::AclDrop));
}
