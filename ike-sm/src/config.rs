//! What the endpoint is configured with: the gateway maps a PIX configuration onto these
//! plain structs (`isakmp policy`, `isakmp key`, `vpngroup`, `crypto ipsec transform-set`,
//! `crypto map ... client ...`), and an initiator describes the client it plays.

use crate::crypto::cipher::CipherAlg;
use crate::crypto::dh::DhGroup;
use crate::crypto::hash::HashAlg;
use core::net::Ipv4Addr;
use pix_primitives::retransmit::Backoff;
use pix_primitives::Secret;
use std::time::Duration;

/// One `isakmp policy <priority> ...` entry (authentication is always `pre-share`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsakmpPolicy {
    /// Priority: lower numbers are checked first.
    pub priority: u32,
    /// `encryption des|3des|aes|aes-192|aes-256`.
    pub encryption: CipherAlg,
    /// `hash md5|sha`.
    pub hash: HashAlg,
    /// `group 1|2|5|14`.
    pub group: DhGroup,
    /// `lifetime <seconds>`.
    pub lifetime_secs: u64,
}

/// `vpngroup <name> ...`: the Aggressive Mode group (ID_KEY_ID) and its policy.
#[derive(Debug)]
pub struct VpnGroup {
    /// The group name the client sends as ID_KEY_ID.
    pub name: String,
    /// `vpngroup <name> password`: the group's pre-shared key.
    pub password: Secret,
    /// Mode Config policy (address pools, DNS, WINS, split tunnel ...).
    pub policy: modecfg::GroupPolicy,
}

/// `isakmp key <key> address <a> netmask <m> [no-xauth] [no-config-mode]`.
#[derive(Debug)]
pub struct PeerKey {
    /// Peer address.
    pub address: Ipv4Addr,
    /// Netmask (0.0.0.0 with address 0.0.0.0: any peer).
    pub netmask: Ipv4Addr,
    /// The pre-shared key.
    pub key: Secret,
    /// `no-xauth`: skip Xauth for peers matching this entry.
    pub no_xauth: bool,
    /// `no-config-mode`: skip Mode Config for peers matching this entry.
    pub no_config_mode: bool,
}

impl PeerKey {
    /// Whether `peer` falls inside this entry's address/netmask.
    #[must_use]
    pub fn matches(&self, peer: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask);
        u32::from(peer) & m == u32::from(self.address) & m
    }
}

/// The ESP algorithms of transform sets and Quick Mode offers: `esp`'s, the one home of
/// the ESP transform IDs, key lengths and DES tables.
pub use esp::{EncryptionAlgorithm, IntegrityAlgorithm};

/// `crypto ipsec transform-set <name> <esp-cipher> <esp-auth>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSet {
    /// Its name.
    pub name: String,
    /// Cipher (`esp-des`, `esp-3des`, `esp-aes[-192|-256]`).
    pub cipher: EncryptionAlgorithm,
    /// Integrity (`esp-md5-hmac`, `esp-sha-hmac`).
    pub auth: IntegrityAlgorithm,
}

