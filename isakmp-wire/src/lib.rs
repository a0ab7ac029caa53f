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
//! // bytes -> model -> bytes is the identity (a plaintext message's up to 3 bytes of
//! // zero alignment padding excepted: the model drops them and fixes the Length)
//! assert_eq!(OwnedMessage::parse(&bytes)?.to_bytes()?, bytes);
//! # Ok::<(), isakmp_wire::WireError>(())
//! ```
//!
//! Layout: [`header`] (the 28-byte header and the cookie-routing [`Packet`]
//! view), [`chain`] (the payload walker, plaintext and decrypted), [`payload`]
//! (one module per payload), [`attr`] (data attributes and their typed views),
//! [`cfg`](mod@cfg) (the Mode Config payload body), [`doi`], [`vendor`] (well-known VIDs),
//! [`limits`] and [`error`].
//!
//! Two ways in: [`Message::parse`] validates everything (header, every payload,
//! proposal, transform and attribute) without allocating, after which the
//! iterators walk the borrowed bytes; [`OwnedMessage`] is the model to build
//! messages and for bytes -> model -> bytes. [`Packet`] is the 28-byte header
//! view for routing by cookie before either.
//!
//! # IKEv1 wire pitfalls, and the test that covers each
//!
//! - Life durations come as TV or as TLV of 4 (or 8) bytes; both forms must
//!   survive a round trip: `tests/ike_scan_corpus.rs`
//!   (`main_mode_response_agrees_with_ike_scan`), `attr::tests`.
//! - Reserved bytes are not always zero (ike-scan `--mbz=255`); they are kept:
//!   `custom_proposal_keeps_reserved_bytes_and_attribute_order`.
//! - Payload 15 was NAT-D in early NAT-T drafts but is SA KEK for GDOI; NAT-D/OA
//!   come as 20/21 (RFC 3947) and 130/131 (drafts): unknown types stay opaque
//!   and round-trip; `tests/pcap_corpus.rs` (tshark disagrees on ISAKMP_sa_setup
//!   frames 3/4 and the test says why), `nat_t_payloads_in_both_numberings`.
//! - The draft-02 NAT-T VID exists with and without a trailing newline in the
//!   hashed string: `vendor::tests`, `vendor_ids_in_the_oracle_are_named`.
//! - Port 4500 carries ISAKMP only behind the 4-byte zero non-ESP marker:
//!   [`natt::classify_udp4500`], `non_esp_marker_and_esp_are_told_apart`.
//! - A chain that never says NONE must stop at the message end or at the
//!   payload cap, never loop: `malformed_captures_error_out_without_panicking`.
//! - The header Length may disagree with the datagram (fuzzed captures claim
//!   gigabytes): checked before any payload is read, same test.
//! - A decrypted body ends in cipher padding, a plaintext one must not:
//!   `decrypted_chain_reports_padding`.
//! - Address ID types must carry exactly their address bytes (an IPv6 subnet
//!   of 24 bytes crashed tcpdump once): INVALID-ID-INFORMATION, same test file.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
