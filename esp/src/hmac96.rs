//! HMAC-MD5-96 (RFC 2403) and HMAC-SHA1-96 (RFC 2404) over the raw MD5/SHA-1
//! compression functions.
//!
//! The keyed inner and outer states (after the ipad/opad block) are computed once per
//! SA, so a packet costs only its own blocks plus two finishing blocks, and the
//! states zeroize on drop. [`Running`] lets the ESP encryptor feed 64-byte blocks as
//! soon as they are encrypted (interleaving MAC and CBC work).

use cipher::consts::U64;
use cipher::Array;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of the truncated ICV.
pub const ICV_LEN: usize = 12;
const BLOCK: usize = 64;

/// A Merkle-Damgard hash with a 64-byte block, as HMAC needs it.
pub trait HashCore {
    /// Chaining state.
    type State: Copy + Zeroize;
    /// Initial chaining value.
    const INIT: Self::State;
    /// Digest length in bytes.
    const OUT_LEN: usize;
    /// Whether the length field and state words are big-endian (SHA-1) or little (MD5).
    const BIG_ENDIAN: bool;
    /// Processes consecutive blocks.
    fn compress(state: &mut Self::State, blocks: &[[u8; BLOCK]]);
    /// Writes the state as digest bytes into `out` (`OUT_LEN` bytes, at most 20).
    fn output(state: &Self::State, out: &mut [u8; 20]);
    /// One-shot digest (used for HMAC keys longer than a block).
    fn digest(data: &[u8], out: &mut [u8; 20]);
}

/// MD5 compression.
#[derive(Debug, Clone, Copy)]
pub enum Md5 {}
/// SHA-1 compression.
#[derive(Debug, Clone, Copy)]
pub enum Sha1 {}

impl HashCore for Md5 {
    type State = [u32; 4];
    const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    const OUT_LEN: usize = 16;
    const BIG_ENDIAN: bool = false;
    #[inline(always)]
    fn compress(state: &mut [u32; 4], blocks: &[[u8; BLOCK]]) {
        md5::block_api::compress(state, blocks);
    }
    fn output(state: &[u32; 4], out: &mut [u8; 20]) {
        for (chunk, w) in out.chunks_exact_mut(4).zip(state.iter()) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
    }
    fn digest(data: &[u8], out: &mut [u8; 20]) {
        use md5::Digest;
        let d = md5::Md5::digest(data);
        for (o, b) in out.iter_mut().zip(d.iter()) {
            *o = *b;
        }
    }
}

impl HashCore for Sha1 {
    type State = [u32; 5];
    const INIT: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    const OUT_LEN: usize = 20;
    const BIG_ENDIAN: bool = true;
    #[inline(always)]
    fn compress(state: &mut [u32; 5], blocks: &[[u8; BLOCK]]) {
        sha1::block_api::compress(state, blocks);
    }
    fn output(state: &[u32; 5], out: &mut [u8; 20]) {
        for (chunk, w) in out.chunks_exact_mut(4).zip(state.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
    }
    fn digest(data: &[u8], out: &mut [u8; 20]) {
        use sha1::Digest;
        let d = sha1::Sha1::digest(data);
        for (o, b) in out.iter_mut().zip(d.iter()) {
            *o = *b;
        }
    }
}

/// A keyed HMAC: the chaining states after the ipad and opad blocks.
pub struct HmacKey<H: HashCore> {
    inner: H::State,
    outer: H::State,
}

impl<H: HashCore> Drop for HmacKey<H> {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl<H: HashCore> ZeroizeOnDrop for HmacKey<H> {}

impl<H: HashCore> core::fmt::Debug for HmacKey<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

impl<H: HashCore> HmacKey<H> {
    /// Keys the HMAC (RFC 2104: keys longer than 64 bytes are hashed first).
    pub fn new(key: &[u8]) -> Self {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut d = [0u8; 20];
            H::digest(key, &mut d);
            for (o, b) in k.iter_mut().zip(d.iter().take(H::OUT_LEN)) {
                *o = *b;
            }
            d.zeroize();
        } else {
            for (o, b) in k.iter_mut().zip(key.iter()) {
                *o = *b;
            }
        }
        let mut pad = [0u8; BLOCK];
        for (p, b) in pad.iter_mut().zip(k.iter()) {
            *p = b ^ 0x36;
        }
        let mut inner = H::INIT;
        H::compress(&mut inner, core::slice::from_ref(&pad));
        for (p, b) in pad.iter_mut().zip(k.iter()) {
            *p = b ^ 0x5c;
        }
        let mut outer = H::INIT;
        H::compress(&mut outer, core::slice::from_ref(&pad));
        pad.zeroize();
        k.zeroize();
        HmacKey { inner, outer }
    }

    /// Starts a MAC computation.
    #[inline]
    pub fn start(&self) -> Running<'_, H> {
        Running {
            key: self,
            state: self.inner,
            blocks: 1,
        }
    }

    /// The full (untruncated) HMAC of `data`, `H::OUT_LEN` bytes in a 20-byte array.
    pub fn mac_full(&self, data: &[u8]) -> [u8; 20] {
        let mut r = self.start();
        let whole = data.len().saturating_sub(data.len() % BLOCK);
        let (head, tail) = data.split_at(whole);
        r.update_blocks(head);
        r.finish_full(tail)
    }

