//! The Xauth guessing throttle: the rules of `xauth::throttle` as unit tests and as
//! properties over random schedules of logins (several users and sources, verdicts
//! arriving late, time moving on).
#![allow(
    clippy::disallowed_methods,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // tests use a fixed clock origin and may panic

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use xauth::throttle::{Reason, Scope, Throttle, ThrottleConfig, Throttled};

fn ip(n: u32) -> IpAddr {
    IpAddr::from(std::net::Ipv4Addr::from(0xc633_6400 + n)) // 198.51.100.n
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// One failed login that reached the AAA server, or the refusal.
fn fail(th: &mut Throttle, now: Instant, user: &[u8], src: IpAddr) -> Result<Duration, Throttled> {
    th.check(now, user, src)?;
    Ok(th.record(now, user, src, false).refusal_delay)
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = ThrottleConfig::default();
    assert_eq!(
        (c.max_failures, c.window, c.lockout),
        (5, secs(60), secs(120))
    );
    assert_eq!(
        (c.user_max_failures, c.user_min_sources, c.user_lockout),
        (15, 3, secs(120))
    );
    assert_eq!((c.delay_start, c.delay_max), (secs(1), secs(8)));
    assert_eq!(
        (c.lockout_max, c.known_source_for),
        (secs(3600), secs(86_400))
    );
    assert_eq!(c.max_entries, 4096);
}

#[test]
fn pair_lockout_refuses_without_aaa_then_the_right_password_works() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    let delays: Vec<_> = (0..5)
        .map(|_| fail(&mut th, t0, b"bob", ip(1)).unwrap())
        .collect();
    assert_eq!(delays, [0, 1, 2, 4, 8].map(secs));
    let e = th.check(t0, b"bob", ip(1)).unwrap_err();
    assert_eq!(
        e,
        Throttled {
            scope: Scope::UserSource,
            reason: Reason::LockedOut,
            until: t0 + secs(120),
            refusal_delay: secs(8),
        }
    );
    assert_eq!(e.to_string(), "locked out (user from this address)");
    // Still locked a moment before the end, whatever is tried.
    assert!(th.check(t0 + secs(119), b"bob", ip(1)).is_err());
    let s = th.stats();
    assert_eq!((s.lockouts_user_source, s.refused_user_source), (1, 2));
    assert_eq!((s.lockouts_user, s.refused_user, s.failures), (0, 0, 5));
    // Another user from that address, and bob from another address: not locked.
    assert!(th.check(t0, b"alice", ip(1)).is_ok());
    assert!(th.check(t0, b"bob", ip(2)).is_ok());
    // When the lockout ends the right password works and clears the entry.
    let t1 = t0 + secs(120);
    th.check(t1, b"bob", ip(1)).unwrap();
    let r = th.record(t1, b"bob", ip(1), true);
    assert_eq!((r.refusal_delay, r.locked), (Duration::ZERO, None));
    // A fresh count: the next failure is a first one (no delay).
    assert_eq!(fail(&mut th, t1, b"bob", ip(1)), Ok(Duration::ZERO));
}

#[test]
fn success_clears_the_pair_and_windows_expire() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    for _ in 0..4 {
        fail(&mut th, t0, b"bob", ip(1)).unwrap();
    }
    th.check(t0, b"bob", ip(1)).unwrap();
    th.record(t0, b"bob", ip(1), true);
    for want in [0, 1, 2, 4] {
        assert_eq!(fail(&mut th, t0, b"bob", ip(1)), Ok(secs(want)));
    }
    // Four failures, then the window passes: counting starts again.
    let t1 = t0 + secs(60);
    assert_eq!(fail(&mut th, t1, b"bob", ip(1)), Ok(Duration::ZERO));
    for _ in 0..3 {
        fail(&mut th, t1, b"bob", ip(1)).unwrap();
    }
    assert!(th.check(t1, b"bob", ip(1)).is_ok(), "4 failures: not yet");
}

