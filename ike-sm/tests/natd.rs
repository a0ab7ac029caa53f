//! NAT-D known answers from real captures: the NAT-D payloads (RFC 3947 type 20) that
//! real peers computed, checked against `natd_hash` over the cookies and the addresses
//! and ports in the capture's IP/UDP headers.
//!
//! RFC 3947 section 3.2: the first NAT-D payload hashes the receiver's (remote) address,
//! the following ones the sender's local address(es).
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

mod common;

use common::capture::{isakmp_messages, walk};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::natd::natd_hash;
use std::net::IpAddr;

const NATD: u8 = 20;

/// `(frame, hashes)` for each message carrying NAT-D payloads, with each hash classified
/// as matching the destination, the source, or neither.
fn check(rel: &str, hash: HashAlg) -> Vec<(usize, Vec<&'static str>)> {
    let mut out = Vec::new();
    for m in isakmp_messages(rel) {
        if m.flags & 1 == 1 {
            continue;
        }
        let (chain, _) = walk(m.next_payload, &m.body);
        let natd: Vec<&Vec<u8>> = chain
            .iter()
            .filter(|(t, _)| *t == NATD)
            .map(|(_, b)| b)
            .collect();
        if natd.is_empty() {
            continue;
        }
        let dst = natd_hash(hash, &m.cky_i, &m.cky_r, IpAddr::V4(m.dst.0), m.dst.1);
        let src = natd_hash(hash, &m.cky_i, &m.cky_r, IpAddr::V4(m.src.0), m.src.1);
        let kinds = natd
            .iter()
            .map(|h| {
                assert_eq!(h.len(), hash.output_len(), "{rel} frame {}", m.frame);
                if **h == dst {
                    "dst"
                } else if **h == src {
                    "src"
                } else {
                    "other"
                }
            })
            .collect();
        out.push((m.frame, kinds));
    }
    out
}

#[test]
fn natd_main_mode_no_nat() {
    // Cisco peers, AES-128/SHA1, 192.168.12.1 <-> 192.168.12.2, no NAT: MM3 and MM4 each
    // carry [remote, local] and both match.
    let got = check(
        "zeek-spicy-ipsec/traces/ipsec-ikev1-isakmp-main-mode.pcap",
        HashAlg::Sha1,
    );
    assert_eq!(got, vec![(3, vec!["dst", "src"]), (4, vec!["dst", "src"])]);
}

#[test]
fn natd_aggressive_mode_no_nat() {
    // The Cisco responder's AM2 carries [remote, local] NAT-D.
    let got = check(
        "zeek-spicy-ipsec/traces/ipsec-ikev1-isakmp-aggressive-mode.pcap",
        HashAlg::Sha1,
    );
    assert_eq!(got, vec![(2, vec!["dst", "src"])]);
}

#[test]
fn natd_openswan_behind_nat() {
    // Openswan NAT-T test (isakmp4500.pcap, 3DES/MD5): the initiator is behind a NAT, so
    // its MM3 "local" hash matches no address in the captured packet, while the remote
    // hash does; the responder's MM4 sees no NAT on its side. That mismatch is exactly
    // what makes the peers float to port 4500.
    let got = check("tcpdump/isakmp4500.pcap", HashAlg::Md5);
    assert_eq!(
        got,
        vec![(5, vec!["dst", "other"]), (6, vec!["dst", "src"])]
    );
}
