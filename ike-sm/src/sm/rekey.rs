//! Phase-1 rekey (initiator) and the hand-over of child SAs from an IKE SA to the one
//! that replaces it (both sides).
//!
//! As a Cisco VPN Client against a PIX does it: before an IKE SA we initiated reaches its
//! lifetime (`Limits::phase1_rekey_margin`), a new phase 1 starts with the same peer and a
//! duplicate of the SA's [`crate::ClientProfile`] (same mode, proposals, identity and
//! credentials; Xauth and Mode Config run again as the profile says), without
//! INITIAL-CONTACT so that the peer keeps the old SA meanwhile. Once the new SA is ready
//! for Quick Mode (and no Quick Mode is still in flight on the old one), the old SA's
//! child SAs move under the new one, the old SA is deleted with a DELETE notification
//! (old SA deleted after the new is established, not at its expiry), and
//! [`crate::Event::Phase1Rekeyed`] reports it. Quick Modes asked for on the old SA id from
//! then on run on the new SA ([`crate::Endpoint::current_sa`]).
//!
//! On the other side (a responder, or any endpoint whose peer re-runs phase 1), both SAs
//! live side by side; when the old one goes (the peer's DELETE, or its lifetime), its
//! child SAs (and its address lease, which they use) move to the newest established SA
//! of the same peer, identity and Xauth user instead of being deleted: in IKEv1 the IPsec
//! SAs do not depend on the ISAKMP SA that negotiated them. (INITIAL-CONTACT deletes
//! them instead: the peer has forgotten them.)

use super::sa::{IkeSa, P1State, Role};
use super::Endpoint;
use crate::event::{DebugEvent, Event, SaId};
use crate::SmError;
use rand_core::CryptoRng;
use std::time::{Duration, Instant};

/// How many old-to-new SA ids are remembered for [`Endpoint::current_sa`].
const MAX_REPLACED: usize = 4096;

/// Wait before a failed rekey is tried again (while the old SA lives).
const REKEY_RETRY: Duration = Duration::from_secs(30);

impl Endpoint {
    /// Starts a phase-1 rekey of `old` now (an established SA we initiated). Returns the
    /// new SA.
    pub(crate) fn start_rekey<R: CryptoRng + ?Sized>(
        &mut self,
        old: &mut IkeSa,
        now: Instant,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        if old.role != Role::Initiator || !old.established() {
            return Err(SmError::NotEstablished(old.id.0));
        }
        if let Some(n) = old.rekeyed_by {
            return Ok(n);
        }
        let mut profile = old
            .profile
            .as_ref()
            .ok_or(SmError::Config("no client profile to rekey with"))?
            .duplicate();
        // The old SA stays until the new one is up: no INITIAL-CONTACT.
        profile.initial_contact = false;
        // The sum of the SAs in the map and the one being rekeyed (taken out).
        if self.sas.len().saturating_add(1) >= self.config.limits.max_sas {
            return Err(SmError::Limit {
                what: "IKE SAs",
                max: self.config.limits.max_sas,
            });
        }
        let id = self.next_sa_id();
        let (local, remote) = old.pre_float;
        self.initiator_start(id, now, local, remote, profile, rng)?;
        old.rekeyed_by = Some(id);
        self.rekeys.insert(id, old.id);
        let secs_left = old
            .expires
            .map_or(0, |e| e.saturating_duration_since(now).as_secs());
        self.debug(DebugEvent::Phase1RekeyStarted {
            old: old.id.0,
            new: id.0,
            secs_left,
        });
        Ok(id)
    }