#[test]
fn parallel_logins_reach_aaa_at_most_max_failures_times() {
    // The guesser opens 50 IKE SAs and sends all 50 passwords before any verdict.
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    let granted = (0..50)
        .filter(|_| th.check(t0, b"victim", ip(9)).is_ok())
        .count();
    assert_eq!(granted, 5);
    let e = th.check(t0, b"victim", ip(9)).unwrap_err();
    assert_eq!((e.scope, e.reason), (Scope::UserSource, Reason::InFlight));
    let mut locked = None;
    for _ in 0..5 {
        locked = th.record(t0, b"victim", ip(9), false).locked.or(locked);
    }
    assert_eq!(locked.map(|l| l.scope), Some(Scope::UserSource));
    assert_eq!(th.stats().refused_in_flight, 46);
    // The victim from home is not affected.
    assert!(th.check(t0, b"victim", ip(10)).is_ok());
}

#[test]
fn in_flight_attempts_end_by_abandon_or_after_the_window() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    for _ in 0..5 {
        th.check(t0, b"u", ip(1)).unwrap();
    }
    assert!(th.check(t0, b"u", ip(1)).is_err());
    th.abandon(t0, b"u", ip(1));
    assert!(th.check(t0, b"u", ip(1)).is_ok());
    assert!(th.check(t0, b"u", ip(1)).is_err());
    // Never reported: forgotten after the window.
    assert!(th.check(t0 + secs(60), b"u", ip(1)).is_ok());
    // Abandoning everything leaves no entry behind.
    let mut th = Throttle::new(ThrottleConfig::default());
    th.check(t0, b"u", ip(1)).unwrap();
    assert_eq!(th.len(), (1, 1));
    th.abandon(t0, b"u", ip(1));
    assert!(th.is_empty());
}

#[test]
fn one_address_never_locks_a_user_out_everywhere() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    // Hours of guessing from one address, as fast as the throttle lets it.
    let mut now = t0;
    let mut reached_aaa = 0;
    for _ in 0..10_000 {
        if fail(&mut th, now, b"bob", ip(66)).is_ok() {
            reached_aaa += 1;
        }
        assert!(
            th.check(now, b"bob", ip(1)).is_ok(),
            "bob from home at {:?}",
            now - t0
        );
        th.abandon(now, b"bob", ip(1));
        now += secs(1);
    }
    assert_eq!(th.stats().lockouts_user, 0);
    // 5 per lockout cycle; the lockouts escalate 120, 240, 480, 960, 1920, 3600,
    // 3600 s: 7 cycles start within 10,000 s (a few seconds each to fail 5 times).
    assert_eq!(reached_aaa, 5 * 7, "{reached_aaa}");
}

#[test]
fn failures_from_several_addresses_lock_the_user_everywhere() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    // Two addresses, 5 failures each: pairs locked, the user is not.
    for src in [ip(1), ip(2)] {
        for _ in 0..5 {
            fail(&mut th, t0, b"bob", src).unwrap();
        }
    }
    assert!(th.check(t0, b"bob", ip(3)).is_ok());
    th.abandon(t0, b"bob", ip(3));
    // A third address brings the user to 15 failures from 3 addresses.
    for i in 0..5 {
        th.check(t0, b"bob", ip(3)).unwrap();
        let r = th.record(t0, b"bob", ip(3), false);
        let scope = r.locked.map(|l| l.scope);
        assert_eq!(scope, (i == 4).then_some(Scope::User), "failure {i}");
    }
    let e = th.check(t0 + secs(1), b"bob", ip(200)).unwrap_err();
    assert_eq!(
        (e.scope, e.reason, e.until),
        (Scope::User, Reason::LockedOut, t0 + secs(120))
    );
    assert_eq!(e.remaining(t0 + secs(20)), secs(100));
    assert_eq!(th.stats().lockouts_user, 1);
    assert_eq!(th.stats().refused_user, 1);
    // Other users are not affected; bob works again when the lockout ends.
    assert!(th.check(t0, b"alice", ip(1)).is_ok());
    th.check(t0 + secs(120), b"bob", ip(200)).unwrap();
    th.record(t0 + secs(120), b"bob", ip(200), true);
}

