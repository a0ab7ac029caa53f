//! The TACACS+ packet: the 12-byte header (RFC 8907 4.1), the MD5 pseudo-pad that
//! obfuscates the body (4.5), and [`seal`]/[`open`], which turn a header and a
//! clear body into a whole packet and back.

use md5::{Digest, Md5};

use crate::error::XauthError;
use crate::Secret;
use pix_primitives::reader::Reader;

/// Header length.
pub const HEADER_LEN: usize = 12;
/// Largest body accepted from a server (RFC 8907 allows 2^32-1; no reply needs more).
pub const MAX_BODY_LEN: usize = 65_536;
/// Version byte: major 0xc, minor 0 (ASCII login, accounting).
pub const VERSION_DEFAULT: u8 = 0xc0;
/// Version byte: major 0xc, minor 1 (PAP, CHAP, MS-CHAP).
pub const VERSION_ONE: u8 = 0xc1;
/// Header flag: body is not obfuscated.
pub const FLAG_UNENCRYPTED: u8 = 0x01;
/// Header flag: single-connection mode (we never set it).
pub const FLAG_SINGLE_CONNECT: u8 = 0x04;

/// The packet type (RFC 8907 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 1: authentication.
    Authentication,
    /// 2: authorization.
    Authorization,
    /// 3: accounting.
    Accounting,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            1 => PacketType::Authentication,
            2 => PacketType::Authorization,
            3 => PacketType::Accounting,
            n => PacketType::Unknown(n),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> u8 {
        match t {
            PacketType::Authentication => 1,
            PacketType::Authorization => 2,
            PacketType::Accounting => 3,
            PacketType::Unknown(n) => n,
        }
    }
}

/// The packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Major/minor version byte (0xc0 or 0xc1).
    pub version: u8,
    /// Packet type.
    pub kind: PacketType,
    /// Sequence number (odd from the client, even from the server).
    pub seq_no: u8,
    /// Flags (`FLAG_*`).
    pub flags: u8,
    /// Session id, random per session.
    pub session_id: u32,
    /// Body length.
    pub length: u32,
}

impl Header {
    /// Parses the 12-byte header.
    pub fn parse(input: &[u8]) -> Result<Self, XauthError> {
        let mut reader = Reader::new(input, 0);
        let version = reader.u8("TACACS+ header")?;
        if version >> 4 != 0xc {
            // Check before reading the rest so garbage is refused early.
            return Err(XauthError::BadValue {
                what: "TACACS+ major version",
                value: u64::from(version >> 4),
            });
        }
        let kind = PacketType::from(reader.u8("TACACS+ header")?);
        let seq_no = reader.u8("TACACS+ header")?;
        let flags = reader.u8("TACACS+ header")?;
        let session_id = reader.u32("TACACS+ header")?;
        let length = reader.u32("TACACS+ header")?;
        Ok(Header {
            version,
            kind,
            seq_no,
            flags,
            session_id,
            length,
        })
    }

    /// The body length, refused above [`MAX_BODY_LEN`] (the header of a packet
    /// we would not buffer).
    pub fn body_len(&self) -> Result<usize, XauthError> {
        let len = usize::try_from(self.length).unwrap_or(usize::MAX);
        if len > MAX_BODY_LEN {
            return Err(XauthError::BadLength {
                what: "TACACS+ body",
                offset: 8,
                length: len,
                reason: "exceeds the 65536-byte limit",
            });
        }
        Ok(len)
    }

    /// Writes the header.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        out.push(self.kind.into());
        out.push(self.seq_no);
        out.push(self.flags);
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }
}

/// XORs `body` with the RFC 8907 4.5 pseudo-pad (the same call obfuscates and
/// de-obfuscates).
pub fn obfuscate(key: &Secret, header: &Header, body: &mut [u8]) {
    let mut prev: Option<[u8; 16]> = None;
    for chunk in body.chunks_mut(16) {
        let mut h = Md5::new();
        h.update(header.session_id.to_be_bytes());
        h.update(key.expose_secret());
        h.update([header.version, header.seq_no]);
        if let Some(p) = prev {
            h.update(p);
        }
        let pad: [u8; 16] = h.finalize().into();
        for (b, p) in chunk.iter_mut().zip(pad.iter()) {
            *b ^= *p;
        }
        prev = Some(pad);
    }
}

/// Builds a whole packet: sets `length` and obfuscates the body with `key`.
///
/// Never a clear body: an empty `key` or a header with [`FLAG_UNENCRYPTED`] is
/// refused ([`XauthError::TacacsUnencrypted`]), because the body holds the user
/// name and password (RFC 8907 10.5.2: unencrypted is for debugging only).
pub fn seal(header: Header, body: &[u8], key: &Secret) -> Result<Vec<u8>, XauthError> {
    if key.is_empty() {
        return Err(XauthError::TacacsUnencrypted {
            reason: "no shared key",
        });
    }
    if header.flags & FLAG_UNENCRYPTED != 0 {
        return Err(XauthError::TacacsUnencrypted {
            reason: "the header asks for TAC_PLUS_UNENCRYPTED_FLAG",
        });
    }
    let mut header = header;
    header.length = u32::try_from(body.len()).map_err(|_| XauthError::TooLong {
        what: "TACACS+ body",
        length: body.len(),
        max: MAX_BODY_LEN,
    })?;
    // Why in place: the clear body may hold a password; obfuscating a copy would
    // leave that copy unwiped. The exact capacity means no reallocation leaves the
    // clear bytes behind either.
    let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(body.len()));
    header.emit(&mut out);
    out.extend_from_slice(body);
    if let Some(b) = out.get_mut(HEADER_LEN..) {
        obfuscate(key, &header, b);
    }
    Ok(out)
}

