//! The typed `logging` and `fragment` commands, and the data-plane accessors
//! (`Config::logging`, `Config::fragment`, `Config::tcp_mss`, `Config::mtu`).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::Ipv4Addr;

use pix_config::fragment::{FragmentSettings, TcpMss};
use pix_config::logging::{DeviceId, LogLevel, LogProtocol, LoggingItem};
use pix_config::{parse, parse_with, Command, ParseOptions, Severity};

/// Every logging form, in `show run` order, as a PIX prints it.
const LOGGING_PIX_ORDER: &str = "\
logging on
logging timestamp
logging standby
logging console errors
logging monitor debugging
logging buffered warnings
logging trap notifications
logging history critical
logging facility 22
logging queue 1024
logging device-id string fw-1
logging host inside 10.0.1.1
logging host dmz 10.0.2.2 tcp/1470 format emblem
logging host inside syslog1 udp/5514
logging message 109005 level warnings
no logging message 106011
logging message 111008 level errors
";

fn no_errors_or_warnings(src: &str) -> pix_config::ParseOutcome {
    let out = parse(src);
    let bad: Vec<_> = out
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    out
}

#[test]
fn logging_forms_are_typed_and_print_back() {
    let src = format!("name 10.0.3.3 syslog1\n{LOGGING_PIX_ORDER}");
    let out = no_errors_or_warnings(&src);
    let lines: Vec<_> = out.config.logging_lines().collect();
    assert_eq!(lines.len(), 17);
    assert!(!out
        .config
        .commands
        .iter()
        .any(|c| matches!(c.value, Command::Unknown(_) | Command::Known(_))));
    assert_eq!(out.config.to_pix_string(), src);
}

#[test]
fn logging_lines_are_printed_in_pix_order() {
    // reversed input: the printer puts every kind where a PIX does, keeping the
    // written order within a kind
    let mut rev: Vec<&str> = LOGGING_PIX_ORDER.lines().collect();
    rev.reverse();
    let src = format!(
        "icmp permit any outside\nname 10.0.3.3 syslog1\n{}\npager lines 24\n",
        rev.join("\n")
    );
    let out = no_errors_or_warnings(&src);
    let printed = out.config.to_pix_string();
    let mut want: Vec<&str> = vec!["name 10.0.3.3 syslog1", "pager lines 24"];
    let logging: Vec<&str> = LOGGING_PIX_ORDER.lines().collect();
    // same-kind lines (hosts, messages) keep their (reversed) written order
    let (hosts, rest): (Vec<&str>, Vec<&str>) =
        logging.iter().partition(|l| l.starts_with("logging host"));
    let (messages, others): (Vec<&str>, Vec<&str>) =
        rest.iter().partition(|l| l.contains("logging message"));
    want.extend(others);
    want.extend(hosts.iter().rev());
    want.extend(messages.iter().rev());
    want.push("icmp permit any outside");
    assert_eq!(printed.lines().collect::<Vec<_>>(), want);
    // and the printed text parses to the same model
    assert_eq!(parse(&printed).config, out.config);
}

#[test]
fn levels_are_read_as_numbers_names_or_prefixes_and_printed_as_names() {
    let out = no_errors_or_warnings("logging trap 4\nlogging buffered INFO\nlogging console 0\n");
    assert_eq!(
        out.config.to_pix_string(),
        "logging console emergencies\nlogging buffered informational\nlogging trap warnings\n"
    );
    let s = out.config.logging();
    assert_eq!(s.trap, Some(LogLevel::Warnings));
    assert_eq!(s.buffered, Some(LogLevel::Informational));
    assert_eq!(s.console, Some(LogLevel::Emergencies));
}

#[test]
fn logging_settings_defaults() {
    let s = parse("hostname pix\n").config.logging();
    assert!(!s.enabled && !s.timestamp && !s.standby);
    assert_eq!((s.trap, s.buffered, s.console), (None, None, None));
    assert_eq!(s.facility, 20);
    assert_eq!(s.queue, 512);
    assert!(s.hosts.is_empty() && s.device_id.is_none());
    assert_eq!(
        s.message_level(109005, LogLevel::Informational),
        Some(LogLevel::Informational)
    );
}

