//! Every attribute type: decode, encode, exact wire bytes, and located errors.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::{Ipv4Addr, Ipv6Addr};

use isakmp_wire::attr::{OwnedAttrValue, OwnedAttribute};
use modecfg::attrs::{decode_bytes, decode_list, encode_list};
use modecfg::{AttrType, Ip4Subnet, Ip6Prefix, ModeCfgAttr as M, ModeCfgError, SplitEntry, Text};

fn emit(a: &OwnedAttribute) -> Vec<u8> {
    let mut v = Vec::new();
    a.emit(&mut v).unwrap();
    v
}

fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut v = kind.to_be_bytes().to_vec();
    v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn tv(kind: u16, value: u16) -> Vec<u8> {
    let mut v = (kind | 0x8000).to_be_bytes().to_vec();
    v.extend_from_slice(&value.to_be_bytes());
    v
}

fn v6() -> Ipv6Addr {
    "2001:db8::1".parse().unwrap()
}

/// (typed value, its exact wire bytes) for every type.
fn table() -> Vec<(M, Vec<u8>)> {
    let split = SplitEntry::network(
        Ipv4Addr::new(10, 89, 129, 128),
        Ipv4Addr::new(255, 255, 255, 240),
    );
    let mut v6p = v6().octets().to_vec();
    v6p.push(64);
    vec![
        (
            M::Ip4Address(Ipv4Addr::new(10, 89, 129, 200)),
            tlv(1, &[10, 89, 129, 200]),
        ),
        (
            M::Ip4Netmask(Ipv4Addr::new(255, 0, 0, 0)),
            tlv(2, &[255, 0, 0, 0]),
        ),
        (
            M::Ip4Dns(Ipv4Addr::new(10, 89, 129, 134)),
            tlv(3, &[10, 89, 129, 134]),
        ),
        (
            M::Ip4Nbns(Ipv4Addr::new(10, 89, 129, 135)),
            tlv(4, &[10, 89, 129, 135]),
        ),
        (M::AddressExpiry(86400), tlv(5, &[0, 1, 0x51, 0x80])),
        (
            M::Ip4Dhcp(Ipv4Addr::new(10, 0, 0, 1)),
            tlv(6, &[10, 0, 0, 1]),
        ),
        (
            M::ApplicationVersion(Text::from("Cisco Systems VPN Client 4.0.5")),
            tlv(7, b"Cisco Systems VPN Client 4.0.5"),
        ),
        (
            M::Ip6Address(Ip6Prefix {
                addr: v6(),
                prefix: None,
            }),
            tlv(8, &v6().octets()),
        ),
        (
            M::Ip6Address(Ip6Prefix {
                addr: v6(),
                prefix: Some(64),
            }),
            tlv(8, &v6p),
        ),
        (
            M::Ip6Netmask("ffff:ffff::".parse().unwrap()),
            tlv(9, &"ffff:ffff::".parse::<Ipv6Addr>().unwrap().octets()),
        ),
        (M::Ip6Dns(v6()), tlv(10, &v6().octets())),
        (M::Ip6Nbns(v6()), tlv(11, &v6().octets())),
        (M::Ip6Dhcp(v6()), tlv(12, &v6().octets())),
        (
            M::Ip4Subnet(Ip4Subnet {
                addr: Ipv4Addr::new(10, 89, 129, 128),
                mask: Ipv4Addr::new(255, 255, 255, 128),
            }),
            tlv(13, &[10, 89, 129, 128, 255, 255, 255, 128]),
        ),
        (
            M::SupportedAttributes(vec![1, 2, 28676]),
            tlv(14, &[0, 1, 0, 2, 0x70, 0x04]),
        ),
        (
            M::Ip6Subnet {
                addr: v6(),
                prefix: 64,
            },
            tlv(15, &v6p),
        ),
        (M::Banner(Text::from("Welcome")), tlv(28672, b"Welcome")),
        (M::SavePasswd(1), tv(28673, 1)),
        (
            M::DefDomain(Text::from("example.com")),
            tlv(28674, b"example.com"),
        ),
        (
            M::SplitDns(Text::from("a.example,b.example")),
            tlv(28675, b"a.example,b.example"),
        ),
        (M::SplitInclude(vec![split]), tlv(28676, &split.to_bytes())),
        (M::NattPort(10000), tv(28677, 10000)),
        (
            M::LocalLan(vec![split, split]),
            tlv(28678, &[split.to_bytes(), split.to_bytes()].concat()),
        ),
        (M::Pfs(1), tv(28679, 1)),
        (
            M::FwType(vec![0, 0, 0, 9, 0, 0, 0, 1]),
            tlv(28680, &[0, 0, 0, 9, 0, 0, 0, 1]),
        ),
        (
            M::BackupServers(Text::from("vpn2.example,10.0.0.2")),
            tlv(28681, b"vpn2.example,10.0.0.2"),
        ),
        (M::DdnsHostname(Text::from("laptop")), tlv(28682, b"laptop")),
        (
            M::Unknown(OwnedAttribute::variable(28683, vec![1, 2, 3])),
            tlv(28683, &[1, 2, 3]),
        ),
        (M::Unknown(OwnedAttribute::basic(16527, 1)), tv(16527, 1)),
    ]
}

