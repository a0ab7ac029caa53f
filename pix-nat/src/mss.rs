//! `sysopt connection tcpmss N`: the Maximum Segment Size option of a TCP SYN (or
//! SYN-ACK) larger than N is lowered to N, and the TCP checksum updated incrementally
//! (RFC 1624), so that segments fit the tunnel without fragmentation. Sans-IO: a pure
//! function over the packet's bytes.
//!
//! ```
//! use pix_nat::mss::clamp_mss;
//! // IPv4 (20 bytes) + TCP SYN with MSS 1460 (24 bytes), checksums left at zero
//! let mut p = vec![0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! p.extend([0, 80, 0x30, 0x39, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
//! p.extend([2, 4, 0x05, 0xb4]);
//! assert_eq!(clamp_mss(&mut p, 1380), Some(1460));
//! assert_eq!(&p[42..44], &1380u16.to_be_bytes());
//! ```
//!
//! `sysopt connection tcpmss minimum N` raises a smaller MSS to N ([`adjust_mss`]).

/// Lowers the MSS option of an IPv4 TCP SYN in `packet` to `max`; the MSS it had when
/// it was lowered, `None` when nothing changed (`max` 0, no SYN, a fragment other than
/// the first, no MSS option, one already at most `max`, or a malformed packet, which
/// is left alone for the policy to judge).
pub fn clamp_mss(packet: &mut [u8], max: u16) -> Option<u16> {
    adjust_mss(packet, 0, max)
}

