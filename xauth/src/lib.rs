//! Sans-IO IKE Xauth dialogues and AAA codecs (TACACS+, RADIUS, local users).
//!
//! The gateway asks the user for credentials with [`XauthServer`], the client side
//! answers with [`XauthClient`]; both exchange Mode Config attribute payloads
//! ([`isakmp_wire::OwnedConfigPayload`]) that `ike-sm` carries in encrypted
//! Transaction exchanges. The AAA verdict comes from [`aaa::AaaClient`]: TACACS+
//! ([`tacacs`]), RADIUS ([`radius`]) or the local `username` store ([`LocalUsers`]),
//! all as bytes in, bytes out, events and deadlines. Nothing here opens a socket,
//! reads the clock or draws randomness by itself.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use isakmp_wire::ConfigPayload;
//! use xauth::*;
//!
//! // Any CryptoRng will do; a fixed one keeps the example reproducible.
//! struct Fixed(u8);
//! impl rand_core::TryRng for Fixed {
//!     type Error = core::convert::Infallible;
//!     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(u32::from(self.0)) }
//!     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(u64::from(self.0)) }
//!     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
//!         d.fill(self.0);
//!         Ok(())
//!     }
//! }
//! impl rand_core::TryCryptoRng for Fixed {}
//!
//! // Round-trips a message through its wire form, as ike-sm would.
//! fn wire(p: &isakmp_wire::OwnedConfigPayload) -> Vec<u8> {
//!     let mut b = Vec::new();
//!     p.emit(&mut b).unwrap();
//!     b
//! }
//!
//! let now = Instant::now();
//! let mut users = LocalUsers::new();
//! users.add_config_line("username cisco_customer password cisco123")?;
//!
//! let mut gw = XauthServer::start(ServerConfig::default(), now, &mut Fixed(7));
//! let mut vpn = XauthClient::new(Duration::from_secs(30));
//!
//! // REQUEST(TYPE, USER_NAME, USER_PASSWORD) -> the client prompts the user.
//! let req = wire(&gw.poll_transmit().unwrap());
//! vpn.handle(now, &ConfigPayload::parse(&req, 0)?)?;
//! let Some(ClientEvent::Prompt(prompt)) = vpn.poll_event() else { unreachable!() };
//! vpn.answer(now, prompt.identifier, Answer {
//!     user_name: Some(b"cisco_customer".to_vec()),
//!     password: Some(Secret::from("cisco123")),
//!     ..Answer::default()
//! })?;
//!
//! // REPLY -> the gateway asks its AAA backend (here the local store). The REPLY
//! // holds the password: it stays in zeroizing buffers up to the wire.
//! let reply = vpn.poll_transmit_zeroizing().unwrap().to_bytes()?;
//! gw.handle(now, &ConfigPayload::parse(&reply, 0)?)?;
//! let Some(ServerEvent::Credentials(c)) = gw.poll_event() else { unreachable!() };
//! let ok = users.authenticate(&c.user_name, c.password.as_ref().unwrap().expose_secret());
//! gw.verdict(now, c.id, if ok { Verdict::Accept } else { Verdict::Reject })?;
//!
//! // SET(STATUS=OK) -> ACK.
//! let set = wire(&gw.poll_transmit().unwrap());
//! vpn.handle(now, &ConfigPayload::parse(&set, 0)?)?;
//! assert_eq!(vpn.poll_event(), Some(ClientEvent::Finished { ok: true }));
//! let ack = vpn.poll_transmit_zeroizing().unwrap().to_bytes()?;
//! gw.handle(now, &ConfigPayload::parse(&ack, 0)?)?;
//! assert_eq!(
//!     gw.poll_event(),
//!     Some(ServerEvent::Finished(Outcome::Authenticated { user_name: b"cisco_customer".to_vec() }))
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pitfalls and the tests that cover them
//!
//! - A REPLY must echo the REQUEST's identifier; after a re-prompt the old one is
//!   dead (`tests/machines.rs`: `wrong_password_is_re_prompted_then_accepted`,
//!   `mismatched_and_unexpected_messages_are_silent_drops`).
//! - Peers send XAUTH_TYPE / XAUTH_STATUS as 2- or 4-byte TLVs, and short MESSAGEs
//!   in TV form (`attrs` unit tests, `incomplete_reply_is_refused_and_the_request_stays`,
//!   `client_refuses_what_it_cannot_do`).
//! - vpnc rejects any XAUTH_TYPE but TV 0: the gateway sends generic as TV
//!   (`full_dialogue_between_our_server_and_client`).
//! - An unacknowledged STATUS=OK does not admit the user (`unacknowledged_ok_is_a_failure`).
//! - A RADIUS reply is believed only after its Response Authenticator (and
//!   Message-Authenticator) verify; a wrong key looks like a dead server
//!   (`tests/freeradius.rs`: `wrong_shared_secret_fails_verification`).
//! - FreeRADIUS 3.2 drops requests whose Message-Authenticator is wrong, and
//!   delays rejects by a second (same test).
//! - A RADIUS reply protected only by its MD5 Response Authenticator can be forged
//!   (Blast-RADIUS, CVE-2024-3596): an Accept/Reject/Challenge without a
//!   Message-Authenticator is refused by default, at once and with its own error;
//!   FreeRADIUS before 3.2.5 must be told to send one (`tests/radius_blast.rs`,
//!   `tests/freeradius.rs`: `stock_freeradius_without_message_authenticator_is_refused_with_a_clear_error`).
//! - Password guessing across IKE SAs: [`throttle`] counts attempts still waiting
//!   for their verdict, so parallel dialogues cannot all reach the AAA server
//!   (`tests/throttle.rs`).
//! - TACACS+ PAP uses minor version 1, ASCII minor version 0; sequence numbers must
//!   not wrap (`tests/tacacs_server.rs`, `tacacs` unit tests).
//! - The wire model's attribute buffers are plain `Vec`s: a REPLY with a password is
//!   held as a [`ZeroizingPayload`] (wiped on drop, redacted in `Debug`) until the
//!   caller emits it (`payload` unit tests,
//!   `tests/machines.rs`: `client_reply_secrets_are_zeroizing_and_redacted`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod aaa;
pub mod attrs;
pub mod client;
pub mod error;
pub mod local;
pub mod payload;
pub mod radius;
pub mod server;
pub mod tacacs;
pub mod throttle;

pub use attrs::{IntForm, XauthAttribute, XauthStatus, XauthType};
pub use client::{Answer, ClientEvent, Prompt, Wants, XauthClient};
pub use error::XauthError;
pub use local::LocalUsers;
pub use payload::ZeroizingPayload;
/// The zeroizing secret bytes of the workspace (passwords, shared keys).
pub use pix_primitives::Secret;
pub use server::{
    Credentials, FailReason, Outcome, Round, ServerConfig, ServerEvent, Verdict, VerdictId,
    XauthServer,
};
pub use throttle::{Recorded, Throttle, ThrottleConfig, ThrottleStats, Throttled};
