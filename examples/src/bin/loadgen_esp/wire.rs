//! The inner packets of the ESP load: IPv4 + UDP (checksum zero, which IPv4 allows)
//! around a small message of our own, and the control exchange between the load
//! generator and the inside counterpart, carried through the tunnels themselves.
//!
//! Every message starts with a 12-byte header: `PXLG`, an op code, three zero bytes
//! and the run ID (big-endian), which the counterpart keys its counters by.
//!
//! ```text
//! DATA    hdr | tunnel u32 | seq u64 | zero fill up to the packet size
//! START   hdr | direction u8 (1 up, 2 down, 3 both) | 0 0 0 | down milli-pps u64
//!             | inner size u16 | 0 0 | duration ms u32           (client -> inside)
//! ACK     hdr                                                    (inside -> client)
//! QUERY   hdr                                                    (client -> inside)
//! REPORT  hdr | rx packets u64 | rx bytes u64 | tx packets u64 | tx errors u64
//! ```

use std::net::{Ipv4Addr, SocketAddrV4};

/// The magic at the start of every message.
pub const MAGIC: [u8; 4] = *b"PXLG";
/// The common header: magic, op, 3 zero bytes, run ID.
pub const HDR: usize = 12;
/// IPv4 header (no options) + UDP header.
pub const IP_UDP: usize = 28;
/// A DATA message's fixed part.
pub const DATA_LEN: usize = HDR + 12;
/// The smallest inner packet the load sends (IP + UDP + DATA).
pub const MIN_INNER: usize = IP_UDP + DATA_LEN;
/// The largest inner packet (fits a 1500-byte path after ESP and the outer header).
pub const MAX_INNER: usize = 1400;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Load.
    Data,
    /// Reset the counters for a run, start sending down.
    Start,
    /// START received.
    Ack,
    /// Ask for the counters of the run.
    Query,
    /// The counters.
    Report,
}

impl Op {
    fn code(self) -> u8 {
        match self {
            Op::Data => 0,
            Op::Start => 1,
            Op::Ack => 2,
            Op::Query => 3,
            Op::Report => 4,
        }
    }

    fn from_code(c: u8) -> Option<Op> {
        Some(match c {
            0 => Op::Data,
            1 => Op::Start,
            2 => Op::Ack,
            3 => Op::Query,
            4 => Op::Report,
            _ => return None,
        })
    }
}

/// The parameters of a START.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Bit 0: up, bit 1: down.
    pub direction: u8,
    /// Down packets per second to this client, in thousandths (0: as fast as possible).
    pub milli_pps: u64,
    /// Inner packet size (IP header included).
    pub size: u16,
    /// How long to send down.
    pub duration_ms: u32,
}

/// The counters of one client in one run, as the inside counterpart keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// DATA packets received from the client.
    pub rx_packets: u64,
    /// Their inner IP bytes.
    pub rx_bytes: u64,
    /// DATA packets sent to the client.
    pub tx_packets: u64,
    /// Sends the kernel refused.
    pub tx_errors: u64,
}

/// Writes the header; returns `None` if `out` is too short.
pub fn header(out: &mut [u8], op: Op, run: u32) -> Option<()> {
    let h = out.get_mut(..HDR)?;
    h.fill(0);
    h.get_mut(..4)?.copy_from_slice(&MAGIC);
    *h.get_mut(4)? = op.code();
    h.get_mut(8..12)?.copy_from_slice(&run.to_be_bytes());
    Some(())
}

/// The op, run ID and body of a message, or `None` if it is not one of ours.
pub fn parse(msg: &[u8]) -> Option<(Op, u32, &[u8])> {
    if msg.get(..4)? != MAGIC {
        return None;
    }
    let op = Op::from_code(*msg.get(4)?)?;
    let run = u32::from_be_bytes(msg.get(8..12)?.try_into().ok()?);
    Some((op, run, msg.get(HDR..)?))
}

/// Writes a DATA message's tunnel and sequence number after its header.
pub fn data(out: &mut [u8], run: u32, tunnel: u32, seq: u64) -> Option<()> {
    header(out, Op::Data, run)?;
    out.get_mut(HDR..HDR + 4)?
        .copy_from_slice(&tunnel.to_be_bytes());
    out.get_mut(HDR + 4..DATA_LEN)?
        .copy_from_slice(&seq.to_be_bytes());
    Some(())
}

/// A START message.
pub fn start(run: u32, s: &Start) -> Vec<u8> {
    let mut v = vec![0u8; HDR + 20];
    let _ = header(&mut v, Op::Start, run);
    if let Some(b) = v.get_mut(HDR) {
        *b = s.direction;
    }
    put(&mut v, HDR + 4, &s.milli_pps.to_be_bytes());
    put(&mut v, HDR + 12, &s.size.to_be_bytes());
    put(&mut v, HDR + 16, &s.duration_ms.to_be_bytes());
    v
}

/// Reads the body of a START.
pub fn parse_start(body: &[u8]) -> Option<Start> {
    Some(Start {
        direction: *body.first()?,
        milli_pps: u64::from_be_bytes(body.get(4..12)?.try_into().ok()?),
        size: u16::from_be_bytes(body.get(12..14)?.try_into().ok()?),
        duration_ms: u32::from_be_bytes(body.get(16..20)?.try_into().ok()?),
    })
}

/// A message that is only a header (ACK, QUERY).
pub fn bare(op: Op, run: u32) -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    let _ = header(&mut v, op, run);
    v
}

