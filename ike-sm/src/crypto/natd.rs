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

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // Expected values computed with Python hashlib (hash(cky_i | cky_r | ip | port)).
    #[test]
    fn ipv4_and_ipv6() {
        let (ci, cr) = (
            [1, 2, 3, 4, 5, 6, 7, 8],
            [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
        );
        let v6 = natd_hash(
            HashAlg::Sha1,
            &ci,
            &cr,
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            4500,
        );
        assert_eq!(hex::encode(v6), "1ee24423bf8f59515e0265c6d0f08be3d038f7e5");
        let v4 = natd_hash(
            HashAlg::Md5,
            &ci,
            &cr,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            500,
        );
        assert_eq!(hex::encode(v4), "aa2b0a6e89e98ff54fd8e99cdc5373c2");
    }
}
