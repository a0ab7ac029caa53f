//! `pix-gateway dump` against the independent decoders and the whole corpus.
//!
//! The oracle is tshark 4.0.17's field output stored in
//! `../shared/corpus/tshark-oracle/*.tsv` (one row per ISAKMP message). For every
//! plaintext message all 21 columns must agree; for encrypted messages the header
//! columns must agree (their payload columns need the keys, which is `ike-sm`'s
//! business). Known tshark faults are listed below with the reason, and are the
//! only rows allowed to differ, and only in the way stated.
#![allow(clippy::disallowed_methods)] // real processes on the real clock

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use testkit::corpus::corpus_dir as corpus;

fn dump(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pix-gateway"))
        .arg("dump")
        .args(args)
        .output()
        .expect("run pix-gateway");
    let code = out.status.code().unwrap_or(-1);
    (
        code,
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rows(tsv: &str) -> BTreeMap<u64, Vec<String>> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let cols: Vec<String> = l.split('\t').map(str::to_owned).collect();
            assert_eq!(cols.len(), 21, "row with {} columns: {l}", cols.len());
            let frame = cols.first().and_then(|c| c.parse().ok());
            (
                frame.unwrap_or_else(|| panic!("no frame number: {l}")),
                cols,
            )
        })
        .collect()
}

/// Header columns: frame .. length.
const HEADER_COLS: usize = 10;
const TYPEPAYLOAD: usize = 10;
const PAYLOADLENGTH: usize = 11;

/// (oracle file, frame, why tshark differs). In these rows tshark stopped
/// early, so its payload-type and payload-length lists must be a strict prefix of
/// ours and every other column must agree.
const TSHARK_STOPS_EARLY: &[(&str, u64, &str)] = &[
    ("ISAKMP_sa_setup.tsv", 3, "tshark reads payload type 15 (early NAT-T drafts' NAT-D) as GDOI SAK and marks the frame malformed"),
    ("ISAKMP_sa_setup.tsv", 4, "same as frame 3"),
];

#[test]
fn tsv_agrees_with_tshark_on_every_oracle_capture() {
    let dir = corpus().join("tshark-oracle");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut compared_plain = 0;
    let mut compared_encrypted = 0;
    for oracle in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
    {
        let name = oracle.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(oracle).unwrap();
        // "# tshark 4.0.17 oracle for tcpdump/ISAKMP_sa_setup.pcap  (generated ..."
        let capture = text
            .lines()
            .next()
            .and_then(|l| l.split("oracle for ").nth(1))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name}: no capture named in the first line"));
        let decrypted = text
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("ikev1_decryption_table"));
        let theirs = rows(&text);
        let path = corpus().join(capture);
        let (code, out, err) = dump(&["--format", "tsv", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: dump failed: {err}");
        let ours = rows(&out);
        for (frame, t) in &theirs {
            let o = ours.get(frame).unwrap_or_else(|| {
                panic!("{name}: frame {frame} is in the oracle but not in our output")
            });
            let encrypted = u8::from_str_radix(t[7].trim_start_matches("0x"), 16).unwrap() & 1 == 1;
            assert_eq!(
                o[..HEADER_COLS],
                t[..HEADER_COLS],
                "{name} frame {frame}: header columns"
            );
            if encrypted {
                // Without keys we see ciphertext only; tshark's plain (non-decrypting) rows agree: empty.
                if !decrypted {
                    assert_eq!(
                        o[HEADER_COLS..],
                        t[HEADER_COLS..],
                        "{name} frame {frame}: encrypted message columns"
                    );
                }
                assert!(
                    o[HEADER_COLS..].iter().all(String::is_empty),
                    "{name} frame {frame}: we printed payloads of ciphertext"
                );
                compared_encrypted += 1;
                continue;
            }
            if let Some((_, _, why)) = TSHARK_STOPS_EARLY
                .iter()
                .find(|(f, n, _)| *f == name && n == frame)
            {
                for col in [TYPEPAYLOAD, PAYLOADLENGTH] {
                    assert!(
                        o[col].starts_with(t[col].as_str()) && o[col].len() > t[col].len(),
                        "{name} frame {frame} col {col}: expected ours ({}) to extend tshark's ({}) because {why}",
                        o[col],
                        t[col]
                    );
                }
                for col in (HEADER_COLS..21).filter(|c| *c != TYPEPAYLOAD && *c != PAYLOADLENGTH) {
                    assert_eq!(o[col], t[col], "{name} frame {frame} col {col}");
                }
            } else {
                assert_eq!(o, t, "{name} frame {frame}: all columns");
            }
            compared_plain += 1;
        }
        // And we found no ISAKMP message tshark did not.
        for frame in ours.keys() {
            assert!(
                theirs.contains_key(frame),
                "{name}: we report frame {frame}, tshark does not"
            );
        }
    }
    // 13 oracle files; the exact count guards against a silently shrinking comparison.
    assert_eq!(
        (compared_plain, compared_encrypted),
        (26, 40),
        "rows compared (plaintext, encrypted)"
    );
}

