//! A whole ISAKMP message: header plus payload chain, or header plus ciphertext.

use bytes::BufMut;

use crate::chain::{PayloadChain, Trailing};
use crate::error::{Location, WireError};
use crate::header::{Header, HEADER_LEN};
use crate::limits::Limits;
use crate::payload::{chain_wire_len, emit_chain, OwnedPayload, PayloadRef};
use crate::payload_type::PayloadType;

/// What follows the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// The E flag is set: opaque ciphertext (decrypt it, then use
    /// [`crate::chain::parse_decrypted`] with `header.next_payload`).
    Encrypted(&'a [u8]),
    /// A validated plaintext payload chain.
    Payloads(PayloadChain<'a>),
}

/// A parsed message, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: Body<'a>,
    /// Datagram bytes after the header's Length (normally empty).
    pub extra: &'a [u8],
}

impl<'a> Message<'a> {
    /// Parses and validates a message with the default [`Limits`].
    pub fn parse(datagram: &'a [u8]) -> Result<Self, WireError> {
        Self::parse_with(datagram, &Limits::DEFAULT)
    }

    /// Parses and validates a message: header (version 1.x), Length within the
    /// datagram, then either the ciphertext (E flag) or every payload, walked and
    /// typed down to each attribute. Does not allocate.
    pub fn parse_with(datagram: &'a [u8], limits: &Limits) -> Result<Self, WireError> {
        let header = Header::parse(datagram)?;
        let at = Location {
            offset: 24,
            payload: None,
        };
        let length = usize::try_from(header.length).unwrap_or(usize::MAX);
        if length < HEADER_LEN {
            return Err(WireError::BadLength {
                what: "ISAKMP message",
                at,
                length,
                reason: "shorter than the 28-byte header",
            });
        }
        if length > datagram.len() {
            return Err(WireError::Truncated {
                what: "ISAKMP message",
                at,
                needed: length,
                available: datagram.len(),
            });
        }
        let (msg, extra) = datagram.split_at(length);
        let body_bytes = msg.get(HEADER_LEN..).unwrap_or(&[]);
        let body = if header.flags.encrypted() {
            Body::Encrypted(body_bytes)
        } else {
            Body::Payloads(PayloadChain::parse(
                header.next_payload,
                body_bytes,
                HEADER_LEN,
                Trailing::Alignment,
                limits,
            )?)
        };
        Ok(Message {
            header,
            body,
            extra,
        })
    }

    /// The plaintext payloads (`None` for an encrypted message).
    pub fn payloads(
        &self,
    ) -> Option<impl Iterator<Item = Result<PayloadRef<'a>, WireError>> + Clone + 'a> {
        match self.body {
            Body::Payloads(c) => Some(c.iter()),
            Body::Encrypted(_) => None,
        }
    }

    /// Message length (the header's Length field, checked against the datagram).
    #[inline]
    pub fn wire_len(&self) -> usize {
        usize::try_from(self.header.length).unwrap_or(usize::MAX)
    }

    /// An owned copy. Alignment padding after the last plaintext payload (see
    /// [`crate::chain::Trailing::Alignment`]) is not part of the model: the copy's Length
    /// is the message's without it, which is what it emits.
    pub fn to_owned_message(&self) -> Result<OwnedMessage, WireError> {
        let mut header = self.header;
        if let Body::Payloads(c) = self.body {
            let pad = u32::try_from(c.padding.len()).unwrap_or(0);
            header.length = header.length.saturating_sub(pad);
        }
        Ok(OwnedMessage {
            header,
            body: match self.body {
                Body::Encrypted(b) => OwnedBodyKind::Encrypted(b.to_vec()),
                Body::Payloads(c) => OwnedBodyKind::Payloads(c.to_owned_payloads()?),
            },
        })
    }
}

/// What follows the header in an owned message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedBodyKind {
    /// Ciphertext; `header.next_payload` is kept as given (it names the first
    /// payload inside the ciphertext).
    Encrypted(Vec<u8>),
    /// Plaintext payloads; `header.next_payload` is derived from the first.
    Payloads(Vec<OwnedPayload>),
}

/// An owned message, for building and for the bytes -> model -> bytes identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedMessage {
    /// The header; `length` (and, for plaintext, `next_payload`) are derived on emit.
    pub header: Header,
    /// The body.
    pub body: OwnedBodyKind,
}

impl OwnedMessage {
    /// Parses and copies a message.
    pub fn parse(datagram: &[u8]) -> Result<Self, WireError> {
        Message::parse(datagram)?.to_owned_message()
    }

    /// Wire length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        HEADER_LEN.saturating_add(match &self.body {
            OwnedBodyKind::Encrypted(b) => b.len(),
            OwnedBodyKind::Payloads(p) => chain_wire_len(p),
        })
    }

    /// The header as emit writes it (derived Length and Next Payload).
    pub fn derived_header(&self) -> Result<Header, WireError> {
        let len = self.wire_len();
        let length = u32::try_from(len).map_err(|_| WireError::BadLength {
            what: "ISAKMP message",
            at: Location {
                offset: 24,
                payload: None,
            },
            length: len,
            reason: "does not fit the 32-bit length field",
        })?;
        let next_payload = match &self.body {
            OwnedBodyKind::Encrypted(_) => self.header.next_payload,
            OwnedBodyKind::Payloads(p) => p.first().map_or(PayloadType::None, |p| p.kind),
        };
        Ok(Header {
            length,
            next_payload,
            ..self.header
        })
    }

    /// Writes the message, deriving Length and every Next Payload field.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        let header = self.derived_header()?;
        header.emit(buf);
        match &self.body {
            OwnedBodyKind::Encrypted(b) => buf.put_slice(b),
            OwnedBodyKind::Payloads(p) => emit_chain(p, buf)?,
        }
        Ok(())
    }

    /// Convenience: emit into a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(self.wire_len());
        self.emit(&mut v)?;
        Ok(v)
    }
}
