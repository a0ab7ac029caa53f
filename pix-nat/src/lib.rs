//! What a Cisco PIX 6.3 does with a packet, as pure functions over explicit state,
//! with a `packet-tracer`-style explanation of every verdict.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Instant;
//! use pix_nat::{Action, DropReason, Firewall, Packet, PhaseKind, State};
//!
//! let cfg = "\
//! nameif ethernet0 outside security0
//! nameif ethernet1 inside security100
//! ip address outside 192.168.1.1 255.255.255.0
//! ip address inside 10.1.1.1 255.255.255.0
//! global (outside) 1 192.168.1.6-192.168.1.7
//! nat (inside) 1 0.0.0.0 0.0.0.0 0 0
//! static (inside,outside) 192.168.1.11 10.1.1.10 netmask 255.255.255.255 0 0
//! access-list 120 permit tcp any host 10.1.1.10 eq www
//! access-group 120 in interface outside
//! route outside 0.0.0.0 0.0.0.0 192.168.1.3 1
//! ";
//! let fw = Firewall::new(&pix_config::parse(cfg).config).unwrap();
//! let mut st = State::new();
//! let now = Instant::now();
//!
//! // outbound: translated from global pool 1, lowest address first
//! let out = Packet::tcp("inside", Ipv4Addr::new(10, 1, 1, 20), 1025, Ipv4Addr::new(8, 8, 8, 8), 80);
//! let v = fw.process(&mut st, &out, now);
//! assert!(v.trace.allowed());
//! assert_eq!(v.egress.unwrap().src, Ipv4Addr::new(192, 168, 1, 6));
//!
//! // inbound: PIX 6.x ACLs match the *mapped* address, so this ACL (written with
//! // the real address) lets nothing in
//! let inb = Packet::tcp("outside", Ipv4Addr::new(8, 8, 8, 8), 4000, Ipv4Addr::new(192, 168, 1, 11), 80);
//! let t = fw.trace(&st, &inb, now);
//! assert_eq!(t.action, Action::Drop(DropReason::AclDrop));
//! assert!(t.phase(PhaseKind::UnNat).is_some());
//! println!("{}", t.render());
//! ```
//!
//! # Model
//!
//! * [`Firewall::new`] compiles a [`pix_config::Config`]: interfaces and security
//!   levels, connected and static routes, every access-list as a [`Classifier`],
//!   `access-group`, `conduit`, `static`, `nat`, `global`, `aaa ... include|exclude`,
//!   `sysopt connection permit-ipsec`, `timeout`.
//! * [`State`] holds what changes: [`XlateTable`], [`ConnTable`], [`UauthTable`],
//!   connected VPN clients. [`Firewall::process`] takes state, packet and `now` and
//!   returns a [`Verdict`] (trace, accounting records, connection, egress
//!   addresses); [`Firewall::step`] is the by-value form; [`Firewall::trace`] leaves
//!   the state alone; [`Firewall::expire`] tears down what idled out.
//! * Renderers: [`Trace::render`] (packet-tracer text), [`show_xlate`],
//!   [`show_conn`], [`show_uauth`], [`show_local_host`]; with the `serde`
//!   feature the plain structs serialise (`Trace::to_json`).
//! * [`run_trace_command`] is the `trace CONFIG input IF PROTO SRC SPORT DST DPORT
//!   [--vpn-user USER] [--format text|json]` command.
//!
//! # PIX 6.x semantics (not ASA 8.3+)
//!
//! Order for a connection's first packet: FLOW-LOOKUP, UN-NAT (nat 0 access-list
//! exemption seen from the other side, `static`, existing xlate), ROUTE-LOOKUP on
//! the real destination, SECURITY-LEVEL (equal levels pass nothing; lower to higher
//! needs a static, exemption or xlate), IPSEC-BYPASS or ACCESS-LIST (first match on
//! the *mapped* addresses seen on the input interface, implicit deny) or CONDUIT
//! (only without an access-group on that interface), AAA (cut-through for ftp,
//! telnet, http, https; other services need a user already in uauth), NAT for
//! outbound (nat 0 access-list, existing xlate, static, policy nat, longest nat,
//! then a global on the egress interface: NAT addresses lowest first, then PAT
//! keeping the port or taking one from its band), FLOW-CREATION. Later packets of
//! a TCP/UDP connection ride it unchecked; ICMP is not stateful (replies need a
//! permit).
//!
//! # Known pitfalls covered (tests)
//!
//! * ACL written with the real address of a static: implicit deny on 6.x
//!   (`tests/scenarios.rs::s1_static_acl_real_address_denied`).
//! * A `static` wins over `nat 1` for outbound traffic of its host
//!   (`tests/scenarios.rs::s2_pool_exhaustion`).
//! * `nat 0 net` is outbound-only (`tests/reference.rs::identity_nat_is_outbound_only`).

//! # Not modelled (yet)
//!
//! `outbound`/`apply` lists, outside NAT (`nat ... outside`), the `dns` option,
//! connection and embryonic limits of `nat`/`static`, fixups (FTP data channels,
//! SIP, H.323 pinholes), `per-user-override` and downloadable ACLs, traffic to the
//! PIX itself (dropped as to-the-box). `ipsec user` uauth entries live as long as
//! their tunnel ([`State::vpn_disconnect`]) rather than by the uauth timer.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accounting;
pub mod acl;
pub mod classifier;
pub mod cli;
pub mod conn;
mod decide;
mod engine;
mod error;
pub mod frag;
mod model;
pub mod mss;
pub mod nat;
mod packet;
pub mod route;
pub mod show;
pub mod trace;
pub mod uauth;
pub mod xlate;

pub use accounting::{AccountingRecord, RecordKind};
pub use acl::{Ace, AclAction, PortMatch, Tuple};
pub use classifier::Classifier;
pub use cli::{run_trace_command, trace, Format, TraceRequest};
pub use conn::{Conn, ConnTable, Endpoints, TcpState};
pub use engine::{State, Verdict};
pub use error::{BuildError, TraceArgsError, TraceError};
pub use model::{Firewall, Interface, RouteEntry, Timeouts};
pub use packet::{Packet, Proto, TcpFlags};
pub use show::{show_conn, show_local_host, show_uauth, show_xlate};
pub use trace::{Action, ConfigRef, DropReason, Phase, PhaseKind, PhaseResult, Trace};
pub use uauth::{UauthEntry, UauthTable, UauthVia};
pub use xlate::{Xlate, XlateKind, XlateTable};
