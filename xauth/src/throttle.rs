//! Xauth password-guessing throttle across IKE SAs, per (user, source address)
//! and per user, Sans-IO (time is an argument).
//!
//! The rules (defaults in [`ThrottleConfig::default`]):
//!
//! - **Per (user, source).** `max_failures` (5) failed logins of one user name from
//!   one address inside `window` (60 s) lock that pair out for `lockout` (120 s).
//!   While locked, [`Throttle::check`] refuses the login *without* asking the AAA
//!   server. Attempts whose verdict is still outstanding count as failures-to-be:
//!   a guesser that opens many IKE SAs at once gets at most `max_failures` of them
//!   to the AAA server, not all of them.
//! - **A growing delay.** [`Throttle::record`] of a failure says how long the
//!   gateway should hold the refusal before telling the peer: nothing for the first
//!   failure of a pair, then `delay_start` (1 s), doubling per failure, capped at
//!   `delay_max` (8 s). A refusal by the throttle itself
//!   ([`Throttled::refusal_delay`]) is held `delay_max`.
//! - **Per user, across sources.** Failures of a user from all addresses count
//!   toward `user_max_failures` (15) inside the user's own `window`, but one address
//!   adds at most `max_failures` of them per user window, and the user is locked
//!   out (for `user_lockout`, 120 s, from every address) only when at least
//!   `user_min_sources` (3, never fewer than 2) *different* addresses failed: one
//!   address alone can never lock a user out from everywhere.
//! - **Escalation.** A pair that is locked out again after its lockout ended (a
//!   guesser that waits and goes on) is locked out for twice as long each time, up
//!   to `lockout_max` (1 h): a patient guesser gets `max_failures` guesses per
//!   lockout, so its rate falls toward `max_failures` per hour.
//! - **Known addresses keep their user in.** An address a user logged in from
//!   successfully within `known_source_for` (24 h; the last
//!   [`KNOWN_SOURCES_PER_USER`] per user) is exempt from the *user-wide* lockout:
//!   guessers on several other addresses cannot lock the real user out from where
//!   they usually connect. The pair rules still apply to it.
//! - **Recovery.** When a lockout ends, the counts of that pair (or user) start
//!   again and the right password works; a successful login clears the pair's entry
//!   (its escalation included).
//! - **Bounded.** At most `max_entries` pairs and `max_entries` users are kept.
//!   When a table is full the entry created (or last refreshed) longest ago is
//!   forgotten, preferring entries that are not locked: up to 8 locked entries are
//!   moved to the back first. Each call is a few hash-map and ordered-map
//!   operations (O(log n)); nothing walks a whole table.
//!
//! Use (one [`Throttle`] for the whole gateway):
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::{Duration, Instant};
//! use xauth::throttle::{Scope, Throttle, ThrottleConfig};
//!
//! let mut th = Throttle::new(ThrottleConfig::default());
//! let src: IpAddr = "198.51.100.7".parse()?;
//! let t0 = Instant::now();
//! for i in 0..5u32 {
//!     // ServerEvent::Credentials: ask the throttle first ...
//!     th.check(t0, b"alice", src).expect("not locked yet");
//!     // ... then the AAA server, which says no; report it.
//!     let r = th.record(t0, b"alice", src, false);
//!     // Hold the refusal this long before Verdict::Reject reaches the peer.
//!     assert_eq!(r.refusal_delay, [0, 1, 2, 4, 8].map(Duration::from_secs)[i as usize]);
//!     assert_eq!(r.locked.is_some(), i == 4);
//! }
//! // The sixth try never reaches the AAA server.
//! let locked = th.check(t0, b"alice", src).unwrap_err();
//! assert_eq!(locked.scope, Scope::UserSource);
//! assert_eq!(locked.until, t0 + Duration::from_secs(120));
//! // The same user from another address is not locked out.
//! assert!(th.check(t0, b"alice", "203.0.113.9".parse()?).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every granted [`Throttle::check`] must be followed by exactly one
//! [`Throttle::record`] (the AAA verdict) or [`Throttle::abandon`] (the dialogue
//! ended without one). An attempt never reported stops counting as in flight after
//! `window`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses remembered per user as known-good (see the module docs).
pub const KNOWN_SOURCES_PER_USER: usize = 4;

