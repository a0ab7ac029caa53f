//! `[no] logging ...`: the PIX 6.3 syslog commands, typed, and [`LoggingSettings`],
//! what they add up to.
//!
//! The forms (Cisco PIX Firewall Command Reference 6.3, `logging`):
//!
//! ```text
//! [no] logging on
//! [no] logging timestamp
//! [no] logging standby
//! [no] logging console|monitor|buffered|trap|history LEVEL
//! [no] logging facility 16-23
//! logging queue 0-8192
//! [no] logging device-id hostname | ipaddress IF | string TEXT
//! [no] logging host [IF] ADDR [udp/PORT | tcp/PORT] [format emblem]
//! [no] logging message ID [level LEVEL]
//! ```
//!
//! LEVEL is `0`..`7` or a level name (`emergencies alerts critical errors warnings
//! notifications informational debugging`, or an unambiguous prefix of one); the
//! printer writes the name, as a PIX does. A `show run` lists the lines in the order of
//! [`LoggingKind`], which is the order the printer puts them in.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use rustc_hash::FxHashMap;

use crate::lexer::{parse_ip, Cur, PErr};
use crate::model::{AddrTok, Command, Config};

/// A syslog severity level, 0 (emergencies) to 7 (debugging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// 0, system unusable.
    Emergencies = 0,
    /// 1, immediate action needed.
    Alerts = 1,
    /// 2, critical conditions.
    Critical = 2,
    /// 3, error conditions.
    Errors = 3,
    /// 4, warning conditions.
    Warnings = 4,
    /// 5, normal but significant.
    Notifications = 5,
    /// 6, informational.
    Informational = 6,
    /// 7, debugging.
    Debugging = 7,
}

impl LogLevel {
    /// Every level, 0 to 7.
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Emergencies,
        LogLevel::Alerts,
        LogLevel::Critical,
        LogLevel::Errors,
        LogLevel::Warnings,
        LogLevel::Notifications,
        LogLevel::Informational,
        LogLevel::Debugging,
    ];

    /// The number, 0..=7 (the `L` of `%PIX-L-ID`).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The level of a number 0..=7.
    pub fn from_number(n: u8) -> Option<LogLevel> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// The name the PIX prints (`warnings`).
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Emergencies => "emergencies",
            LogLevel::Alerts => "alerts",
            LogLevel::Critical => "critical",
            LogLevel::Errors => "errors",
            LogLevel::Warnings => "warnings",
            LogLevel::Notifications => "notifications",
            LogLevel::Informational => "informational",
            LogLevel::Debugging => "debugging",
        }
    }

    /// Read a level as a PIX does: a number 0..=7, a name, or an unambiguous
    /// prefix of a name (ASCII case-insensitive; `e` is ambiguous).
    pub fn parse(t: &str) -> Option<LogLevel> {
        if t.len() == 1 && t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return t.parse::<u8>().ok().and_then(Self::from_number);
        }
        if t.is_empty() || t.len() > 13 {
            return None;
        }
        let lower = t.to_ascii_lowercase();
        let mut found = None;
        for l in Self::ALL {
            if l.name() == lower {
                return Some(l);
            }
            if l.name().starts_with(&lower) {
                if found.is_some() {
                    return None;
                }
                found = Some(l);
            }
        }
        found
    }

    /// True when a message of level `msg` passes this threshold (`msg <= self`).
    pub fn allows(self, msg: LogLevel) -> bool {
        msg <= self
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The transport of a `logging host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogProtocol {
    /// `udp/PORT` (the default, port 514).
    Udp,
    /// `tcp/PORT`.
    Tcp,
}

impl LogProtocol {
    /// `udp` / `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogProtocol::Udp => "udp",
            LogProtocol::Tcp => "tcp",
        }
    }
}

/// `logging host [IF] ADDR [PROTO/PORT] [format emblem]` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHostLine {
    /// The interface the server is on, if written (a PIX defaults to `inside`).
    pub interface: Option<String>,
    /// The server address (a literal or a `name`).
    pub address: AddrTok,
    /// `udp/514`, `tcp/1470`, ... if written.
    pub transport: Option<(LogProtocol, u16)>,
    /// `format emblem` written.
    pub emblem: bool,
}

