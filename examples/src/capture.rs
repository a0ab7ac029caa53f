//! Reading ISAKMP messages out of pcap and pcapng captures.
//!
//! Walks each frame's link layer (Ethernet with VLAN tags, BSD loopback, Linux
//! cooked v1/v2, raw IP), then IPv4 or IPv6 (extension headers, first fragments
//! only), then UDP. ISAKMP is taken from UDP port 500 and from port 4500 behind the
//! RFC 3948 non-ESP marker; NAT keepalives and ESP-in-UDP on 4500 are reported as
//! such, not parsed as ISAKMP.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::DataLink;
use pix_primitives::{Ipv4Error, Ipv4Packet};

/// Largest capture file `dump` reads into memory.
pub const MAX_CAPTURE_BYTES: usize = 256 << 20;
/// Largest number of IPv6 extension headers walked before giving up on a packet.
const MAX_IPV6_EXT: usize = 8;

/// One UDP datagram found in a capture.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// 1-based frame number, as Wireshark counts.
    pub frame: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// What the UDP payload is.
    pub kind: Kind,
    /// The UDP payload after any non-ESP marker.
    pub payload: Vec<u8>,
}

/// Classification of a UDP payload on the IKE ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An ISAKMP message (UDP 500, or 4500 after the 4-byte non-ESP marker).
    Isakmp,
    /// RFC 3948 NAT keepalive (a single 0xFF byte).
    NatKeepalive,
    /// ESP in UDP (RFC 3948): a non-zero SPI on port 4500.
    EspInUdp,
    /// Too short to say.
    Runt,
}

/// Errors reading a capture file.
#[derive(Debug)]
pub enum CaptureError {
    /// The file is larger than [`MAX_CAPTURE_BYTES`].
    TooLarge(usize),
    /// Neither pcap nor pcapng.
    NotACapture,
    /// The container is damaged at this frame.
    Damaged {
        /// Frame number where reading stopped.
        frame: u64,
        /// What pcap-file said.
        reason: String,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::TooLarge(n) => {
                write!(
                    f,
                    "capture is {n} bytes, more than the {MAX_CAPTURE_BYTES}-byte limit"
                )
            }
            CaptureError::NotACapture => write!(f, "not a pcap or pcapng file"),
            CaptureError::Damaged { frame, reason } => {
                write!(f, "capture damaged at frame {frame}: {reason}")
            }
        }
    }
}

impl std::error::Error for CaptureError {}

/// Every UDP datagram on port 500 or 4500 in the capture, in file order.
///
/// A damaged container stops the walk; the datagrams read so far are returned
/// together with the error so nothing already read is lost.
pub fn read_datagrams(bytes: &[u8]) -> (Vec<Datagram>, Option<CaptureError>) {
    if bytes.len() > MAX_CAPTURE_BYTES {
        return (Vec::new(), Some(CaptureError::TooLarge(bytes.len())));
    }
    let mut out = Vec::new();
    let err = if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        read_pcapng(bytes, &mut out)
    } else if let Ok((rest, parser)) = PcapParser::new(bytes) {
        read_pcap(rest, &parser, &mut out)
    } else {
        Some(CaptureError::NotACapture)
    };
    (out, err)
}

fn read_pcap(
    mut rest: &[u8],
    parser: &PcapParser,
    out: &mut Vec<Datagram>,
) -> Option<CaptureError> {
    // The upper bits of the link-type word carry FCS information (pcap file
    // format, LinkType); the link type itself is the low 16 bits.
    let link = DataLink::from(u32::from(parser.header().datalink) & 0xffff);
    let mut frame = 0u64;
    while !rest.is_empty() {
        frame = frame.saturating_add(1);
        // Raw records, as tcpdump reads them: a fuzzed snaplen or orig_len must not
        // hide the packet (only the captured length has to fit the file).
        match parser.next_raw_packet(rest) {
            Ok((r, pkt)) => {
                rest = r;
                if let Some(d) = frame_to_datagram(frame, link, &pkt.data) {
                    out.push(d);
                }
            }
            Err(e) => {
                return Some(CaptureError::Damaged {
                    frame,
                    reason: e.to_string(),
                })
            }
        }
    }
    None
}