#[test]
fn every_type_encodes_to_exact_bytes_and_decodes_back() {
    let table = table();
    // Every known type appears.
    for t in AttrType::KNOWN {
        assert!(
            table.iter().any(|(a, _)| a.attr_type() == *t),
            "{t} missing from table"
        );
    }
    for (attr, bytes) in &table {
        let owned = attr.encode().unwrap();
        assert_eq!(emit(&owned), *bytes, "{attr:?}");
        assert_eq!(
            decode_bytes(bytes, 0).unwrap(),
            vec![attr.clone()],
            "{attr:?}"
        );
    }
    // The whole table as one list.
    let all: Vec<M> = table.iter().map(|(a, _)| a.clone()).collect();
    let bytes: Vec<u8> = table.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(decode_bytes(&bytes, 100).unwrap(), all);
    assert_eq!(decode_list(&encode_list(&all).unwrap()).unwrap(), all);
}

#[test]
fn empty_value_is_the_request_form_for_every_type() {
    for t in AttrType::KNOWN.iter().copied() {
        let bytes = tlv(t.number(), &[]);
        assert_eq!(decode_bytes(&bytes, 0).unwrap(), vec![M::Request(t)], "{t}");
        let enc = M::request(t).encode().unwrap();
        assert_eq!(enc.value, OwnedAttrValue::Variable(Vec::new()));
        assert_eq!(emit(&enc), bytes);
    }
    // An unknown type stays exactly as received; its request form encodes the same way.
    let bytes = tlv(28683, &[]);
    let got = decode_bytes(&bytes, 0).unwrap();
    assert_eq!(
        got,
        vec![M::Unknown(OwnedAttribute::variable(28683, vec![]))]
    );
    assert_eq!(got[0].attr_type(), AttrType::Unknown(28683));
    assert_eq!(
        emit(&M::request(AttrType::Unknown(28683)).encode().unwrap()),
        bytes
    );
}

#[test]
fn type_numbers_and_names() {
    assert_eq!(AttrType::KNOWN.len(), 26);
    assert_eq!(AttrType::from_u16(28676), AttrType::SplitInclude);
    assert_eq!(AttrType::SplitInclude.number(), 0x7004);
    assert_eq!(AttrType::LocalLan.number(), 28678);
    assert_eq!(AttrType::DdnsHostname.number(), 28682);
    assert_eq!(AttrType::from_u16(28683), AttrType::Unknown(28683));
    assert_eq!(AttrType::Ip4Address.pix_name(), "IP4_ADDRESS");
    assert_eq!(AttrType::Banner.pix_name(), "UNKNOWN");
    assert_eq!(AttrType::Ip4Dns.to_string(), "INTERNAL_IP4_DNS (3)");
    assert!(AttrType::Pfs.is_unity() && !AttrType::Ip4Dns.is_unity());
    for t in AttrType::KNOWN {
        assert_eq!(AttrType::from_u16(t.number()), *t);
    }
}