/// Bounds and timers, with PIX-like defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Half-open (phase 1 not finished) SAs kept, over all peers. When the table is
    /// full a new first message evicts one (the most crowded source prefix first), it is
    /// never refused: see the admission rules in `sm/admission.rs`.
    pub max_half_open: usize,
    /// Half-open SAs kept for one peer address; a new first message over it evicts that
    /// address's oldest half-open SA.
    pub max_half_open_per_peer: usize,
    /// IKE SAs in total.
    pub max_sas: usize,
    /// Concurrent Quick Modes of one IKE SA.
    pub max_quick_modes: usize,
    /// Child SA pairs alive under one IKE SA.
    pub max_child_sas: usize,
    /// First retransmission wait; doubles each time, up to
    /// [`Limits::retransmit_max_interval`].
    pub retransmit_initial: Duration,
    /// Cap on the doubling retransmission wait (default 32 s: the waits are 2, 4, 8, 16
    /// and 32 s, as on a PIX).
    pub retransmit_max_interval: Duration,
    /// Retransmissions before the exchange is given up.
    pub retransmit_count: u32,
    /// A half-open SA is dropped after this long (when not under pressure, see
    /// [`Limits::pressure_half_open`]).
    pub half_open_timeout: Duration,
    /// DPD: idle time before R-U-THERE (`None`: no DPD initiated by us).
    pub dpd_idle: Option<Duration>,
    /// DPD: R-U-THERE sent without an ACK before the peer is declared dead.
    pub dpd_retries: u32,
    /// DPD: wait for each ACK.
    pub dpd_retry_interval: Duration,
    /// Stored replies per SA for answering retransmissions.
    pub stored_replies: usize,
    /// NAT keepalive interval when we are behind a NAT (RFC 3948 2.3).
    pub natt_keepalive: Duration,
    /// New phase-1 negotiations accepted from one peer address per second, counted only
    /// once the first message's SA payload parsed and a proposal was chosen, in fixed
    /// hashed buckets (never a table that fills up and refuses everyone).
    pub new_sas_per_peer_per_sec: u32,
    /// Cisco fragmentation: fragments of one message kept at most.
    pub max_fragments: usize,
    /// Cisco fragmentation: reassembled message size at most.
    pub max_reassembled: usize,
    /// Phase-1 rekey of the IKE SAs we initiated: a new phase 1 with the same peer and
    /// profile starts this long before the SA's lifetime ends, capped at a tenth of the
    /// lifetime (so a short lifetime rekeys at 90%); like strongSwan's `margintime`
    /// (9 minutes). `None`: no rekey, the SA just expires. Responder SAs never rekey on
    /// their own (the client does, as with the PIX).
    pub phase1_rekey_margin: Option<Duration>,
    /// Whether [`Event::Debug`](crate::Event::Debug) events (the `debug crypto isakmp`
    /// and `debug crypto ipsec` lines) are built and queued at all. `true` (the default)
    /// is a PIX with debugging on; `false` is what the PIX does with `no debug`: no
    /// debug event is produced, which saves their formatting and queueing on every
    /// exchange. Nothing else changes (the other events, replies and state are the same).
    pub debug_events: bool,
    /// Admission under pressure: with at least this many half-open SAs the gateway is
    /// "under pressure": the wait for a half-open SA's next message drops to
    /// [`Limits::half_open_timeout_under_pressure`] and Diffie-Hellman key pairs are
    /// reused for [`Limits::dh_reuse_window`]. Default 64 (a quiet gateway never
    /// approaches it: a real login is half-open for one round trip).
    pub pressure_half_open: usize,
    /// The half-open timeout under pressure (default 5 s: a real client answers MM2/AM2
    /// within a round trip, a retransmission at most 2 s later).
    pub half_open_timeout_under_pressure: Duration,
    /// Under pressure the responder makes one DH key pair per group and uses it for every
    /// new negotiation for this long (default 10 s; zero: never reuse). In memory only,
    /// zeroized when the last SA using it goes. Off when not under pressure, so a quiet
    /// gateway draws a fresh exponent per SA as before.
    pub dh_reuse_window: Duration,
    /// Retransmissions of the responder's first reply (MM2, AM2) to a peer that has not
    /// answered yet: its address is unproven, so at most this many (default 1; later
    /// exchanges use [`Limits::retransmit_count`]).
    pub first_reply_retransmits: u32,
    /// Addresses that completed phase 1 recently, remembered (FIFO) so that their new
    /// negotiations are evicted last from a full half-open table (default 1024).
    pub recent_peers: usize,
    /// Load testing only: an initiator makes one phase-1 DH key pair per group and uses
    /// it for every negotiation it starts for this long (default zero: never, a fresh
    /// exponent per SA, the same bytes as before). This halves what a load generator
    /// pays per handshake so that it can saturate a gateway on the same machine. Never
    /// set it for a real client: the same KE in every negotiation links all its
    /// sessions to one another (the nonces, fresh per SA, still make the keys differ).
    pub initiator_dh_reuse: Duration,
    /// Load testing only, with [`Limits::initiator_dh_reuse`]: an initiator remembers the
    /// shared secret g^xy of its reused key pair with up to this many peer public values
    /// (default 0: off, every phase 1 computes its agreement). A gateway under pressure
    /// reuses one key pair per group (`Limits::dh_reuse_window`), so with both on every
    /// handshake after the first within the windows costs the client no modular
    /// exponentiation at all, and the client can drive a gateway of several workers on
    /// the same machine. The cache belongs to the reused key pair (a new key pair starts
    /// it empty; only an agreement with exactly that key pair and exactly that peer
    /// value is reused), is bounded (the oldest entry goes first), and is zeroized when
    /// it goes. The nonces still make every SA's keys differ. Never set it for a real
    /// client: besides linking its sessions (see [`Limits::initiator_dh_reuse`]), it
    /// keeps shared secrets in memory beyond their SA.
    pub initiator_dh_agreement_cache: usize,
}

