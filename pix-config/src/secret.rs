//! Secrets: pre-shared keys, group passwords, AAA keys, clear passwords.
//!
//! A clear value is a [`Secret`], the workspace's one zeroizing secret type
//! (`pix_primitives::Secret`): wiped on drop, `Debug` prints `<redacted>`,
//! equality is constant-time, no `Display`, no `Clone` (copies are an explicit
//! [`Secret::duplicate`]). The parser makes one from a token, so its bytes are always
//! text ([`Secret::expose_str`]).

pub use pix_primitives::Secret;

/// A secret as a configuration carries it: either masked (`show run` prints
/// `********`) or clear. The two are distinct values: a masked key never equals a
/// clear one, and masked keys are filled in by a [secrets overlay](crate::SecretsOverlay).
#[derive(Debug, PartialEq, Eq)]
pub enum SecretValue {
    /// Printed as `********` by the PIX; the value is unknown here.
    Masked,
    /// Known clear value (boxed: a [`Secret`] holds up to 64 bytes inline, and every
    /// command that carries a secret stays small).
    Clear(Box<Secret>),
}

/// The PIX mask shown instead of a secret.
pub const MASK: &str = "********";

impl SecretValue {
    /// Read a token: `********` is [`SecretValue::Masked`], anything else is clear.
    pub fn from_token(tok: &str) -> Self {
        if tok == MASK {
            SecretValue::Masked
        } else {
            SecretValue::Clear(Box::new(Secret::from(tok)))
        }
    }

    /// True when masked.
    pub fn is_masked(&self) -> bool {
        matches!(self, SecretValue::Masked)
    }

    /// The clear value, if known.
    pub fn clear(&self) -> Option<&Secret> {
        match self {
            SecretValue::Clear(s) => Some(s),
            SecretValue::Masked => None,
        }
    }

    /// The token to print: the clear value, or `********` when `mask` or unknown (or
    /// when the value is not text, which a parsed configuration never holds).
    pub fn token(&self, mask: bool) -> &str {
        match self {
            SecretValue::Clear(s) if !mask => s.expose_str().unwrap_or(MASK),
            _ => MASK,
        }
    }

    /// An explicit copy.
    pub fn duplicate(&self) -> SecretValue {
        match self {
            SecretValue::Masked => SecretValue::Masked,
            SecretValue::Clear(s) => SecretValue::Clear(Box::new(s.duplicate())),
        }
    }
}
