//! Shared helpers for the integration tests: a bounded parser for the `KEY = VALUE`
//! vector files (NIST CAVP .fax, NSS, RUB-NDS, ike-scan). Corpus files are read with
//! `testkit::corpus`; and [`net`], the gateway-and-clients scenario harness on a virtual
//! clock.
#![allow(
    dead_code,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

pub mod capture;
pub mod events;
pub mod net;

/// Strict hex decoding with a useful panic message.
pub fn unhex(what: &str, s: &str) -> Vec<u8> {
    hex::decode(s.trim()).unwrap_or_else(|e| panic!("{what}: bad hex {s:?}: {e}"))
}

/// One run of `KEY = VALUE` lines.
#[derive(Debug, Clone)]
pub struct Block {
    /// 1-based line number of the first field.
    pub line: usize,
    /// The `[...]` section lines seen since the previous block (without brackets).
    pub sections: Vec<String>,
    /// Fields in file order.
    pub fields: Vec<(String, String)>,
}

impl Block {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A required field.
    pub fn field(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("block at line {}: missing {key}", self.line))
    }

    /// A required hex field, decoded.
    pub fn hex(&self, key: &str) -> Vec<u8> {
        unhex(&format!("line {} {key}", self.line), self.field(key))
    }

    /// A required 8-byte cookie.
    pub fn cookie(&self, key: &str) -> [u8; 8] {
        let v = self.hex(key);
        v.as_slice()
            .try_into()
            .unwrap_or_else(|_| panic!("line {} {key}: {} bytes, want 8", self.line, v.len()))
    }
}

/// Limits of the vector-file parser.
const MAX_LINES: usize = 200_000;
const MAX_LINE: usize = 16 * 1024;
const MAX_FIELDS: usize = 64;

/// Splits a vector file into blocks: a block is a run of `KEY = VALUE` lines; `#` comment
/// lines do not end a run, blank lines and `[section]` lines do. Section lines are
/// attached to the next block. CRLF line ends are accepted. Panics (test failure) on a
/// line that is none of these, or on input over the limits.
pub fn parse_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut sections = Vec::new();
    let mut cur: Option<Block> = None;
    for (n, raw) in text.lines().enumerate() {
        assert!(n < MAX_LINES, "more than {MAX_LINES} lines");
        let line = raw.trim_end_matches('\r').trim();
        assert!(
            line.len() <= MAX_LINE,
            "line {}: over {MAX_LINE} bytes",
            n + 1
        );
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() || line.starts_with('[') {
            if let Some(b) = cur.take() {
                blocks.push(b);
            }
            if let Some(inner) = line.strip_prefix('[') {
                // `[NAME]` or `[NAME] free text`: kept as "NAME" or "NAME free text".
                let (name, rest) = inner
                    .split_once(']')
                    .unwrap_or_else(|| panic!("line {}: unclosed section {line:?}", n + 1));
                let rest = rest.trim();
                sections.push(if rest.is_empty() {
                    name.to_string()
                } else {
                    format!("{name} {rest}")
                });
            }
            continue;
        }
        let (k, v) = line
            .split_once(" = ")
            .or_else(|| line.split_once('='))
            .unwrap_or_else(|| panic!("line {}: not KEY = VALUE: {line:?}", n + 1));
        let b = cur.get_or_insert_with(|| Block {
            line: n + 1,
            sections: std::mem::take(&mut sections),
            fields: Vec::new(),
        });
        assert!(
            b.fields.len() < MAX_FIELDS,
            "line {}: too many fields",
            n + 1
        );
        b.fields.push((k.trim().to_string(), v.trim().to_string()));
    }
    if let Some(b) = cur.take() {
        blocks.push(b);
    }
    blocks
}
