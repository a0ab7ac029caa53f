//! Real, sanitized PIX 6.x `show run` dumps (`tests/configs/real/`, sources and
//! licences in its SOURCES.md): the lenient parse gives a model with no error and
//! exactly the expected warnings; `--strict` makes every one of them a located error;
//! the printed model parses back to the same model, and every line kept verbatim is
//! printed back unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use common::config_file;
use pix_config::{parse, parse_with, Command, ParseOptions, Severity};

struct Dump {
    file: &'static str,
    /// (line, column, a fragment of the message) of every warning but the
    /// `example8-*` unknown commands (the sanitizer's damage), in line order.
    warnings: &'static [(u32, u32, &'static str)],
    /// How many `example8-*` lines (counted in the file too).
    example8: usize,
}

const REDACTED: &str = "is redacted (\"XXXXXXXXXXXX\")";

const DUMPS: &[Dump] = &[
    Dump {
        file: "01-ziptie-pix501-6.1.cfg",
        warnings: &[],
        example8: 0,
    },
    Dump {
        file: "02-pix2asa-515-fo-6.3.5.cfg",
        warnings: &[(8, 17, REDACTED), (9, 8, REDACTED), (70, 25, REDACTED)],
        example8: 0,
    },
    Dump {
        file: "03-pix2asa-pix501-2003aug13-6.3.1.cfg",
        warnings: &[(8, 17, REDACTED), (9, 8, REDACTED)],
        example8: 0,
    },
    Dump {
        file: "04-pix2asa-pix501-2003sep24-6.3.1.cfg",
        warnings: &[
            (8, 17, REDACTED),
            (9, 8, REDACTED),
            (14, 16, "`fixup protocol domain` is the PIX 6.2 spelling"),
            (138, 1, "unknown or unsupported command `management-access`"),
            (145, 26, "the password hash of user user10 is redacted"),
        ],
        example8: 0,
    },
    Dump {
        file: "05-pix2asa-pix535-trunk-6.3.5.cfg",
        warnings: &[
            (19, 17, REDACTED),
            (20, 8, REDACTED),
            (309, 9, "unknown logging option \"user3\""),
            (329, 1, "unknown or unsupported command `no ip`"),
            (332, 1, "unknown or unsupported command `no ip`"),
            (353, 44, "route metric 254"),
        ],
        example8: 5,
    },
    Dump {
        file: "06-pix2asa-pix38-6.3.3.cfg",
        warnings: &[
            (20, 17, REDACTED),
            (21, 8, REDACTED),
            (193, 29, "found the address 198.51.100.133"),
            (821, 29, "found the address 198.51.100.133"),
            (1419, 29, "found the address 198.51.100.133"),
            (1423, 29, "found the address 192.0.2.77"),
        ],
        example8: 743,
    },
    Dump {
        file: "07-ziptie-pix501-6.1-startup.cfg",
        warnings: &[],
        example8: 0,
    },
    Dump {
        file: "08-pix2asa-pix535-6.x.cfg",
        warnings: &[
            (12, 17, REDACTED),
            (13, 8, REDACTED),
            (88, 1, "unknown or unsupported command `url-block`"),
        ],
        example8: 2,
    },
];

fn text(d: &Dump) -> String {
    config_file(&format!("real/{}", d.file))
}

