//! Property tests: the reader never panics and accounts for every byte, the IPv4 view
//! accepts exactly the valid headers, the backoff never exceeds its cap and gives up
//! after its sends.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::time::{Duration, Instant};

use pix_primitives::retransmit::{Action, Backoff, Retransmit};
use pix_primitives::{Ipv4Error, Ipv4Packet, Reader, Secret};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    U8,
    U16,
    U32,
    Arr3,
    Take(usize),
    Skip(usize),
    Rest,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::U8),
        Just(Op::U16),
        Just(Op::U32),
        Just(Op::Arr3),
        (0usize..80).prop_map(Op::Take),
        (0usize..80).prop_map(Op::Skip),
        Just(Op::Rest),
    ]
}

/// The valid-header predicate, written out from RFC 791 independently of the view.
fn valid(b: &[u8]) -> bool {
    if b.is_empty() || b[0] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(b[0] & 15) * 4;
    if ihl < 20 || b.len() < ihl {
        return false;
    }
    let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
    total >= ihl && total <= b.len()
}

fn t0() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

proptest! {
    #[test]
    fn reader_never_panics_and_accounts_for_every_byte(
        input in proptest::collection::vec(any::<u8>(), 0..100),
        start in 0usize..10_000,
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        let mut r = Reader::new(&input, start);
        for o in ops {
            let before = (r.offset(), r.remaining());
            let want = match o {
                Op::U8 => 1, Op::U16 => 2, Op::U32 => 4, Op::Arr3 => 3,
                Op::Take(n) | Op::Skip(n) => n, Op::Rest => before.1,
            };
            let ok = match o {
                Op::U8 => r.u8("x").map(|_| ()),
                Op::U16 => r.u16("x").map(|_| ()),
                Op::U32 => r.u32("x").map(|_| ()),
                Op::Arr3 => r.array::<3>("x").map(|_| ()),
                Op::Take(n) => r.take(n, "x").map(|s| assert_eq!(s.len(), n)),
                Op::Skip(n) => r.skip(n, "x"),
                Op::Rest => { r.take_rest(); Ok(()) }
            };
            match ok {
                Ok(()) => {
                    prop_assert!(want <= before.1);
                    prop_assert_eq!(r.offset(), before.0 + want);
                    prop_assert_eq!(r.remaining(), before.1 - want);
                }
                Err(e) => {
                    prop_assert!(want > before.1);
                    prop_assert_eq!((e.offset, e.needed, e.available), (before.0, want, before.1));
                    prop_assert_eq!((r.offset(), r.remaining()), before);
                }
            }
            prop_assert_eq!(r.offset() - start + r.remaining(), input.len());
            prop_assert_eq!(r.rest(), &input[r.offset() - start..]);
        }
    }

    #[test]
    fn ipv4_new_checked_accepts_exactly_the_valid_headers(
        mut b in proptest::collection::vec(any::<u8>(), 0..100),
        vihl in prop_oneof![0x40u8..0x50, any::<u8>()],
        total in prop_oneof![0u16..100, any::<u16>()],
    ) {
        if let Some(x) = b.get_mut(0) { *x = vihl; }
        if b.len() >= 4 { b[2..4].copy_from_slice(&total.to_be_bytes()); }
        let r = Ipv4Packet::new_checked(&b[..]);
        prop_assert_eq!(r.is_ok(), valid(&b), "{:?}", r);
        if let Ok(p) = r {
            prop_assert_eq!(p.payload().len(), usize::from(p.total_len()) - p.header_len());
            prop_assert_eq!(p.header().len(), p.header_len());
            prop_assert_eq!(p.src_addr().octets(), [b[12], b[13], b[14], b[15]]);
            prop_assert_eq!(p.dst_addr().octets(), [b[16], b[17], b[18], b[19]]);
            prop_assert_eq!(p.next_header(), b[9]);
        } else {
            let e: Ipv4Error = r.unwrap_err();
            prop_assert!(!e.to_string().is_empty());
            // accessors of an unchecked view still do not panic
            let p = Ipv4Packet::new_unchecked(&b[..]);
            let _ = (p.payload(), p.src_addr(), p.verify_checksum(), p.frag_offset());
        }
    }

    #[test]
    fn ipv4_checksum_filled_verifies_and_a_flipped_bit_does_not(
        mut b in proptest::collection::vec(any::<u8>(), 20..60),
        bit in 8usize..160, // the version/IHL byte changes what the header is
    ) {
        b[0] = 0x45;
        let len = u16::try_from(b.len()).unwrap();
        b[2..4].copy_from_slice(&len.to_be_bytes());
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        prop_assert!(p.verify_checksum());
        b[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!Ipv4Packet::new_unchecked(&b[..]).verify_checksum());
    }

    #[test]
    fn backoff_never_exceeds_its_cap_and_gives_up_after_max_sends(
        initial_ms in 1u64..10_000,
        cap_ms in 1u64..100_000,
        max_sends in any::<u8>(),
        late_ms in 0u64..50,
    ) {
        let b = Backoff {
            initial: Duration::from_millis(initial_ms),
            max_interval: Duration::from_millis(cap_ms),
            max_sends,
        };
        let cap = b.max_interval.max(b.initial);
        let t = t0();
        let mut r = Retransmit::started(b, t);
        let mut now = t;
        let mut prev = Duration::ZERO;
        let mut total = Duration::ZERO;
        let mut resends = 0u32;
        loop {
            let d = r.deadline().unwrap();
            let wait = d - now;
            prop_assert!(wait <= cap && wait >= b.initial);
            prop_assert!(wait >= prev, "waits never shrink");
            prev = wait;
            total += wait;
            prop_assert_eq!(r.on_timeout(d - Duration::from_nanos(1)), Action::NotYet);
            now = d + Duration::from_millis(late_ms);
            total += Duration::from_millis(late_ms);
            match r.on_timeout(now) {
                Action::Resend => resends += 1,
                Action::GiveUp => break,
                Action::NotYet => prop_assert!(false, "due but not acted on"),
            }
            prop_assert!(resends < 256, "bounded");
        }
        prop_assert_eq!(r.sends(), max_sends.max(1));
        prop_assert_eq!(resends + 1, u32::from(max_sends.max(1)));
        prop_assert_eq!(r.deadline(), None);
        prop_assert_eq!(total, b.total() + Duration::from_millis(late_ms) * u32::from(b.sends()));
    }

    #[test]
    fn secret_equality_is_byte_equality(
        a in proptest::collection::vec(any::<u8>(), 0..130),
        b in proptest::collection::vec(any::<u8>(), 0..130),
        split in 0usize..130,
    ) {
        let sa = Secret::from_slice(&a);
        prop_assert_eq!(sa == Secret::from(b.clone()), a == b);
        prop_assert_eq!(sa.ct_eq(&b), a == b);
        let mut grown = Secret::with_capacity(split);
        let cut = split.min(a.len());
        grown.extend_from_slice(&a[..cut]);
        grown.extend_from_slice(&a[cut..]);
        prop_assert_eq!(grown.expose_secret(), &a[..]);
        prop_assert_eq!(format!("{grown:?}"), "<redacted>");
    }
}