/// User names longer than this are keyed by their first `MAX_USER_KEY` bytes
/// (marked as truncated, so they never share an entry with a name of exactly
/// that length).
pub const MAX_USER_KEY: usize = 256;

/// Locked entries moved to the back of a full table before the oldest entry is
/// forgotten anyway.
const EVICT_TRIES: usize = 8;

/// Throttling limits. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures of one user from one address inside `window` that lock the pair
    /// out (default 5; 0 turns the whole throttle off).
    pub max_failures: u32,
    /// The counting window, per pair and per user (default 60 s).
    pub window: Duration,
    /// How long a (user, source) lockout lasts the first time (default 120 s); each
    /// further lockout of the same pair lasts twice as long as the one before.
    pub lockout: Duration,
    /// The longest (user, source) lockout that escalation reaches (default 1 h).
    pub lockout_max: Duration,
    /// How long an address a user logged in from stays exempt from that user's
    /// user-wide lockout (default 24 h; zero: no address is exempt).
    pub known_source_for: Duration,
    /// Failures of one user from all addresses inside `window` that lock the user
    /// out everywhere (default 15; each address adds at most `max_failures`;
    /// values below `2 * max_failures + 1` count as that).
    pub user_max_failures: u32,
    /// Different addresses that must have failed before a user is locked out
    /// everywhere (default 3; values below 2 count as 2).
    pub user_min_sources: u32,
    /// How long a user lockout lasts (default 120 s).
    pub user_lockout: Duration,
    /// The hold before the refusal of a pair's second failure (default 1 s); it
    /// doubles with each further failure.
    pub delay_start: Duration,
    /// The longest hold before a refusal, also the hold of a refusal by the
    /// throttle itself (default 8 s; keep it below the Xauth timeout).
    pub delay_max: Duration,
    /// Entries kept in each table, pairs and users (default 4096).
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(120),
            lockout_max: Duration::from_secs(3600),
            known_source_for: Duration::from_secs(24 * 3600),
            user_max_failures: 15,
            user_min_sources: 3,
            user_lockout: Duration::from_secs(120),
            delay_start: Duration::from_secs(1),
            delay_max: Duration::from_secs(8),
            max_entries: 4096,
        }
    }
}

/// Which key a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// This user name from this source address.
    UserSource,
    /// This user name from every address.
    User,
}

/// Why the throttle refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Locked out after too many failures.
    LockedOut,
    /// Enough attempts are waiting for their AAA verdict that, failed, they would
    /// reach the lockout: no more until one is reported.
    InFlight,
}

/// A refusal by the throttle: do not ask the AAA server, refuse the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Throttled {
    /// Pair or user.
    pub scope: Scope,
    /// Lockout, or too many attempts in flight.
    pub reason: Reason,
    /// When the lockout ends (for [`Reason::InFlight`]: when the attempts in
    /// flight are forgotten if no verdict comes).
    pub until: Instant,
    /// How long to hold the refusal before the peer is told.
    pub refusal_delay: Duration,
}

impl Throttled {
    /// Time left until `until`.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.until.saturating_duration_since(now)
    }
}

impl fmt::Display for Throttled {
    /// E.g. `locked out (user from this address)`: no user name, no address, so
    /// the caller says those in its own words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            Reason::LockedOut => "locked out",
            Reason::InFlight => "too many logins waiting for the AAA server",
        };
        let scope = match self.scope {
            Scope::UserSource => "user from this address",
            Scope::User => "user from every address",
        };
        write!(f, "{what} ({scope})")
    }
}

