//! What the operator reads: the `show` commands, `show drops`, `show crypto isakmp
//! stats` and the Prometheus metrics, as typed values taken from a core
//! ([`Gateway::snapshot`](super::Gateway::snapshot)) and rendered by the functions
//! beside them. A gateway of several shards takes one [`Snapshot`] per shard and renders
//! the [`Whole`]: the same functions, so one shard and many print alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ike_sm::{Refusal, SaId, TrafficSelector};

use super::dataplane::Counters;
use super::{show, Session};

/// One IPsec SA pair as `show crypto ipsec sa` prints it.
#[derive(Debug, Clone)]
pub struct IpsecSaView {
    /// Our inbound SPI.
    pub spi_in: u32,
    /// The peer's (outbound) SPI.
    pub spi_out: u32,
    /// Its IKE SA.
    pub ike_sa: SaId,
    /// Our selector.
    pub local_selector: TrafficSelector,
    /// The client's selector.
    pub remote_selector: TrafficSelector,
    /// Our IKE address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// UDP-encapsulated (NAT-T).
    pub natt: bool,
    /// The PIX name of the cipher (`esp-aes`, ...).
    pub cipher: &'static str,
    /// The PIX name of the integrity transform, if any.
    pub integrity: Option<&'static str>,
    /// Bytes of ESP overhead (header, IV, padding bound, ICV, outer IP, UDP).
    pub overhead: usize,
    /// IV length.
    pub iv_len: usize,
    /// `Tunnel`, `Transport`, `Tunnel UDP-Encaps` ...
    pub mode: &'static str,
    /// Negotiated life, seconds.
    pub life_secs: u64,
    /// Negotiated life, kilobytes.
    pub life_kb: u64,
    /// Age now.
    pub age: Duration,
    /// Bytes the inbound SA took.
    pub bytes_in_sa: u64,
    /// Bytes the outbound SA sent.
    pub bytes_out_sa: u64,
    /// Installation order.
    pub serial: u64,
    /// Its counters.
    pub counters: Counters,
}

/// One `ip local pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolView {
    /// Its name.
    pub name: String,
    /// First address.
    pub first: Ipv4Addr,
    /// Last address.
    pub last: Ipv4Addr,
    /// Free addresses.
    pub available: u32,
    /// Leased addresses.
    pub in_use: u32,
    /// The first 4,096 addresses of the pool, leased or not (only when asked for by
    /// name: `show ip local pool NAME`).
    pub addresses: Vec<(Ipv4Addr, bool)>,
}

/// Counters and gauges of one core (or of a whole gateway, merged).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// IKE SAs, any state.
    pub ike_sas: usize,
    /// IKE SAs with phase 1 up.
    pub established: usize,
    /// Half-open SAs.
    pub half_open: usize,
    /// The half-open limit (per core).
    pub max_half_open: usize,
    /// Under admission pressure (any core).
    pub under_pressure: bool,
    /// Phase-1 modular exponentiations.
    pub modexps: u64,
    /// IPsec SA pairs.
    pub ipsec_pairs: usize,
    /// Users authenticated now.
    pub users: usize,
    /// Most users at once (of the whole gateway: the shards share the count).
    pub most_users: usize,
    /// Xauth in progress now.
    pub in_progress: usize,
    /// Most Xauth in progress at once (of the whole gateway, likewise).
    pub most_in_progress: usize,
    /// Phase 1s that came up.
    pub handshakes_ok: u64,
    /// Failures by reason label.
    pub handshakes_failed: BTreeMap<String, u64>,
    /// Xauth verdicts.
    pub xauth: BTreeMap<&'static str, u64>,
    /// Inner bytes from clients.
    pub bytes_in: u64,
    /// Inner bytes to clients.
    pub bytes_out: u64,
    /// The IKE endpoint's refusals, every reason (zeros included).
    pub refusals: Vec<(Refusal, u64)>,
    /// The Xauth throttle's counters (the throttle is shared by every core: not summed).
    pub throttle: xauth::ThrottleStats,
    /// Xauth refusals held back so far.
    pub delayed: u64,
    /// Xauth refusals held back now.
    pub held: usize,
    /// RADIUS replies refused for want of a Message-Authenticator, by `aaa-server` tag.
    pub aaa_refused: BTreeMap<String, u64>,
    /// Accounting records: `session_records_sent` (VPN-session Start, Interim-Update,
    /// Stop), and every record `acknowledged` or `lost` (no server of its group
    /// answered).
    pub accounting: BTreeMap<&'static str, u64>,
    /// ESP-stage drops by reason.
    pub esp_drops: BTreeMap<&'static str, u64>,
    /// Policy drops by reason.
    pub policy_drops: BTreeMap<String, u64>,
    /// Packets decapsulated.
    pub packets_in: u64,
    /// Packets encapsulated.
    pub packets_out: u64,
    /// MTU and fragments: fragments taken and datagrams reassembled per direction,
    /// TCP SYNs clamped (`sysopt connection tcpmss`), ICMP fragmentation-needed sent
    /// and rate limited, oversize packets sent for the kernel to fragment, and the
    /// reassembly gauges (`reassembly_waiting_*`, `reassembly_bytes_*`).
    pub mtu: BTreeMap<&'static str, u64>,
}

