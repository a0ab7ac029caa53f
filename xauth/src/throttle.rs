//! Per-user and per-peer failure throttling across Xauth dialogues.
//!
//! After `max_failures` failed logins inside `window`, further logins for that
//! user (or from that peer address) are refused until `lockout` has passed, without
//! asking the AAA server. The tables are bounded: when full, the entry whose window
//! started longest ago is forgotten.
//!
//! Use: on [`crate::ServerEvent::Credentials`], call [`Throttle::check`]; if it
//! refuses, answer the machine with [`crate::Verdict::Reject`] without asking AAA.
//! Report every verdict with [`Throttle::record`].

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::server::after;

/// Throttling limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures of one user name inside `window` before it is locked out (0: off).
    pub max_failures_per_user: u32,
    /// Failures from one peer address inside `window` before it is locked out (0: off).
    pub max_failures_per_peer: u32,
    /// The counting window.
    pub window: Duration,
    /// How long a lockout lasts.
    pub lockout: Duration,
    /// Entries kept per table.
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures_per_user: 5,
            max_failures_per_peer: 10,
            window: Duration::from_secs(300),
            lockout: Duration::from_secs(300),
            max_entries: 4096,
        }
    }
}

/// Why a login was refused by the throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Throttled {
    /// The user name is locked out until then.
    User(Instant),
    /// The peer address is locked out until then.
    Peer(Instant),
}

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn locked(&self, now: Instant, k: &K) -> Option<Instant> {
        self.map
            .get(k)
            .and_then(|e| e.locked_until)
            .filter(|until| now < *until)
    }

    fn fail(&mut self, now: Instant, k: &K, max: u32, cfg: &ThrottleConfig) {
        if max == 0 || cfg.max_entries == 0 {
            return;
        }
        if !self.map.contains_key(k) && self.map.len() >= cfg.max_entries {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.window_start)
                .map(|(k, _)| k.clone());
            if let Some(o) = oldest {
                self.map.remove(&o);
            }
        }
        let e = self.map.entry(k.clone()).or_insert(Entry {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if now.saturating_duration_since(e.window_start) > cfg.window {
            e.failures = 0;
            e.window_start = now;
            e.locked_until = None;
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures >= max {
            e.locked_until = Some(after(now, cfg.lockout));
            // A new window starts when the lockout ends.
            e.failures = 0;
            e.window_start = after(now, cfg.lockout);
        }
    }
}

/// Failure counters for users and peers.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    users: Table<Vec<u8>>,
    peers: Table<IpAddr>,
}

impl Throttle {
    /// Empty tables.
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            config,
            users: Table {
                map: HashMap::new(),
            },
            peers: Table {
                map: HashMap::new(),
            },
        }
    }

    /// Whether a login of `user` from `peer` may be tried now.
    pub fn check(&self, now: Instant, user: &[u8], peer: IpAddr) -> Result<(), Throttled> {
        if let Some(until) = self.peers.locked(now, &peer) {
            return Err(Throttled::Peer(until));
        }
        if let Some(until) = self.users.locked(now, &user.to_vec()) {
            return Err(Throttled::User(until));
        }
        Ok(())
    }

    /// Records a verdict: a failure counts against user and peer, a success
    /// clears the user's count.
    pub fn record(&mut self, now: Instant, user: &[u8], peer: IpAddr, ok: bool) {
        let user = user.to_vec();
        if ok {
            self.users.map.remove(&user);
            return;
        }
        let (mu, mp) = (
            self.config.max_failures_per_user,
            self.config.max_failures_per_peer,
        );
        self.users.fail(now, &user, mu, &self.config);
        self.peers.fail(now, &peer, mp, &self.config);
    }

    /// Entries held (users, peers), for monitoring and tests.
    pub fn len(&self) -> (usize, usize) {
        (self.users.map.len(), self.peers.map.len())
    }

    /// Whether both tables are empty.
    pub fn is_empty(&self) -> bool {
        self.users.map.is_empty() && self.peers.map.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::arithmetic_side_effects)] // a test's fixed origin
mod tests {
    use super::*;

    fn cfg() -> ThrottleConfig {
        ThrottleConfig {
            max_failures_per_user: 3,
            max_failures_per_peer: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(120),
            max_entries: 4,
        }
    }

    #[test]
    fn user_locked_after_max_failures_then_released() {
        let t0 = Instant::now();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let mut t = Throttle::new(cfg());
        for i in 0..2 {
            t.record(t0, b"bob", peer, false);
            assert_eq!(t.check(t0, b"bob", peer), Ok(()), "after {i}");
        }
        t.record(t0, b"bob", peer, false);
        let until = t0 + Duration::from_secs(120);
        assert_eq!(t.check(t0, b"bob", peer), Err(Throttled::User(until)));
        assert_eq!(t.check(t0, b"alice", peer), Ok(()));
        assert_eq!(t.check(until, b"bob", peer), Ok(()));
    }

    #[test]
    fn peer_locked_across_users() {
        let t0 = Instant::now();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let mut t = Throttle::new(cfg());
        for u in [b"a", b"b", b"c", b"d", b"e"] {
            t.record(t0, u, peer, false);
        }
        assert!(matches!(t.check(t0, b"z", peer), Err(Throttled::Peer(_))));
        assert_eq!(t.check(t0, b"z", other), Ok(()));
    }

    #[test]
    fn window_expiry_and_success_reset_counts() {
        let t0 = Instant::now();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let mut t = Throttle::new(cfg());
        t.record(t0, b"bob", peer, false);
        t.record(t0, b"bob", peer, false);
        // Outside the window the count starts again.
        let t1 = t0 + Duration::from_secs(61);
        t.record(t1, b"bob", peer, false);
        assert_eq!(t.check(t1, b"bob", peer), Ok(()));
        t.record(t1, b"bob", peer, true);
        t.record(t1, b"bob", peer, false);
        t.record(t1, b"bob", peer, false);
        assert_eq!(t.check(t1, b"bob", peer), Ok(()));
    }

    #[test]
    fn tables_are_bounded() {
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        for i in 0..100u8 {
            let peer = IpAddr::from([10, 0, 0, i]);
            t.record(t0 + Duration::from_millis(u64::from(i)), &[i], peer, false);
        }
        assert_eq!(t.len(), (4, 4));
        assert!(!t.is_empty());
    }

    #[test]
    fn zero_disables() {
        let t0 = Instant::now();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let mut t = Throttle::new(ThrottleConfig {
            max_failures_per_user: 0,
            max_failures_per_peer: 0,
            ..cfg()
        });
        for _ in 0..50 {
            t.record(t0, b"bob", peer, false);
        }
        assert_eq!(t.check(t0, b"bob", peer), Ok(()));
        assert!(t.is_empty());
    }
}
