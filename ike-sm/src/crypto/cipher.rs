//! CBC encryption of ISAKMP message bodies (RFC 2408 section 3.1 E-bit, RFC 2409
//! section 5.3 and Appendix B): DES, 3DES and AES-CBC with 128/192/256-bit keys.
//!
//! Padding: we send the body padded with zeros up to the block size (nothing when it is
//! already a multiple). On receive the padding is never interpreted — the payload chain's
//! own lengths end the message — so both the zero padding and the RFC 2409 style (pad
//! length in the last byte) are accepted.

use super::iv::{IncomingIv, Iv, IvChain};
use crate::error::SmError;
use aes::{Aes128, Aes192, Aes256};
use cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit,
    KeyIvInit,
};
use esp::des_table::{DesFast, TdesFast};
use pix_primitives::Secret;

/// A DES or 3DES key schedule, built once per ISAKMP SA (`esp::des_table`, the
/// table-driven DES of the ESP transforms, checked against the NIST vectors there and,
/// through `IkeCipher`, in `tests/cipher_kat.rs`). Zeroized on drop by `esp`.
enum DesKeys {
    Single(DesFast),
    Triple(Box<TdesFast>),
}

impl core::fmt::Debug for DesKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl DesKeys {
    fn new(alg: CipherAlg, key: &[u8]) -> Option<Self> {
        match alg {
            CipherAlg::Des => DesFast::new_from_slice(key).ok().map(Self::Single),
            CipherAlg::TripleDes => TdesFast::new_from_slice(key)
                .ok()
                .map(|c| Self::Triple(Box::new(c))),
            _ => None,
        }
    }

    /// CBC over whole blocks of `body`.
    fn cbc(&self, iv: &[u8], body: &mut [u8], encrypt: bool) -> Result<(), ()> {
        let iv = u64::from_be_bytes(<[u8; 8]>::try_from(iv).map_err(|_| ())?);
        if body.len() % 8 != 0 {
            return Err(());
        }
        match (self, encrypt) {
            (Self::Single(c), true) => {
                esp::des_table::cbc_encrypt(c, iv, body);
            }
            (Self::Single(c), false) => esp::des_table::cbc_decrypt(c, iv, body),
            (Self::Triple(c), true) => {
                esp::des_table::cbc_encrypt(&**c, iv, body);
            }
            (Self::Triple(c), false) => esp::des_table::cbc_decrypt(&**c, iv, body),
        }
        Ok(())
    }
}

/// Phase-1 `Encryption Algorithm` with its key length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherAlg {
    /// DES-CBC (attribute value 1), 8-byte key.
    Des,
    /// 3DES-CBC, EDE with three keys (attribute value 5), 24-byte key.
    TripleDes,
    /// AES-CBC (attribute value 7) with Key Length 128.
    Aes128,
    /// AES-CBC with Key Length 192.
    Aes192,
    /// AES-CBC with Key Length 256.
    Aes256,
}

impl CipherAlg {
    /// From the phase-1 `Encryption Algorithm` and `Key Length` (bits) attributes.
    /// AES requires a key length; DES and 3DES accept only none or their own size.
    ///
    /// # Errors
    /// [`SmError::UnsupportedCipher`] otherwise.
    pub fn from_attributes(alg: u16, key_bits: Option<u16>) -> Result<Self, SmError> {
        match (alg, key_bits) {
            (1, None | Some(64)) => Ok(Self::Des),
            (5, None | Some(192)) => Ok(Self::TripleDes),
            (7, Some(128)) => Ok(Self::Aes128),
            (7, Some(192)) => Ok(Self::Aes192),
            (7, Some(256)) => Ok(Self::Aes256),
            _ => Err(SmError::UnsupportedCipher { alg, key_bits }),
        }
    }

    /// The `Encryption Algorithm` attribute value.
    #[must_use]
    pub fn attribute(self) -> u16 {
        match self {
            Self::Des => 1,
            Self::TripleDes => 5,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 7,
        }
    }

    /// The `Key Length` attribute to send (AES only).
    #[must_use]
    pub fn key_length_attribute(self) -> Option<u16> {
        match self {
            Self::Des | Self::TripleDes => None,
            Self::Aes128 => Some(128),
            Self::Aes192 => Some(192),
            Self::Aes256 => Some(256),
        }
    }

