//! Attribute payloads that may carry secrets, wiped when dropped.
//!
//! A client REPLY carries XAUTH_USER_PASSWORD, XAUTH_PASSCODE, XAUTH_ANSWER or
//! XAUTH_NEXT_PIN in clear (the Transaction exchange encrypts it). The wire model
//! ([`OwnedConfigPayload`], [`isakmp_wire::OwnedAttribute`]) keeps values in plain
//! `Vec<u8>`s, freed without being wiped; a [`ZeroizingPayload`] owns such a payload
//! and zeroizes every attribute value when dropped, prints secret values as
//! `<redacted>` and has no `Clone`. Emit it with [`ZeroizingPayload::to_bytes`] or
//! [`ZeroizingPayload::to_payload_bytes`], which return zeroizing buffers of exactly
//! the wire length (no reallocation leaves a copy behind).
//!
//! ```
//! use isakmp_wire::{CfgType, OwnedAttribute, OwnedConfigPayload};
//! use xauth::attrs::XAUTH_USER_PASSWORD;
//! use xauth::ZeroizingPayload;
//!
//! let reply = ZeroizingPayload::new(OwnedConfigPayload {
//!     cfg_type: CfgType::Reply,
//!     identifier: 7,
//!     attributes: vec![OwnedAttribute::variable(XAUTH_USER_PASSWORD, b"cisco123".to_vec())],
//! });
//! assert!(!format!("{reply:?}").contains("cisco123"));
//! let body = reply.to_bytes()?; // Zeroizing<Vec<u8>>
//! assert_eq!(body.len(), reply.wire_len());
//! # Ok::<(), xauth::XauthError>(())
//! ```

use core::fmt;

use bytes::BufMut;
use isakmp_wire::{CfgType, OwnedAttrValue, OwnedAttribute, OwnedConfigPayload, PayloadType};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::attrs::{self, XAUTH_ANSWER, XAUTH_NEXT_PIN, XAUTH_PASSCODE, XAUTH_USER_PASSWORD};
use crate::error::XauthError;

/// The ISAKMP generic payload header: Next Payload, RESERVED, Payload Length.
const GENERIC_HEADER_LEN: usize = 4;

/// Whether an attribute type carries a secret value (password, passcode,
/// challenge answer, next PIN).
pub fn is_secret_kind(kind: u16) -> bool {
    matches!(
        kind,
        XAUTH_USER_PASSWORD | XAUTH_PASSCODE | XAUTH_ANSWER | XAUTH_NEXT_PIN
    )
}

/// Zeroizes every attribute value of a payload in place (the values keep their
/// lengths, their bytes become 0).
///
/// For a payload taken out of the zeroizing wrapper
/// ([`ZeroizingPayload::into_unprotected`], [`crate::XauthClient::poll_transmit`]):
/// call it once the payload is on the wire.
pub fn wipe_payload(payload: &mut OwnedConfigPayload) {
    wipe_attributes(&mut payload.attributes);
}

fn wipe_attributes(attributes: &mut [OwnedAttribute]) {
    for a in attributes {
        if let OwnedAttrValue::Variable(v) = &mut a.value {
            v.as_mut_slice().zeroize();
            // A value built by pushing may own more than its length.
            v.spare_capacity_mut().zeroize();
        }
    }
}

/// An owned attribute payload whose attribute values are zeroized on drop.
pub struct ZeroizingPayload {
    inner: OwnedConfigPayload,
}

impl ZeroizingPayload {
    /// Takes ownership of a payload (its buffers are wiped when this is dropped).
    pub fn new(payload: OwnedConfigPayload) -> Self {
        ZeroizingPayload { inner: payload }
    }

    /// REQUEST, REPLY, SET or ACK.
    pub fn cfg_type(&self) -> CfgType {
        self.inner.cfg_type
    }

    /// The transaction identifier.
    pub fn identifier(&self) -> u16 {
        self.inner.identifier
    }

    /// The attributes, in order. Secret values are exposed: callers must not log them.
    pub fn attributes(&self) -> &[OwnedAttribute] {
        &self.inner.attributes
    }

    /// The wrapped payload, borrowed (to emit it through a caller's own codec).
    pub fn payload(&self) -> &OwnedConfigPayload {
        &self.inner
    }

