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
pub(crate) fn tokenize<'a>(line: &'a str, out: &mut Vec<Tok<'a>>) {
    out.clear();
    let bytes = line.as_bytes();
    let mut i = 0usize;
    let n = bytes.len();
    while i < n {
        while i < n && bytes.get(i).is_some_and(|b| is_blank_byte(*b)) {
            i = i.saturating_add(1);
        }
        let start = i;
        while i < n && bytes.get(i).is_some_and(|b| !is_blank_byte(*b)) {
            i = i.saturating_add(1);
        }
        if i > start {
            if let Some(text) = line.get(start..i) {
                out.push(Tok { text, start });
            }
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
    pub(crate) error: ConfigError,
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
    pub(crate) fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).map(|t| t.text)
    }

    /// The token `n` places ahead.
    pub(crate) fn peek_at(&self, n: usize) -> Option<&'a str> {
        self.toks.get(self.pos.saturating_add(n)).map(|t| t.text)
    }

    /// True when the current token is `kw` (ASCII case-insensitive).
    pub(crate) fn at(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.eq_ignore_ascii_case(kw))
    }

    /// Advance one token.
    pub(crate) fn bump(&mut self) {
        if self.pos < self.toks.len() {
            self.pos = self.pos.saturating_add(1);
        }
    }

    /// Consume `kw` if it is next.
    pub(crate) fn eat(&mut self, kw: &str) -> bool {
        if self.at(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// True when all tokens are consumed.
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// An error at the current token (or at end of line).
    pub(crate) fn err(&self, error: ConfigError) -> PErr {
        match self.toks.get(self.pos) {
            Some(t) => PErr {
                start: t.start,
                len: t.text.len(),
                error,
            },
            None => PErr {
                start: trim_blank_end(self.line).len(),
                len: 0,
                error,
            },
        }
    }

    /// An error at the previous token.
    pub(crate) fn err_prev(&self, error: ConfigError) -> PErr {
        match self.pos.checked_sub(1).and_then(|p| self.toks.get(p)) {
            Some(t) => PErr {
                start: t.start,
                len: t.text.len(),
                error,
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
}

/// Strict dotted-quad parse (no leading `+`, four parts).
pub(crate) fn parse_ip(t: &str) -> Option<Ipv4Addr> {
    if t.is_empty() || !t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    t.parse().ok()
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
    fn netmasks() {
        assert!(is_netmask("255.255.255.0".parse().unwrap()));
        assert!(is_netmask("0.0.0.0".parse().unwrap()));
        assert!(is_netmask("255.255.255.255".parse().unwrap()));
        assert!(!is_netmask("0.0.0.255".parse().unwrap()));
        assert!(!is_netmask("255.0.255.0".parse().unwrap()));
    }
}
