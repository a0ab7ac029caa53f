//! A smoltcp-style view of an IPv4 packet (RFC 791): [`Ipv4Packet::new_checked`]
//! validates the header once, after which every accessor reads in bounds.
//!
//! The view borrows (or owns) any `T: AsRef<[u8]>` and never allocates or copies.

use core::fmt;
use core::net::Ipv4Addr;

/// The smallest IPv4 header (no options), in bytes.
pub const MIN_HEADER_LEN: usize = 20;

mod field {
    use core::ops::Range;
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOTAL_LEN: Range<usize> = 2..4;
    pub(super) const IDENT: Range<usize> = 4..6;
    pub(super) const FLAGS_FRAG: Range<usize> = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: Range<usize> = 10..12;
    pub(super) const SRC: Range<usize> = 12..16;
    pub(super) const DST: Range<usize> = 16..20;
}

/// Why a buffer is not a valid IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ipv4Error {
    /// The buffer is empty.
    Empty,
    /// The version nibble is not 4.
    Version {
        /// The version found.
        version: u8,
    },
    /// The IHL field gives a header shorter than 20 bytes.
    HeaderLen {
        /// The header length the IHL field gives, in bytes.
        header_len: usize,
    },
    /// The buffer ends inside the header.
    Truncated {
        /// Bytes in the buffer.
        len: usize,
        /// The header length the IHL field gives, in bytes.
        header_len: usize,
    },
    /// The total length field is shorter than the header or longer than the buffer.
    TotalLen {
        /// The total length field.
        total_len: usize,
        /// The header length, in bytes.
        header_len: usize,
        /// Bytes in the buffer.
        len: usize,
    },
}

impl fmt::Display for Ipv4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ipv4Error::Empty => f.write_str("empty packet"),
            Ipv4Error::Version { version } => write!(f, "IP version {version} (IPv4 only)"),
            Ipv4Error::HeaderLen { header_len } => {
                write!(f, "header length {header_len} below 20")
            }
            Ipv4Error::Truncated { len, header_len } => {
                write!(f, "truncated: {len} bytes, header length {header_len}")
            }
            Ipv4Error::TotalLen {
                total_len,
                header_len,
                len,
            } => write!(
                f,
                "total length {total_len} (header {header_len}, {len} bytes received)"
            ),
        }
    }
}

impl std::error::Error for Ipv4Error {}

