//! UDP port 4500 demultiplexing (RFC 3948 2.2): ISAKMP behind the 4-byte
//! non-ESP marker, ESP, or a NAT-keepalive.

/// What a UDP 4500 datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udp4500<'a> {
    /// ISAKMP (the bytes after the zero marker).
    Isakmp(&'a [u8]),
    /// ESP (starts with a non-zero SPI).
    Esp(&'a [u8]),
    /// A one-byte 0xFF NAT-keepalive (RFC 3948 2.3).
    Keepalive,
    /// Too short to be any of them.
    Invalid,
}

/// The non-ESP marker.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// Classifies a UDP 4500 payload.
pub fn classify_udp4500(datagram: &[u8]) -> Udp4500<'_> {
    match datagram {
        [0xff] => Udp4500::Keepalive,
        [0, 0, 0, 0, rest @ ..] => Udp4500::Isakmp(rest),
        d if d.len() >= 8 => Udp4500::Esp(d),
        _ => Udp4500::Invalid,
    }
}
