//! Lines and tokens: the input is split into lines, each line into whitespace
//! separated tokens that borrow from the input (no allocation per token).
//! The [`Cur`] cursor is what every command parser reads from.

use std::net::Ipv4Addr;

use crate::error::ConfigError;
use crate::ident::Ident;
use crate::model::AddrTok;

/// A token: its text and byte offset within its line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok<'a> {
    pub(crate) text: &'a str,
    pub(crate) start: usize,
}

/// The token separators: ASCII whitespace and vertical tab. Every trim in the parser
/// uses the same set, so text kept verbatim re-tokenizes the same way.
#[inline]
pub(crate) fn is_blank_byte(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

/// [`is_blank_byte`] for chars.
pub(crate) fn is_blank(c: char) -> bool {
    c.is_ascii() && is_blank_byte(c as u8)
}

/// Trim separators from both ends.
pub(crate) fn trim_blank(s: &str) -> &str {
    s.trim_matches(is_blank)
}

/// Trim separators from the start.
pub(crate) fn trim_blank_start(s: &str) -> &str {
    s.trim_start_matches(is_blank)
}

/// Trim separators from the end.
pub(crate) fn trim_blank_end(s: &str) -> &str {
    s.trim_end_matches(is_blank)
}

/// Split a line into tokens (separated by [`is_blank_byte`]), reusing `out`.
#[inline]
pub(crate) fn tokenize<'a>(line: &'a str, out: &mut Vec<Tok<'a>>) {
    out.clear();
    let bytes = line.as_bytes();
    let mut i = 0usize;
    loop {
        // (`i` < `bytes.len()` while it is advanced: no overflow)
        while bytes.get(i).is_some_and(|&b| is_blank_byte(b)) {
            i = i.wrapping_add(1);
        }
        if i >= bytes.len() {
            return;
        }
        let start = i;
        while bytes.get(i).is_some_and(|&b| !is_blank_byte(b)) {
            i = i.wrapping_add(1);
        }
        // (a token starts and ends at ASCII bytes or the line's ends: char boundaries)
        if let Some(text) = line.get(start..i) {
            out.push(Tok { text, start });
        }
    }
}

/// The index of the first blank byte at or after `i` (or the length): eight bytes at a
/// time. `x - 0x21…21 & !x & 0x80…80` flags the bytes below 0x21 (the blanks and the
/// other controls; a byte with its high bit set never), the lowest flag exactly (a
/// borrow can only make a false flag above a true one).
#[inline]
fn token_end(bytes: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x2121_2121_2121_2121;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(w) = bytes
        .get(i..i.saturating_add(8))
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
    {
        let x = u64::from_le_bytes(w);
        let m = x.wrapping_sub(LO) & !x & HI;
        if m == 0 {
            i = i.wrapping_add(8);
            continue;
        }
        // (trailing_zeros of a non-zero u64 is below 64: the byte is within `w`)
        let j = i.wrapping_add((m.trailing_zeros() / 8) as usize);
        match bytes.get(j) {
            Some(&b) if is_blank_byte(b) => return j,
            // a control byte that is not a separator: part of the token
            Some(_) => i = j.wrapping_add(1),
            None => return bytes.len(),
        }
    }
    while bytes.get(i).is_some_and(|&b| !is_blank_byte(b)) {
        i = i.wrapping_add(1);
    }
    i
}

/// [`tokenize`] the piece of `text` from byte `from` to the next `\n` (or the end),
/// with offsets relative to `from`; returns the index of that `\n`, if any.
#[inline]
pub(crate) fn tokenize_piece<'a>(
    text: &'a str,
    from: usize,
    out: &mut Vec<Tok<'a>>,
) -> Option<usize> {
    out.clear();
    let bytes = text.as_bytes();
    let mut i = from;
    loop {
        // (`i` < `bytes.len()` while it is advanced: no overflow)
        while let Some(&b) = bytes.get(i) {
            if b == b'\n' {
                return Some(i);
            }
            if !is_blank_byte(b) {
                break;
            }
            i = i.wrapping_add(1);
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        i = token_end(bytes, i);
        // (a token starts after a blank, a `\n` or at `from`, and ends at a blank or
        // the end: char boundaries)
        if let Some(t) = text.get(start..i) {
            out.push(Tok {
                text: t,
                start: start.wrapping_sub(from),
            });
        }
    }
}

/// A parse failure (or warning) inside one line, before it becomes a diagnostic.
#[derive(Debug)]
pub(crate) struct PErr {
    /// Byte offset in the line.
    pub(crate) start: usize,
    /// Byte length of the offending token (0 at end of line).
    pub(crate) len: usize,
    /// Boxed: every parse function returns `Result<_, PErr>`, and the success path
    /// (nearly every line) should not carry an 80-byte error's room around.
    pub(crate) error: Box<ConfigError>,
    /// Something a real (sanitized, or other-release) dump says that the model cannot
    /// represent, not a broken configuration: a warning unless `--strict` (as an error
    /// the line is kept verbatim; as a warning in `Cur::warnings` the model keeps it).
    pub(crate) soft: bool,
}

impl PErr {
    /// The same diagnostic, lenient-only ([`PErr::soft`]).
    pub(crate) fn soft(mut self) -> PErr {
        self.soft = true;
        self
    }
}

/// Cursor over the tokens of one line.
pub(crate) struct Cur<'t, 'a> {
    pub(crate) line: &'a str,
    toks: &'t [Tok<'a>],
    pos: usize,
    /// Warnings raised while parsing this line (port abbreviations, ...).
    pub(crate) warnings: Vec<PErr>,
}

