//! Code shared by several bench binaries (each includes it with `mod common;` and uses
//! only part of it, hence `dead_code`).
#[allow(dead_code)]
pub mod ike;