#[test]
fn the_user_threshold_never_falls_to_what_one_address_can_reach() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig {
        user_max_failures: 1,
        user_min_sources: 1,
        ..ThrottleConfig::default()
    });
    // One address: 5 failures and 0 in flight, or fewer failures and the rest in
    // flight; the user stays open from elsewhere.
    for _ in 0..3 {
        fail(&mut th, t0, b"bob", ip(1)).unwrap();
    }
    th.check(t0, b"bob", ip(1)).unwrap();
    th.check(t0, b"bob", ip(1)).unwrap();
    assert!(th.check(t0, b"bob", ip(2)).is_ok());
    // Two addresses are enough with user_min_sources at its floor of 2, once the
    // (raised) threshold of 11 is reached.
    let mut th = Throttle::new(ThrottleConfig {
        user_max_failures: 1,
        user_min_sources: 1,
        ..ThrottleConfig::default()
    });
    for src in [ip(1), ip(2), ip(3)] {
        for _ in 0..5 {
            let _ = fail(&mut th, t0, b"bob", src);
        }
    }
    assert_eq!(th.stats().lockouts_user, 1);
    assert_eq!(th.check(t0, b"bob", ip(4)).unwrap_err().scope, Scope::User);
}

#[test]
fn zero_max_failures_turns_the_throttle_off() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig {
        max_failures: 0,
        ..ThrottleConfig::default()
    });
    for _ in 0..100 {
        assert_eq!(fail(&mut th, t0, b"bob", ip(1)), Ok(Duration::ZERO));
    }
    assert!(th.is_empty());
}

#[test]
fn tables_are_bounded_and_keep_locked_entries_longest() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig {
        max_entries: 64,
        ..ThrottleConfig::default()
    });
    for _ in 0..5 {
        fail(&mut th, t0, b"victim-pair", ip(7)).unwrap();
    }
    // 20,000 other names and addresses, one failure each.
    for i in 0..20_000u32 {
        let _ = fail(
            &mut th,
            t0 + Duration::from_millis(1),
            &i.to_be_bytes(),
            ip(i),
        );
        let (pairs, users) = th.len();
        assert!(pairs <= 64 && users <= 64, "{pairs} {users} at {i}");
    }
    let s = th.stats();
    assert_eq!((s.pair_entries, s.user_entries), (64, 64));
    assert!(s.evicted >= 2 * (20_000 - 64), "{s:?}");
    // The lockout survived the churn (locked entries are moved back, not forgotten).
    let e = th.check(t0 + secs(1), b"victim-pair", ip(7)).unwrap_err();
    assert_eq!(e.scope, Scope::UserSource);
}

#[test]
fn long_user_names_are_keyed_in_bounded_space() {
    let t0 = Instant::now();
    let mut th = Throttle::new(ThrottleConfig::default());
    let long = vec![b'a'; 100_000];
    let exactly = vec![b'a'; xauth::throttle::MAX_USER_KEY];
    for _ in 0..5 {
        fail(&mut th, t0, &long, ip(1)).unwrap();
    }
    assert!(th.check(t0, &long, ip(1)).is_err());
    // A longer name with the same first 256 bytes shares the entry, a name of
    // exactly 256 bytes does not.
    let mut longer = long.clone();
    longer.push(b'b');
    assert!(th.check(t0, &longer, ip(1)).is_err());
    assert!(th.check(t0, &exactly, ip(1)).is_ok());
}

/// One step of a random schedule.
#[derive(Debug, Clone)]
enum Op {
    /// A login of user `u` from source `s`: `ok` is the AAA verdict, which comes
    /// `lag` ms later; `abandon` means the dialogue dies instead.
    Login {
        u: u8,
        s: u8,
        ok: bool,
        abandon: bool,
        lag: u16,
    },
    /// Time passes.
    Wait(u32),
}

fn op(users: u8, sources: u8) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..users, 0..sources, prop::bool::weighted(0.1), prop::bool::weighted(0.05), 0u16..6000)
            .prop_map(|(u, s, ok, abandon, lag)| Op::Login { u, s, ok, abandon, lag }),
        1 => (0u32..200_000).prop_map(Op::Wait),
    ]
}

/// What the schedule did, for the properties.
#[derive(Default)]
struct Trace {
    /// Granted checks that failed: (user, source) -> check times.
    granted_failures: BTreeMap<(u8, u8), Vec<Instant>>,
    /// Recorded failures: user -> (time, source).
    failures: BTreeMap<u8, Vec<(Instant, u8)>>,
    /// Refusals: (time, user, source, refusal).
    refusals: Vec<(Instant, u8, u8, Throttled)>,
}

