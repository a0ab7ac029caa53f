//! The IKEv1 crypto core: Diffie-Hellman, the PRF and hash, the RFC 2409 key
//! derivations, and the CBC encryption of ISAKMP payloads.

pub mod cipher;
pub mod dh;
pub mod hash;
pub mod iv;
pub mod keymat;
pub mod modp;
pub mod natd;
pub mod phase1;
pub mod phase2;
pub mod secret;
