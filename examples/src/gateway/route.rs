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

use pix_primitives::Ipv4Packet;

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
/// 32-bit arithmetic only, so that the kernel computes the same in the sockets' steering
/// program ([`steering_program`]).
#[must_use]
pub fn of_peer(count: u8, key: u64, peer: std::net::IpAddr) -> u8 {
    if count <= 1 {
        return 0;
    }
    let a = match peer {
        std::net::IpAddr::V4(a) => u32::from(a),
        std::net::IpAddr::V6(a) => {
            let b = u128::from(a);
            (b as u32) ^ ((b >> 32) as u32) ^ ((b >> 64) as u32) ^ ((b >> 96) as u32)
        }
    };
    // count > 1 here: the remainder is a shard index below it
    mix(a ^ key as u32)
        .checked_rem(u32::from(count))
        .unwrap_or(0) as u8
}

/// The multipliers and shifts of [`mix`] (the finaliser of MurmurHash3).
const MIX: [(u32, u32); 3] = [(0x9E37_79B1, 16), (0x85EB_CA6B, 13), (0xC2B2_AE35, 16)];

fn mix(mut x: u32) -> u32 {
    for (m, r) in MIX {
        x = x.wrapping_mul(m);
        x ^= x >> r;
    }
    x
}

/// A classic BPF instruction (`struct sock_filter`): code, jump if true, jump if
/// false, constant.
pub type BpfInsn = (u16, u8, u8, u32);

/// Classic BPF opcodes (linux/filter.h) of the steering programs.
pub mod bpf {
    /// `A = P[k:4]`.
    pub const LD_W_ABS: u16 = 0x20;
    /// `A = P[k:1]`.
    pub const LD_B_ABS: u16 = 0x30;
    /// `A = len`.
    pub const LD_W_LEN: u16 = 0x80;
    /// `if A == k`.
    pub const JEQ_K: u16 = 0x15;
    /// `if A >= k`.
    pub const JGE_K: u16 = 0x35;
    /// `A ^= k`.
    pub const XOR_K: u16 = 0xa4;
    /// `A ^= X`.
    pub const XOR_X: u16 = 0xac;
    /// `A *= k`.
    pub const MUL_K: u16 = 0x24;
    /// `A >>= k`.
    pub const RSH_K: u16 = 0x74;
    /// `A %= k`.
    pub const MOD_K: u16 = 0x94;
    /// `X = A`.
    pub const TAX: u16 = 0x07;
    /// Return `k`.
    pub const RET_K: u16 = 0x06;
    /// Return `A`.
    pub const RET_A: u16 = 0x16;
    /// Offset of the network header for loads (`SKF_NET_OFF`).
    pub const NET_OFF: u32 = 0xFFF0_0000;
}

/// One step of a program being assembled: an instruction, a jump to labels (`None`:
/// the next instruction), or a label.
enum Step {
    Op(u16, u32),
    Jump(u16, u32, Option<&'static str>, Option<&'static str>),
    Label(&'static str),
}

fn assemble(steps: &[Step]) -> Vec<BpfInsn> {
    let mut at = std::collections::BTreeMap::new();
    let mut n = 0usize;
    for s in steps {
        match s {
            Step::Label(l) => {
                at.insert(*l, n);
            }
            _ => n = n.saturating_add(1),
        }
    }
    let mut out = Vec::with_capacity(n);
    for s in steps {
        match s {
            Step::Op(code, k) => out.push((*code, 0, 0, *k)),
            Step::Jump(code, k, t, f) => {
                let here = out.len().saturating_add(1);
                let off = |l: &Option<&'static str>| {
                    l.and_then(|l| at.get(l)).map_or(0, |t: &usize| {
                        u8::try_from(t.saturating_sub(here)).unwrap_or(0)
                    })
                };
                out.push((*code, off(t), off(f), *k));
            }
            Step::Label(_) => {}
        }
    }
    out
}

