//! Every command form, from our own test configuration and targeted one-liners.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use common::*;
use pix_config::acl::{AclBody, AddrSpec, IcmpSpec, LogSpec, PortOp, PortSpec, ProtocolSpec};
use pix_config::nat::{GlobalPool, NatSource, StaticMapped, StaticReal};
use pix_config::{lint, parse, AddrTok, Command, ConfigError, Severity};
use std::net::Ipv4Addr;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Parse one command after two `nameif` lines (so interface references resolve).
fn one(line: &str) -> Command {
    let src = format!(
        "nameif ethernet0 outside security0\nnameif ethernet1 inside security100\n{line}\n"
    );
    let out = parse(&src);
    assert!(
        out.diagnostics.iter().all(|d| d.severity == Severity::Note),
        "{line}: {:#?}",
        out.diagnostics
    );
    let mut rest: Vec<Command> = out
        .config
        .commands
        .into_iter()
        .map(|c| c.value)
        .filter(|c| !matches!(c, Command::Nameif(_)))
        .collect();
    assert_eq!(rest.len(), 1, "{line}");
    rest.pop().unwrap()
}

#[test]
fn all_forms_parse_clean() {
    let src = config_file("all_forms.cfg");
    let out = parse(&src);
    let bad: Vec<_> = out
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(!out
        .config
        .commands
        .iter()
        .any(|c| matches!(c.value, Command::Unknown(_))));
    // 3 masked secrets are noted
    assert_eq!(out.diagnostics.len(), 3);
}

#[test]
fn all_forms_printer_snapshot_round_trip_and_idempotence() {
    let src = config_file("all_forms.cfg");
    let m = parse(&src).config;
    let p1 = m.to_pix_string();
    check_snapshot("all_forms.print.txt", &p1);
    let m2 = parse(&p1).config;
    assert_eq!(m2, m);
    assert_eq!(m2.to_pix_string(), p1);
    check_snapshot("all_forms.show_run.txt", &m.to_show_run_string());
}

#[test]
fn all_forms_model_and_lint_snapshots() {
    let src = config_file("all_forms.cfg");
    let m = parse(&src).config;
    check_snapshot("all_forms.model.txt", &format!("{m:#?}\n"));
    check_snapshot(
        "all_forms.lint.txt",
        &render_lint("all_forms.cfg", &lint(&m)),
    );
}

#[test]
fn printer_restores_show_run_order() {
    let src = "route outside 0.0.0.0 0.0.0.0 192.168.1.3 1\nfrobnicate 1\nnameif ethernet0 outside security0\naccess-list 1 permit ip any any\nhostname x\n";
    let out = parse(src);
    assert_eq!(
        out.config.to_pix_string(),
        "nameif ethernet0 outside security0\nhostname x\naccess-list 1 permit ip any any\nroute outside 0.0.0.0 0.0.0.0 192.168.1.3 1\nfrobnicate 1\n"
    );
}

#[test]
fn dns_port_is_dnsix() {
    let out = parse("access-list 1 permit udp any any eq dns\n");
    let w: Vec<_> = out
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].error,
        ConfigError::PortAbbreviation {
            written: "dns".into(),
            full: "dnsix",
            port: 195,
            is_dns: true
        }
    );
    assert_eq!(w[0].column, 37);
    let Command::AccessList(a) = &out.config.commands[0].value else {
        panic!()
    };
    let AclBody::Rule(r) = &a.body else { panic!() };
    assert_eq!(r.dst_port, Some(PortSpec::Op(PortOp::Eq(195))));
    assert_eq!(
        out.config.to_pix_string(),
        "access-list 1 permit udp any any eq dnsix\n"
    );
    // and `domain` is 53
    let Command::AccessList(a) = one("access-list 1 permit udp any any eq domain") else {
        panic!()
    };
    let AclBody::Rule(r) = &a.body else { panic!() };
    assert_eq!(r.dst_port, Some(PortSpec::Op(PortOp::Eq(53))));
}

