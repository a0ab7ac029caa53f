//! Walking the corpus captures: every UDP datagram of a pcap or pcapng file
//! (Ethernet, BSD loopback, Linux cooked, raw IP; IPv4 and IPv6), or, strictly,
//! the frames of a classic Ethernet pcap.

use std::path::Path;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pix_primitives::{Ipv4Error, Ipv4Packet};

/// One UDP datagram.
#[derive(Debug, Clone)]
pub struct Udp {
    /// 1-based frame number in the capture.
    pub frame: usize,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The IP packet inside a link-layer frame.
fn ip_of(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    match linktype {
        // Ethernet, with optional 802.1Q tags.
        1 => {
            let mut at = 12;
            let mut et = be16(frame, at)?;
            while et == 0x8100 || et == 0x88a8 {
                at += 4;
                et = be16(frame, at)?;
            }
            matches!(et, 0x0800 | 0x86dd).then(|| frame.get(at + 2..))?
        }
        // BSD loopback (4-byte address family in host order) / OpenBSD loop.
        0 | 108 => frame.get(4..),
        // Raw IP.
        12 | 14 | 101 | 228 | 229 => Some(frame),
        // Linux cooked capture.
        113 => frame.get(16..),
        _ => None,
    }
}

/// The UDP header and payload inside an IP packet (first fragments only). An IPv4
/// header must pass [`Ipv4Packet::new_checked`], except that the packet may end early
/// (a capture cut by its snap length).
fn udp_of(ip: &[u8]) -> Option<(u16, u16, &[u8])> {
    let version = ip.first()? >> 4;
    let l4 = match version {
        4 => {
            let (header, l4) = match Ipv4Packet::new_checked(ip) {
                Ok(p) => (p, p.into_payload()),
                // Cut by the capture's snap length: the UDP is what was captured.
                Err(Ipv4Error::TotalLen {
                    total_len,
                    header_len,
                    len,
                }) if total_len > len => (Ipv4Packet::new_unchecked(ip), ip.get(header_len..)?),
                Err(_) => return None,
            };
            if header.next_header() != 17 || header.frag_offset() != 0 {
                return None;
            }
            l4
        }
        6 => {
            let plen = usize::from(be16(ip, 4)?);
            if *ip.get(6)? != 17 {
                return None;
            }
            ip.get(40..(40 + plen).min(ip.len()))?
        }
        _ => return None,
    };
    let sport = be16(l4, 0)?;
    let dport = be16(l4, 2)?;
    let ulen = usize::from(be16(l4, 4)?);
    let end = ulen.clamp(8, 8.max(l4.len())).min(l4.len());
    Some((sport, dport, l4.get(8..end)?))
}

fn classic_pcap_records(data: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let le = data[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || data[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let linktype = u32_at(20).unwrap() & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut at = 24;
    while let Some(incl) = u32_at(at + 8) {
        let start = at + 16;
        let end = (start + incl as usize).min(data.len());
        out.push((linktype, data[start.min(end)..end].to_vec()));
        at = end;
        if end == data.len() {
            break;
        }
    }
    out
}

/// Every UDP datagram in a pcap or pcapng file, with its frame number. Lenient
/// about the capture (truncated records are read as far as the file goes); panics
/// when the file is missing or is neither pcap nor pcapng.
pub fn udp_datagrams(path: &Path) -> Vec<Udp> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut frames: Vec<(u32, Vec<u8>)> = Vec::new();
    if data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut r = PcapNgReader::new(&data[..]).unwrap();
        let mut links = Vec::new();
        while let Some(block) = r.next_block() {
            let Ok(block) = block else { break };
            match block {
                Block::InterfaceDescription(i) => links.push(u32::from(i.linktype)),
                Block::EnhancedPacket(p) => {
                    let lt = links.get(p.interface_id as usize).copied().unwrap_or(1);
                    frames.push((lt, p.data.to_vec()));
                }
                Block::SimplePacket(p) => {
                    frames.push((links.first().copied().unwrap_or(1), p.data.to_vec()))
                }
                _ => {}
            }
        }
    } else if PcapReader::new(&data[..]).is_ok() {
        // pcap-file is strict (it rejects records longer than the snap length,
        // as the fuzzed captures have), so classic pcap is read here the way
        // tcpdump reads it: each record's captured bytes, as far as the file goes.
        frames = classic_pcap_records(&data);
    } else {
        panic!("{}: neither pcap nor pcapng", path.display());
    }
    frames
        .iter()
        .enumerate()
        .filter_map(|(i, (lt, f))| {
            let ip = ip_of(*lt, f)?;
            let (src_port, dst_port, payload) = udp_of(ip)?;
            Some(Udp {
                frame: i + 1,
                src_port,
                dst_port,
                payload: payload.to_vec(),
            })
        })
        .collect()
}

/// The frames of a classic pcap file in the corpus (`rel` as for
/// [`crate::corpus::read_corpus`]), strictly: the file must parse with
/// `pcap-file`, every record must be whole, and the link type must be Ethernet.
pub fn ethernet_frames(rel: &str) -> Vec<Vec<u8>> {
    let raw = crate::corpus::read_corpus(rel);
    let mut r = PcapReader::new(&raw[..]).expect("pcap header");
    assert_eq!(r.header().datalink, pcap_file::DataLink::ETHERNET, "{rel}");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.expect("pcap record").data.to_vec());
    }
    out
}
