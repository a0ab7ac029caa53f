//! The PIX's syslog: `logging on`, `logging host IF ADDR [udp/PORT]`, `logging trap
//! LEVEL`, `logging buffered LEVEL` (and `show logging`), `logging timestamp`,
//! `logging device-id`, `logging facility`, `logging message ID level L` and `no
//! logging message ID`, applied to the core's records ([`LogRecord`]) as a PIX 6.3
//! applies them to its messages.
//!
//! What goes on the wire, one UDP datagram per message (the PIX's framing: no
//! hostname field, the PIX's own timestamp with the year):
//!
//! ```text
//! <PRI>[Mmm dd yyyy hh:mm:ss: ][DEVICE-ID : ]%PIX-<level>-<id>: <text>
//! ```
//!
//! `PRI` is `facility * 8 + level` (default facility local4, 20: a level-6 message is
//! `<166>`). The timestamp is UTC (the gateway keeps no PIX `clock timezone`). Where
//! the device id sits is not confirmed by a PIX 6.3 source (ASA puts `ID : ` in the
//! same place).
//!
//! Sending never blocks a worker: the socket is non-blocking, a datagram the kernel
//! does not take is dropped and counted, and a token bucket (`RATE` per second, `BURST`
//! at once, over all messages) bounds what a flood of events can send; what it holds
//! back is counted, shown by `show logging`, and reported with message 800013 once the
//! bucket has room again. The buffer (`logging buffered`) keeps the last `logging
//! queue` messages (512 by default, at most [`MAX_BUFFER`]).
//!
//! The records never carry a secret (the core's [`LogRecord`] contract: no password,
//! key or PSK is ever put in one); the tests check the wire for the configuration's
//! secrets all the same.
// The shell reads the clock (SystemTime for the timestamp, Instant for the bucket).
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use pix_config::logging::{DeviceId, LogLevel, LogProtocol, LoggingSettings};
use pix_gateway::gateway::io::SEVERITY_NAMES;
use pix_gateway::{Level, LogRecord, MsgId};

/// Messages per second the token bucket lets through to the `logging host`s.
pub const RATE: u32 = 500;
/// Messages the bucket lets through at once.
pub const BURST: u32 = 1000;
/// The most messages `logging buffered` keeps, whatever `logging queue` says.
pub const MAX_BUFFER: usize = 4096;
/// At most one 800013 report of messages held back, per this interval.
const DROP_REPORT: Duration = Duration::from_secs(10);

/// A `logging host` the gateway sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The interface name (`show logging` prints it).
    pub interface: String,
    /// Address and UDP port.
    pub addr: SocketAddr,
}

/// The `logging` configuration, resolved ([`Settings::from_config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `logging on`.
    pub enabled: bool,
    /// `logging timestamp`.
    pub timestamp: bool,
    /// `logging trap` severity (0-7) for the hosts; `None`: nothing sent.
    pub trap: Option<u8>,
    /// `logging buffered` severity (0-7); `None`: nothing buffered.
    pub buffered: Option<u8>,
    /// `logging facility` (16-23).
    pub facility: u8,
    /// `logging device-id`, resolved (`hostname` to the host name, `ipaddress IF` to
    /// that interface's address).
    pub device_id: Option<String>,
    /// How `logging device-id` was written (`show logging`).
    pub device_id_kind: Option<String>,
    /// UDP hosts.
    pub hosts: Vec<Host>,
    /// The `logging` lines as the configuration resolves them (the per-message levels
    /// and disabled ids of `logging message`).
    pub logging: LoggingSettings,
    /// Buffer size (`logging queue`, bounded by [`MAX_BUFFER`]).
    pub buffer_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: false,
            timestamp: false,
            trap: None,
            buffered: None,
            facility: pix_config::logging::DEFAULT_FACILITY,
            device_id: None,
            device_id_kind: None,
            hosts: Vec::new(),
            logging: LoggingSettings::default(),
            buffer_size: 512,
        }
    }
}

