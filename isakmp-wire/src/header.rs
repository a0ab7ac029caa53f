//! The 28-byte ISAKMP header (RFC 2408 3.1) and a cheap view to route by cookie.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Initiator                            !
//! !                            Cookie                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Responder                            !
//! !                            Cookie                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Message ID                           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                            Length                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::BufMut;

use crate::error::{Location, WireError};
use crate::payload_type::PayloadType;
use crate::reader::{location, Reader};
use crate::wire_enum::wire_enum;

/// Length of the ISAKMP header.
pub const HEADER_LEN: usize = 28;

/// The version byte IKEv1 peers send: major 1, minor 0.
pub const VERSION_1_0: u8 = 0x10;

wire_enum! {
    /// Exchange types (RFC 2408 3.1 / 4, RFC 2409 5 and 9, draft-dukes-ike-mode-cfg).
    pub enum ExchangeType: u8 {
        /// 0.
        None = 0 => "NONE",
        /// 1: Base.
        Base = 1 => "Base",
        /// 2: Identity Protection, IKE's Main Mode.
        IdentityProtection = 2 => "Identity Protection (Main Mode)",
        /// 3: Authentication Only.
        AuthenticationOnly = 3 => "Authentication Only",
        /// 4: Aggressive.
        Aggressive = 4 => "Aggressive",
        /// 5: Informational.
        Informational = 5 => "Informational",
        /// 6: Transaction (Mode Config / Xauth).
        Transaction = 6 => "Transaction (Config Mode)",
        /// 32: Quick Mode (RFC 2409 5.5).
        QuickMode = 32 => "Quick Mode",
        /// 33: New Group Mode (RFC 2409 5.6).
        NewGroupMode = 33 => "New Group Mode",
    }
}

/// The header's flag bits (RFC 2408 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// E: the payloads after the header are encrypted.
    pub const ENCRYPTION: u8 = 0x01;
    /// C: commit bit.
    pub const COMMIT: u8 = 0x02;
    /// A: authentication only.
    pub const AUTH_ONLY: u8 = 0x04;

    /// Whether the E bit is set.
    pub fn encrypted(self) -> bool {
        self.0 & Self::ENCRYPTION != 0
    }
    /// Whether the C bit is set.
    pub fn commit(self) -> bool {
        self.0 & Self::COMMIT != 0
    }
    /// Whether the A bit is set.
    pub fn auth_only(self) -> bool {
        self.0 & Self::AUTH_ONLY != 0
    }
}

impl core::fmt::Display for Flags {
    /// Prints like tcpdump: `[E]`, `[EC]`, `[]`, plus any other bits in hex.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("[")?;
        if self.encrypted() {
            f.write_str("E")?;
        }
        if self.commit() {
            f.write_str("C")?;
        }
        if self.auth_only() {
            f.write_str("A")?;
        }
        let other = self.0 & !0x07;
        if other != 0 {
            write!(f, "|0x{other:02x}")?;
        }
        f.write_str("]")
    }
}

/// A parsed ISAKMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// CKY-I.
    pub initiator_cookie: [u8; 8],
    /// CKY-R (zero in the first message).
    pub responder_cookie: [u8; 8],
    /// Type of the first payload.
    pub next_payload: PayloadType,
    /// The version byte: major in the high nibble, minor in the low one.
    pub version: u8,
    /// Exchange type.
    pub exchange_type: ExchangeType,
    /// Flags E/C/A.
    pub flags: Flags,
    /// Message ID (zero in phase 1).
    pub message_id: u32,
    /// Total message length, header included.
    pub length: u32,
}

