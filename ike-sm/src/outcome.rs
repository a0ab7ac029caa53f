//! What [`crate::Endpoint::handle_datagram`] did with one datagram: handled, or dropped
//! for a typed reason that says what and where.
//!
//! Every [`Outcome::Dropped`] is also counted in [`crate::Endpoint::counters`] under
//! [`DropReason::refusal`], debug events on or off: a driver that ignores the outcome
//! still sees the drops in its metrics, and one that logs them gets the reason with the
//! wire error's offset, the IKE SA, the exchange and the message ID.
//!
//! ```
//! use ike_sm::{presets, DropReason, Endpoint, Outcome, Refusal};
//! # #[allow(clippy::disallowed_methods)]
//! let now = std::time::Instant::now();
//! let mut rng = rand::rngs::StdRng::from_seed([7; 32]);
//! # use rand::SeedableRng;
//! let mut ep = Endpoint::new(presets::client(), modecfg::Pools::new());
//! let (local, remote) = ("192.0.2.1:500".parse()?, "198.51.100.2:500".parse()?);
//! match ep.handle_datagram(now, local, remote, &[0u8; 10], &mut rng) {
//!     Outcome::Dropped(why @ DropReason::Malformed(_)) => {
//!         assert_eq!(why.refusal(), Refusal::Malformed);
//!         assert!(why.to_string().contains("at offset 8"), "{why}");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(ep.counters().get(Refusal::Malformed), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::counters::Refusal;
use crate::event::SaId;
use crate::SmError;
use core::fmt;

/// What [`crate::Endpoint::handle_datagram`] did with a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken: processed (answered, or not needing an answer), answered again from the
    /// stored reply (a retransmission), held for later (a Quick Mode before Xauth), or a
    /// Cisco fragment stored for reassembly.
    Handled,
    /// Dropped or refused, and why (counted under [`DropReason::refusal`]). A refused
    /// message may still have been answered with a notify (NO-PROPOSAL-CHOSEN,
    /// INVALID-ID-INFORMATION), as the PIX does.
    Dropped(DropReason),
}

impl Outcome {
    /// Whether the datagram was dropped or refused.
    #[must_use]
    pub fn is_dropped(&self) -> bool {
        matches!(self, Outcome::Dropped(_))
    }

    /// The reason, when dropped.
    #[must_use]
    pub fn dropped(&self) -> Option<&DropReason> {
        match self {
            Outcome::Dropped(r) => Some(r),
            Outcome::Handled => None,
        }
    }
}

/// Why a datagram was dropped or refused: what, and where (the wire offset, the IKE SA,
/// the exchange and message ID).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The driver has not drained the endpoint: at least one queue holds
    /// [`crate::Endpoint::QUEUE_BOUND`] items. Nothing was parsed (see the back-pressure
    /// contract on [`crate::Endpoint`]).
    Backpressure {
        /// Datagrams queued for [`crate::Endpoint::poll_transmit`].
        transmits: usize,
        /// Events queued for [`crate::Endpoint::poll_event`].
        events: usize,
    },
    /// Not an ISAKMP message: the wire error says what and at which offset.
    Malformed(isakmp_wire::WireError),
    /// Cookies of no IKE SA, and not a first message: dropped silently, as the PIX does.
    UnknownCookies {
        /// The exchange type of the header.
        exchange: u8,
        /// The message ID of the header.
        message_id: u32,
    },
    /// A first message (no responder cookie) that started no negotiation.
    FirstMessage {
        /// Why (the counter it went to): unusable, no proposal chosen, rate or SA limit.
        refusal: Refusal,
        /// What was wrong and where, when an error said so (none for a refusal decided
        /// by policy, such as NO-PROPOSAL-CHOSEN).
        error: Option<SmError>,
    },
    /// A message of an IKE SA that was refused or failed processing.
    Sa {
        /// The IKE SA.
        sa: SaId,
        /// The exchange type of the header.
        exchange: u8,
        /// The message ID of the header.
        message_id: u32,
        /// Why (the counter it went to).
        refusal: Refusal,
        /// What was wrong and where, when an error said so.
        error: Option<SmError>,
    },
}

impl DropReason {
    /// The counter this drop went to ([`crate::Endpoint::counters`]).
    #[must_use]
    pub fn refusal(&self) -> Refusal {
        match self {
            DropReason::Backpressure { .. } => Refusal::Backpressure,
            DropReason::Malformed(_) => Refusal::Malformed,
            DropReason::UnknownCookies { .. } => Refusal::UnknownCookies,
            DropReason::FirstMessage { refusal, .. } | DropReason::Sa { refusal, .. } => *refusal,
        }
    }

    /// The error behind the drop, if one said what and where.
    #[must_use]
    pub fn error(&self) -> Option<&SmError> {
        match self {
            DropReason::FirstMessage { error, .. } | DropReason::Sa { error, .. } => error.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Backpressure { transmits, events } => write!(
                f,
                "{} ({transmits} transmits, {events} events queued)",
                Refusal::Backpressure.text()
            ),
            DropReason::Malformed(e) => write!(f, "{}: {e}", Refusal::Malformed.text()),
            DropReason::UnknownCookies {
                exchange,
                message_id,
            } => write!(
                f,
                "{} (exchange {exchange}, message ID {message_id:#010x})",
                Refusal::UnknownCookies.text()
            ),
            DropReason::FirstMessage { refusal, error } => {
                write!(f, "first message: {}", refusal.text())?;
                match error {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
            DropReason::Sa {
                sa,
                exchange,
                message_id,
                refusal,
                error,
            } => {
                write!(
                    f,
                    "IKE SA {} exchange {exchange} message ID {message_id:#010x}: {}",
                    sa.0,
                    refusal.text()
                )?;
                match error {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The counter a processing error of a known IKE SA's message goes to.
pub(crate) fn refusal_of(e: &SmError) -> Refusal {
    match e {
        SmError::HashMismatch { .. } => Refusal::HashMismatch,
        SmError::Wire(_) => Refusal::MalformedPayload,
        _ => Refusal::ProcessingError,
    }
}
