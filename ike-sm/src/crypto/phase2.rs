//! The hashes that authenticate messages after phase 1 (RFC 2409 section 5.5 Quick Mode,
//! section 5.7 Informational; the Transaction exchange of draft-ietf-ipsec-isakmp-mode-cfg
//! uses the Informational form).

use super::hash::Digest;
use super::phase1::Skeyids;

impl Skeyids {
    /// Quick Mode HASH(1) = `prf(SKEYID_a, M-ID | rest)`, where `rest` is every payload
    /// after the HASH payload (SA, Ni, optional KE, optional IDci/IDcr) with their generic
    /// headers.
    #[must_use]
    pub fn qm_hash1(&self, message_id: u32, rest: &[u8]) -> Vec<u8> {
        self.qm_hash1_out(message_id, rest).to_vec()
    }

    /// [`Skeyids::qm_hash1`] on the stack.
    pub(crate) fn qm_hash1_out(&self, message_id: u32, rest: &[u8]) -> Digest {
        self.prf_a(&[&message_id.to_be_bytes(), rest])
    }

    /// Quick Mode HASH(2) = `prf(SKEYID_a, M-ID | Ni_b | rest)`.
    #[must_use]
    pub fn qm_hash2(&self, message_id: u32, ni_b: &[u8], rest: &[u8]) -> Vec<u8> {
        self.qm_hash2_out(message_id, ni_b, rest).to_vec()
    }

    /// [`Skeyids::qm_hash2`] on the stack.
    pub(crate) fn qm_hash2_out(&self, message_id: u32, ni_b: &[u8], rest: &[u8]) -> Digest {
        self.prf_a(&[&message_id.to_be_bytes(), ni_b, rest])
    }

    /// Quick Mode HASH(3) = `prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)`.
    #[must_use]
    pub fn qm_hash3(&self, message_id: u32, ni_b: &[u8], nr_b: &[u8]) -> Vec<u8> {
        self.qm_hash3_out(message_id, ni_b, nr_b).to_vec()
    }

    /// [`Skeyids::qm_hash3`] on the stack.
    pub(crate) fn qm_hash3_out(&self, message_id: u32, ni_b: &[u8], nr_b: &[u8]) -> Digest {
        self.prf_a(&[&[0], &message_id.to_be_bytes(), ni_b, nr_b])
    }

    /// Informational (and Transaction) HASH = `prf(SKEYID_a, M-ID | payloads)`, where
    /// `payloads` are the payloads after the HASH payload (Notify/Delete, or the
    /// attribute payload), with their generic headers.
    #[must_use]
    pub fn informational_hash(&self, message_id: u32, payloads: &[u8]) -> Vec<u8> {
        self.informational_hash_out(message_id, payloads).to_vec()
    }

    /// [`Skeyids::informational_hash`] on the stack.
    pub(crate) fn informational_hash_out(&self, message_id: u32, payloads: &[u8]) -> Digest {
        self.prf_a(&[&message_id.to_be_bytes(), payloads])
    }

    fn prf_a(&self, parts: &[&[u8]]) -> Digest {
        self.keyed_a().mac(parts)
    }
}

/// Compares a received hash with the computed one in constant time (the lengths are not
/// secret). Use for HASH_I/HASH_R/HASH(n)/NAT-D checks.
#[must_use]
pub fn hashes_equal(computed: &[u8], received: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(computed.ct_eq(received))
}