/// Captures the corpus marks as fuzzed or malformed: each must yield at least one
/// reported error (or a runt), and none may crash the dumper.
const MALFORMED: &[&str] = &[
    "tcpdump/isakmp-delete-segfault.pcap",
    "tcpdump/isakmp-pointer-loop.pcap",
    "tcpdump/isakmp-no-none-np.pcapng",
    "tcpdump/isakmpv1-attr-oobr.pcap",
    "tcpdump/isakmp-ikev1_n_print-oobr.pcap",
    "tcpdump/ikev1_id_ipv6_addr_subnet-oobr.pcap",
    "tcpdump/isakmp-various-oobr.pcap",
    "tcpdump/isakmp-3948-oobr-2.pcap",
    "tcpdump/esp_truncated.pcap",
    "tcpdump/ikev2four.pcap",
    "zeek-spicy-ipsec/traces/ipsec-ikev1-payload-bad-length.pcap",
    "zeek-spicy-ipsec/traces/ipsec-ikev1-zero-length.pcap",
];

#[test]
fn every_capture_in_the_corpus_dumps_without_crashing() {
    let mut captures = Vec::new();
    let mut stack = vec![corpus()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
            {
                captures.push(p);
            }
        }
    }
    captures.sort();
    assert!(
        captures.len() >= 30,
        "found only {} captures",
        captures.len()
    );
    for cap in &captures {
        let rel = cap
            .strip_prefix(corpus())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        for format in ["text", "tsv", "json"] {
            let (code, out, err) = dump(&["--all", "--format", format, cap.to_str().unwrap()]);
            assert!(
                code == 0 || code == 1,
                "{rel} ({format}): exit {code}: {err}"
            );
            if format == "json" {
                for line in out.lines() {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("{rel}: bad JSON {e}: {line}"));
                    assert!(v.get("frame").is_some(), "{rel}: JSON line without frame");
                }
            }
        }
        let (_, out, err) = dump(&["--all", "--format", "json", cap.to_str().unwrap()]);
        if MALFORMED.contains(&rel.as_str()) {
            let flagged = out
                .lines()
                .any(|l| l.contains("\"error\"") || l.contains("\"runt\""))
                || err.contains("damaged");
            assert!(
                flagged,
                "{rel}: a malformed capture produced no error: {out}"
            );
        }
    }
}

#[test]
fn main_job_dumps_the_bundled_capture() {
    let (code, out, err) = dump(&[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // 15 ISAKMP messages: MM1-MM6, 8 Quick Mode messages and one Informational (tshark agrees).
    assert_eq!(lines.len(), 15, "{out}");
    assert!(
        lines[0].contains("Identity Protection (Main Mode)") && lines[0].contains("SA(doi=IPSEC"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("VID(RFC 3947 Negotiation of NAT-Traversal in the IKE)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[2].contains("KE(192 bytes) NONCE(16 bytes) NAT-D(16 bytes) NAT-D(16 bytes)"),
        "{}",
        lines[2]
    );
    assert!(
        lines[4].contains("192.1.2.254:4500 > 192.1.2.23:4500")
            && lines[4].ends_with("[encrypted]"),
        "{}",
        lines[4]
    );
    assert!(
        lines[14].contains("Informational") && lines[14].contains("msgid=02bdc64f"),
        "{}",
        lines[14]
    );
    let (_, all, _) = dump(&["--all"]);
    assert_eq!(
        all.lines().filter(|l| l.contains("nat-keepalive")).count(),
        4,
        "{all}"
    );
    assert!(all.lines().any(|l| l.contains("esp-in-udp")), "{all}");
}

#[test]
fn text_rendering_of_aggressive_mode_is_stable() {
    let cap = corpus().join("zeek-spicy-ipsec/traces/ipsec-ikev1-isakmp-aggressive-mode.pcap");
    let (code, out, err) = dump(&[cap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/dump-aggressive-mode.txt");
    testkit::snapshot::check(&snapshot, "dump-aggressive-mode.txt", &out);
}

#[test]
fn missing_file_is_one_clear_line() {
    let (code, out, err) = dump(&["/nonexistent/file.pcap"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read /nonexistent/file.pcap"), "{err}");
}