fn read_pcapng(bytes: &[u8], out: &mut Vec<Datagram>) -> Option<CaptureError> {
    let (mut rest, mut parser) = match PcapNgParser::new(bytes) {
        Ok(x) => x,
        Err(_) => return Some(CaptureError::NotACapture),
    };
    let mut links: Vec<DataLink> = Vec::new();
    let mut frame = 0u64;
    while !rest.is_empty() {
        let (r, block) = match parser.next_block(rest) {
            Ok(x) => x,
            Err(e) => {
                return Some(CaptureError::Damaged {
                    frame: frame.saturating_add(1),
                    reason: e.to_string(),
                })
            }
        };
        rest = r;
        match block {
            Block::SectionHeader(_) => links.clear(),
            Block::InterfaceDescription(idb) => links.push(idb.linktype),
            Block::EnhancedPacket(epb) => {
                frame = frame.saturating_add(1);
                let link = usize::try_from(epb.interface_id)
                    .ok()
                    .and_then(|i| links.get(i).copied());
                if let Some(link) = link {
                    if let Some(d) = frame_to_datagram(frame, link, &epb.data) {
                        out.push(d);
                    }
                }
            }
            Block::SimplePacket(spb) => {
                frame = frame.saturating_add(1);
                if let Some(link) = links.first().copied() {
                    if let Some(d) = frame_to_datagram(frame, link, &spb.data) {
                        out.push(d);
                    }
                }
            }
            Block::Packet(pb) => {
                frame = frame.saturating_add(1);
                let link = links.get(usize::from(pb.interface_id)).copied();
                if let Some(link) = link {
                    if let Some(d) = frame_to_datagram(frame, link, &pb.data) {
                        out.push(d);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Decodes one captured frame down to a UDP datagram on the IKE ports.
pub fn frame_to_datagram(frame: u64, link: DataLink, data: &[u8]) -> Option<Datagram> {
    let ip = match link {
        DataLink::ETHERNET => ethernet(data)?,
        DataLink::NULL | DataLink::LOOP => {
            // 4-byte address family in host (NULL) or network (LOOP) order; IPv4 or one of the IPv6 values.
            let af = data.get(..4)?;
            let v = if link == DataLink::LOOP {
                u32::from_be_bytes(af.try_into().ok()?)
            } else {
                let le = u32::from_le_bytes(af.try_into().ok()?);
                let be = u32::from_be_bytes(af.try_into().ok()?);
                if le < 256 {
                    le
                } else {
                    be
                }
            };
            match v {
                2 | 24 | 28 | 30 => data.get(4..)?,
                _ => return None,
            }
        }
        DataLink::LINUX_SLL => {
            let proto = u16::from_be_bytes(data.get(14..16)?.try_into().ok()?);
            if proto != 0x0800 && proto != 0x86dd {
                return None;
            }
            data.get(16..)?
        }
        DataLink::LINUX_SLL2 => {
            let proto = u16::from_be_bytes(data.get(0..2)?.try_into().ok()?);
            if proto != 0x0800 && proto != 0x86dd {
                return None;
            }
            data.get(20..)?
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => data,
        _ => return None,
    };
    let (src, dst, udp) = ip_to_udp(ip)?;
    let sport = u16::from_be_bytes(udp.get(0..2)?.try_into().ok()?);
    let dport = u16::from_be_bytes(udp.get(2..4)?.try_into().ok()?);
    // A UDP header cut short by the snap length still names its ports: report the
    // datagram as a runt rather than hide it (tcpdump prints "[|isakmp]" for these).
    let ulen = udp
        .get(4..6)
        .and_then(|b| b.try_into().ok())
        .map(|b| usize::from(u16::from_be_bytes(b)));
    // Trust the UDP length when it is sane (it trims Ethernet padding); else take what was captured.
    let body = match ulen {
        Some(ulen) if ulen >= 8 && ulen <= udp.len() => udp.get(8..ulen).unwrap_or(&[]),
        _ => udp.get(8..).unwrap_or(&[]),
    };
    let natt = sport == 4500 || dport == 4500;
    if !(natt || sport == 500 || dport == 500) {
        return None;
    }
    let (kind, payload) = if natt {
        match body {
            [0xff] => (Kind::NatKeepalive, body),
            [0, 0, 0, 0, rest @ ..] => (Kind::Isakmp, rest),
            b if b.len() >= 8 => (Kind::EspInUdp, b),
            b => (Kind::Runt, b),
        }
    } else if body.is_empty() {
        (Kind::Runt, body)
    } else {
        (Kind::Isakmp, body)
    };
    Some(Datagram {
        frame,
        src,
        dst,
        sport,
        dport,
        kind,
        payload: payload.to_vec(),
    })
}

fn ethernet(data: &[u8]) -> Option<&[u8]> {
    let mut off = 12usize;
    for _ in 0..3 {
        let ty = u16::from_be_bytes(data.get(off..off.checked_add(2)?)?.try_into().ok()?);
        match ty {
            0x8100 | 0x88a8 | 0x9100 => off = off.checked_add(4)?,
            0x0800 | 0x86dd => return data.get(off.checked_add(2)?..),
            _ => return None,
        }
    }
    None
}

/// Returns (src, dst, UDP header + payload) for an unfragmented or first-fragment UDP packet.
fn ip_to_udp(ip: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    match ip.first()? >> 4 {
        4 => {
            // A whole IPv4 header; the total length when it is sane (it trims link
            // padding), else what was captured (a capture cut by its snap length).
            let (header, l4) = match Ipv4Packet::new_checked(ip) {
                Ok(p) => (p, p.into_payload()),
                Err(Ipv4Error::TotalLen { header_len, .. }) => {
                    (Ipv4Packet::new_unchecked(ip), ip.get(header_len..)?)
                }
                Err(_) => return None,
            };
            if header.frag_offset() != 0 || header.next_header() != 17 {
                return None;
            }
            Some((header.src_addr().into(), header.dst_addr().into(), l4))
        }
        6 => {
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?);
            let mut next = *ip.get(6)?;
            let mut off = 40usize;
            for _ in 0..MAX_IPV6_EXT {
                match next {
                    17 => return Some((src.into(), dst.into(), ip.get(off..)?)),
                    0 | 43 | 60 => {
                        next = *ip.get(off)?;
                        // RFC 8200 4.3: the length is in 8-octet units, not counting the first 8
                        let units = usize::from(*ip.get(off.checked_add(1)?)?);
                        off = off.checked_add(units.checked_add(1)?.checked_mul(8)?)?;
                    }
                    44 => {
                        let fo_at = off.checked_add(2)?..off.checked_add(4)?;
                        let fo = u16::from_be_bytes(ip.get(fo_at)?.try_into().ok()?);
                        if fo & 0xfff8 != 0 {
                            return None;
                        }
                        next = *ip.get(off)?;
                        off = off.checked_add(8)?;
                    }
                    _ => return None,
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let udp_len = u16::try_from(payload.len())
            .ok()
            .and_then(|n| n.checked_add(8))
            .expect("a test payload fits one UDP datagram");
        let total = udp_len.checked_add(20).expect("and one IPv4 packet");
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&udp_len.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn classifies_4500_payloads() {
        let d = frame_to_datagram(1, DataLink::RAW, &udp4(4500, 4500, &[0xff])).unwrap();
        assert_eq!(d.kind, Kind::NatKeepalive);
        let d =
            frame_to_datagram(1, DataLink::RAW, &udp4(4500, 4500, &[0, 0, 0, 0, 1, 2, 3])).unwrap();
        assert_eq!(
            (d.kind, d.payload.as_slice()),
            (Kind::Isakmp, &[1u8, 2, 3][..])
        );
        let d = frame_to_datagram(
            1,
            DataLink::RAW,
            &udp4(4500, 4500, &[0, 0, 1, 0, 0, 0, 0, 1]),
        )
        .unwrap();
        assert_eq!(d.kind, Kind::EspInUdp);
        assert!(frame_to_datagram(1, DataLink::RAW, &udp4(53, 53, &[1])).is_none());
    }

    /// What a frame cut to `n` bytes of its IPv4 packet (`udp4(500, 500, &[7; 40])`)
    /// decodes to: nothing while the ports are cut, a runt while the UDP header is, then
    /// the captured part of the payload (the UDP length is not trusted past the capture).
    fn cut_udp4_expectation(n: usize) -> Option<(Kind, Vec<u8>)> {
        match n {
            0..=23 => None,
            24..=28 => Some((Kind::Runt, Vec::new())),
            _ => Some((Kind::Isakmp, vec![7; n.min(68).saturating_sub(28)])),
        }
    }

    #[test]
    fn truncated_frames_are_skipped_not_fatal() {
        let ip = udp4(500, 500, &[7; 40]);
        assert_eq!(ip.len(), 68);
        let mut eth = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        eth.extend_from_slice(&ip);
        // BSD loopback: AF_INET in host order.
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&ip);
        // Cut inside the link header, the IPv4 header or the UDP ports: skipped; inside
        // the rest of the UDP header: a runt; then as much payload as there is (40 cuts).
        for (link, frame, header, skipped) in [
            (DataLink::RAW, &ip, 0, 24),
            (DataLink::ETHERNET, &eth, 14, 38),
            (DataLink::NULL, &null, 4, 28),
        ] {
            let mut kinds = Vec::new();
            for n in 0..=frame.len() {
                let got = frame_to_datagram(9, link, frame.get(..n).expect("a prefix"));
                let want = n.checked_sub(header).and_then(cut_udp4_expectation);
                match (&got, &want) {
                    (None, None) => {}
                    (Some(d), Some((kind, payload))) => {
                        assert_eq!(
                            (d.frame, d.src, d.dst, d.sport, d.dport),
                            (
                                9,
                                "10.0.0.1".parse().expect("an address"),
                                "10.0.0.2".parse().expect("an address"),
                                500,
                                500
                            ),
                            "{link:?} cut to {n}"
                        );
                        assert_eq!(
                            (d.kind, &d.payload),
                            (*kind, payload),
                            "{link:?} cut to {n}"
                        );
                    }
                    _ => panic!("{link:?} cut to {n}: got {got:?}, want {want:?}"),
                }
                kinds.push(got.map(|d| d.kind));
            }
            let count = |k: Option<Kind>| kinds.iter().filter(|x| **x == k).count();
            assert_eq!(
                (
                    count(None),
                    count(Some(Kind::Runt)),
                    count(Some(Kind::Isakmp))
                ),
                (skipped, 5, 40),
                "{link:?}"
            );
        }
    }
}