    /// Body length on the wire (without the generic payload header).
    pub fn wire_len(&self) -> usize {
        self.inner.wire_len()
    }

    /// Writes the body (as [`OwnedConfigPayload::emit`]). The caller's buffer then
    /// holds the secrets: make it zeroizing.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), XauthError> {
        Ok(self.inner.emit(buf)?)
    }

    /// The body bytes, in a zeroizing buffer of exactly [`Self::wire_len`] bytes.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, XauthError> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.wire_len()));
        self.inner.emit(&mut *out)?;
        Ok(out)
    }

    /// The whole Attributes payload as the last (or only) payload of a chain: the
    /// generic header (Next Payload NONE, RESERVED 0, Payload Length) and the body,
    /// the bytes `isakmp_wire::payload::emit_chain` writes for
    /// `[OwnedPayload::new(OwnedBody::Attributes { reserved: 0, payload })]`.
    pub fn to_payload_bytes(&self) -> Result<Zeroizing<Vec<u8>>, XauthError> {
        let len = GENERIC_HEADER_LEN.saturating_add(self.wire_len());
        let len16 = u16::try_from(len).map_err(|_| XauthError::TooLong {
            what: "Attributes payload",
            length: len,
            max: usize::from(u16::MAX),
        })?;
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.put_u8(PayloadType::None.into());
        out.put_u8(0);
        out.put_u16(len16);
        self.inner.emit(&mut *out)?;
        Ok(out)
    }

    /// Hands the plain payload over: from here on its buffers are the caller's to
    /// wipe ([`wipe_payload`]); nothing zeroizes them on drop.
    pub fn into_unprotected(mut self) -> OwnedConfigPayload {
        OwnedConfigPayload {
            cfg_type: self.inner.cfg_type,
            identifier: self.inner.identifier,
            // Moved, not copied: this wrapper's drop then wipes an empty list.
            attributes: std::mem::take(&mut self.inner.attributes),
        }
    }
}

impl From<OwnedConfigPayload> for ZeroizingPayload {
    fn from(p: OwnedConfigPayload) -> Self {
        ZeroizingPayload::new(p)
    }
}

impl Zeroize for ZeroizingPayload {
    /// Zeroizes every attribute value in place (bytes and spare capacity; the
    /// values keep their lengths).
    fn zeroize(&mut self) {
        wipe_attributes(&mut self.inner.attributes);
    }
}

impl Drop for ZeroizingPayload {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ZeroizingPayload {}

impl fmt::Debug for ZeroizingPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZeroizingPayload")
            .field("cfg_type", &self.inner.cfg_type)
            .field("identifier", &self.inner.identifier)
            .field("attributes", &RedactedList(&self.inner.attributes))
            .finish()
    }
}

/// Debug for an attribute list with secret values redacted.
struct RedactedList<'a>(&'a [OwnedAttribute]);

impl fmt::Debug for RedactedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(RedactedAttr))
            .finish()
    }
}

struct RedactedAttr<'a>(&'a OwnedAttribute);