fn add<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, n) in from {
        let e = into.entry(k.clone()).or_insert(0);
        *e = e.saturating_add(*n);
    }
}

impl Stats {
    /// Adds another core's figures (the shared throttle's are taken once).
    pub fn merge(&mut self, o: &Stats) {
        self.ike_sas = self.ike_sas.saturating_add(o.ike_sas);
        self.established = self.established.saturating_add(o.established);
        self.half_open = self.half_open.saturating_add(o.half_open);
        self.max_half_open = self.max_half_open.saturating_add(o.max_half_open);
        self.under_pressure |= o.under_pressure;
        self.modexps = self.modexps.saturating_add(o.modexps);
        self.ipsec_pairs = self.ipsec_pairs.saturating_add(o.ipsec_pairs);
        self.users = self.users.saturating_add(o.users);
        // One shared count: every shard reports the same peak.
        self.most_users = self.most_users.max(o.most_users);
        self.in_progress = self.in_progress.saturating_add(o.in_progress);
        self.most_in_progress = self.most_in_progress.max(o.most_in_progress);
        self.handshakes_ok = self.handshakes_ok.saturating_add(o.handshakes_ok);
        add(&mut self.handshakes_failed, &o.handshakes_failed);
        add(&mut self.xauth, &o.xauth);
        self.bytes_in = self.bytes_in.saturating_add(o.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(o.bytes_out);
        if self.refusals.is_empty() {
            self.refusals.clone_from(&o.refusals);
        } else {
            for ((_, n), (_, m)) in self.refusals.iter_mut().zip(&o.refusals) {
                *n = n.saturating_add(*m);
            }
        }
        self.delayed = self.delayed.saturating_add(o.delayed);
        self.held = self.held.saturating_add(o.held);
        add(&mut self.aaa_refused, &o.aaa_refused);
        add(&mut self.accounting, &o.accounting);
        add(&mut self.esp_drops, &o.esp_drops);
        add(&mut self.policy_drops, &o.policy_drops);
        self.packets_in = self.packets_in.saturating_add(o.packets_in);
        self.packets_out = self.packets_out.saturating_add(o.packets_out);
        add(&mut self.mtu, &o.mtu);
    }

    /// Every drop and refusal since start, as (stage, label, words, count): the IKE
    /// endpoint's, the Xauth throttle's, the AAA clients', the ESP data plane's, the
    /// policy's and the failed phase 1s.
    #[must_use]
    pub fn refusal_counts(&self) -> Vec<(&'static str, String, String, u64)> {
        let mut v = Vec::new();
        for (r, n) in &self.refusals {
            if *n > 0 {
                v.push(("isakmp", r.label().to_string(), r.text().to_string(), *n));
            }
        }
        let t = &self.throttle;
        for (label, words, n) in [
            (
                "refused_locked_user_source",
                "logins refused without asking AAA: user locked out from that address",
                t.refused_user_source,
            ),
            (
                "refused_locked_user",
                "logins refused without asking AAA: user locked out from every address",
                t.refused_user,
            ),
            (
                "refused_in_flight",
                "logins refused without asking AAA: too many of the user's logins waiting for AAA",
                t.refused_in_flight,
            ),
            (
                "lockout_user_source",
                "lockouts started (user from one address, too many wrong passwords)",
                t.lockouts_user_source,
            ),
            (
                "lockout_user",
                "lockouts started (user from several addresses, too many wrong passwords)",
                t.lockouts_user,
            ),
        ] {
            if n > 0 {
                v.push(("xauth", label.to_string(), words.to_string(), n));
            }
        }
        for (tag, n) in &self.aaa_refused {
            if *n > 0 {
                v.push((
                    "aaa",
                    format!("radius_without_message_authenticator_{tag}"),
                    format!(
                        "RADIUS replies of aaa-server {tag} refused: no Message-Authenticator (Blast-RADIUS, CVE-2024-3596)"
                    ),
                    *n,
                ));
            }
        }
        for (k, n) in &self.esp_drops {
            v.push(("ipsec", (*k).to_string(), (*k).to_string(), *n));
        }
        for (k, n) in &self.policy_drops {
            v.push(("policy", k.clone(), k.clone(), *n));
        }
        for (k, n) in &self.handshakes_failed {
            v.push((
                "phase1",
                k.clone(),
                format!("phase 1 negotiations failed ({k})"),
                *n,
            ));
        }
        v
    }
}

/// Everything one core shows, taken at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The core's shard number (0 for a gateway of one).
    pub shard: u8,
    /// Its sessions (IKE SAs that came up).
    pub sessions: Vec<Session>,
    /// Its IPsec SA pairs, in installation order.
    pub ipsec: Vec<IpsecSaView>,
    /// Its counters.
    pub stats: Stats,
    /// The last packets its policy dropped, with the deciding configuration line.
    pub recent_drops: Vec<String>,
    /// The address pools (shared by every core: any snapshot's are the gateway's).
    pub pools: Vec<PoolView>,
    /// `show xlate | conn | local-host` of its policy, when that was asked for.
    pub policy: Option<String>,
}

