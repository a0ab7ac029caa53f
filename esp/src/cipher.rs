//! The CBC ciphers of ESP (DES, 3DES, AES-128/192/256, NULL), keyed once per SA,
//! and the encrypt-then-MAC / verify-then-decrypt loops over a packet buffer.
//!
//! Encrypt-then-MAC runs as two passes (CBC over the whole payload, then the HMAC
//! over header, IV and ciphertext with multi-block compression calls). Interleaving
//! the MAC into the CBC chain at 64..512-byte strides was measured 10-30% slower
//! than the two passes: without intrinsics (this crate forbids `unsafe`) the two
//! cannot share one instruction stream, and the extra calls cost more than the
//! overlap wins.

use crate::des_table::{Block64, DesFast, TdesFast};
use crate::error::EspError;
use crate::hmac96::{HashCore, HmacKey, Integrity, ICV_LEN};
use crate::params::EncryptionAlgorithm;
use aes::{Aes128, Aes192, Aes256};
use cipher::{
    Array, Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt,
    InnerIvInit, KeyInit,
};

/// A keyed ESP cipher (the key schedule is computed once per SA).
pub struct EspCipher(Inner);

enum Inner {
    Null,
    Des(DesFast),
    TripleDes(TdesFast),
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

impl core::fmt::Debug for EspCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match &self.0 {
            Inner::Null => "Null",
            Inner::Des(_) => "Des",
            Inner::TripleDes(_) => "TripleDes",
            Inner::Aes128(_) => "Aes128",
            Inner::Aes192(_) => "Aes192",
            Inner::Aes256(_) => "Aes256",
        };
        write!(f, "{name}(<redacted>)")
    }
}

fn key_err(expected: usize, got: usize) -> EspError {
    EspError::InvalidKeyLength {
        what: "encryption",
        expected,
        got,
    }
}

impl EspCipher {
    /// Keys `alg` with `key` (of `alg.key_len()` bytes).
    pub fn new(alg: EncryptionAlgorithm, key: &[u8]) -> Result<Self, EspError> {
        let expected = alg.key_len();
        if key.len() != expected {
            return Err(key_err(expected, key.len()));
        }
        let bad = key_err(expected, key.len());
        Ok(EspCipher(match alg {
            EncryptionAlgorithm::Null => Inner::Null,
            EncryptionAlgorithm::Des => {
                Inner::Des(DesFast::new_from_slice(key).map_err(|_| bad.clone())?)
            }
            EncryptionAlgorithm::TripleDes => {
                Inner::TripleDes(TdesFast::new_from_slice(key).map_err(|_| bad.clone())?)
            }
            EncryptionAlgorithm::Aes128 => {
                Inner::Aes128(Aes128::new_from_slice(key).map_err(|_| bad.clone())?)
            }
            EncryptionAlgorithm::Aes192 => {
                Inner::Aes192(Aes192::new_from_slice(key).map_err(|_| bad.clone())?)
            }
            EncryptionAlgorithm::Aes256 => {
                Inner::Aes256(Aes256::new_from_slice(key).map_err(|_| bad.clone())?)
            }
        }))
    }

    fn block_len(&self) -> usize {
        match &self.0 {
            Inner::Null => 1,
            Inner::Des(_) | Inner::TripleDes(_) => 8,
            _ => 16,
        }
    }

    fn check_cbc_args(&self, iv: &[u8], data: &[u8]) -> Result<usize, EspError> {
        let bs = self.block_len();
        if data.len().checked_rem(bs) != Some(0) {
            return Err(EspError::Misaligned {
                spi: 0,
                len: data.len(),
                block: bs,
            });
        }
        let iv_len = if bs == 1 { 0 } else { bs };
        if iv.len() != iv_len {
            return Err(EspError::InvalidKeyLength {
                what: "IV",
                expected: iv_len,
                got: iv.len(),
            });
        }
        Ok(iv_len)
    }