impl Settings {
    /// The settings of a parsed configuration, and a warning for each `logging` line
    /// the gateway does not carry out (TCP hosts, EMBLEM format, unresolved names).
    #[must_use]
    pub fn from_config(config: &pix_config::Config) -> (Settings, Vec<String>) {
        let l: LoggingSettings = config.logging();
        let mut warnings = Vec::new();
        let hostname = config.commands.iter().find_map(|c| match &c.value {
            pix_config::Command::Hostname(h) => Some(h.clone()),
            _ => None,
        });
        let (device_id, device_id_kind) = match &l.device_id {
            None => (None, None),
            Some(DeviceId::Hostname) => (hostname.clone(), Some("hostname".to_string())),
            Some(DeviceId::IpAddress(ifname)) => (
                config
                    .interface_address(ifname)
                    .map(|(a, _)| a.to_string())
                    .or_else(|| {
                        warnings.push(format!(
                            "logging device-id ipaddress {ifname}: interface {ifname} has no ip address: no device id"
                        ));
                        None
                    }),
                Some(format!("ipaddress {ifname}")),
            ),
            Some(DeviceId::String(t)) => (Some(t.clone()), Some(format!("string {t}"))),
        };
        let mut hosts = Vec::new();
        for h in &l.hosts {
            match (h.protocol, h.address) {
                (LogProtocol::Udp, Some(a)) => {
                    if h.emblem {
                        warnings.push(format!(
                            "logging host {} {}: format emblem is not supported: sent in the PIX format",
                            h.interface, a
                        ));
                    }
                    hosts.push(Host {
                        interface: h.interface.clone(),
                        addr: SocketAddr::new(a.into(), h.port),
                    });
                }
                (LogProtocol::Tcp, _) => warnings.push(format!(
                    "logging host {} {:?} tcp/{}: TCP syslog is not supported: nothing sent there",
                    h.interface, h.written, h.port
                )),
                (_, None) => warnings.push(format!(
                    "logging host {} {:?}: the name resolves to no address (no `name` line): nothing sent there",
                    h.interface, h.written
                )),
            }
        }
        let level = |l: Option<LogLevel>| l.map(LogLevel::number);
        let settings = Settings {
            enabled: l.enabled,
            timestamp: l.timestamp,
            trap: level(l.trap),
            buffered: level(l.buffered),
            facility: l.facility,
            device_id,
            device_id_kind,
            hosts,
            buffer_size: usize::try_from(l.queue)
                .unwrap_or(MAX_BUFFER)
                .clamp(1, MAX_BUFFER),
            logging: l,
        };
        (settings, warnings)
    }

    /// The level a record goes out at (`logging message ID level L`), or `None` when
    /// `no logging message ID` turned it off.
    #[must_use]
    pub fn level_of(&self, id: u32, default: u8) -> Option<u8> {
        let default = LogLevel::from_number(default).unwrap_or(LogLevel::Debugging);
        self.logging
            .message_level(id, default)
            .map(LogLevel::number)
    }
}

/// `Mmm dd yyyy hh:mm:ss` (UTC) of `t`, the PIX's `logging timestamp`.
#[must_use]
pub fn pix_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = usize::try_from(m.saturating_sub(1))
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{month} {d:02} {y} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Year, month (1-12), day (1-31) of a day count since 1970-01-01 (H. Hinnant's
/// civil_from_days), for days up to the end of year 9999.
// The day count is clamped to 0..=2_932_896 first: every step stays far inside i64.
#[allow(clippy::arithmetic_side_effects, clippy::integer_division)]
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z.clamp(0, 2_932_896) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The datagram of one message: `<PRI>[timestamp: ][device-id : ]%PIX-L-ID: text`.
#[must_use]
pub fn frame(s: &Settings, level: u8, body: &str, at: SystemTime) -> String {
    let mut out = String::with_capacity(body.len().saturating_add(48));
    let pri = u16::from(s.facility)
        .saturating_mul(8)
        .saturating_add(u16::from(level));
    let _ = write!(out, "<{pri}>");
    if s.timestamp {
        let _ = write!(out, "{}: ", pix_timestamp(at));
    }
    if let Some(id) = &s.device_id {
        let _ = write!(out, "{id} : ");
    }
    out.push_str(body);
    out
}

/// A token bucket over all messages: `rate` per second, `burst` at once.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    #[must_use]
    pub fn new(rate: u32, burst: u32) -> Self {
        Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: None,
        }
    }

    /// Takes a token at `now`, if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(t) = self.at {
            let dt = now.saturating_duration_since(t).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the sender counts (`show logging`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages put in the buffer.
    pub buffered: u64,
    /// Messages sent to the hosts (one per message, whatever the host count).
    pub trapped: u64,
    /// Messages the rate limit held back.
    pub rate_limited: u64,
    /// Datagrams the kernel did not take (full socket buffer, no route).
    pub send_failed: u64,
}