impl<'t, 'a> Cur<'t, 'a> {
    pub(crate) fn new(line: &'a str, toks: &'t [Tok<'a>]) -> Self {
        Cur {
            line,
            toks,
            pos: 0,
            warnings: Vec::new(),
        }
    }

    /// The current token text.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).map(|t| t.text)
    }

    /// The token `n` places ahead.
    #[inline]
    pub(crate) fn peek_at(&self, n: usize) -> Option<&'a str> {
        self.toks.get(self.pos.saturating_add(n)).map(|t| t.text)
    }

    /// True when the current token is `kw` (ASCII case-insensitive).
    #[inline]
    pub(crate) fn at(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.eq_ignore_ascii_case(kw))
    }

    /// Advance one token.
    #[inline]
    pub(crate) fn bump(&mut self) {
        if self.pos < self.toks.len() {
            self.pos = self.pos.saturating_add(1);
        }
    }

    /// Consume `kw` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, kw: &str) -> bool {
        if self.at(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// True when all tokens are consumed.
    #[inline]
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// An error at the current token (or at end of line).
    pub(crate) fn err(&self, error: ConfigError) -> PErr {
        match self.toks.get(self.pos) {
            Some(t) => PErr {
                start: t.start,
                len: t.text.len(),
                error: Box::new(error),
                soft: false,
            },
            None => PErr {
                start: trim_blank_end(self.line).len(),
                len: 0,
                error: Box::new(error),
                soft: false,
            },
        }
    }

    /// An error at the previous token.
    pub(crate) fn err_prev(&self, error: ConfigError) -> PErr {
        match self.pos.checked_sub(1).and_then(|p| self.toks.get(p)) {
            Some(t) => PErr {
                start: t.start,
                len: t.text.len(),
                error: Box::new(error),
                soft: false,
            },
            None => self.err(error),
        }
    }

    /// `expected X, found <current token>`.
    pub(crate) fn expected(&self, what: impl Into<String>) -> PErr {
        self.err(ConfigError::Expected {
            expected: what.into(),
            found: self.peek().map(str::to_owned),
        })
    }

    /// Consume a keyword or fail.
    pub(crate) fn expect_kw(&mut self, kw: &'static str) -> Result<(), PErr> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(self.expected(format!("`{kw}`")))
        }
    }

    /// Consume any token.
    #[inline]
    pub(crate) fn word(&mut self, what: &str) -> Result<&'a str, PErr> {
        match self.peek() {
            Some(t) => {
                self.bump();
                Ok(t)
            }
            None => Err(self.expected(what)),
        }
    }

    /// Consume a name (something that must not be empty; any characters but blanks).
    pub(crate) fn name(&mut self, what: &str) -> Result<String, PErr> {
        self.word(what).map(str::to_owned)
    }

    /// Consume a name as an [`Ident`] (inline when short: no allocation).
    #[inline]
    pub(crate) fn ident(&mut self, what: &str) -> Result<Ident, PErr> {
        self.word(what).map(Ident::new)
    }

    /// Consume an IPv4 address literal.
    pub(crate) fn ip(&mut self, what: &str) -> Result<Ipv4Addr, PErr> {
        match self.peek().and_then(parse_ip) {
            Some(ip) => {
                self.bump();
                Ok(ip)
            }
            None => Err(self.expected(what)),
        }
    }

    /// Consume an address: a literal or a `name` (resolved in the second pass).
    pub(crate) fn addr(&mut self, what: &str) -> Result<AddrTok, PErr> {
        let Some(t) = self.peek() else {
            return Err(self.expected(what));
        };
        if let Some(ip) = parse_ip(t) {
            self.bump();
            return Ok(AddrTok::Ip(ip));
        }
        if is_name_token(t) {
            self.bump();
            return Ok(AddrTok::Name(Ident::new(t)));
        }
        Err(self.expected(what))
    }

    /// Consume a netmask that follows `after` (an address, for the message).
    pub(crate) fn mask(&mut self, after: &dyn core::fmt::Display) -> Result<Ipv4Addr, PErr> {
        let Some(t) = self.peek() else {
            return Err(self.expected(format!("a netmask after {after}")));
        };
        let Some(m) = parse_ip(t) else {
            return Err(self.expected(format!("a netmask after {after}")));
        };
        if !is_netmask(m) {
            let inv = Ipv4Addr::from(!u32::from(m));
            let hint = is_netmask(inv).then(|| inv.to_string());
            // An address where the netmask belongs (first octet neither 0 nor 255, and
            // not a wildcard mask): what an address anonymizer leaves behind when it
            // rewrites a netmask as if it were an address. Not modelled, not broken.
            let first = m.octets()[0];
            if hint.is_none() && first != 0 && first != 255 {
                return Err(self
                    .err(ConfigError::AddressForNetmask {
                        found: t.to_owned(),
                        after: after.to_string(),
                    })
                    .soft());
            }
            return Err(self.err(ConfigError::NotANetmask {
                mask: t.to_owned(),
                hint,
            }));
        }
        self.bump();
        Ok(m)
    }

    /// Consume an unsigned number in `min..=max`.
    pub(crate) fn num(&mut self, what: &'static str, min: u64, max: u64) -> Result<u64, PErr> {
        let Some(t) = self.peek() else {
            return Err(self.expected(what));
        };
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.expected(what));
        }
        match t.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => {
                self.bump();
                Ok(v)
            }
            _ => Err(self.err(ConfigError::OutOfRange {
                what,
                value: t.to_owned(),
                min,
                max,
            })),
        }
    }

    /// `num` narrowed to u32.
    pub(crate) fn u32(&mut self, what: &'static str, min: u32, max: u32) -> Result<u32, PErr> {
        let v = self.num(what, u64::from(min), u64::from(max))?;
        Ok(u32::try_from(v).unwrap_or(max))
    }

    /// `num` narrowed to u16.
    pub(crate) fn u16(&mut self, what: &'static str, min: u16, max: u16) -> Result<u16, PErr> {
        let v = self.num(what, u64::from(min), u64::from(max))?;
        Ok(u16::try_from(v).unwrap_or(max))
    }

    /// `num` narrowed to u8.
    pub(crate) fn u8(&mut self, what: &'static str, min: u8, max: u8) -> Result<u8, PErr> {
        let v = self.num(what, u64::from(min), u64::from(max))?;
        Ok(u8::try_from(v).unwrap_or(max))
    }

    /// The rest of the line from the current token on, trimmed; consumes it all.
    pub(crate) fn rest(&mut self) -> &'a str {
        let s = match self.toks.get(self.pos) {
            Some(t) => trim_blank_end(self.line.get(t.start..).unwrap_or("")),
            None => "",
        };
        self.pos = self.toks.len();
        s
    }

    /// The remaining tokens joined by one space; consumes them.
    pub(crate) fn rest_tokens(&mut self) -> Vec<String> {
        let v = self
            .toks
            .get(self.pos..)
            .unwrap_or(&[])
            .iter()
            .map(|t| t.text.to_owned())
            .collect();
        self.pos = self.toks.len();
        v
    }

    /// Fail if tokens remain.
    pub(crate) fn finish(&self, command: &'static str) -> Result<(), PErr> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(self.err(ConfigError::Trailing {
                command,
                found: t.to_owned(),
            })),
        }
    }

    /// Record a warning at the previous token.
    pub(crate) fn warn_prev(&mut self, error: ConfigError) {
        let e = self.err_prev(error);
        self.warnings.push(e);
    }

    /// Record a lenient-only warning at the token whose text is `text` (the same
    /// `&str`, found by address), or at the previous token.
    pub(crate) fn soft_warn_at_token(&mut self, text: &str, error: ConfigError) {
        let e = match self.toks.iter().find(|t| core::ptr::eq(t.text, text)) {
            Some(t) => PErr {
                start: t.start,
                len: t.text.len(),
                error: Box::new(error),
                soft: true,
            },
            None => self.err_prev(error).soft(),
        };
        self.warnings.push(e);
    }
}

