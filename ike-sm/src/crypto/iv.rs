//! Initialization vectors of the ISAKMP SA (RFC 2409 section 5.3 and Appendix B).
//!
//! * Phase 1: `IV = hash(g^xi | g^xr)`, truncated to the cipher block.
//! * Every later exchange (Quick Mode, Informational, Transaction) starts from
//!   `hash(last phase-1 CBC block | M-ID)`, truncated.
//! * Within an exchange, the last ciphertext block of each message is the next IV.
//!
//! The last rule breaks on retransmissions: a byte-identical copy of the last message
//! must be decrypted with the IV that decrypted the original, not with the advanced one
//! (tshark gets this wrong on frame 8 of ikev1-certs.pcap). [`IvChain`] remembers the last
//! block of each message of the exchange and recognises a retransmission by it.

use super::hash::HashAlg;
use crate::error::SmError;

/// The largest block of the ciphers here (AES).
pub const MAX_BLOCK: usize = 16;

/// A CBC IV of 8 (DES, 3DES) or 16 (AES) bytes. Not secret: it is derived from public
/// values and sent in the clear as ciphertext.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Iv {
    bytes: [u8; MAX_BLOCK],
    len: usize,
}

impl core::fmt::Debug for Iv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Iv(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Iv {
    /// An IV from its bytes (1 to 16 of them; ciphers check the exact block size).
    ///
    /// # Errors
    /// [`SmError::IvLength`] for an empty or over-long slice.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SmError> {
        let mut out = [0u8; MAX_BLOCK];
        match out.get_mut(..bytes.len()) {
            Some(dst) if !bytes.is_empty() => {
                dst.copy_from_slice(bytes);
                Ok(Self {
                    bytes: out,
                    len: bytes.len(),
                })
            }
            _ => Err(SmError::IvLength {
                expected: MAX_BLOCK,
                got: bytes.len(),
            }),
        }
    }

    /// The phase-1 IV: `hash(g^xi | g^xr)` truncated to `block_size` bytes. `g^xi` and
    /// `g^xr` are the KE payload bodies of initiator and responder.
    ///
    /// # Errors
    /// [`SmError::IvLength`] when `block_size` exceeds the hash output or 16.
    pub fn phase1(
        hash: HashAlg,
        g_xi: &[u8],
        g_xr: &[u8],
        block_size: usize,
    ) -> Result<Self, SmError> {
        Self::truncated(&hash.digest(&[g_xi, g_xr]), block_size)
    }

    /// The first IV of a later exchange: `hash(last phase-1 CBC block | M-ID)` truncated.
    ///
    /// # Errors
    /// [`SmError::IvLength`] when `block_size` exceeds the hash output or 16.
    pub fn for_message_id(
        hash: HashAlg,
        last_phase1_block: &Iv,
        message_id: u32,
        block_size: usize,
    ) -> Result<Self, SmError> {
        Self::truncated(
            &hash.digest(&[last_phase1_block.as_bytes(), &message_id.to_be_bytes()]),
            block_size,
        )
    }

    /// The IV that follows `ciphertext`: its last `block_size` bytes.
    ///
    /// # Errors
    /// [`SmError::CiphertextLength`] when the ciphertext is shorter than one block.
    pub fn after(ciphertext: &[u8], block_size: usize) -> Result<Self, SmError> {
        let start = ciphertext
            .len()
            .checked_sub(block_size)
            .filter(|_| block_size > 0 && block_size <= MAX_BLOCK)
            .ok_or(SmError::CiphertextLength {
                len: ciphertext.len(),
                block: block_size,
            })?;
        Self::from_slice(ciphertext.get(start..).unwrap_or_default())
    }

    fn truncated(digest: &[u8], block_size: usize) -> Result<Self, SmError> {
        match digest.get(..block_size) {
            Some(b) if block_size <= MAX_BLOCK => Self::from_slice(b),
            _ => Err(SmError::IvLength {
                expected: block_size,
                got: digest.len().min(MAX_BLOCK),
            }),
        }
    }

    /// The IV bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (an `Iv` has at least one byte); for clippy's `len_without_is_empty`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How many past messages of one exchange an [`IvChain`] remembers for recognising
/// retransmissions (an exchange has at most three or four messages).
pub const CHAIN_HISTORY: usize = 4;

/// The IV state of one exchange (phase 1, or one message ID after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvChain {
    current: Iv,
    /// `(IV that message used, that message's last block)`, newest first.
    history: [Option<(Iv, Iv)>; CHAIN_HISTORY],
}

