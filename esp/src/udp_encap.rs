//! RFC 3948 UDP encapsulation of ESP (NAT traversal, port 4500).
//!
//! On port 4500 one UDP socket carries three things, told apart by the first bytes
//! of the UDP payload (RFC 3948 2.2 and 2.3):
//!
//! ```text
//! 0xFF                          -> NAT-keepalive (one byte)
//! 00 00 00 00 | IKE header ...  -> IKE, behind the 4-byte non-ESP marker
//! SPI (non-zero) | seq | ...    -> ESP
//! ```
//!
//! Senders put a zero UDP checksum on ESP-in-UDP (RFC 3948 2.1); receivers do not
//! check it. In transport mode the inner TCP/UDP checksum covers the original
//! addresses, which NAT changed: [`fixup_transport_checksum`] applies the RFC 3948
//! 3.1.2 incremental update from the NAT-OA addresses.

use crate::error::EspError;
use crate::packet::HEADER_LEN;

/// The IKE port for NAT traversal.
pub const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker that precedes IKE messages on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// The NAT-keepalive payload.
pub const NAT_KEEPALIVE: u8 = 0xFF;
/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// What a UDP datagram received on port 4500 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port4500<'a> {
    /// A NAT-keepalive (single 0xFF byte): refresh the NAT mapping, nothing else.
    Keepalive,
    /// An IKE message (the bytes after the non-ESP marker).
    Ike(&'a [u8]),
    /// An ESP packet (the whole UDP payload).
    Esp(&'a [u8]),
}

/// Classifies a port-4500 UDP payload.
pub fn classify(udp_payload: &[u8]) -> Result<Port4500<'_>, EspError> {
    match udp_payload {
        [NAT_KEEPALIVE] => Ok(Port4500::Keepalive),
        [0, 0, 0, 0, ike @ ..] => Ok(Port4500::Ike(ike)),
        p if p.len() >= HEADER_LEN => Ok(Port4500::Esp(p)),
        p => Err(EspError::Truncated {
            what: "UDP-encapsulated ESP",
            len: p.len(),
            needed: HEADER_LEN,
        }),
    }
}

/// The ESP packet in a port-4500 payload, or [`EspError::NotEsp`] for keepalives and IKE.
pub fn esp_payload(udp_payload: &[u8]) -> Result<&[u8], EspError> {
    match classify(udp_payload)? {
        Port4500::Esp(p) => Ok(p),
        Port4500::Keepalive => Err(EspError::NotEsp {
            what: "NAT-keepalive",
        }),
        Port4500::Ike(_) => Err(EspError::NotEsp {
            what: "IKE message behind the non-ESP marker",
        }),
    }
}

/// Writes an 8-byte UDP header for a payload of `payload_len` bytes with a zero
/// checksum (RFC 3948 2.1). Returns the header length.
pub fn write_udp_header(
    out: &mut [u8],
    src_port: u16,
    dst_port: u16,
    payload_len: usize,
) -> Result<usize, EspError> {
    let total = payload_len
        .checked_add(UDP_HEADER_LEN)
        .filter(|&t| t <= usize::from(u16::MAX))
        .ok_or(EspError::PayloadTooLarge { len: payload_len })?;
    let available = out.len();
    let hdr = out
        .get_mut(..UDP_HEADER_LEN)
        .ok_or(EspError::BufferTooSmall {
            needed: UDP_HEADER_LEN,
            available,
        })?;
    let len = u16::try_from(total).map_err(|_| EspError::PayloadTooLarge { len: payload_len })?;
    hdr.copy_from_slice(&[0; UDP_HEADER_LEN]);
    if let Some(b) = hdr.get_mut(0..2) {
        b.copy_from_slice(&src_port.to_be_bytes());
    }
    if let Some(b) = hdr.get_mut(2..4) {
        b.copy_from_slice(&dst_port.to_be_bytes());
    }
    if let Some(b) = hdr.get_mut(4..6) {
        b.copy_from_slice(&len.to_be_bytes());
    }
    Ok(UDP_HEADER_LEN)
}

/// Writes the non-ESP marker and `ike` into `out`; returns the length written.
pub fn write_ike(out: &mut [u8], ike: &[u8]) -> Result<usize, EspError> {
    let needed = ike.len().saturating_add(NON_ESP_MARKER.len());
    let available = out.len();
    let dst = out
        .get_mut(..needed)
        .ok_or(EspError::BufferTooSmall { needed, available })?;
    let (marker, body) = dst.split_at_mut(NON_ESP_MARKER.len());
    marker.copy_from_slice(&NON_ESP_MARKER);
    body.copy_from_slice(ike);
    Ok(needed)
}

/// Transport protocol numbers whose checksum covers the IP pseudo-header.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    sum as u16
}

/// RFC 1624 incremental update: HC' = ~(~HC + ~m + m').
fn adjust(checksum: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let mut sum = u32::from(!checksum);
    for pair in old.chunks_exact(2) {
        if let [a, b] = pair {
            sum = sum.wrapping_add(u32::from(!u16::from_be_bytes([*a, *b])));
        }
    }
    for pair in new.chunks_exact(2) {
        if let [a, b] = pair {
            sum = sum.wrapping_add(u32::from(u16::from_be_bytes([*a, *b])));
        }
    }
    !fold(sum)
}

/// RFC 3948 3.1.2: after decapsulating a transport-mode packet that crossed a NAT,
/// fix the TCP or UDP checksum in `l4` (the transport header and data), which the
/// sender computed over `original_src`/`original_dst` (its NAT-OA addresses), so
/// that it is right for the addresses the packet now has (`actual_src`/`actual_dst`).
/// A zero UDP checksum (none) stays zero. Other protocols are left alone.
pub fn fixup_transport_checksum(
    protocol: u8,
    l4: &mut [u8],
    original_src: [u8; 4],
    original_dst: [u8; 4],
    actual_src: [u8; 4],
    actual_dst: [u8; 4],
) -> Result<(), EspError> {
    let at: usize = match protocol {
        PROTO_TCP => 16,
        PROTO_UDP => 6,
        _ => return Ok(()),
    };
    let len = l4.len();
    let field = l4
        .get_mut(at..at.saturating_add(2))
        .ok_or(EspError::Truncated {
            what: "transport header",
            len,
            needed: at.saturating_add(2),
        })?;
    let old = u16::from_be_bytes([
        field.first().copied().unwrap_or(0),
        field.get(1).copied().unwrap_or(0),
    ]);
    if protocol == PROTO_UDP && old == 0 {
        return Ok(());
    }
    let mut c = adjust(old, original_src, actual_src);
    c = adjust(c, original_dst, actual_dst);
    if protocol == PROTO_UDP && c == 0 {
        c = 0xffff;
    }
    field.copy_from_slice(&c.to_be_bytes());
    Ok(())
}
