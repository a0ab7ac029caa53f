//! `[no] fixup protocol ...` and `[no] sysopt ...`.

use std::fmt::Write as _;

use crate::error::ConfigError;
use crate::lexer::{Cur, PErr};

/// `[no] fixup protocol NAME [QUALIFIER] [PORT[-PORT]] [maximum-length N]`
///
/// Covers every 6.3 form: `fixup protocol ftp [strict] 21`, `fixup protocol h323
/// h225 1720`, `fixup protocol h323 ras 1718-1719`, `fixup protocol sip udp 5060`,
/// `fixup protocol dns maximum-length 512`, `fixup protocol icmp error`,
/// `fixup protocol esp-ike`, `fixup protocol snmp 161-162`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixup {
    /// False for `no fixup ...`.
    pub enabled: bool,
    /// The protocol (`ftp`, `h323`, `sip`, ...).
    pub protocol: String,
    /// A qualifier word (`strict`, `h225`, `ras`, `udp`, `error`), if any.
    pub qualifier: Option<String>,
    /// Port or port range, if any.
    pub ports: Option<(u16, u16)>,
    /// `maximum-length N` (dns), if any.
    pub maximum_length: Option<u16>,
}

const PROTOCOLS: &[&str] = &[
    "ctiqbe", "dns", "esp-ike", "ftp", "h323", "http", "icmp", "ils", "mgcp", "pptp", "rsh",
    "rtsp", "sip", "skinny", "smtp", "snmp", "sqlnet", "tftp", "xdmcp",
];

fn parse_range(t: &str) -> Option<(u16, u16)> {
    let (a, b) = t.split_once('-').unwrap_or((t, t));
    let (a, b) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
    (a <= b).then_some((a, b))
}

pub(crate) fn parse_fixup(cur: &mut Cur<'_, '_>, enabled: bool) -> Result<Fixup, PErr> {
    cur.expect_kw("protocol")?;
    let Some(p) = cur
        .peek()
        .filter(|t| PROTOCOLS.iter().any(|k| k.eq_ignore_ascii_case(t)))
    else {
        if let Some(t) = cur.peek() {
            if t.eq_ignore_ascii_case("domain") {
                return Err(cur
                    .err(ConfigError::NotModelled {
                        what: "`fixup protocol domain` is the PIX 6.2 spelling of `fixup protocol dns`".into(),
                    })
                    .soft());
            }
        }
        return Err(cur.expected("a fixup protocol (ctiqbe, dns, esp-ike, ftp, h323, http, icmp, ils, mgcp, pptp, rsh, rtsp, sip, skinny, smtp, snmp, sqlnet, tftp, xdmcp)"));
    };
    let protocol = p.to_ascii_lowercase();
    cur.bump();
    let mut f = Fixup {
        enabled,
        protocol,
        qualifier: None,
        ports: None,
        maximum_length: None,
    };
    while let Some(t) = cur.peek() {
        if t.eq_ignore_ascii_case("maximum-length") && f.maximum_length.is_none() {
            cur.bump();
            f.maximum_length = Some(cur.u16("a maximum DNS packet length", 512, 65535)?);
        } else if f.ports.is_none() && t.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            match parse_range(t) {
                Some(r) => {
                    cur.bump();
                    f.ports = Some(r);
                }
                None => return Err(cur.expected("a port or `lo-hi` port range")),
            }
        } else if f.qualifier.is_none()
            && f.ports.is_none()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            f.qualifier = Some(t.to_ascii_lowercase());
            cur.bump();
        } else {
            return Err(cur.err(ConfigError::Trailing {
                command: "fixup",
                found: t.to_owned(),
            }));
        }
    }
    Ok(f)
}

impl Fixup {
    pub(crate) fn write(&self, out: &mut String) {
        if !self.enabled {
            out.push_str("no ");
        }
        let _ = write!(out, "fixup protocol {}", self.protocol);
        if let Some(q) = &self.qualifier {
            let _ = write!(out, " {q}");
        }
        match self.ports {
            Some((a, b)) if a == b => {
                let _ = write!(out, " {a}");
            }
            Some((a, b)) => {
                let _ = write!(out, " {a}-{b}");
            }
            None => {}
        }
        if let Some(m) = self.maximum_length {
            let _ = write!(out, " maximum-length {m}");
        }
    }
}

/// `[no] sysopt ...` (the option words, lowercased, e.g. `["connection", "permit-ipsec"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysopt {
    /// False for `no sysopt ...`.
    pub enabled: bool,
    /// The option words.
    pub words: Vec<String>,
}

const SYSOPTS: &[&str] = &[
    "connection permit-ipsec",
    "connection permit-pptp",
    "connection permit-l2tp",
    "connection tcpmss",
    "connection timewait",
    "nodnsalias inbound",
    "nodnsalias outbound",
    "noproxyarp",
    "security fragguard",
    "radius ignore-secret",
    "uauth allow-http-cache",
    "ipsec pl-compatible",
    "route dnat",
    "pdm",
];

impl Sysopt {
    /// True for `sysopt connection permit-ipsec` (decrypted traffic bypasses interface ACLs).
    pub fn is_permit_ipsec(&self) -> bool {
        self.enabled && self.words.len() == 2 && self.words.join(" ") == "connection permit-ipsec"
    }

    pub(crate) fn write(&self, out: &mut String) {
        if !self.enabled {
            out.push_str("no ");
        }
        out.push_str("sysopt ");
        out.push_str(&self.words.join(" "));
    }
}

pub(crate) fn parse_sysopt(cur: &mut Cur<'_, '_>, enabled: bool) -> Result<Sysopt, PErr> {
    let words: Vec<String> = cur
        .rest_tokens()
        .into_iter()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let joined = words.join(" ");
    if !SYSOPTS
        .iter()
        .any(|s| joined == *s || joined.starts_with(&format!("{s} ")))
    {
        return Err(cur.err_prev(ConfigError::Expected {
            expected: "a sysopt option (connection permit-ipsec, connection tcpmss N, nodnsalias, noproxyarp IF, ...)".into(),
            found: Some(joined),
        }));
    }
    // `sysopt connection tcpmss [minimum] N`: N is read by `Config::tcp_mss`
    if let [c, t, rest @ ..] = words.as_slice() {
        if c == "connection" && t == "tcpmss" {
            let n = match rest {
                [m, n] if m == "minimum" => Some(n),
                [n] => Some(n),
                [] if !enabled => None,
                _ => {
                    return Err(cur.err_prev(ConfigError::Expected {
                        expected: "`sysopt connection tcpmss [minimum] BYTES`".into(),
                        found: Some(joined),
                    }))
                }
            };
            if let Some(n) = n {
                if !n.bytes().all(|b| b.is_ascii_digit()) || n.parse::<u16>().is_err() {
                    return Err(cur.err_prev(ConfigError::OutOfRange {
                        what: "a TCP MSS in bytes",
                        value: n.clone(),
                        min: 0,
                        max: 65535,
                    }));
                }
            }
        }
    }
    Ok(Sysopt { enabled, words })
}
