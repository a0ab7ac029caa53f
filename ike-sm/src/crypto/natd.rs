//! NAT discovery hashes (RFC 3947 section 3.2; the drafts' NAT-D payloads use the same
//! formula): `HASH = hash(CKY-I | CKY-R | IP | Port)` with the negotiated hash (not the
//! PRF), the address in network order (4 or 16 bytes) and the port as 2 bytes.

use super::hash::HashAlg;
use core::net::IpAddr;

/// The NAT-D hash of one address/port as seen by the sender.
#[must_use]
pub fn natd_hash(
    hash: HashAlg,
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
    ip: IpAddr,
    port: u16,
) -> Vec<u8> {
    let port = port.to_be_bytes();
    match ip {
        IpAddr::V4(a) => hash.hash(&[cky_i, cky_r, &a.octets(), &port]),
        IpAddr::V6(a) => hash.hash(&[cky_i, cky_r, &a.octets(), &port]),
    }
}