    /// Raw CBC encryption of `data` (a whole number of blocks) with `iv`, in place.
    /// A helper for known-answer tests and tools: it allocates a scratch buffer, so
    /// the packet path does not use it.
    pub fn encrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), EspError> {
        let iv_len = self.check_cbc_args(iv, data)?;
        let mut buf = Vec::with_capacity(iv_len.saturating_add(data.len()));
        buf.extend_from_slice(iv);
        buf.extend_from_slice(data);
        let end = buf.len();
        let _ = self.encrypt_and_mac(&Integrity::None, &mut buf, iv_len, end);
        data.copy_from_slice(buf.get(iv_len..).unwrap_or_default());
        Ok(())
    }

    /// Raw CBC decryption of `data` (a whole number of blocks) with `iv`, in place.
    /// Allocates a scratch buffer, like [`encrypt_cbc`](Self::encrypt_cbc).
    pub fn decrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), EspError> {
        let iv_len = self.check_cbc_args(iv, data)?;
        let mut buf = Vec::with_capacity(iv_len.saturating_add(data.len()));
        buf.extend_from_slice(iv);
        buf.extend_from_slice(data);
        let end = buf.len();
        self.decrypt(&mut buf, iv_len, end);
        data.copy_from_slice(buf.get(iv_len..).unwrap_or_default());
        Ok(())
    }

    /// Encrypts `packet[ct_start..ct_end]` in CBC mode with the IV that sits just
    /// before `ct_start`, and returns the ICV over `packet[..ct_end]`.
    /// `ct_end - ct_start` must be a multiple of the block size (callers ensure it).
    pub(crate) fn encrypt_and_mac(
        &self,
        integrity: &Integrity,
        packet: &mut [u8],
        ct_start: usize,
        ct_end: usize,
    ) -> [u8; ICV_LEN] {
        match integrity {
            Integrity::None => {
                self.encrypt_mac_with::<crate::hmac96::Sha1>(None, packet, ct_start, ct_end);
                [0; ICV_LEN]
            }
            Integrity::Md5(k) => self.encrypt_mac_with(Some(k), packet, ct_start, ct_end),
            Integrity::Sha1(k) => self.encrypt_mac_with(Some(k), packet, ct_start, ct_end),
        }
    }

    fn encrypt_mac_with<H: HashCore>(
        &self,
        mac: Option<&HmacKey<H>>,
        packet: &mut [u8],
        ct_start: usize,
        ct_end: usize,
    ) -> [u8; ICV_LEN] {
        match &self.0 {
            Inner::Null => match mac {
                Some(k) => packet.get(..ct_end).map(|d| k.icv(d)).unwrap_or_default(),
                None => [0; ICV_LEN],
            },
            Inner::Des(c) => cbc64_encrypt_mac(c, mac, packet, ct_start, ct_end),
            Inner::TripleDes(c) => cbc64_encrypt_mac(c, mac, packet, ct_start, ct_end),
            Inner::Aes128(c) => cbc_encrypt_mac(c, mac, packet, ct_start, ct_end),
            Inner::Aes192(c) => cbc_encrypt_mac(c, mac, packet, ct_start, ct_end),
            Inner::Aes256(c) => cbc_encrypt_mac(c, mac, packet, ct_start, ct_end),
        }
    }

    /// Checks the ICV at `packet[ct_end..]` over `packet[..ct_end]` and decrypts
    /// `packet[ct_start..ct_end]` in place. For AES with an HMAC the two are stitched:
    /// each 64-byte chunk is hashed, then the blocks hashed one step earlier are
    /// decrypted (both read only ciphertext, so the processor runs them side by side).
    /// Returns whether the ICV matched; when it did not, the packet is as it was (the
    /// decrypted part is encrypted again, which CBC restores exactly).
    pub(crate) fn verify_decrypt(
        &self,
        integrity: &Integrity,
        packet: &mut [u8],
        ct_start: usize,
        ct_end: usize,
    ) -> bool {
        match integrity {
            Integrity::Sha1(k) => self.verify_decrypt_with(k, packet, ct_start, ct_end),
            Integrity::Md5(k) => self.verify_decrypt_with(k, packet, ct_start, ct_end),
            Integrity::None => {
                let ok = packet.len() == ct_end;
                if ok {
                    self.decrypt(packet, ct_start, ct_end);
                }
                ok
            }
        }
    }

    fn verify_decrypt_with<H: HashCore>(
        &self,
        mac: &HmacKey<H>,
        packet: &mut [u8],
        ct_start: usize,
        ct_end: usize,
    ) -> bool {
        match &self.0 {
            Inner::Aes128(c) => cbc_verify_decrypt(c, mac, packet, ct_start, ct_end),
            Inner::Aes192(c) => cbc_verify_decrypt(c, mac, packet, ct_start, ct_end),
            Inner::Aes256(c) => cbc_verify_decrypt(c, mac, packet, ct_start, ct_end),
            Inner::Null | Inner::Des(_) | Inner::TripleDes(_) => {
                let ok = {
                    let (data, icv) = packet.split_at(ct_end.min(packet.len()));
                    mac.verify(data, icv)
                };
                if ok {
                    self.decrypt(packet, ct_start, ct_end);
                }
                ok
            }
        }
    }

    /// Decrypts `packet[ct_start..ct_end]` in place (IV just before `ct_start`).
    pub(crate) fn decrypt(&self, packet: &mut [u8], ct_start: usize, ct_end: usize) {
        match &self.0 {
            Inner::Null => {}
            Inner::Des(c) => cbc64_decrypt(c, packet, ct_start, ct_end),
            Inner::TripleDes(c) => cbc64_decrypt(c, packet, ct_start, ct_end),
            Inner::Aes128(c) => cbc_decrypt(c, packet, ct_start, ct_end),
            Inner::Aes192(c) => cbc_decrypt(c, packet, ct_start, ct_end),
            Inner::Aes256(c) => cbc_decrypt(c, packet, ct_start, ct_end),
        }
    }
}

