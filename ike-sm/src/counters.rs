//! Why the endpoint dropped or refused something, counted without debug.
//!
//! A headend on the Internet drops spoofed, malformed and unwanted traffic all the time;
//! an operator must see how much and why without turning on `debug crypto isakmp` (which
//! a flood would drown). Every drop and refusal of the [`crate::Endpoint`] bumps one
//! [`Refusal`] counter: a fixed array indexed by the reason, so counting costs nothing
//! that grows with the flood. The gateway exports them as metrics and `show` output and
//! logs each reason at a bounded rate.
//!
//! ```
//! use ike_sm::counters::{Counters, Refusal};
//! let mut c = Counters::default();
//! c.bump(Refusal::UnknownCookies);
//! c.bump(Refusal::UnknownCookies);
//! assert_eq!(c.get(Refusal::UnknownCookies), 2);
//! assert_eq!(c.iter().collect::<Vec<_>>(), vec![(Refusal::UnknownCookies, 2)]);
//! assert_eq!(Refusal::UnknownCookies.label(), "unknown_cookies");
//! ```

macro_rules! refusals {
    ($( $(#[$doc:meta])* $name:ident = $label:literal, $text:literal; )*) => {
        /// Why a datagram was dropped or a negotiation refused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Refusal {
            $( $(#[$doc])* $name, )*
        }

        impl Refusal {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Refusal] = &[$(Refusal::$name,)*];

            /// A short, stable `snake_case` label (metrics).
            #[must_use]
            pub fn label(self) -> &'static str {
                match self {
                    $(Refusal::$name => $label,)*
                }
            }

            /// What an operator reads.
            #[must_use]
            pub fn text(self) -> &'static str {
                match self {
                    $(Refusal::$name => $text,)*
                }
            }
        }
    };
}

refusals! {
    /// Not a parseable ISAKMP message.
    Malformed = "malformed", "malformed ISAKMP message";
    /// Cookies of no SA and not a first message: dropped silently, as the PIX does.
    UnknownCookies = "unknown_cookies", "cookies of no IKE SA (not a first message)";
    /// A first message that could not start a negotiation (no SA payload, bad KE,
    /// nonce or ID, encrypted, ...).
    BadFirstMessage = "bad_first_message", "first message unusable (missing or bad payload)";
    /// A first message whose proposals match no `isakmp policy`.
    NoProposalChosen = "no_proposal_chosen", "no isakmp policy matches the proposals";
    /// A first message refused by the per-source rate limit.
    RateLimited = "rate_limited", "new negotiations from one source over the rate limit";
    /// A first message refused because the endpoint holds `max_sas` IKE SAs.
    SaLimit = "sa_limit", "IKE SA limit reached";
    /// A half-open SA evicted to make room for a newer first message.
    HalfOpenEvicted = "half_open_evicted", "half-open IKE SA evicted to make room";
    /// A half-open SA whose peer never sent the next message in time.
    HalfOpenExpired = "half_open_expired", "half-open IKE SA timed out";
    /// A message of a known SA that failed processing (protocol error, bad decryption).
    ProcessingError = "processing_error", "message of a known IKE SA failed processing";
    /// A HASH that did not verify.
    HashMismatch = "hash_mismatch", "HASH did not verify";
    /// A Cisco fragment over the fragment limits.
    FragmentLimit = "fragment_limit", "IKE fragments over the limit";
    /// A Quick Mode whose initiator ID (the peer's side) claims addresses its IKE SA does
    /// not own: an SA without a Mode Config address naming 0.0.0.0/0, a local pool's
    /// addresses or an address assigned to another SA (INVALID-ID-INFORMATION).
    SelectorNotOwned = "selector_not_owned", "Quick Mode ID claims a pool address or another user's address";
    /// An INITIAL-CONTACT that was not honoured: its SA never passed Xauth.
    InitialContactIgnored = "initial_contact_ignored", "INITIAL-CONTACT ignored (Xauth did not succeed)";
    /// A datagram refused before any work because the driver has not drained the
    /// endpoint's queues ([`crate::DropReason::Backpressure`]).
    Backpressure = "backpressure", "datagram refused: transmit or event queue full (driver not draining)";
    /// A message of a known SA whose payloads did not parse.
    MalformedPayload = "malformed_payload", "message of a known IKE SA has a malformed payload";
    /// A message whose exchange type the SA does not take in its state (phase 1 after
    /// it finished, Quick Mode or Transaction before).
    UnexpectedExchange = "unexpected_exchange", "exchange type not expected in the IKE SA's state";
    /// A Cisco fragment from a peer that did not announce fragmentation.
    FragmentUnannounced = "fragment_unannounced", "IKE fragment from a peer without the fragmentation VID";
    /// A Quick Mode or Transaction exchange abandoned after its last retransmission.
    ExchangeAbandoned = "exchange_abandoned", "exchange unanswered after every retransmission, abandoned";
    /// A follow-up action failed: one the endpoint takes on its own after a message or a
    /// timer (a DPD, a rekey, a DELETE, a held Quick Mode, a Transaction exchange).
    FollowUpFailed = "follow_up_failed", "follow-up action (DPD, rekey, DELETE, held Quick Mode) failed";
    /// A debug event shed because the event queue was over its bound (never any other
    /// event: see [`crate::Endpoint`]).
    DebugShed = "debug_shed", "debug event shed: event queue full";
}

impl Refusal {
    /// Whether this refusal refuses the message being processed (so the datagram's
    /// [`crate::Outcome`] is `Dropped` with it), rather than something else decided
    /// meanwhile (an older half-open SA evicted, a debug event shed).
    #[must_use]
    pub(crate) fn refuses_message(self) -> bool {
        matches!(
            self,
            Refusal::NoProposalChosen
                | Refusal::RateLimited
                | Refusal::SaLimit
                | Refusal::SelectorNotOwned
                | Refusal::FragmentLimit
                | Refusal::FragmentUnannounced
        )
    }
}

/// One counter per [`Refusal`], monotonic since the endpoint was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    counts: [u64; Refusal::ALL.len()],
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            counts: [0; Refusal::ALL.len()],
        }
    }
}

impl Counters {
    /// Counts one.
    pub fn bump(&mut self, r: Refusal) {
        self.add(r, 1);
    }

    /// Counts `n`.
    pub fn add(&mut self, r: Refusal, n: u64) {
        if let Some(c) = self.counts.get_mut(r as usize) {
            *c = c.saturating_add(n);
        }
    }

    /// The count of one reason.
    #[must_use]
    pub fn get(&self, r: Refusal) -> u64 {
        self.counts.get(r as usize).copied().unwrap_or(0)
    }

    /// The reasons counted at least once, with their counts, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (Refusal, u64)> + '_ {
        Refusal::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }

    /// The sum over every reason.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_snake_case_and_indexes_match() {
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in Refusal::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert!(seen.insert(r.label()), "duplicate label {}", r.label());
            assert!(r
                .label()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(!r.text().is_empty());
        }
    }

    #[test]
    fn counts_saturate_and_total() {
        let mut c = Counters::default();
        c.add(Refusal::Malformed, u64::MAX);
        c.bump(Refusal::Malformed);
        c.bump(Refusal::SaLimit);
        assert_eq!(c.get(Refusal::Malformed), u64::MAX);
        assert_eq!(c.total(), u64::MAX);
        assert_eq!(c.iter().count(), 2);
    }
}