/// Which IV decrypts an incoming message, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingIv {
    /// A new message: decrypt with this IV, then [`IvChain::advance`].
    Fresh(Iv),
    /// The last block equals that of an earlier message of this exchange: a byte-identical
    /// retransmission. Decrypt with the IV the original used, and do not advance.
    Retransmission(Iv),
}

impl IncomingIv {
    /// The IV to decrypt with.
    #[must_use]
    pub fn iv(&self) -> &Iv {
        match self {
            Self::Fresh(iv) | Self::Retransmission(iv) => iv,
        }
    }
}

impl IvChain {
    /// A chain starting at `iv` (the phase-1 IV, or [`Iv::for_message_id`]).
    #[must_use]
    pub fn new(iv: Iv) -> Self {
        Self {
            current: iv,
            history: [None; CHAIN_HISTORY],
        }
    }

    /// The IV for the next new message, sent or received.
    #[must_use]
    pub fn current(&self) -> &Iv {
        &self.current
    }

    /// Classifies an incoming encrypted body (everything after the ISAKMP header): a
    /// message whose last block is that of a message already in the chain is a
    /// retransmission of it, and gets that message's IV.
    #[must_use]
    pub fn incoming(&self, ciphertext: &[u8]) -> IncomingIv {
        let block = self.current.len();
        let last = ciphertext
            .len()
            .checked_sub(block)
            .and_then(|s| ciphertext.get(s..));
        if let Some(last) = last {
            for (used, tail) in self.history.iter().flatten() {
                if tail.as_bytes() == last {
                    return IncomingIv::Retransmission(*used);
                }
            }
        }
        IncomingIv::Fresh(self.current)
    }

    /// Moves the chain past a new message (sent or received) whose encrypted body is
    /// `ciphertext`: its last block becomes the current IV.
    ///
    /// # Errors
    /// [`SmError::CiphertextLength`] when the body is shorter than one block.
    pub fn advance(&mut self, ciphertext: &[u8]) -> Result<(), SmError> {
        let next = Iv::after(ciphertext, self.current.len())?;
        self.advance_to(next);
        Ok(())
    }

    /// Moves the chain to `next` (the last ciphertext block of the message just sent or
    /// accepted), remembering it for retransmission detection.
    pub fn advance_to(&mut self, next: Iv) {
        self.history.rotate_right(1);
        if let Some(first) = self.history.first_mut() {
            *first = Some((self.current, next));
        }
        self.current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_slice_bounds() {
        assert!(Iv::from_slice(&[]).is_err());
        assert!(Iv::from_slice(&[0; 17]).is_err());
        assert_eq!(Iv::from_slice(&[7; 8]).unwrap().as_bytes(), &[7; 8]);
        assert!(Iv::after(&[0; 7], 8).is_err());
        assert!(Iv::after(&[0; 8], 0).is_err());
        assert_eq!(
            Iv::after(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 8)
                .unwrap()
                .as_bytes(),
            &[2, 3, 4, 5, 6, 7, 8, 9]
        );
        // MD5 output is 16 bytes: no AES IV beyond that, and never more than 16.
        assert!(Iv::phase1(HashAlg::Md5, b"a", b"b", 17).is_err());
        assert_eq!(Iv::phase1(HashAlg::Md5, b"a", b"b", 16).unwrap().len(), 16);
    }

    #[test]
    fn chain_and_retransmission() {
        let iv0 = Iv::from_slice(&[0; 8]).unwrap();
        let mut chain = IvChain::new(iv0);
        let m1 = [1u8; 16];
        assert_eq!(chain.incoming(&m1), IncomingIv::Fresh(iv0));
        chain.advance(&m1).unwrap();
        assert_eq!(chain.current().as_bytes(), &[1; 8]);
        // The same message again: decrypt with iv0, chain unchanged.
        assert_eq!(chain.incoming(&m1), IncomingIv::Retransmission(iv0));
        let m2 = [2u8; 8];
        assert_eq!(chain.incoming(&m2), IncomingIv::Fresh(*chain.current()));
        assert!(chain.advance(&[0; 3]).is_err());
        // We answer (m2 goes out), then the peer retransmits m1 again: still its old IV.
        chain.advance(&m2).unwrap();
        assert_eq!(chain.current().as_bytes(), &[2; 8]);
        assert_eq!(chain.incoming(&m1), IncomingIv::Retransmission(iv0));
        assert_eq!(
            chain.incoming(&m2),
            IncomingIv::Retransmission(Iv::from_slice(&[1; 8]).unwrap())
        );
    }
}
