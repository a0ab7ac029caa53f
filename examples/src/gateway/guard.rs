//! What the gateway does about hostile traffic beyond the IKE endpoint's own admission
//! control: Xauth guessing throttled across IKE SAs (the refusal of a guess is held back
//! for a growing delay, a locked-out user/source pair never reaches the AAA server), and
//! every drop and refusal summarised in the log at a bounded rate: one line per reason
//! per interval, with the count, whatever the flood's size.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ike_sm::SaId;

/// The guard's limits (`--limit xauth-*`, `--limit log-interval`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardLimits {
    /// The Xauth throttle.
    pub xauth: xauth::ThrottleConfig,
    /// At most one summary line per reason per this interval.
    pub log_interval: Duration,
}

impl Default for GuardLimits {
    fn default() -> Self {
        Self {
            xauth: xauth::ThrottleConfig::default(),
            log_interval: Duration::from_secs(10),
        }
    }
}

/// What the throttle decided for credentials that just arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Ask the AAA server.
    AskAaa,
    /// Refuse without asking, once `at` has come (the pair or user is locked out).
    RefuseAt(Instant),
}

/// One Xauth throttle shared by several gateway cores (shards): a guesser who spreads
/// tries over the cores (each IKE SA lands on one) meets one set of counters. Each use
/// locks it once: per Xauth login and verdict, never per packet.
#[derive(Debug, Clone)]
pub struct SharedThrottle(Arc<Mutex<xauth::Throttle>>);

impl SharedThrottle {
    /// A throttle with these limits, to share.
    #[must_use]
    pub fn new(config: xauth::ThrottleConfig) -> Self {
        SharedThrottle(Arc::new(Mutex::new(xauth::Throttle::new(config))))
    }

    /// The throttle; a core that panicked while holding it left counters that are still
    /// counters, so a poisoned lock is taken over rather than propagated.
    fn lock(&self) -> MutexGuard<'_, xauth::Throttle> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The throttle a guard uses: its own, or one shared with other cores.
#[derive(Debug)]
enum Throttle {
    Own(Box<xauth::Throttle>),
    Shared(SharedThrottle),
}

impl Throttle {
    fn with<T>(&mut self, f: impl FnOnce(&mut xauth::Throttle) -> T) -> T {
        match self {
            Throttle::Own(t) => f(t),
            Throttle::Shared(s) => f(&mut s.lock()),
        }
    }

    fn stats(&self) -> xauth::ThrottleStats {
        match self {
            Throttle::Own(t) => t.stats(),
            Throttle::Shared(s) => s.lock().stats(),
        }
    }
}

/// Xauth throttling and rate-limited refusal summaries.
#[derive(Debug)]
pub struct Guard {
    limits: GuardLimits,
    throttle: Throttle,
    /// Refusals held back until their deadline: (deadline, SA).
    held: BTreeSet<(Instant, SaId)>,
    /// Refusals whose answer was held back.
    pub delayed: u64,
    /// Counts already reported in the log, by (stage, reason).
    reported: BTreeMap<(&'static str, String), u64>,
    /// When the next summary is due (set when something new was counted).
    summary_due: Option<Instant>,
    last_summary: Option<Instant>,
    /// Lines about single events (a failed negotiation) left in the current interval,
    /// and when it started.
    line_budget: (u32, Option<Instant>),
}

/// Lines about single events of unproven peers per `log_interval`; past it they are only
/// counted (and summarised).
const LINES_PER_INTERVAL: u32 = 10;

impl Guard {
    /// A guard with these limits.
    #[must_use]
    pub fn new(limits: GuardLimits) -> Self {
        let own = Throttle::Own(Box::new(xauth::Throttle::new(limits.xauth.clone())));
        Self::with_throttle_of(limits, own)
    }

    /// A guard with these limits around a throttle shared with other cores (the
    /// throttle keeps the limits it was made with).
    #[must_use]
    pub fn with_throttle(limits: GuardLimits, shared: SharedThrottle) -> Self {
        Self::with_throttle_of(limits, Throttle::Shared(shared))
    }

    fn with_throttle_of(limits: GuardLimits, throttle: Throttle) -> Self {
        Self {
            throttle,
            limits,
            held: BTreeSet::new(),
            delayed: 0,
            reported: BTreeMap::new(),
            summary_due: None,
            last_summary: None,
            line_budget: (LINES_PER_INTERVAL, None),
        }
    }

    /// Whether one more line about a single event may go to the log in this interval
    /// (at most 10 per `log_interval`): a flood of failing negotiations must not grow
    /// the log with the flood.
    pub fn line_budget(&mut self, now: Instant) -> bool {
        let (left, start) = &mut self.line_budget;
        if start.is_none_or(|s| now >= s.checked_add(self.limits.log_interval).unwrap_or(s)) {
            *start = Some(now);
            *left = LINES_PER_INTERVAL;
        }
        if *left == 0 {
            return false;
        }
        *left = left.saturating_sub(1);
        true
    }