/// What does not change while the gateway runs.
#[derive(Debug, Clone)]
pub struct Info {
    /// `hostname`.
    pub hostname: String,
    /// The crypto map's interface.
    pub outside_if: String,
    /// Our outside address.
    pub outside_addr: Ipv4Addr,
    /// The crypto map's name.
    pub crypto_map: String,
    /// Where the configuration came from.
    pub config_name: String,
    /// When the gateway started.
    pub started: Instant,
    /// `timeout uauth`.
    pub uauth_timeout: Duration,
}

/// A `show` the gateway answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    /// `show crypto isakmp sa`.
    IsakmpSa,
    /// `show crypto ipsec sa`.
    IpsecSa,
    /// `show uauth`.
    Uauth,
    /// `show ip local pool [NAME]` / `show local-pool [NAME]`.
    LocalPool(Option<String>),
    /// `show xlate`, `show conn`, `show local-host`.
    Policy(&'static str),
    /// `show drops`.
    Drops,
    /// `show crypto isakmp stats`.
    IsakmpStats,
    /// `show version`.
    Version,
}

/// An operator's command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A `show`.
    Show(Show),
    /// `clear crypto isakmp sa [PEER]`.
    Clear(Option<IpAddr>),
    /// Not a command: the answer to print.
    Invalid(String),
}