#[derive(Debug)]
struct State {
    settings: Settings,
    buffer: VecDeque<String>,
    counts: Counts,
    bucket: Bucket,
    /// Held back since the last 800013 report.
    unreported: u64,
    last_report: Option<Instant>,
}

/// The syslog sender of a whole gateway (every worker hands it its records).
#[derive(Debug)]
pub struct Syslog {
    socket: Option<UdpSocket>,
    state: Mutex<State>,
}

impl Syslog {
    /// A sender with `settings` and its UDP socket (opened even without hosts: a
    /// reload may add some).
    ///
    /// # Errors
    /// The socket could not be opened.
    pub fn new(settings: Settings) -> anyhow::Result<Syslog> {
        Ok(Syslog {
            socket: Some(Self::socket()?),
            state: Mutex::new(State {
                buffer: VecDeque::with_capacity(settings.buffer_size.min(64)),
                settings,
                counts: Counts::default(),
                bucket: Bucket::new(RATE, BURST),
                unreported: 0,
                last_report: None,
            }),
        })
    }

    fn socket() -> anyhow::Result<UdpSocket> {
        let s = UdpSocket::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)).map_err(|e| {
            anyhow::anyhow!("syslog: cannot open a UDP socket for logging host: {e}")
        })?;
        s.set_nonblocking(true)
            .map_err(|e| anyhow::anyhow!("syslog: cannot make its UDP socket non-blocking: {e}"))?;
        Ok(s)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// New settings (`pix-gateway reload`); the buffer and counts stay.
    pub fn reconfigure(&self, settings: Settings) {
        let mut st = self.lock();
        while st.buffer.len() > settings.buffer_size {
            st.buffer.pop_front();
        }
        st.settings = settings;
    }

    /// The current settings.
    #[cfg_attr(not(test), allow(dead_code))]
    #[must_use]
    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    /// What has been counted.
    #[cfg_attr(not(test), allow(dead_code))]
    #[must_use]
    pub fn counts(&self) -> Counts {
        self.lock().counts.clone()
    }

    /// One record of the core, at wall time `at` and `now`: buffered and sent as the
    /// `logging` settings say.
    pub fn record(&self, r: &LogRecord, at: SystemTime, now: Instant) {
        self.message(r.id.number(), r.level.number(), &r.text, at, now);
    }

    /// One message `id` of default `level`.
    pub fn message(&self, id: u32, level: u8, text: &str, at: SystemTime, now: Instant) {
        let mut st = self.lock();
        if !st.settings.enabled {
            return;
        }
        let Some(level) = st.settings.level_of(id, level) else {
            return;
        };
        let to_buffer = st.settings.buffered.is_some_and(|b| level <= b);
        let to_hosts = st.settings.trap.is_some_and(|t| level <= t)
            && self.socket.is_some()
            && !st.settings.hosts.is_empty();
        if !to_buffer && !to_hosts {
            return;
        }
        let body = format!("%PIX-{level}-{id}: {text}");
        if to_buffer {
            let line = if st.settings.timestamp {
                format!("{}: {body}", pix_timestamp(at))
            } else {
                body.clone()
            };
            if st.buffer.len() >= st.settings.buffer_size {
                st.buffer.pop_front();
            }
            st.buffer.push_back(line);
            st.counts.buffered = st.counts.buffered.saturating_add(1);
        }
        if to_hosts {
            if !st.bucket.take(now) {
                st.counts.rate_limited = st.counts.rate_limited.saturating_add(1);
                st.unreported = st.unreported.saturating_add(1);
                return;
            }
            self.report_held_back(&mut st, at, now);
            let datagram = frame(&st.settings, level, &body, at);
            self.send(&mut st, &datagram);
            st.counts.trapped = st.counts.trapped.saturating_add(1);
        }
    }

    /// 800013 for the messages the rate limit held back, at most once per
    /// [`DROP_REPORT`] (it takes a token of its own).
    fn report_held_back(&self, st: &mut State, at: SystemTime, now: Instant) {
        if st.unreported == 0
            || st
                .last_report
                .is_some_and(|t| now.saturating_duration_since(t) < DROP_REPORT)
        {
            return;
        }
        let id = MsgId::LogDropped.number();
        let Some(level) = st.settings.level_of(id, Level::Warning.number()) else {
            return;
        };
        if st.settings.trap.is_none_or(|t| level > t) || !st.bucket.take(now) {
            return;
        }
        let n = std::mem::take(&mut st.unreported);
        st.last_report = Some(now);
        let body = format!(
            "%PIX-{level}-{id}: {n} syslog message(s) not sent: over the rate limit of {RATE} per second"
        );
        let datagram = frame(&st.settings, level, &body, at);
        self.send(st, &datagram);
    }

    fn send(&self, st: &mut State, datagram: &str) {
        let Some(sock) = &self.socket else {
            return;
        };
        for h in &st.settings.hosts {
            if sock.send_to(datagram.as_bytes(), h.addr).is_err() {
                st.counts.send_failed = st.counts.send_failed.saturating_add(1);
            }
        }
    }

    /// `clear logging`: empties the buffer (the counts stay, as on the PIX).
    pub fn clear(&self) -> String {
        self.lock().buffer.clear();
        String::new()
    }

    /// `show logging`: the status and the buffer.
    #[must_use]
    pub fn show(&self) -> String {
        let st = self.lock();
        let s = &st.settings;
        let on = |b: bool| if b { "enabled" } else { "disabled" };
        let level = |l: Option<u8>| {
            l.and_then(|n| SEVERITY_NAMES.get(usize::from(n)))
                .map_or_else(|| "disabled".to_string(), |n| format!("level {n}"))
        };
        let mut o = String::new();
        let _ = writeln!(o, "Syslog logging: {}", on(s.enabled));
        let _ = writeln!(o, "    Facility: {}", s.facility);
        let _ = writeln!(o, "    Timestamp logging: {}", on(s.timestamp));
        let _ = writeln!(o, "    Standby logging: disabled");
        let _ = writeln!(o, "    Console logging: disabled");
        let _ = writeln!(o, "    Monitor logging: disabled");
        match s.buffered {
            Some(_) => {
                let _ = writeln!(
                    o,
                    "    Buffer logging: {}, {} messages logged",
                    level(s.buffered),
                    st.counts.buffered
                );
            }
            None => {
                let _ = writeln!(o, "    Buffer logging: disabled");
            }
        }
        match s.trap {
            Some(_) => {
                let _ = writeln!(
                    o,
                    "    Trap logging: {}, facility {}, {} messages logged",
                    level(s.trap),
                    s.facility,
                    st.counts.trapped
                );
                for h in &s.hosts {
                    let port = if h.addr.port() == pix_config::logging::DEFAULT_UDP_PORT {
                        String::new()
                    } else {
                        format!(" udp/{}", h.addr.port())
                    };
                    let _ = writeln!(
                        o,
                        "        Logging to {} {}{port}",
                        h.interface,
                        h.addr.ip()
                    );
                }
            }
            None => {
                let _ = writeln!(o, "    Trap logging: disabled");
            }
        }
        let _ = writeln!(o, "    History logging: disabled");
        if let Some(k) = &s.device_id_kind {
            let _ = writeln!(o, "    Device ID: {k}");
        }
        let _ = writeln!(
            o,
            "    Rate limit: {RATE} messages per second, {} messages dropped, {} not sent (send errors)",
            st.counts.rate_limited, st.counts.send_failed
        );
        for l in &st.buffer {
            o.push_str(l);
            o.push('\n');
        }
        o
    }
}