    /// Credentials of `user` from `source` arrived: ask AAA, or refuse (held back).
    pub fn admit(&mut self, now: Instant, user: &str, source: IpAddr) -> Admit {
        match self
            .throttle
            .with(|t| t.check(now, user.as_bytes(), source))
        {
            Ok(()) => Admit::AskAaa,
            Err(t) => {
                // Held back like a wrong guess (the throttle's longest delay): a guesser
                // in a loop waits for every try, and learns nothing from the timing.
                let at = now.checked_add(t.refusal_delay).unwrap_or(now);
                self.something_counted(now);
                Admit::RefuseAt(at)
            }
        }
    }

    /// A login that was sent to AAA will get no verdict (server unreachable, SA gone).
    pub fn abandon(&mut self, now: Instant, user: &str, source: IpAddr) {
        self.throttle
            .with(|t| t.abandon(now, user.as_bytes(), source));
    }

    /// The AAA server's verdict on `user` from `source`: when the refusal must wait.
    pub fn verdict(&mut self, now: Instant, user: &str, source: IpAddr, ok: bool) -> Instant {
        let r = self
            .throttle
            .with(|t| t.record(now, user.as_bytes(), source, ok));
        if r.locked.is_some() {
            self.something_counted(now);
        }
        if ok || r.refusal_delay.is_zero() {
            return now;
        }
        self.delayed = self.delayed.saturating_add(1);
        now.checked_add(r.refusal_delay).unwrap_or(now)
    }

    /// Holds the refusal of `sa` until `at`.
    pub fn hold(&mut self, at: Instant, sa: SaId) {
        self.held.insert((at, sa));
    }

    /// The held refusals that are due.
    pub fn due_refusals(&mut self, now: Instant) -> Vec<SaId> {
        let mut out = Vec::new();
        while let Some(&(at, sa)) = self.held.first() {
            if at > now {
                break;
            }
            self.held.pop_first();
            out.push(sa);
        }
        out
    }

    /// Forgets a held refusal (the SA went away).
    pub fn forget(&mut self, sa: SaId) {
        self.held.retain(|(_, s)| *s != sa);
    }

    /// How many refusals are held back now.
    #[must_use]
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The throttle's counters (entries, lockouts) for `show` and metrics.
    #[must_use]
    pub fn throttle_stats(&self) -> xauth::ThrottleStats {
        self.throttle.stats()
    }

    /// Something was counted: a summary becomes due at the next interval boundary.
    pub fn something_counted(&mut self, now: Instant) {
        if self.summary_due.is_none() {
            let next = self
                .last_summary
                .and_then(|l| l.checked_add(self.limits.log_interval))
                .map_or(now, |n| n.max(now));
            self.summary_due = Some(next);
        }
    }

    /// Whether [`Guard::summary`] has lines to give at `now`.
    #[must_use]
    pub fn summary_due(&self, now: Instant) -> bool {
        self.summary_due.is_some_and(|d| d <= now)
    }

