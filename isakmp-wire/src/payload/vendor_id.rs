//! The Vendor ID payload (RFC 2408 3.16): opaque bytes after the generic header,
//! recognised by value against [`crate::vendor::VENDOR_IDS`].

use crate::vendor::{identify, VendorMatch};

/// Payload type number.
pub const PAYLOAD_TYPE: u8 = 13;

/// A borrowed Vendor ID payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorId<'a>(pub &'a [u8]);

impl<'a> VendorId<'a> {
    /// The vendor, if the value is well known.
    pub fn known(&self) -> Option<VendorMatch<'a>> {
        identify(self.0)
    }

    /// The raw bytes.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl core::fmt::Display for VendorId<'_> {
    /// The vendor's name, or the bytes in hex.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.known() {
            Some(m) => write!(f, "{m}"),
            None => {
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}
