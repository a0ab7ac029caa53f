//! A read-only view of the ESP header (RFC 4303 2):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Security Parameters Index (SPI)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sequence Number                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  IV, Payload Data, Padding, Pad Length, Next Header (encrypted)
//! ~                                                               ~
//! |                 Integrity Check Value (variable)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::error::EspError;

/// Length of SPI + Sequence Number.
pub const HEADER_LEN: usize = 8;

/// An ESP packet whose 8-byte header is known to be present.
#[derive(Debug, Clone, Copy)]
pub struct EspPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EspPacket<T> {
    /// Wraps `buffer` after checking it holds at least the header.
    pub fn new_checked(buffer: T) -> Result<Self, EspError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(EspError::Truncated {
                what: "ESP header",
                len,
                needed: HEADER_LEN,
            });
        }
        Ok(EspPacket { buffer })
    }

    fn word(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        match b.get(at..at.saturating_add(4)) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.word(0)
    }

    /// The sequence number.
    pub fn seq(&self) -> u32 {
        self.word(4)
    }

    /// Everything after the header (IV, ciphertext, ICV).
    pub fn body(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or_default()
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The SPI of an ESP packet, for SA lookup.
pub fn peek_spi(packet: &[u8]) -> Result<u32, EspError> {
    EspPacket::new_checked(packet).map(|p| p.spi())
}