fn iv_of<C: cipher::BlockSizeUser>(packet: &[u8], ct_start: usize) -> Option<Block<C>> {
    let bs = <C as cipher::BlockSizeUser>::block_size();
    let iv = packet.get(ct_start.checked_sub(bs)?..ct_start)?;
    Array::try_from(iv).ok()
}

fn cbc_encrypt_mac<C: BlockCipherEncrypt, H: HashCore>(
    c: &C,
    mac: Option<&HmacKey<H>>,
    packet: &mut [u8],
    ct_start: usize,
    ct_end: usize,
) -> [u8; ICV_LEN] {
    let Some(iv) = iv_of::<C>(packet, ct_start) else {
        return [0; ICV_LEN];
    };
    let Some(mac) = mac else {
        if let Some(ct) = packet.get_mut(ct_start..ct_end) {
            let (blocks, _) = Array::slice_as_chunks_mut(ct);
            cbc::Encryptor::<&C>::inner_iv_init(c, &iv).encrypt_blocks(blocks);
        }
        return [0; ICV_LEN];
    };
    // Stitched: CBC encryption is one long dependency chain (each block waits for the
    // previous one's last AES round), so the processor has idle execution units; the
    // HMAC of the 64-byte chunk just finished is issued right after the next chunk's
    // blocks, and runs in those gaps (the idea of OpenSSL's stitched AES-CBC-HMAC-SHA1,
    // here at the level of whole blocks, in safe code).
    let mut enc = cbc::Encryptor::<&C>::inner_iv_init(c, &iv);
    let mut run = mac.start();
    let mut hashed = 0usize; // packet[..hashed] is in the HMAC
    let mut done = ct_start; // packet[ct_start..done] is encrypted
    while done < ct_end {
        let next = done.saturating_add(STITCH).min(ct_end);
        if let Some(ct) = packet.get_mut(done..next) {
            let (blocks, _) = Array::slice_as_chunks_mut(ct);
            enc.encrypt_blocks(blocks);
        }
        // hash the whole 64-byte chunks that were ready before this step
        let ready = done.saturating_sub(done % BLOCK64);
        if ready > hashed {
            if let Some(d) = packet.get(hashed..ready) {
                run.update_blocks(d);
            }
            hashed = ready;
        }
        done = next;
    }
    match packet.get(hashed..ct_end) {
        Some(tail) => run.finish(tail),
        None => [0; ICV_LEN],
    }
}

/// Bytes encrypted per step of the stitched loop (two HMAC blocks).
const STITCH: usize = 128;

/// The HMAC block.
const BLOCK64: usize = 64;

