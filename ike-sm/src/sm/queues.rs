//! The endpoint's queues: transmits and events (debug events included), drained by the
//! driver, and the back-pressure that bounds them (see [`Endpoint::QUEUE_BOUND`]).

use super::sa::{IkeSa, Retx};
use super::{Endpoint, Transmit};
use crate::crypto::hash::Digest;
use crate::crypto::hash::HashAlg;
use crate::event::{DebugEvent, Event};
use crate::outcome::DropReason;
use pix_primitives::retransmit::Retransmit;
use std::time::Instant;

impl Endpoint {
    /// Puts a datagram back at the head of the transmit queue (tests that reorder).
    #[doc(hidden)]
    pub fn transmits_for_test(&mut self, t: Transmit) {
        self.transmits.push_front(t);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn debug(&mut self, d: DebugEvent) {
        if self.config.limits.debug_events {
            self.event(Event::Debug(d));
        }
    }

    /// Whether debug events are wanted ([`crate::Limits::debug_events`]): lets callers
    /// skip building the ones that cost something (formatted lines, lists).
    pub(crate) fn debugging(&self) -> bool {
        self.config.limits.debug_events
    }

    /// Turns [`Event::Debug`] on or off at run time, as the PIX's `debug crypto isakmp`
    /// and `no debug` do: a driver with nobody reading the debug output turns it off, and
    /// no debug event is built (see [`crate::Limits::debug_events`]).
    pub fn set_debug_events(&mut self, on: bool) {
        self.config.limits.debug_events = on;
    }

    /// Whether [`Event::Debug`] events are produced.
    #[must_use]
    pub fn debug_events(&self) -> bool {
        self.config.limits.debug_events
    }

    /// Queues an event. Never discards one but a debug event past
    /// [`Endpoint::QUEUE_BOUND`] (counted): the queue is bounded by back-pressure (see
    /// [`Endpoint`]).
    pub(crate) fn event(&mut self, e: Event) {
        match &e {
            Event::ChildSa(c) => {
                self.spis_in.insert(c.spi_in);
            }
            Event::ChildDeleted { spi_in, .. } => {
                self.spis_in.remove(spi_in);
            }
            Event::Debug(_) if self.events.len() >= Self::QUEUE_BOUND => {
                self.counters.bump(crate::counters::Refusal::DebugShed);
                return;
            }
            _ => {}
        }
        self.events.push_back(e);
    }

    /// Queues a datagram to the SA's peer. Never discards one: the queue is bounded by
    /// back-pressure (see [`Endpoint`]).
    pub(crate) fn send(&mut self, sa: &IkeSa, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            local: sa.local,
            remote: sa.remote,
            bytes,
        });
    }

    /// Whether a queue is at its bound: new datagrams are refused
    /// ([`DropReason::Backpressure`]).
    pub(super) fn backpressure(&self) -> Option<DropReason> {
        let (transmits, events) = (self.transmits.len(), self.events.len());
        (transmits >= Self::QUEUE_BOUND || events >= Self::QUEUE_BOUND)
            .then_some(DropReason::Backpressure { transmits, events })
    }

    /// Sends `bytes` and remembers them as the answer to the datagram `incoming`.
    /// The digest of `incoming` is the one [`Endpoint::datagram`] already took when
    /// `incoming` is the very datagram being processed (same buffer, same length: hashed
    /// once, not twice); anything else (a held Quick Mode replayed later) is hashed here.
    pub(crate) fn reply(&mut self, sa: &mut IkeSa, incoming: &[u8], bytes: Vec<u8>) {
        let digest = match sa.cur_in.take() {
            Some(d) if sa.cur_in_at == (incoming.as_ptr().addr(), incoming.len()) => {
                sa.cur_in = Some(d.clone());
                d
            }
            other => {
                sa.cur_in = other;
                HashAlg::Sha1.digest(&[incoming])
            }
        };
        self.store_reply(sa, digest, bytes.clone());
        self.send(sa, bytes);
    }

    /// Remembers `bytes` as the answer to the datagram whose digest is `digest`.
    pub(crate) fn store_reply(&mut self, sa: &mut IkeSa, digest: Digest, bytes: Vec<u8>) {
        while sa.replies.len() >= self.config.limits.stored_replies.max(1) {
            sa.replies.pop_front();
        }
        sa.replies.push_back((digest, bytes));
    }

    /// Sends `bytes` and resends them on the PIX schedule until `msgid` gets an answer.
    pub(crate) fn send_awaiting(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        msgid: u32,
        incoming: Option<&[u8]>,
        bytes: Vec<u8>,
    ) {
        let backoff = self.config.limits.retransmit_backoff();
        sa.timers.retx.insert(
            msgid,
            Retx {
                bytes: bytes.clone(),
                timer: Retransmit::started(backoff, now),
            },
        );
        match incoming {
            Some(i) => self.reply(sa, i, bytes),
            None => self.send(sa, bytes),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)]
    use super::*;
    use crate::config::{Selector, TrafficSelector};
    use crate::event::SaId;
    use crate::outcome::Outcome;
    use core::net::SocketAddr;
    use pix_primitives::Secret;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    pub(in crate::sm) fn child(spi_in: u32) -> Event {
        let sel = TrafficSelector::new(Selector::Addr(core::net::Ipv4Addr::LOCALHOST));
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        Event::ChildSa(Box::new(crate::ChildSa {
            ike_sa: SaId(2),
            message_id: 1,
            spi_in,
            spi_out: 0x1234_5678,
            protocol: 3,
            encryption: esp::EncryptionAlgorithm::TripleDes,
            integrity: esp::IntegrityAlgorithm::HmacSha1_96,
            encapsulation: 1,
            enc_key_in: Secret::from_slice(&[1; 24]),
            auth_key_in: Secret::from_slice(&[2; 20]),
            enc_key_out: Secret::from_slice(&[3; 24]),
            auth_key_out: Secret::from_slice(&[4; 20]),
            local_selector: sel,
            remote_selector: sel,
            life_secs: 28_800,
            life_kb: 0,
            local: a,
            remote: a,
            natt_ports: None,
            peer_original_addr: None,
            assigned_address: None,
        }))
    }

    /// Past the queue bound only debug events are shed (counted): every `ChildSa`,
    /// `ChildDeleted` and `Deleted` is delivered, in order, and datagrams are refused
    /// (typed, counted) until the driver drains.
    #[test]
    fn past_the_bound_only_debug_events_are_shed() {
        let mut ep = Endpoint::new(crate::presets::client(), modecfg::Pools::new());
        assert!(ep.debug_events());
        let extra = 1_000;
        for _ in 0..Endpoint::QUEUE_BOUND + extra {
            ep.debug(DebugEvent::Floated);
        }
        let n = u32::try_from(Endpoint::QUEUE_BOUND + extra).unwrap();
        for spi in 256..256 + n {
            ep.event(child(spi));
            ep.event(Event::ChildDeleted {
                sa: SaId(2),
                spi_in: spi,
            });
            ep.debug(DebugEvent::Floated);
        }
        ep.event(Event::Deleted {
            sa: SaId(2),
            reason: crate::event::DeleteReason::Local,
        });
        let shed = ep.counters().get(crate::counters::Refusal::DebugShed);
        assert_eq!(shed, u64::from(n) + u64::try_from(extra).unwrap());
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let o = ep.handle_datagram(Instant::now(), a, a, &[0; 28], &mut rng);
        assert_eq!(
            o,
            Outcome::Dropped(DropReason::Backpressure {
                transmits: 0,
                events: Endpoint::QUEUE_BOUND + 2 * usize::try_from(n).unwrap() + 1,
            })
        );
        assert_eq!(ep.counters().get(crate::counters::Refusal::Backpressure), 1);
        assert_eq!(ep.counters().get(crate::counters::Refusal::Malformed), 0);
        let (mut debug, mut spis, mut deleted) = (0, Vec::new(), Vec::new());
        while let Some(e) = ep.poll_event() {
            match e {
                Event::Debug(_) => debug += 1,
                Event::ChildSa(c) => spis.push(c.spi_in),
                Event::ChildDeleted { spi_in, .. } => deleted.push(spi_in),
                Event::Deleted { sa, .. } => assert_eq!(sa, SaId(2)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(debug, Endpoint::QUEUE_BOUND);
        assert_eq!(spis, (256..256 + n).collect::<Vec<_>>());
        assert_eq!(deleted, spis);
        // Drained: taken again (and found malformed).
        let o = ep.handle_datagram(Instant::now(), a, a, &[0; 10], &mut rng);
        assert!(
            matches!(o, Outcome::Dropped(DropReason::Malformed(_))),
            "{o:?}"
        );
    }
}