#[test]
fn acl_forms() {
    let Command::AccessList(a) =
        one("access-list web permit tcp host 1.2.3.4 range 1024 65535 10.0.0.0 255.0.0.0 eq www log 5 interval 60")
    else {
        panic!()
    };
    let AclBody::Rule(r) = a.body else { panic!() };
    assert_eq!(r.protocol, ProtocolSpec::Number(6));
    assert_eq!(r.src, AddrSpec::Host(AddrTok::Ip(ip("1.2.3.4"))));
    assert_eq!(r.src_port, Some(PortSpec::Op(PortOp::Range(1024, 65535))));
    assert_eq!(
        r.dst,
        AddrSpec::Net {
            address: AddrTok::Ip(ip("10.0.0.0")),
            mask: ip("255.0.0.0")
        }
    );
    assert_eq!(r.dst_port, Some(PortSpec::Op(PortOp::Eq(80))));
    assert_eq!(
        r.log,
        Some(LogSpec::On {
            level: Some(5),
            interval: Some(60)
        })
    );
    let Command::AccessList(a) = one("access-list 5 permit icmp any any unreachable") else {
        panic!()
    };
    let AclBody::Rule(r) = a.body else { panic!() };
    assert_eq!(r.icmp, Some(IcmpSpec::Type(3)));
    let Command::AccessList(a) = one("access-list 5 permit esp any interface outside") else {
        panic!()
    };
    let AclBody::Rule(r) = a.body else { panic!() };
    assert_eq!(r.protocol, ProtocolSpec::Number(50));
    assert_eq!(r.dst, AddrSpec::Interface("outside".into()));
    let Command::AccessList(a) = one("access-list 5 line 3 remark  two  spaces kept") else {
        panic!()
    };
    assert_eq!(a.position, Some(3));
    assert_eq!(a.body, AclBody::Remark("two  spaces kept".into()));
}

#[test]
fn nat_global_static_forms() {
    let Command::Nat(n) = one("nat (inside) 1 10.0.0.0 255.0.0.0 norandomseq dns outside 100 20")
    else {
        panic!()
    };
    assert!(n.options.dns && n.options.outside && n.options.norandomseq);
    assert_eq!(
        (n.options.max_conns, n.options.emb_limit),
        (Some(100), Some(20))
    );
    let out = parse("nameif ethernet1 inside security100\naccess-list 101 permit ip any any\nnat (inside) 0 access-list 101\n");
    assert!(out.diagnostics.is_empty());
    let Command::Nat(n) = &out.config.commands[2].value else {
        panic!()
    };
    assert_eq!(n.source, NatSource::AccessList("101".into()));
    let Command::Global(g) =
        one("global (outside) 1 192.168.1.6-192.168.1.10 netmask 255.255.255.0")
    else {
        panic!()
    };
    assert_eq!(
        g.pool,
        GlobalPool::Range {
            first: ip("192.168.1.6"),
            last: ip("192.168.1.10"),
            netmask: Some(ip("255.255.255.0"))
        }
    );
    let Command::Static(s) = one("static (inside,outside) tcp interface www 10.1.1.5 8080 netmask 255.255.255.255 norandomseq 5 2") else {
        panic!()
    };
    assert_eq!(s.mapped, StaticMapped::Interface);
    assert_eq!(s.real, StaticReal::Address(AddrTok::Ip(ip("10.1.1.5"))));
    let p = s.ports.unwrap();
    assert_eq!((p.mapped_port, p.real_port), (80, Some(8080)));
    assert!(s.options.norandomseq);
    assert_eq!(s.options.max_conns, Some(5));
    // options in any order
    let a = one("static (inside,outside) 1.1.1.1 10.1.1.1 0 0 netmask 255.255.255.255 dns");
    let b = one("static (inside,outside) 1.1.1.1 10.1.1.1 dns netmask 255.255.255.255 0 0");
    assert_eq!(a, b);
}

#[test]
fn names_stand_for_addresses() {
    let src = "names\nname 10.1.1.10 web\naccess-list 1 permit tcp any host web eq www\n";
    let out = parse(src);
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    assert_eq!(
        out.config.resolve_addr(&AddrTok::Name("web".into())),
        Some(ip("10.1.1.10"))
    );
    assert_eq!(out.config.to_pix_string(), src);
}

#[test]
fn dump_noise_is_tolerated() {
    let src = "pixfirewall# show running-config\r\nBuilding configuration...\r\n: Saved\r\n:\r\nPIX Version 6.3(3)112 \r\nhostname pixfirewall   \r\n<--- More --->\r\n   \r\n[OK]\r\npixfirewall(config)# \r\n";
    let out = parse(src);
    assert!(!out.has_errors());
    assert_eq!(out.warning_count(), 0);
    assert_eq!(
        out.config.to_pix_string(),
        ": Saved\n:\nPIX Version 6.3(3)112\nhostname pixfirewall\n"
    );
    let notes: Vec<u32> = out.diagnostics.iter().map(|d| d.line).collect();
    assert_eq!(notes, vec![1, 2, 9, 10]);
}