impl Limits {
    /// The retransmission schedule of every exchange we start (phase 1, Quick Mode,
    /// Transaction): [`Limits::retransmit_initial`] doubling up to
    /// [`Limits::retransmit_max_interval`], 1 + [`Limits::retransmit_count`] sends.
    #[must_use]
    pub fn retransmit_backoff(&self) -> Backoff {
        Backoff {
            initial: self.retransmit_initial,
            max_interval: self.retransmit_max_interval,
            max_sends: u8::try_from(self.retransmit_count.saturating_add(1)).unwrap_or(u8::MAX),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_half_open: 2048,
            max_half_open_per_peer: 8,
            max_sas: 4096,
            max_quick_modes: 16,
            max_child_sas: 64,
            retransmit_initial: Duration::from_secs(2),
            retransmit_max_interval: Duration::from_secs(32),
            retransmit_count: 4,
            half_open_timeout: Duration::from_secs(60),
            dpd_idle: None,
            dpd_retries: 3,
            dpd_retry_interval: Duration::from_secs(2),
            stored_replies: 8,
            natt_keepalive: Duration::from_secs(20),
            new_sas_per_peer_per_sec: 10,
            max_fragments: 16,
            max_reassembled: 65_535,
            phase1_rekey_margin: Some(Duration::from_secs(540)),
            debug_events: true,
            pressure_half_open: 64,
            half_open_timeout_under_pressure: Duration::from_secs(5),
            dh_reuse_window: Duration::from_secs(10),
            first_reply_retransmits: 1,
            recent_peers: 1024,
            initiator_dh_reuse: Duration::ZERO,
            initiator_dh_agreement_cache: 0,
        }
    }
}

/// Mode Config behaviour (`crypto map <m> client configuration address initiate|respond`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModeCfgMode {
    /// `initiate`: push CFG_SET to clients that do not ask (the 1.1 client).
    pub initiate: bool,
    /// `respond`: answer CFG_REQUEST (Unity clients ask; pushed only when `initiate`
    /// and the peer is not a Unity client).
    pub respond: bool,
}

