//! The one error type of this crate, [`EspError`], and its counter-friendly [`ErrorKind`].

use crate::params::Mode;
use thiserror::Error;

/// Which SA lifetime limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LifetimeLimit {
    /// The limit in seconds since the SA was installed.
    Seconds,
    /// The limit in kilobytes of protected payload.
    Kilobytes,
}

impl core::fmt::Display for LifetimeLimit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            LifetimeLimit::Seconds => "seconds",
            LifetimeLimit::Kilobytes => "kilobytes",
        })
    }
}

/// Everything that can go wrong while building an SA or processing a packet.
///
/// Each variant says what was wrong and where (SPI, sequence number, byte index).
/// [`EspError::kind`] folds the variants into a small set of [`ErrorKind`]s that a
/// gateway can count (`show crypto ipsec sa` style counters).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EspError {
    /// The packet is shorter than the smallest valid ESP packet for this SA.
    #[error("truncated {what}: {len} bytes, at least {needed} needed")]
    Truncated {
        /// What was being read (e.g. "ESP header", "ESP packet").
        what: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The ciphertext is not a whole number of cipher blocks (or 4-byte words for NULL).
    #[error("ciphertext of {len} bytes is not a multiple of the {block}-byte block size (SPI {spi:#010x})")]
    Misaligned {
        /// SPI of the SA.
        spi: u32,
        /// Ciphertext length (after IV, before ICV).
        len: usize,
        /// Required alignment.
        block: usize,
    },
    /// No inbound SA has this SPI.
    #[error("unknown SPI {spi:#010x}")]
    UnknownSpi {
        /// SPI found in the packet.
        spi: u32,
    },
    /// The packet was handed to the SA of another SPI.
    #[error("packet SPI {got:#010x} handed to the SA of SPI {expected:#010x}")]
    SpiMismatch {
        /// SPI of the SA.
        expected: u32,
        /// SPI in the packet.
        got: u32,
    },
    /// The integrity check value did not verify.
    #[error("ICV mismatch on SPI {spi:#010x} seq {seq}")]
    BadIcv {
        /// SPI of the SA.
        spi: u32,
        /// Sequence number in the (unauthenticated) header.
        seq: u32,
    },
    /// The sequence number was already received (RFC 4303 3.4.3).
    #[error("replayed packet on SPI {spi:#010x}: seq {seq} already received")]
    Replayed {
        /// SPI of the SA.
        spi: u32,
        /// The duplicate sequence number.
        seq: u32,
    },
    /// The sequence number is to the left of the replay window, or is 0 (never sent).
    #[error("seq {seq} on SPI {spi:#010x} is outside the replay window (highest {highest}, window {window})")]
    OutsideWindow {
        /// SPI of the SA.
        spi: u32,
        /// The rejected sequence number.
        seq: u32,
        /// Highest sequence number received so far.
        highest: u32,
        /// Window size in packets.
        window: u32,
    },
    /// The Pad Length field is larger than the decrypted data allows.
    #[error(
        "pad length {pad_len} exceeds the {available} bytes of decrypted payload (SPI {spi:#010x})"
    )]
    BadPadLength {
        /// SPI of the SA.
        spi: u32,
        /// Pad Length field.
        pad_len: u8,
        /// Bytes of plaintext before the 2-byte trailer.
        available: usize,
    },
    /// A padding byte is not the RFC 4303 2.4 monotonic value 1, 2, 3, ...
    #[error("pad byte {index} is {got:#04x}, expected {expected:#04x} (SPI {spi:#010x})")]
    BadPadding {
        /// SPI of the SA.
        spi: u32,
        /// Index of the pad byte (0-based).
        index: usize,
        /// Value found.
        got: u8,
        /// Value required.
        expected: u8,
    },
    /// The Next Header value is not acceptable for the SA's mode.
    #[error("next header {next_header} is not allowed in {mode:?} mode (SPI {spi:#010x})")]
    BadNextHeader {
        /// SPI of the SA.
        spi: u32,
        /// Next Header found.
        next_header: u8,
        /// Mode of the SA.
        mode: Mode,
    },
    /// The SA passed its hard lifetime; it must be replaced.
    #[error("SA {spi:#010x} passed its hard lifetime in {limit}")]
    LifetimeExpired {
        /// SPI of the SA.
        spi: u32,
        /// Which limit.
        limit: LifetimeLimit,
    },
    /// The outbound sequence number reached 2^32 - 1; RFC 4303 forbids wrapping.
    #[error("outbound sequence numbers of SA {spi:#010x} are exhausted; rekey")]
    SequenceExhausted {
        /// SPI of the SA.
        spi: u32,
    },
    /// The caller's buffer cannot hold the result.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The payload is longer than an ESP packet can carry.
    #[error("payload of {len} bytes is too large for one ESP packet")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
    },
    /// An IPsec DOI ESP transform ID this crate does not implement.
    #[error("unsupported ESP transform {transform_id} (key length {key_bits:?})")]
    UnsupportedTransform {
        /// RFC 2407 4.4.4 transform ID.
        transform_id: u8,
        /// Key Length attribute, if any.
        key_bits: Option<u16>,
    },
    /// An IPsec DOI authentication algorithm this crate does not implement.
    #[error("unsupported ESP authentication algorithm {auth}")]
    UnsupportedAuthentication {
        /// RFC 2407 4.5 Authentication Algorithm value.
        auth: u16,
    },
    /// An IPsec DOI encapsulation mode this crate does not know.
    #[error("unsupported encapsulation mode {mode}")]
    UnsupportedEncapsulation {
        /// RFC 2407 4.5 / RFC 3947 Encapsulation Mode value.
        mode: u16,
    },
    /// NULL encryption without integrity protects nothing; RFC 4303 3.2 forbids it.
    #[error("NULL encryption requires an integrity algorithm (RFC 4303 3.2)")]
    NullWithoutIntegrity,
    /// Key material of the wrong length.
    #[error("{what} key is {got} bytes, {expected} expected")]
    InvalidKeyLength {
        /// "encryption" or "authentication".
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// A replay window size out of range.
    #[error("replay window of {size} packets is outside 0..={max}")]
    InvalidReplayWindow {
        /// Requested size.
        size: u32,
        /// Largest supported size.
        max: u32,
    },
    /// A UDP datagram on port 4500 that is not ESP (a NAT keepalive or an IKE message).
    #[error("not an ESP packet: {what}")]
    NotEsp {
        /// What it is instead.
        what: &'static str,
    },
}

