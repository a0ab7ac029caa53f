//! Sans-IO IKE Mode Config (draft-dukes-ike-mode-cfg) as a Cisco PIX 6.3 runs it for
//! remote-access clients: typed attributes (Cisco Unity included), the pull and push
//! dialogues on both sides, `ip local pool` address pools and `vpngroup` group policy.
//!
//! The seed scenario's VPN Client 4.x pulls its configuration from a PIX with
//! `ip local pool VPNpool 10.89.129.200-10.89.129.204`:
//!
//! ```
//! use std::time::Instant;
//! use isakmp_wire::cfg::ConfigPayload;
//! use modecfg::{Assign, GroupPolicy, Pools, PullClient, PullServer, RetransmitConfig, ServerConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = Instant::now(); // the caller's clock; the library never reads one
//! let mut pools = Pools::new();
//! pools.add("VPNpool", "10.89.129.200".parse()?, "10.89.129.204".parse()?)?;
//! let policy = GroupPolicy {
//!     address_pools: vec!["VPNpool".into()],
//!     ..GroupPolicy::named("vpn3000")
//! };
//!
//! let mut client = PullClient::vpn_client_4x(now, 0x1234, "Cisco Systems VPN Client 4.0.5", RetransmitConfig::default())?;
//! let mut server = PullServer::new(ServerConfig::pix63(), now);
//!
//! // Client -> gateway: CFG_REQUEST (ike-sm would encrypt it in a Transaction exchange).
//! let request = modecfg::to_bytes(&client.poll_transmit().unwrap().payload)?;
//! let mut cx = Assign { pools: &mut pools, policy: &policy, user: "alice", aaa: None };
//! server.handle_payload(now, &ConfigPayload::parse(&request, 0)?, &mut cx)?;
//!
//! // Gateway -> client: CFG_REPLY.
//! let reply = server.poll_transmit().unwrap();
//! assert!(!reply.retransmission); // a first send; resends say so
//! let reply = modecfg::to_bytes(&reply.payload)?;
//! client.handle_payload(now, &ConfigPayload::parse(&reply, 0)?)?;
//! assert_eq!(client.config().unwrap().address, Some("10.89.129.200".parse()?));
//!
//! // The "Unsupported Attr" lines of the PIX's debug log:
//! let unsupported: Vec<String> = std::iter::from_fn(|| server.poll_event())
//!     .filter_map(|e| e.pix_line())
//!     .filter(|l| l.starts_with("Unsupported"))
//!     .collect();
//! assert_eq!(unsupported.len(), 7);
//!
//! // On teardown the SA gives its address back.
//! pools.release(server.take_lease().unwrap())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Known pitfalls, and the tests that cover them
//!
//! * A PIX logs "Unsupported Attr" only for types it does not implement; supported types
//!   with nothing configured are left out silently (`tests/seed.rs`).
//! * A retransmitted CFG_REQUEST must get the same REPLY, not a second address
//!   (`tests/flows.rs`, `retransmitted_request_gets_same_reply`).
//! * Address exhaustion must not leak a lease, and a released lease cannot be released
//!   twice (`pool.rs` tests, `tests/pool_model.rs`).
//! * A RADIUS Framed-IP-Address inside a pool must not collide with a pool lease
//!   (`pool.rs`, `aaa_address_wins_and_is_checked_against_pool`).
//! * SPLIT_INCLUDE entries are 14 bytes, not 8 (`unity.rs`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attrs;
pub mod client;
pub mod error;
pub mod lease_store;
pub mod policy;
pub mod pool;
pub mod server;
pub mod transmit;
pub mod unity;

pub use attrs::{AttrType, Ip4Subnet, Ip6Prefix, ModeCfgAttr, Text};
pub use client::{ClientConfig, ClientEvent, PullClient, PushClient, VPN_CLIENT_4X_REQUEST};
pub use error::ModeCfgError;
pub use lease_store::LeaseStore;
pub use policy::{GroupPolicy, SessionExpiry, SessionTimers};
pub use pool::{AaaAddress, AddressPool, Lease, LeaseSource, Pools};
pub use server::{Assign, AttrSet, PullServer, PushServer, ServerConfig, ServerEvent};
pub use transmit::Transmit;
pub use unity::SplitEntry;

/// The retransmission schedule (the one model shared with IKE and Xauth).
pub use pix_primitives::retransmit::Backoff;

/// The resend schedule of the side that sends first (the push server's SET, the pull
/// client's REQUEST): the shared [`Backoff`] under the name this crate has used.
pub type RetransmitConfig = Backoff;

use isakmp_wire::cfg::OwnedConfigPayload;

/// The wire bytes of an attribute payload body (what [`isakmp_wire::cfg::ConfigPayload::parse`] reads).
pub fn to_bytes(p: &OwnedConfigPayload) -> Result<Vec<u8>, ModeCfgError> {
    let mut out = Vec::with_capacity(p.wire_len());
    p.emit(&mut out)?;
    Ok(out)
}
