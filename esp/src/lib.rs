//! Sans-IO ESP security associations (RFC 4303/2406) for an IKEv1 (PIX 6.3 style)
//! gateway: DES, 3DES and AES-CBC with HMAC-MD5-96 / HMAC-SHA1-96, anti-replay,
//! soft/hard lifetimes and RFC 3948 UDP encapsulation.
//!
//! ```
//! use esp::{EspKeys, EspSaParams, EncryptionAlgorithm, IntegrityAlgorithm, Encapsulation,
//!           InboundSa, OutboundSa};
//! use rand::{rngs::StdRng, SeedableRng};
//! use std::time::Instant;
//!
//! // KEYMAT from Quick Mode: the encryption key first, then the authentication key.
//! let keymat = [7u8; 16 + 20];
//! let params = || {
//!     let enc = EncryptionAlgorithm::from_transform(12, Some(128)).unwrap(); // ESP_AES
//!     let auth = IntegrityAlgorithm::from_attribute(Some(2)).unwrap(); // HMAC-SHA
//!     let keys = EspKeys::from_keymat(&keymat, enc, auth).unwrap();
//!     EspSaParams::new(0x1234_5678, enc, auth, Encapsulation::Tunnel, keys)
//! };
//! let now = Instant::now(); // the caller's clock; the crate never reads one
//! let mut out = OutboundSa::new(&params(), now)?;
//! let mut inb = InboundSa::new(&params(), now)?;
//! let mut rng = StdRng::seed_from_u64(1);
//!
//! let inner_ip = [0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! let mut buf = [0u8; 128];
//! let n = out.encapsulate_ip(now, &mut rng, &inner_ip, &mut buf)?;
//! let got = inb.decapsulate(now, &mut buf[..n])?;
//! assert_eq!(&buf[got.payload.clone()], &inner_ip);
//! assert_eq!(got.next_header, 4);
//! // The same packet again is a replay.
//! # let mut again = [0u8; 128];
//! # let n2 = { let mut o2 = OutboundSa::new(&params(), now)?; o2.encapsulate_ip(now, &mut StdRng::seed_from_u64(1), &inner_ip, &mut again)? };
//! # assert_eq!(inb.decapsulate(now, &mut again[..n2]).unwrap_err().kind(), esp::ErrorKind::Replayed);
//! # Ok::<(), esp::EspError>(())
//! ```
//!
//! The crate reads no clock, opens no socket and draws randomness only from the
//! `rand_core::CryptoRng` passed to [`OutboundSa::encapsulate`]. Packets are
//! processed in the caller's buffer, in place, without allocating.
//!
//! ## Known ESP pitfalls and the tests that cover them
//! - The replay window must move only after the ICV verified: `tests/sa.rs`
//!   (`forged_packet_does_not_move_window`).
//! - Sequence numbers must not wrap: `tests/sa.rs` (`sequence_exhaustion`).
//! - Monotonic padding must be checked, pad length must not exceed the payload:
//!   `tests/sa.rs` (`bad_padding_*`) and the fuzz target `esp_inbound`.
//! - KEYMAT order is the encryption key, then the authentication key:
//!   `tests/sa.rs` (`keymat_split_order`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cipher;
pub mod des_table;
pub mod error;
pub mod hmac96;
pub mod inspect;
pub mod lifetime;
pub mod packet;
pub mod params;
pub mod replay;
pub mod sa;
pub mod sad;
pub mod udp_encap;

pub use error::{ErrorKind, EspError, LifetimeLimit};
pub use lifetime::{LifetimeConfig, LifetimeEvent};
pub use packet::{peek_spi, EspPacket};
pub use params::{
    Encapsulation, EncryptionAlgorithm, EspKeys, EspSaParams, IntegrityAlgorithm, Mode,
};
/// The secret type of [`EspKeys`] (the workspace's one zeroizing secret).
pub use pix_primitives::Secret;
pub use replay::ReplayWindow;
pub use sa::{Decapsulated, InboundSa, OutboundSa};
pub use sad::InboundSaTable;
