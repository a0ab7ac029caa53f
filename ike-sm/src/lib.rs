//! `ike-sm`: a Sans-IO IKEv1 endpoint (RFC 2408/2409). This release holds its crypto
//! core: MODP Diffie-Hellman (groups 1, 2, 5, 14) with a constant-time Montgomery
//! exponentiation, the HMAC PRFs, every RFC 2409 derivation (SKEYID*, Appendix B key
//! expansion, phase-1 and per-exchange IVs, HASH_I/HASH_R, Quick Mode HASH(1..3),
//! Informational HASH, KEYMAT), NAT-D hashes and the CBC encryption of ISAKMP bodies.
//! Randomness comes from an injected [`rand_core::CryptoRng`]; nothing here does IO.
//!
//! ```
//! use ike_sm::crypto::{
//!     cipher::{CipherAlg, IkeCipher},
//!     dh::{DhGroup, ExponentSize, KeyPair},
//!     hash::HashAlg,
//!     iv::Iv,
//!     phase1::{skeyid_psk, Skeyids},
//! };
//! use rand::{rngs::StdRng, SeedableRng};
//! let mut rng = StdRng::seed_from_u64(1); // any rand_core::CryptoRng; a gateway uses the OS one
//! // Both ends of a Main Mode with group 2, PSK, 3DES and SHA-1.
//! let group = DhGroup::from_attribute(2)?;
//! let ours = KeyPair::generate(group, ExponentSize::default(), &mut rng)?;
//! let theirs = KeyPair::generate(group, ExponentSize::Full, &mut rng)?;
//! let g_xy = ours.agree(theirs.public_value())?;
//! assert!(g_xy.ct_eq(theirs.agree(ours.public_value())?.expose_secret()));
//!
//! let hash = HashAlg::from_attribute(2)?;
//! let (cky_i, cky_r) = ([1u8; 8], [2u8; 8]);
//! let skeyid = skeyid_psk(hash, b"vpn3000-secret", b"Ni_b....", b"Nr_b....");
//! let keys = Skeyids::derive(hash, skeyid, g_xy.expose_secret(), &cky_i, &cky_r);
//!
//! let alg = CipherAlg::from_attributes(5, None)?;
//! let cipher = IkeCipher::new(alg, keys.encryption_key(alg))?; // Appendix B: 24 bytes
//! let iv = Iv::phase1(hash, ours.public_value(), theirs.public_value(), alg.block_size())?;
//! let mut body = *b"ID payload and HASH_I.........";
//! let mut buf = [0u8; 32];
//! buf[..body.len()].copy_from_slice(&body);
//! let n = cipher.encrypt_in_place(&iv, &mut buf, body.len())?;
//! assert_eq!(n, 32);
//! cipher.decrypt_in_place(&iv, &mut buf[..n])?;
//! assert_eq!(&buf[..body.len()], &body[..]);
//! body.fill(0);
//! # Ok::<(), ike_sm::SmError>(())
//! ```
//!
//! # Known IKEv1 crypto pitfalls, and the test that covers each
//! * g^xy, g^xi and g^xr are hashed at the full modulus length, left-padded with zeros
//!   (`dh::tests::small_known_answers`, `tests/dh_props.rs`).
//! * A PSK longer than the HMAC block is hashed first (`tests/kat_vectors.rs`, ike-scan
//!   65-character PSK).
//! * 3DES and AES-256 keys with a SHA-1 or MD5 PRF need Appendix B expansion, and keys that
//!   fit are truncated, not expanded (`tests/kat_vectors.rs`, NSS ids 11-13).
//! * The phase-2 IV hashes the last phase-1 CBC block, not the phase-1 IV
//!   (`tests/ikev1_certs.rs`, RUB-NDS informational IV).
//! * A retransmitted encrypted message must not advance the IV chain
//!   (`tests/ikev1_certs.rs`, frame 8; `crypto::iv::tests`).
//! * The IV chain advances past a received message only once its HASH verified
//!   (`IkeCipher::decrypt_next` + `Decrypted::accept`), so a forged message cannot
//!   desynchronise the exchange (`tests/ikev1_certs.rs`, `quick_mode_through_decrypt_next`).
//! * Receivers must ignore padding, whichever convention the sender used
//!   (`tests/ikev1_certs.rs`, `tests/kat_vectors.rs`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod crypto;
mod error;
pub mod event;
pub mod presets;
mod sm;

pub use config::*;
pub use error::SmError;
pub use event::{ChildSa, DebugEvent, Event, FailReason, SaId};
pub use sm::{Endpoint, P1State, Role, Transmit};