/// Splits a whole packet into its header and clear body.
///
/// A body marked unencrypted is refused (RFC 8907 4.5: a client configured with
/// a key must not accept clear bodies, and we never run without one), and so is
/// an empty `key`.
pub fn open(packet: &[u8], key: &Secret) -> Result<(Header, Vec<u8>), XauthError> {
    if key.is_empty() {
        return Err(XauthError::TacacsUnencrypted {
            reason: "no shared key",
        });
    }
    let header = Header::parse(packet)?;
    let len = header.body_len()?;
    let mut reader = Reader::new(packet, HEADER_LEN);
    reader.take(HEADER_LEN, "TACACS+ header")?;
    let body = reader.take(len, "TACACS+ body")?;
    if !reader.is_empty() {
        return Err(XauthError::BadLength {
            what: "TACACS+ packet",
            offset: HEADER_LEN,
            length: len,
            reason: "is shorter than the bytes given",
        });
    }
    if header.flags & FLAG_UNENCRYPTED != 0 {
        return Err(XauthError::BadValue {
            what: "TACACS+ flags (clear body while a key is set)",
            value: u64::from(header.flags),
        });
    }
    let mut body = body.to_vec();
    obfuscate(key, &header, &mut body);
    Ok((header, body))
}

/// Checks a server packet belongs to the session of `sent` and is the next in
/// sequence, and returns its clear body.
pub(super) fn open_reply(
    key: &Secret,
    sent: &Header,
    packet: &[u8],
) -> Result<Vec<u8>, XauthError> {
    let header = Header::parse(packet)?;
    if header.session_id != sent.session_id {
        return Err(XauthError::Mismatch {
            what: "TACACS+ session_id",
            expected: sent.session_id,
            got: header.session_id,
        });
    }
    if header.kind != sent.kind {
        return Err(XauthError::Mismatch {
            what: "TACACS+ type",
            expected: u32::from(u8::from(sent.kind)),
            got: u32::from(u8::from(header.kind)),
        });
    }
    let want = sent.seq_no.wrapping_add(1);
    if header.seq_no != want {
        return Err(XauthError::Mismatch {
            what: "TACACS+ seq_no",
            expected: u32::from(want),
            got: u32::from(header.seq_no),
        });
    }
    let (_, body) = open(packet, key)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;

    fn key() -> Secret {
        Secret::from("secretkey")
    }

    #[test]
    fn obfuscation_is_an_involution_and_uses_the_md5_pad() {
        let h = Header {
            version: 0xc0,
            kind: PacketType::Authentication,
            seq_no: 1,
            flags: 0,
            session_id: 0x01020304,
            length: 0,
        };
        let clear: Vec<u8> = (0..40u8).collect();
        let mut b = clear.clone();
        obfuscate(&key(), &h, &mut b);
        assert_ne!(b, clear);
        // First 16 bytes: XOR with MD5(session_id | key | version | seq_no).
        let mut m = Md5::new();
        m.update([1, 2, 3, 4]);
        m.update(b"secretkey");
        m.update([0xc0, 1]);
        let pad: [u8; 16] = m.finalize().into();
        for i in 0..16 {
            assert_eq!(b[i] ^ pad[i], clear[i]);
        }
        obfuscate(&key(), &h, &mut b);
        assert_eq!(b, clear);
    }

    #[test]
    fn seal_open_round_trip_and_unencrypted_flag() {
        let h = Header {
            version: 0xc1,
            kind: PacketType::Accounting,
            seq_no: 3,
            flags: 0,
            session_id: 7,
            length: 0,
        };
        let p = seal(h, b"hello", &key()).unwrap();
        assert_eq!(p.len(), 17);
        let (h2, body) = open(&p, &key()).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(h2.length, 5);
        // Never a clear body: no key, or the unencrypted flag, is refused on the
        // way out; a clear body is refused on the way in.
        let no_key = XauthError::TacacsUnencrypted {
            reason: "no shared key",
        };
        assert_eq!(
            seal(h, b"hello", &Secret::new(Vec::new())),
            Err(no_key.clone())
        );
        assert_eq!(open(&p, &Secret::new(Vec::new())), Err(no_key.clone()));
        assert!(no_key.to_string().contains("unencrypted"), "{no_key}");
        let flagged = Header {
            flags: FLAG_UNENCRYPTED,
            ..h
        };
        assert!(matches!(
            seal(flagged, b"hello", &key()),
            Err(XauthError::TacacsUnencrypted { .. })
        ));
        let mut clear = Vec::new();
        Header {
            length: 5,
            ..flagged
        }
        .emit(&mut clear);
        clear.extend_from_slice(b"hello");
        assert!(matches!(
            open(&clear, &key()),
            Err(XauthError::BadValue { .. })
        ));
        for n in 0..p.len() {
            assert!(open(&p[..n], &key()).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn seal_obfuscates_in_place() {
        // The sealed body is the clear body XORed with the pad, in an exact-size
        // packet: no second copy of a clear body is made.
        let h = Header {
            version: 0xc1,
            kind: PacketType::Authentication,
            seq_no: 1,
            flags: 0,
            session_id: 0x0a0b0c0d,
            length: 0,
        };
        let clear = b"\x01\x01\x01\x01\x04\x03\x00\x08userPIXpassword".to_vec();
        let p = seal(h, &clear, &key()).unwrap();
        assert_eq!(p.len(), HEADER_LEN + clear.len());
        assert_eq!(p.capacity(), p.len());
        let mut b = clear.clone();
        let sealed_header = Header::parse(&p).unwrap();
        obfuscate(&key(), &sealed_header, &mut b);
        assert_eq!(&p[HEADER_LEN..], b.as_slice());
    }
}
