//! What a dialogue hands its caller to send.

use isakmp_wire::cfg::OwnedConfigPayload;

/// An attribute payload for the caller to protect (in its Transaction exchange) and send,
/// saying whether it is a retransmission.
///
/// A retransmission is the same payload sent before: a REQUEST or SET resent by its
/// timer, or the same REPLY or ACK again for the peer's retransmitted REQUEST or SET. A
/// caller that keeps what it sent resends those bytes, rather than recognising a resend
/// by comparing payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The payload.
    pub payload: OwnedConfigPayload,
    /// Whether the same payload was handed out before (by this machine).
    pub retransmission: bool,
}

impl Transmit {
    /// A payload sent for the first time.
    #[must_use]
    pub fn first(payload: OwnedConfigPayload) -> Self {
        Transmit {
            payload,
            retransmission: false,
        }
    }

    /// A payload sent again.
    #[must_use]
    pub fn again(payload: OwnedConfigPayload) -> Self {
        Transmit {
            payload,
            retransmission: true,
        }
    }

    /// The payload, whatever the reason it is sent.
    #[must_use]
    pub fn into_payload(self) -> OwnedConfigPayload {
        self.payload
    }
}
