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
//!
//! The address, too, stays the client's: a responder that runs Mode Config on the new SA
//! gives the client the address an older SA of the same client (role, peer address and
//! port, phase-1 identity, Xauth user) holds, without leasing a second one, as a PIX does
//! when a client re-runs phase 1 ([`Endpoint::lend_lease`]; the new SA notes it in
//! `IkeSa::borrowed`). The older SA keeps the lease until it goes; then the lease moves to
//! the SA that borrowed its address (the heir [`Endpoint::adopt_children`] picks first,
//! whatever their ages), or, when the older SA goes without an heir (INITIAL-CONTACT), to
//! that SA all the same ([`Endpoint::release_lease`]). So an address is held by one lease
//! at a time, given to one client only, and freed only when no SA of that client uses it.

use super::phase::Phase;
use super::sa::{IkeSa, Role};
use super::Endpoint;
use crate::event::{DebugEvent, Event, SaId};
use crate::SmError;
use core::net::Ipv4Addr;
use modecfg::Lease;
use rand_core::CryptoRng;
use std::time::{Duration, Instant};

/// How many old-to-new SA ids are remembered for [`Endpoint::current_sa`].
const MAX_REPLACED: usize = 4096;

/// Wait before a failed rekey is tried again (while the old SA lives).
const REKEY_RETRY: Duration = Duration::from_secs(30);

/// Whether `a` and `b` are SAs of one client: the same role, peer address and port,
/// phase-1 identity and Xauth user (another user behind the same address and group is
/// another client). What makes an SA the heir of another, and what lets a new SA give
/// its client the address an older one holds.
fn same_client(a: &IkeSa, b: &IkeSa) -> bool {
    a.role == b.role && a.remote == b.remote && a.identity == b.identity && a.user == b.user
}

/// Whether `s`, a live SA other than `old`, gave its client an address `old` holds a
/// lease for (`addr`, or any of `old`'s when `None`).
fn borrows_from(s: &IkeSa, old: &IkeSa, addr: Option<Ipv4Addr>) -> bool {
    let Some(b) = s.borrowed else {
        return false;
    };
    let held = match addr {
        Some(a) => a == b,
        None => old
            .lease
            .iter()
            .chain(&old.extra_leases)
            .any(|l| l.addr() == b),
    };
    held && s.id != old.id && s.established() && same_client(s, old)
}

