//! The compiled classifier and the static index give the linear scan's first match.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // test code
#![allow(clippy::disallowed_methods)]

use pix_nat::nat::{StaticReal, StaticRule, StaticTable};
use pix_nat::{Ace, AclAction, Classifier, PortMatch, Tuple};
use proptest::prelude::*;

/// Addresses from a few small regions so that rules and packets collide often.
fn addr() -> impl Strategy<Value = u32> {
    (0u32..4, 0u32..1024)
        .prop_map(|(r, x)| [0x0A00_0000u32, 0x0A00_4000, 0xC0A8_0100, 0xFFFF_FC00][r as usize] + x)
}

fn mask() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => Just(u32::MAX),
        2 => (20u32..32).prop_map(|l| u32::MAX << (32 - l)),
        1 => Just(0u32),
        1 => (1u32..20).prop_map(|l| u32::MAX << (32 - l)),
        // non-contiguous netmasks are accepted by the parser: the index must cope
        1 => any::<u32>(),
    ]
}

fn port() -> impl Strategy<Value = PortMatch> {
    prop_oneof![
        3 => Just(PortMatch::ANY),
        3 => (0u16..40).prop_map(|p| PortMatch { lo: p, hi: p, negate: false }),
        1 => (0u16..40).prop_map(|p| PortMatch { lo: p, hi: p, negate: true }),
        1 => (0u16..40, 0u16..40).prop_map(|(a, b)| PortMatch { lo: a.min(b), hi: a.max(b), negate: false }),
    ]
}

fn ace() -> impl Strategy<Value = Ace> {
    (
        prop_oneof![Just(0u8), Just(1u8), Just(6u8), Just(17u8), Just(47u8)],
        addr(),
        mask(),
        addr(),
        mask(),
        port(),
        port(),
        proptest::option::of(0u8..4),
        any::<bool>(),
    )
        .prop_map(|(proto, s, sm, d, dm, sp, dp, icmp, permit)| {
            let ported = proto == 6 || proto == 17;
            Ace {
                proto,
                src: s & sm,
                src_mask: sm,
                dst: d & dm,
                dst_mask: dm,
                sport: if ported { sp } else { PortMatch::ANY },
                dport: if ported { dp } else { PortMatch::ANY },
                icmp_type: if proto == 1 { icmp } else { None },
                action: if permit {
                    AclAction::Permit
                } else {
                    AclAction::Deny
                },
                line: 0,
            }
        })
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (
        prop_oneof![Just(1u8), Just(6u8), Just(17u8), Just(47u8)],
        addr(),
        addr(),
        0u16..40,
        0u16..40,
        0u8..4,
    )
        .prop_map(|(proto, src, dst, sport, dport, icmp_type)| Tuple {
            proto,
            src,
            dst,
            sport,
            dport,
            icmp_type,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn classifier_equals_linear_scan(aces in proptest::collection::vec(ace(), 0..200), pkts in proptest::collection::vec(tuple(), 1..64)) {
        let c = Classifier::new(aces.clone());
        for t in &pkts {
            prop_assert_eq!(c.first_match(t), pix_nat::acl::linear_first_match(&aces, t));
        }
        // and for packets taken from the rules themselves (guaranteed near-hits)
        for a in aces.iter().take(32) {
            let t = Tuple { proto: if a.proto == 0 { 6 } else { a.proto }, src: a.src, dst: a.dst, sport: a.sport.lo, dport: a.dport.lo, icmp_type: a.icmp_type.unwrap_or(0) };
            prop_assert_eq!(c.first_match(&t), pix_nat::acl::linear_first_match(&aces, &t));
        }
    }

    #[test]
    fn static_index_equals_linear_scan(
        rules in proptest::collection::vec((0usize..2, addr(), addr(), prop_oneof![Just(u32::MAX), Just(0xFFFF_FF00u32), Just(0xFFFF_0000u32)], proptest::option::of((prop_oneof![Just(6u8), Just(17u8)], 0u16..8, 0u16..8))), 0..60),
        pkts in proptest::collection::vec((tuple(), 0usize..2), 1..64),
    ) {
        let statics: Vec<StaticRule> = rules.iter().enumerate().map(|(i, (dir, mapped, real, mask, ports))| StaticRule {
            line: i as u32 + 1,
            real_if: 1 - dir,
            mapped_if: *dir,
            proto: ports.map(|p| p.0),
            mapped_port: ports.map_or(0, |p| p.1),
            real_port: ports.map_or(0, |p| p.2),
            mapped: *mapped,
            real: StaticReal::Address(*real),
            mask: *mask,
        }).collect();
        let table = StaticTable::new(statics);
        let acls = pix_nat::nat::AclMap::default();
        for (t, input) in &pkts {
            let t = Tuple { sport: t.sport % 8, dport: t.dport % 8, ..*t };
            prop_assert_eq!(table.find_inbound(*input, &t, &acls), table.find_inbound_linear(*input, &t, &acls));
            prop_assert_eq!(table.find_outbound(*input, 1 - input, &t, &acls), table.find_outbound_linear(*input, 1 - input, &t, &acls));
        }
    }
}