/// A read/write view of an IPv4 packet in a buffer.
///
/// Build it with [`Ipv4Packet::new_checked`] for untrusted bytes. A view built with
/// [`Ipv4Packet::new_unchecked`] never panics either: fields outside the buffer read as
/// zero and an impossible payload range reads as empty.
///
/// ```
/// use core::net::Ipv4Addr;
/// use pix_primitives::Ipv4Packet;
///
/// let mut bytes = [0u8; 24];
/// bytes[0] = 0x45; // version 4, 20-byte header
/// bytes[3] = 24; // total length
/// bytes[9] = 17; // UDP
/// bytes[12..16].copy_from_slice(&[10, 0, 0, 1]);
/// bytes[16..20].copy_from_slice(&[10, 0, 0, 2]);
/// let mut p = Ipv4Packet::new_checked(&mut bytes[..])?;
/// p.fill_checksum();
/// assert!(p.verify_checksum());
/// assert_eq!((p.src_addr(), p.next_header()), (Ipv4Addr::new(10, 0, 0, 1), 17));
/// assert_eq!(p.payload().len(), 4);
/// # Ok::<(), pix_primitives::Ipv4Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after [`Ipv4Packet::check_len`]: version 4, a header of at least
    /// 20 bytes inside the buffer, and a total length within the buffer and not shorter
    /// than the header. Bytes past the total length (link padding) are allowed and are
    /// not part of [`Ipv4Packet::payload`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Ipv4Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks what [`Ipv4Packet::new_checked`] promises.
    pub fn check_len(&self) -> Result<(), Ipv4Error> {
        let b = self.buffer.as_ref();
        let Some(&vihl) = b.get(field::VER_IHL) else {
            return Err(Ipv4Error::Empty);
        };
        let version = vihl >> 4;
        if version != 4 {
            return Err(Ipv4Error::Version { version });
        }
        let header_len = self.header_len();
        if header_len < MIN_HEADER_LEN {
            return Err(Ipv4Error::HeaderLen { header_len });
        }
        if b.len() < header_len {
            return Err(Ipv4Error::Truncated {
                len: b.len(),
                header_len,
            });
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len || total_len > b.len() {
            return Err(Ipv4Error::TotalLen {
                total_len,
                header_len,
                len: b.len(),
            });
        }
        Ok(())
    }

    /// The buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole buffer (header, payload and any bytes past the total length).
    #[inline]
    pub fn buffer(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    #[inline]
    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    #[inline]
    fn be16(&self, at: core::ops::Range<usize>) -> u16 {
        self.buffer
            .as_ref()
            .get(at)
            .and_then(|s| <[u8; 2]>::try_from(s).ok())
            .map_or(0, u16::from_be_bytes)
    }

    #[inline]
    fn addr(&self, at: core::ops::Range<usize>) -> Ipv4Addr {
        self.buffer
            .as_ref()
            .get(at)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from)
    }

    /// The version field (4 after [`Ipv4Packet::new_checked`]).
    #[inline]
    pub fn version(&self) -> u8 {
        self.byte(field::VER_IHL) >> 4
    }

    /// The header length in bytes (IHL x 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.byte(field::VER_IHL) & 0x0f).saturating_mul(4)
    }

    /// The total length field (header and payload).
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.be16(field::TOTAL_LEN)
    }

    /// The identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }

    /// The Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.be16(field::FLAGS_FRAG) & 0x4000 != 0
    }

    /// The More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.be16(field::FLAGS_FRAG) & 0x2000 != 0
    }

    /// The fragment offset, in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.be16(field::FLAGS_FRAG) & 0x1fff) << 3
    }

    /// Whether the packet is a fragment (More Fragments set or a non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.be16(field::FLAGS_FRAG) & 0x3fff != 0
    }

    /// The time-to-live field.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.byte(field::TTL)
    }

    /// The protocol field (the next header: 1 ICMP, 6 TCP, 17 UDP, 50 ESP, ...).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.byte(field::PROTOCOL)
    }

    /// The header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        self.addr(field::SRC)
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.addr(field::DST)
    }

    /// The header bytes (options included); empty if the buffer is shorter.
    #[inline]
    pub fn header(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(..self.header_len())
            .unwrap_or_default()
    }

    /// Whether the header checksum is right (the one's-complement sum of the header,
    /// checksum included, is 0xffff).
    pub fn verify_checksum(&self) -> bool {
        let h = self.header();
        !h.is_empty() && ones_complement_sum(h) == 0xffff
    }

    /// The payload: from the end of the header to the total length (padding past the
    /// total length excluded); empty if those do not lie in the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let range = self.header_len()..usize::from(self.total_len());
        self.buffer.as_ref().get(range).unwrap_or_default()
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The payload (as [`Ipv4Packet::payload`]) with the lifetime of the borrowed
    /// buffer rather than of the view, for a function that returns part of its input.
    #[inline]
    pub fn into_payload(self) -> &'a [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        self.buffer.as_ref().get(range).unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn set_be16(&mut self, at: core::ops::Range<usize>, v: u16) {
        if let Some(dst) = self.buffer.as_mut().get_mut(at) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Sets the total length field (recompute the checksum afterwards).
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        self.set_be16(field::TOTAL_LEN, len);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, checksum: u16) {
        self.set_be16(field::CHECKSUM, checksum);
    }

    /// Computes the header checksum and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = ones_complement_sum(self.header());
        self.set_checksum(!sum);
    }

    /// The payload, mutable (same range as [`Ipv4Packet::payload`]).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        self.buffer.as_mut().get_mut(range).unwrap_or_default()
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The RFC 1071 one's-complement sum of `data` (an odd last byte is padded with zero):
/// a header whose checksum is right sums to `0xffff`; the checksum to write is `!sum` of
/// the data with the checksum field zero.
#[must_use]
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let Ok(w) = <[u8; 2]>::try_from(c) {
            sum = sum.wrapping_add(u32::from(u16::from_be_bytes(w)));
        }
    }
    if let Some(&last) = chunks.remainder().first() {
        sum = sum.wrapping_add(u32::from(last) << 8);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    u16::try_from(sum).unwrap_or(0xffff)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A real header (an ICMP echo from 192.168.0.1 to 192.168.0.199, from RFC 1071
    /// examples in the wild) with its checksum.
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet(total: usize) -> Vec<u8> {
        let mut v = HEADER.to_vec();
        v.resize(total, 0xab);
        v
    }

    #[test]
    fn reads_every_field_of_a_real_header() {
        let buf = packet(0x73);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 0x73);
        assert_eq!(p.ident(), 0);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.checksum(), 0xb861);
        assert!(p.verify_checksum());
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.payload().len(), 0x73 - 20);
    }

    #[test]
    fn padding_past_total_length_is_not_payload() {
        let mut buf = packet(0x73);
        buf.extend_from_slice(&[0; 10]);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload().len(), 0x73 - 20);
    }

    #[test]
    fn fragments_and_offsets() {
        let mut buf = packet(0x73);
        buf[6] = 0x20 | 0x01; // MF, offset 0x100 units
        buf[7] = 0x00;
        let p = Ipv4Packet::new_unchecked(&buf[..]);
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 0x100 * 8);
        assert!(!p.verify_checksum());
    }

    #[test]
    fn each_malformation_has_its_error() {
        assert_eq!(Ipv4Packet::new_checked(&[][..]), Err(Ipv4Error::Empty));
        let mut v6 = packet(0x73);
        v6[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&v6[..]),
            Err(Ipv4Error::Version { version: 6 })
        );
        let mut short_ihl = packet(0x73);
        short_ihl[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&short_ihl[..]),
            Err(Ipv4Error::HeaderLen { header_len: 16 })
        );
        assert_eq!(
            Ipv4Packet::new_checked(&HEADER[..19]),
            Err(Ipv4Error::Truncated {
                len: 19,
                header_len: 20
            })
        );
        let mut opts = packet(0x73);
        opts[0] = 0x4f; // 60-byte header
        assert_eq!(
            Ipv4Packet::new_checked(&opts[..40]),
            Err(Ipv4Error::Truncated {
                len: 40,
                header_len: 60
            })
        );
        assert_eq!(
            Ipv4Packet::new_checked(&packet(0x72)[..]),
            Err(Ipv4Error::TotalLen {
                total_len: 0x73,
                header_len: 20,
                len: 0x72
            })
        );
        let mut below = packet(0x73);
        below[2] = 0;
        below[3] = 19;
        let e = Ipv4Packet::new_checked(&below[..]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "total length 19 (header 20, 115 bytes received)"
        );
    }

    #[test]
    fn setters_and_checksum() {
        let mut buf = packet(0x73);
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_total_len(40);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.total_len(), 40);
        p.payload_mut().fill(1);
        assert_eq!(p.payload(), &[1; 20][..]);
        assert_eq!(buf[40], 0xab);
        // the checksum of the reference header, recomputed
        let mut h = HEADER;
        let mut q = Ipv4Packet::new_unchecked(&mut h[..]);
        q.fill_checksum();
        assert_eq!(q.checksum(), 0xb861);
    }

    #[test]
    fn into_payload_outlives_the_view() {
        fn udp_of(ip: &[u8]) -> Option<&[u8]> {
            Ipv4Packet::new_checked(ip)
                .ok()
                .map(Ipv4Packet::into_payload)
        }
        let mut buf = packet(0x73);
        buf.extend_from_slice(&[0; 10]);
        let payload = udp_of(&buf).unwrap();
        assert_eq!(payload, &buf[20..0x73]);
        assert_eq!(udp_of(&buf[..0x72]), None);
        let cut = Ipv4Packet::new_unchecked(&buf[..0x72]);
        assert!(cut.into_payload().is_empty());
    }

    #[test]
    fn unchecked_views_of_short_buffers_do_not_panic() {
        let p = Ipv4Packet::new_unchecked(&[0x4f_u8, 0, 0xff, 0xff][..]);
        assert_eq!(p.src_addr(), Ipv4Addr::UNSPECIFIED);
        assert!(p.payload().is_empty() && p.header().is_empty());
        assert!(!p.verify_checksum());
        assert_eq!(p.ttl(), 0);
    }
}