/// What [`Throttle::record`] tells the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Hold the refusal this long before the peer learns it (zero for a success
    /// and for a pair's first failure).
    pub refusal_delay: Duration,
    /// This failure started a lockout (the user-wide one when both started).
    pub locked: Option<Throttled>,
}

/// Counters for metrics and `show` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleStats {
    /// (user, source) lockouts started.
    pub lockouts_user_source: u64,
    /// User-wide lockouts started.
    pub lockouts_user: u64,
    /// Logins refused because their (user, source) was locked out.
    pub refused_user_source: u64,
    /// Logins refused because their user was locked out everywhere.
    pub refused_user: u64,
    /// Logins refused because too many of their attempts were in flight.
    pub refused_in_flight: u64,
    /// Failures recorded.
    pub failures: u64,
    /// Entries forgotten because a table was full.
    pub evicted: u64,
    /// Entries now: (user, source) pairs.
    pub pair_entries: usize,
    /// Entries now: users.
    pub user_entries: usize,
}

/// A user name as a table key (bounded in size).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct UserKey {
    name: Vec<u8>,
    truncated: bool,
}

impl UserKey {
    fn new(user: &[u8]) -> Self {
        UserKey {
            name: user.get(..MAX_USER_KEY).unwrap_or(user).to_vec(),
            truncated: user.len() > MAX_USER_KEY,
        }
    }
}

/// Counts shared by pair and user entries.
#[derive(Debug, Clone, Default)]
struct Counts {
    /// Failures in the current window.
    failures: u32,
    /// When the current window started (its first failure).
    window_start: Option<Instant>,
    locked_until: Option<Instant>,
    /// Checks granted and not yet reported.
    in_flight: u32,
    /// The latest granted check.
    in_flight_since: Option<Instant>,
}

impl Counts {
    /// Expires a lockout, a window or stale in-flight attempts. Returns true when
    /// the counts started again (lockout or window over).
    fn refresh(&mut self, now: Instant, window: Duration) -> bool {
        let mut reset = false;
        if let Some(until) = self.locked_until {
            if now >= until {
                self.locked_until = None;
                self.failures = 0;
                self.window_start = None;
                reset = true;
            }
        } else if let Some(start) = self.window_start {
            if now >= after(start, window) {
                self.failures = 0;
                self.window_start = None;
                reset = true;
            }
        }
        if let Some(since) = self.in_flight_since {
            if now >= after(since, window) {
                self.in_flight = 0;
                self.in_flight_since = None;
            }
        }
        reset
    }

    fn locked(&self, now: Instant) -> Option<Instant> {
        self.locked_until.filter(|u| now < *u)
    }

    fn fail(&mut self, now: Instant) {
        if self.window_start.is_none() {
            self.window_start = Some(now);
        }
        self.failures = self.failures.saturating_add(1);
    }

    fn begin(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_add(1);
        self.in_flight_since = Some(now);
    }

    fn end(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.in_flight_since = None;
        }
    }

    fn idle(&self) -> bool {
        self.failures == 0 && self.in_flight == 0 && self.locked_until.is_none()
    }
}

#[derive(Debug, Clone, Default)]
struct PairEntry {
    c: Counts,
    /// The user window (epoch) this pair's contribution is counted in.
    user_epoch: u64,
    /// Failures this pair added to the user's count in that epoch.
    contributed: u32,
    /// Lockouts of this pair so far (escalation; cleared by a success).
    lockouts: u32,
}

#[derive(Debug, Clone, Default)]
struct UserEntry {
    c: Counts,
    /// Unique per user window, across all users (so an evicted and re-created
    /// user never matches an old pair's epoch).
    epoch: u64,
    /// Distinct addresses that failed in this window (at most `user_min_sources`).
    sources: Vec<IpAddr>,
}