/// The responder (gateway) side of the endpoint.
#[derive(Debug)]
pub struct GatewayConfig {
    /// `isakmp policy` entries (checked in ascending priority).
    pub policies: Vec<IsakmpPolicy>,
    /// `vpngroup`s: Aggressive Mode keys by group name.
    pub groups: Vec<VpnGroup>,
    /// `isakmp key` entries: Main Mode keys by peer address.
    pub keys: Vec<PeerKey>,
    /// Group policy for Main Mode peers (the address pool of `isakmp client configuration
    /// address-pool local`).
    pub default_policy: modecfg::GroupPolicy,
    /// The dynamic crypto map's transform sets, in order.
    pub transform_sets: Vec<TransformSet>,
    /// `crypto map <m> client authentication <aaa>`: Xauth required.
    pub client_authentication: bool,
    /// Mode Config.
    pub mode_config: ModeCfgMode,
    /// `set pfs group<n>` of the crypto map.
    pub pfs: Option<DhGroup>,
    /// `crypto ipsec security-association lifetime seconds` (PIX default 28800).
    pub ipsec_lifetime_secs: u64,
    /// `crypto ipsec security-association lifetime kilobytes` (PIX default 4608000).
    pub ipsec_lifetime_kb: u64,
    /// Xauth server settings.
    pub xauth: xauth::ServerConfig,
    /// `isakmp nat-traversal <keepalive>`: NAT-T (RFC 3947 and drafts 02, 02\n, 03) with
    /// this keepalive interval; `None` leaves NAT-T out.
    pub nat_traversal: Option<Duration>,
    /// Mode Config server settings.
    pub modecfg: modecfg::ServerConfig,
    /// `crypto ipsec transform-set ... mode transport`: also accept transport-mode offers
    /// (2, or UDP-Encapsulated-Transport 4 / 61444 when NAT-T floated). Tunnel mode is
    /// always accepted; the seed's PIX takes tunnel mode only (`false`).
    pub transport_mode: bool,
    /// Whether an Aggressive Mode initiator whose identity names no `vpngroup` (an
    /// ID_IPV4_ADDR, FQDN, ...) may be answered with the Main Mode key of its address
    /// (`isakmp key ... address`). `false` (the default): it gets a random key, exactly as
    /// an unknown group does. Aggressive Mode sends HASH_R in the clear before the peer
    /// proves anything, so answering with an address key (often the wildcard
    /// `address 0.0.0.0 netmask 0.0.0.0`) hands anyone an offline dictionary attack on
    /// it (ike-scan + psk-crack). Turn on only for site-to-site peers that need it
    /// (`pix-gateway run --allow-aggressive-address-keys`).
    pub aggressive_address_keys: bool,
}

impl GatewayConfig {
    /// The policies sorted by priority.
    #[must_use]
    pub fn sorted_policies(&self) -> Vec<IsakmpPolicy> {
        let mut p = self.policies.clone();
        p.sort_by_key(|p| p.priority);
        p
    }
}

/// Endpoint-wide configuration.
#[derive(Debug)]
pub struct Config {
    /// Gateway (responder) settings; `None` for a client-only endpoint, which ignores
    /// new SAs from peers.
    pub gateway: Option<GatewayConfig>,
    /// Limits and timers.
    pub limits: Limits,
    /// Private DH exponent size.
    pub exponent: crate::crypto::dh::ExponentSize,
}

/// Which exchange a client starts phase 1 with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase1Mode {
    /// Main Mode (Identity Protection, 6 messages).
    Main,
    /// Aggressive Mode (3 messages).
    Aggressive,
}

/// One phase-1 transform a client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P1Offer {
    /// Cipher.
    pub encryption: CipherAlg,
    /// Hash.
    pub hash: HashAlg,
    /// Group (Aggressive Mode: every offer must use the first offer's group).
    pub group: DhGroup,
    /// 1 pre-shared key, 65001 XAUTHInitPreShared.
    pub auth_method: u16,
    /// Life duration in seconds (sent as a 4-byte TLV like the Cisco client).
    pub life_secs: Option<u64>,
}

/// Mode Config as the client runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientModeCfg {
    /// No Mode Config.
    None,
    /// Ask with CFG_REQUEST (VPN Client 4.x).
    Pull,
    /// Wait for CFG_SET (VPN Client 1.1).
    Push,
}

