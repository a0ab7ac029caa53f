//! Error messages: what, where (line:col), the caret, and every error not just the first.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use pix_config::{parse, render_diagnostic, ConfigError, Severity};

fn errors(src: &str) -> Vec<pix_config::Diagnostic> {
    parse(src)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

const IFS: &str = "nameif ethernet0 outside security0\nnameif ethernet1 inside security100\n";

#[test]
fn bad_netmask_has_caret_under_the_token() {
    let src = format!("{IFS}access-list 101 permit ip 10.0.0.0 255.255.255.3x any\n");
    let out = parse(&src);
    assert_eq!(out.error_count(), 1);
    let d = &out.diagnostics[0];
    assert_eq!((d.line, d.column, d.width), (3, 36, 14));
    assert_eq!(
        d.error,
        ConfigError::Expected {
            expected: "a netmask after 10.0.0.0".into(),
            found: Some("255.255.255.3x".into())
        }
    );
    assert_eq!(
        render_diagnostic("pix.cfg", &src, d),
        "pix.cfg:3:36: error: expected a netmask after 10.0.0.0, found \"255.255.255.3x\"\n\
         3 | access-list 101 permit ip 10.0.0.0 255.255.255.3x any\n  \
           |                                    ^^^^^^^^^^^^^^\n"
    );
}

#[test]
fn wildcard_mask_gets_hint() {
    let src = format!("{IFS}access-list 101 permit ip 10.0.0.0 0.0.0.255 any\n");
    let e = errors(&src);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "0.0.0.255 is not a netmask (PIX wants a contiguous netmask, not a wildcard mask); did you mean 255.255.255.0?"
    );
}

#[test]
fn end_of_line_errors_point_past_the_last_token() {
    let src = format!("{IFS}static (inside,outside)\n");
    let e = errors(&src);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "expected a mapped address or `interface`, found end of line"
    );
    assert_eq!(e[0].column, 24);
    assert!(render_diagnostic("f", &src, &e[0]).ends_with("|                        ^\n"));
}

#[test]
fn every_error_is_reported() {
    let src = format!(
        "{IFS}nameif ethernet2 dmz security101\nroute outside 0.0.0.0 0.0.0.0\nip address inside 10.1.1.1 255.0.255.0\ntimeout xlate 3:99:00\nglobal (outside) 1 10.0.0.9-10.0.0.1\naccess-list 1 permit tcp any any eq nosuchport\nisakmp policy 10 group 3\nfixup protocol ftp 21 22\n"
    );
    let e = errors(&src);
    let lines: Vec<u32> = e.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9, 10], "{e:#?}");
    let msgs: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs[0],
        "security level must be between 0 and 100, found security101"
    );
    assert_eq!(msgs[1], "expected a gateway address, found end of line");
    assert!(msgs[2].starts_with("255.0.255.0 is not a netmask"));
    assert_eq!(
        msgs[3],
        "expected a duration h:mm:ss after `xlate`, found \"3:99:00\""
    );
    assert_eq!(
        msgs[4],
        "address range 10.0.0.9-10.0.0.1 is empty (first address above last)"
    );
    assert!(msgs[5].starts_with("expected a port (number 0-65535 or PIX port name"));
    assert_eq!(msgs[6], "expected DH group 1, 2 or 5, found \"3\"");
    assert_eq!(
        msgs[7],
        "unexpected \"22\" after the end of the `fixup` command"
    );
}

#[test]
fn dangling_references_are_errors_at_the_reference() {
    let src = format!(
        "{IFS}access-group 130 in interface outside\nnat (inside) 0 access-list nonat\ncrypto map m 10 set transform-set nosuch\ncrypto map m interface dmz\nvpngroup g address-pool nopool\ncrypto map m client authentication NoTag\nroute outside 0.0.0.0 0.0.0.0 gw 1\n"
    );
    let e = errors(&src);
    let got: Vec<(u32, u32, &str)> = e
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, 14, "access-list \"130\" is not defined"),
            (4, 28, "access-list \"nonat\" is not defined"),
            (5, 35, "transform-set \"nosuch\" is not defined"),
            (6, 24, "interface \"dmz\" is not defined"),
            (7, 25, "ip local pool \"nopool\" is not defined"),
            (8, 36, "aaa-server group \"NoTag\" is not defined"),
            (9, 31, "name \"gw\" is not defined"),
        ]
    );
}

#[test]
fn case_slips_point_at_the_similar_definition() {
    let src =
        format!("{IFS}ip local pool VPNpool 10.1.1.1-10.1.1.5\nvpngroup g address-pool vpnpool\n");
    let e = errors(&src);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "ip local pool \"vpnpool\" is not defined; a similar one is defined on line 3"
    );
    assert_eq!(e[0].related[0].line, 3);
}

#[test]
fn wrong_kind_and_duplicates_name_both_lines() {
    let src = format!(
        "{IFS}object-group service web tcp\n  port-object eq www\naccess-list 1 permit ip any object-group web\nname 10.1.1.1 a\nname 10.1.1.2 a\nobject-group network web\n"
    );
    let e = errors(&src);
    let got: Vec<(u32, &str, Vec<u32>)> = e
        .iter()
        .map(|d| {
            (
                d.line,
                d.message.as_str(),
                d.related.iter().map(|r| r.line).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (5, "\"web\" is a service object-group (line 3) but a network object-group is needed here", vec![3]),
            (7, "name \"a\" is already defined on line 6", vec![6]),
            (8, "object-group \"web\" is already defined on line 3", vec![3]),
        ]
    );
    let rendered = render_diagnostic("p.cfg", &src, &e[0]);
    assert!(
        rendered.ends_with("p.cfg:3: note: \"web\" is defined here as a service object-group\n"),
        "{rendered}"
    );
}

#[test]
fn names_used_before_definition() {
    let src = "names\naccess-list 1 permit ip any host web\nname 10.1.1.1 web\n";
    let e = errors(src);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "name \"web\" is used before its definition on line 3"
    );
    assert_eq!((e[0].line, e[0].column), (2, 34));
}

#[test]
fn object_group_member_errors() {
    let src = "network-object host 1.1.1.1\nobject-group protocol p\n  port-object eq www\n";
    let e = errors(src);
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].message, "`network-object` outside of an object-group");
    assert_eq!(
        e[1].message,
        "`port-object` is not allowed in a protocol object-group"
    );
    assert_eq!((e[1].line, e[1].column), (3, 3));
}

#[test]
fn encrypted_password_must_be_a_pix_hash() {
    let e = errors("enable password short encrypted\n");
    assert_eq!(e.len(), 1);
    assert!(e[0]
        .message
        .starts_with("expected a 16-character PIX-MD5 hash"));
}

#[test]
fn render_many_equals_render_each() {
    let src = format!("{IFS}access-list 1 permit ip 10.0.0.0 0.0.0.255 any\r\nfoo bar\nroute outside 1.1.1.0 255.255.255.0\n");
    let out = parse(&src);
    assert_eq!(out.diagnostics.len(), 3);
    let each: String = out
        .diagnostics
        .iter()
        .map(|d| render_diagnostic("f", &src, d))
        .collect();
    assert_eq!(common::render_all("f", &src, &out), each);
    assert!(each.contains("4 | foo bar\n  | ^^^\n"), "{each}");
}
