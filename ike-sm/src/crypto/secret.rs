//! Zeroizing byte strings for keys and other secrets.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes (a PSK, g^xy, SKEYID*, an encryption key, KEYMAT).
///
/// Zeroized on drop; no `Clone`, no `Display`; `Debug` prints `<redacted>` and the length
/// only. Compare with [`Secret::ct_eq`], which runs in constant time for equal lengths.
#[derive(Zeroize, ZeroizeOnDrop, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of `bytes` (they are zeroized when the `Secret` drops).
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes` into a new secret.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret bytes. Named loudly so that every use is easy to audit.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison of the contents (the lengths are not secret).
    #[must_use]
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        bool::from(self.0.as_slice().ct_eq(other))
    }

    /// An explicit duplicate, for the rare place that must hold a key twice
    /// (e.g. one copy per direction). Not `Clone`, so copies are never implicit.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self(self.0.clone())
    }

    /// Appends bytes (callers reserve capacity up front so the buffer never reallocates).
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Keeps the first `len` bytes (no-op when already shorter); the rest is zeroized.
    pub fn truncate(&mut self, len: usize) {
        if len < self.0.len() {
            if let Some(tail) = self.0.get_mut(len..) {
                tail.zeroize();
            }
            self.0.truncate(len);
        }
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret(<redacted>, {} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let s = Secret::from_slice(b"hunter2");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && !d.contains("68756e"), "{d}");
        assert!(d.contains("<redacted>"));
    }

    #[test]
    fn truncate_and_compare() {
        let mut s = Secret::from_slice(&[1, 2, 3, 4]);
        assert!(s.ct_eq(&[1, 2, 3, 4]));
        assert!(!s.ct_eq(&[1, 2, 3, 5]));
        assert!(!s.ct_eq(&[1, 2, 3]));
        s.truncate(2);
        assert_eq!(s.expose_secret(), &[1, 2]);
        s.truncate(10);
        assert_eq!(s.len(), 2);
    }
}
