//! The PIX-MD5 password hash of `enable password ... encrypted` and `passwd ... encrypted`.
//!
//! Algorithm (public, long documented by password-cracking tools as "Cisco-PIX MD5"):
//! the password is NUL-padded (or truncated) to 16 bytes, hashed with MD5, and of the
//! 16-byte digest every fourth byte is dropped; each remaining 3-byte group
//! `b0 b1 b2` is read as the little-endian 24-bit number `b0 | b1<<8 | b2<<16` and
//! written as four characters, least significant 6 bits first, in the crypt(3)
//! alphabet `./0-9A-Za-z`. The result is always 16 characters.
//!
//! Known answers (a PIX's factory defaults): `2KFQnbNIdI.2KYOU` is `cisco`, and
//! `8Ry2YjIyt7RRXU24` is the empty password.

use core::fmt;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A PIX-MD5 hash as it appears after `enable password` / `passwd` with `encrypted`,
/// or a hash redacted when the dump was shared ([`PixHash::redacted`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PixHash {
    text: String,
    /// A redacted hash: no password verifies against it.
    redacted: bool,
}

/// The longest redacted hash token accepted (a real hash is 16 characters).
const MAX_REDACTED: usize = 64;

impl PixHash {
    /// Accept a 16-character string over the crypt alphabet; `None` otherwise (and
    /// for a redacted one, see [`PixHash::redacted`]).
    pub fn parse(text: &str) -> Option<PixHash> {
        (text.len() == 16
            && text.bytes().all(|b| ALPHABET.contains(&b))
            && PixHash::redacted(text).is_none())
        .then(|| PixHash {
            text: text.to_owned(),
            redacted: false,
        })
    }

    /// A hash replaced by its redaction when a dump was shared: a run of `X`, `x` or
    /// `*` (1 to 64 of them; 16 `X`s included, which no password hashes to in
    /// practice). It is kept as written and verifies no password, like a masked
    /// secret.
    pub fn redacted(text: &str) -> Option<PixHash> {
        let b = text.as_bytes();
        let first = *b.first()?;
        (b.len() <= MAX_REDACTED
            && matches!(first, b'X' | b'x' | b'*')
            && b.iter().all(|&c| c == first))
        .then(|| PixHash {
            text: text.to_owned(),
            redacted: true,
        })
    }

    /// True for a redacted hash ([`PixHash::redacted`]).
    pub fn is_redacted(&self) -> bool {
        self.redacted
    }

    /// Hash a clear password the way a PIX does.
    pub fn of_password(password: &str) -> PixHash {
        let mut block = [0u8; 16];
        for (dst, src) in block.iter_mut().zip(password.as_bytes()) {
            *dst = *src;
        }
        let digest = Md5::digest(block);
        block.iter_mut().for_each(|b| *b = 0);
        let mut out = String::with_capacity(16);
        for group in digest.chunks_exact(4) {
            if let [b0, b1, b2, _] = group {
                let mut v = u32::from(*b0) | (u32::from(*b1) << 8) | (u32::from(*b2) << 16);
                for _ in 0..4 {
                    let idx = (v & 0x3f) as usize;
                    out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'.')));
                    v >>= 6;
                }
            }
        }
        PixHash {
            text: out,
            redacted: false,
        }
    }

    /// Does `password` hash to this value? Compared in constant time. Never true
    /// for a redacted hash.
    pub fn verify(&self, password: &str) -> bool {
        if self.redacted {
            return false;
        }
        let other = PixHash::of_password(password);
        self.text.as_bytes().ct_eq(other.text.as_bytes()).into()
    }

    /// The hash text (16 characters; a redacted one as written).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for PixHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.redacted {
            write!(f, "PixHash(redacted {})", self.text)
        } else {
            write!(f, "PixHash({})", self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(PixHash::of_password("cisco").as_str(), "2KFQnbNIdI.2KYOU");
        assert_eq!(PixHash::of_password("").as_str(), "8Ry2YjIyt7RRXU24");
        let h = PixHash::parse("2KFQnbNIdI.2KYOU").unwrap();
        assert!(h.verify("cisco"));
        assert!(!h.verify("Cisco"));
        assert!(!h.verify(""));
    }

    #[test]
    fn long_passwords_truncate_to_16() {
        assert_eq!(
            PixHash::of_password("0123456789abcdefXYZ"),
            PixHash::of_password("0123456789abcdef")
        );
        assert_ne!(
            PixHash::of_password("0123456789abcde"),
            PixHash::of_password("0123456789abcdef")
        );
    }

    #[test]
    fn redacted_hashes_verify_nothing() {
        for t in ["XXXXXXXXXXXX", "XXXXXXXXXXXXXXXX", "********", "x"] {
            assert!(PixHash::parse(t).is_none(), "{t}");
            let h = PixHash::redacted(t).unwrap();
            assert!(h.is_redacted());
            assert_eq!(h.as_str(), t);
            assert!(!h.verify("") && !h.verify("cisco") && !h.verify(t));
        }
        for t in ["", "XXXXy", "2KFQnbNIdI.2KYOU", &"X".repeat(65)] {
            assert!(PixHash::redacted(t).is_none(), "{t}");
        }
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        assert!(PixHash::parse("2KFQnbNIdI.2KYO").is_none());
        assert!(PixHash::parse("2KFQnbNIdI.2KYO!").is_none());
    }
}
