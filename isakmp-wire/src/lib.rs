//! Zero-copy ISAKMP/IKEv1 wire codec (RFC 2408/2407/2409, NAT-T, Mode Config, Cisco extensions).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attr;
pub mod cfg;
pub mod error;

pub use attr::{AttrValue, Attribute, AttributeIter, OwnedAttrValue, OwnedAttribute};
pub use cfg::{CfgType, ConfigPayload, OwnedConfigPayload};
pub use error::{Location, WireError};
