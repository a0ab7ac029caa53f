//! Cisco's IKE fragmentation payload (type 132), announced by the FRAGMENTATION
//! vendor ID. A long IKEv1 message is cut into several ISAKMP messages each
//! carrying one of these.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !        Payload Length         !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !          Fragment ID          !  Fragment #   !     Flags     !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                         Fragment Data                         ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Flag 0x01 marks the last fragment.

use bytes::BufMut;

use crate::error::WireError;
use crate::reader::{InPayload, Reader};

/// Payload type number.
pub const PAYLOAD_TYPE: u8 = 132;

/// The LAST_FRAGMENT flag.
pub const LAST_FRAGMENT: u8 = 0x01;

/// A borrowed fragment payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentPayload<'a> {
    /// Identifies the fragmented message.
    pub fragment_id: u16,
    /// Fragment number, from 1.
    pub number: u8,
    /// Flags (bit 0: last fragment).
    pub flags: u8,
    /// The fragment's share of the original message.
    pub data: &'a [u8],
}

impl<'a> FragmentPayload<'a> {
    /// Parses the body at `offset`.
    pub fn parse(body: &'a [u8], offset: usize) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let fragment_id = r.u16("fragment header").in_payload(PAYLOAD_TYPE)?;
        let number = r.u8("fragment header").in_payload(PAYLOAD_TYPE)?;
        let flags = r.u8("fragment header").in_payload(PAYLOAD_TYPE)?;
        Ok(FragmentPayload {
            fragment_id,
            number,
            flags,
            data: r.take_rest(),
        })
    }

    /// Whether this is the last fragment.
    pub fn is_last(&self) -> bool {
        self.flags & LAST_FRAGMENT != 0
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u16(self.fragment_id);
        buf.put_u8(self.number);
        buf.put_u8(self.flags);
        buf.put_slice(self.data);
    }

    /// An owned copy.
    pub fn to_owned_fragment(&self) -> OwnedFragment {
        OwnedFragment {
            fragment_id: self.fragment_id,
            number: self.number,
            flags: self.flags,
            data: self.data.to_vec(),
        }
    }
}

/// An owned fragment payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedFragment {
    /// Fragment ID.
    pub fragment_id: u16,
    /// Fragment number.
    pub number: u8,
    /// Flags.
    pub flags: u8,
    /// Data.
    pub data: Vec<u8>,
}

impl OwnedFragment {
    /// A borrowed view.
    pub fn as_fragment(&self) -> FragmentPayload<'_> {
        FragmentPayload {
            fragment_id: self.fragment_id,
            number: self.number,
            flags: self.flags,
            data: &self.data,
        }
    }
    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_fragment().wire_len()
    }
    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        self.as_fragment().emit(buf)
    }
}