/// `logging device-id ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceId {
    /// `hostname`: the host name.
    Hostname,
    /// `ipaddress IF`: the address of that interface.
    IpAddress(String),
    /// `string TEXT`.
    String(String),
}

/// What a `logging` line says (after `logging`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggingItem {
    /// `logging on`
    On,
    /// `logging timestamp`
    Timestamp,
    /// `logging standby`
    Standby,
    /// `logging console LEVEL` (level optional after `no`)
    Console(Option<LogLevel>),
    /// `logging monitor LEVEL`
    Monitor(Option<LogLevel>),
    /// `logging buffered LEVEL`
    Buffered(Option<LogLevel>),
    /// `logging trap LEVEL` (the level sent to `logging host`s)
    Trap(Option<LogLevel>),
    /// `logging history LEVEL` (SNMP traps)
    History(Option<LogLevel>),
    /// `logging facility N` (16..=23; optional after `no`)
    Facility(Option<u8>),
    /// `logging queue N`
    Queue(u32),
    /// `logging device-id ...` (optional after `no`)
    DeviceId(Option<DeviceId>),
    /// `logging host ...` (boxed: keeps [`Command`] small)
    Host(Box<LogHostLine>),
    /// `logging message ID [level LEVEL]`
    Message {
        /// The message id (100000..=999999).
        id: u32,
        /// `level LEVEL`, if written.
        level: Option<LogLevel>,
    },
}

/// The kind of a `logging` line, in `show run` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoggingKind {
    /// `logging on`
    On,
    /// `logging timestamp`
    Timestamp,
    /// `logging standby`
    Standby,
    /// `logging console`
    Console,
    /// `logging monitor`
    Monitor,
    /// `logging buffered`
    Buffered,
    /// `logging trap`
    Trap,
    /// `logging history`
    History,
    /// `logging facility`
    Facility,
    /// `logging queue`
    Queue,
    /// `logging device-id`
    DeviceId,
    /// `logging host`
    Host,
    /// `[no] logging message`
    Message,
}

/// One `[no] logging ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// Written with a leading `no`.
    pub no: bool,
    /// What it sets.
    pub item: LoggingItem,
}

