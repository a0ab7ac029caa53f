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

/// A PIX-MD5 hash as it appears after `enable password` / `passwd` with `encrypted`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PixHash(String);

impl PixHash {
    /// Accept a 16-character string over the crypt alphabet; `None` otherwise.
    pub fn parse(text: &str) -> Option<PixHash> {
        (text.len() == 16 && text.bytes().all(|b| ALPHABET.contains(&b)))
            .then(|| PixHash(text.to_owned()))
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
        PixHash(out)
    }

    /// Does `password` hash to this value? Compared in constant time.
    pub fn verify(&self, password: &str) -> bool {
        let other = PixHash::of_password(password);
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }

    /// The 16-character hash text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PixHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PixHash({})", self.0)
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
    fn parse_rejects_bad_shapes() {
        assert!(PixHash::parse("2KFQnbNIdI.2KYO").is_none());
        assert!(PixHash::parse("2KFQnbNIdI.2KYO!").is_none());
    }
}
