//! `pix_gateway`: the core of a PIX 6.3-style IPsec remote-access gateway as a library.
//!
//! The crates of this workspace (isakmp-wire, ike-sm, xauth, modecfg, esp, pix-nat,
//! pix-config) each speak one protocol or apply one set of rules; [`Gateway`] joins them
//! the way a PIX 6.3 does for VPN clients: IKE (Main and Aggressive Mode), Xauth against
//! LOCAL, RADIUS or TACACS+ servers, Mode Config from `ip local pool`, Quick Mode, ESP
//! (raw and in UDP) and the PIX policy for tunnelled traffic (`sysopt connection
//! permit-ipsec`, `nat 0`, per-connection accounting).
//!
//! It is Sans-IO like the crates: no sockets, clocks, threads, files or OS randomness.
//! A driver hands it what arrives ([`Gateway::handle`] with an [`Input`]), does what it
//! asks ([`Gateway::poll_output`] gives each [`Output`]), and wakes it at
//! [`Gateway::poll_timeout`]. The `pix-gateway` binary is such a driver (sockets, a TUN
//! device, one core per worker thread); tests drive it in memory on a virtual clock.
//!
//! ```
//! use std::time::Instant;
//! use pix_gateway::{demo, Gateway, Input, Handled, Settings};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let plan = demo::plan().expect("the bundled demo configuration maps");
//! let now = Instant::now();
//! let mut gw = Gateway::new(plan, Settings::new("192.0.2.1".parse().unwrap()), now);
//! let mut rng = StdRng::seed_from_u64(1);
//! let answer = match gw.handle(now, Input::Command { line: "show version" }, &mut rng) {
//!     Handled::Answer(text) => text,
//!     other => panic!("{other:?}"),
//! };
//! assert!(answer.contains("PIX Version 6.3"));
//! while let Some(out) = gw.poll_output() {
//!     println!("{out:?}");
//! }
//! ```
//!
//! `examples/embed.rs` (`cargo run -p pix-gateway --example embed`) brings a tunnel up
//! between the core and an `ike-sm` initiator in memory and sends packets through it.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// The core is Sans-IO: time comes in as an argument (clippy.toml bans the clocks).
#![deny(clippy::disallowed_methods)]

pub mod demo;
pub mod gateway;

pub use gateway::dataplane::EspDest;
pub use gateway::view::{Command, Show, Snapshot, Stats, Whole};
pub use gateway::{
    guard::SharedThrottle, DebugKind, Gateway, Handled, Input, Level, LogRecord, MsgId, Output,
    Session, Settings,
};