#[test]
fn logging_settings_resolve_hosts_levels_and_messages() {
    let src = format!("names\nname 10.0.3.3 syslog1\n{LOGGING_PIX_ORDER}");
    let s = no_errors_or_warnings(&src).config.logging();
    assert!(s.enabled && s.timestamp && s.standby);
    assert_eq!(s.trap, Some(LogLevel::Notifications));
    assert_eq!(s.buffered, Some(LogLevel::Warnings));
    assert_eq!(s.history, Some(LogLevel::Critical));
    assert_eq!(s.facility, 22);
    assert_eq!(s.queue, 1024);
    assert_eq!(s.device_id, Some(DeviceId::String("fw-1".into())));
    let hosts: Vec<_> = s
        .hosts
        .iter()
        .map(|h| {
            (
                h.interface.as_str(),
                h.address,
                h.protocol,
                h.port,
                h.emblem,
            )
        })
        .collect();
    assert_eq!(
        hosts,
        vec![
            (
                "inside",
                Some(Ipv4Addr::new(10, 0, 1, 1)),
                LogProtocol::Udp,
                514,
                false
            ),
            (
                "dmz",
                Some(Ipv4Addr::new(10, 0, 2, 2)),
                LogProtocol::Tcp,
                1470,
                true
            ),
            (
                "inside",
                Some(Ipv4Addr::new(10, 0, 3, 3)),
                LogProtocol::Udp,
                5514,
                false
            ),
        ]
    );
    assert_eq!(
        s.message_levels,
        vec![(109005, LogLevel::Warnings), (111008, LogLevel::Errors)]
    );
    assert_eq!(s.disabled, vec![106011]);
    assert_eq!(s.message_level(106011, LogLevel::Informational), None);
    assert_eq!(
        s.message_level(109005, LogLevel::Informational),
        Some(LogLevel::Warnings)
    );
    assert_eq!(
        s.message_level(602303, LogLevel::Informational),
        Some(LogLevel::Informational)
    );
}

#[test]
fn later_lines_and_no_forms_override() {
    let src = "\
logging on
logging trap debugging
logging host inside 10.0.1.1
logging host 10.0.1.2
logging message 109005 level warnings
no logging message 106011
logging facility 23
no logging on
no logging trap
no logging host inside 10.0.1.1
no logging message 109005 level warnings
logging message 106011
no logging facility
";
    let out = no_errors_or_warnings(src);
    let s = out.config.logging();
    assert!(!s.enabled);
    assert_eq!(s.trap, None);
    assert_eq!(s.facility, 20);
    assert_eq!(s.hosts.len(), 1);
    assert_eq!(s.hosts[0].interface, "inside"); // the PIX default
    assert_eq!(s.hosts[0].address, Some(Ipv4Addr::new(10, 0, 1, 2)));
    assert!(s.message_levels.is_empty() && s.disabled.is_empty());
    // the model round-trips through the printer
    assert_eq!(parse(&out.config.to_pix_string()).config, out.config);
}

#[test]
fn device_id_forms() {
    for (line, want) in [
        ("logging device-id hostname", DeviceId::Hostname),
        (
            "logging device-id ipaddress outside",
            DeviceId::IpAddress("outside".into()),
        ),
        (
            "logging device-id string PIX-A",
            DeviceId::String("PIX-A".into()),
        ),
    ] {
        let out = no_errors_or_warnings(&format!("{line}\n"));
        assert_eq!(out.config.logging().device_id, Some(want));
        assert_eq!(out.config.to_pix_string(), format!("{line}\n"));
    }
}

#[test]
fn malformed_logging_lines_are_located_errors_under_strict() {
    let strict = ParseOptions {
        strict: true,
        secrets: None,
    };
    for (line, col, msg) in [
        ("logging trap loud", 14, "a level after `trap`"),
        ("logging trap", 13, "a level after `trap`"),
        ("logging facility 24", 18, "syslog facility"),
        (
            "logging host inside 10.0.0.1 udp/0",
            30,
            "`udp/PORT` or `tcp/PORT`",
        ),
        ("logging host inside 10.0.0.1 format json", 37, "`emblem`"),
        ("logging message 42", 17, "syslog message id"),
        (
            "logging message 106011 level 9",
            30,
            "a level after `level`",
        ),
        ("logging queue 9000", 15, "queue size"),
        (
            "logging device-id string 12345678901234567",
            26,
            "device-id string",
        ),
        (
            "logging trap warnings extra",
            23,
            "after the end of the `logging`",
        ),
        ("logging loudly", 9, "unknown logging option \"loudly\""),
    ] {
        let out = parse_with(&format!("{line}\n"), &strict);
        let errs: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errs.len(), 1, "{line}: {:#?}", out.diagnostics);
        assert_eq!(
            (errs[0].line, errs[0].column),
            (1, col),
            "{line}: {}",
            errs[0].message
        );
        assert!(errs[0].message.contains(msg), "{line}: {}", errs[0].message);
        // kept verbatim: the printer gives the line back
        assert_eq!(out.config.to_pix_string(), format!("{line}\n"));
    }
}

#[test]
fn unknown_logging_options_are_lenient_warnings_kept_verbatim() {
    // (`logging user3 debugging`: a sanitizer replaced `console` in a real dump)
    let src = "logging on\nlogging user3 debugging\n";
    let out = parse(src);
    assert_eq!(out.error_count(), 0, "{:#?}", out.diagnostics);
    assert_eq!(out.warning_count(), 1);
    let d = &out.diagnostics[0];
    assert_eq!((d.line, d.column, d.width), (2, 9, 5));
    assert!(
        d.message.contains("unknown logging option \"user3\""),
        "{}",
        d.message
    );
    assert_eq!(out.config.to_pix_string(), src);
    assert!(out.config.logging().enabled);
}