/// Where a lease lent to a Mode Config step came from ([`Endpoint::lend_lease`]), to
/// put it back there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LentFrom {
    /// The SA that holds it; `None`: the SA being configured itself (a lease it took
    /// over from an SA it replaced, in its `extra_leases`).
    holder: Option<SaId>,
    /// Whether it is one of the holder's `extra_leases` (else its `lease`).
    extra: bool,
}

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
            .timers
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
        if sa.rekeyed_by.is_some() || sa.timers.rekey.is_none_or(|t| t > now) {
            return;
        }
        sa.timers.rekey = None;
        if let Err(e) = self.start_rekey(sa, now, rng) {
            self.follow_up_failed(&e);
            sa.timers.rekey = now
                .checked_add(REKEY_RETRY)
                .filter(|t| sa.timers.expires.is_some_and(|e| *t < e));
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
                        o.timers.rekey = now
                            .checked_add(REKEY_RETRY)
                            .filter(|t| o.timers.expires.is_some_and(|e| *t < e));
                    }
                    self.refile_timer(old_id);
                }
                Some(false) => {}
                Some(true) => {
                    let busy = self.sas.get(&old_id).is_some_and(|o| !o.quick.is_empty());
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
            if !old.dead {
                let _ = old.with_established(|old, est| self.send_delete(old, est, rng));
            }
            old.dead = true;
            old.end.get_or_insert(crate::event::DeleteReason::Replaced);
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
        for l in core::mem::take(&mut old.extra_leases)
            .into_iter()
            .chain(old.lease.take())
        {
            new.take_lease(l);
        }
        // The children's lifetimes are the new SA's deadlines now.
        self.refile_timer(new_id);
        moved
    }

    /// An established SA that goes away hands its children to the newest established SA
    /// of the same peer (address and port) and identity, if there is one (the peer
    /// rekeyed phase 1). Returns whether it did. An SA that gave its client an address
    /// `old` holds (it borrowed it) comes first, whatever its age: the address must not be
    /// freed while its client uses it.
    pub(crate) fn adopt_children(&mut self, old: &mut IkeSa) -> bool {
        if !matches!(old.phase, Phase::Established(_)) {
            return false;
        }
        let holds = old.lease.is_some() || !old.extra_leases.is_empty();
        let borrower = if holds {
            self.sas_of_peer(old.remote.ip())
                .filter(|s| borrows_from(s, old, None))
                .map(|s| s.id)
                .max()
        } else {
            None
        };
        debug_assert_eq!(
            borrower,
            self.sas
                .values()
                .filter(|s| holds && borrows_from(s, old, None))
                .map(|s| s.id)
                .max(),
            "peer index lookup differs from a pass over every SA"
        );
        if borrower.is_none() && old.children.is_empty() && old.lease.is_none() {
            return false;
        }
        let heir_of = |s: &IkeSa| s.established() && same_client(s, old) && s.id > old.id;
        let heir = borrower.or_else(|| {
            self.sas_of_peer(old.remote.ip())
                .filter(|s| heir_of(s))
                .map(|s| s.id)
                .max()
        });
        debug_assert_eq!(
            heir,
            borrower.or_else(|| self.sas.values().filter(|s| heir_of(s)).map(|s| s.id).max()),
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

    /// Responder, before a Mode Config server step that may lease an address for `sa`:
    /// takes out the lease of the address `sa`'s client already holds, to give that
    /// address again instead of leasing a second one (the client re-ran phase 1). That is
    /// a lease `sa` took over from an SA it replaced, else the lease of the newest live
    /// established SA of the same client (see `same_client`; the address that SA gave its
    /// client first). With an AAA-assigned address (Framed-IP-Address), only a lease of
    /// that very address: AAA decides. Put back with [`Self::repay_lease`] once the step
    /// ran.
    pub(crate) fn lend_lease(&mut self, sa: &mut IkeSa) -> Option<(Lease, LentFrom)> {
        if sa.role != Role::Responder {
            return None;
        }
        let aaa = sa.aaa_address.map(|a| a.addr);
        let fits = |l: &Lease| aaa.is_none_or(|a| a == l.addr());
        if let Some(i) = sa.extra_leases.iter().rposition(fits) {
            let lease = sa.extra_leases.remove(i);
            let from = LentFrom {
                holder: None,
                extra: true,
            };
            return Some((lease, from));
        }
        let holds = |h: &IkeSa| h.lease.iter().chain(&h.extra_leases).any(fits);
        let holder = self
            .sas_of_peer(sa.remote.ip())
            .filter(|h| h.id != sa.id && h.established() && same_client(h, sa) && holds(h))
            .map(|h| h.id)
            .max()?;
        let h = self.sas.get_mut(&holder)?;
        // The address the holder gave its client first, then its own lease, then the
        // newest it took over. `None`: its own lease.
        let assigned = h.assigned;
        let current = |l: &Lease| fits(l) && assigned == Some(l.addr());
        let at = if h.lease.as_ref().is_some_and(current) {
            None
        } else if let Some(i) = h.extra_leases.iter().rposition(current) {
            Some(i)
        } else if h.lease.as_ref().is_some_and(fits) {
            None
        } else {
            Some(h.extra_leases.iter().rposition(fits)?)
        };
        let lease = match at {
            None => h.lease.take()?,
            Some(i) => h.extra_leases.remove(i),
        };
        let from = LentFrom {
            holder: Some(holder),
            extra: at.is_some(),
        };
        Some((lease, from))
    }

    /// Puts a lease lent by [`Self::lend_lease`] back where it came from. `given`: the
    /// Mode Config step gave its address to `sa`'s client, which from now on uses it
    /// without holding it (`IkeSa::borrowed`).
    pub(crate) fn repay_lease(
        &mut self,
        sa: &mut IkeSa,
        lease: Lease,
        from: LentFrom,
        given: bool,
    ) {
        if given {
            sa.borrowed = Some(lease.addr());
        }
        match from.holder.map(|id| self.sas.get_mut(&id)) {
            None => sa.extra_leases.push(lease),
            Some(Some(h)) if from.extra || h.lease.is_some() => h.extra_leases.push(lease),
            Some(Some(h)) => h.lease = Some(lease),
            // Cannot happen (no SA goes while a Mode Config step runs); the client uses
            // the address, so it stays held, by this SA.
            Some(None) => sa.take_lease(lease),
        }
    }

    /// Gives back a lease of `old`, an SA that goes without handing its leases to an heir
    /// (INITIAL-CONTACT), unless a live SA of the same client gave that address to its
    /// client ([`Self::lend_lease`]): then that SA holds it from now on.
    pub(crate) fn release_lease(&mut self, old: &IkeSa, lease: Lease) {
        let addr = Some(lease.addr());
        let borrower = self
            .sas_of_peer(old.remote.ip())
            .filter(|s| borrows_from(s, old, addr))
            .map(|s| s.id)
            .max();
        match borrower.and_then(|id| self.sas.get_mut(&id)) {
            Some(b) => b.take_lease(lease),
            None => {
                let _ = self.pools.release(lease);
            }
        }
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