#[test]
fn lenient_parse_gives_a_model_and_exactly_the_expected_warnings() {
    for d in DUMPS {
        let src = text(d);
        let out = parse(&src);
        let errors: Vec<_> = out.diagnostics.iter().filter(|x| x.is_error()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", d.file);
        assert!(out.config.commands.len() > 50, "{}", d.file);
        let warnings: Vec<_> = out
            .diagnostics
            .iter()
            .filter(|x| x.severity == Severity::Warning)
            .collect();
        let (damage, other): (Vec<&pix_config::Diagnostic>, Vec<&pix_config::Diagnostic>) =
            warnings
                .iter()
                .copied()
                .partition(|w| w.message.contains("command `example8-"));
        let got: Vec<(u32, u32)> = other.iter().map(|w| (w.line, w.column)).collect();
        let want: Vec<(u32, u32)> = d.warnings.iter().map(|w| (w.0, w.1)).collect();
        assert_eq!(got, want, "{}: {other:#?}", d.file);
        for (w, (_, _, fragment)) in other.iter().zip(d.warnings) {
            assert!(w.message.contains(fragment), "{}: {}", d.file, w.message);
        }
        // the sanitizer's `example8-list` / `example8-group` lines: one warning each
        let damaged = src
            .lines()
            .filter(|l| l.trim_start().starts_with("example8-"))
            .count();
        assert_eq!(damage.len(), damaged, "{}", d.file);
        assert_eq!(damaged, d.example8, "{}", d.file);
        assert_eq!(out.warning_count(), d.warnings.len() + d.example8);
        // secrets never appear in a message (the redaction itself may)
        assert!(warnings.iter().all(|w| w.line > 0 && w.column > 0));
    }
}

#[test]
fn strict_turns_every_warning_into_a_located_error() {
    let strict = ParseOptions {
        strict: true,
        secrets: None,
    };
    for d in DUMPS {
        let src = text(d);
        let lenient = parse(&src);
        let out = parse_with(&src, &strict);
        let at = |s: Severity, o: &pix_config::ParseOutcome| -> Vec<(u32, u32)> {
            o.diagnostics
                .iter()
                .filter(|x| x.severity == s)
                .map(|x| (x.line, x.column))
                .collect()
        };
        assert_eq!(
            at(Severity::Error, &out),
            at(Severity::Warning, &lenient),
            "{}",
            d.file
        );
        assert_eq!(out.warning_count(), 0, "{}", d.file);
        assert_eq!(
            out.has_errors(),
            !d.warnings.is_empty() || d.example8 > 0,
            "{}",
            d.file
        );
    }
}

#[test]
fn printed_model_parses_back_and_verbatim_lines_come_back_unchanged() {
    for d in DUMPS {
        let src = text(d);
        let m = parse(&src).config;
        let printed = m.to_pix_string();
        let again = parse(&printed);
        assert_eq!(again.config, m, "{}", d.file);
        assert_eq!(again.error_count(), 0, "{}", d.file);
        assert_eq!(again.config.to_pix_string(), printed, "{}", d.file);
        let printed_lines: std::collections::HashSet<&str> = printed.lines().collect();
        let mut verbatim = 0;
        for c in &m.commands {
            if let Command::Unknown(t) = &c.value {
                verbatim += 1;
                // the source line, without its trailing blanks
                let source = src.lines().nth(c.line as usize - 1).unwrap();
                assert_eq!(t, source.trim(), "{}:{}", d.file, c.line);
                assert!(printed_lines.contains(t.as_str()), "{}: {t}", d.file);
            }
        }
        let expected_verbatim = d
            .warnings
            .iter()
            .filter(|w| !w.2.contains("redacted"))
            .count()
            + d.example8;
        assert_eq!(verbatim, expected_verbatim, "{}", d.file);
        // redacted hashes print back as written, and verify nothing
        for line in src.lines().filter(|l| l.contains("XXXXXXXXXXXX encrypted")) {
            assert!(
                printed_lines.contains(line.trim_end()),
                "{}: {line}",
                d.file
            );
        }
    }
}

#[test]
fn redacted_hashes_read_as_masked() {
    let src = text(&DUMPS[1]);
    let m = parse(&src).config;
    let mut seen = 0;
    for (_, c) in m.iter() {
        let p = match c {
            Command::EnablePassword(e) => &e.password,
            Command::Passwd(p) => &p.password,
            Command::Username(u) => u.password.as_ref().unwrap(),
            _ => continue,
        };
        seen += 1;
        match p {
            pix_config::passwords::Password::Encrypted(h) => {
                assert!(h.is_redacted());
                assert!(!p.verify("") && !p.verify("cisco") && !p.verify("XXXXXXXXXXXX"));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, 3);
}

#[test]
fn logging_of_a_real_dump_resolves() {
    // 06: `logging on`, timestamp, buffered/trap warnings, queue 1024, one host,
    // five disabled message ids
    let m = parse(&text(&DUMPS[5])).config;
    let s = m.logging();
    assert!(s.enabled && s.timestamp);
    assert_eq!(s.trap, Some(pix_config::logging::LogLevel::Warnings));
    assert_eq!(s.buffered, Some(pix_config::logging::LogLevel::Warnings));
    assert_eq!(s.queue, 1024);
    assert_eq!(s.hosts.len(), 1);
    assert_eq!(s.hosts[0].address, Some("10.0.1.1".parse().unwrap()));
    assert_eq!(s.hosts[0].port, 514);
    assert_eq!(s.disabled, vec![106011, 108002, 305005, 305006, 313001]);
    assert_eq!(m.mtu("inside"), 1500);
    assert_eq!(m.tcp_mss().maximum, Some(1380));
}

#[test]
fn redacted_secret_in_a_short_config() {
    // the reproduction
    let src = "PIX Version 6.3(5)\nenable password XXXXXXXXXXXX encrypted\npasswd XXXXXXXXXXXX encrypted\nhostname pix\nfixup protocol domain 53\nroute outside 0.0.0.0 0.0.0.0 1.2.3.4 254\n";
    let out = parse(src);
    assert_eq!(out.error_count(), 0, "{:#?}", out.diagnostics);
    assert_eq!(out.warning_count(), 4);
    // the model still lacks the unrepresentable lines (kept verbatim)
    assert_eq!(out.config.routes().count(), 0);
    assert!(out
        .config
        .to_pix_string()
        .contains("route outside 0.0.0.0 0.0.0.0 1.2.3.4 254\n"));
    // real breakage stays an error: a hash of the wrong shape that is not a redaction
    let bad =
        parse("enable password XXXXyyyy encrypted\nroute outside 0.0.0.0 0.0.0.0 1.2.3.4 0\n");
    assert_eq!(bad.error_count(), 2, "{:#?}", bad.diagnostics);
}

#[test]
fn dump_framing_is_skipped_with_notes() {
    // `Building configuration...` / `[OK]` (01), prompts at both ends (05), a prompt
    // and no `: end` (07): notes, never warnings, and not in the model
    for (i, want) in [
        (0, vec![(1, "Building configuration..."), (138, "[OK]")]),
        (
            4,
            vec![(1, "firewall# show run"), (383, "firewall(config)#")],
        ),
        (6, vec![(136, "pix-501#")]),
    ] {
        let d = &DUMPS[i];
        let out = parse(&text(d));
        let notes: Vec<(u32, String)> = out
            .diagnostics
            .iter()
            .filter_map(|x| match &x.error {
                pix_config::ConfigError::NoiseSkipped { text } => Some((x.line, text.clone())),
                _ => None,
            })
            .collect();
        let want: Vec<(u32, String)> = want.iter().map(|(l, t)| (*l, t.to_string())).collect();
        assert_eq!(notes, want, "{}", d.file);
        assert!(!out
            .config
            .to_pix_string()
            .lines()
            .any(|l| want.iter().any(|(_, t)| t == l)));
    }
}
