//! Secrets: pre-shared keys, group passwords, AAA keys, clear passwords.

use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A clear-text secret. Zeroized on drop, `Debug` prints `<redacted>`, equality is
/// constant-time (`subtle`). There is deliberately no `Display`.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wrap a clear value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The clear value, for the code that must use it (PSK derivation, the printer).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// A second zeroizing copy (explicit, so secrets are never cloned by accident).
    pub fn duplicate(&self) -> Secret {
        Secret::new(self.expose())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for Secret {}

/// A secret as a configuration carries it: either masked (`show run` prints
/// `********`) or clear. The two are distinct values: a masked key never equals a
/// clear one, and masked keys are filled in by a [secrets overlay](crate::SecretsOverlay).
#[derive(Debug, PartialEq, Eq)]
pub enum SecretValue {
    /// Printed as `********` by the PIX; the value is unknown here.
    Masked,
    /// Known clear value.
    Clear(Secret),
}

/// The PIX mask shown instead of a secret.
pub const MASK: &str = "********";

impl SecretValue {
    /// Read a token: `********` is [`SecretValue::Masked`], anything else is clear.
    pub fn from_token(tok: &str) -> Self {
        if tok == MASK {
            SecretValue::Masked
        } else {
            SecretValue::Clear(Secret::new(tok))
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

    /// The token to print: the clear value, or `********` when `mask` or unknown.
    pub fn token(&self, mask: bool) -> &str {
        match self {
            SecretValue::Clear(s) if !mask => s.expose(),
            _ => MASK,
        }
    }

    /// An explicit copy.
    pub fn duplicate(&self) -> SecretValue {
        match self {
            SecretValue::Masked => SecretValue::Masked,
            SecretValue::Clear(s) => SecretValue::Clear(s.duplicate()),
        }
    }
}