impl Header {
    /// Parses the header at the front of `input` (offset 0 of the message).
    ///
    /// Rejects versions other than 1.x with [`WireError::UnsupportedVersion`]; does
    /// not check `length` against the input (see [`crate::Message::parse`]).
    pub fn parse(input: &[u8]) -> Result<Header, WireError> {
        // One bounds check for the whole fixed layout; a short input takes the
        // field-by-field path, which says where it ran out.
        let Some((head, _)) = input.split_first_chunk::<HEADER_LEN>() else {
            return Self::parse_fields(input);
        };
        let [
            // CKY-I and CKY-R.
            i0, i1, i2, i3, i4, i5, i6, i7, r0, r1, r2, r3, r4, r5, r6, r7,
            // Next Payload, version, exchange type, flags.
            next_payload, version, exchange_type, flags,
            // Message ID and Length.
            m0, m1, m2, m3, l0, l1, l2, l3,
        ] = *head;
        if version >> 4 != 1 {
            return Err(WireError::UnsupportedVersion {
                major: version >> 4,
                minor: version & 0x0f,
                at: Location {
                    offset: 17,
                    payload: None,
                },
            });
        }
        Ok(Header {
            initiator_cookie: [i0, i1, i2, i3, i4, i5, i6, i7],
            responder_cookie: [r0, r1, r2, r3, r4, r5, r6, r7],
            next_payload: next_payload.into(),
            version,
            exchange_type: exchange_type.into(),
            flags: Flags(flags),
            message_id: u32::from_be_bytes([m0, m1, m2, m3]),
            length: u32::from_be_bytes([l0, l1, l2, l3]),
        })
    }

    /// The reference parse, field by field (reports where a short input ends).
    #[cold]
    #[inline(never)]
    fn parse_fields(input: &[u8]) -> Result<Header, WireError> {
        let mut r = Reader::new(input, 0);
        let initiator_cookie = r.array::<8>("ISAKMP header")?;
        let responder_cookie = r.array::<8>("ISAKMP header")?;
        let next_payload = r.u8("ISAKMP header")?;
        let at = location(&r, None);
        let version = r.u8("ISAKMP header")?;
        let exchange_type = r.u8("ISAKMP header")?;
        let flags = r.u8("ISAKMP header")?;
        let message_id = r.u32("ISAKMP header")?;
        let length = r.u32("ISAKMP header")?;
        if version >> 4 != 1 {
            return Err(WireError::UnsupportedVersion {
                major: version >> 4,
                minor: version & 0x0f,
                at,
            });
        }
        Ok(Header {
            initiator_cookie,
            responder_cookie,
            next_payload: next_payload.into(),
            version,
            exchange_type: exchange_type.into(),
            flags: Flags(flags),
            message_id,
            length,
        })
    }

    /// Major version (1 for IKEv1).
    pub fn major_version(&self) -> u8 {
        self.version >> 4
    }

    /// Minor version.
    pub fn minor_version(&self) -> u8 {
        self.version & 0x0f
    }

    /// Always [`HEADER_LEN`].
    #[inline]
    pub fn wire_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header as it is (callers building a message use
    /// [`crate::OwnedMessage::emit`], which derives `next_payload` and `length`).
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_slice(&self.initiator_cookie);
        buf.put_slice(&self.responder_cookie);
        buf.put_u8(self.next_payload.into());
        buf.put_u8(self.version);
        buf.put_u8(self.exchange_type.into());
        buf.put_u8(self.flags.0);
        buf.put_u32(self.message_id);
        buf.put_u32(self.length);
    }
}

/// A zero-copy view of a buffer that holds at least an ISAKMP header, for routing
/// by cookie before any full parse (smoltcp style).
///
/// After [`Packet::new_checked`] succeeds, no accessor can panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Another name for [`Packet`]: a cheap header view.
pub type HeaderView<T> = Packet<T>;

