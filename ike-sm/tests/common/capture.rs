#![allow(clippy::indexing_slicing, clippy::unwrap_used)]
//! Reading ISAKMP messages out of the corpus captures, with the 28-byte ISAKMP header and
//! the generic payload headers parsed by hand (independent of any crate's parser).

use std::net::Ipv4Addr;

use pix_primitives::Ipv4Packet;

/// One ISAKMP message from a capture.
#[derive(Debug, Clone)]
pub struct Msg {
    /// 1-based frame number in the capture.
    pub frame: usize,
    pub src: (Ipv4Addr, u16),
    pub dst: (Ipv4Addr, u16),
    pub cky_i: [u8; 8],
    pub cky_r: [u8; 8],
    pub next_payload: u8,
    pub exchange: u8,
    pub flags: u8,
    pub msg_id: u32,
    /// Everything after the 28-byte header.
    pub body: Vec<u8>,
}

/// Every UDP datagram to or from port 500 or 4500 in an Ethernet/IPv4 capture, parsed as
/// ISAKMP (the 4-byte non-ESP marker on port 4500 is removed; NAT-keepalives and ESP-in-UDP
/// are skipped). Every length is checked against its container (the IPv4 header's by
/// [`Ipv4Packet::new_checked`]).
pub fn isakmp_messages(rel: &str) -> Vec<Msg> {
    let mut out = Vec::new();
    for (i, d) in testkit::pcap::ethernet_frames(rel).iter().enumerate() {
        let frame = i + 1;
        assert!(frame < 10_000, "{rel}: too many frames");
        assert!(d.len() >= 14, "{rel} frame {frame}: short Ethernet");
        if d[12..14] != [0x08, 0x00] {
            continue;
        }
        // Version 4, a whole header, header <= total length <= what was captured.
        let ip = Ipv4Packet::new_checked(&d[14..])
            .unwrap_or_else(|e| panic!("{rel} frame {frame}: IPv4: {e}"));
        if ip.next_header() != 17 {
            continue;
        }
        let (src_ip, dst_ip) = (ip.src_addr(), ip.dst_addr());
        let udp = ip.payload();
        assert!(udp.len() >= 8, "{rel} frame {frame}: UDP header");
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        assert_eq!(ulen, udp.len(), "{rel} frame {frame}: UDP length");
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let mut payload = &udp[8..];
        if sport == 4500 || dport == 4500 {
            if payload.len() < 4 || payload[..4] != [0, 0, 0, 0] {
                continue; // keepalive or ESP-in-UDP
            }
            payload = &payload[4..];
        } else if sport != 500 && dport != 500 {
            continue;
        }
        let mut m = parse_msg(frame, payload);
        m.src = (src_ip, sport);
        m.dst = (dst_ip, dport);
        out.push(m);
    }
    out
}

/// Parses the 28-byte ISAKMP header; the header's length must equal the datagram's.
pub fn parse_msg(frame: usize, d: &[u8]) -> Msg {
    assert!(d.len() >= 28, "frame {frame}: short ISAKMP header");
    let len = u32::from_be_bytes(d[24..28].try_into().unwrap()) as usize;
    assert_eq!(len, d.len(), "frame {frame}: ISAKMP length");
    assert_eq!(d[17], 0x10, "frame {frame}: version 1.0");
    Msg {
        frame,
        src: (Ipv4Addr::UNSPECIFIED, 0),
        dst: (Ipv4Addr::UNSPECIFIED, 0),
        cky_i: d[0..8].try_into().unwrap(),
        cky_r: d[8..16].try_into().unwrap(),
        next_payload: d[16],
        exchange: d[18],
        flags: d[19],
        msg_id: u32::from_be_bytes(d[20..24].try_into().unwrap()),
        body: d[28..].to_vec(),
    }
}

/// Walks a generic payload chain: `(type, body)` for each payload, and the number of bytes
/// left after the last one (padding in a decrypted message). Panics on an overrun.
pub fn walk(first: u8, body: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let (mut np, mut pos) = (first, 0usize);
    while np != 0 {
        assert!(out.len() < 64, "payload chain too long");
        let h = body.get(pos..pos + 4).expect("generic header in bounds");
        let plen = usize::from(u16::from_be_bytes([h[2], h[3]]));
        assert!(plen >= 4, "payload length {plen} below its header");
        let b = body.get(pos + 4..pos + plen).expect("payload in bounds");
        out.push((np, b.to_vec()));
        np = h[0];
        pos += plen;
    }
    (out, body.len() - pos)
}