/// Strict dotted-quad parse (no leading `+`, four parts): what `Ipv4Addr::from_str`
/// accepts (1 to 3 digits per part, no leading zero, at most 255), without its
/// general-purpose parser (it was 4% of a parse).
pub(crate) fn parse_ip(t: &str) -> Option<Ipv4Addr> {
    let b = t.as_bytes();
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u16::from(c.wrapping_sub(b'0')))
    };
    let mut octets = [0u8; 4];
    let mut i = 0usize; // (at most 15: no overflow below)
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i = i.wrapping_add(1);
        }
        let d0 = digit(i)?;
        i = i.wrapping_add(1);
        let mut v = d0;
        if let Some(d1) = digit(i) {
            if d0 == 0 {
                return None; // leading zero
            }
            v = v.wrapping_mul(10).wrapping_add(d1);
            i = i.wrapping_add(1);
            if let Some(d2) = digit(i) {
                v = v.wrapping_mul(10).wrapping_add(d2);
                i = i.wrapping_add(1);
            }
        }
        *octet = u8::try_from(v).ok()?;
    }
    (i == b.len()).then(|| Ipv4Addr::from(octets))
}

/// A `name`-like token: starts with a letter.
pub(crate) fn is_name_token(t: &str) -> bool {
    t.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}