/// The kernel's steering program for the `SO_REUSEPORT` group of our UDP port
/// `port` (500 or 4500) over `count` sockets, socket `i` being shard `i`'s: it sees the
/// UDP payload and returns the shard that owns the datagram, as [`udp`] and [`of_peer`]
/// decide (a datagram it cannot place, a NAT keepalive or a runt, gets an index past the
/// group, which makes the kernel fall back to its hash of addresses and ports).
#[must_use]
pub fn steering_program(port: u16, count: u8, key: u64) -> Vec<BpfInsn> {
    use bpf::*;
    use Step::{Jump, Label, Op};
    let n = u32::from(count.max(1));
    // The IKE header's responder cookie (its offset, its second word's, its end's):
    // after the non-ESP marker on 4500.
    let [cookie, cookie_low, cookie_end] = if port == 4500 {
        [12, 16, 20]
    } else {
        [8, 12, 16]
    };
    let mut p = vec![Op(LD_W_LEN, 0)];
    if port == 4500 {
        p.extend([
            Jump(JGE_K, 8, None, Some("any")),
            Op(LD_W_ABS, 0),
            Jump(JEQ_K, 0, Some("ike"), None),
            // ESP: the SPI's first byte.
            Op(LD_B_ABS, 0),
            Op(MOD_K, n),
            Op(RET_A, 0),
            Label("ike"),
            Op(LD_W_LEN, 0),
        ]);
    }
    p.extend([
        Jump(JGE_K, cookie_end, None, Some("any")),
        Op(LD_W_ABS, cookie),
        Jump(JEQ_K, 0, None, Some("cookie")),
        Op(LD_W_ABS, cookie_low),
        Jump(JEQ_K, 0, Some("peer"), None),
        Label("cookie"),
        Op(LD_B_ABS, cookie),
        Op(MOD_K, n),
        Op(RET_A, 0),
        Label("peer"),
        Op(LD_W_ABS, bpf::NET_OFF + 12),
        Op(XOR_K, key as u32),
    ]);
    for (m, r) in MIX {
        p.extend([Op(MUL_K, m), Op(TAX, 0), Op(RSH_K, r), Op(XOR_X, 0)]);
    }
    p.extend([
        Op(MOD_K, n),
        Op(RET_A, 0),
        Label("any"),
        Op(RET_K, u32::MAX),
    ]);
    assemble(&p)
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
///
/// Steering reads only the header length, as the kernel's steering program does (the two
/// must agree); the shard that takes the packet checks the rest
/// ([`Ipv4Packet::new_checked`]) and counts what it refuses.
pub fn raw(count: u8, packet: &[u8]) -> Route {
    let ihl = Ipv4Packet::new_unchecked(packet).header_len();
    match packet.get(ihl..) {
        Some(e) if ihl >= 20 => esp(count, e),
        _ => Route::Any,
    }
}

/// The destination of an IPv4 packet from the inside.
#[must_use]
///
/// `None` for what [`Ipv4Packet::new_checked`] refuses: the worker that read it drops
/// and counts it.
pub fn inside_destination(packet: &[u8]) -> Option<Ipv4Addr> {
    Ipv4Packet::new_checked(packet).ok().map(|ip| ip.dst_addr())
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

    /// The classic BPF machine for the steering programs' instructions (`src` is the
    /// IPv4 source the network-header loads see; an out-of-range load returns 0).
    fn run(prog: &[BpfInsn], p: &[u8], src: std::net::Ipv4Addr) -> u32 {
        use bpf::*;
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let net: Vec<u8> = [
            vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0],
            src.octets().to_vec(),
        ]
        .concat();
        while let Some(&(code, jt, jf, k)) = prog.get(pc) {
            pc = pc.saturating_add(1);
            let word = |o: u32| -> Option<u32> {
                let (buf, o) = match o.checked_sub(NET_OFF) {
                    Some(in_net) => (&net[..], in_net as usize),
                    None => (p, o as usize),
                };
                buf.get(o..o.checked_add(4)?)
                    .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
            };
            match code {
                LD_W_LEN => a = p.len() as u32,
                LD_W_ABS => match word(k) {
                    Some(w) => a = w,
                    None => return 0,
                },
                LD_B_ABS => match p.get(k as usize) {
                    Some(b) => a = u32::from(*b),
                    None => return 0,
                },
                JEQ_K => pc = pc.saturating_add(usize::from(if a == k { jt } else { jf })),
                JGE_K => pc = pc.saturating_add(usize::from(if a >= k { jt } else { jf })),
                XOR_K => a ^= k,
                XOR_X => a ^= x,
                MUL_K => a = a.wrapping_mul(k),
                RSH_K => a >>= k,
                // the kernel refuses a program that divides by a constant 0
                MOD_K => a = a.checked_rem(k).expect("MOD by a constant 0"),
                TAX => x = a,
                RET_K => return k,
                RET_A => return a,
                other => panic!("opcode {other:#x} not modelled"),
            }
        }
        panic!("fell off the end")
    }

    /// What the steering program must return for a payload: the shard `udp` and
    /// `of_peer` name, or past the group when anything may take it.
    fn expected(port: u16, count: u8, key: u64, p: &[u8], src: std::net::Ipv4Addr) -> u32 {
        match udp(count, port, p) {
            Route::Shard(s) => u32::from(s),
            Route::Any => {
                let is_ike = if port == 4500 {
                    p.len() >= 20 && p[..4] == [0; 4]
                } else {
                    p.len() >= 16
                };
                if is_ike {
                    u32::from(of_peer(count, key, std::net::IpAddr::V4(src)))
                } else {
                    u32::MAX
                }
            }
        }
    }

    #[test]
    fn the_kernel_steering_program_agrees_with_the_routing_functions() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for count in [2u8, 3, 4, 7, 64] {
            for port in [500u16, 4500] {
                let key = next();
                let prog = steering_program(port, count, key);
                for _ in 0..400 {
                    let src = std::net::Ipv4Addr::from(next() as u32);
                    let r = next();
                    let len = (r % 40) as usize;
                    let mut p: Vec<u8> = (0..len).map(|i| (next() >> (i % 8)) as u8).collect();
                    match r % 5 {
                        // a first message: zero responder cookie
                        0 | 1 => {
                            let at = if port == 4500 { 12 } else { 8 };
                            if port == 4500 && p.len() >= 4 {
                                p[..4].fill(0);
                            }
                            if p.len() >= at + 8 {
                                p[at..at + 8].fill(0);
                            }
                        }
                        // IKE behind the marker
                        2 if port == 4500 && p.len() >= 4 => p[..4].fill(0),
                        _ => {}
                    }
                    if r % 7 == 0 {
                        p = vec![0xff];
                    }
                    assert_eq!(
                        run(&prog, &p, src),
                        expected(port, count, key, &p, src),
                        "port {port} count {count} payload {p:02x?}"
                    );
                }
            }
        }
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
