//! A table of inbound SAs keyed by SPI (the receive side of the SA database).

use crate::error::EspError;
use crate::packet::peek_spi;
use crate::sa::{Decapsulated, InboundSa};
use rustc_hash::FxHashMap;
use std::time::Instant;

/// Inbound SAs by SPI.
#[derive(Debug, Default)]
pub struct InboundSaTable {
    /// Keyed by the SPIs this side chose (a peer only looks up): the deterministic Fx
    /// hash, the same in every run.
    sas: FxHashMap<u32, InboundSa>,
}

impl InboundSaTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the SA for its SPI; returns the one it replaced.
    pub fn insert(&mut self, sa: InboundSa) -> Option<InboundSa> {
        self.sas.insert(sa.spi(), sa)
    }

    /// Removes the SA of `spi`.
    pub fn remove(&mut self, spi: u32) -> Option<InboundSa> {
        self.sas.remove(&spi)
    }

    /// The SA of `spi`.
    pub fn get_mut(&mut self, spi: u32) -> Option<&mut InboundSa> {
        self.sas.get_mut(&spi)
    }

    /// Number of SAs.
    pub fn len(&self) -> usize {
        self.sas.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.sas.is_empty()
    }

    /// Finds the SA by the packet's SPI and decapsulates in place.
    pub fn decapsulate(
        &mut self,
        now: Instant,
        packet: &mut [u8],
    ) -> Result<Decapsulated, EspError> {
        let spi = peek_spi(packet)?;
        match self.sas.get_mut(&spi) {
            Some(sa) => sa.decapsulate(now, packet),
            None => Err(EspError::UnknownSpi { spi }),
        }
    }
}
