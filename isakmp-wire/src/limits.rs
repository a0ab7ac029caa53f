//! Caps on counts, so no input can make a parser loop or allocate without bound.

/// Caps applied while parsing. Exceeding one is a [`crate::WireError::TooMany`]
/// naming what was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Payloads in one message or decrypted chain.
    pub max_payloads: usize,
    /// Proposals in one SA payload.
    pub max_proposals: usize,
    /// Transforms in one proposal.
    pub max_transforms: usize,
    /// Data attributes in one transform or attribute payload.
    pub max_attributes: usize,
    /// SPIs in one Delete payload.
    pub max_spis: usize,
}

impl Limits {
    /// The defaults: generous for every real peer (a Cisco client offers 24
    /// transforms in one proposal), small enough to bound work per datagram.
    pub const DEFAULT: Limits = Limits {
        max_payloads: 64,
        max_proposals: 64,
        max_transforms: 255,
        max_attributes: crate::attr::MAX_ATTRIBUTES,
        max_spis: 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
