//! `enable password`, `passwd`, and the command families kept verbatim on purpose.

use std::fmt::Write as _;

use crate::lexer::{Cur, PErr};
use crate::pixhash::PixHash;
use crate::secret::SecretValue;

/// A login password as configured: a PIX-MD5 hash (`... encrypted`) or clear text.
#[derive(Debug, PartialEq, Eq)]
pub enum Password {
    /// `... <hash> encrypted`
    Encrypted(PixHash),
    /// A clear (or masked) password, hashed by the PIX when entered.
    Clear(SecretValue),
}

impl Password {
    /// Does `candidate` match? (PIX-MD5 for hashes, constant-time compare for clear.)
    pub fn verify(&self, candidate: &str) -> bool {
        match self {
            Password::Encrypted(h) => h.verify(candidate),
            Password::Clear(SecretValue::Clear(s)) => s.ct_eq(candidate.as_bytes()),
            Password::Clear(SecretValue::Masked) => false,
        }
    }

    pub(crate) fn parse_with_flag(
        cur: &mut Cur<'_, '_>,
        value: &str,
        encrypted: bool,
    ) -> Result<Password, PErr> {
        if encrypted {
            match PixHash::parse(value) {
                Some(h) => Ok(Password::Encrypted(h)),
                None => Err(cur.err_prev(crate::ConfigError::Expected {
                    expected: "a 16-character PIX-MD5 hash before `encrypted`".into(),
                    found: Some(value.to_owned()),
                })),
            }
        } else {
            Ok(Password::Clear(SecretValue::from_token(value)))
        }
    }

    pub(crate) fn write_value(&self, out: &mut String, mask: bool) {
        match self {
            Password::Encrypted(h) => out.push_str(h.as_str()),
            Password::Clear(s) => out.push_str(s.token(mask)),
        }
    }

    pub(crate) fn encrypted(&self) -> bool {
        matches!(self, Password::Encrypted(_))
    }
}

/// `enable password pw [level N] [encrypted]`
#[derive(Debug, PartialEq, Eq)]
pub struct EnablePassword {
    /// The password.
    pub password: Password,
    /// Privilege level, if not 15.
    pub level: Option<u8>,
}

pub(crate) fn parse_enable(cur: &mut Cur<'_, '_>) -> Result<EnablePassword, PErr> {
    cur.expect_kw("password")?;
    let value = cur.word("a password")?;
    let level = if cur.eat("level") {
        Some(cur.u8("a privilege level", 0, 15)?)
    } else {
        None
    };
    let enc = cur.eat("encrypted");
    cur.finish("enable password")?;
    Ok(EnablePassword {
        password: Password::parse_with_flag(cur, value, enc)?,
        level,
    })
}

impl EnablePassword {
    pub(crate) fn write(&self, out: &mut String, mask: bool) {
        out.push_str("enable password ");
        self.password.write_value(out, mask);
        if let Some(l) = self.level {
            let _ = write!(out, " level {l}");
        }
        if self.password.encrypted() {
            out.push_str(" encrypted");
        }
    }
}

/// `passwd pw [encrypted]` (the telnet/ssh login password).
#[derive(Debug, PartialEq, Eq)]
pub struct Passwd {
    /// The password.
    pub password: Password,
}

pub(crate) fn parse_passwd(cur: &mut Cur<'_, '_>) -> Result<Passwd, PErr> {
    let value = cur.word("a password")?;
    let enc = cur.eat("encrypted");
    cur.finish("passwd")?;
    Ok(Passwd {
        password: Password::parse_with_flag(cur, value, enc)?,
    })
}

impl Passwd {
    pub(crate) fn write(&self, out: &mut String, mask: bool) {
        out.push_str("passwd ");
        self.password.write_value(out, mask);
        if self.password.encrypted() {
            out.push_str(" encrypted");
        }
    }
}

crate::interface::keyword_enum! {
    /// Command families this model keeps verbatim (no warning): they do not affect
    /// the VPN/NAT behaviour this project models, and their text round-trips.
    pub enum Family {
        /// `pager ...`
        Pager = "pager",
        /// `logging ...`
        Logging = "logging",
        /// `icmp ...`
        Icmp = "icmp",
        /// `ip audit ...`
        IpAudit = "ip audit",
        /// `ip verify ...`
        IpVerify = "ip verify",
        /// `failover ...`
        Failover = "failover",
        /// `pdm ...`
        Pdm = "pdm",
        /// `arp ...`
        Arp = "arp",
        /// `http ...`
        Http = "http",
        /// `snmp-server ...`
        SnmpServer = "snmp-server",
        /// `ntp ...`
        Ntp = "ntp",
        /// `clock ...`
        Clock = "clock",
        /// `floodguard ...`
        Floodguard = "floodguard",
        /// `tftp-server ...`
        TftpServer = "tftp-server",
        /// `telnet ...`
        Telnet = "telnet",
        /// `ssh ...`
        Ssh = "ssh",
        /// `console ...`
        Console = "console",
        /// `dhcpd ...`
        Dhcpd = "dhcpd",
        /// `terminal ...`
        Terminal = "terminal",
        /// `established ...`
        Established = "established",
        /// `service ...`
        Service = "service",
        /// `url-server ...`
        UrlServer = "url-server",
        /// `filter ...`
        Filter = "filter",
        /// `privilege ...`
        Privilege = "privilege",
        /// `ca ...`
        Ca = "ca",
        /// `crypto ca ...`
        CryptoCa = "crypto ca",
        /// `rip ...`
        Rip = "rip",
        /// `auth-prompt ...`
        AuthPrompt = "auth-prompt",
        /// `banner ...`
        Banner = "banner",
    }
}

/// A verbatim command of a known [`Family`]: `[no] family args...`, tokens joined by one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Written with a leading `no`.
    pub no: bool,
    /// Its family.
    pub family: Family,
    /// The arguments after the family keyword(s), normalized to single spaces.
    pub args: String,
}

pub(crate) fn parse_known(cur: &mut Cur<'_, '_>, no: bool, family: Family) -> Known {
    let args = cur.rest_tokens().join(" ");
    Known { no, family, args }
}

impl Known {
    pub(crate) fn write(&self, out: &mut String) {
        if self.no {
            out.push_str("no ");
        }
        out.push_str(self.family.as_str());
        if !self.args.is_empty() {
            out.push(' ');
            out.push_str(&self.args);
        }
    }
}
