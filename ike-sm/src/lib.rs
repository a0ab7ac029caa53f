//! `ike-sm`: a Sans-IO IKEv1 endpoint (RFC 2408/2409) that behaves like the Cisco PIX 6.3
//! of the seed scenario: Main and Aggressive Mode (initiator and responder, pre-shared key
//! and XAUTH-PSK), Xauth and Mode Config inside encrypted Transaction exchanges, Quick Mode
//! with the PIX's proposal checks, Informational (notify, delete, DPD), NAT-T, Cisco
//! fragment reassembly, retransmission with stored replies, lifetimes and bounded state.
//!
//! An [`Endpoint`] is fed datagrams ([`Endpoint::handle_datagram`]) and timeouts
//! ([`Endpoint::handle_timeout`]) with the time and an injected [`rand_core::CryptoRng`],
//! and drained of [`Transmit`]s, [`Event`]s and its next deadline. It never does IO. The
//! seed's flow, a VPN Client 4.x against the PIX, fits in a few lines:
//!
//! ```
//! use ike_sm::{presets, crypto::dh::DhGroup, Endpoint, Event};
//! use rand::{rngs::StdRng, SeedableRng};
//! # #[allow(clippy::disallowed_methods)]
//! let now = std::time::Instant::now(); // the driver's clock; the library never reads one
//! let mut rng = StdRng::seed_from_u64(1); // a gateway passes the OS generator
//! let (gw_addr, client_addr) = ("192.168.1.1:500".parse()?, "192.168.1.2:500".parse()?);
//! let (config, pools) =
//!     presets::seed_gateway(b"cisco1234", "10.89.129.200".parse()?, "10.89.129.204".parse()?)?;
//! let mut pix = Endpoint::new(config, pools);
//! let mut client = Endpoint::new(presets::client(), modecfg::Pools::new());
//! let profile = presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "cisco_customer", b"cisco123");
//! let sa = client.initiate(now, client_addr, gw_addr, profile, &mut rng)?;
//! let mut debug = Vec::new();
//! for _ in 0..10 {
//!     while let Some(t) = client.poll_transmit() {
//!         pix.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
//!     }
//!     while let Some(t) = pix.poll_transmit() {
//!         client.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
//!     }
//!     while let Some(e) = pix.poll_event() {
//!         match e {
//!             // The driver asks TACACS+/RADIUS; here every password is right.
//!             Event::XauthCredentials { sa, .. } => pix.xauth_verdict(now, sa, true, &mut rng)?,
//!             Event::Debug(d) => debug.extend(d.pix_lines()),
//!             _ => {}
//!         }
//!     }
//! }
//! assert!(client.ready_for_quick_mode(sa));
//! assert_eq!(client.assigned_address(sa), Some("10.89.129.200".parse()?));
//! assert!(debug.contains(&"ISAKMP (0): Checking ISAKMP transform 6 against priority 10 policy".into()));
//! assert!(debug.contains(&"ISAKMP (0): atts are acceptable. Next payload is 3".into()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Datagrams on UDP 4500 (after a NAT-T float) carry the 4-byte non-ESP marker on the
//! wire: the driver strips it before [`Endpoint::handle_datagram`] and prefixes it to every
//! [`Transmit`] whose local port is 4500, except the 1-byte `0xFF` NAT keepalive, which is
//! sent as is.
//!
//! # The crypto core
//! MODP Diffie-Hellman (groups 1, 2, 5, 14) with a constant-time Montgomery exponentiation,
//! the HMAC PRFs, every RFC 2409 derivation (SKEYID*, Appendix B key expansion, phase-1
//! and per-exchange IVs, HASH_I/HASH_R, Quick Mode HASH(1..3), Informational HASH,
//! KEYMAT), NAT-D hashes and the CBC encryption of ISAKMP bodies ([`crypto`]).
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
//!
//! # Known state-machine pitfalls, and the test that covers each
//! * A retransmitted message must get the stored reply, never a second computation (a
//!   second AM2 would carry a new DH value) (`tests/scenario.rs`:
//!   `duplicate_am1_gets_the_same_am2`, `loss_is_repaired_by_retransmission_with_stored_replies`).
//! * The responder of a Transaction exchange never retransmits, so the side that sends
//!   REQUEST/SET must (the Xauth REQUEST is resent on the SA's timer) (`loss_is_repaired..`).
//! * An unknown group must look like a wrong key on the wire: AM2 is built with a random
//!   key (`wrong_psk_and_unknown_group_look_the_same_on_the_wire`,
//!   `main_mode_peer_without_key_looks_like_a_wrong_key`).
//! * A phase-1 HASH that fails once may be a damaged datagram: drop it and let the
//!   retransmission repair it; fail on the second (`tests/responder_robustness.rs`).
//! * HASH_I in AM3 does not cover the payloads after it, yet AM3's last ciphertext block
//!   seeds every phase-2 IV: a damaged tail of AM3 cannot be detected and breaks the
//!   Transaction exchanges that follow. An IKEv1 weakness; nothing to test but the limit
//!   of `one_corrupted_message_then_retransmission`.
//! * NAT-D hashes describe the addresses phase 1 started on, even when AM3 already arrives
//!   on UDP 4500 (`nat_t_float_to_4500_and_udp_encapsulation`).
//! * INITIAL-CONTACT behind a NAT must not drop the other clients of that NAT address
//!   (keyed by address and port when the peer is NATed).
//! * INITIAL-CONTACT proves nothing before Xauth (phase 1 proves only the group key): it
//!   is remembered and honoured after Xauth accepts the user, for that user's SAs from
//!   that peer only; without Xauth right after phase 1, for the SAs of the same phase-1
//!   identity (`tests/ownership.rs`: `initial_contact_*`).
//! * AND-ed ESP+IPCOMP proposals are refused as a whole, exactly as the PIX logs it
//!   (`vpn_client_4x_flow_matches_the_seed`).
//! * A Quick Mode arriving before Xauth and Mode Config finish is held, not refused
//!   (`vpn_client_11_flow_main_mode_push`, "Need XAUTH").
//! * A message with unknown cookies gets no INVALID-COOKIE notify, as on the PIX: silence
//!   gives a spoofer no reflector and a scanner no answer (`unknown_cookies_are_dropped_silently`).
//! * IKEv1 has no stateless cookie: a full half-open table must shed (evict in the most
//!   crowded source prefix), never refuse, or 40 spoofed AM1/s lock every user out; the
//!   rate per source is counted after the proposal, in fixed hashed buckets
//!   (`tests/flood.rs`, `sm/admission.rs` tests).
//! * HASH_R with pre-shared keys needs only SKEYID = prf(PSK, Ni | Nr): g^xy waits for
//!   AM3, and under pressure one key pair per group is reused for a short window, so a
//!   spoofed AM1 costs no modexp (`aggressive_mode_flood_costs_few_modexps_..`,
//!   `key_pair_reuse_only_under_pressure_and_for_a_window`).
//! * An Aggressive Mode identity that names no group (of any ID type) gets a random key,
//!   never the address key: HASH_R is sent in the clear, so a wildcard `isakmp key` would
//!   be open to psk-crack (`aggressive_mode_ipv4_identity_gets_a_fake_key_unless_allowed`).
//! * The first reply to an unproven address is resent at most once (no amplification)
//!   (`first_reply_to_a_silent_peer_is_sent_at_most_twice`).
//! * A client given an address by Mode Config may only claim that address as its Quick
//!   Mode initiator ID, or it could take over another user's traffic
//!   (`quick_mode_initiator_id_must_be_the_mode_config_address`). A peer without a Mode
//!   Config address (`no-config-mode`) may not claim 0.0.0.0/0, a pool's addresses or an
//!   address assigned to another SA (`tests/ownership.rs`:
//!   `a_peer_without_an_address_cannot_claim_pools_or_other_users_addresses`).
//! * A client that re-runs phase 1 (a rekey, Xauth and Mode Config again, the old SA
//!   still up) must get the address it holds, not a second lease: else it holds two, and
//!   Mode Config names one while its tunnels carry the other. The old SA keeps the lease
//!   until it goes, then the new one holds it (`tests/rekey_address.rs`).
//!
//! # Cargo features
//! * `fuzzing` (off, never in `default`): **no security**. Diffie-Hellman becomes a
//!   stand-in whose public value is the private exponent and whose shared secret is the
//!   XOR of both, so a fuzzer drives the encrypted exchanges without paying for modular
//!   exponentiations. Only the cargo-fuzz workspace (`fuzz/Cargo.toml`) enables it;
//!   [`crypto::dh::INSECURE_FUZZING_CRYPTO`] tells a driver whether it was compiled in,
//!   and `tests/fuzzing_feature.rs` checks that a normal build does real DH.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod counters;
pub mod crypto;
mod error;
pub mod event;
pub mod outcome;
pub mod presets;
mod shard;
mod sm;

pub use config::*;
pub use counters::{Counters, Refusal};
pub use error::SmError;
pub use event::{ChildSa, DebugEvent, DeleteReason, Event, FailReason, SaId};
pub use outcome::{DropReason, Outcome};
/// Secret bytes (a PSK, a password, g^xy, SKEYID*, a key, KEYMAT): the workspace's one
/// zeroizing type, redacted in `Debug`, compared in constant time.
pub use pix_primitives::Secret;
pub use shard::Shard;
pub use sm::{Endpoint, P1State, Role, Stale, Transmit};