    /// The 96-bit ICV of `data`.
    pub fn icv(&self, data: &[u8]) -> [u8; ICV_LEN] {
        truncate(&self.mac_full(data))
    }

    /// Constant-time comparison of the ICV of `data` with `icv`.
    pub fn verify(&self, data: &[u8], icv: &[u8]) -> bool {
        let mine = self.icv(data);
        bool::from(mine.as_slice().ct_eq(icv))
    }
}

fn truncate(full: &[u8; 20]) -> [u8; ICV_LEN] {
    let mut out = [0u8; ICV_LEN];
    for (o, b) in out.iter_mut().zip(full.iter()) {
        *o = *b;
    }
    out
}

/// An HMAC in progress, fed whole 64-byte blocks.
pub struct Running<'k, H: HashCore> {
    key: &'k HmacKey<H>,
    state: H::State,
    /// Blocks compressed so far, the ipad block included.
    blocks: u64,
}

impl<H: HashCore> Running<'_, H> {
    /// Feeds `data`, whose length must be a multiple of 64 (any remainder is ignored:
    /// pass it to [`finish`](Self::finish)).
    #[inline]
    pub fn update_blocks(&mut self, data: &[u8]) {
        let (chunks, _) = Array::<u8, U64>::slice_as_chunks(data);
        let blocks = Array::cast_slice_to_core(chunks);
        H::compress(&mut self.state, blocks);
        self.blocks = self.blocks.wrapping_add(blocks.len() as u64);
    }

    /// Finishes with the last bytes (any length) and returns the full HMAC.
    pub fn finish_full(mut self, tail: &[u8]) -> [u8; 20] {
        let whole = tail.len().saturating_sub(tail.len() % BLOCK);
        let (head, rest) = tail.split_at(whole);
        self.update_blocks(head);
        let bits = self
            .blocks
            .wrapping_mul(BLOCK as u64)
            .wrapping_add(rest.len() as u64)
            .wrapping_mul(8);
        let mut buf = [0u8; 2 * BLOCK];
        let n = rest.len();
        for (o, b) in buf.iter_mut().zip(rest.iter()) {
            *o = *b;
        }
        let total = if n < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
        if let Some(b) = buf.get_mut(n) {
            *b = 0x80;
        }
        let len_bytes = if H::BIG_ENDIAN {
            bits.to_be_bytes()
        } else {
            bits.to_le_bytes()
        };
        if let Some(dst) = buf.get_mut(total.saturating_sub(8)..total) {
            dst.copy_from_slice(&len_bytes);
        }
        if let Some(used) = buf.get(..total) {
            self.update_blocks(used);
        }
        let mut inner = [0u8; 20];
        H::output(&self.state, &mut inner);
        // Outer hash: opad state, then the inner digest in one padded block.
        let mut block = [0u8; BLOCK];
        for (o, b) in block.iter_mut().zip(inner.iter().take(H::OUT_LEN)) {
            *o = *b;
        }
        if let Some(b) = block.get_mut(H::OUT_LEN) {
            *b = 0x80;
        }
        let outer_bits = ((BLOCK as u64).saturating_add(H::OUT_LEN as u64)).saturating_mul(8);
        let len_bytes = if H::BIG_ENDIAN {
            outer_bits.to_be_bytes()
        } else {
            outer_bits.to_le_bytes()
        };
        if let Some(dst) = block.get_mut(BLOCK - 8..) {
            dst.copy_from_slice(&len_bytes);
        }
        let mut outer = self.key.outer;
        H::compress(&mut outer, core::slice::from_ref(&block));
        let mut out = [0u8; 20];
        H::output(&outer, &mut out);
        out
    }

    /// Finishes and returns the 96-bit ICV.
    pub fn finish(self, tail: &[u8]) -> [u8; ICV_LEN] {
        truncate(&self.finish_full(tail))
    }
}

/// The integrity transform of an SA.
#[derive(Debug)]
pub enum Integrity {
    /// No ICV.
    None,
    /// HMAC-MD5-96.
    Md5(HmacKey<Md5>),
    /// HMAC-SHA1-96.
    Sha1(HmacKey<Sha1>),
}

impl Integrity {
    /// ICV length.
    pub fn icv_len(&self) -> usize {
        match self {
            Integrity::None => 0,
            _ => ICV_LEN,
        }
    }

    /// ICV of `data` (empty array meaning for `None` is not used: callers check `icv_len`).
    pub fn icv(&self, data: &[u8]) -> [u8; ICV_LEN] {
        match self {
            Integrity::None => [0; ICV_LEN],
            Integrity::Md5(k) => k.icv(data),
            Integrity::Sha1(k) => k.icv(data),
        }
    }

    /// Constant-time check.
    pub fn verify(&self, data: &[u8], icv: &[u8]) -> bool {
        match self {
            Integrity::None => icv.is_empty(),
            Integrity::Md5(k) => k.verify(data, icv),
            Integrity::Sha1(k) => k.verify(data, icv),
        }
    }
}
