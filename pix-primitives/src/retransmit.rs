//! The one retransmission model of IKE, Xauth and Mode Config: send, wait, resend with
//! the wait doubled up to a cap, give up after a number of sends.
//!
//! [`Backoff`] is the schedule (configuration); [`Retransmit`] is the state of one
//! outstanding message. Time is passed in as [`Instant`] values; nothing here reads a
//! clock. A plain timeout (Xauth's wait for a reply) is the schedule with one send:
//! [`Backoff::once`].

use std::time::{Duration, Instant};

/// A retransmission schedule: wait `initial` after the first send, double the wait after
/// every resend up to `max_interval`, and give up when `max_sends` sends (the first one
/// included) have gone unanswered for their wait.
///
/// With the default (2 s, cap 32 s, 5 sends) the waits are 2, 4, 8, 16 and 32 s: the
/// exchange fails 62 s after the first send, as on a PIX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first send.
    pub initial: Duration,
    /// Cap on the doubling wait.
    pub max_interval: Duration,
    /// Sends in all, the first one included (0 is taken as 1).
    pub max_sends: u8,
}

impl Default for Backoff {
    /// 2 s, doubling up to 32 s, 5 sends (62 s in all).
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(2),
            max_interval: Duration::from_secs(32),
            max_sends: 5,
        }
    }
}

impl Backoff {
    /// A schedule of one send and no resend: a plain timeout of `timeout`.
    #[must_use]
    pub const fn once(timeout: Duration) -> Self {
        Backoff {
            initial: timeout,
            max_interval: timeout,
            max_sends: 1,
        }
    }

    /// The same schedule with at most `max_sends` sends (never more than this one has).
    #[must_use]
    pub fn with_max_sends(self, max_sends: u8) -> Self {
        Backoff {
            max_sends: max_sends.min(self.max_sends),
            ..self
        }
    }

    /// Sends in all (at least one).
    #[must_use]
    pub fn sends(&self) -> u8 {
        self.max_sends.max(1)
    }

    /// The wait after send number `n` (1 is the first send): `initial` doubled `n - 1`
    /// times, capped at `max_interval` (and never shorter than `initial`).
    #[must_use]
    pub fn interval(&self, n: u8) -> Duration {
        let cap = self.max_interval.max(self.initial);
        let mut wait = self.initial;
        for _ in 1..n {
            if wait >= cap {
                break;
            }
            wait = wait.saturating_mul(2);
        }
        wait.min(cap)
    }

    /// The time from the first send to giving up: the sum of every wait.
    #[must_use]
    pub fn total(&self) -> Duration {
        (1..=self.sends()).fold(Duration::ZERO, |t, n| t.saturating_add(self.interval(n)))
    }
}

/// What a timeout means for the outstanding message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not due (or nothing outstanding): nothing to do.
    NotYet,
    /// Send the message again (the same bytes).
    Resend,
    /// Every send went unanswered: the exchange failed. The timer has stopped.
    GiveUp,
}

/// The retransmission timer of one outstanding message.
///
/// ```
/// use std::time::{Duration, Instant};
/// use pix_primitives::retransmit::{Action, Backoff, Retransmit};
///
/// # #[allow(clippy::disallowed_methods)]
/// let t0 = Instant::now(); // a driver's clock; libraries get `now` passed in
/// let mut r = Retransmit::new(Backoff {
///     initial: Duration::from_secs(1),
///     max_interval: Duration::from_secs(2),
///     max_sends: 3,
/// });
/// r.start(t0);
/// assert_eq!(r.on_timeout(t0), Action::NotYet);
/// let t1 = r.deadline().unwrap(); // t0 + 1 s
/// assert_eq!(r.on_timeout(t1), Action::Resend);
/// let t2 = r.deadline().unwrap(); // t1 + 2 s
/// assert_eq!(r.on_timeout(t2), Action::Resend);
/// let t3 = r.deadline().unwrap(); // t2 + 2 s (capped)
/// assert_eq!(r.on_timeout(t3), Action::GiveUp);
/// assert_eq!((r.deadline(), r.sends()), (None, 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit {
    backoff: Backoff,
    deadline: Option<Instant>,
    sends: u8,
}

impl Retransmit {
    /// A stopped timer on `backoff`'s schedule.
    #[must_use]
    pub const fn new(backoff: Backoff) -> Self {
        Retransmit {
            backoff,
            deadline: None,
            sends: 0,
        }
    }

    /// A timer started at `now` (the first send).
    #[must_use]
    pub fn started(backoff: Backoff, now: Instant) -> Self {
        let mut r = Self::new(backoff);
        r.start(now);
        r
    }

    /// A plain timeout: `wait` from `now` ([`Backoff::once`]); `None` is a timer that
    /// never fires (no deadline, never [`Action::GiveUp`]).
    #[must_use]
    pub fn timeout(wait: Option<Duration>, now: Instant) -> Self {
        match wait {
            Some(w) => Self::started(Backoff::once(w), now),
            None => Self::new(Backoff::once(Duration::ZERO)),
        }
    }

    /// The first send went out at `now`: the timer runs from there (restarting it if
    /// it was running).
    pub fn start(&mut self, now: Instant) {
        self.sends = 1;
        self.deadline = now.checked_add(self.backoff.interval(1));
    }