/// Whether a control-socket line is `show logging`.
#[must_use]
pub fn is_show_logging(line: &str) -> bool {
    is_logging(line, "show")
}

/// Whether a control-socket line is `clear logging`.
#[must_use]
pub fn is_clear_logging(line: &str) -> bool {
    is_logging(line, "clear")
}

/// `VERB logging`, the words abbreviated as the PIX allows (`sh log`).
fn is_logging(line: &str, verb: &str) -> bool {
    let w: Vec<String> = line
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    matches!(w.as_slice(), [a, b] if verb.starts_with(a.as_str()) && a.len() >= 2 && "logging".starts_with(b.as_str()) && b.len() >= 3)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Settings, Vec<String>) {
        let o = pix_config::parse_bytes(
            text.as_bytes(),
            &pix_config::ParseOptions {
                strict: false,
                secrets: None,
            },
        );
        Settings::from_config(&o.config)
    }

    const CFG: &str = "hostname pix6\nip address outside 192.0.2.1 255.255.255.0\n\
        logging on\nlogging timestamp\nlogging trap informational\nlogging buffered warnings\n\
        logging host outside 192.0.2.9 udp/5514\nlogging device-id hostname\n\
        logging message 602302 level 3\nno logging message 109012\nlogging queue 3\n";

    #[test]
    fn settings_from_the_configuration() {
        let (s, w) = parse(CFG);
        assert!(w.is_empty(), "{w:?}");
        assert!(s.enabled && s.timestamp);
        assert_eq!((s.trap, s.buffered, s.facility), (Some(6), Some(4), 20));
        assert_eq!(s.device_id.as_deref(), Some("pix6"));
        assert_eq!(
            s.hosts,
            [Host {
                interface: "outside".into(),
                addr: "192.0.2.9:5514".parse().unwrap()
            }]
        );
        assert_eq!(s.level_of(602_302, 6), Some(3));
        assert_eq!(s.level_of(602_301, 6), Some(6));
        assert_eq!(s.level_of(109_012, 5), None);
        assert_eq!(s.buffer_size, 3);
        let (s, _) =
            parse("ip address inside 10.1.1.1 255.0.0.0\nlogging device-id ipaddress inside\n");
        assert_eq!(s.device_id.as_deref(), Some("10.1.1.1"));
        let (_, w) = parse("logging host inside 10.0.0.9 tcp/1470\n");
        assert!(w.iter().any(|l| l.contains("TCP syslog")), "{w:?}");
    }

    #[test]
    fn timestamps_as_the_pix_prints_them() {
        let t = |s: u64| pix_timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(t(0), "Jan 01 1970 00:00:00");
        // 2004-07-05 00:58:00 UTC (the real PIX line of the ossec samples)
        assert_eq!(t(1_088_989_080), "Jul 05 2004 00:58:00");
        // 2024-02-29 23:59:59 UTC: a leap day
        assert_eq!(t(1_709_251_199), "Feb 29 2024 23:59:59");
        assert_eq!(t(1_709_251_200), "Mar 01 2024 00:00:00");
    }

    #[test]
    fn framing_pri_timestamp_device_id() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_088_989_080);
        let mut s = Settings::default();
        assert_eq!(
            frame(&s, 4, "%PIX-4-106023: x", at),
            "<164>%PIX-4-106023: x"
        );
        s.timestamp = true;
        assert_eq!(
            frame(&s, 2, "%PIX-2-109011: y", at),
            "<162>Jul 05 2004 00:58:00: %PIX-2-109011: y"
        );
        s.facility = 16;
        s.device_id = Some("pix6".into());
        assert_eq!(
            frame(&s, 6, "%PIX-6-602301: z", at),
            "<134>Jul 05 2004 00:58:00: pix6 : %PIX-6-602301: z"
        );
    }

    #[test]
    fn token_bucket_limits_and_refills() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 5);
        let passed = (0..20).filter(|_| b.take(t0)).count();
        assert_eq!(passed, 5);
        // 0.5 s later: 5 more tokens
        let t1 = t0 + Duration::from_millis(500);
        let passed = (0..20).filter(|_| b.take(t1)).count();
        assert_eq!(passed, 5);
        // a long pause refills only up to the burst
        let t2 = t1 + Duration::from_secs(60);
        let passed = (0..20).filter(|_| b.take(t2)).count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn buffer_levels_overrides_and_show_logging() {
        let (mut s, _) = parse(CFG);
        s.hosts.clear(); // no socket: buffer only
        let log = Syslog::new(s).unwrap();
        let (at, now) = (SystemTime::UNIX_EPOCH, Instant::now());
        let rec = |id, text: &str| LogRecord::pix(id, text);
        // 602302 raised to 3 by `logging message`: buffered (warnings and above)
        log.record(&rec(MsgId::IpsecSaDeleted, "deleting SA, a"), at, now);
        // 602301 stays at 6: not buffered
        log.record(&rec(MsgId::IpsecSaCreated, "sa created, b"), at, now);
        // 109012 disabled
        log.record(
            &rec(MsgId::AuthSessionEnd, "Authen Session End: c"),
            at,
            now,
        );
        for i in 0..4 {
            log.record(&rec(MsgId::AclDeny, &format!("Deny tcp {i}")), at, now);
        }
        let show = log.show();
        assert!(show.starts_with("Syslog logging: enabled\n"), "{show}");
        assert!(show.contains("    Timestamp logging: enabled\n"), "{show}");
        assert!(
            show.contains("    Buffer logging: level warnings, 5 messages logged\n"),
            "{show}"
        );
        assert!(
            show.contains(
                "    Trap logging: level informational, facility 20, 0 messages logged\n"
            ),
            "{show}"
        );
        assert!(show.contains("    Device ID: hostname\n"), "{show}");
        // the buffer keeps the last `logging queue` (3) lines, timestamped
        let lines: Vec<&str> = show.lines().filter(|l| l.contains("%PIX-")).collect();
        assert_eq!(
            lines,
            [
                "Jan 01 1970 00:00:00: %PIX-4-106023: Deny tcp 1",
                "Jan 01 1970 00:00:00: %PIX-4-106023: Deny tcp 2",
                "Jan 01 1970 00:00:00: %PIX-4-106023: Deny tcp 3",
            ]
        );
        assert!(!show.contains("sa created") && !show.contains("Authen Session End"));
        // `clear logging` empties the buffer, the count stays
        assert_eq!(log.clear(), "");
        let show = log.show();
        assert!(!show.contains("%PIX-"), "{show}");
        assert!(show.contains("5 messages logged"), "{show}");
        // `no logging on`: nothing at all
        let mut off = log.settings();
        off.enabled = false;
        log.reconfigure(off);
        log.record(&rec(MsgId::AclDeny, "Deny tcp 4"), at, now);
        assert_eq!(log.counts().buffered, 5);
    }

    #[test]
    fn sends_to_a_udp_host_within_the_rate_limit() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let s = Settings {
            enabled: true,
            trap: Some(7),
            hosts: vec![Host {
                interface: "inside".into(),
                addr: rx.local_addr().unwrap(),
            }],
            ..Settings::default()
        };
        let log = Syslog::new(s).unwrap();
        let (at, t0) = (SystemTime::UNIX_EPOCH, Instant::now());
        let total = u64::from(BURST) + 100;
        for _ in 0..total {
            log.record(&LogRecord::pix(MsgId::BadSpi, "decaps: x"), at, t0);
        }
        let c = log.counts();
        assert_eq!(c.trapped, u64::from(BURST));
        assert_eq!(c.rate_limited, 100);
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<164>%PIX-4-402101: decaps: x");
        // the rest of the burst (the kernel may have dropped some: its buffer is small)
        rx.set_nonblocking(true).unwrap();
        while rx.recv(&mut buf).is_ok() {}
        rx.set_nonblocking(false).unwrap();
        // once the bucket has room again, the next message is preceded by the count
        let later = t0 + DROP_REPORT + Duration::from_secs(1);
        log.record(&LogRecord::pix(MsgId::BadSpi, "decaps: y"), at, later);
        let mut got = Vec::new();
        for _ in 0..2 {
            let n = rx.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(
            got,
            [
                format!("<164>%PIX-4-800013: 100 syslog message(s) not sent: over the rate limit of {RATE} per second"),
                "<164>%PIX-4-402101: decaps: y".to_string(),
            ]
        );
        assert!(log.show().contains("100 messages dropped"));
    }

    #[test]
    fn show_logging_words() {
        assert!(is_show_logging("show logging"));
        assert!(is_show_logging("SH LOG"));
        assert!(!is_show_logging("show logging x"));
        assert!(!is_show_logging("show crypto isakmp sa"));
        assert!(is_clear_logging("clear logging"));
        assert!(!is_clear_logging("clear crypto isakmp sa"));
        assert!(!is_show_logging("clear logging"));
    }
}
