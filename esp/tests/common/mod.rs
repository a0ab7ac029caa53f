//! Helpers shared by the integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![allow(dead_code)]

use rand_core::{Infallible, TryCryptoRng, TryRng};

/// An "RNG" that hands out fixed bytes (to reproduce known IVs); panics when empty.
pub struct FixedBytes(pub Vec<u8>);

impl TryRng for FixedBytes {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(self.0.len() >= dst.len(), "FixedBytes exhausted");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}
impl TryCryptoRng for FixedBytes {}

/// Parses `KEY = value` blocks separated by blank lines / section headers into maps.
pub fn parse_kv_blocks(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut cur = std::collections::BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !cur.is_empty() {
                out.push((section.clone(), std::mem::take(&mut cur)));
            }
            continue;
        }
        if line.starts_with('[') {
            if !cur.is_empty() {
                out.push((section.clone(), std::mem::take(&mut cur)));
            }
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            cur.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    if !cur.is_empty() {
        out.push((section, cur));
    }
    out
}

pub fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}
