//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in `ike-sm`.
///
/// Each variant says what was wrong and where (which value, which length). Errors never
/// carry secret material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SmError {
    /// A phase-1 `Group Description` attribute value we do not implement.
    #[error("unsupported Diffie-Hellman group {0} (supported: 1, 2, 5, 14)")]
    UnsupportedGroup(u16),
    /// A phase-1 `Encryption Algorithm` attribute (with its key length) we do not implement.
    #[error("unsupported encryption algorithm {alg} with key length {key_bits:?} bits")]
    UnsupportedCipher {
        /// The `Encryption Algorithm` attribute value (1 DES, 5 3DES, 7 AES-CBC).
        alg: u16,
        /// The `Key Length` attribute in bits, if any was given.
        key_bits: Option<u16>,
    },
    /// A phase-1 `Hash Algorithm` attribute value we do not implement.
    #[error("unsupported hash algorithm {0} (supported: 1 MD5, 2 SHA, 4 SHA2-256)")]
    UnsupportedHash(u16),
    /// The peer's Diffie-Hellman public value (KE payload data) has the wrong length.
    #[error("Diffie-Hellman public value of group {group} is {got} bytes, expected {expected}")]
    PublicValueLength {
        /// Group number.
        group: u16,
        /// Required length: the modulus length in bytes (RFC 2409 section 5).
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// The peer's Diffie-Hellman public value is outside 1 < y < p-1.
    #[error("Diffie-Hellman public value of group {group} is out of range (need 1 < y < p-1)")]
    PublicValueRange {
        /// Group number.
        group: u16,
    },
    /// A bounded private exponent size outside what we accept.
    #[error(
        "private exponent of {bits} bits is not allowed for group {group} (allowed {min}..={max})"
    )]
    ExponentSize {
        /// Group number.
        group: u16,
        /// Requested size.
        bits: u32,
        /// Smallest allowed size.
        min: u32,
        /// Largest allowed size (the modulus size).
        max: u32,
    },
    /// A key of the wrong length was given to a cipher.
    #[error("{what} key is {got} bytes, expected {expected}")]
    KeyLength {
        /// Which key.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// An IV shorter than the cipher's block.
    #[error("IV is {got} bytes, the cipher block is {expected}")]
    IvLength {
        /// Block size of the cipher.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// Ciphertext whose length is not a positive multiple of the cipher block.
    #[error("encrypted body of {len} bytes is not a multiple of the {block}-byte cipher block")]
    CiphertextLength {
        /// Length of the encrypted body (after the ISAKMP header).
        len: usize,
        /// Block size of the cipher.
        block: usize,
    },
    /// A caller buffer too small for the padded plaintext.
    #[error("buffer of {got} bytes cannot hold {needed} bytes of padded plaintext")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A requested derived-key length beyond what the expansion allows.
    #[error("requested {requested} bytes of {what}, at most {max} allowed")]
    OutputTooLong {
        /// Which value was being expanded.
        what: &'static str,
        /// Requested length.
        requested: usize,
        /// Upper bound.
        max: usize,
    },
    /// A message did not parse (the wire error says what and where).
    #[error("ISAKMP message: {0}")]
    Wire(#[from] isakmp_wire::WireError),
    /// A message broke the exchange's rules (a payload missing, wrong exchange, ...).
    #[error("{exchange}: {what}")]
    Protocol {
        /// Which exchange.
        exchange: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// A HASH did not verify.
    #[error("{what} did not verify")]
    HashMismatch {
        /// Which hash (HASH_I, HASH_R, HASH(1), ...).
        what: &'static str,
    },
    /// A command named an SA this endpoint does not have.
    #[error("no IKE SA {0}")]
    UnknownSa(u64),
    /// A command that needs an established phase 1 was given too early.
    #[error("IKE SA {0} is not established")]
    NotEstablished(u64),
    /// A configured bound was reached.
    #[error("limit reached: {what} (at most {max})")]
    Limit {
        /// Which bound.
        what: &'static str,
        /// Its value.
        max: usize,
    },
    /// The endpoint has no configuration for this (e.g. no gateway section, no offers).
    #[error("configuration: {0}")]
    Config(&'static str),
    /// The Xauth machine refused a call.
    #[error("xauth: {0}")]
    Xauth(String),
    /// The Mode Config machine refused a call.
    #[error("mode config: {0}")]
    ModeCfg(#[from] modecfg::ModeCfgError),
    /// A [`crate::Shard`] outside its range.
    #[error("shard {index} of {count}: need at least one shard and an index below the count")]
    BadShard {
        /// The index asked for.
        index: u8,
        /// The count asked for.
        count: u8,
    },
}