/// Ones then zeros.
pub(crate) fn is_netmask(m: Ipv4Addr) -> bool {
    let v = u32::from(m);
    v.leading_ones().saturating_add(v.trailing_zeros()) == 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_borrow_and_keep_offsets() {
        let mut v = Vec::new();
        tokenize("  access-list  101 permit\tip ", &mut v);
        let t: Vec<_> = v.iter().map(|t| (t.text, t.start)).collect();
        assert_eq!(
            t,
            vec![("access-list", 2), ("101", 15), ("permit", 19), ("ip", 26)]
        );
    }

    #[test]
    fn parse_ip_agrees_with_std() {
        let mut cases: Vec<String> = [
            "",
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "10.0.0.1",
            "+1.2.3.4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4.",
            "1000.1.1.1",
            "1.2.3.255",
            "1.2.3.256",
            "0.00.0.0",
            "9.9.9.9",
            "99.99.99.99",
            "199.199.199.199",
            "1.2.3.a",
            "1.2.3.-1",
            "1.2.3.4x",
            "123.123.123.1234",
            "0x1.2.3.4",
            "1.2.3.4/24",
            "\u{661}.2.3.4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // every part of 0..=3 chars over a small alphabet, in every position
        let alphabet = [
            "", "0", "1", "00", "01", "10", "25", "255", "256", "099", "999", "x",
        ];
        for a in alphabet {
            for b in alphabet {
                cases.push(format!("{a}.{b}.1.1"));
                cases.push(format!("1.{a}.2.{b}"));
                cases.push(format!("1.1.{a}{b}.1"));
            }
        }
        for c in &cases {
            let std = if c.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                c.parse::<Ipv4Addr>().ok()
            } else {
                None
            };
            assert_eq!(parse_ip(c), std, "{c:?}");
        }
    }

    #[test]
    fn token_end_finds_the_first_blank() {
        let slow = |b: &[u8], i: usize| {
            (i..b.len())
                .find(|&j| is_blank_byte(b[j]))
                .unwrap_or(b.len())
        };
        let alphabet = [
            b'a', b' ', b'\t', b'\x0b', b'\x01', b'\x1f', 0x20, 0x21, 0x80, 0xff, b'\n', b'\r', 0,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..40 {
            for _ in 0..200 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for i in 0..=len {
                    assert_eq!(token_end(&v, i), slow(&v, i), "{v:?} from {i}");
                }
            }
        }
    }

    #[test]
    fn pieces_tokenize_like_lines() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "  access-list  101 permit\tip \r\n\nname 1.2.3.4 x\n  \n\x0bz\x0c\n",
            "é ü\nß",
        ] {
            let mut want = Vec::new();
            for line in text.split('\n') {
                let mut v = Vec::new();
                tokenize(line, &mut v);
                want.push(v.iter().map(|t| (t.text, t.start)).collect::<Vec<_>>());
            }
            let mut got = Vec::new();
            let mut next = Some(0);
            let mut v = Vec::new();
            while let Some(from) = next {
                let nl = tokenize_piece(text, from, &mut v);
                got.push(v.iter().map(|t| (t.text, t.start)).collect::<Vec<_>>());
                next = nl.map(|i| i + 1);
            }
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn netmasks() {
        assert!(is_netmask("255.255.255.0".parse().unwrap()));
        assert!(is_netmask("0.0.0.0".parse().unwrap()));
        assert!(is_netmask("255.255.255.255".parse().unwrap()));
        assert!(!is_netmask("0.0.0.255".parse().unwrap()));
        assert!(!is_netmask("255.0.255.0".parse().unwrap()));
    }
}