#[test]
fn bad_lengths_name_the_attribute_and_offset() {
    // A good 8-byte attribute first, so the bad one sits at offset base + 8.
    let lead = tlv(1, &[1, 2, 3, 4]);
    let cases: Vec<(AttrType, usize, &str)> = vec![
        (AttrType::Ip4Address, 3, "0 or 4 bytes"),
        (AttrType::Ip4Netmask, 5, "0 or 4 bytes"),
        (AttrType::Ip4Dns, 1, "0 or 4 bytes"),
        (AttrType::Ip4Nbns, 16, "0 or 4 bytes"),
        (AttrType::AddressExpiry, 2, "0 or 4 bytes"),
        (AttrType::Ip4Dhcp, 6, "0 or 4 bytes"),
        (AttrType::Ip6Address, 4, "0, 16 or 17 bytes"),
        (AttrType::Ip6Address, 18, "0, 16 or 17 bytes"),
        (AttrType::Ip6Netmask, 17, "0 or 16 bytes"),
        (AttrType::Ip6Dns, 4, "0 or 16 bytes"),
        (AttrType::Ip6Nbns, 15, "0 or 16 bytes"),
        (AttrType::Ip6Dhcp, 1, "0 or 16 bytes"),
        (AttrType::Ip4Subnet, 4, "0 or 8 bytes"),
        (AttrType::SupportedAttributes, 3, "a multiple of 2 bytes"),
        (AttrType::Ip6Subnet, 16, "0 or 17 bytes"),
        (AttrType::SplitInclude, 8, "a multiple of 14 bytes"),
        (AttrType::LocalLan, 15, "a multiple of 14 bytes"),
    ];
    for (t, len, expected) in cases {
        let mut bytes = lead.clone();
        bytes.extend(tlv(t.number(), &vec![0u8; len]));
        assert_eq!(
            decode_bytes(&bytes, 32),
            Err(ModeCfgError::BadLength {
                attr: t,
                offset: 40,
                length: len,
                expected
            }),
            "{t} len {len}"
        );
    }
}

#[test]
fn wrong_form_is_an_error() {
    // TV form for a TLV-only type.
    assert_eq!(
        decode_bytes(&tv(1, 5), 10),
        Err(ModeCfgError::BadForm {
            attr: AttrType::Ip4Address,
            offset: 10,
            got: "TV",
            expected: "TLV"
        })
    );
    // Non-empty TLV for a TV type.
    for t in [AttrType::SavePasswd, AttrType::NattPort, AttrType::Pfs] {
        assert_eq!(
            decode_bytes(&tlv(t.number(), &[0, 1]), 0),
            Err(ModeCfgError::BadForm {
                attr: t,
                offset: 0,
                got: "TLV",
                expected: "TV"
            })
        );
    }
}

#[test]
fn ipv6_prefix_above_128_is_refused() {
    let mut v = v6().octets().to_vec();
    v.push(129);
    assert_eq!(
        decode_bytes(&tlv(15, &v), 4),
        Err(ModeCfgError::BadValue {
            attr: AttrType::Ip6Subnet,
            offset: 4,
            value: 129,
            reason: "IPv6 prefix length above 128"
        })
    );
    assert!(matches!(
        decode_bytes(&tlv(8, &v), 0),
        Err(ModeCfgError::BadValue {
            attr: AttrType::Ip6Address,
            ..
        })
    ));
}

#[test]
fn truncated_list_is_a_wire_error_with_location() {
    let mut bytes = tlv(1, &[1, 2, 3, 4]);
    bytes.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 9]);
    let e = decode_bytes(&bytes, 50).unwrap_err();
    match e {
        ModeCfgError::Wire(w) => assert_eq!(w.location().offset, 62),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn too_long_value_cannot_be_encoded() {
    let big = M::Banner(Text(vec![b'x'; 70000]));
    assert_eq!(
        big.encode(),
        Err(ModeCfgError::TooLong {
            attr: AttrType::Banner,
            length: 70000
        })
    );
    let many = M::SplitInclude(vec![
        SplitEntry::network(
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::BROADCAST
        );
        4682
    ]);
    assert!(matches!(many.encode(), Err(ModeCfgError::TooLong { .. })));
    let max = M::SplitInclude(vec![
        SplitEntry::network(
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::BROADCAST
        );
        4681
    ]);
    assert!(max.encode().is_ok());
}

#[test]
fn text_lists() {
    assert_eq!(
        Text::from(" a.example, b.example ,,").list(),
        vec!["a.example", "b.example"]
    );
    assert_eq!(Text(vec![0xff, b'a']).as_str(), None);
    assert_eq!(Text::from("x").as_str(), Some("x"));
}