#[test]
fn fragment_lines_and_settings() {
    let src = "\
nameif ethernet0 outside security0
nameif ethernet1 inside security100
fragment size 400
fragment chain 1 outside
fragment timeout 10 inside
fragment chain 8200
";
    let out = no_errors_or_warnings(src);
    assert_eq!(out.config.fragment_lines().count(), 4);
    assert_eq!(
        out.config.fragment("outside"),
        FragmentSettings {
            size: 400,
            chain: 8200,
            timeout_secs: 5
        }
    );
    assert_eq!(
        out.config.fragment("inside"),
        FragmentSettings {
            size: 400,
            chain: 8200,
            timeout_secs: 10
        }
    );
    assert_eq!(parse(&out.config.to_pix_string()).config, out.config);
    // defaults, and `no` puts the default back
    assert_eq!(
        parse("hostname pix\n").config.fragment("outside"),
        FragmentSettings {
            size: 200,
            chain: 24,
            timeout_secs: 5
        }
    );
    let o = no_errors_or_warnings("fragment chain 1 outside\nno fragment chain outside\n");
    assert_eq!(o.config.fragment("outside").chain, 24);
    // out of range
    for (line, col) in [
        ("fragment timeout 31", 18),
        ("fragment chain 0", 16),
        ("fragment size 1000001", 15),
        ("fragment queue 5", 10),
        ("fragment size", 14),
    ] {
        let out = parse(&format!("{line}\n"));
        assert_eq!(out.error_count(), 1, "{line}");
        assert_eq!(out.diagnostics[0].column, col, "{line}");
    }
}

#[test]
fn tcp_mss_and_mtu() {
    assert_eq!(
        parse("hostname pix\n").config.tcp_mss(),
        TcpMss {
            maximum: Some(1380),
            minimum: None
        }
    );
    let c = no_errors_or_warnings(
        "sysopt connection tcpmss 1200\nsysopt connection tcpmss minimum 48\n",
    )
    .config;
    assert_eq!(
        c.tcp_mss(),
        TcpMss {
            maximum: Some(1200),
            minimum: Some(48)
        }
    );
    assert_eq!(
        no_errors_or_warnings("sysopt connection tcpmss 0\n")
            .config
            .tcp_mss()
            .maximum,
        None
    );
    assert_eq!(
        no_errors_or_warnings("sysopt connection tcpmss 0\nno sysopt connection tcpmss\n")
            .config
            .tcp_mss()
            .maximum,
        Some(1380)
    );
    let bad = parse("sysopt connection tcpmss big\n");
    assert_eq!(bad.error_count(), 1);
    assert!(bad.diagnostics[0].message.contains("TCP MSS"));
    let m = no_errors_or_warnings(
        "nameif ethernet0 outside security0\nnameif ethernet1 inside security100\nmtu outside 1400\n",
    )
    .config;
    assert_eq!(m.mtu("outside"), 1400);
    assert_eq!(m.mtu("inside"), 1500);
}

#[test]
fn logging_item_is_exposed() {
    let c = parse("logging host inside 10.0.0.9 udp/514\n").config;
    let (_, l) = c.logging_lines().next().unwrap();
    match &l.item {
        LoggingItem::Host(h) => {
            assert_eq!(h.transport, Some((LogProtocol::Udp, 514)));
            assert_eq!(h.interface.as_deref(), Some("inside"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn many_logging_lines_resolve_in_one_pass() {
    // descending ids and many hosts: the settings are built with maps, not by
    // inserting into sorted vectors (quadratic on such a configuration)
    let mut src = String::from("names\nname 10.9.9.9 loghost\n");
    for i in 0..40_000u32 {
        src.push_str(&format!("no logging message {}\n", 999_999 - i));
        src.push_str(&format!(
            "logging host inside 10.{}.{}.{}\n",
            i >> 16,
            (i >> 8) & 0xff,
            i & 0xff
        ));
    }
    src.push_str("logging host inside loghost\nno logging host inside 10.0.0.7\n");
    let out = parse(&src);
    assert_eq!(out.error_count(), 0);
    let s = out.config.logging();
    assert_eq!(s.disabled.len(), 40_000);
    assert!(s.disabled.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.hosts.len(), 40_000);
    assert_eq!(
        s.hosts.last().unwrap().address,
        Some(Ipv4Addr::new(10, 9, 9, 9))
    );
    assert!(!s
        .hosts
        .iter()
        .any(|h| h.address == Some(Ipv4Addr::new(10, 0, 0, 7))));
}