/// `sysopt connection tcpmss N` with `sysopt connection tcpmss minimum M`: the MSS option
/// of an IPv4 TCP SYN in `packet` is lowered to `max` when above it and raised to `min`
/// when below it (0 turns either bound off); the MSS it had when it changed, `None` when
/// nothing changed (as [`clamp_mss`]).
pub fn adjust_mss(packet: &mut [u8], min: u16, max: u16) -> Option<u16> {
    if max == 0 && min == 0 {
        return None;
    }
    let vihl = *packet.first()?;
    if vihl >> 4 != 4 || *packet.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0f).checked_mul(4)?;
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    let frag = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]);
    if ihl < 20 || total > packet.len() || total < ihl || frag & 0x1fff != 0 {
        return None;
    }
    let tcp = packet.get_mut(ihl..total)?;
    let flags = *tcp.get(13)?;
    if flags & 0x02 == 0 {
        return None;
    }
    let doff = usize::from(*tcp.get(12)? >> 4).checked_mul(4)?;
    if doff < 20 || doff > tcp.len() {
        return None;
    }
    let mut at = 20usize;
    while at < doff {
        let kind = *tcp.get(at)?;
        match kind {
            0 => return None,
            1 => at = at.checked_add(1)?,
            _ => {
                let len = usize::from(*tcp.get(at.checked_add(1)?)?);
                if len < 2 || at.checked_add(len)? > doff {
                    return None;
                }
                if kind == 2 && len == 4 {
                    let v = at.checked_add(2)?;
                    let old = u16::from_be_bytes([*tcp.get(v)?, *tcp.get(v.checked_add(1)?)?]);
                    let max = if max != 0 && old > max {
                        max
                    } else if min != 0 && old < min {
                        min
                    } else {
                        return None;
                    };
                    tcp.get_mut(v..v.checked_add(2)?)?
                        .copy_from_slice(&max.to_be_bytes());
                    let c = u16::from_be_bytes([*tcp.get(16)?, *tcp.get(17)?]);
                    // The option starts at an even or odd byte of the segment: the
                    // 16-bit word the checksum sees is the one at an even offset.
                    let (w_old, w_new) = if v % 2 == 0 {
                        (old, max)
                    } else {
                        // Bytes v-1..v+3 span two words; adjust both.
                        let b = |i: usize| tcp.get(i).copied();
                        let p = b(v.checked_sub(1)?)?;
                        let n = b(v.checked_add(2)?)?;
                        let [o0, o1] = old.to_be_bytes();
                        let [m0, m1] = max.to_be_bytes();
                        let c1 =
                            adjust(c, u16::from_be_bytes([p, o0]), u16::from_be_bytes([p, m0]));
                        let c2 =
                            adjust(c1, u16::from_be_bytes([o1, n]), u16::from_be_bytes([m1, n]));
                        tcp.get_mut(16..18)?.copy_from_slice(&c2.to_be_bytes());
                        return Some(old);
                    };
                    let c2 = adjust(c, w_old, w_new);
                    tcp.get_mut(16..18)?.copy_from_slice(&c2.to_be_bytes());
                    return Some(old);
                }
                at = at.checked_add(len)?;
            }
        }
    }
    None
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn adjust(check: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!check)
        .wrapping_add(u32::from(!old))
        .wrapping_add(u32::from(new));
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0xffff)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::arithmetic_side_effects)] // tests: a real clock for a start instant; small sizes
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The TCP checksum over the pseudo-header, computed from scratch.
    fn tcp_checksum_ok(p: &[u8]) -> bool {
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let tcp = &p[ihl..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&u16::try_from(tcp.len()).unwrap().to_be_bytes());
        pseudo.extend_from_slice(tcp);
        pix_primitives::ipv4::ones_complement_sum(&pseudo) == 0xffff
    }

    fn fill_checksum(p: &mut [u8]) {
        let ihl = usize::from(p[0] & 0x0f) * 4;
        p[ihl + 16] = 0;
        p[ihl + 17] = 0;
        let tcp = p[ihl..].to_vec();
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&u16::try_from(tcp.len()).unwrap().to_be_bytes());
        pseudo.extend_from_slice(&tcp);
        let s = !pix_primitives::ipv4::ones_complement_sum(&pseudo);
        p[ihl + 16..ihl + 18].copy_from_slice(&s.to_be_bytes());
    }

    /// A SYN with options `opts` (padded to 4 bytes with NOPs at the front).
    fn syn(opts: &[u8], flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut o = vec![1u8; (4 - opts.len() % 4) % 4];
        o.extend_from_slice(opts);
        let tcp_len = 20 + o.len() + payload.len();
        let total = u16::try_from(20 + tcp_len).unwrap();
        let mut p = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend([0x30, 0x39, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0]);
        p.push(u8::try_from((20 + o.len()) / 4).unwrap() << 4);
        p.extend([flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(&o);
        p.extend_from_slice(payload);
        fill_checksum(&mut p);
        p
    }

    fn mss_of(p: &[u8]) -> Option<u16> {
        let tcp = &p[20..];
        let doff = usize::from(tcp[12] >> 4) * 4;
        let mut at = 20;
        while at < doff {
            match tcp[at] {
                0 => return None,
                1 => at += 1,
                2 => return Some(u16::from_be_bytes([tcp[at + 2], tcp[at + 3]])),
                _ => at += usize::from(tcp[at + 1]),
            }
        }
        None
    }

    #[test]
    fn clamps_syn_and_syn_ack_not_others() {
        let mut p = syn(&[2, 4, 0x05, 0xb4], 0x02, &[]);
        assert_eq!(clamp_mss(&mut p, 1380), Some(1460));
        assert_eq!(mss_of(&p), Some(1380));
        assert!(tcp_checksum_ok(&p));
        let mut p = syn(&[2, 4, 0x05, 0xb4, 1, 3, 3, 7], 0x12, &[]);
        assert_eq!(clamp_mss(&mut p, 1300), Some(1460));
        assert!(tcp_checksum_ok(&p));
        // already small, off, no SYN
        let mut p = syn(&[2, 4, 0x02, 0x18], 0x02, &[]);
        assert_eq!(clamp_mss(&mut p, 1380), None);
        let mut p = syn(&[2, 4, 0x05, 0xb4], 0x02, &[]);
        assert_eq!(clamp_mss(&mut p, 0), None);
        let mut p = syn(&[2, 4, 0x05, 0xb4], 0x10, &[]);
        assert_eq!(clamp_mss(&mut p, 1380), None);
        assert_eq!(mss_of(&p), Some(1460));
    }

    proptest! {
        /// Any option layout (MSS at an odd or even offset, with other options around
        /// it): the MSS becomes min(old, max) and the checksum stays right.
        #[test]
        fn checksum_stays_right(
            pre in proptest::collection::vec(prop_oneof![Just(vec![1u8]), Just(vec![4u8, 2]), Just(vec![3u8, 3, 7])], 0..4),
            mss in 1u16..,
            max in 1u16..,
            payload in proptest::collection::vec(any::<u8>(), 0..9),
        ) {
            let mut opts: Vec<u8> = pre.concat();
            opts.extend([2, 4]);
            opts.extend(mss.to_be_bytes());
            let mut p = syn(&opts, 0x02, &payload);
            prop_assert!(tcp_checksum_ok(&p));
            let r = clamp_mss(&mut p, max);
            prop_assert_eq!(r, (mss > max).then_some(mss));
            prop_assert_eq!(mss_of(&p), Some(mss.min(max)));
            prop_assert!(tcp_checksum_ok(&p));
        }

        /// With a minimum too: the MSS ends within [min, max] (max wins when min > max)
        /// and the checksum stays right.
        #[test]
        fn minimum_raises_and_checksum_stays_right(
            odd in any::<bool>(),
            mss in 1u16..,
            min in 0u16..2000,
            max in 0u16..,
        ) {
            let mut opts: Vec<u8> = if odd { vec![3, 3, 7] } else { Vec::new() };
            opts.extend([2, 4]);
            opts.extend(mss.to_be_bytes());
            let mut p = syn(&opts, 0x02, &[]);
            let want = if max != 0 && mss > max {
                max
            } else if min != 0 && mss < min {
                min
            } else {
                mss
            };
            let r = adjust_mss(&mut p, min, max);
            prop_assert_eq!(r, (want != mss).then_some(mss));
            prop_assert_eq!(mss_of(&p), Some(want));
            prop_assert!(tcp_checksum_ok(&p));
        }

        /// Garbage never panics.
        #[test]
        fn garbage_never_panics(mut p in proptest::collection::vec(any::<u8>(), 0..80), min in any::<u16>(), max in any::<u16>()) {
            let _ = clamp_mss(&mut p, max);
            let _ = adjust_mss(&mut p, min, max);
        }
    }
}
