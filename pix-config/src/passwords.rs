//! `enable password` and `passwd`: the login passwords, PIX-MD5 hashed or clear.

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
    ///
    /// (A hash redacted when the dump was shared, `XXXXXXXXXXXX encrypted`, is an
    /// [`Password::Encrypted`] whose [`PixHash::is_redacted`] is true.)
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

    /// `value` is the password token (a token of the line: a warning points at it),
    /// `what` names the secret for that warning.
    pub(crate) fn parse_with_flag(
        cur: &mut Cur<'_, '_>,
        value: &str,
        encrypted: bool,
        what: &str,
    ) -> Result<Password, PErr> {
        if encrypted {
            if let Some(h) = PixHash::redacted(value) {
                // a sanitized dump: read as masked, printed back as written
                cur.soft_warn_at_token(
                    value,
                    crate::ConfigError::RedactedSecret {
                        what: what.to_owned(),
                        found: value.to_owned(),
                    },
                );
                return Ok(Password::Encrypted(h));
            }
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
        password: Password::parse_with_flag(cur, value, enc, "the enable password hash")?,
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
        password: Password::parse_with_flag(cur, value, enc, "the passwd hash")?,
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