impl Command {
    /// Parses a command line (case-insensitive words; the PIX's short forms
    /// `show isakmp sa` and `show local-pool` too).
    #[must_use]
    pub fn parse(line: &str) -> Command {
        let words: Vec<&str> = line.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        match l.as_slice() {
            ["show", "crypto", "isakmp", "sa", ..] | ["show", "isakmp", "sa", ..] => {
                Command::Show(Show::IsakmpSa)
            }
            ["show", "crypto", "ipsec", "sa", ..] => Command::Show(Show::IpsecSa),
            ["show", "uauth", ..] => Command::Show(Show::Uauth),
            ["show", "local-pool", rest @ ..] | ["show", "ip", "local", "pool", rest @ ..] => {
                let name = rest
                    .first()
                    .and_then(|_| words.last().map(|w| (*w).to_string()));
                Command::Show(Show::LocalPool(name))
            }
            ["show", "xlate", ..] => Command::Show(Show::Policy("xlate")),
            ["show", "conn", ..] => Command::Show(Show::Policy("conn")),
            ["show", "local-host", ..] => Command::Show(Show::Policy("local-host")),
            ["show", "drops", ..] => Command::Show(Show::Drops),
            ["show", "crypto", "isakmp", "stats", ..] | ["show", "isakmp", "stats", ..] => {
                Command::Show(Show::IsakmpStats)
            }
            ["show", "version", ..] => Command::Show(Show::Version),
            ["clear", "crypto", "isakmp", "sa"] | ["clear", "isakmp", "sa"] => Command::Clear(None),
            ["clear", "crypto", "isakmp", "sa", _] | ["clear", "isakmp", "sa", _] => {
                match words.last().and_then(|w| w.parse::<IpAddr>().ok()) {
                    Some(p) => Command::Clear(Some(p)),
                    None => Command::Invalid("% Invalid peer address\n".into()),
                }
            }
            _ => Command::Invalid(format!(
                "% Unknown command: {line}\n\
                 % Known: show crypto isakmp sa | show crypto ipsec sa | show uauth | \
                 show local-pool [NAME] | show drops | show crypto isakmp stats | show version | \
                 show logging | show running-config | show failover | \
                 clear crypto isakmp sa [PEER] | clear logging | reload | \
                 debug crypto isakmp | debug crypto ipsec\n"
            )),
        }
    }
}

/// What `clear crypto isakmp sa [PEER]` prints after clearing `n` SAs.
#[must_use]
pub fn cleared(n: usize, peer: Option<IpAddr>) -> String {
    match peer {
        Some(p) => format!("{n} IKE SA(s) with {p} cleared\n"),
        None => format!("{n} IKE SA(s) cleared\n"),
    }
}

/// A whole gateway: its fixed facts and one snapshot per shard.
#[derive(Debug, Clone)]
pub struct Whole {
    /// The fixed facts.
    pub info: Info,
    /// One snapshot per shard, by shard number.
    pub shards: Vec<Snapshot>,
}

