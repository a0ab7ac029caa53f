//! The IKEv1 crypto core: Diffie-Hellman, the PRF and hash, the RFC 2409 key
//! derivations, and the CBC encryption of ISAKMP payloads.

pub mod cipher;
pub mod dh;
#[doc(hidden)]
pub mod dh_baseline;
pub mod hash;
pub mod iv;
pub mod keymat;
pub mod modp;
mod monty;
pub mod natd;
pub mod phase1;
pub mod phase2;
