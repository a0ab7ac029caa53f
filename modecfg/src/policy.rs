//! Group policy from `vpngroup NAME ...`, and the session timers it implies.
//!
//! The gateway maps its parsed PIX configuration onto [`GroupPolicy`]; this crate does not
//! read configuration text. [`GroupPolicy::validate`] enforces what `vpngroup` itself
//! allows (two DNS and two WINS servers at most, and so on).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::error::ModeCfgError;
use crate::unity::SplitEntry;

/// Most `dns-server` / `wins-server` addresses a `vpngroup` takes.
pub const MAX_SERVERS: usize = 2;

/// Most split-tunnel entries sent (a TLV holds at most 4681 entries of 14 bytes).
pub const MAX_SPLIT_ENTRIES: usize = 4681;

/// Most backup servers (`vpngroup NAME backup-server` takes up to 10).
pub const MAX_BACKUP_SERVERS: usize = 10;

/// PIX default `vpngroup NAME idle-time` (30 minutes).
pub const DEFAULT_IDLE_TIME: Duration = Duration::from_secs(1800);

/// What a `vpngroup` gives its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPolicy {
    /// The group name (the client's group / KEY_ID identity).
    pub name: String,
    /// `address-pool`: pools to try, in order.
    pub address_pools: Vec<String>,
    /// `dns-server`: up to two.
    pub dns_servers: Vec<Ipv4Addr>,
    /// `wins-server`: up to two.
    pub wins_servers: Vec<Ipv4Addr>,
    /// `default-domain`.
    pub default_domain: Option<String>,
    /// `split-dns`: domains resolved through the tunnel.
    pub split_dns: Vec<String>,
    /// `split-tunnel ACL`: the ACL reduced to networks (SPLIT_INCLUDE). Empty: tunnel all.
    pub split_tunnel: Vec<SplitEntry>,
    /// Networks the client reaches outside the tunnel (Unity LOCAL_LAN).
    pub split_exclude: Vec<SplitEntry>,
    /// `pfs`: the client must use PFS in Quick Mode.
    pub pfs: bool,
    /// `idle-time`: tear the tunnel down after this long without traffic (`None`: never).
    pub idle_time: Option<Duration>,
    /// `max-time`: tear the tunnel down this long after it came up (`None`: never).
    pub max_time: Option<Duration>,
    /// `backup-server`: other gateways the client may try.
    pub backup_servers: Vec<String>,
    /// Banner shown by the client after login.
    pub banner: Option<String>,
    /// `password-storage`: the client may save the Xauth password.
    pub password_storage: bool,
}

impl Default for GroupPolicy {
    fn default() -> Self {
        GroupPolicy {
            name: String::new(),
            address_pools: Vec::new(),
            dns_servers: Vec::new(),
            wins_servers: Vec::new(),
            default_domain: None,
            split_dns: Vec::new(),
            split_tunnel: Vec::new(),
            split_exclude: Vec::new(),
            pfs: false,
            idle_time: Some(DEFAULT_IDLE_TIME),
            max_time: None,
            backup_servers: Vec::new(),
            banner: None,
            password_storage: false,
        }
    }
}

impl GroupPolicy {
    /// A policy named `name` with PIX defaults.
    pub fn named(name: &str) -> Self {
        GroupPolicy {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Checks the limits `vpngroup` enforces.
    pub fn validate(&self) -> Result<(), ModeCfgError> {
        let bad = |what| {
            Err(ModeCfgError::BadPolicy {
                group: self.name.clone(),
                what,
            })
        };
        if self.dns_servers.len() > MAX_SERVERS {
            return bad("more than two dns-server addresses");
        }
        if self.wins_servers.len() > MAX_SERVERS {
            return bad("more than two wins-server addresses");
        }
        if self.split_tunnel.len() > MAX_SPLIT_ENTRIES
            || self.split_exclude.len() > MAX_SPLIT_ENTRIES
        {
            return bad("more split-tunnel networks than one attribute can carry");
        }
        if self.backup_servers.len() > MAX_BACKUP_SERVERS {
            return bad("more than ten backup servers");
        }
        if self.idle_time == Some(Duration::ZERO) || self.max_time == Some(Duration::ZERO) {
            return bad("idle-time and max-time must be positive");
        }
        let text_len = |s: &str| s.len() > usize::from(u16::MAX);
        let joined = |v: &[String]| v.iter().map(|s| s.len().saturating_add(1)).sum::<usize>();
        if self.default_domain.as_deref().is_some_and(text_len)
            || self.banner.as_deref().is_some_and(text_len)
            || joined(&self.split_dns) > usize::from(u16::MAX)
            || joined(&self.backup_servers) > usize::from(u16::MAX)
        {
            return bad("a text value longer than 65535 bytes");
        }
        Ok(())
    }
}

/// Why a session's timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionExpiry {
    /// No traffic for `idle-time`.
    Idle,
    /// `max-time` since the session came up.
    MaxTime,
}

/// The idle and maximum-connect deadlines of one session, computed from `now` values the
/// caller passes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimers {
    idle: Option<Duration>,
    max_deadline: Option<Instant>,
    last_activity: Instant,
}