impl Whole {
    /// Every shard's counters added up.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for (i, p) in self.shards.iter().enumerate() {
            s.merge(&p.stats);
            if i == 0 {
                s.throttle = p.stats.throttle;
            }
        }
        s
    }

    fn pools(&self) -> &[PoolView] {
        self.shards.first().map_or(&[], |s| s.pools.as_slice())
    }

    /// Renders a `show`.
    #[must_use]
    pub fn show(&self, now: Instant, what: &Show) -> String {
        let sessions: Vec<&Session> = self.shards.iter().flat_map(|s| &s.sessions).collect();
        let mut ipsec: Vec<&IpsecSaView> = self.shards.iter().flat_map(|s| &s.ipsec).collect();
        ipsec.sort_by_key(|c| (c.serial, c.spi_in));
        match what {
            Show::IsakmpSa => show::isakmp_sa(&sessions, self.stats().ike_sas, &ipsec),
            Show::IpsecSa => show::ipsec_sa(
                &self.info.outside_if,
                &self.info.crypto_map,
                Some(self.info.outside_addr),
                &ipsec,
            ),
            Show::Uauth => {
                let st = self.stats();
                show::uauth(
                    now,
                    &sessions,
                    st.most_users,
                    st.most_in_progress,
                    self.info.uauth_timeout,
                )
            }
            Show::LocalPool(name) => show::local_pool(self.pools(), name.as_deref()),
            Show::Policy(_) => {
                let mut o = String::new();
                for s in &self.shards {
                    if self.shards.len() > 1 {
                        let _ = writeln!(o, "(shard {})", s.shard);
                    }
                    o.push_str(s.policy.as_deref().unwrap_or(""));
                }
                o
            }
            Show::Drops => self.show_drops(),
            Show::IsakmpStats => self.show_isakmp_stats(),
            Show::Version => show::version(
                &self.info.hostname,
                now.saturating_duration_since(self.info.started),
                &self.info.config_name,
                self.shards.len(),
            ),
        }
    }

    /// `show drops`: packets dropped in the data plane by stage and reason, and the
    /// last ones the policy dropped with the configuration line that decided.
    fn show_drops(&self) -> String {
        let mut o = String::from("Dropped packets and refused negotiations (since start)\n");
        for (stage, _, words, n) in self.stats().refusal_counts() {
            let _ = writeln!(o, "  {stage:<7}{n:>10}  {words}");
        }
        let recent: Vec<&String> = self.shards.iter().flat_map(|s| &s.recent_drops).collect();
        let _ = writeln!(o, "\nLast {} policy drops:", recent.len());
        for l in recent {
            let _ = writeln!(o, "  {l}");
        }
        o
    }

    /// `show crypto isakmp stats`: the IKE SAs by state, every refusal of the endpoint
    /// by reason, and the Xauth throttle (in the manner of the ASA's command of that
    /// name).
    fn show_isakmp_stats(&self) -> String {
        let st = self.stats();
        let mut o = String::from("Global IKE Statistics\n");
        let _ = writeln!(o, "Active SAs:      {}", st.established);
        let _ = writeln!(
            o,
            "Embryonic SAs:   {}",
            st.ike_sas.saturating_sub(st.established)
        );
        let _ = writeln!(
            o,
            "Half-open SAs:   {} of {}{}",
            st.half_open,
            st.max_half_open,
            if st.under_pressure {
                " (under pressure: shorter wait, DH key pairs reused)"
            } else {
                ""
            }
        );
        let _ = writeln!(o, "Phase 1 modexps: {}", st.modexps);
        let _ = writeln!(o, "Phase 1 up:      {}", st.handshakes_ok);
        let failed: u64 = st.handshakes_failed.values().sum();
        let _ = writeln!(o, "Phase 1 failed:  {failed}");
        let _ = writeln!(o, "\nDropped or refused, by reason:");
        for (r, n) in &st.refusals {
            let _ = writeln!(o, "  {n:>10}  {}", r.text());
        }
        let t = &st.throttle;
        let _ = writeln!(o, "\nXauth throttle:");
        let _ = writeln!(o, "  {:>10}  wrong passwords", t.failures);
        let _ = writeln!(
            o,
            "  {:>10}  lockouts of a user from one address",
            t.lockouts_user_source
        );
        let _ = writeln!(
            o,
            "  {:>10}  lockouts of a user from every address",
            t.lockouts_user
        );
        let _ = writeln!(
            o,
            "  {:>10}  logins refused without asking AAA (locked out)",
            t.refused_user_source.saturating_add(t.refused_user)
        );
        let _ = writeln!(
            o,
            "  {:>10}  logins refused without asking AAA (too many in flight)",
            t.refused_in_flight
        );
        let _ = writeln!(o, "  {:>10}  refusals held back now", st.held);
        let _ = writeln!(o, "  {:>10}  table entries (user, address)", t.pair_entries);
        o
    }

    /// The Prometheus text exposition (version 0.0.4) of the whole gateway, with the
    /// per-shard series (`shard="N"`) that show how the work is spread.
    #[must_use]
    pub fn metrics_text(&self) -> String {
        let st = self.stats();
        let mut o = String::new();
        let family = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(&mut o, "pix_ike_sas", "gauge", "IKE SAs by state.");
        let _ = writeln!(o, "pix_ike_sas{{state=\"established\"}} {}", st.established);
        let _ = writeln!(
            o,
            "pix_ike_sas{{state=\"embryonic\"}} {}",
            st.ike_sas.saturating_sub(st.established)
        );
        family(
            &mut o,
            "pix_ipsec_sa_pairs",
            "gauge",
            "IPsec SA pairs installed.",
        );
        let _ = writeln!(o, "pix_ipsec_sa_pairs {}", st.ipsec_pairs);
        family(
            &mut o,
            "pix_uauth_users",
            "gauge",
            "Authenticated VPN users.",
        );
        let _ = writeln!(o, "pix_uauth_users {}", st.users);
        family(
            &mut o,
            "pix_pool_addresses_in_use",
            "gauge",
            "Leased ip local pool addresses.",
        );
        for p in self.pools() {
            let _ = writeln!(
                o,
                "pix_pool_addresses_in_use{{pool=\"{}\"}} {}",
                label(&p.name),
                p.in_use
            );
        }
        family(
            &mut o,
            "pix_handshakes_total",
            "counter",
            "Phase 1 negotiations by result.",
        );
        let _ = writeln!(
            o,
            "pix_handshakes_total{{result=\"ok\"}} {}",
            st.handshakes_ok
        );
        for (r, n) in &st.handshakes_failed {
            let _ = writeln!(
                o,
                "pix_handshakes_total{{result=\"failed\",reason=\"{}\"}} {n}",
                label(r)
            );
        }
        family(&mut o, "pix_xauth_total", "counter", "Xauth verdicts.");
        for (r, n) in &st.xauth {
            let _ = writeln!(o, "pix_xauth_total{{verdict=\"{r}\"}} {n}");
        }
        family(
            &mut o,
            "pix_tunnel_bytes_total",
            "counter",
            "Inner bytes through IPsec SAs.",
        );
        let _ = writeln!(
            o,
            "pix_tunnel_bytes_total{{direction=\"from_clients\"}} {}",
            st.bytes_in
        );
        let _ = writeln!(
            o,
            "pix_tunnel_bytes_total{{direction=\"to_clients\"}} {}",
            st.bytes_out
        );
        family(
            &mut o,
            "pix_drops_total",
            "counter",
            "Packets dropped, by stage and reason.",
        );
        for (k, n) in &st.esp_drops {
            let _ = writeln!(
                o,
                "pix_drops_total{{stage=\"esp\",reason=\"{}\"}} {n}",
                label(k)
            );
        }
        for (k, n) in &st.policy_drops {
            let _ = writeln!(
                o,
                "pix_drops_total{{stage=\"policy\",reason=\"{}\"}} {n}",
                label(k)
            );
        }
        family(
            &mut o,
            "pix_mtu_events",
            "gauge",
            "MTU and fragments: counts since start (fragments, reassembled, tcpmss_clamped, frag_needed_sent, ...) and reassembly_waiting/bytes now, by event.",
        );
        for (k, n) in &st.mtu {
            let _ = writeln!(o, "pix_mtu_events{{event=\"{k}\"}} {n}");
        }
        family(
            &mut o,
            "pix_ike_refusals_total",
            "counter",
            "IKE datagrams dropped and negotiations refused, by reason.",
        );
        for (r, n) in &st.refusals {
            let _ = writeln!(o, "pix_ike_refusals_total{{reason=\"{}\"}} {n}", r.label());
        }
        family(
            &mut o,
            "pix_ike_half_open",
            "gauge",
            "Half-open IKE SAs (phase 1 not finished).",
        );
        let _ = writeln!(o, "pix_ike_half_open {}", st.half_open);
        family(
            &mut o,
            "pix_ike_under_pressure",
            "gauge",
            "1 while admission is under pressure (shorter half-open wait, DH key pairs reused).",
        );
        let _ = writeln!(o, "pix_ike_under_pressure {}", u8::from(st.under_pressure));
        family(
            &mut o,
            "pix_ike_phase1_modexps_total",
            "counter",
            "Diffie-Hellman modular exponentiations of phase 1 (key pairs and agreements).",
        );
        let _ = writeln!(o, "pix_ike_phase1_modexps_total {}", st.modexps);
        let t = &st.throttle;
        family(
            &mut o,
            "pix_xauth_throttle_total",
            "counter",
            "Xauth guessing throttle: lockouts started and logins refused without asking AAA.",
        );
        for (what, n) in [
            ("lockout_user_source", t.lockouts_user_source),
            ("lockout_user", t.lockouts_user),
            ("refused_user_source", t.refused_user_source),
            ("refused_user", t.refused_user),
            ("refused_in_flight", t.refused_in_flight),
            ("failures", t.failures),
            ("refusals_delayed", st.delayed),
        ] {
            let _ = writeln!(o, "pix_xauth_throttle_total{{event=\"{what}\"}} {n}");
        }
        family(
            &mut o,
            "pix_xauth_throttle_entries",
            "gauge",
            "Entries of the Xauth throttle's tables.",
        );
        let _ = writeln!(
            o,
            "pix_xauth_throttle_entries{{table=\"user_source\"}} {}",
            t.pair_entries
        );
        let _ = writeln!(
            o,
            "pix_xauth_throttle_entries{{table=\"user\"}} {}",
            t.user_entries
        );
        family(
            &mut o,
            "pix_aaa_replies_refused_total",
            "counter",
            "AAA replies refused, by server group and reason.",
        );
        for (tag, n) in &st.aaa_refused {
            let _ = writeln!(
                o,
                "pix_aaa_replies_refused_total{{server_group=\"{}\",reason=\"no_message_authenticator\"}} {n}",
                label(tag)
            );
        }
        family(
            &mut o,
            "pix_aaa_accounting_total",
            "counter",
            "AAA accounting records: VPN-session records sent, and every record acknowledged or lost (no server of its group answered).",
        );
        for what in ["session_records_sent", "acknowledged", "lost"] {
            let n = st.accounting.get(what).copied().unwrap_or(0);
            let _ = writeln!(o, "pix_aaa_accounting_total{{result=\"{what}\"}} {n}");
        }
        family(
            &mut o,
            "pix_xauth_refusals_held",
            "gauge",
            "Xauth refusals held back now (growing delay).",
        );
        let _ = writeln!(o, "pix_xauth_refusals_held {}", st.held);
        family(
            &mut o,
            "pix_shard_handshakes_total",
            "counter",
            "Phase 1s that came up, by shard (worker thread).",
        );
        for s in &self.shards {
            let _ = writeln!(
                o,
                "pix_shard_handshakes_total{{shard=\"{}\"}} {}",
                s.shard, s.stats.handshakes_ok
            );
        }
        family(
            &mut o,
            "pix_shard_ike_sas",
            "gauge",
            "IKE SAs (any state), by shard.",
        );
        for s in &self.shards {
            let _ = writeln!(
                o,
                "pix_shard_ike_sas{{shard=\"{}\"}} {}",
                s.shard, s.stats.ike_sas
            );
        }
        family(
            &mut o,
            "pix_shard_packets_total",
            "counter",
            "ESP packets through the data plane, by shard and direction.",
        );
        for s in &self.shards {
            let _ = writeln!(
                o,
                "pix_shard_packets_total{{shard=\"{}\",direction=\"from_clients\"}} {}",
                s.shard, s.stats.packets_in
            );
            let _ = writeln!(
                o,
                "pix_shard_packets_total{{shard=\"{}\",direction=\"to_clients\"}} {}",
                s.shard, s.stats.packets_out
            );
        }
        o
    }
}

/// A Prometheus label value: quotes, backslashes and newlines replaced.
fn label(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c == '\n' {
                '_'
            } else {
                c
            }
        })
        .collect()
}
