//! Where an IKE SA's phase 1 stands, as values: each step holds exactly what is known
//! at that point of the exchange (RFC 2409 section 5), and the established SA holds the
//! keys, the cipher and the phase-2 IV base, with the proof that the peer's HASH verified.
//! No step can be asked for keys it does not have: the state that would lack them does
//! not exist.

use super::policy::Suite;
use super::sa::P1State;
use crate::crypto::cipher::IkeCipher;
use crate::crypto::dh::KeyPair;
use crate::crypto::iv::{Iv, IvChain};
use crate::crypto::phase1::Skeyids;
use crate::crypto::phase2::hashes_equal;
use pix_primitives::Secret;
use std::sync::Arc;

/// The life of an IKE SA: phase 1 under way, or authenticated.
// `Established` inline (the keys themselves are boxed): it is where an SA spends its life,
// read by every later message; boxing it would cost an allocation per SA and a pointer
// chase per message for the few hundred bytes a half-open SA would save.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Phase {
    /// Phase 1 under way. One box, dropped whole when phase 1 is up: an established SA
    /// keeps none of the nonces, public values, key pair or pre-shared key.
    Negotiating(Box<Negotiation>),
    /// Phase 1 authenticated.
    Established(Established),
    /// Phase 1 failed: nothing kept. Also the phase while a phase-1 step function holds
    /// the negotiation ([`crate::Endpoint`]'s `handle_phase1` puts the next one back),
    /// and while the handler of a later exchange holds the keys
    /// (`IkeSa::with_established` puts them back).
    Ended,
}

/// Phase 1 under way.
pub(crate) struct Negotiation {
    /// The body of the initiator's SA payload (both HASHes cover it).
    pub sa_i_b: Vec<u8>,
    /// The message we wait for, and what we know until it comes.
    pub step: Step,
}

/// One variant per phase-1 message awaited.
pub(crate) enum Step {
    /// Initiator, MM1 sent: the responder chooses a transform.
    IWaitMm2 {
        /// The pre-shared key of the profile.
        psk: Secret,
    },
    /// Initiator, MM3 sent (KE, Ni): `g_xr`, `nr` and the IDs still empty.
    IWaitMm4(Material),
    /// Initiator, MM5 sent (IDii, HASH_I): keys derived, HASH_R awaited.
    IWaitMm6(Keyed),
    /// Initiator, AM1 sent (SA, KE, Ni, IDii): AM2 names the transform.
    IWaitAm2(Offered),
    /// Responder, MM2 sent (the chosen transform).
    RWaitMm3 {
        /// The transform chosen.
        suite: Suite,
    },
    /// Responder, MM4 sent (KE, Nr): keys derived, MM5 (IDii, HASH_I) awaited.
    RWaitMm5(Keyed),
    /// Responder, AM2 sent: everything but g^xy, which waits for AM3 to come back with
    /// our cookie (a spoofed AM1 costs no agreement).
    RWaitAm3(Material),
    /// Responder, AM3 came with a HASH that did not verify: the keys are kept for its
    /// retransmission (no second agreement).
    RWaitAm3Keyed(Keyed),
}

impl Step {
    /// The public view of the step.
    pub fn view(&self) -> P1State {
        match self {
            Step::IWaitMm2 { .. } => P1State::IWaitMm2,
            Step::IWaitMm4(_) => P1State::IWaitMm4,
            Step::IWaitMm6(_) => P1State::IWaitMm6,
            Step::IWaitAm2(_) => P1State::IWaitAm2,
            Step::RWaitMm3 { .. } => P1State::RWaitMm3,
            Step::RWaitMm5(_) => P1State::RWaitMm5,
            Step::RWaitAm3(_) | Step::RWaitAm3Keyed(_) => P1State::RWaitAm3,
        }
    }
}

/// Our Diffie-Hellman key pair: our own, or one shared by the SAs of one group for a short
/// window (a responder under pressure, `Limits::dh_reuse_window`; a load-testing
/// initiator, `Limits::initiator_dh_reuse`).
pub(crate) enum Dh {
    /// Made for this SA (boxed: 112 bytes).
    Own(Box<KeyPair>),
    /// Shared with other SAs of the same group.
    Shared(Arc<KeyPair>),
}

impl Dh {
    /// The key pair.
    pub fn key_pair(&self) -> &KeyPair {
        match self {
            Dh::Own(k) => k,
            Dh::Shared(k) => k,
        }
    }
}

