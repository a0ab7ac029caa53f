//! Test helper: the ISAKMP messages among the UDP datagrams of a capture
//! (`testkit::pcap` walks pcap / pcapng; UDP 500, and UDP 4500 behind the
//! non-ESP marker as this crate classifies it; ESP and keepalives are skipped).
#![allow(
    dead_code,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]

pub mod samples;

use std::path::Path;

use isakmp_wire::natt::{classify_udp4500, Udp4500};
pub use testkit::pcap::{udp_datagrams, Udp};

/// The ISAKMP messages in a capture: (frame, ports, message bytes).
pub fn isakmp_messages(path: &Path) -> Vec<Udp> {
    udp_datagrams(path)
        .into_iter()
        .filter_map(|u| {
            if u.src_port == 4500 || u.dst_port == 4500 {
                match classify_udp4500(&u.payload) {
                    Udp4500::Isakmp(m) => Some(Udp {
                        payload: m.to_vec(),
                        ..u
                    }),
                    _ => None,
                }
            } else if u.src_port == 500 || u.dst_port == 500 {
                Some(u)
            } else {
                None
            }
        })
        .collect()
}
