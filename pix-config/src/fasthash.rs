//! A fast, non-cryptographic hasher for the parser's and resolver's maps.
//!
//! The maps hash many short names taken from our own parse (`host17`, `acl3`,
//! `inside`). SipHash's flooding resistance buys nothing here (a map's size is bounded
//! by the input, every lookup is O(1) expected either way) and costs a third of the
//! resolve pass. This mixes eight bytes per multiply (the FxHash scheme of rustc, with
//! a folded 128-bit multiply at the end so that the low bits the table indexes with
//! depend on every input byte).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::ident::Ident;

const K: u64 = 0xf135_7aea_2e62_a9c5;

#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let m = u128::from(self.0).wrapping_mul(u128::from(K));
        // fold the high half onto the low half (truncations intended)
        (m as u64) ^ ((m >> 64) as u64)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        // the tail (0 to 7 bytes, so byte 7 is free) tagged with its length in byte 7,
        // always added: "a", "a\0" and "" differ, and a tail never reads as a chunk
        // of another string of as many chunks
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
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

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> u64 {
        let mut x = FastHasher::default();
        s.hash(&mut x);
        x.finish()
    }

    #[test]
    fn distinct_short_names_hash_apart() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let s = format!("host{i}");
            assert!(seen.insert(h(&s)), "{s}");
        }
        assert_ne!(h("a"), h("a\0"));
        assert_ne!(h(""), h("\0"));
        let mut m: FastMap<&str, u32> = FastMap::default();
        m.insert("inside", 1);
        assert_eq!(m.get("inside"), Some(&1));
        assert_eq!(m.get("outside"), None);
    }
}
