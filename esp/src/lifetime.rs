//! Soft and hard SA lifetimes in seconds and kilobytes (RFC 2407 4.5 SA Life Type /
//! SA Life Duration), measured against the `now` the caller passes in.

use crate::error::{EspError, LifetimeLimit};
use std::time::{Duration, Instant};

/// Lifetime limits of one SA. `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifetimeConfig {
    /// Soft limit in time: report [`LifetimeEvent::Soft`] (time to rekey).
    pub soft_time: Option<Duration>,
    /// Hard limit in time: the SA stops working.
    pub hard_time: Option<Duration>,
    /// Soft limit in kilobytes (1024 bytes) of payload.
    pub soft_kilobytes: Option<u64>,
    /// Hard limit in kilobytes of payload.
    pub hard_kilobytes: Option<u64>,
}

impl LifetimeConfig {
    /// No limits.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Hard limits as negotiated in Quick Mode (PIX default: 28800 s, 4608000 KB),
    /// with soft limits at 90% of each, the usual rekey margin.
    pub fn from_hard(seconds: Option<u64>, kilobytes: Option<u64>) -> Self {
        LifetimeConfig {
            soft_time: seconds.map(|s| Duration::from_secs(s.saturating_sub(s / 10))),
            hard_time: seconds.map(Duration::from_secs),
            soft_kilobytes: kilobytes.map(|k| k.saturating_sub(k / 10)),
            hard_kilobytes: kilobytes,
        }
    }
}

/// A lifetime transition, reported once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeEvent {
    /// A soft limit passed: negotiate a replacement SA.
    Soft(LifetimeLimit),
    /// A hard limit passed: the SA refuses traffic from now on.
    Hard(LifetimeLimit),
}

/// Tracks one SA's age and byte count.
#[derive(Debug, Clone)]
pub struct LifetimeTracker {
    config: LifetimeConfig,
    installed: Instant,
    bytes: u64,
    soft_reported: bool,
    hard_reported: bool,
}

impl LifetimeTracker {
    /// Starts counting at `now`.
    pub fn new(config: LifetimeConfig, now: Instant) -> Self {
        LifetimeTracker {
            config,
            installed: now,
            bytes: 0,
            soft_reported: false,
            hard_reported: false,
        }
    }

    /// Payload bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// When the SA was installed.
    pub fn installed(&self) -> Instant {
        self.installed
    }

    fn over_kb(bytes: u64, limit: Option<u64>) -> bool {
        limit.is_some_and(|kb| bytes >= kb.saturating_mul(1024))
    }

    fn over_time(&self, now: Instant, limit: Option<Duration>) -> bool {
        limit.is_some_and(|d| now.saturating_duration_since(self.installed) >= d)
    }

    /// The hard limit passed at `now`, if any.
    pub fn hard_expired(&self, now: Instant) -> Option<LifetimeLimit> {
        if self.over_time(now, self.config.hard_time) {
            Some(LifetimeLimit::Seconds)
        } else if Self::over_kb(self.bytes, self.config.hard_kilobytes) {
            Some(LifetimeLimit::Kilobytes)
        } else {
            None
        }
    }

    /// The soft limit passed at `now`, if any.
    pub fn soft_expired(&self, now: Instant) -> Option<LifetimeLimit> {
        if self.over_time(now, self.config.soft_time) {
            Some(LifetimeLimit::Seconds)
        } else if Self::over_kb(self.bytes, self.config.soft_kilobytes) {
            Some(LifetimeLimit::Kilobytes)
        } else {
            None
        }
    }

    /// Errors if the hard lifetime has passed.
    pub fn check(&self, spi: u32, now: Instant) -> Result<(), EspError> {
        match self.hard_expired(now) {
            Some(limit) => Err(EspError::LifetimeExpired { spi, limit }),
            None => Ok(()),
        }
    }

    /// Adds protected payload bytes.
    pub fn add_bytes(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
    }

    /// The next unreported transition at `now`, each reported once (soft before hard).
    pub fn poll_event(&mut self, now: Instant) -> Option<LifetimeEvent> {
        if !self.soft_reported {
            if let Some(l) = self.soft_expired(now) {
                self.soft_reported = true;
                return Some(LifetimeEvent::Soft(l));
            }
        }
        if !self.hard_reported {
            if let Some(l) = self.hard_expired(now) {
                self.hard_reported = true;
                self.soft_reported = true;
                return Some(LifetimeEvent::Hard(l));
            }
        }
        None
    }

    /// The next time-based deadline not yet reported, for the caller's timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let soft = (!self.soft_reported)
            .then_some(self.config.soft_time)
            .flatten();
        let hard = (!self.hard_reported)
            .then_some(self.config.hard_time)
            .flatten();
        [soft, hard]
            .into_iter()
            .flatten()
            .filter_map(|d| self.installed.checked_add(d))
            .min()
    }
}
