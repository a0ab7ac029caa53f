//! Zeroizing secret bytes: pre-shared keys, passwords, DH shared secrets, SKEYID*,
//! KEYMAT and ESP keys.
//!
//! One type for every crate: the IKE state machine, the ESP SAs, Xauth and the
//! configuration all hold their secrets in a [`Secret`].

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secrets up to this many bytes live inline, without a heap allocation (every SKEYID,
/// cipher key and KEYMAT of the IKEv1 suites; g^xy and long PSKs go to the heap).
pub const INLINE_CAPACITY: usize = 64;

/// Secret bytes (a PSK, a password, g^xy, SKEYID*, an encryption key, KEYMAT).
///
/// - Zeroized on drop (and by [`Zeroize::zeroize`]).
/// - No `Clone` and no `Display`: a copy is always an explicit [`Secret::duplicate`],
///   and the bytes are reached only through [`Secret::expose_secret`] (or
///   [`Secret::expose_str`]), named loudly so every use is easy to audit.
/// - `Debug` prints `<redacted>`: neither the contents nor the length.
/// - Equality ([`PartialEq`], [`Secret::ct_eq`]) runs in constant time for equal
///   lengths (the length itself is not secret).
///
/// Up to [`INLINE_CAPACITY`] bytes are held inline; a secret that outgrows that moves
/// to the heap once, and the inline copy is wiped.
///
/// ```
/// use pix_primitives::Secret;
///
/// let psk = Secret::from("cisco123");
/// assert!(psk.ct_eq(b"cisco123"));
/// assert_eq!(format!("{psk:?}"), "<redacted>");
/// assert_eq!(psk.expose_str(), Some("cisco123"));
/// ```
#[derive(Default)]
pub struct Secret(Repr);

enum Repr {
    Inline {
        buf: [u8; INLINE_CAPACITY],
        len: usize,
    },
    Heap(Vec<u8>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Inline {
            buf: [0; INLINE_CAPACITY],
            len: 0,
        }
    }
}

impl Secret {
    /// Takes ownership of `bytes` (they are zeroized when the `Secret` drops). No copy
    /// is made: the vector becomes the secret's storage.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Repr::Heap(bytes))
    }

    /// Copies `bytes` into a new secret (inline when they fit).
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut s = Self::with_capacity(bytes.len());
        s.extend_from_slice(bytes);
        s
    }

    /// An empty secret with room for `capacity` bytes (inline when that fits), so that
    /// [`Secret::extend_from_slice`] up to it never reallocates (a reallocation would
    /// leave an unwiped copy behind).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        if capacity <= INLINE_CAPACITY {
            Self::default()
        } else {
            Self(Repr::Heap(Vec::with_capacity(capacity)))
        }
    }

    /// The secret bytes. Callers must not log them.
    #[must_use]
    #[inline]
    pub fn expose_secret(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { buf, len } => buf.get(..*len).unwrap_or_default(),
            Repr::Heap(v) => v,
        }
    }

    /// The secret as text, when it is valid UTF-8 (a password or PSK read from a
    /// configuration always is). Callers must not log it.
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        core::str::from_utf8(self.expose_secret()).ok()
    }

    /// Length in bytes (not secret).
    #[must_use]
    #[inline]
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the secret is empty.
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Constant-time comparison of the contents with `other` (the lengths are not
    /// secret: different lengths compare unequal at once).
    #[must_use]
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        bool::from(self.expose_secret().ct_eq(other))
    }

    /// The same comparison as [`Secret::ct_eq`], under the name the Xauth code uses
    /// next to its comparisons of two secrets.
    #[must_use]
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        self.ct_eq(other)
    }

    /// An explicit duplicate (a second zeroizing buffer), for the rare place that must
    /// hold a secret twice. Not `Clone`, so copies are never implicit.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self::from_slice(self.expose_secret())
    }

    /// Appends bytes. Reserve the room up front ([`Secret::with_capacity`]): growing
    /// past it reallocates once, and the old buffer is not wiped by the allocator
    /// (an inline buffer outgrown is wiped here).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
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

    /// Keeps the first `new_len` bytes (no-op when already shorter); the rest is
    /// zeroized.
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

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not even the length: a password's length is a hint worth keeping out of logs
        // (callers that want it ask `len()`).
        f.write_str("<redacted>")
    }
}

impl PartialEq for Secret {
    /// Constant time for equal lengths.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.expose_secret())
    }
}

impl Eq for Secret {}

impl From<Vec<u8>> for Secret {
    /// Takes ownership, no copy.
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl From<&[u8]> for Secret {
    fn from(v: &[u8]) -> Self {
        Self::from_slice(v)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::from_slice(s.as_bytes())
    }
}

impl From<String> for Secret {
    /// Takes ownership of the string's buffer, no copy.
    fn from(s: String) -> Self {
        Self::new(s.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn debug_redacts_and_shows_only_the_length() {
        let s = Secret::from_slice(b"hunter2");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && !d.contains("68756e"), "{d}");
        assert_eq!(d, "<redacted>");
        let long = Secret::from(vec![b'h'; 100]);
        assert_eq!(format!("{long:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(long)), "Some(<redacted>)");
    }

    #[test]
    fn truncate_and_compare() {
        let mut s = Secret::from_slice(&[1, 2, 3, 4]);
        assert!(s.ct_eq(&[1, 2, 3, 4]));
        assert!(!s.ct_eq(&[1, 2, 3, 5]));
        assert!(!s.ct_eq(&[1, 2, 3]));
        assert!(s.ct_eq_bytes(&[1, 2, 3, 4]));
        assert!(!s.ct_eq_bytes(&[1, 2, 3, 4, 5]));
        s.truncate(2);
        assert_eq!(s.expose_secret(), &[1, 2]);
        s.truncate(10);
        assert_eq!(s.len(), 2);
        let mut h = Secret::new(vec![9; 80]);
        h.truncate(1);
        assert_eq!(h.expose_secret(), &[9]);
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
        assert!(matches!(t.0, Repr::Inline { buf, len: 0 } if buf == [0; INLINE_CAPACITY]));
        let big = Secret::with_capacity(100);
        assert!(matches!(big.0, Repr::Heap(ref v) if v.capacity() >= 100));
    }

    #[test]
    fn conversions_equality_and_duplicate() {
        let a = Secret::from("cisco123");
        assert_eq!(a, Secret::from(String::from("cisco123")));
        assert_eq!(a, Secret::from(b"cisco123".to_vec()));
        assert_eq!(a, Secret::from(&b"cisco123"[..]));
        assert_ne!(a, Secret::from("cisco124"));
        assert_ne!(a, Secret::from("cisco12"));
        let d = a.duplicate();
        assert_eq!(d, a);
        assert_eq!(d.expose_secret(), b"cisco123");
        assert_eq!(a.expose_str(), Some("cisco123"));
        assert_eq!(Secret::from_slice(&[0xff, 0xfe]).expose_str(), None);
        assert!(Secret::default().is_empty());
        assert_eq!(Secret::default(), Secret::from(""));
    }
}
