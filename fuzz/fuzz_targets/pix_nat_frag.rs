//! pix-nat's IPv4 reassembly and tcpmss clamp: a random sequence of packets (most made
//! to look like fragments of a few datagrams: IPv4 header, a small set of ids and
//! sources, random offsets and flags) on a random clock, with small bounds: no panic,
//! what is held stays within every bound, and a datagram given back is at most
//! 65,535 bytes with a header as long as its total length says. The clamp never panics
//! and never lengthens or shortens a packet.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pix_nat::frag::{Limits, Reassembler};

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let limits = Limits {
        chain: 6,
        datagrams: 8,
        timeout: Duration::from_secs(5),
        per_source_bytes: 4000,
        total_bytes: 10_000,
    };
    let mut r = Reassembler::new(limits);
    let mut rest = data;
    let mut t = 0u64;
    while let [len, step, shape, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (body, after) = tail.split_at(n);
        rest = after;
        t = t.saturating_add(u64::from(*step) * 50);
        let mut p = body.to_vec();
        if shape & 1 == 1 && p.len() >= 20 {
            p[0] = 0x45;
            let total = u16::try_from(p.len()).unwrap_or(u16::MAX);
            p[2..4].copy_from_slice(&total.to_be_bytes());
            p[4..6].copy_from_slice(&u16::from(shape >> 5).to_be_bytes());
            p[6] &= 0x3f;
            p[12..16].copy_from_slice(&[10, 0, 0, (shape >> 1) & 3]);
        }
        let now = start + Duration::from_millis(t);
        if let Ok(Some(d)) = r.push(now, &p) {
            assert!(d.len() <= 65_535);
            let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
            assert_eq!(total, d.len());
        }
        assert!(r.waiting() <= limits.datagrams);
        assert!(r.held_bytes() <= limits.total_bytes);
        let before = p.len();
        let _ = pix_nat::mss::clamp_mss(&mut p, u16::from(*step) * 8);
        assert_eq!(p.len(), before);
    }
    r.expire(start + Duration::from_millis(t) + Duration::from_secs(6));
    assert_eq!((r.waiting(), r.held_bytes()), (0, 0));
});
