//! Property tests of the attribute codec: typed -> bytes -> typed, and accepted bytes ->
//! typed -> bytes, are both the identity.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::{Ipv4Addr, Ipv6Addr};

use isakmp_wire::attr::OwnedAttribute;
use modecfg::attrs::{decode_bytes, encode_list};
use modecfg::{AttrType, Ip4Subnet, Ip6Prefix, ModeCfgAttr as M, SplitEntry, Text};
use proptest::prelude::*;

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn text() -> impl Strategy<Value = Text> {
    prop::collection::vec(any::<u8>(), 1..64).prop_map(Text)
}

fn split() -> impl Strategy<Value = SplitEntry> {
    (v4(), v4(), any::<u16>(), any::<u16>(), any::<u16>()).prop_map(
        |(addr, mask, protocol, sport, dport)| SplitEntry {
            addr,
            mask,
            protocol,
            sport,
            dport,
        },
    )
}

fn known_type() -> impl Strategy<Value = AttrType> {
    prop::sample::select(AttrType::KNOWN.to_vec())
}

/// Kinds our decoder does not know (any 15-bit number outside 1-15 and 28672-28682).
fn unknown_kind() -> impl Strategy<Value = u16> {
    (0u16..0x8000).prop_filter("unknown", |k| {
        matches!(AttrType::from_u16(*k), AttrType::Unknown(_))
    })
}

fn attr() -> impl Strategy<Value = M> {
    prop_oneof![
        known_type().prop_map(M::Request),
        v4().prop_map(M::Ip4Address),
        v4().prop_map(M::Ip4Netmask),
        v4().prop_map(M::Ip4Dns),
        v4().prop_map(M::Ip4Nbns),
        any::<u32>().prop_map(M::AddressExpiry),
        v4().prop_map(M::Ip4Dhcp),
        text().prop_map(M::ApplicationVersion),
        (v6(), prop::option::of(0u8..=128))
            .prop_map(|(addr, prefix)| M::Ip6Address(Ip6Prefix { addr, prefix })),
        v6().prop_map(M::Ip6Netmask),
        v6().prop_map(M::Ip6Dns),
        v6().prop_map(M::Ip6Nbns),
        v6().prop_map(M::Ip6Dhcp),
        (v4(), v4()).prop_map(|(addr, mask)| M::Ip4Subnet(Ip4Subnet { addr, mask })),
        prop::collection::vec(any::<u16>(), 1..16).prop_map(M::SupportedAttributes),
        (v6(), 0u8..=128).prop_map(|(addr, prefix)| M::Ip6Subnet { addr, prefix }),
        text().prop_map(M::Banner),
        any::<u16>().prop_map(M::SavePasswd),
        text().prop_map(M::DefDomain),
        text().prop_map(M::SplitDns),
        prop::collection::vec(split(), 1..8).prop_map(M::SplitInclude),
        any::<u16>().prop_map(M::NattPort),
        prop::collection::vec(split(), 1..8).prop_map(M::LocalLan),
        any::<u16>().prop_map(M::Pfs),
        prop::collection::vec(any::<u8>(), 1..32).prop_map(M::FwType),
        text().prop_map(M::BackupServers),
        text().prop_map(M::DdnsHostname),
        (unknown_kind(), any::<u16>()).prop_map(|(k, v)| M::Unknown(OwnedAttribute::basic(k, v))),
        (unknown_kind(), prop::collection::vec(any::<u8>(), 0..32))
            .prop_map(|(k, v)| M::Unknown(OwnedAttribute::variable(k, v))),
    ]
}

fn emit_all(list: &[OwnedAttribute]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in list {
        a.emit(&mut out).unwrap();
    }
    out
}

/// Raw attributes biased towards the kinds we decode, with random forms and lengths.
fn raw_attr() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![known_type().prop_map(|t| t.number()), 0u16..0x8000];
    (
        kind,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..40),
        any::<u16>(),
    )
        .prop_map(|(k, tv, value, basic)| {
            if tv {
                let mut v = (k | 0x8000).to_be_bytes().to_vec();
                v.extend_from_slice(&basic.to_be_bytes());
                v
            } else {
                let mut v = k.to_be_bytes().to_vec();
                v.extend_from_slice(&(value.len() as u16).to_be_bytes());
                v.extend_from_slice(&value);
                v
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn typed_round_trip(list in prop::collection::vec(attr(), 0..12)) {
        let bytes = emit_all(&encode_list(&list).unwrap());
        prop_assert_eq!(decode_bytes(&bytes, 0).unwrap(), list);
    }

    #[test]
    fn accepted_bytes_round_trip(raw in prop::collection::vec(raw_attr(), 0..10)) {
        let bytes: Vec<u8> = raw.concat();
        if let Ok(list) = decode_bytes(&bytes, 0) {
            prop_assert_eq!(emit_all(&encode_list(&list).unwrap()), bytes);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), offset in any::<usize>()) {
        if let Ok(list) = decode_bytes(&bytes, offset) {
            prop_assert_eq!(emit_all(&encode_list(&list).unwrap()), bytes);
        }
    }
}