impl SessionTimers {
    /// Starts the timers of a session that came up at `now`.
    pub fn start(policy: &GroupPolicy, now: Instant) -> Self {
        SessionTimers {
            idle: policy.idle_time,
            max_deadline: policy.max_time.and_then(|d| now.checked_add(d)),
            last_activity: now,
        }
    }

    /// Records traffic at `now` (pushes the idle deadline out).
    pub fn on_activity(&mut self, now: Instant) {
        if now > self.last_activity {
            self.last_activity = now;
        }
    }

    /// When the session goes idle, if it has an idle time.
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.idle.and_then(|d| self.last_activity.checked_add(d))
    }

    /// When the session hits its maximum connect time, if it has one.
    pub fn max_deadline(&self) -> Option<Instant> {
        self.max_deadline
    }

    /// The next deadline (the earlier of the two).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.idle_deadline(), self.max_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a timer has fired by `now` (max-time first: it is the harder limit).
    pub fn check(&self, now: Instant) -> Option<SessionExpiry> {
        if self.max_deadline.is_some_and(|d| now >= d) {
            return Some(SessionExpiry::MaxTime);
        }
        if self.idle_deadline().is_some_and(|d| now >= d) {
            return Some(SessionExpiry::Idle);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn seed_group_timers() {
        // vpngroup vpn3000 idle-time 1800; no max-time.
        let p = GroupPolicy {
            address_pools: vec!["VPNpool".into()],
            ..GroupPolicy::named("vpn3000")
        };
        p.validate().unwrap();
        let t = t0();
        let mut s = SessionTimers::start(&p, t);
        assert_eq!(s.max_deadline(), None);
        assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(1800)));
        assert_eq!(s.check(t + Duration::from_secs(1799)), None);
        s.on_activity(t + Duration::from_secs(1000));
        assert_eq!(s.check(t + Duration::from_secs(1800)), None);
        assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(2800)));
        assert_eq!(
            s.check(t + Duration::from_secs(2800)),
            Some(SessionExpiry::Idle)
        );
        // Activity in the past does not move the deadline back.
        s.on_activity(t);
        assert_eq!(s.idle_deadline(), Some(t + Duration::from_secs(2800)));
    }

    #[test]
    fn max_time_beats_idle() {
        let p = GroupPolicy {
            idle_time: Some(Duration::from_secs(600)),
            max_time: Some(Duration::from_secs(900)),
            ..GroupPolicy::named("g")
        };
        let t = t0();
        let mut s = SessionTimers::start(&p, t);
        s.on_activity(t + Duration::from_secs(500));
        assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(900)));
        assert_eq!(
            s.check(t + Duration::from_secs(1100)),
            Some(SessionExpiry::MaxTime)
        );
        let none = GroupPolicy {
            idle_time: None,
            ..GroupPolicy::named("g")
        };
        assert_eq!(SessionTimers::start(&none, t).poll_timeout(), None);
    }

    #[test]
    fn limits() {
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        let p = GroupPolicy {
            dns_servers: vec![ip; 3],
            ..GroupPolicy::named("g")
        };
        assert_eq!(
            p.validate(),
            Err(ModeCfgError::BadPolicy {
                group: "g".into(),
                what: "more than two dns-server addresses"
            })
        );
        let p = GroupPolicy {
            wins_servers: vec![ip; 3],
            ..GroupPolicy::named("g")
        };
        assert!(p.validate().is_err());
        let p = GroupPolicy {
            idle_time: Some(Duration::ZERO),
            ..GroupPolicy::named("g")
        };
        assert!(p.validate().is_err());
        let p = GroupPolicy {
            banner: Some("x".repeat(70000)),
            ..GroupPolicy::named("g")
        };
        assert!(p.validate().is_err());
        let p = GroupPolicy {
            backup_servers: vec!["a".into(); 11],
            ..GroupPolicy::named("g")
        };
        assert!(p.validate().is_err());
    }
}