/// What phase 1's keys and HASHes are made of before g^xy (RFC 2409 section 5): the
/// suite, the pre-shared key, our key pair and what both sides sent so far. A value not
/// received or sent yet is empty.
pub(crate) struct Material {
    /// The transform both sides use.
    pub suite: Suite,
    /// The pre-shared key.
    pub psk: Secret,
    /// Our key pair.
    pub dh: Dh,
    /// The initiator's public value.
    pub g_xi: Vec<u8>,
    /// The responder's public value.
    pub g_xr: Vec<u8>,
    /// The initiator's nonce.
    pub ni: Vec<u8>,
    /// The responder's nonce.
    pub nr: Vec<u8>,
    /// The body of the initiator's ID payload.
    pub id_i_b: Vec<u8>,
    /// The body of the responder's ID payload.
    pub id_r_b: Vec<u8>,
}

/// An Aggressive Mode initiator's half of phase 1, before the responder chose a transform.
pub(crate) struct Offered {
    /// The pre-shared key of the profile.
    pub psk: Secret,
    /// Our key pair (of the group of the first transform offered).
    pub dh: Dh,
    /// Our public value.
    pub g_xi: Vec<u8>,
    /// Our nonce.
    pub ni: Vec<u8>,
    /// The body of our ID payload.
    pub id_i_b: Vec<u8>,
}

/// Phase 1 after g^xy: SKEYID and its children, the cipher and the phase-1 IV chain, and
/// what the HASHes still cover.
pub(crate) struct Keyed {
    /// The transform both sides use.
    pub suite: Suite,
    /// SKEYID, SKEYID_d/a/e (boxed: 784 bytes).
    pub keys: Box<Skeyids>,
    /// The phase-1 cipher.
    pub cipher: IkeCipher,
    /// The phase-1 IV chain.
    pub chain: IvChain,
    /// The initiator's public value.
    pub g_xi: Vec<u8>,
    /// The responder's public value.
    pub g_xr: Vec<u8>,
    /// The body of the initiator's ID payload (empty until known).
    pub id_i_b: Vec<u8>,
    /// The body of the responder's ID payload (empty until known).
    pub id_r_b: Vec<u8>,
}

/// What g^xy gives: SKEYID and its children, the cipher and the phase-1 IV chain.
pub(crate) struct Derived {
    /// SKEYID, SKEYID_d/a/e.
    pub keys: Box<Skeyids>,
    /// The phase-1 cipher.
    pub cipher: IkeCipher,
    /// The phase-1 IV chain.
    pub chain: IvChain,
}

impl Keyed {
    /// The material's suite, public values and IDs with the keys made from it; the
    /// pre-shared key, our key pair and the nonces go.
    pub fn new(m: Material, d: Derived) -> Self {
        Self {
            suite: m.suite,
            keys: d.keys,
            cipher: d.cipher,
            chain: d.chain,
            g_xi: m.g_xi,
            g_xr: m.g_xr,
            id_i_b: m.id_i_b,
            id_r_b: m.id_r_b,
        }
    }

    /// HASH_I over this exchange.
    pub fn hash_i(&self, sa_i_b: &[u8], cky_i: &[u8; 8], cky_r: &[u8; 8]) -> Vec<u8> {
        self.keys
            .hash_i(&self.g_xi, &self.g_xr, cky_i, cky_r, sa_i_b, &self.id_i_b)
    }

    /// HASH_R over this exchange.
    pub fn hash_r(&self, sa_i_b: &[u8], cky_i: &[u8; 8], cky_r: &[u8; 8]) -> Vec<u8> {
        self.keys
            .hash_r(&self.g_xr, &self.g_xi, cky_r, cky_i, sa_i_b, &self.id_r_b)
    }
}

/// The proof that the peer's phase-1 HASH verified: made only by [`verify`], required to
/// make an [`Established`], so that phase 1 cannot complete with the check skipped.
pub(crate) struct HashVerified(());

/// The proof when `got` is the HASH we computed (constant time).
pub(crate) fn verify(want: &[u8], got: &[u8]) -> Option<HashVerified> {
    hashes_equal(want, got).then_some(HashVerified(()))
}

/// An authenticated IKE SA's keys: what every exchange after phase 1 uses.
pub(crate) struct Established {
    /// SKEYID_d/a/e (boxed: 784 bytes; most of an SA's life it is one pointer).
    pub keys: Box<Skeyids>,
    /// The phase-1 cipher, used by every later exchange.
    pub cipher: IkeCipher,
    /// The last phase-1 IV block: each later exchange's IV is derived from it.
    pub p2_base: Iv,
}

impl Established {
    /// Phase 1 done: the keys, cipher and IV of `keyed` stay; the rest goes.
    pub fn new(keyed: Keyed, _verified: HashVerified) -> Self {
        let p2_base = *keyed.chain.current();
        Self {
            keys: keyed.keys,
            cipher: keyed.cipher,
            p2_base,
        }
    }
}
