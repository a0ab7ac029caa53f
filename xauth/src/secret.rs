//! Secrets: passwords, passcodes, PINs and AAA shared keys.
//!
//! A [`Secret`] zeroizes its bytes on drop, prints as `<redacted>` and has no
//! `Display` and no `Clone`: copying a password is always an explicit
//! [`Secret::duplicate`]. Equality is constant-time ([`subtle`]).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Secret bytes (a password, a token passcode, a TACACS+ or RADIUS shared key).
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(Zeroizing::new(bytes.into()))
    }

    /// The secret bytes. Callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An explicit copy (a second zeroizing buffer).
    pub fn duplicate(&self) -> Self {
        Secret::new(self.0.to_vec())
    }

    /// Constant-time comparison with raw bytes (the length is not hidden).
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        bool::from(self.0.as_slice().ct_eq(other))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s.as_bytes().to_vec())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s.into_bytes())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq_bytes(other.expose())
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_and_eq_compares() {
        let a = Secret::from("cisco123");
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
        assert_eq!(a, Secret::from("cisco123"));
        assert_ne!(a, Secret::from("cisco124"));
        assert_ne!(a, Secret::from("cisco12"));
        assert!(a.ct_eq_bytes(b"cisco123"));
        assert_eq!(a.duplicate(), a);
        assert_eq!(a.len(), 8);
        assert!(!a.is_empty());
    }
}
