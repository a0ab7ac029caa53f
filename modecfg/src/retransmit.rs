//! Retransmission with exponential backoff for the side that sends first (the push
//! server's SET, the pull client's REQUEST), driven by `now` values the caller passes in.

use std::time::{Duration, Instant};

/// How often and how long to resend an unanswered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    /// Wait before the first resend.
    pub initial: Duration,
    /// Resends before giving up.
    pub max_retries: u32,
    /// Cap on the doubling wait.
    pub max_interval: Duration,
}

impl Default for RetransmitConfig {
    /// 2 s, doubling, 4 resends: the dialogue fails 62 s after the first send.
    fn default() -> Self {
        RetransmitConfig {
            initial: Duration::from_secs(2),
            max_retries: 4,
            max_interval: Duration::from_secs(32),
        }
    }
}

/// What a timeout means for the outstanding message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tick {
    /// Not due yet.
    Wait,
    /// Send it again.
    Resend,
    /// Out of retries: the dialogue failed.
    GiveUp,
}

/// The retransmission timer of one outstanding message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retransmitter {
    deadline: Instant,
    interval: Duration,
    left: u32,
    max_interval: Duration,
}

impl Retransmitter {
    pub(crate) fn start(now: Instant, cfg: RetransmitConfig) -> Self {
        Retransmitter {
            deadline: now.checked_add(cfg.initial).unwrap_or(now),
            interval: cfg.initial,
            left: cfg.max_retries,
            max_interval: cfg.max_interval,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> Tick {
        if now < self.deadline {
            return Tick::Wait;
        }
        if self.left == 0 {
            return Tick::GiveUp;
        }
        self.left = self.left.saturating_sub(1);
        self.interval = self
            .interval
            .checked_mul(2)
            .unwrap_or(self.max_interval)
            .min(self.max_interval);
        self.deadline = now.checked_add(self.interval).unwrap_or(now);
        Tick::Resend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_gives_up() {
        #[allow(clippy::disallowed_methods)]
        let t = Instant::now();
        let cfg = RetransmitConfig {
            initial: Duration::from_secs(1),
            max_retries: 3,
            max_interval: Duration::from_secs(3),
        };
        let mut r = Retransmitter::start(t, cfg);
        assert_eq!(r.deadline(), t + Duration::from_secs(1));
        assert_eq!(r.on_timeout(t), Tick::Wait);
        let t1 = t + Duration::from_secs(1);
        assert_eq!(r.on_timeout(t1), Tick::Resend);
        assert_eq!(r.deadline(), t1 + Duration::from_secs(2));
        let t2 = r.deadline();
        assert_eq!(r.on_timeout(t2), Tick::Resend);
        assert_eq!(r.deadline(), t2 + Duration::from_secs(3)); // capped
        let t3 = r.deadline();
        assert_eq!(r.on_timeout(t3), Tick::Resend);
        let t4 = r.deadline();
        assert_eq!(r.on_timeout(t4), Tick::GiveUp);
    }
}