fn cbc_verify_decrypt<C: BlockCipherDecrypt + BlockCipherEncrypt, H: HashCore>(
    c: &C,
    mac: &HmacKey<H>,
    packet: &mut [u8],
    ct_start: usize,
    ct_end: usize,
) -> bool {
    let bs = <C as cipher::BlockSizeUser>::block_size();
    let Some(iv) = iv_of::<C>(packet, ct_start) else {
        return false;
    };
    if ct_end > packet.len() || ct_start > ct_end {
        return false;
    }
    let whole = ct_end.saturating_sub(ct_end % BLOCK64);
    let mut dec = cbc::Decryptor::<&C>::inner_iv_init(c, &iv);
    let mut run = mac.start();
    let mut hashed = 0usize; // packet[..hashed] is in the HMAC
    let mut done = ct_start; // packet[ct_start..done] is decrypted
    while hashed < whole {
        // the blocks hashed by the previous step (ciphertext no longer needed)
        let since = hashed.saturating_sub(ct_start);
        let upto =
            ct_start.saturating_add(since.saturating_sub(since.checked_rem(bs).unwrap_or(0)));
        let next = hashed.saturating_add(STITCH).min(whole);
        if let Some(d) = packet.get(hashed..next) {
            run.update_blocks(d);
        }
        hashed = next;
        if upto > done {
            if let Some(ct) = packet.get_mut(done..upto) {
                let (blocks, _) = Array::slice_as_chunks_mut(ct);
                dec.decrypt_blocks(blocks);
            }
            done = upto;
        }
    }
    let ok = match (packet.get(hashed..ct_end), packet.get(ct_end..)) {
        (Some(tail), Some(icv)) => {
            use subtle::ConstantTimeEq as _;
            let mine = run.finish(tail);
            bool::from(mine.as_slice().ct_eq(icv))
        }
        _ => false,
    };
    if ok {
        if let Some(ct) = packet.get_mut(done..ct_end) {
            let (blocks, _) = Array::slice_as_chunks_mut(ct);
            dec.decrypt_blocks(blocks);
        }
    } else if let Some(pt) = packet.get_mut(ct_start..done) {
        // a forgery: put the ciphertext back (CBC encryption with the same IV undoes
        // the decryption exactly), so a refused packet is left as it came
        let (blocks, _) = Array::slice_as_chunks_mut(pt);
        cbc::Encryptor::<&C>::inner_iv_init(c, &iv).encrypt_blocks(blocks);
    }
    ok
}

fn cbc_decrypt<C: BlockCipherDecrypt + cipher::BlockCipherEncrypt>(
    c: &C,
    packet: &mut [u8],
    ct_start: usize,
    ct_end: usize,
) {
    let Some(iv) = iv_of::<C>(packet, ct_start) else {
        return;
    };
    if let Some(ct) = packet.get_mut(ct_start..ct_end) {
        let (blocks, _) = Array::slice_as_chunks_mut(ct);
        cbc::Decryptor::<&C>::inner_iv_init(c, &iv).decrypt_blocks(blocks);
    }
}

fn iv64(packet: &[u8], ct_start: usize) -> Option<u64> {
    let iv = packet.get(ct_start.checked_sub(8)?..ct_start)?;
    <[u8; 8]>::try_from(iv).ok().map(u64::from_be_bytes)
}

fn cbc64_encrypt_mac<C: Block64, H: HashCore>(
    c: &C,
    mac: Option<&HmacKey<H>>,
    packet: &mut [u8],
    ct_start: usize,
    ct_end: usize,
) -> [u8; ICV_LEN] {
    let Some(iv) = iv64(packet, ct_start) else {
        return [0; ICV_LEN];
    };
    if let Some(ct) = packet.get_mut(ct_start..ct_end) {
        crate::des_table::cbc_encrypt(c, iv, ct);
    }
    match (mac, packet.get(..ct_end)) {
        (Some(mac), Some(data)) => mac.icv(data),
        _ => [0; ICV_LEN],
    }
}

fn cbc64_decrypt<C: Block64>(c: &C, packet: &mut [u8], ct_start: usize, ct_end: usize) {
    let Some(iv) = iv64(packet, ct_start) else {
        return;
    };
    if let Some(ct) = packet.get_mut(ct_start..ct_end) {
        crate::des_table::cbc_decrypt(c, iv, ct);
    }
}
