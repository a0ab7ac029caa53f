//! Which shard owns a packet, from what the wire already carries.
//!
//! A gateway of N shards (one core per worker thread) gives each shard its own IKE SAs
//! and ESP SAs. A shard chooses the responder cookie of every IKE SA it answers and the
//! inbound SPI of every IPsec SA it installs so that they name it
//! (`ike_sm::Shard`): the first byte of the cookie and the top byte of the SPI, modulo
//! N. So any thread that reads a datagram knows its owner without asking anyone:
//!
//! * IKE with a responder cookie: the cookie's shard;
//! * IKE without one (a first message: MM1, AM1): the shard of the peer's address
//!   ([`of_peer`], a keyed hash of the address only, not of its port): every IKE SA of
//!   one peer lives on one shard, which a phase-1 rekey (the new SA takes over the old
//!   one's IPsec SAs) and INITIAL-CONTACT (it ends the same user's older SAs from that
//!   peer) need;
//! * ESP (raw, or in UDP on 4500): the SPI's shard;
//! * a packet from the inside: the shard that leased its destination address (see
//!   `SharedPools::owner`), any shard when no one did.

use std::net::Ipv4Addr;

/// Where a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Any shard may take it (the one that read it does).
    Any,
    /// This shard owns it.
    Shard(u8),
}

/// The shard named by a responder cookie.
#[must_use]
pub fn of_cookie(count: u8, cookie: &[u8; 8]) -> u8 {
    ike_sm::Shard::of_cookie(count, cookie)
}

/// The shard named by an inbound SPI.
#[must_use]
pub fn of_spi(count: u8, spi: u32) -> u8 {
    ike_sm::Shard::of_spi(count, spi)
}

/// The shard of a peer's first messages: a hash of its address keyed with `key` (a
/// random value of the process, so that the spread cannot be computed from outside).
#[must_use]
pub fn of_peer(count: u8, key: u64, peer: std::net::IpAddr) -> u8 {
    if count <= 1 {
        return 0;
    }
    let bits: u128 = match peer {
        std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
        std::net::IpAddr::V6(a) => u128::from(a),
    };
    // SplitMix64 over the key and the address's halves: cheap, and good enough for spread.
    let mut x = key ^ (bits as u64) ^ ((bits >> 64) as u64).rotate_left(32);
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x % u64::from(count)) as u8
}

/// The owner of an IKE message (its header at the start of `ike`).
#[must_use]
pub fn ike(count: u8, ike: &[u8]) -> Route {
    match ike.get(8..16).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        Some(r) if r != [0; 8] && count > 1 => Route::Shard(of_cookie(count, &r)),
        _ => Route::Any,
    }
}

/// The owner of an ESP packet (its header at the start of `esp`).
#[must_use]
pub fn esp(count: u8, esp: &[u8]) -> Route {
    match esp.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
        Some(spi) if count > 1 => Route::Shard(of_spi(count, u32::from_be_bytes(spi))),
        _ => Route::Any,
    }
}

/// The owner of a UDP datagram to our port `local_port`.
#[must_use]
pub fn udp(count: u8, local_port: u16, payload: &[u8]) -> Route {
    if local_port != 4500 {
        return ike(count, payload);
    }
    match esp::udp_encap::classify(payload) {
        Ok(esp::udp_encap::Port4500::Ike(m)) => ike(count, m),
        Ok(esp::udp_encap::Port4500::Esp(e)) => esp(count, e),
        _ => Route::Any,
    }
}

/// The owner of a raw ESP packet (an IPv4 packet, its header included).
#[must_use]
pub fn raw(count: u8, packet: &[u8]) -> Route {
    let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    match packet.get(ihl..) {
        Some(e) if ihl >= 20 => esp(count, e),
        _ => Route::Any,
    }
}

/// The destination of an IPv4 packet from the inside.
#[must_use]
pub fn inside_destination(packet: &[u8]) -> Option<Ipv4Addr> {
    packet
        .get(16..20)
        .and_then(|d| <[u8; 4]>::try_from(d).ok())
        .map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn ike_header(rcookie: [u8; 8]) -> Vec<u8> {
        let mut h = vec![7u8; 8];
        h.extend_from_slice(&rcookie);
        h.extend_from_slice(&[1, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 28]);
        h
    }

    #[test]
    fn first_messages_go_anywhere_and_the_rest_to_their_cookie() {
        assert_eq!(ike(4, &ike_header([0; 8])), Route::Any);
        let c = [6, 1, 2, 3, 4, 5, 6, 7];
        assert_eq!(ike(4, &ike_header(c)), Route::Shard(of_cookie(4, &c)));
        assert_eq!(ike(1, &ike_header(c)), Route::Any);
        assert_eq!(ike(4, &[1, 2, 3]), Route::Any);
        // On 4500, behind the non-ESP marker.
        let mut d = vec![0, 0, 0, 0];
        d.extend_from_slice(&ike_header(c));
        assert_eq!(udp(4, 4500, &d), Route::Shard(of_cookie(4, &c)));
        assert_eq!(udp(4, 500, &ike_header(c)), Route::Shard(of_cookie(4, &c)));
    }

    #[test]
    fn a_peer_address_has_one_shard_whatever_its_port_and_peers_spread() {
        let a: std::net::IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(of_peer(4, 9, a), of_peer(4, 9, a));
        assert_eq!(of_peer(1, 9, a), 0);
        let mut seen = [0u32; 4];
        for i in 0..4000u32 {
            let p = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            seen[usize::from(of_peer(4, 12345, p))] += 1;
        }
        assert!(seen.iter().all(|n| (800..1200).contains(n)), "{seen:?}");
    }

    #[test]
    fn esp_goes_to_its_spi_raw_or_in_udp() {
        let spi = 0x8300_1234u32;
        let mut e = spi.to_be_bytes().to_vec();
        e.extend_from_slice(&[0, 0, 0, 1, 9, 9, 9, 9]);
        assert_eq!(udp(3, 4500, &e), Route::Shard(of_spi(3, spi)));
        let mut ip = vec![0x45u8];
        ip.extend_from_slice(&[0; 19]);
        ip.extend_from_slice(&e);
        assert_eq!(raw(3, &ip), Route::Shard(of_spi(3, spi)));
        assert_eq!(raw(3, &ip[..10]), Route::Any);
        assert_eq!(udp(3, 4500, &[0xff]), Route::Any);
    }
}
