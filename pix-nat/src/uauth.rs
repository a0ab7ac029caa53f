//! `aaa authentication|accounting include|exclude` rules and the uauth table
//! (users authenticated by cut-through proxy or by Xauth).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Which AAA function a rule configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AaaKind {
    /// `aaa authentication`
    Authentication,
    /// `aaa accounting`
    Accounting,
}

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AaaDirection {
    /// Connections arriving on this interface.
    Interface(usize),
    /// The old `inbound` keyword: connections from lower to higher security.
    Inbound,
    /// The old `outbound` keyword: connections from higher to lower security.
    Outbound,
}

/// The service field: `any`, `ftp`, `http`, `https`, `telnet`, or `PROTO/PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// IP protocol (0 = any).
    pub proto: u8,
    /// Port for TCP/UDP, ICMP type for ICMP (0 = any).
    pub port: u16,
}

impl Service {
    /// Parse the service word of an `aaa` rule.
    pub fn parse(s: &str) -> Option<Service> {
        let named = |port| Some(Service { proto: 6, port });
        match s.to_ascii_lowercase().as_str() {
            "any" => Some(Service { proto: 0, port: 0 }),
            "ftp" => named(21),
            "telnet" => named(23),
            "http" => named(80),
            "https" => named(443),
            other => {
                let (p, port) = other.split_once('/')?;
                let proto = pix_config::literal_names::lookup_protocol(p)?;
                let port = match pix_config::literal_names::lookup_port(port)? {
                    pix_config::literal_names::PortLookup::Exact(v) => v,
                    pix_config::literal_names::PortLookup::Abbreviation { port, .. } => port,
                };
                Some(Service { proto, port })
            }
        }
    }

    /// Does a connection of `proto` to `port` (ICMP: type) fall under this service?
    pub fn matches(self, proto: u8, port: u16) -> bool {
        (self.proto == 0 || self.proto == proto) && (self.port == 0 || self.port == port)
    }
}

/// True for the services the PIX can prompt for (cut-through proxy): ftp, telnet, http, https.
pub fn can_prompt(proto: u8, dport: u16) -> bool {
    proto == 6 && matches!(dport, 21 | 23 | 80 | 443)
}

/// The PIX name of a TCP service for accounting records (`telnet`, `http`, ... or the port).
pub fn service_name(proto: u8, dport: u16) -> String {
    match (proto, dport) {
        (6, 21) => "ftp".into(),
        (6, 23) => "telnet".into(),
        (6, 80) => "http".into(),
        (6, 443) => "https".into(),
        (6, p) => format!("tcp/{p}"),
        (17, p) => format!("udp/{p}"),
        (p, _) => format!("{p}/0"),
    }
}

/// One `aaa ... include|exclude` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AaaRule {
    /// Config line.
    pub line: u32,
    /// Authentication or accounting.
    pub kind: AaaKind,
    /// include (true) / exclude.
    pub include: bool,
    /// Service.
    pub service: Service,
    /// Interface or direction.
    pub direction: AaaDirection,
    /// Local (higher-security side, real) address.
    pub local: u32,
    /// Its mask.
    pub local_mask: u32,
    /// Foreign address.
    pub foreign: u32,
    /// Its mask.
    pub foreign_mask: u32,
    /// Server group.
    pub tag: String,
}

/// A new connection as the AAA rules see it.
#[derive(Debug, Clone, Copy)]
pub struct AaaQuery {
    /// Input interface.
    pub input: usize,
    /// True from lower to higher security.
    pub inbound: bool,
    /// Local host (real address on the higher-security side).
    pub local: u32,
    /// Foreign host.
    pub foreign: u32,
    /// Protocol.
    pub proto: u8,
    /// Destination port (ICMP: type).
    pub port: u16,
}

impl AaaRule {
    /// Does the rule cover the connection?
    pub fn covers(&self, q: &AaaQuery) -> bool {
        let dir = match self.direction {
            AaaDirection::Interface(i) => i == q.input,
            AaaDirection::Inbound => q.inbound,
            AaaDirection::Outbound => !q.inbound,
        };
        dir && q.local & self.local_mask == self.local
            && q.foreign & self.foreign_mask == self.foreign
            && self.service.matches(q.proto, q.port)
    }
}

/// The first include rule of `kind` covering `q`, unless an exclude rule covers it too
/// (an exclude wins whatever its order).
pub fn decide<'r>(rules: &'r [AaaRule], kind: AaaKind, q: &AaaQuery) -> Option<&'r AaaRule> {
    let mut of_kind = rules.iter().filter(|r| r.kind == kind && r.covers(q));
    let first_include = of_kind.clone().find(|r| r.include)?;
    if of_kind.any(|r| !r.include) {
        return None;
    }
    Some(first_include)
}

/// How a user got into the uauth table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UauthVia {
    /// Cut-through proxy (ftp/telnet/http/https prompt).
    CutThrough,
    /// Xauth during IKE: an `ipsec user`.
    Ipsec,
}

/// One authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UauthEntry {
    /// User name.
    pub user: String,
    /// The address the user is at.
    pub addr: Ipv4Addr,
    /// How.
    pub via: UauthVia,
    /// When authenticated.
    pub since: Instant,
    /// Last traffic.
    pub last_used: Instant,
}

