//! The gateway's scenario harness, [`rig`] (the gateway's unit tests include the same
//! file), for `core.rs`, `shards.rs` and `zero_alloc.rs`.

/// The gateway crate, as [`rig`] names it.
use pix_gateway as pix;

pub mod rig;

pub use rig::*;