fn run(cfg: &ThrottleConfig, ops: &[Op]) -> (Throttle, Trace, Instant) {
    let t0 = Instant::now();
    let mut th = Throttle::new(cfg.clone());
    let mut now = t0;
    // Verdicts due: (due, seq) -> (u, s, ok, abandon).
    let mut due: BTreeMap<(Instant, usize), (u8, u8, bool, bool)> = BTreeMap::new();
    let mut tr = Trace::default();
    let deliver = |th: &mut Throttle,
                   tr: &mut Trace,
                   due: &mut BTreeMap<(Instant, usize), (u8, u8, bool, bool)>,
                   until: Instant| {
        while let Some((&(at, seq), _)) = due.first_key_value() {
            if at > until {
                break;
            }
            let (u, s, ok, abandon) = due.remove(&(at, seq)).unwrap();
            if abandon {
                th.abandon(at, &[u], ip(u32::from(s)));
            } else {
                th.record(at, &[u], ip(u32::from(s)), ok);
                if !ok {
                    tr.failures.entry(u).or_default().push((at, s));
                }
            }
        }
    };
    for (i, o) in ops.iter().enumerate() {
        match *o {
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                deliver(&mut th, &mut tr, &mut due, now);
            }
            Op::Login {
                u,
                s,
                ok,
                abandon,
                lag,
            } => {
                match th.check(now, &[u], ip(u32::from(s))) {
                    Ok(()) => {
                        if !ok && !abandon {
                            tr.granted_failures.entry((u, s)).or_default().push(now);
                        }
                        let at = now + Duration::from_millis(u64::from(lag));
                        due.insert((at, i), (u, s, ok, abandon));
                    }
                    Err(e) => tr.refusals.push((now, u, s, e)),
                }
                now += Duration::from_millis(1);
                deliver(&mut th, &mut tr, &mut due, now);
            }
        }
    }
    let end = due.last_key_value().map_or(now, |(k, _)| k.0.max(now));
    deliver(&mut th, &mut tr, &mut due, end);
    (th, tr, end)
}