/// The uauth table and its `show uauth` counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UauthTable {
    entries: Vec<UauthEntry>,
    most_seen: usize,
    in_progress: usize,
    in_progress_most: usize,
}

impl UauthTable {
    /// The entries, in authentication order.
    pub fn entries(&self) -> &[UauthEntry] {
        &self.entries
    }

    /// (current, most seen) authenticated users.
    pub fn users(&self) -> (usize, usize) {
        (self.entries.len(), self.most_seen)
    }

    /// (current, most seen) authentications in progress.
    pub fn in_progress(&self) -> (usize, usize) {
        (self.in_progress, self.in_progress_most)
    }

    /// An authentication started (a cut-through prompt or an Xauth exchange).
    pub fn begin(&mut self) {
        self.in_progress = self.in_progress.saturating_add(1);
        self.in_progress_most = self.in_progress_most.max(self.in_progress);
    }

    /// An authentication ended without a user (failure or abandon).
    pub fn abandon(&mut self) {
        self.in_progress = self.in_progress.saturating_sub(1);
    }

    /// A user authenticated at `addr` (replaces any entry for that address).
    pub fn complete(&mut self, user: &str, addr: Ipv4Addr, via: UauthVia, now: Instant) {
        self.in_progress = self.in_progress.saturating_sub(1);
        self.entries.retain(|e| e.addr != addr);
        self.entries.push(UauthEntry {
            user: user.to_owned(),
            addr,
            via,
            since: now,
            last_used: now,
        });
        self.most_seen = self.most_seen.max(self.entries.len());
    }

    /// Remove the entry for `addr` (`clear uauth`, tunnel deleted).
    pub fn remove(&mut self, addr: Ipv4Addr) -> Option<UauthEntry> {
        let i = self.entries.iter().position(|e| e.addr == addr)?;
        Some(self.entries.remove(i))
    }

    /// The valid entry for `addr` at `now`, if any.
    pub fn lookup(&self, addr: Ipv4Addr, now: Instant, t: Timeout) -> Option<&UauthEntry> {
        self.entries
            .iter()
            .find(|e| e.addr == addr && !t.expired(e, now))
    }

    /// Note traffic of the user at `addr` (inactivity timer).
    pub fn touch(&mut self, addr: Ipv4Addr, now: Instant) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
            e.last_used = e.last_used.max(now);
        }
    }

    /// Drop expired cut-through entries; returns them.
    pub fn expire(&mut self, now: Instant, t: Timeout) -> Vec<UauthEntry> {
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| t.expired(e, now));
        self.entries = keep;
        gone
    }

    /// The earliest instant an entry expires.
    pub fn next_deadline(&self, t: Timeout) -> Option<Instant> {
        self.entries.iter().filter_map(|e| t.deadline(e)).min()
    }
}

/// The uauth timer: `timeout uauth h:mm:ss absolute|inactivity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    /// Duration (0 = re-authenticate every connection for cut-through users).
    pub duration: Duration,
    /// Inactivity (true) or absolute.
    pub inactivity: bool,
}

impl Timeout {
    /// When `e` expires (`None` for ipsec users: they live as long as their tunnel).
    pub fn deadline(&self, e: &UauthEntry) -> Option<Instant> {
        if e.via == UauthVia::Ipsec {
            return None;
        }
        let base = if self.inactivity {
            e.last_used
        } else {
            e.since
        };
        base.checked_add(self.duration)
    }

    /// Has `e` expired at `now`?
    pub fn expired(&self, e: &UauthEntry, now: Instant) -> bool {
        self.deadline(e).is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn services() {
        assert_eq!(Service::parse("http"), Some(Service { proto: 6, port: 80 }));
        assert_eq!(Service::parse("tcp/0"), Some(Service { proto: 6, port: 0 }));
        assert_eq!(
            Service::parse("udp/53"),
            Some(Service {
                proto: 17,
                port: 53
            })
        );
        assert_eq!(
            Service::parse("icmp/8"),
            Some(Service { proto: 1, port: 8 })
        );
        assert!(Service::parse("bogus").is_none());
        assert!(Service::parse("any").unwrap().matches(17, 53));
        assert!(!Service::parse("telnet").unwrap().matches(6, 80));
    }

    #[test]
    fn absolute_and_inactivity() {
        let t0 = Instant::now();
        let mut u = UauthTable::default();
        u.begin();
        u.complete("bob", Ipv4Addr::new(1, 2, 3, 4), UauthVia::CutThrough, t0);
        let abs = Timeout {
            duration: Duration::from_secs(300),
            inactivity: false,
        };
        let ina = Timeout {
            inactivity: true,
            ..abs
        };
        u.touch(Ipv4Addr::new(1, 2, 3, 4), t0 + Duration::from_secs(200));
        let at = t0 + Duration::from_secs(400);
        assert!(u.lookup(Ipv4Addr::new(1, 2, 3, 4), at, abs).is_none());
        assert!(u.lookup(Ipv4Addr::new(1, 2, 3, 4), at, ina).is_some());
        assert_eq!(u.in_progress(), (0, 1));
        assert_eq!(u.expire(at, abs).len(), 1);
        assert_eq!(u.users(), (0, 1));
    }
}
