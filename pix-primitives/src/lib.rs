//! Small Sans-IO building blocks shared by the pix-ipsec crates.
//!
//! Each of these had grown a copy in two to four crates; this crate is their one home,
//! so that a fix (a missed zeroize, an off-by-one in a bounds check, a backoff that
//! forgot its cap) is made once.
//!
//! - [`secret::Secret`]: zeroizing secret bytes (PSKs, passwords, keys) with a
//!   redacting `Debug`, no `Clone`/`Display`, constant-time comparison.
//! - [`reader::Reader`]: a bounded cursor over untrusted bytes whose errors
//!   ([`reader::ReadError`]) say what was read and at which offset.
//! - [`ipv4::Ipv4Packet`]: a smoltcp-style view of an IPv4 header;
//!   [`ipv4::Ipv4Packet::new_checked`] validates once, after which no accessor panics.
//! - [`retransmit::Backoff`] and [`retransmit::Retransmit`]: capped exponential
//!   retransmission with give-up, driven by `now` values the caller passes in.
//!
//! Nothing here performs I/O, reads a clock or draws randomness.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ipv4;
pub mod reader;
pub mod retransmit;
pub mod secret;

pub use ipv4::{Ipv4Error, Ipv4Packet};
pub use reader::{ReadError, Reader};
pub use retransmit::{Action, Backoff, Retransmit};
pub use secret::Secret;