/// Fuzz finding: two pager prompts on one line left the second as an unknown command,
/// which printed back as a line of pager noise and vanished on re-parse.
#[test]
fn repeated_pager_prompts_are_all_noise() {
    let out = parse(" <--- More ---><--- More --->\n<--- More ---> <--- More --->hostname a\n");
    assert_eq!(out.config.to_pix_string(), "hostname a\n");
    assert_eq!(parse(&out.config.to_pix_string()).config, out.config);
}

#[test]
fn latin1_bytes_are_tolerated() {
    let bytes = b"name 10.1.1.1 caf\xe9\naccess-list 1 remark r\xe9seau \xabinterne\xbb\n";
    let out = pix_config::parse_bytes(bytes, &Default::default());
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    assert_eq!(
        out.config.to_pix_string(),
        "name 10.1.1.1 café\naccess-list 1 remark réseau «interne»\n"
    );
}

#[test]
fn unknown_commands_are_kept_and_warned_strict_makes_them_errors() {
    let src = "hostname a\n  whatever this is 1 2\nno frobnicate\n";
    let out = parse(src);
    assert!(!out.has_errors());
    assert_eq!(out.warning_count(), 2);
    assert_eq!(out.diagnostics[0].line, 2);
    assert_eq!(out.diagnostics[0].column, 3);
    assert_eq!(out.diagnostics[0].width, 8);
    assert_eq!(
        out.config.to_pix_string(),
        "hostname a\nwhatever this is 1 2\nno frobnicate\n"
    );
    let strict = pix_config::parse_with(
        src,
        &pix_config::ParseOptions {
            strict: true,
            ..Default::default()
        },
    );
    assert_eq!(strict.error_count(), 2);
}

#[test]
fn group_kind_does_not_depend_on_line_order() {
    // found by fuzzing: an ACL above the service group it uses must parse the same
    // before and after the printer moves object-groups above access-lists
    let src = "access-list a permit tcp any object-group s host 1.1.1.1\nobject-group service s tcp\n  port-object eq www\n";
    let m = parse(src).config;
    let Command::AccessList(a) = &m.commands[1].value else {
        panic!("{m:#?}")
    };
    let AclBody::Rule(r) = &a.body else { panic!() };
    assert_eq!(r.src_port, Some(PortSpec::ObjectGroup("s".into())));
    let p = m.to_pix_string();
    assert_eq!(parse(&p).config, m);
    // and the resolver says it is used before its definition
    let e: Vec<_> = parse(src)
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "service object-group \"s\" is used before its definition on line 2"
    );
}

#[test]
fn odd_blanks_round_trip() {
    // found by fuzzing: vertical tabs (and Latin-1 NBSP) must tokenize and trim alike
    let src = "passwd 2KFQnbNIdI.2KYOU encrypted\x0b\x0b\nhostname\x0bpix\nfrob\u{a0}nicate x\u{a0}\n\x0bno\x0bsuch\x0b\n";
    let m = parse(src).config;
    assert!(matches!(m.commands[0].value, Command::Passwd(_)));
    assert_eq!(m.commands[1].value, Command::Hostname("pix".into()));
    let p = m.to_pix_string();
    assert_eq!(parse(&p).config, m);
    assert_eq!(parse(&p).config.to_pix_string(), p);
}

#[test]
fn typed_accessors_over_the_fixture() {
    let m = parse(&common::fixture()).config;
    assert_eq!(m.statics().count(), 1);
    assert_eq!(m.nats().map(|(l, _)| l).collect::<Vec<_>>(), vec![45, 46]);
    assert_eq!(m.globals().count(), 1);
    assert_eq!(m.routes().count(), 2);
    assert_eq!(m.access_groups().next().unwrap().1.acl, "120");
    assert_eq!(m.pools().next().unwrap().1.len(), 5);
    assert_eq!(m.isakmp().count(), 14);
    assert_eq!(m.vpngroups().count(), 3);
    assert_eq!(m.crypto_maps().count(), 5);
    assert_eq!(m.dynamic_maps().count(), 1);
    assert_eq!(m.transform_sets().count(), 1);
    assert_eq!(m.aaa_servers().count(), 5);
    assert_eq!(m.aaa().count(), 4);
    assert!(m.permit_ipsec());
    assert_eq!(m.security_level("inside"), Some(100));
    assert_eq!(
        m.interface_address("inside"),
        Some((ip("10.89.129.194"), ip("255.255.255.240")))
    );
    assert!(m.names_enabled());
}
