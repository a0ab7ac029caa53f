//! The datagram path: [`Endpoint::handle_datagram`] routes a datagram to its IKE SA (or
//! to admission when it has none), dispatches it by exchange, and accounts for the
//! outcome (every drop counted, typed); putting an SA back or ending it.

use super::sa::IkeSa;
use super::Endpoint;
use crate::crypto::hash::HashAlg;
use crate::event::{DebugEvent, Event, FailReason, SaId};
use crate::outcome::{DropReason, Outcome};
use crate::SmError;
use core::net::SocketAddr;
use isakmp_wire::{ExchangeType, Message};
use rand_core::CryptoRng;
use std::time::Instant;

impl Endpoint {
    /// Feeds one UDP datagram (the ISAKMP message, without a non-ESP marker) and says
    /// what became of it. Every [`Outcome::Dropped`] is also counted in
    /// [`Endpoint::counters`] (debug events on or off), so a driver may ignore the
    /// outcome. While a queue is at [`Endpoint::QUEUE_BOUND`] the datagram is refused
    /// unparsed ([`DropReason::Backpressure`]).
    pub fn handle_datagram<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        rng: &mut R,
    ) -> Outcome {
        if let Some(why) = self.backpressure() {
            self.counters.bump(why.refusal());
            return Outcome::Dropped(why);
        }
        self.datagram(now, local, remote, bytes, rng, false)
    }

    /// Counts `why` unless it was counted where it was decided, and makes it the outcome.
    fn drop_datagram(&mut self, why: DropReason) -> Outcome {
        let r = why.refusal();
        if self.refused_now.take() != Some(r) {
            self.counters.bump(r);
        }
        Outcome::Dropped(why)
    }

    fn datagram<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        rng: &mut R,
        reassembled: bool,
    ) -> Outcome {
        self.refused_now = None;
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.debug(DebugEvent::Dropped("malformed ISAKMP message"));
                return self.drop_datagram(DropReason::Malformed(e));
            }
        };
        let h = msg.header;
        self.debug(DebugEvent::ProcessBlock {
            src: remote,
            dst: local,
            exchange: h.exchange_type.into(),
        });
        let Some(id) = self.sa_of(&h, remote) else {
            return self.no_sa(now, local, remote, bytes, &msg, rng);
        };
        let Some(mut sa) = self.sas.remove(&id) else {
            // The cookie index names an SA that is not there (cannot happen: the index is
            // kept with the map): as unknown cookies.
            return self.drop_datagram(DropReason::UnknownCookies {
                exchange: h.exchange_type.into(),
                message_id: h.message_id,
            });
        };
        if h.next_payload == isakmp_wire::PayloadType::CiscoFragmentation && !h.flags.encrypted() {
            // Reassembled: the whole message goes through here again.
            let full = (!reassembled)
                .then(|| self.fragment(&mut sa, &msg))
                .flatten();
            self.file_timer(&mut sa);
            self.sas.insert(id, sa);
            if let Some(full) = full {
                return self.datagram(now, local, remote, &full, rng, true);
            }
            return match self.refused_now {
                Some(r) => self.drop_datagram(sa_drop(id, &h, r, None)),
                None => Outcome::Handled,
            };
        }
        // A byte-identical retransmission gets the stored reply, never a second computation.
        let digest = HashAlg::Sha1.digest(&[bytes]);
        if let Some((_, reply)) = sa.replies.iter().find(|(d, _)| *d == digest) {
            let reply = reply.clone();
            self.debug(DebugEvent::Retransmission {
                message_id: h.message_id,
            });
            self.send(&sa, reply);
            self.put_back_unchanged(sa);
            return Outcome::Handled;
        }
        sa.cur_in = Some(digest);
        sa.cur_in_at = (bytes.as_ptr().addr(), bytes.len());
        if sa.cky_r == [0; 8] && h.responder_cookie != [0; 8] {
            // Our first message was answered: learn the responder cookie.
            self.by_cookies.remove(&sa.cookies());
            sa.cky_r = h.responder_cookie;
            self.by_cookies.insert(sa.cookies(), sa.id);
        }
        // NAT-T: the peer moved to UDP 4500 (or its NAT mapping changed). Answer at the new
        // address, and go back if the message does not authenticate.
        let old_addrs = (sa.local, sa.remote);
        if sa.natt.is_some() && local.port() == 4500 && (sa.local, sa.remote) != (local, remote) {
            sa.local = local;
            sa.remote = remote;
        }
        let (r, unexpected) = self.dispatch(&mut sa, now, bytes, &msg, rng);
        sa.cur_in = None;
        self.after_message(&mut sa, r.is_ok(), old_addrs, now, rng);
        let outcome = self.message_outcome(&mut sa, r, unexpected, &h, now);
        self.put_back(sa, now);
        self.finish_rekeys(now, rng);
        outcome
    }

    /// What became of a message of `sa`: handled (the SA was active), or dropped for
    /// the refusal counted where it was decided, or for the error.
    fn message_outcome(
        &mut self,
        sa: &mut IkeSa,
        r: Result<(), SmError>,
        unexpected: bool,
        h: &isakmp_wire::Header,
        now: Instant,
    ) -> Outcome {
        match r {
            Err(e) => {
                self.debug(DebugEvent::Dropped(error_word(&e)));
                let refusal = match self.refused_now {
                    Some(r) => r,
                    None if unexpected => crate::counters::Refusal::UnexpectedExchange,
                    None => crate::outcome::refusal_of(&e),
                };
                self.drop_datagram(sa_drop(sa.id, h, refusal, Some(e)))
            }
            Ok(()) => {
                sa.last_activity = now;
                match self.refused_now {
                    Some(r) => self.drop_datagram(sa_drop(sa.id, h, r, None)),
                    None => Outcome::Handled,
                }
            }
        }
    }

    /// After a message of `sa` was handled (`ok`) or dropped: a NAT-T float is kept
    /// only when the message authenticated, and a DPD R-U-THERE it carried is answered.
    fn after_message<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        ok: bool,
        old_addrs: (SocketAddr, SocketAddr),
        now: Instant,
        rng: &mut R,
    ) {
        if !ok {
            (sa.local, sa.remote) = old_addrs;
        } else if (sa.local, sa.remote) != old_addrs && !sa.floated {
            sa.floated = true;
            self.debug(DebugEvent::Floated);
            self.schedule_keepalive(sa, now);
        }
        // Only an encrypted Informational, read with the SA's keys, leaves an ack pending.
        if let Some((_, seq)) = self.pending_dpd_ack.take() {
            if let Some(Err(e)) = sa.with_established(|sa, est| self.dpd_ack(sa, est, seq, rng)) {
                self.follow_up_failed(&e);
            }
        }
    }

    /// The SA a datagram's cookies name: by the pair; a first message being answered
    /// again by the responder's half-open table; our first message's answer by our
    /// initiator cookie with a zero responder cookie.
    fn sa_of(&self, h: &isakmp_wire::Header, remote: SocketAddr) -> Option<SaId> {
        let mut ck = [0u8; 16];
        ck[..8].copy_from_slice(&h.initiator_cookie);
        ck[8..].copy_from_slice(&h.responder_cookie);
        if let Some(id) = self.by_cookies.get(&ck) {
            Some(*id)
        } else if h.responder_cookie == [0; 8] {
            self.half_open.get(&(h.initiator_cookie, remote))
        } else {
            // A response to our first message: the pair is new, our initiator cookie is
            // known with a zero responder cookie.
            let mut zero = ck;
            zero[8..].fill(0);
            self.by_cookies.get(&zero).copied()
        }
    }

    /// A datagram for no SA: a first message (MM1/AM1) starts one, anything else is
    /// dropped.
    fn no_sa<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        msg: &Message<'_>,
        rng: &mut R,
    ) -> Outcome {
        let h = msg.header;
        if h.responder_cookie == [0; 8]
            && matches!(
                h.exchange_type,
                ExchangeType::Aggressive | ExchangeType::IdentityProtection
            )
            && h.message_id == 0
        {
            // Admission refusals (rate, SA limit, no proposal) are counted where they
            // are decided, by reason; any other error is an unusable first message.
            let r = self.responder_start(now, local, remote, bytes, msg, rng);
            if let Err(e) = &r {
                self.debug(DebugEvent::Dropped(error_word(e)));
            }
            return match (self.refused_now, r) {
                (None, Ok(())) => Outcome::Handled,
                (Some(refusal), r) => self.drop_datagram(DropReason::FirstMessage {
                    refusal,
                    error: r.err(),
                }),
                (None, Err(e)) => self.drop_datagram(DropReason::FirstMessage {
                    refusal: crate::counters::Refusal::BadFirstMessage,
                    error: Some(e),
                }),
            };
        }
        // Deliberately silent, as the PIX is: no INVALID-COOKIE notify (RFC 2408
        // section 5.2 makes it optional). An unauthenticated answer to any spoofed
        // datagram would be a reflector, would confirm an IKE responder to a
        // scanner, and a peer cannot act on it safely anyway. The drop is visible
        // as an outcome, a counter and a debug event (`tests/scenario.rs`:
        // `unknown_cookies_are_dropped_silently`).
        self.debug(DebugEvent::Dropped("unknown cookies"));
        self.drop_datagram(DropReason::UnknownCookies {
            exchange: h.exchange_type.into(),
            message_id: h.message_id,
        })
    }

    /// The exchange's handler for the phase the SA is in; `true` beside the error when
    /// the exchange is not one this phase takes.
    fn dispatch<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        bytes: &[u8],
        msg: &Message<'_>,
        rng: &mut R,
    ) -> (Result<(), SmError>, bool) {
        let unexpected = SmError::Protocol {
            exchange: "ISAKMP",
            what: "unexpected exchange type in this state",
        };
        let kind = msg.header.exchange_type;
        let r = match kind {
            ExchangeType::IdentityProtection | ExchangeType::Aggressive if !sa.established() => {
                self.handle_phase1(sa, now, bytes, msg, rng)
            }
            // The exchanges of an established SA: its keys are lent to the handler, which
            // cannot ask for them.
            ExchangeType::Transaction | ExchangeType::QuickMode if !sa.dead => {
                let r = sa.with_established(|sa, est| {
                    if kind == ExchangeType::QuickMode {
                        self.handle_quick(sa, est, now, bytes, msg, rng)
                    } else {
                        self.handle_transaction(sa, est, now, bytes, msg, rng)
                    }
                });
                match r {
                    Some(r) => r,
                    None => return (Err(unexpected), true),
                }
            }
            ExchangeType::Informational => self.handle_informational(sa, now, bytes, msg),
            _ => return (Err(unexpected), true),
        };
        (r, false)
    }

    /// Files an SA back that a datagram did not change (a fragment stored, a stored
    /// reply resent).
    fn put_back_unchanged(&mut self, mut sa: Box<IkeSa>) {
        self.file_timer(&mut sa);
        self.sas.insert(sa.id, sa);
    }

    /// Re-files an SA after processing, or cleans it up when it died.
    pub(crate) fn put_back(&mut self, mut sa: Box<IkeSa>, now: Instant) {
        if sa.dead {
            self.cleanup(&mut sa);
            return;
        }
        if sa.established() {
            if sa.in_half_open {
                // Once, when phase 1 completes (not on every later datagram): the peer
                // proved its address and key, so its next negotiations are evicted last.
                self.half_open.remove(sa.id);
                let recent = self.config.limits.recent_peers;
                self.half_open.completed(sa.remote.ip(), recent);
                sa.in_half_open = false;
            }
            sa.timers.half_open = None;
            // What is kept for the peer's retransmissions goes one retransmission window
            // after the SA's last activity.
            sa.timers.settle = if sa.has_leftovers() {
                now.checked_add(self.settle_window())
            } else {
                None
            };
        }
        self.file_timer(&mut sa);
        self.sas.insert(sa.id, sa);
    }

    /// Releases everything an SA holds (lease, tables) and reports it.
    pub(crate) fn cleanup(&mut self, sa: &mut IkeSa) {
        self.by_cookies.remove(&sa.cookies());
        let mut zero = sa.cookies();
        zero[8..].fill(0);
        if self.by_cookies.get(&zero) == Some(&sa.id) {
            self.by_cookies.remove(&zero);
        }
        if sa.in_half_open {
            self.half_open.remove(sa.id);
            sa.in_half_open = false;
        }
        if let Some(t) = sa.filed_deadline.take() {
            self.timers.remove(&(t, sa.id));
        }
        if let Some(a) = sa.filed_peer.take() {
            self.peers.remove(&(a, sa.id));
        }
        self.rekeys.remove(&sa.id);
        // The peer rekeyed phase 1: the child SAs (and the address they use) live on
        // under its newest SA.
        self.adopt_children(sa);
        if let Some(l) = sa.lease.take() {
            let _ = self.pools.release(l);
        }
        for l in core::mem::take(&mut sa.extra_leases) {
            let _ = self.pools.release(l);
        }
        for (spi_in, _, _) in core::mem::take(&mut sa.children) {
            self.event(Event::ChildDeleted { sa: sa.id, spi_in });
        }
        self.event(Event::Deleted {
            sa: sa.id,
            reason: sa.end.unwrap_or(crate::event::DeleteReason::Local),
        });
    }

    /// Fails an SA: reports why; the SA is removed when it is put back.
    pub(crate) fn fail(&mut self, sa: &mut IkeSa, reason: FailReason) {
        if !sa.dead {
            sa.dead = true;
            sa.end = Some(crate::event::DeleteReason::Failed);
            self.event(Event::Failed { sa: sa.id, reason });
        }
    }
}

/// A message of SA `sa` dropped for `refusal` (and `error`, when one was raised).
fn sa_drop(
    sa: SaId,
    h: &isakmp_wire::Header,
    refusal: crate::counters::Refusal,
    error: Option<SmError>,
) -> DropReason {
    DropReason::Sa {
        sa,
        exchange: h.exchange_type.into(),
        message_id: h.message_id,
        refusal,
        error,
    }
}

pub(super) fn error_word(e: &SmError) -> &'static str {
    match e {
        SmError::Wire(_) => "malformed payload",
        SmError::Protocol { what, .. } => what,
        SmError::HashMismatch { what } => what,
        SmError::Limit { what, .. } => what,
        SmError::Config(w) => w,
        _ => "processing error",
    }
}