/// A REPORT message.
pub fn report(run: u32, c: &Counters) -> Vec<u8> {
    let mut v = vec![0u8; HDR + 32];
    let _ = header(&mut v, Op::Report, run);
    let fields = [c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_errors];
    for (at, x) in (HDR..).step_by(8).zip(fields) {
        put(&mut v, at, &x.to_be_bytes());
    }
    v
}

/// Reads the body of a REPORT.
pub fn parse_report(body: &[u8]) -> Option<Counters> {
    let at = |i: usize| -> Option<u64> {
        let from = i.checked_mul(8)?;
        Some(u64::from_be_bytes(
            body.get(from..from.checked_add(8)?)?.try_into().ok()?,
        ))
    };
    Some(Counters {
        rx_packets: at(0)?,
        rx_bytes: at(1)?,
        tx_packets: at(2)?,
        tx_errors: at(3)?,
    })
}

fn put(v: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(d) = v.get_mut(at..at.saturating_add(bytes.len())) {
        d.copy_from_slice(bytes);
    }
}

/// Writes an IPv4 header (DF, TTL 64, its checksum) and a UDP header (checksum zero)
/// for `payload_len` bytes of UDP payload into `out[..28]`.
pub fn ipv4_udp(
    out: &mut [u8],
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload_len: usize,
) -> Option<()> {
    let total = u16::try_from(payload_len.checked_add(IP_UDP)?).ok()?;
    let udp_len = total.checked_sub(20)?;
    let h = out.get_mut(..IP_UDP)?;
    h.fill(0);
    *h.get_mut(0)? = 0x45;
    h.get_mut(2..4)?.copy_from_slice(&total.to_be_bytes());
    *h.get_mut(6)? = 0x40; // DF
    *h.get_mut(8)? = 64;
    *h.get_mut(9)? = 17;
    h.get_mut(12..16)?.copy_from_slice(&src.ip().octets());
    h.get_mut(16..20)?.copy_from_slice(&dst.ip().octets());
    let sum = checksum(h.get(..20)?);
    h.get_mut(10..12)?.copy_from_slice(&sum.to_be_bytes());
    h.get_mut(20..22)?
        .copy_from_slice(&src.port().to_be_bytes());
    h.get_mut(22..24)?
        .copy_from_slice(&dst.port().to_be_bytes());
    h.get_mut(24..26)?.copy_from_slice(&udp_len.to_be_bytes());
    Some(())
}

/// The source, destination and UDP payload of an IPv4 UDP packet (options allowed),
/// or `None` for anything else or a truncated packet.
pub fn parse_ipv4_udp(p: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, &[u8])> {
    let v_ihl = *p.first()?;
    if v_ihl >> 4 != 4 || *p.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(v_ihl & 0x0f).checked_mul(4)?;
    let total = usize::from(u16::from_be_bytes(p.get(2..4)?.try_into().ok()?));
    let ip = |at: usize| -> Option<Ipv4Addr> {
        let o: [u8; 4] = p.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(Ipv4Addr::from(o))
    };
    let port = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(
            p.get(at..at.checked_add(2)?)?.try_into().ok()?,
        ))
    };
    let src = SocketAddrV4::new(ip(12)?, port(ihl)?);
    let dst = SocketAddrV4::new(ip(16)?, port(ihl.checked_add(2)?)?);
    let payload = p.get(ihl.checked_add(8)?..total)?;
    Some((src, dst, payload))
}

/// The Internet checksum (RFC 1071) of `b`.
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum = sum.wrapping_add(u32::from(w));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let s = Start {
            direction: 3,
            milli_pps: 250_000,
            size: 1400,
            duration_ms: 2000,
        };
        let m = start(7, &s);
        let (op, run, body) = parse(&m).unwrap();
        assert_eq!((op, run), (Op::Start, 7));
        assert_eq!(parse_start(body), Some(s));
        let c = Counters {
            rx_packets: 1,
            rx_bytes: 2,
            tx_packets: 3,
            tx_errors: 4,
        };
        let m = report(9, &c);
        let (op, run, body) = parse(&m).unwrap();
        assert_eq!((op, run), (Op::Report, 9));
        assert_eq!(parse_report(body), Some(c));
        assert_eq!(
            parse(&bare(Op::Query, 5)).map(|x| (x.0, x.1)),
            Some((Op::Query, 5))
        );
        assert!(parse(b"PXLX\x00\x00\x00\x00\x00\x00\x00\x01").is_none());
        assert!(parse(b"PXLG\x09\x00\x00\x00\x00\x00\x00\x01").is_none());
        for n in 0..m.len() {
            let _ = parse(&m[..n]).map(|(_, _, b)| parse_report(b));
        }
    }

    #[test]
    fn inner_packet_parses_back_with_a_valid_header_checksum() {
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 89, 130, 1), 40000);
        let dst = SocketAddrV4::new(Ipv4Addr::new(10, 89, 129, 131), 9000);
        let mut p = vec![0u8; 64];
        ipv4_udp(&mut p, src, dst, 64 - IP_UDP).unwrap();
        data(&mut p[IP_UDP..], 1, 2, 3).unwrap();
        assert_eq!(
            checksum(&p[..20]),
            0,
            "a header with its checksum sums to zero"
        );
        let (s, d, payload) = parse_ipv4_udp(&p).unwrap();
        assert_eq!((s, d, payload.len()), (src, dst, 64 - IP_UDP));
        let (op, run, body) = parse(payload).unwrap();
        assert_eq!((op, run), (Op::Data, 1));
        assert_eq!(&body[..4], &2u32.to_be_bytes());
        // truncated or not UDP: refused, never a panic
        for n in 0..p.len() {
            assert!(parse_ipv4_udp(&p[..n]).is_none());
        }
        p[9] = 6;
        assert!(parse_ipv4_udp(&p).is_none());
    }
}
