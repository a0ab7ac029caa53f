//! Zeroizing byte strings for keys and other secrets.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secrets up to this many bytes live inline, without a heap allocation (every SKEYID,
/// cipher key and KEYMAT of the suites here; g^xy and long PSKs go to the heap).
const INLINE: usize = 64;

/// Secret bytes (a PSK, g^xy, SKEYID*, an encryption key, KEYMAT).
///
/// Zeroized on drop; no `Clone`, no `Display`; `Debug` prints `<redacted>` and the length
/// only. Compare with [`Secret::ct_eq`], which runs in constant time for equal lengths.
/// Up to 64 bytes are held inline; a secret that outgrows that moves to the heap once,
/// and the inline copy is wiped.
#[derive(Default)]
pub struct Secret(Repr);

enum Repr {
    Inline { buf: [u8; INLINE], len: usize },
    Heap(Vec<u8>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Inline {
            buf: [0; INLINE],
            len: 0,
        }
    }
}

impl Secret {
    /// Takes ownership of `bytes` (they are zeroized when the `Secret` drops).
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Repr::Heap(bytes))
    }

    /// Copies `bytes` into a new secret.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut s = Self::with_capacity(bytes.len());
        s.extend_from_slice(bytes);
        s
    }

    /// An empty secret with room for `capacity` bytes (inline when that fits), so that
    /// [`Secret::extend_from_slice`] up to it never reallocates.
    #[must_use]
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        if capacity <= INLINE {
            Self::default()
        } else {
            Self(Repr::Heap(Vec::with_capacity(capacity)))
        }
    }

    /// The secret bytes. Named loudly so that every use is easy to audit.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { buf, len } => buf.get(..*len).unwrap_or_default(),
            Repr::Heap(v) => v,
        }
    }

    /// Length in bytes (not secret).
    #[must_use]
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Constant-time comparison of the contents (the lengths are not secret).
    #[must_use]
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        bool::from(self.expose_secret().ct_eq(other))
    }

    /// An explicit duplicate, for the rare place that must hold a key twice
    /// (e.g. one copy per direction). Not `Clone`, so copies are never implicit.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self::from_slice(self.expose_secret())
    }

    /// Appends bytes (callers reserve capacity up front so the buffer never reallocates).
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            Repr::Inline { buf, len } => {
                let end = len.saturating_add(bytes.len());
                if let Some(dst) = buf.get_mut(*len..end) {
                    dst.copy_from_slice(bytes);
                    *len = end;
                } else {
                    // Outgrown: one move to the heap, sized for everything; wipe the
                    // inline copy.
                    let mut v = Vec::with_capacity(end);
                    v.extend_from_slice(buf.get(..*len).unwrap_or_default());
                    v.extend_from_slice(bytes);
                    buf.zeroize();
                    self.0 = Repr::Heap(v);
                }
            }
            Repr::Heap(v) => v.extend_from_slice(bytes),
        }
    }

    /// Keeps the first `len` bytes (no-op when already shorter); the rest is zeroized.
    pub fn truncate(&mut self, new_len: usize) {
        match &mut self.0 {
            Repr::Inline { buf, len } => {
                if new_len < *len {
                    if let Some(tail) = buf.get_mut(new_len..*len) {
                        tail.zeroize();
                    }
                    *len = new_len;
                }
            }
            Repr::Heap(v) => {
                if new_len < v.len() {
                    if let Some(tail) = v.get_mut(new_len..) {
                        tail.zeroize();
                    }
                    v.truncate(new_len);
                }
            }
        }
    }
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        match &mut self.0 {
            Repr::Inline { buf, len } => {
                buf.zeroize();
                *len = 0;
            }
            // Wipes the whole capacity, then empties it.
            Repr::Heap(v) => v.zeroize(),
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret(<redacted>, {} bytes)", self.len())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
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

    #[test]
    fn grows_from_inline_to_heap_and_wipes() {
        let mut s = Secret::with_capacity(8);
        s.extend_from_slice(&[7; 60]);
        assert!(matches!(s.0, Repr::Inline { len: 60, .. }));
        s.extend_from_slice(&[9; 10]);
        assert!(matches!(s.0, Repr::Heap(_)));
        assert_eq!(s.len(), 70);
        assert_eq!(s.expose_secret().get(58..62), Some(&[7, 7, 9, 9][..]));
        s.truncate(3);
        assert!(s.ct_eq(&[7, 7, 7]));
        s.zeroize();
        assert!(s.is_empty());
        let mut t = Secret::from_slice(&[1; 64]);
        assert!(matches!(t.0, Repr::Inline { len: 64, .. }));
        t.zeroize();
        assert!(matches!(t.0, Repr::Inline { buf, len: 0 } if buf == [0; INLINE]));
        assert_eq!(
            Secret::from(vec![5; 3]).duplicate().expose_secret(),
            &[5, 5, 5]
        );
    }
}