    /// The schedule.
    #[must_use]
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Allows at most `max_sends` sends in all from now on (e.g. a first reply to an
    /// unproven address is resent fewer times). Never raises the limit.
    pub fn limit_sends(&mut self, max_sends: u8) {
        self.backoff = self.backoff.with_max_sends(max_sends);
    }

    /// When [`Retransmit::on_timeout`] next has something to do; `None` when stopped
    /// (or when the wait ends past what an `Instant` can hold: a wait of
    /// `Duration::MAX` is a wait without end, never one that ends at once).
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the timer is running (a message is outstanding).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.deadline.is_some()
    }

    /// Sends so far (the first one included); 0 before [`Retransmit::start`].
    #[must_use]
    pub fn sends(&self) -> u8 {
        self.sends
    }

    /// The answer came (or the exchange was abandoned): stop the timer.
    pub fn stop(&mut self) {
        self.deadline = None;
    }

    /// What to do at `now`: [`Action::NotYet`] before the deadline or when stopped;
    /// [`Action::Resend`] (and the next, doubled, deadline) while sends remain;
    /// [`Action::GiveUp`] (and the timer stops) after the last send's wait.
    pub fn on_timeout(&mut self, now: Instant) -> Action {
        match self.deadline {
            Some(d) if now >= d => {}
            _ => return Action::NotYet,
        }
        if self.sends >= self.backoff.sends() {
            self.deadline = None;
            return Action::GiveUp;
        }
        self.sends = self.sends.saturating_add(1);
        self.deadline = now.checked_add(self.backoff.interval(self.sends));
        Action::Resend
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
    use super::*;

    fn t0() -> Instant {
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    #[test]
    fn backs_off_caps_then_gives_up() {
        let t = t0();
        let b = Backoff {
            initial: Duration::from_secs(1),
            max_interval: Duration::from_secs(3),
            max_sends: 4,
        };
        let mut r = Retransmit::started(b, t);
        assert_eq!(r.sends(), 1);
        assert_eq!(r.deadline(), Some(t + Duration::from_secs(1)));
        assert_eq!(r.on_timeout(t), Action::NotYet);
        let t1 = t + Duration::from_secs(1);
        assert_eq!(r.on_timeout(t1), Action::Resend);
        assert_eq!(r.deadline(), Some(t1 + Duration::from_secs(2)));
        let t2 = r.deadline().unwrap();
        assert_eq!(r.on_timeout(t2), Action::Resend);
        assert_eq!(r.deadline(), Some(t2 + Duration::from_secs(3))); // capped
        let t3 = r.deadline().unwrap();
        assert_eq!(r.on_timeout(t3), Action::Resend);
        assert_eq!(r.sends(), 4);
        let t4 = r.deadline().unwrap();
        assert_eq!(r.on_timeout(t4 - Duration::from_millis(1)), Action::NotYet);
        assert_eq!(r.on_timeout(t4), Action::GiveUp);
        assert_eq!(r.deadline(), None);
        assert_eq!(r.on_timeout(t4 + Duration::from_secs(100)), Action::NotYet);
    }

    #[test]
    fn default_schedule_is_the_pix_one() {
        let b = Backoff::default();
        let waits: Vec<u64> = (1..=b.sends()).map(|n| b.interval(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32]);
        assert_eq!(b.total(), Duration::from_secs(62));
    }

    #[test]
    fn a_wait_past_the_end_of_time_never_ends() {
        let t = t0();
        let mut r = Retransmit::started(Backoff::once(Duration::MAX), t);
        assert_eq!(r.deadline(), None);
        assert_eq!(
            r.on_timeout(t + Duration::from_secs(1 << 40)),
            Action::NotYet
        );
        assert_eq!(r.sends(), 1);
    }

    #[test]
    fn once_is_a_plain_timeout() {
        let t = t0();
        let mut r = Retransmit::started(Backoff::once(Duration::from_secs(30)), t);
        assert_eq!(r.on_timeout(t + Duration::from_secs(29)), Action::NotYet);
        assert_eq!(r.on_timeout(t + Duration::from_secs(30)), Action::GiveUp);
        assert_eq!(Backoff::once(Duration::from_secs(30)).total().as_secs(), 30);
        let mut t30 = Retransmit::timeout(Some(Duration::from_secs(30)), t);
        assert_eq!(t30.deadline(), Some(t + Duration::from_secs(30)));
        assert_eq!(t30.on_timeout(t + Duration::from_secs(30)), Action::GiveUp);
        let mut never = Retransmit::timeout(None, t);
        assert_eq!(never.deadline(), None);
        assert_eq!(
            never.on_timeout(t + Duration::from_secs(1 << 30)),
            Action::NotYet
        );
    }

    #[test]
    fn stop_limit_and_restart() {
        let t = t0();
        let mut r = Retransmit::new(Backoff::default());
        assert!(!r.is_running());
        assert_eq!(r.on_timeout(t + Duration::from_secs(1000)), Action::NotYet);
        r.start(t);
        r.limit_sends(2);
        let d = r.deadline().unwrap();
        assert_eq!(r.on_timeout(d), Action::Resend);
        let d = r.deadline().unwrap();
        assert_eq!(r.on_timeout(d), Action::GiveUp);
        r.limit_sends(200); // never raises
        assert_eq!(r.backoff().max_sends, 2);
        r.start(t);
        assert!(r.is_running());
        r.stop();
        assert_eq!(r.on_timeout(t + Duration::from_secs(1000)), Action::NotYet);
        let zero = Backoff {
            max_sends: 0,
            ..Backoff::default()
        };
        let mut z = Retransmit::started(zero, t);
        assert_eq!(z.on_timeout(t + Duration::from_secs(2)), Action::GiveUp);
    }
}
