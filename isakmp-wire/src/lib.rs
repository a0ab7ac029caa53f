//! Zero-copy ISAKMP/IKEv1 wire codec (RFC 2408/2407/2409, NAT-T, Mode Config,
//! Cisco extensions), Sans-IO: bytes in, typed views out; owned models out to
//! bytes through [`bytes::BufMut`].
//!
//! ```
//! use isakmp_wire::{Message, Body, Payload, OwnedMessage};
//!
//! // A Notify NO-PROPOSAL-CHOSEN from a Check Point gateway (ike-scan's corpus).
//! let bytes = hex::decode(
//!     "deadbeefdeadbeef00000000000000000b10050041a8534e00000028\
//!      0000000c000000000100000e",
//! ).unwrap();
//! let msg = Message::parse(&bytes)?;
//! assert_eq!(msg.header.exchange_type.name(), "Informational");
//! let Body::Payloads(chain) = msg.body else { panic!("plaintext") };
//! for p in chain.iter() {
//!     if let Payload::Notification(n) = p?.body {
//!         assert_eq!(n.notify_type.name(), "NO-PROPOSAL-CHOSEN");
//!     }
//! }
//! // bytes -> model -> bytes is the identity
//! assert_eq!(OwnedMessage::parse(&bytes)?.to_bytes()?, bytes);
//! # Ok::<(), isakmp_wire::WireError>(())
//! ```
//!
//! Layout: [`header`] (the 28-byte header and the cookie-routing [`Packet`]
//! view), [`chain`] (the payload walker, plaintext and decrypted), [`payload`]
//! (one module per payload), [`attr`] (data attributes and their typed views),
//! [`cfg`] (the Mode Config payload body), [`doi`], [`vendor`] (well-known VIDs),
//! [`limits`] and [`error`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attr;
pub mod cfg;
pub mod chain;
pub mod doi;
pub mod error;
pub mod header;
pub mod limits;
pub mod message;
pub mod natt;
pub mod payload;
pub mod payload_type;
mod reader;
pub mod vendor;
mod wire_enum;

pub use attr::{AttrValue, Attribute, AttributeIter, OwnedAttrValue, OwnedAttribute};
pub use cfg::{CfgType, ConfigPayload, OwnedConfigPayload};
pub use chain::{parse_decrypted, PayloadChain, PayloadIter, RawPayload};
pub use doi::{Doi, IdType, ProtocolId};
pub use error::{Location, WireError};
pub use header::{ExchangeType, Flags, Header, HeaderView, Packet, HEADER_LEN};
pub use limits::Limits;
pub use message::{Body, Message, OwnedBodyKind, OwnedMessage};
pub use payload::{OwnedBody, OwnedPayload, Payload, PayloadRef};
pub use payload_type::PayloadType;