impl Logging {
    /// Its kind (the printer's order).
    pub fn kind(&self) -> LoggingKind {
        match self.item {
            LoggingItem::On => LoggingKind::On,
            LoggingItem::Timestamp => LoggingKind::Timestamp,
            LoggingItem::Standby => LoggingKind::Standby,
            LoggingItem::Console(_) => LoggingKind::Console,
            LoggingItem::Monitor(_) => LoggingKind::Monitor,
            LoggingItem::Buffered(_) => LoggingKind::Buffered,
            LoggingItem::Trap(_) => LoggingKind::Trap,
            LoggingItem::History(_) => LoggingKind::History,
            LoggingItem::Facility(_) => LoggingKind::Facility,
            LoggingItem::Queue(_) => LoggingKind::Queue,
            LoggingItem::DeviceId(_) => LoggingKind::DeviceId,
            LoggingItem::Host(_) => LoggingKind::Host,
            LoggingItem::Message { .. } => LoggingKind::Message,
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        if self.no {
            out.push_str("no ");
        }
        out.push_str("logging ");
        let level = |out: &mut String, w: &str, l: &Option<LogLevel>| {
            out.push_str(w);
            if let Some(l) = l {
                out.push(' ');
                out.push_str(l.name());
            }
        };
        match &self.item {
            LoggingItem::On => out.push_str("on"),
            LoggingItem::Timestamp => out.push_str("timestamp"),
            LoggingItem::Standby => out.push_str("standby"),
            LoggingItem::Console(l) => level(out, "console", l),
            LoggingItem::Monitor(l) => level(out, "monitor", l),
            LoggingItem::Buffered(l) => level(out, "buffered", l),
            LoggingItem::Trap(l) => level(out, "trap", l),
            LoggingItem::History(l) => level(out, "history", l),
            LoggingItem::Facility(f) => {
                out.push_str("facility");
                if let Some(f) = f {
                    let _ = write!(out, " {f}");
                }
            }
            LoggingItem::Queue(n) => {
                let _ = write!(out, "queue {n}");
            }
            LoggingItem::DeviceId(d) => {
                out.push_str("device-id");
                match d {
                    None => {}
                    Some(DeviceId::Hostname) => out.push_str(" hostname"),
                    Some(DeviceId::IpAddress(i)) => {
                        let _ = write!(out, " ipaddress {i}");
                    }
                    Some(DeviceId::String(s)) => {
                        let _ = write!(out, " string {s}");
                    }
                }
            }
            LoggingItem::Host(h) => {
                out.push_str("host ");
                if let Some(i) = &h.interface {
                    out.push_str(i);
                    out.push(' ');
                }
                let _ = write!(out, "{}", h.address);
                if let Some((p, port)) = h.transport {
                    let _ = write!(out, " {}/{port}", p.as_str());
                }
                if h.emblem {
                    out.push_str(" format emblem");
                }
            }
            LoggingItem::Message { id, level } => {
                let _ = write!(out, "message {id}");
                if let Some(l) = level {
                    let _ = write!(out, " level {}", l.name());
                }
            }
        }
    }
}

const SUBCOMMANDS: &str = "on, timestamp, standby, console, monitor, buffered, trap, history, facility, queue, device-id, host or message";

fn level(cur: &mut Cur<'_, '_>, after: &str, optional: bool) -> Result<Option<LogLevel>, PErr> {
    match cur.peek() {
        None if optional => Ok(None),
        Some(t) => match LogLevel::parse(t) {
            Some(l) => {
                cur.bump();
                Ok(Some(l))
            }
            None => Err(cur.expected(format!(
                "a level after `{after}` (0-7 or emergencies, alerts, critical, errors, warnings, notifications, informational, debugging)"
            ))),
        },
        None => Err(cur.expected(format!("a level after `{after}` (0-7 or a level name)"))),
    }
}

/// `udp/514`, `tcp/1470`.
fn transport(t: &str) -> Option<(LogProtocol, u16)> {
    let (p, port) = t.split_once('/')?;
    let p = if p.eq_ignore_ascii_case("udp") || p == "17" {
        LogProtocol::Udp
    } else if p.eq_ignore_ascii_case("tcp") || p == "6" {
        LogProtocol::Tcp
    } else {
        return None;
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    Some((p, port))
}

fn parse_host(cur: &mut Cur<'_, '_>) -> Result<LogHostLine, PErr> {
    // `[IF] ADDR`: an address literal first means no interface; otherwise the first
    // word is the interface when another word follows that is not a transport or
    // `format` (so `logging host inside server1` and `logging host server1 udp/514`
    // both read as a PIX reads them).
    let first = cur.word("an interface name or the syslog server's address")?;
    let interface = if parse_ip(first).is_some() {
        None
    } else {
        match cur.peek() {
            Some(t) if transport(t).is_none() && !t.eq_ignore_ascii_case("format") => {
                Some(first.to_owned())
            }
            _ => None,
        }
    };
    let address = if interface.is_some() {
        cur.addr("the syslog server's address")?
    } else {
        match parse_ip(first) {
            Some(ip) => AddrTok::Ip(ip),
            None if crate::lexer::is_name_token(first) => AddrTok::Name(first.into()),
            None => {
                return Err(cur.err_prev(crate::ConfigError::Expected {
                    expected: "the syslog server's address".into(),
                    found: Some(first.to_owned()),
                }))
            }
        }
    };
    let mut h = LogHostLine {
        interface,
        address,
        transport: None,
        emblem: false,
    };
    if let Some(t) = cur.peek() {
        if t.contains('/') {
            match transport(t) {
                Some(tr) => {
                    cur.bump();
                    h.transport = Some(tr);
                }
                None => return Err(cur.expected("`udp/PORT` or `tcp/PORT` (port 1-65535)")),
            }
        }
    }
    if cur.eat("format") {
        cur.expect_kw("emblem")?;
        h.emblem = true;
    }
    cur.finish("logging host")?;
    Ok(h)
}

pub(crate) fn parse_logging(cur: &mut Cur<'_, '_>, no: bool) -> Result<Logging, PErr> {
    let Some(sub) = cur.peek() else {
        return Err(cur.expected(format!("a logging option ({SUBCOMMANDS})")));
    };
    let sub = sub.to_ascii_lowercase();
    let item = match sub.as_str() {
        "on" | "timestamp" | "standby" => {
            cur.bump();
            cur.finish("logging")?;
            match sub.as_str() {
                "on" => LoggingItem::On,
                "timestamp" => LoggingItem::Timestamp,
                _ => LoggingItem::Standby,
            }
        }
        "console" | "monitor" | "buffered" | "trap" | "history" => {
            cur.bump();
            let l = level(cur, &sub, no)?;
            cur.finish("logging")?;
            match sub.as_str() {
                "console" => LoggingItem::Console(l),
                "monitor" => LoggingItem::Monitor(l),
                "buffered" => LoggingItem::Buffered(l),
                "trap" => LoggingItem::Trap(l),
                _ => LoggingItem::History(l),
            }
        }
        "facility" => {
            cur.bump();
            let f = if no && cur.done() {
                None
            } else {
                Some(cur.u8("a syslog facility (16 = local0 .. 23 = local7)", 16, 23)?)
            };
            cur.finish("logging")?;
            LoggingItem::Facility(f)
        }
        "queue" if !no => {
            cur.bump();
            let n = cur.u32("a queue size in messages", 0, 8192)?;
            cur.finish("logging")?;
            LoggingItem::Queue(n)
        }
        "device-id" => {
            cur.bump();
            let d = if cur.eat("hostname") {
                Some(DeviceId::Hostname)
            } else if cur.eat("ipaddress") {
                Some(DeviceId::IpAddress(cur.name("an interface name")?))
            } else if cur.eat("string") {
                let s = cur.name("the device-id text")?;
                if s.len() > 16 {
                    return Err(cur.err_prev(crate::ConfigError::OutOfRange {
                        what: "the length of a device-id string",
                        value: s.len().to_string(),
                        min: 1,
                        max: 16,
                    }));
                }
                Some(DeviceId::String(s))
            } else if no && cur.done() {
                None
            } else {
                return Err(cur.expected("`hostname`, `ipaddress IF` or `string TEXT`"));
            };
            cur.finish("logging")?;
            LoggingItem::DeviceId(d)
        }
        "host" => {
            cur.bump();
            LoggingItem::Host(Box::new(parse_host(cur)?))
        }
        "message" => {
            cur.bump();
            let id = cur.u32("a syslog message id", 100_000, 999_999)?;
            let level = if cur.eat("level") {
                level(cur, "level", false)?
            } else {
                None
            };
            cur.finish("logging")?;
            LoggingItem::Message { id, level }
        }
        // (a word a sanitizer put in place of an option, `logging user3 debugging`,
        // or an option of another release): not modelled, not broken
        _ => {
            return Err(cur
                .err(crate::ConfigError::NotModelled {
                    what: format!(
                        "unknown logging option {sub:?} (expected {SUBCOMMANDS}; a sanitizer's word or another release's option)"
                    ),
                })
                .soft())
        }
    };
    Ok(Logging { no, item })
}

/// A resolved `logging host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHost {
    /// The interface (`inside` when the line names none, as on a PIX).
    pub interface: String,
    /// The server address (`None` when it is a `name` that no `name` line defines).
    pub address: Option<Ipv4Addr>,
    /// The address as written (a literal or a name).
    pub written: AddrTok,
    /// UDP (the default) or TCP.
    pub protocol: LogProtocol,
    /// The port (default 514 for UDP, 1470 for TCP).
    pub port: u16,
    /// `format emblem`.
    pub emblem: bool,
}

/// What the `logging` lines of a configuration add up to, later lines overriding
/// earlier ones and `no` forms removing what they name. The defaults are those of a
/// PIX 6.3 with no `logging` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingSettings {
    /// `logging on` (default off: nothing is sent anywhere).
    pub enabled: bool,
    /// `logging timestamp` (default off).
    pub timestamp: bool,
    /// `logging standby` (default off).
    pub standby: bool,
    /// `logging console` level (default `None`: off).
    pub console: Option<LogLevel>,
    /// `logging monitor` level (default `None`: off).
    pub monitor: Option<LogLevel>,
    /// `logging buffered` level (default `None`: nothing buffered).
    pub buffered: Option<LogLevel>,
    /// `logging trap` level, for the `logging host`s (default `None`: nothing sent).
    pub trap: Option<LogLevel>,
    /// `logging history` level, for SNMP (default `None`).
    pub history: Option<LogLevel>,
    /// `logging facility` (default 20, local4).
    pub facility: u8,
    /// `logging queue` (default 512 messages).
    pub queue: u32,
    /// `logging device-id` (default `None`: no device id in messages).
    pub device_id: Option<DeviceId>,
    /// The `logging host`s, in written order (one per interface and address).
    pub hosts: Vec<LogHost>,
    /// `logging message ID level L`: per-message level overrides, sorted by id.
    pub message_levels: Vec<(u32, LogLevel)>,
    /// `no logging message ID`: disabled message ids, sorted.
    pub disabled: Vec<u32>,
}