    /// Timer: rekey an initiator SA whose rekey time has come.
    pub(crate) fn rekey_timeout<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        rng: &mut R,
    ) {
        if sa.rekeyed_by.is_some() || sa.rekey_at.is_none_or(|t| t > now) {
            return;
        }
        sa.rekey_at = None;
        if let Err(e) = self.start_rekey(sa, now, rng) {
            self.debug(DebugEvent::Dropped(super::error_word(&e)));
            sa.rekey_at = now
                .checked_add(REKEY_RETRY)
                .filter(|t| sa.expires.is_some_and(|e| *t < e));
        }
    }

    /// Completes the rekeys whose new SA is ready: child SAs move, the old SA is deleted.
    /// A new SA that died gives the old one a retry.
    pub(crate) fn finish_rekeys<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        if self.rekeys.is_empty() {
            return;
        }
        let pending: Vec<(SaId, SaId)> = self.rekeys.iter().map(|(n, o)| (*n, *o)).collect();
        for (new_id, old_id) in pending {
            let new_state = self
                .sas
                .get(&new_id)
                .map(|s| s.established() && s.xauth_done && s.cfg_done);
            match new_state {
                None => {
                    // The new phase 1 failed: the old SA may try again before it expires.
                    self.rekeys.remove(&new_id);
                    if let Some(o) = self.sas.get_mut(&old_id) {
                        o.rekeyed_by = None;
                        o.rekey_at = now
                            .checked_add(REKEY_RETRY)
                            .filter(|t| o.expires.is_some_and(|e| *t < e));
                    }
                    self.refile_timer(old_id);
                }
                Some(false) => {}
                Some(true) => {
                    let busy = self
                        .sas
                        .get(&old_id)
                        .is_some_and(|o| o.quick.values().any(|q| !q.done));
                    if busy {
                        continue;
                    }
                    self.rekeys.remove(&new_id);
                    self.replace(old_id, new_id, now, rng);
                }
            }
        }
    }

    /// The old SA's children go to the new SA, the old SA is deleted (DELETE sent).
    fn replace<R: CryptoRng + ?Sized>(
        &mut self,
        old_id: SaId,
        new_id: SaId,
        now: Instant,
        rng: &mut R,
    ) {
        if self.replaced.len() >= MAX_REPLACED {
            self.replaced.pop_first();
        }
        self.replaced.insert(old_id, new_id);
        if let Some(mut old) = self.sas.remove(&old_id) {
            let moved = self.hand_over(&mut old, new_id);
            self.debug(DebugEvent::Phase1Replaced {
                old: old_id.0,
                new: new_id.0,
                children: moved,
            });
            if old.established() {
                let _ = self.send_delete(&mut old, rng);
            }
            old.state = P1State::Dead;
            self.put_back(old, now);
        }
        self.event(Event::Phase1Rekeyed {
            old: old_id,
            new: new_id,
        });
    }

    /// Moves `old`'s child SAs and address leases to `new_id`. Returns how many children
    /// moved (0 when `new_id` is gone).
    fn hand_over(&mut self, old: &mut IkeSa, new_id: SaId) -> usize {
        let Some(new) = self.sas.get_mut(&new_id) else {
            return 0;
        };
        let children = core::mem::take(&mut old.children);
        let moved = children.len();
        new.children.extend(children);
        new.extra_leases.append(&mut old.extra_leases);
        if let Some(l) = old.lease.take() {
            new.extra_leases.push(l);
        }
        // The children's lifetimes are the new SA's deadlines now.
        self.refile_timer(new_id);
        moved
    }

    /// An established SA that goes away hands its children to the newest established SA
    /// of the same peer (address and port) and identity, if there is one (the peer
    /// rekeyed phase 1). Returns whether it did.
    pub(crate) fn adopt_children(&mut self, old: &mut IkeSa) -> bool {
        if old.keys.is_none() || (old.children.is_empty() && old.lease.is_none()) {
            return false;
        }
        let heir_of = |s: &IkeSa| {
            s.established()
                && s.role == old.role
                && s.remote == old.remote
                && s.identity == old.identity
                // Another Xauth user behind the same address and group is no heir.
                && s.user == old.user
                && s.id > old.id
        };
        let heir = self
            .sas_of_peer(old.remote.ip())
            .filter(|s| heir_of(s))
            .map(|s| s.id)
            .max();
        debug_assert_eq!(
            heir,
            self.sas.values().filter(|s| heir_of(s)).map(|s| s.id).max(),
            "peer index lookup differs from a pass over every SA"
        );
        let Some(heir) = heir else {
            return false;
        };
        let moved = self.hand_over(old, heir);
        self.debug(DebugEvent::Phase1Replaced {
            old: old.id.0,
            new: heir.0,
            children: moved,
        });
        self.event(Event::Phase1Rekeyed {
            old: old.id,
            new: heir,
        });
        true
    }

    /// The IKE SA that `sa` stands for now: itself, or the SA that replaced it through
    /// phase-1 rekeys.
    #[must_use]
    pub fn current_sa(&self, sa: SaId) -> SaId {
        let mut id = sa;
        // Bounded walk: the map is bounded and ids only grow along a chain.
        for _ in 0..MAX_REPLACED {
            match self.replaced.get(&id) {
                Some(n) if !self.sas.contains_key(&id) => id = *n,
                _ => break,
            }
        }
        id
    }

    /// Rekeys phase 1 of `sa` (an established IKE SA we initiated) now, as its rekey timer
    /// would (see [`crate::Limits::phase1_rekey_margin`]). Returns the new SA; once it is
    /// up, [`Event::Phase1Rekeyed`] follows and the old SA is deleted.
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`] (also for a responder SA),
    /// [`SmError::Limit`] at the SA bound.
    pub fn rekey_phase1<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let r = self.start_rekey(&mut s, now, rng);
        self.put_back(s, now);
        r
    }
}
