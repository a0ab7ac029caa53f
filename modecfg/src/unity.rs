//! Cisco Unity split-tunnel entries (SPLIT_INCLUDE 28676, LOCAL_LAN 28678).
//!
//! Each entry is 14 bytes; an attribute carries one or more back to back:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Network address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Netmask                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Protocol            |          Source port          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Destination port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The layout is the one vpnc parses (4 + 4 + 2 + 2 + 2, a length not a multiple of 14 is
//! malformed); strongSwan and ipsec-tools write the last 6 bytes as zero, and gateways in
//! practice send zero there, so [`SplitEntry::network`] does too. The three 16-bit fields
//! are read and written big-endian and kept verbatim so a round trip is exact.

use std::net::Ipv4Addr;

use crate::attrs::AttrType;
use crate::error::ModeCfgError;

/// Size of one entry on the wire.
pub const SPLIT_ENTRY_LEN: usize = 14;

/// One split-tunnel network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SplitEntry {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Netmask (kept as sent, even if not contiguous).
    pub mask: Ipv4Addr,
    /// IP protocol (0 = any).
    pub protocol: u16,
    /// Source port (0 = any).
    pub sport: u16,
    /// Destination port (0 = any).
    pub dport: u16,
}

impl SplitEntry {
    /// A whole-network entry (protocol and ports zero), as `access-list N permit ip NET MASK ...` gives.
    pub fn network(addr: Ipv4Addr, mask: Ipv4Addr) -> Self {
        SplitEntry {
            addr,
            mask,
            protocol: 0,
            sport: 0,
            dport: 0,
        }
    }

    /// The prefix length, if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let m = u32::from(self.mask);
        let ones = m.leading_ones();
        if m.checked_shl(ones).unwrap_or(0) == 0 {
            u8::try_from(ones).ok()
        } else {
            None
        }
    }

    /// Whether `ip` falls inside this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.mask);
        u32::from(ip) & m == u32::from(self.addr) & m
    }

    /// The 14 wire bytes.
    pub fn to_bytes(&self) -> [u8; SPLIT_ENTRY_LEN] {
        let mut b = [0u8; SPLIT_ENTRY_LEN];
        let a = self.addr.octets();
        let m = self.mask.octets();
        let p = self.protocol.to_be_bytes();
        let s = self.sport.to_be_bytes();
        let d = self.dport.to_be_bytes();
        for (dst, src) in b
            .iter_mut()
            .zip(a.iter().chain(&m).chain(&p).chain(&s).chain(&d))
        {
            *dst = *src;
        }
        b
    }

    /// Reads one entry from exactly 14 bytes.
    pub fn from_bytes(b: &[u8; SPLIT_ENTRY_LEN]) -> Self {
        let [a0, a1, a2, a3, m0, m1, m2, m3, p0, p1, s0, s1, d0, d1] = *b;
        SplitEntry {
            addr: Ipv4Addr::new(a0, a1, a2, a3),
            mask: Ipv4Addr::new(m0, m1, m2, m3),
            protocol: u16::from_be_bytes([p0, p1]),
            sport: u16::from_be_bytes([s0, s1]),
            dport: u16::from_be_bytes([d0, d1]),
        }
    }
}

impl std::fmt::Display for SplitEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix_len() {
            Some(p) => write!(f, "{}/{}", self.addr, p)?,
            None => write!(f, "{}/{}", self.addr, self.mask)?,
        }
        if self.protocol != 0 || self.sport != 0 || self.dport != 0 {
            write!(
                f,
                " proto {} sport {} dport {}",
                self.protocol, self.sport, self.dport
            )?;
        }
        Ok(())
    }
}

/// Decodes a non-empty list of 14-byte entries.
pub(crate) fn decode_split_list(
    attr: AttrType,
    offset: usize,
    v: &[u8],
) -> Result<Vec<SplitEntry>, ModeCfgError> {
    if v.len() % SPLIT_ENTRY_LEN != 0 {
        return Err(ModeCfgError::BadLength {
            attr,
            offset,
            length: v.len(),
            expected: "a multiple of 14 bytes",
        });
    }
    Ok(v.chunks_exact(SPLIT_ENTRY_LEN)
        .filter_map(|c| <&[u8; SPLIT_ENTRY_LEN]>::try_from(c).ok())
        .map(SplitEntry::from_bytes)
        .collect())
}

/// Encodes entries back to back.
pub(crate) fn encode_split_list(entries: &[SplitEntry]) -> Vec<u8> {
    let mut b = Vec::with_capacity(entries.len().saturating_mul(SPLIT_ENTRY_LEN));
    for e in entries {
        b.extend_from_slice(&e.to_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_layout_is_addr_mask_proto_sport_dport() {
        let e = SplitEntry {
            addr: Ipv4Addr::new(10, 89, 129, 128),
            mask: Ipv4Addr::new(255, 255, 255, 240),
            protocol: 6,
            sport: 0x1234,
            dport: 80,
        };
        let b = e.to_bytes();
        assert_eq!(
            b,
            [10, 89, 129, 128, 255, 255, 255, 240, 0, 6, 0x12, 0x34, 0, 80]
        );
        assert_eq!(SplitEntry::from_bytes(&b), e);
        assert_eq!(
            e.to_string(),
            "10.89.129.128/28 proto 6 sport 4660 dport 80"
        );
    }

    #[test]
    fn prefix_len_and_contains() {
        let e = SplitEntry::network(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(255, 0, 0, 0));
        assert_eq!(e.prefix_len(), Some(8));
        assert!(e.contains(Ipv4Addr::new(10, 1, 2, 3)));
        assert!(!e.contains(Ipv4Addr::new(11, 0, 0, 0)));
        let all = SplitEntry::network(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED);
        assert_eq!(all.prefix_len(), Some(0));
        let host = SplitEntry::network(Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::BROADCAST);
        assert_eq!(host.prefix_len(), Some(32));
        let odd = SplitEntry::network(Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(255, 0, 255, 0));
        assert_eq!(odd.prefix_len(), None);
        assert_eq!(odd.to_string(), "1.2.3.4/255.0.255.0");
    }

    #[test]
    fn list_length_must_be_multiple_of_14() {
        for len in [1usize, 8, 13, 15, 27] {
            let v = vec![0u8; len];
            assert_eq!(
                decode_split_list(AttrType::SplitInclude, 40, &v),
                Err(ModeCfgError::BadLength {
                    attr: AttrType::SplitInclude,
                    offset: 40,
                    length: len,
                    expected: "a multiple of 14 bytes"
                })
            );
        }
        let two = decode_split_list(AttrType::LocalLan, 0, &[7u8; 28]).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(encode_split_list(&two), vec![7u8; 28]);
    }
}