/// A map bounded to `max` entries that forgets the oldest one (by insertion or
/// last `touch`), preferring entries `keep` says are worth keeping.
///
/// Why a `BTreeMap`: the keys (user names, source addresses) come from the wire,
/// so a hash table would need a secret seed against collision floods, and std's
/// randomly seeded one would make runs differ; an ordered map is O(log n) for
/// any keys and the same in every run.
#[derive(Debug)]
struct Table<K, V> {
    map: BTreeMap<K, (u64, V)>,
    order: BTreeMap<u64, K>,
    next_seq: u64,
    max: usize,
}

impl<K: Ord + Clone, V> Table<K, V> {
    fn new(max: usize) -> Self {
        Table {
            map: BTreeMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max: max.max(1),
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(_, v)| v)
    }

    fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        s
    }

    fn remove(&mut self, k: &K) {
        if let Some((seq, _)) = self.map.remove(k) {
            self.order.remove(&seq);
        }
    }

    /// Moves `k` to the back (youngest).
    fn touch(&mut self, k: &K) {
        let seq = self.take_seq();
        if let Some((old, _)) = self.map.get_mut(k) {
            let prev = std::mem::replace(old, seq);
            self.order.remove(&prev);
            self.order.insert(seq, k.clone());
        }
    }

    /// Makes sure `k` has an entry (`V::default()` when new), forgetting one when
    /// the table is full; returns the forgotten entry.
    fn ensure(&mut self, k: &K, keep: impl Fn(&V) -> bool) -> Option<(K, V)>
    where
        V: Default,
    {
        if self.map.contains_key(k) {
            return None;
        }
        let evicted = if self.map.len() >= self.max {
            self.evict_one(&keep)
        } else {
            None
        };
        let seq = self.take_seq();
        self.order.insert(seq, k.clone());
        self.map.insert(k.clone(), (seq, V::default()));
        evicted
    }

    fn evict_one(&mut self, keep: &impl Fn(&V) -> bool) -> Option<(K, V)> {
        for attempt in 0..=EVICT_TRIES {
            let (_, k) = self.order.pop_first()?;
            let worth = attempt < EVICT_TRIES && self.map.get(&k).is_some_and(|(_, v)| keep(v));
            if worth {
                let seq = self.take_seq();
                if let Some((s, _)) = self.map.get_mut(&k) {
                    *s = seq;
                }
                self.order.insert(seq, k);
            } else {
                return self.map.remove(&k).map(|(_, v)| (k, v));
            }
        }
        None
    }
}

/// Failure counters per (user, source) and per user. One per gateway.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    pairs: Table<(UserKey, IpAddr), PairEntry>,
    users: Table<UserKey, UserEntry>,
    /// Addresses each user logged in from, with when (newest last).
    known: Table<UserKey, Vec<(IpAddr, Instant)>>,
    next_epoch: u64,
    stats: ThrottleStats,
}