fn small_cfg() -> ThrottleConfig {
    ThrottleConfig {
        max_failures: 3,
        window: secs(30),
        lockout: secs(60),
        // No escalation and no known addresses: the properties below are about the
        // counting rules (escalation and known addresses have their own tests).
        lockout_max: secs(60),
        known_source_for: secs(0),
        user_max_failures: 7,
        user_min_sources: 3,
        user_lockout: secs(90),
        delay_start: secs(1),
        delay_max: secs(4),
        max_entries: 8,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A schedule from one source never refuses the same users from another one.
    #[test]
    fn one_source_never_shuts_out_another(ops in prop::collection::vec(op(3, 1), 0..300)) {
        let cfg = small_cfg();
        let (mut th, tr, end) = run(&cfg, &ops);
        prop_assert!(tr.refusals.iter().all(|r| r.3.scope == Scope::UserSource), "{:?}", tr.refusals);
        prop_assert_eq!(th.stats().lockouts_user, 0);
        for u in 0..3u8 {
            prop_assert!(th.check(end, &[u], ip(200)).is_ok());
        }
    }

    /// Failures that reach the AAA server per (user, source) stay within
    /// `max_failures` per window (twice that across a window boundary), verdicts
    /// late or not.
    #[test]
    fn aaa_sees_a_handful_per_window(ops in prop::collection::vec(op(2, 3), 0..400)) {
        let cfg = small_cfg();
        let (_, tr, _) = run(&cfg, &ops);
        let cap = 2 * cfg.max_failures as usize;
        for (k, times) in &tr.granted_failures {
            for (i, t) in times.iter().enumerate() {
                let n = times[i..].iter().take_while(|x| **x < *t + cfg.window).count();
                prop_assert!(n <= cap, "{:?}: {} granted failures in a window from {:?}", k, n, i);
            }
        }
    }

    /// A user-wide refusal only follows failures from at least `user_min_sources`
    /// different addresses (within a window before the lockout started), and
    /// refusals always name a moment in the future.
    #[test]
    fn user_lockouts_need_several_sources(ops in prop::collection::vec(op(2, 5), 0..400)) {
        let cfg = small_cfg();
        let (_, tr, _) = run(&cfg, &ops);
        for (now, u, _, e) in &tr.refusals {
            prop_assert!(e.until > *now);
            if e.scope == Scope::User && e.reason == Reason::LockedOut {
                let from = e.until - cfg.user_lockout - cfg.window;
                let sources: BTreeSet<u8> = tr.failures[u]
                    .iter()
                    .filter(|(t, _)| *t >= from && *t <= *now)
                    .map(|(_, s)| *s)
                    .collect();
                prop_assert!(sources.len() >= 3, "user {} locked with sources {:?}", u, sources);
            }
        }
    }

    /// Nothing is locked for ever: once the longest lockout and a window have
    /// passed, every user logs in from every address; the tables stay bounded.
    #[test]
    fn every_lockout_ends_and_tables_stay_bounded(ops in prop::collection::vec(op(12, 12), 0..400)) {
        let cfg = small_cfg();
        let (mut th, _, end) = run(&cfg, &ops);
        let (pairs, users) = th.len();
        prop_assert!(pairs <= cfg.max_entries && users <= cfg.max_entries);
        let later = end + cfg.user_lockout + cfg.window;
        for u in 0..12u8 {
            for s in 0..12u8 {
                prop_assert!(th.check(later, &[u], ip(u32::from(s))).is_ok(), "{} {}", u, s);
                th.record(later, &[u], ip(u32::from(s)), true);
            }
        }
    }
}

#[test]
fn a_patient_guesser_is_locked_out_longer_each_time_until_a_success() {
    let t0 = Instant::now();
    let c = ThrottleConfig::default();
    let mut th = Throttle::new(c.clone());
    let mut now = t0;
    let mut lockouts = Vec::new();
    for _ in 0..7 {
        // max_failures guesses, then the lockout: how long it lasts.
        let mut last = None;
        for _ in 0..c.max_failures {
            th.check(now, b"bob", ip(9)).unwrap();
            last = th.record(now, b"bob", ip(9), false).locked;
        }
        let until = last.expect("locked after max_failures").until;
        lockouts.push(until - now);
        assert!(th.check(until - secs(1), b"bob", ip(9)).is_err());
        now = until;
    }
    assert_eq!(
        lockouts,
        [120, 240, 480, 960, 1920, 3600, 3600].map(secs).to_vec()
    );
    // The right password after the lockout resets the escalation.
    th.check(now, b"bob", ip(9)).unwrap();
    th.record(now, b"bob", ip(9), true);
    for _ in 0..c.max_failures {
        th.check(now, b"bob", ip(9)).unwrap();
        th.record(now, b"bob", ip(9), false);
    }
    assert_eq!(
        th.check(now, b"bob", ip(9)).unwrap_err().until,
        now + c.lockout
    );
}

#[test]
fn an_address_the_user_logged_in_from_is_exempt_from_the_user_lockout() {
    let t0 = Instant::now();
    let c = ThrottleConfig::default();
    let mut th = Throttle::new(c.clone());
    // The real user logs in from home.
    th.check(t0, b"alice", ip(1)).unwrap();
    th.record(t0, b"alice", ip(1), true);
    // Guessers on three other addresses lock alice out user-wide.
    let t1 = t0 + secs(3600);
    for src in [ip(20), ip(21), ip(22), ip(23)] {
        for _ in 0..c.max_failures {
            let _ = fail(&mut th, t1, b"alice", src);
        }
    }
    assert_eq!(th.stats().lockouts_user, 1);
    assert_eq!(
        th.check(t1, b"alice", ip(50)).unwrap_err().scope,
        Scope::User
    );
    // From home she still gets to the AAA server.
    th.check(t1, b"alice", ip(1)).unwrap();
    th.record(t1, b"alice", ip(1), true);
    // A day later home is no longer known (no login meanwhile): the lockout applies.
    let mut th2 = Throttle::new(c.clone());
    th2.check(t0, b"alice", ip(1)).unwrap();
    th2.record(t0, b"alice", ip(1), true);
    let t2 = t0 + c.known_source_for + secs(1);
    for src in [ip(20), ip(21), ip(22), ip(23)] {
        for _ in 0..c.max_failures {
            let _ = fail(&mut th2, t2, b"alice", src);
        }
    }
    assert_eq!(
        th2.check(t2, b"alice", ip(1)).unwrap_err().scope,
        Scope::User
    );
}
