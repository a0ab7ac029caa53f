//! [`Ident`]: the text of a name-like token in the model (a `name`, an ACL id, an
//! object-group or interface name), stored inline when short.
//!
//! A configuration of 200,000 lines holds hundreds of thousands of such tokens, nearly
//! all a few bytes long (`inside`, `acl101`, `web-srv3`). As `String`s each was a heap
//! allocation when parsed and a free when the model was dropped, which together cost
//! more than the parse itself. An `Ident` of up to [`Ident::INLINE`] bytes lives in the
//! 24 bytes a `String` header takes; longer ones go to the heap.
//!
//! It reads as a `&str` ([`Deref`], [`Ident::as_str`]), compares with `str`, `&str` and
//! `String` both ways, hashes like a `str` (so `HashMap<Ident, _>` can be looked up
//! with a `&str`), and prints and debug-prints like one.

use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

/// An immutable string, inline up to [`Ident::INLINE`] bytes (no heap allocation).
#[derive(Clone, PartialEq, Eq)]
pub struct Ident(Repr);

/// Invariant: a text of at most `INLINE` bytes is always `Inline` (zero padded), a
/// longer one always `Heap`; so the derived equality (on the bytes) is text equality.
#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline { len: u8, buf: [u8; Ident::INLINE] },
    Heap(Box<str>),
}

impl Ident {
    /// The longest text kept inline.
    pub const INLINE: usize = 22;

    /// Copy `s` into a new `Ident`.
    #[inline]
    pub fn new(s: &str) -> Ident {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= Ident::INLINE => {
                let mut buf = [0u8; Ident::INLINE];
                if let Some(dst) = buf.get_mut(..s.len()) {
                    dst.copy_from_slice(s.as_bytes());
                }
                Ident(Repr::Inline { len, buf })
            }
            _ => Ident(Repr::Heap(s.into())),
        }
    }

    /// The bytes of the text (without the UTF-8 check of [`Ident::as_str`]).
    #[inline]
    pub(crate) fn raw_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or(&[]),
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied from a `str` whole, so they are valid UTF-8; the
            // crate forbids `unsafe`, so they are checked again (a few short bytes).
            Repr::Inline { len, buf } => buf
                .get(..usize::from(*len))
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or(""),
            Repr::Heap(s) => s,
        }
    }
}

impl Default for Ident {
    fn default() -> Self {
        Ident::new("")
    }
}

impl Deref for Ident {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Ident {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Ident {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Ident {
    fn from(s: &str) -> Self {
        Ident::new(s)
    }
}

impl From<&String> for Ident {
    fn from(s: &String) -> Self {
        Ident::new(s)
    }
}

impl From<String> for Ident {
    fn from(s: String) -> Self {
        if s.len() <= Ident::INLINE {
            Ident::new(&s)
        } else {
            Ident(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<&Ident> for Ident {
    fn from(s: &Ident) -> Self {
        s.clone()
    }
}

impl From<Ident> for String {
    fn from(s: Ident) -> Self {
        match s.0 {
            Repr::Heap(b) => b.into_string(),
            Repr::Inline { .. } => s.as_str().to_owned(),
        }
    }
}

impl PartialEq<str> for Ident {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Ident {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Ident {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Ident> for str {
    fn eq(&self, other: &Ident) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Ident> for &str {
    fn eq(&self, other: &Ident) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Ident> for String {
    fn eq(&self, other: &Ident) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A name as a map key, hashed as its bytes (an [`Ident`] hashes as a `str` so that
/// it can be looked up by one, which checks its UTF-8 first) and compared inline.
#[derive(PartialEq, Eq)]
pub(crate) struct RawKey(Ident);

impl RawKey {
    pub(crate) fn new(name: &str) -> RawKey {
        RawKey(Ident::new(name))
    }
}

impl Hash for RawKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.raw_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashMap;

    #[test]
    fn same_size_as_string() {
        assert_eq!(std::mem::size_of::<Ident>(), std::mem::size_of::<String>());
        assert_eq!(
            std::mem::size_of::<Option<Ident>>(),
            std::mem::size_of::<String>()
        );
    }

    #[test]
    fn inline_and_heap_behave_as_str() {
        let long = "a-very-long-object-group-name-on-the-heap";
        for s in ["", "x", "acl101", "exactly-22-bytes-long!", "é-ü", long] {
            let i = Ident::new(s);
            assert_eq!(i.as_str(), s);
            assert_eq!(i, s);
            assert_eq!(s, i);
            assert_eq!(i, s.to_owned());
            assert_eq!(Ident::from(s.to_owned()), i);
            assert_eq!(String::from(i.clone()), s);
            assert_eq!(format!("{i}"), s);
            assert_eq!(format!("{i:?}"), format!("{s:?}"));
        }
        assert_eq!(Ident::new("exactly-22-bytes-long!").len(), Ident::INLINE);
        assert_ne!(Ident::new("ab"), Ident::new("abc"));
        assert!(Ident::new("a") < Ident::new("b"));
        let mut m = FxHashMap::default();
        m.insert(Ident::new("inside"), 1);
        m.insert(Ident::new(long), 2);
        assert_eq!(m.get("inside"), Some(&1));
        assert_eq!(m.get(long), Some(&2));
    }
}