impl Throttle {
    /// Empty tables.
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            pairs: Table::new(config.max_entries),
            users: Table::new(config.max_entries),
            known: Table::new(config.max_entries),
            config,
            next_epoch: 1,
            stats: ThrottleStats::default(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// The user-wide threshold: never reachable by one address alone (which adds
    /// at most `max_failures` failures and `max_failures` attempts in flight).
    fn user_max(&self) -> u32 {
        self.config
            .user_max_failures
            .max(self.config.max_failures.saturating_mul(2).saturating_add(1))
    }

    fn min_sources(&self) -> usize {
        usize::try_from(self.config.user_min_sources.max(2)).unwrap_or(usize::MAX)
    }

    fn take_epoch(&mut self) -> u64 {
        let e = self.next_epoch;
        self.next_epoch = self.next_epoch.wrapping_add(1);
        e
    }

    /// Refreshes `user`'s entry, if any; a new window gets a new epoch.
    fn refresh_user(&mut self, now: Instant, key: &UserKey) {
        let window = self.config.window;
        let epoch = self.next_epoch;
        let mut used = false;
        if let Some(u) = self.users.get_mut(key) {
            if u.c.refresh(now, window) {
                u.epoch = epoch;
                u.sources.clear();
                used = true;
            }
        }
        if used {
            self.take_epoch();
        }
    }

    /// Takes `n` attempts in flight off `user` (mirroring what its pair lost).
    fn user_in_flight_down(&mut self, user: &UserKey, n: u32) {
        if n == 0 {
            return;
        }
        if let Some(u) = self.users.get_mut(user) {
            u.c.in_flight = u.c.in_flight.saturating_sub(n);
            if u.c.in_flight == 0 {
                u.c.in_flight_since = None;
            }
        }
    }

    /// Refreshes the pair's entry, if any, keeping the user's in-flight count the
    /// sum of its pairs' (so that one address never counts for more than itself).
    fn refresh_pair(&mut self, now: Instant, key: &(UserKey, IpAddr)) {
        let window = self.config.window;
        let dropped = self.pairs.get_mut(key).map_or(0, |p| {
            let before = p.c.in_flight;
            p.c.refresh(now, window);
            before.saturating_sub(p.c.in_flight)
        });
        self.user_in_flight_down(&key.0, dropped);
    }

    /// Makes sure both entries exist; counts what was forgotten to make room.
    fn ensure_entries(&mut self, now: Instant, key: &(UserKey, IpAddr)) {
        let epoch = self.next_epoch;
        let ev_user = self
            .users
            .ensure(&key.0, |u: &UserEntry| u.c.locked(now).is_some());
        let mut evicted = u64::from(ev_user.is_some());
        let fresh_user = self.users.get_mut(&key.0).is_some_and(|u| {
            let fresh = u.epoch == 0;
            if fresh {
                u.epoch = epoch;
            }
            fresh
        });
        if fresh_user {
            self.take_epoch();
        }
        if let Some(((user, _), p)) = self
            .pairs
            .ensure(key, |p: &PairEntry| p.c.locked(now).is_some())
        {
            evicted = evicted.saturating_add(1);
            self.user_in_flight_down(&user, p.c.in_flight);
        }
        self.stats.evicted = self.stats.evicted.saturating_add(evicted);
    }

    /// Whether `user` logged in successfully from `source` within `known_source_for`.
    fn known_source(&mut self, now: Instant, user: &UserKey, source: IpAddr) -> bool {
        let keep = self.config.known_source_for;
        self.known.get_mut(user).is_some_and(|v| {
            v.iter()
                .any(|(a, at)| *a == source && now < after(*at, keep))
        })
    }

    /// Remembers a successful login of `user` from `source`.
    fn remember_source(&mut self, now: Instant, user: &UserKey, source: IpAddr) {
        if self.config.known_source_for.is_zero() {
            return;
        }
        let _ = self.known.ensure(user, |_| false);
        if let Some(v) = self.known.get_mut(user) {
            v.retain(|(a, _)| *a != source);
            if v.len() >= KNOWN_SOURCES_PER_USER {
                v.remove(0);
            }
            v.push((source, now));
        }
        self.known.touch(user);
    }

    /// Whether a login of `user` from `source` may go to the AAA server now. A
    /// granted check counts as an attempt in flight until [`Throttle::record`] or
    /// [`Throttle::abandon`].
    pub fn check(&mut self, now: Instant, user: &[u8], source: IpAddr) -> Result<(), Throttled> {
        if self.config.max_failures == 0 {
            return Ok(());
        }
        let hold = self.config.delay_max;
        let window = self.config.window;
        let max = self.config.max_failures;
        let user_max = self.user_max();
        let key = (UserKey::new(user), source);
        self.refresh_user(now, &key.0);
        self.refresh_pair(now, &key);
        // A known address of the user is exempt from the user-wide rules.
        let user_rules = !self.known_source(now, &key.0, source);
        if let Some(u) = self.users.get_mut(&key.0).filter(|_| user_rules) {
            if let Some(until) = u.c.locked(now) {
                self.stats.refused_user = self.stats.refused_user.saturating_add(1);
                return Err(Throttled {
                    scope: Scope::User,
                    reason: Reason::LockedOut,
                    until,
                    refusal_delay: hold,
                });
            }
        }
        if let Some(p) = self.pairs.get_mut(&key) {
            if let Some(until) = p.c.locked(now) {
                self.stats.refused_user_source = self.stats.refused_user_source.saturating_add(1);
                return Err(Throttled {
                    scope: Scope::UserSource,
                    reason: Reason::LockedOut,
                    until,
                    refusal_delay: hold,
                });
            }
            if p.c.failures.saturating_add(p.c.in_flight) >= max {
                self.stats.refused_in_flight = self.stats.refused_in_flight.saturating_add(1);
                return Err(Throttled {
                    scope: Scope::UserSource,
                    reason: Reason::InFlight,
                    until: after(p.c.in_flight_since.unwrap_or(now), window),
                    refusal_delay: hold,
                });
            }
        }
        if let Some(u) = self.users.get_mut(&key.0).filter(|_| user_rules) {
            if u.c.failures.saturating_add(u.c.in_flight) >= user_max {
                self.stats.refused_in_flight = self.stats.refused_in_flight.saturating_add(1);
                return Err(Throttled {
                    scope: Scope::User,
                    reason: Reason::InFlight,
                    until: after(u.c.in_flight_since.unwrap_or(now), window),
                    refusal_delay: hold,
                });
            }
        }
        self.ensure_entries(now, &key);
        if let Some(p) = self.pairs.get_mut(&key) {
            p.c.begin(now);
            if let Some(u) = self.users.get_mut(&key.0) {
                u.c.begin(now);
            }
        }
        self.pairs.touch(&key);
        self.users.touch(&key.0);
        Ok(())
    }

    /// Ends one attempt in flight of the pair (and its user, when the pair had
    /// one). Returns whether the pair had one.
    fn end_attempt(&mut self, key: &(UserKey, IpAddr)) {
        let had = self.pairs.get_mut(key).is_some_and(|p| {
            let had = p.c.in_flight > 0;
            p.c.end();
            had
        });
        if had {
            self.user_in_flight_down(&key.0, 1);
        }
    }

    /// Forgets the pair and the user when nothing of them is left to count.
    fn drop_idle(&mut self, key: &(UserKey, IpAddr)) {
        if self
            .pairs
            .get_mut(key)
            .is_some_and(|p| p.c.idle() && p.lockouts == 0)
        {
            self.pairs.remove(key);
        }
        if self.users.get_mut(&key.0).is_some_and(|u| u.c.idle()) {
            self.users.remove(&key.0);
        }
    }

    /// Reports the AAA verdict of a granted check: `ok` clears the pair's counts;
    /// a failure counts against the pair and the user and says how long to hold
    /// the refusal and whether a lockout started.
    pub fn record(&mut self, now: Instant, user: &[u8], source: IpAddr, ok: bool) -> Recorded {
        let mut out = Recorded {
            refusal_delay: Duration::ZERO,
            locked: None,
        };
        if self.config.max_failures == 0 {
            return out;
        }
        let key = (UserKey::new(user), source);
        self.refresh_user(now, &key.0);
        self.refresh_pair(now, &key);
        self.end_attempt(&key);
        if ok {
            if let Some(p) = self.pairs.get_mut(&key) {
                // Other attempts may still be in flight: they keep counting.
                let in_flight = (p.c.in_flight, p.c.in_flight_since);
                p.c = Counts::default();
                (p.c.in_flight, p.c.in_flight_since) = in_flight;
                p.lockouts = 0;
            }
            self.drop_idle(&key);
            self.remember_source(now, &key.0, source);
            return out;
        }
        self.stats.failures = self.stats.failures.saturating_add(1);
        let max = self.config.max_failures;
        let min_sources = self.min_sources();
        let user_max = self.user_max();
        self.ensure_entries(now, &key);
        let user_epoch = self.users.get_mut(&key.0).map_or(0, |u| u.epoch);

        let mut adds = false;
        if let Some(p) = self.pairs.get_mut(&key) {
            p.c.fail(now);
            if p.user_epoch != user_epoch {
                p.user_epoch = user_epoch;
                p.contributed = 0;
            }
            adds = p.contributed < max;
            if adds {
                p.contributed = p.contributed.saturating_add(1);
            }
            out.refusal_delay = delay_for(&self.config, p.c.failures);
            if p.c.locked_until.is_none() && p.c.failures >= max {
                let until = after(now, lockout_for(&self.config, p.lockouts));
                p.lockouts = p.lockouts.saturating_add(1);
                p.c.locked_until = Some(until);
                self.stats.lockouts_user_source = self.stats.lockouts_user_source.saturating_add(1);
                out.locked = Some(Throttled {
                    scope: Scope::UserSource,
                    reason: Reason::LockedOut,
                    until,
                    refusal_delay: self.config.delay_max,
                });
            }
        }
        if let Some(u) = self.users.get_mut(&key.0) {
            if adds {
                u.c.fail(now);
            }
            if !u.sources.contains(&source) && u.sources.len() < min_sources {
                u.sources.push(source);
            }
            if u.c.locked_until.is_none()
                && u.c.failures >= user_max
                && u.sources.len() >= min_sources
            {
                let until = after(now, self.config.user_lockout);
                u.c.locked_until = Some(until);
                self.stats.lockouts_user = self.stats.lockouts_user.saturating_add(1);
                out.locked = Some(Throttled {
                    scope: Scope::User,
                    reason: Reason::LockedOut,
                    until,
                    refusal_delay: self.config.delay_max,
                });
            }
        }
        self.pairs.touch(&key);
        self.users.touch(&key.0);
        out
    }

    /// A granted check that will get no verdict (the dialogue ended, the SA was
    /// deleted, the AAA request was cancelled): it stops counting as in flight.
    pub fn abandon(&mut self, now: Instant, user: &[u8], source: IpAddr) {
        let key = (UserKey::new(user), source);
        self.refresh_user(now, &key.0);
        self.refresh_pair(now, &key);
        self.end_attempt(&key);
        self.drop_idle(&key);
    }

    /// The hold before the refusal of a pair's `n`th failure: 0 for the first,
    /// then `delay_start` doubling, capped at `delay_max`.
    pub fn delay_for(&self, n: u32) -> Duration {
        delay_for(&self.config, n)
    }

    /// Counters and table sizes.
    pub fn stats(&self) -> ThrottleStats {
        ThrottleStats {
            pair_entries: self.pairs.len(),
            user_entries: self.users.len(),
            ..self.stats
        }
    }

    /// Entries held (pairs, users).
    pub fn len(&self) -> (usize, usize) {
        (self.pairs.len(), self.users.len())
    }

    /// Whether both tables are empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.len() == 0 && self.users.len() == 0
    }
}

/// The lockout of a pair locked out `before` times already: `lockout` doubling,
/// capped at `lockout_max` (never below `lockout`).
fn lockout_for(config: &ThrottleConfig, before: u32) -> Duration {
    let factor = 1u32.checked_shl(before.min(31)).unwrap_or(u32::MAX);
    config
        .lockout
        .checked_mul(factor)
        .unwrap_or(config.lockout_max)
        .min(config.lockout_max.max(config.lockout))
}

fn delay_for(config: &ThrottleConfig, n: u32) -> Duration {
    let Some(doublings) = n.checked_sub(2) else {
        return Duration::ZERO;
    };
    let factor = 1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX);
    config
        .delay_start
        .checked_mul(factor)
        .unwrap_or(config.delay_max)
        .min(config.delay_max)
}
/// `now + d`, or `now` if that does not fit in an `Instant`.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}