impl fmt::Debug for RedactedAttr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        let name = attrs::kind_name(a.kind);
        match &a.value {
            OwnedAttrValue::Variable(v) if is_secret_kind(a.kind) && !v.is_empty() => {
                write!(f, "{name}(<redacted>)")
            }
            OwnedAttrValue::Variable(v) => write!(f, "{name}/{}({v:02x?})", a.kind),
            OwnedAttrValue::Basic(n) => write!(f, "{name}/{}={n}", a.kind),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use isakmp_wire::payload::{emit_chain, OwnedBody, OwnedPayload};

    fn reply() -> OwnedConfigPayload {
        OwnedConfigPayload {
            cfg_type: CfgType::Reply,
            identifier: 0x1234,
            attributes: vec![
                OwnedAttribute::variable(attrs::XAUTH_USER_NAME, b"alice".to_vec()),
                OwnedAttribute::variable(XAUTH_USER_PASSWORD, b"hunter2hunter2".to_vec()),
                OwnedAttribute::variable(XAUTH_PASSCODE, b"424242".to_vec()),
                OwnedAttribute::variable(XAUTH_ANSWER, b"yes-answer".to_vec()),
                OwnedAttribute::variable(XAUTH_NEXT_PIN, b"9876".to_vec()),
                OwnedAttribute::basic(attrs::XAUTH_TYPE, 0),
            ],
        }
    }

    fn assert_zeroize_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn zeroizing_payload_is_zeroize_on_drop() {
        assert_zeroize_on_drop::<ZeroizingPayload>();
    }

    #[test]
    fn zeroize_wipes_every_value() {
        // Drop runs exactly this on the same buffers.
        let mut p = ZeroizingPayload::new(reply());
        let lens: Vec<usize> = p.attributes().iter().map(|a| a.wire_len()).collect();
        p.zeroize();
        let after: Vec<usize> = p.attributes().iter().map(|a| a.wire_len()).collect();
        assert_eq!(after, lens);
        let mut wiped = 0;
        for a in p.attributes() {
            if let OwnedAttrValue::Variable(v) = &a.value {
                assert!(v.iter().all(|b| *b == 0), "{}", attrs::kind_name(a.kind));
                wiped += 1;
            }
        }
        assert_eq!(wiped, 5);
    }

    #[test]
    fn wipe_payload_zeroes_values_in_place() {
        let mut p = reply();
        wipe_payload(&mut p);
        for a in &p.attributes {
            if let OwnedAttrValue::Variable(v) = &a.value {
                assert!(!v.is_empty());
                assert!(v.iter().all(|b| *b == 0), "{}", attrs::kind_name(a.kind));
            }
        }
        assert_eq!(p.attributes.len(), 6);
    }

    #[test]
    fn debug_redacts_secret_values() {
        let p = ZeroizingPayload::new(reply());
        let s = format!("{p:?}");
        let alt = format!("{p:#?}");
        for secret in ["hunter2hunter2", "424242", "yes-answer", "9876"] {
            let bytes = format!("{:02x?}", secret.as_bytes());
            let inner = bytes.trim_start_matches('[').trim_end_matches(']');
            for out in [&s, &alt] {
                assert!(!out.contains(secret), "{out}");
                assert!(!out.contains(inner), "{out}");
            }
        }
        assert!(s.contains("XAUTH_USER_PASSWORD(<redacted>)"), "{s}");
        assert!(s.contains("XAUTH_NEXT_PIN(<redacted>)"), "{s}");
        assert!(s.contains("XAUTH_USER_NAME"), "{s}");
        assert!(s.contains("XAUTH_TYPE/16520=0"), "{s}");
    }

    #[test]
    fn emit_writes_exactly_wire_len_and_matches_the_wire_codec() {
        let p = ZeroizingPayload::new(reply());
        let body = p.to_bytes().unwrap();
        assert_eq!(body.len(), p.wire_len());
        assert_eq!(body.capacity(), p.wire_len());
        let mut plain = Vec::new();
        reply().emit(&mut plain).unwrap();
        assert_eq!(body.as_slice(), plain.as_slice());
        let mut via_emit = Vec::new();
        p.emit(&mut via_emit).unwrap();
        assert_eq!(via_emit, plain);

        // The whole payload is what the chain codec writes for one Attributes payload.
        let whole = p.to_payload_bytes().unwrap();
        let mut chain = Vec::new();
        emit_chain(
            &[OwnedPayload::new(OwnedBody::Attributes {
                reserved: 0,
                payload: reply(),
            })],
            &mut chain,
        )
        .unwrap();
        assert_eq!(whole.as_slice(), chain.as_slice());
        assert_eq!(whole.capacity(), whole.len());
    }

    #[test]
    fn into_unprotected_moves_the_values_out() {
        let p = ZeroizingPayload::new(reply());
        assert_eq!(p.cfg_type(), CfgType::Reply);
        assert_eq!(p.identifier(), 0x1234);
        let plain = p.into_unprotected();
        assert_eq!(plain, reply());
    }

    #[test]
    fn secret_kinds() {
        for k in [
            XAUTH_USER_PASSWORD,
            XAUTH_PASSCODE,
            XAUTH_ANSWER,
            XAUTH_NEXT_PIN,
        ] {
            assert!(is_secret_kind(k));
        }
        for k in [
            attrs::XAUTH_USER_NAME,
            attrs::XAUTH_MESSAGE,
            attrs::XAUTH_TYPE,
        ] {
            assert!(!is_secret_kind(k));
        }
    }
}