    /// Key length in bytes.
    #[must_use]
    pub fn key_len(self) -> usize {
        match self {
            Self::Des => 8,
            Self::TripleDes | Self::Aes192 => 24,
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }

    /// Block (and IV) size in bytes.
    #[must_use]
    pub fn block_size(self) -> usize {
        match self {
            Self::Des | Self::TripleDes => 8,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
        }
    }

    /// The body length after padding `plain_len` bytes up to the block size.
    #[must_use]
    pub fn padded_len(self, plain_len: usize) -> usize {
        let b = self.block_size();
        plain_len.div_ceil(b).saturating_mul(b)
    }
}

/// The ISAKMP SA cipher: algorithm and key (zeroized on drop, never printed).
#[derive(Debug)]
pub struct IkeCipher {
    alg: CipherAlg,
    key: Secret,
    /// The DES/3DES key schedule (`None` for AES).
    des: Option<DesKeys>,
}

impl IkeCipher {
    /// A cipher with its key (see [`super::phase1::Skeyids::encryption_key`]).
    ///
    /// # Errors
    /// [`SmError::KeyLength`] when the key does not fit the algorithm.
    pub fn new(alg: CipherAlg, key: Secret) -> Result<Self, SmError> {
        if key.len() != alg.key_len() {
            return Err(SmError::KeyLength {
                what: "ISAKMP encryption",
                expected: alg.key_len(),
                got: key.len(),
            });
        }
        let des = DesKeys::new(alg, key.expose_secret());
        Ok(Self { alg, key, des })
    }

    /// The algorithm.
    #[must_use]
    pub fn alg(&self) -> CipherAlg {
        self.alg
    }

    fn des_cbc(&self, iv: &[u8], body: &mut [u8], encrypt: bool) -> Result<(), ()> {
        self.des.as_ref().ok_or(())?.cbc(iv, body, encrypt)
    }

    /// Zero-pads `buf[..plain_len]` to the block size and encrypts it in place with `iv`.
    /// Returns the encrypted length (`alg().padded_len(plain_len)`); the bytes after it are
    /// untouched. The last block of `buf[..returned]` is the next IV of the exchange.
    ///
    /// # Errors
    /// [`SmError::BufferTooSmall`] when `buf` cannot hold the padding,
    /// [`SmError::IvLength`] when `iv` is not one block.
    pub fn encrypt_in_place(
        &self,
        iv: &Iv,
        buf: &mut [u8],
        plain_len: usize,
    ) -> Result<usize, SmError> {
        let total = self.alg.padded_len(plain_len.max(1));
        let got = buf.len();
        let body = buf
            .get_mut(..total)
            .ok_or(SmError::BufferTooSmall { needed: total, got })?;
        if let Some(pad) = body.get_mut(plain_len..) {
            pad.fill(0);
        }
        self.check_iv(iv)?;
        let (k, v) = (self.key.expose_secret(), iv.as_bytes());
        let r = match self.alg {
            CipherAlg::Des | CipherAlg::TripleDes => self.des_cbc(v, body, true),
            CipherAlg::Aes128 => cbc_encrypt::<Aes128>(k, v, body),
            CipherAlg::Aes192 => cbc_encrypt::<Aes192>(k, v, body),
            CipherAlg::Aes256 => cbc_encrypt::<Aes256>(k, v, body),
        };
        r.map(|()| total).map_err(|()| self.key_error())
    }

    /// Decrypts an encrypted body (everything after the 28-byte ISAKMP header) in place.
    /// Padding is left in place: the payload chain's lengths say where the message ends.
    /// Save the last ciphertext block (the next IV) before calling, or use
    /// [`super::iv::IvChain::advance`] on the ciphertext first.
    ///
    /// # Errors
    /// [`SmError::CiphertextLength`] when the body is empty or not a multiple of the
    /// block, [`SmError::IvLength`] when `iv` is not one block.
    pub fn decrypt_in_place(&self, iv: &Iv, body: &mut [u8]) -> Result<(), SmError> {
        let block = self.alg.block_size();
        if body.is_empty() || body.len().checked_rem(block) != Some(0) {
            return Err(SmError::CiphertextLength {
                len: body.len(),
                block,
            });
        }
        self.check_iv(iv)?;
        let (k, v) = (self.key.expose_secret(), iv.as_bytes());
        let r = match self.alg {
            CipherAlg::Des | CipherAlg::TripleDes => self.des_cbc(v, body, false),
            CipherAlg::Aes128 => cbc_decrypt::<Aes128>(k, v, body),
            CipherAlg::Aes192 => cbc_decrypt::<Aes192>(k, v, body),
            CipherAlg::Aes256 => cbc_decrypt::<Aes256>(k, v, body),
        };
        r.map_err(|()| self.key_error())
    }