/// The default `logging facility` (local4).
pub const DEFAULT_FACILITY: u8 = 20;
/// The default `logging queue` size.
pub const DEFAULT_QUEUE: u32 = 512;
/// The default UDP syslog port.
pub const DEFAULT_UDP_PORT: u16 = 514;
/// The default TCP syslog port of a PIX.
pub const DEFAULT_TCP_PORT: u16 = 1470;

impl Default for LoggingSettings {
    fn default() -> Self {
        LoggingSettings {
            enabled: false,
            timestamp: false,
            standby: false,
            console: None,
            monitor: None,
            buffered: None,
            trap: None,
            history: None,
            facility: DEFAULT_FACILITY,
            queue: DEFAULT_QUEUE,
            device_id: None,
            hosts: Vec::new(),
            message_levels: Vec::new(),
            disabled: Vec::new(),
        }
    }
}

impl LoggingSettings {
    /// The level message `id` is sent at (`default` unless `logging message ID level
    /// L` changed it), or `None` when `no logging message ID` disabled it.
    pub fn message_level(&self, id: u32, default: LogLevel) -> Option<LogLevel> {
        if self.disabled.binary_search(&id).is_ok() {
            return None;
        }
        Some(
            self.message_levels
                .binary_search_by_key(&id, |(i, _)| *i)
                .ok()
                .and_then(|i| self.message_levels.get(i))
                .map_or(default, |(_, l)| *l),
        )
    }
}