fn field<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let end = at.saturating_add(N);
    b.get(at..end)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors return zeros past the end.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer that holds at least the 28-byte header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "ISAKMP header",
                at: Location {
                    offset: 0,
                    payload: None,
                },
                needed: HEADER_LEN,
                available: len,
            });
        }
        Ok(Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// CKY-I.
    pub fn initiator_cookie(&self) -> [u8; 8] {
        field(self.buffer.as_ref(), 0)
    }

    /// CKY-R.
    pub fn responder_cookie(&self) -> [u8; 8] {
        field(self.buffer.as_ref(), 8)
    }

    /// Both cookies, CKY-I then CKY-R: the key of an ISAKMP SA.
    pub fn cookies(&self) -> [u8; 16] {
        field(self.buffer.as_ref(), 0)
    }

    /// First payload type.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType::from(field::<1>(self.buffer.as_ref(), 16)[0])
    }

    /// The version byte.
    pub fn version(&self) -> u8 {
        field::<1>(self.buffer.as_ref(), 17)[0]
    }

    /// Exchange type.
    pub fn exchange_type(&self) -> ExchangeType {
        ExchangeType::from(field::<1>(self.buffer.as_ref(), 18)[0])
    }

    /// Flags.
    pub fn flags(&self) -> Flags {
        Flags(field::<1>(self.buffer.as_ref(), 19)[0])
    }

    /// Message ID.
    pub fn message_id(&self) -> u32 {
        u32::from_be_bytes(field(self.buffer.as_ref(), 20))
    }

    /// The header's length field.
    pub fn length(&self) -> u32 {
        u32::from_be_bytes(field(self.buffer.as_ref(), 24))
    }

    /// The E flag.
    pub fn is_encrypted(&self) -> bool {
        self.flags().encrypted()
    }

    /// The bytes after the header, up to the header's length (or the buffer end).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::try_from(self.length())
            .unwrap_or(usize::MAX)
            .min(b.len());
        b.get(HEADER_LEN..end).unwrap_or(&[])
    }

    /// Parses the full header (checks the version).
    pub fn header(&self) -> Result<Header, WireError> {
        Header::parse(self.buffer.as_ref())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    // AM1 header from zeek-spicy-ipsec's aggressive-mode capture (frame 1).
    const AM1_HEADER: [u8; 28] = [
        0xe4, 0x7a, 0x59, 0x1f, 0x78, 0xc9, 0x9d, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 4, 0, 0,
        0, 0, 0, 0, 0, 0x01, 0x84,
    ];

    #[test]
    fn layout_parse_emit() {
        let h = Header::parse(&AM1_HEADER).unwrap();
        assert_eq!(
            h.initiator_cookie,
            [0xe4, 0x7a, 0x59, 0x1f, 0x78, 0xc9, 0x9d, 0x7f]
        );
        assert_eq!(h.responder_cookie, [0; 8]);
        assert_eq!(h.next_payload, PayloadType::SecurityAssociation);
        assert_eq!((h.major_version(), h.minor_version()), (1, 0));
        assert_eq!(h.exchange_type, ExchangeType::Aggressive);
        assert_eq!(h.flags, Flags(0));
        assert_eq!(h.message_id, 0);
        assert_eq!(h.length, 388);
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out, AM1_HEADER);
        assert_eq!(out.len(), h.wire_len());
    }

    #[test]
    fn view_agrees_with_parse_and_never_panics() {
        let v = Packet::new_checked(&AM1_HEADER[..]).unwrap();
        let h = v.header().unwrap();
        assert_eq!(v.initiator_cookie(), h.initiator_cookie);
        assert_eq!(v.cookies()[..8], h.initiator_cookie);
        assert_eq!(v.exchange_type(), h.exchange_type);
        assert_eq!(v.length(), 388);
        assert_eq!(v.payload(), &[] as &[u8]);
        for n in 0..HEADER_LEN {
            assert!(Packet::new_checked(&AM1_HEADER[..n]).is_err());
            assert!(Header::parse(&AM1_HEADER[..n]).is_err());
            // Unchecked views read zeros past the end instead of panicking.
            let u = Packet::new_unchecked(&AM1_HEADER[..n]);
            let _ = (u.cookies(), u.message_id(), u.length(), u.payload());
        }
    }

    #[test]
    fn one_chunk_parse_agrees_with_field_by_field() {
        let mut bytes: Vec<u8> = (1..=30).collect();
        for version in [0x10, 0x1f, 0x20, 0x00, 0xff] {
            bytes[17] = version;
            for n in 0..=bytes.len() {
                assert_eq!(
                    Header::parse(&bytes[..n]),
                    Header::parse_fields(&bytes[..n]),
                    "{version:#x} {n}"
                );
            }
        }
    }

    #[test]
    fn ikev2_is_a_version_error() {
        let mut b = AM1_HEADER;
        b[17] = 0x20;
        assert_eq!(
            Header::parse(&b),
            Err(WireError::UnsupportedVersion {
                major: 2,
                minor: 0,
                at: Location {
                    offset: 17,
                    payload: None
                }
            })
        );
    }

    #[test]
    fn registries_round_trip_every_number() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(ExchangeType::from(n)), n);
            assert_eq!(u8::from(PayloadType::from(n)), n);
        }
        assert_eq!(ExchangeType::from(32).to_string(), "Quick Mode (32)");
        assert_eq!(ExchangeType::from(6).name(), "Transaction (Config Mode)");
        assert_eq!(ExchangeType::from(99), ExchangeType::Unknown(99));
        assert_eq!(Flags(0x03).to_string(), "[EC]");
    }
}
