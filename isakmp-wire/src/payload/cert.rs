//! The Certificate (RFC 2408 3.9) and Certificate Request (3.10) payloads:
//! one encoding byte, then the certificate or the certificate authority.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Cert Encoding !                                               !
//! +-+-+-+-+-+-+-+-+    Certificate Data / Certificate Authority   ~
//! ~                                                               !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::BufMut;

use crate::doi::CertEncoding;
use crate::error::WireError;
use crate::reader::{InPayload, Reader};

/// A borrowed CERT or CR payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertPayload<'a> {
    /// Certificate encoding (CERT) or requested certificate type (CR).
    pub encoding: CertEncoding,
    /// The certificate (CERT) or the acceptable authority, maybe empty (CR).
    pub data: &'a [u8],
}

impl<'a> CertPayload<'a> {
    /// Parses the body at `offset`; `payload` is 6 (CERT) or 7 (CR), for errors.
    pub fn parse(body: &'a [u8], offset: usize, payload: u8) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let encoding = CertEncoding::from(r.u8("certificate encoding").in_payload(payload)?);
        Ok(CertPayload {
            encoding,
            data: r.take_rest(),
        })
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        1usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(self.encoding.into());
        buf.put_slice(self.data);
    }

    /// An owned copy.
    pub fn to_owned_cert(&self) -> OwnedCert {
        OwnedCert {
            encoding: self.encoding,
            data: self.data.to_vec(),
        }
    }
}

/// An owned CERT or CR payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedCert {
    /// Encoding / requested type.
    pub encoding: CertEncoding,
    /// Data.
    pub data: Vec<u8>,
}

impl OwnedCert {
    /// A borrowed view.
    pub fn as_cert(&self) -> CertPayload<'_> {
        CertPayload {
            encoding: self.encoding,
            data: &self.data,
        }
    }
    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_cert().wire_len()
    }
    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        self.as_cert().emit(buf)
    }
}