/// What a client endpoint offers and answers.
#[derive(Debug)]
pub struct ClientProfile {
    /// Main or Aggressive Mode.
    pub mode: Phase1Mode,
    /// Aggressive Mode: the group name, sent as ID_KEY_ID. Main Mode sends ID_IPV4_ADDR.
    pub group_name: Option<String>,
    /// The pre-shared key (group password).
    pub psk: Secret,
    /// Transforms offered, in order.
    pub offers: Vec<P1Offer>,
    /// Xauth user name and password answered when the gateway asks.
    pub xauth: Option<(String, Secret)>,
    /// Mode Config.
    pub mode_config: ClientModeCfg,
    /// Announce DPD, Unity and XAUTH vendor IDs.
    pub vendor_ids: bool,
    /// Announce NAT-T (RFC 3947) and send NAT-D.
    pub nat_t: bool,
    /// Send INITIAL-CONTACT in the last phase-1 message.
    pub initial_contact: bool,
    /// Announce Cisco IKE fragmentation (we reassemble; we never need to fragment).
    pub fragmentation: bool,
    /// With [`ClientProfile::nat_t`]: force UDP encapsulation even without a NAT, as
    /// strongSwan's `forceencaps` does. Our NAT-D payload for our own address carries the
    /// hash of a fake address (the unspecified address, port 0), so the responder
    /// believes we are behind a NAT, and we float to port 4500 ourselves once NAT-T is
    /// agreed; the Quick Modes then ask for UDP-encapsulated ESP. For load tests between
    /// network namespaces (no NAT in the path); default `false`.
    pub force_natt_encapsulation: bool,
}

impl ClientProfile {
    /// An explicit copy (the keys are duplicated: `Secret` is not `Clone`). A phase-1
    /// rekey starts its new SA from a duplicate of the old SA's profile.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self {
            mode: self.mode,
            group_name: self.group_name.clone(),
            psk: self.psk.duplicate(),
            offers: self.offers.clone(),
            xauth: self.xauth.as_ref().map(|(u, p)| (u.clone(), p.duplicate())),
            mode_config: self.mode_config,
            vendor_ids: self.vendor_ids,
            nat_t: self.nat_t,
            initial_contact: self.initial_contact,
            fragmentation: self.fragmentation,
            force_natt_encapsulation: self.force_natt_encapsulation,
        }
    }
}

/// A traffic selector (Quick Mode ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selector {
    /// ID_IPV4_ADDR.
    Addr(Ipv4Addr),
    /// ID_IPV4_ADDR_SUBNET.
    Subnet(Ipv4Addr, Ipv4Addr),
    /// ID_IPV4_ADDR_RANGE.
    Range(Ipv4Addr, Ipv4Addr),
}

/// A selector with its IP protocol and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    /// Addresses.
    pub addr: Selector,
    /// IP protocol (0: any).
    pub protocol: u8,
    /// Port (0: any).
    pub port: u16,
}

impl TrafficSelector {
    /// Any protocol and port.
    #[must_use]
    pub fn new(addr: Selector) -> Self {
        Self {
            addr,
            protocol: 0,
            port: 0,
        }
    }
}

/// One Quick Mode proposal a client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QmOffer {
    /// ESP cipher.
    pub cipher: EncryptionAlgorithm,
    /// ESP integrity ([`IntegrityAlgorithm::None`]: no Authentication Algorithm
    /// attribute is sent).
    pub auth: IntegrityAlgorithm,
    /// AND an IPCOMP (LZS) proposal to it, as the Cisco client does.
    pub with_ipcomp: bool,
    /// Transport mode (encapsulation 2; UDP-Encapsulated-Transport 4, or 61444 with a
    /// NAT-T draft, once NAT-T floated) instead of tunnel mode.
    pub transport: bool,
}

/// A Quick Mode to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickModeRequest {
    /// Our side (IDci).
    pub local: TrafficSelector,
    /// Their side (IDcr).
    pub remote: TrafficSelector,
    /// Proposals in order (numbered 1..).
    pub offers: Vec<QmOffer>,
    /// PFS group (KE in Quick Mode).
    pub pfs: Option<DhGroup>,
    /// Life in seconds.
    pub life_secs: u64,
    /// Life in kilobytes (0: none sent).
    pub life_kb: u64,
}