/// [`LoggingSettings`] while the lines are applied: maps, so that a configuration of
/// many `logging host` / `logging message` lines costs O(n log n), not O(n²).
#[derive(Default)]
struct Builder {
    hosts: Vec<Option<LogHost>>,
    host_index: FxHashMap<(String, AddrTok), usize>,
    message_levels: BTreeMap<u32, LogLevel>,
    disabled: BTreeSet<u32>,
    /// The `name` lines (first definition wins, as [`Config::resolve_addr`]), read
    /// once when a host is a name.
    names: Option<FxHashMap<String, Ipv4Addr>>,
}

impl Builder {
    fn apply(&mut self, s: &mut LoggingSettings, l: &Logging, config: &Config) {
        let on = !l.no;
        let set = |slot: &mut Option<LogLevel>, v: &Option<LogLevel>| {
            *slot = if on { *v } else { None };
        };
        match &l.item {
            LoggingItem::On => s.enabled = on,
            LoggingItem::Timestamp => s.timestamp = on,
            LoggingItem::Standby => s.standby = on,
            LoggingItem::Console(v) => set(&mut s.console, v),
            LoggingItem::Monitor(v) => set(&mut s.monitor, v),
            LoggingItem::Buffered(v) => set(&mut s.buffered, v),
            LoggingItem::Trap(v) => set(&mut s.trap, v),
            LoggingItem::History(v) => set(&mut s.history, v),
            LoggingItem::Facility(f) => {
                s.facility = match (on, f) {
                    (true, Some(f)) => *f,
                    _ => DEFAULT_FACILITY,
                }
            }
            LoggingItem::Queue(n) => s.queue = *n,
            LoggingItem::DeviceId(d) => s.device_id = if on { d.clone() } else { None },
            LoggingItem::Host(h) => {
                let interface = h.interface.clone().unwrap_or_else(|| "inside".to_owned());
                let key = (interface.clone(), h.address.clone());
                if let Some(i) = self.host_index.remove(&key) {
                    if let Some(slot) = self.hosts.get_mut(i) {
                        *slot = None;
                    }
                }
                if on {
                    let (protocol, port) = match h.transport {
                        Some(t) => t,
                        None => (LogProtocol::Udp, DEFAULT_UDP_PORT),
                    };
                    let address = self.resolve(&h.address, config);
                    self.host_index.insert(key, self.hosts.len());
                    self.hosts.push(Some(LogHost {
                        interface,
                        address,
                        written: h.address.clone(),
                        protocol,
                        port,
                        emblem: h.emblem,
                    }));
                }
            }
            LoggingItem::Message { id, level } => match (on, level) {
                // `logging message ID level L`
                (true, Some(l)) => {
                    self.message_levels.insert(*id, *l);
                }
                // `logging message ID`: enabled again
                (true, None) => {
                    self.disabled.remove(id);
                }
                // `no logging message ID level L`: back to its default level
                (false, Some(_)) => {
                    self.message_levels.remove(id);
                }
                // `no logging message ID`: disabled
                (false, None) => {
                    self.disabled.insert(*id);
                }
            },
        }
    }

