//! The endpoint's timers: the deadline index ([`Endpoint::poll_timeout`]), filing an
//! SA's deadlines, and acting on the ones due ([`Endpoint::handle_timeout`]).

use super::sa::{IkeSa, Timer};
use super::Endpoint;
use crate::event::{DebugEvent, FailReason, SaId};
use core::ops::ControlFlow;
use pix_primitives::retransmit::Action;
use rand_core::CryptoRng;
use std::time::{Duration, Instant};

impl Endpoint {
    /// The earliest deadline; call [`Endpoint::handle_timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = self.timers.first().map(|(t, _)| *t);
        // Every test run (debug builds) checks the index against a pass over every SA.
        debug_assert_eq!(
            first,
            self.sas.values().filter_map(|s| s.next_deadline()).min(),
            "timer index out of date"
        );
        debug_assert_eq!(
            self.timers.len(),
            self.sas
                .values()
                .filter(|s| s.next_deadline().is_some())
                .count(),
            "timer index out of date"
        );
        debug_assert!(
            self.peers.len() == self.sas.len()
                && self
                    .sas
                    .values()
                    .all(|s| self.peers.contains(&(s.remote.ip(), s.id))),
            "peer index out of date"
        );
        first
    }

    /// Files `sa` in [`Endpoint::timers`] under its current next deadline, and in
    /// [`Endpoint::peers`] under its peer's current address (each a no-op when that did
    /// not change). Every path that puts an SA back into `sas` calls it.
    pub(crate) fn file_timer(&mut self, sa: &mut IkeSa) {
        sa.release_empty();
        let peer = sa.remote.ip();
        if sa.filed_peer != Some(peer) {
            if let Some(old) = sa.filed_peer.take() {
                self.peers.remove(&(old, sa.id));
            }
            self.peers.insert((peer, sa.id));
            sa.filed_peer = Some(peer);
        }
        let due = sa.next_deadline();
        if due != sa.filed_deadline {
            if let Some(old) = sa.filed_deadline.take() {
                self.timers.remove(&(old, sa.id));
            }
            if let Some(new) = due {
                self.timers.insert((new, sa.id));
            }
            sa.filed_deadline = due;
        }
    }

    /// Re-files the timers of an SA changed in place in `sas`.
    pub(crate) fn refile_timer(&mut self, id: SaId) {
        if let Some(mut sa) = self.sas.remove(&id) {
            self.file_timer(&mut sa);
            self.sas.insert(id, sa);
        }
    }

    /// Drives timers: retransmissions, half-open expiry, Xauth/Mode Config timeouts, DPD,
    /// lifetimes.
    pub fn handle_timeout<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        // Only the SAs that are due: every timed action of `timeout_sa` is one of the
        // deadlines `IkeSa::next_deadline` files.
        let ids: Vec<SaId> = self
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            let Some(mut sa) = self.sas.remove(&id) else {
                continue;
            };
            self.timeout_sa(&mut sa, now, rng);
            self.put_back(sa, now);
        }
        // A key pair reused under pressure is let go once its window passed, even when no
        // new negotiation comes (the SAs still using it keep it until they go).
        let window = self.config.limits.dh_reuse_window;
        self.half_open.expire_key_pairs(now, window);
        self.finish_rekeys(now, rng);
    }

    /// How long what is kept for the peer's retransmissions stays after an SA's last
    /// activity: our own full retransmission schedule
    /// ([`crate::Limits::retransmit_backoff`]: 2 + 4 + 8 + 16 + 32 = 62 s by default), the
    /// time a peer on the same schedule goes on retransmitting its last message.
    pub(crate) fn settle_window(&self) -> Duration {
        let total = self.config.limits.retransmit_backoff().total();
        total.max(Duration::from_secs(1))
    }

    /// Acts on the timers of `sa` that are due at `now` ([`IkeSa::due`]), in order; a
    /// timer that ends the SA ends the pass.
    fn timeout_sa<R: CryptoRng + ?Sized>(&mut self, sa: &mut IkeSa, now: Instant, rng: &mut R) {
        // Taken before acting: what one timer's action schedules waits for the next pass.
        for timer in sa.due(now) {
            match timer {
                Timer::Settle => {
                    sa.timers.settle = None;
                    if sa.quiet() {
                        sa.settle();
                    }
                }
                Timer::HalfOpen => {
                    if !sa.established() {
                        self.refuse(crate::counters::Refusal::HalfOpenExpired);
                        self.fail(sa, FailReason::Timeout);
                        return;
                    }
                }
                Timer::Expires => {
                    let _ = sa.with_established(|sa, est| self.send_delete(sa, est, rng));
                    sa.dead = true;
                    sa.end.get_or_insert(crate::event::DeleteReason::Expired);
                    return;
                }
                Timer::Retransmit => {
                    if self.retransmit_timeout(sa, now).is_break() {
                        return;
                    }
                }
                Timer::ChildExpiry => self.child_expiry(sa, now, rng),
                Timer::Rekey => self.rekey_timeout(sa, now, rng),
                Timer::Keepalive => self.keepalive_timeout(sa, now),
                Timer::Dialogue => self.transaction_timeouts(sa, now, rng),
                Timer::Dpd => {
                    let _ = sa.with_established(|sa, est| self.dpd_timeout(sa, est, now, rng));
                }
            }
        }
    }

    /// The messages awaiting an answer: resent on their schedule, or given up. Phase 1
    /// unanswered: the SA fails (`Break`). A Quick Mode or Transaction exchange
    /// unanswered: only that exchange is abandoned (Xauth/Mode Config report their own
    /// timeouts).
    fn retransmit_timeout(&mut self, sa: &mut IkeSa, now: Instant) -> ControlFlow<()> {
        let mut resend = Vec::new();
        let mut give_up = Vec::new();
        for (mid, r) in &mut sa.timers.retx {
            match r.timer.on_timeout(now) {
                Action::NotYet => {}
                Action::Resend => resend.push(r.bytes.clone()),
                Action::GiveUp => give_up.push(*mid),
            }
        }
        for b in resend {
            self.send(sa, b);
        }
        for mid in give_up {
            sa.timers.retx.remove(&mid);
            if mid == 0 {
                self.fail(sa, FailReason::Timeout);
                return ControlFlow::Break(());
            }
            if sa.quick.remove(&mid).is_some() {
                self.refuse(crate::counters::Refusal::ExchangeAbandoned);
                self.debug(DebugEvent::Dropped("Quick Mode unanswered, abandoned"));
            }
        }
        ControlFlow::Continue(())
    }
}