/// Coarse classification of [`EspError`] for counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Too short or misaligned.
    Truncated,
    /// No SA for this SPI.
    UnknownSpi,
    /// ICV did not verify.
    BadIcv,
    /// Duplicate sequence number.
    Replayed,
    /// Left of the replay window.
    OutsideWindow,
    /// Pad length or pad bytes wrong.
    BadPadding,
    /// Next Header not allowed.
    BadNextHeader,
    /// Hard lifetime reached.
    LifetimeExpired,
    /// Outbound sequence numbers used up.
    SequenceExhausted,
    /// Caller buffer too small or payload too large.
    Buffer,
    /// Bad SA parameters (transform, key length, window size).
    InvalidParameters,
    /// A non-ESP datagram on the ESP-in-UDP port.
    NotEsp,
}

impl ErrorKind {
    /// Every kind, for iterating counters.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Truncated,
        ErrorKind::UnknownSpi,
        ErrorKind::BadIcv,
        ErrorKind::Replayed,
        ErrorKind::OutsideWindow,
        ErrorKind::BadPadding,
        ErrorKind::BadNextHeader,
        ErrorKind::LifetimeExpired,
        ErrorKind::SequenceExhausted,
        ErrorKind::Buffer,
        ErrorKind::InvalidParameters,
        ErrorKind::NotEsp,
    ];

    /// A short stable name (`"bad-icv"`, `"replayed"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::UnknownSpi => "unknown-spi",
            ErrorKind::BadIcv => "bad-icv",
            ErrorKind::Replayed => "replayed",
            ErrorKind::OutsideWindow => "outside-window",
            ErrorKind::BadPadding => "bad-padding",
            ErrorKind::BadNextHeader => "bad-next-header",
            ErrorKind::LifetimeExpired => "lifetime-expired",
            ErrorKind::SequenceExhausted => "sequence-exhausted",
            ErrorKind::Buffer => "buffer",
            ErrorKind::InvalidParameters => "invalid-parameters",
            ErrorKind::NotEsp => "not-esp",
        }
    }
}

impl EspError {
    /// The counter this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EspError::Truncated { .. } | EspError::Misaligned { .. } => ErrorKind::Truncated,
            EspError::UnknownSpi { .. } | EspError::SpiMismatch { .. } => ErrorKind::UnknownSpi,
            EspError::BadIcv { .. } => ErrorKind::BadIcv,
            EspError::Replayed { .. } => ErrorKind::Replayed,
            EspError::OutsideWindow { .. } => ErrorKind::OutsideWindow,
            EspError::BadPadLength { .. } | EspError::BadPadding { .. } => ErrorKind::BadPadding,
            EspError::BadNextHeader { .. } => ErrorKind::BadNextHeader,
            EspError::LifetimeExpired { .. } => ErrorKind::LifetimeExpired,
            EspError::SequenceExhausted { .. } => ErrorKind::SequenceExhausted,
            EspError::BufferTooSmall { .. } | EspError::PayloadTooLarge { .. } => ErrorKind::Buffer,
            EspError::UnsupportedTransform { .. }
            | EspError::UnsupportedAuthentication { .. }
            | EspError::UnsupportedEncapsulation { .. }
            | EspError::NullWithoutIntegrity
            | EspError::InvalidKeyLength { .. }
            | EspError::InvalidReplayWindow { .. } => ErrorKind::InvalidParameters,
            EspError::NotEsp { .. } => ErrorKind::NotEsp,
        }
    }
}