    /// The next deadline: a held refusal or a summary.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.held.first().map(|(t, _)| *t), self.summary_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// When due, one line per (stage, reason) whose count grew since the last summary:
    /// `counts` are the monotonic totals by (stage, reason, words).
    pub fn summary(
        &mut self,
        now: Instant,
        counts: impl IntoIterator<Item = (&'static str, String, String, u64)>,
    ) -> Vec<String> {
        if !self.summary_due(now) {
            return Vec::new();
        }
        self.summary_due = None;
        self.last_summary = Some(now);
        let secs = self.limits.log_interval.as_secs().max(1);
        let mut out = Vec::new();
        for (stage, label, words, n) in counts {
            let seen = self.reported.entry((stage, label.clone())).or_insert(0);
            if n > *seen {
                let new = n.saturating_sub(*seen);
                *seen = n;
                out.push(format!(
                    "{stage}: {new} dropped or refused in the last {secs} s or less: {words} ({label}, {n} since start)"
                ));
            }
        }
        out
    }
}

/// Applies one `--limit NAME=VALUE` of the guard; `Ok(false)` when `NAME` is not one of
/// its names (an IKE limit: [`super::setup::apply_limit`]). Durations are seconds unless
/// the name ends in `-ms`.
///
/// # Errors
/// A value that is not a number.
pub fn apply_limit(l: &mut GuardLimits, spec: &str) -> Result<bool, String> {
    let Some((name, value)) = spec.split_once('=') else {
        return Ok(false);
    };
    let num = || {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("--limit {name}: '{value}' is not a whole number"))
    };
    let x = &mut l.xauth;
    match name.trim() {
        "xauth-max-failures" => x.max_failures = u32::try_from(num()?).unwrap_or(u32::MAX),
        "xauth-window" => x.window = Duration::from_secs(num()?),
        "xauth-lockout" => x.lockout = Duration::from_secs(num()?),
        "xauth-lockout-max" => x.lockout_max = Duration::from_secs(num()?),
        "xauth-known-source-for" => x.known_source_for = Duration::from_secs(num()?),
        "xauth-user-max-failures" => {
            x.user_max_failures = u32::try_from(num()?).unwrap_or(u32::MAX);
        }
        "xauth-user-min-sources" => {
            x.user_min_sources = u32::try_from(num()?).unwrap_or(u32::MAX);
        }
        "xauth-user-lockout" => x.user_lockout = Duration::from_secs(num()?),
        "xauth-delay-start-ms" => x.delay_start = Duration::from_millis(num()?),
        "xauth-delay-max" => x.delay_max = Duration::from_secs(num()?),
        "log-interval" => l.log_interval = Duration::from_secs(num()?.max(1)),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The guard's limits from every `--limit` (the names that are not its own are skipped:
/// [`apply_limit`] checked them all at start).
#[must_use]
pub fn from_specs(specs: &[String]) -> GuardLimits {
    let mut l = GuardLimits::default();
    for s in specs {
        let _ = apply_limit(&mut l, s);
    }
    l
}

/// The guard's `--limit` names, for help and error texts.
pub const LIMIT_NAMES: &str = "xauth-max-failures, xauth-window, xauth-lockout, \
    xauth-lockout-max, xauth-known-source-for, \
    xauth-user-max-failures, xauth-user-min-sources, xauth-user-lockout, \
    xauth-delay-start-ms, xauth-delay-max, log-interval";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
    use super::*;

    #[test]
    fn limits_parse_and_unknown_names_fall_through() {
        let mut l = GuardLimits::default();
        assert!(apply_limit(&mut l, "xauth-max-failures=2").unwrap());
        assert!(apply_limit(&mut l, "xauth-lockout=7").unwrap());
        assert!(apply_limit(&mut l, "xauth-delay-start-ms=250").unwrap());
        assert!(apply_limit(&mut l, "log-interval=0").unwrap());
        assert_eq!(l.xauth.max_failures, 2);
        assert_eq!(l.xauth.lockout, Duration::from_secs(7));
        assert_eq!(l.xauth.delay_start, Duration::from_millis(250));
        assert_eq!(l.log_interval, Duration::from_secs(1));
        assert!(!apply_limit(&mut l, "max-sas=10").unwrap());
        assert!(apply_limit(&mut l, "xauth-window=soon").is_err());
    }

    #[test]
    fn summaries_are_one_line_per_reason_per_interval() {
        #[allow(clippy::disallowed_methods)] // the virtual clock's base
        let t0 = Instant::now();
        let mut g = Guard::new(GuardLimits::default());
        assert_eq!(g.poll_timeout(), None);
        g.something_counted(t0);
        let due = g.poll_timeout().unwrap();
        let counts = |n| vec![("isakmp", "rate_limited".to_string(), "rate".to_string(), n)];
        let first = g.summary(due, counts(1000));
        assert_eq!(first.len(), 1);
        assert!(first[0].contains("1000 dropped"), "{first:?}");
        // A flood keeps counting: the next line waits for the interval.
        g.something_counted(due);
        let next = g.poll_timeout().unwrap();
        assert_eq!(next, due + Duration::from_secs(10));
        assert!(g
            .summary(due + Duration::from_secs(1), counts(5000))
            .is_empty());
        let second = g.summary(next, counts(5000));
        assert_eq!(second.len(), 1);
        assert!(second[0].contains("4000 dropped"), "{second:?}");
        // Nothing new: no line.
        g.something_counted(next);
        let third_at = g.poll_timeout().unwrap();
        assert!(g.summary(third_at, counts(5000)).is_empty());
    }

    #[test]
    fn held_refusals_come_due_in_order_and_can_be_forgotten() {
        #[allow(clippy::disallowed_methods)] // the virtual clock's base
        let t0 = Instant::now();
        let mut g = Guard::new(GuardLimits::default());
        g.hold(t0 + Duration::from_secs(2), SaId(2));
        g.hold(t0 + Duration::from_secs(1), SaId(1));
        g.hold(t0 + Duration::from_secs(3), SaId(3));
        g.forget(SaId(3));
        assert_eq!(g.held(), 2);
        assert_eq!(g.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        assert!(g.due_refusals(t0).is_empty());
        assert_eq!(
            g.due_refusals(t0 + Duration::from_secs(5)),
            vec![SaId(1), SaId(2)]
        );
    }
}

#[cfg(test)]
mod budget_tests {
    #![allow(clippy::arithmetic_side_effects)]
    use super::*;

    #[test]
    fn single_event_lines_are_budgeted_per_interval() {
        #[allow(clippy::disallowed_methods)] // the virtual clock's base
        let t0 = Instant::now();
        let mut g = Guard::new(GuardLimits::default());
        let granted = (0..1000).filter(|_| g.line_budget(t0)).count();
        assert_eq!(granted, 10);
        assert!(!g.line_budget(t0 + Duration::from_secs(9)));
        assert!(g.line_budget(t0 + Duration::from_secs(10)));
    }
}