    fn resolve(&mut self, a: &AddrTok, config: &Config) -> Option<Ipv4Addr> {
        match a {
            AddrTok::Ip(ip) => Some(*ip),
            AddrTok::Name(n) => self
                .names
                .get_or_insert_with(|| {
                    let mut m = FxHashMap::default();
                    for (_, c) in config.iter() {
                        if let Command::Name(x) = c {
                            m.entry(x.name.to_string()).or_insert(x.address);
                        }
                    }
                    m
                })
                .get(n.as_str())
                .copied(),
        }
    }

    fn finish(self, s: &mut LoggingSettings) {
        s.hosts = self.hosts.into_iter().flatten().collect();
        s.message_levels = self.message_levels.into_iter().collect();
        s.disabled = self.disabled.into_iter().collect();
    }
}

impl Config {
    /// The `logging` lines, as (line, value).
    pub fn logging_lines(&self) -> impl Iterator<Item = (u32, &Logging)> {
        self.of(|c| match c {
            Command::Logging(x) => Some(x),
            _ => None,
        })
    }

    /// What the `logging` lines add up to ([`LoggingSettings`], defaults documented
    /// there).
    pub fn logging(&self) -> LoggingSettings {
        let mut s = LoggingSettings::default();
        let mut b = Builder::default();
        for (_, l) in self.logging_lines() {
            b.apply(&mut s, l, self);
        }
        b.finish(&mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_number_name_and_prefix() {
        for l in LogLevel::ALL {
            assert_eq!(LogLevel::parse(&l.number().to_string()), Some(l));
            assert_eq!(LogLevel::parse(l.name()), Some(l));
            assert_eq!(LogLevel::parse(&l.name().to_ascii_uppercase()), Some(l));
        }
        assert_eq!(LogLevel::parse("warn"), Some(LogLevel::Warnings));
        assert_eq!(LogLevel::parse("e"), None);
        assert_eq!(LogLevel::parse("8"), None);
        assert_eq!(LogLevel::parse("07"), None);
        assert_eq!(LogLevel::parse("debuggingx"), None);
        assert!(LogLevel::Warnings.allows(LogLevel::Errors));
        assert!(!LogLevel::Warnings.allows(LogLevel::Informational));
    }

    #[test]
    fn transports() {
        assert_eq!(transport("udp/514"), Some((LogProtocol::Udp, 514)));
        assert_eq!(transport("TCP/1470"), Some((LogProtocol::Tcp, 1470)));
        assert_eq!(transport("udp/0"), None);
        assert_eq!(transport("udp/65536"), None);
        assert_eq!(transport("icmp/1"), None);
        assert_eq!(transport("udp/"), None);
        assert_eq!(transport("udp/+5"), None);
    }
}