    /// Encrypts the next message of an exchange: pads and encrypts `buf[..plain_len]` with
    /// the chain's current IV, then advances the chain to the new last block (a message we
    /// send is final). Returns the encrypted length.
    ///
    /// # Errors
    /// As [`IkeCipher::encrypt_in_place`]; the chain is unchanged on error.
    pub fn encrypt_next(
        &self,
        chain: &mut IvChain,
        buf: &mut [u8],
        plain_len: usize,
    ) -> Result<usize, SmError> {
        let n = self.encrypt_in_place(chain.current(), buf, plain_len)?;
        chain.advance(buf.get(..n).unwrap_or_default())?;
        Ok(n)
    }

    /// Decrypts an incoming message of an exchange in place, choosing the IV with
    /// [`IvChain::incoming`] (a retransmission gets its original IV). The chain is *not*
    /// advanced: call [`Decrypted::accept`] once the message's HASH has verified, so that
    /// a forged or corrupted message cannot desynchronise the exchange.
    ///
    /// # Errors
    /// As [`IkeCipher::decrypt_in_place`].
    pub fn decrypt_next(&self, chain: &IvChain, body: &mut [u8]) -> Result<Decrypted, SmError> {
        let incoming = chain.incoming(body);
        let next = Iv::after(body, self.alg.block_size())?;
        self.decrypt_in_place(incoming.iv(), body)?;
        Ok(Decrypted { incoming, next })
    }

    fn check_iv(&self, iv: &Iv) -> Result<(), SmError> {
        if iv.len() == self.alg.block_size() {
            Ok(())
        } else {
            Err(SmError::IvLength {
                expected: self.alg.block_size(),
                got: iv.len(),
            })
        }
    }

    fn key_error(&self) -> SmError {
        SmError::KeyLength {
            what: "ISAKMP encryption",
            expected: self.alg.key_len(),
            got: self.key.len(),
        }
    }
}

/// The outcome of [`IkeCipher::decrypt_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "accept() the message once its HASH verifies, or the IV chain stalls"]
pub struct Decrypted {
    incoming: IncomingIv,
    next: Iv,
}

impl Decrypted {
    /// Whether this was a byte-identical retransmission of a message already in the chain
    /// (answer it with the stored reply; do not process it again).
    #[must_use]
    pub fn is_retransmission(&self) -> bool {
        matches!(self.incoming, IncomingIv::Retransmission(_))
    }

    /// The IV the message was decrypted with.
    #[must_use]
    pub fn iv(&self) -> &Iv {
        self.incoming.iv()
    }

    /// The message authenticated: advance the chain past it (a retransmission leaves the
    /// chain where it is).
    pub fn accept(self, chain: &mut IvChain) {
        if !self.is_retransmission() {
            chain.advance_to(self.next);
        }
    }
}

fn cbc_encrypt<C: BlockCipherEncrypt + KeyInit>(
    key: &[u8],
    iv: &[u8],
    body: &mut [u8],
) -> Result<(), ()> {
    let mut enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(|_| ())?;
    let (blocks, rest) = Array::slice_as_chunks_mut(body);
    if !rest.is_empty() {
        return Err(());
    }
    enc.encrypt_blocks(blocks);
    Ok(())
}

fn cbc_decrypt<C: BlockCipherDecrypt + KeyInit>(
    key: &[u8],
    iv: &[u8],
    body: &mut [u8],
) -> Result<(), ()> {
    let mut dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| ())?;
    let (blocks, rest) = Array::slice_as_chunks_mut(body);
    if !rest.is_empty() {
        return Err(());
    }
    dec.decrypt_blocks(blocks);
    Ok(())
}
