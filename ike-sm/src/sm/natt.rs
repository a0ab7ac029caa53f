//! NAT traversal in phase 1 (RFC 3947 and the drafts 02, 02\n and 03 that Cisco clients
//! still send): vendor-ID negotiation, NAT-D hashes and their check, the float to UDP
//! 4500, and keepalives.

use super::sa::{IkeSa, Role};
use super::Endpoint;
use crate::crypto::hash::HashAlg;
use crate::crypto::natd::natd_hash;
use crate::crypto::phase2::hashes_equal;
use crate::event::DebugEvent;
use isakmp_wire::payload::nat_oa::OwnedNatOa;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::vendor::Vendor;
use isakmp_wire::{OwnedPayload, PayloadType};
use std::time::Instant;

/// How much we like a NAT-T version (higher wins); `None` for other vendor IDs.
pub(crate) fn preference(v: Vendor) -> Option<u8> {
    match v {
        Vendor::NatTRfc3947 => Some(4),
        Vendor::NatTDraft03 => Some(3),
        Vendor::NatTDraft02N => Some(2),
        Vendor::NatTDraft02 => Some(1),
        _ => None,
    }
}

/// The UDP-encapsulated tunnel mode of a version (RFC 3947: 3; drafts: 61443).
pub(crate) fn udp_tunnel_mode(v: Vendor) -> u16 {
    if v == Vendor::NatTRfc3947 {
        3
    } else {
        61443
    }
}

/// The UDP-encapsulated transport mode of a version (RFC 3947: 4; drafts: 61444).
pub(crate) fn udp_transport_mode(v: Vendor) -> u16 {
    if v == Vendor::NatTRfc3947 {
        4
    } else {
        61444
    }
}

/// The encapsulation mode to offer or accept on this SA: plain tunnel (1) or transport
/// (2), or their UDP-encapsulated forms once NAT-T floated.
pub(crate) fn encapsulation(floated: bool, natt: Option<Vendor>, transport: bool) -> u16 {
    match (floated, natt, transport) {
        (true, Some(v), false) => udp_tunnel_mode(v),
        (true, Some(v), true) => udp_transport_mode(v),
        (_, _, false) => 1,
        (_, _, true) => 2,
    }
}

/// An initiator whose profile forces UDP encapsulation
/// ([`ClientProfile::force_natt_encapsulation`](crate::ClientProfile::force_natt_encapsulation)).
fn forces_natt(sa: &IkeSa) -> bool {
    sa.role == Role::Initiator
        && sa
            .profile
            .as_ref()
            .is_some_and(|p| p.force_natt_encapsulation)
}

impl Endpoint {
    /// NAT-D payloads: the peer's address first, then ours (with
    /// `force_natt_encapsulation`, a fake one).
    pub(crate) fn natd_payloads(sa: &IkeSa, hash: HashAlg) -> Vec<OwnedPayload> {
        let Some(v) = sa.natt else {
            return Vec::new();
        };
        let kind = if v == Vendor::NatTRfc3947 {
            PayloadType::NatD
        } else {
            PayloadType::NatDDraft
        };
        let h = |a: core::net::SocketAddr| natd_hash(hash, &sa.cky_i, &sa.cky_r, a.ip(), a.port());
        let local = if forces_natt(sa) {
            // `forceencaps`: the hash of an address no path has, so that the responder
            // sees "initiator behind NAT" and both sides use UDP encapsulation.
            let mut fake = sa.local;
            fake.set_ip(match fake.ip() {
                core::net::IpAddr::V4(_) => core::net::Ipv4Addr::UNSPECIFIED.into(),
                core::net::IpAddr::V6(_) => core::net::Ipv6Addr::UNSPECIFIED.into(),
            });
            fake.set_port(0);
            fake
        } else {
            sa.local
        };
        vec![
            OwnedPayload::with_kind(kind, OwnedBody::NatD(h(sa.remote))),
            OwnedPayload::with_kind(kind, OwnedBody::NatD(h(local))),
        ]
    }

    /// NAT-OA payloads for a Quick Mode in UDP-Encapsulated-Transport mode (RFC 3947
    /// section 5.2): NAT-OAi (the Quick Mode initiator's address) then NAT-OAr (the
    /// responder's), each as this side sees it. Nothing before NAT-T floated.
    pub(crate) fn nat_oa_payloads(sa: &IkeSa, qm_initiator: bool) -> Vec<OwnedPayload> {
        let (true, Some(v)) = (sa.floated, sa.natt) else {
            return Vec::new();
        };
        let kind = if v == Vendor::NatTRfc3947 {
            PayloadType::NatOa
        } else {
            PayloadType::NatOaDraft
        };
        let (i, r) = if qm_initiator {
            (sa.local, sa.remote)
        } else {
            (sa.remote, sa.local)
        };
        [i, r]
            .into_iter()
            .map(|a| OwnedPayload::with_kind(kind, OwnedBody::NatOa(OwnedNatOa::new(a.ip()))))
            .collect()
    }

    /// Compares the peer's NAT-D payloads with what we see.
    pub(crate) fn check_natd(&mut self, sa: &mut IkeSa, hash: HashAlg, received: &[&[u8]]) {
        if sa.natt.is_none() {
            return;
        }
        let Some((first, rest)) = received.split_first() else {
            // NAT-T negotiated but no NAT-D: assume no NAT.
            return;
        };
        // The hashes describe the addresses phase 1 started on, even when the message that
        // carries them (Aggressive Mode's third) already came over UDP 4500.
        let (local, remote) = sa.pre_float;
        let ours = natd_hash(hash, &sa.cky_i, &sa.cky_r, local.ip(), local.port());
        let theirs = natd_hash(hash, &sa.cky_i, &sa.cky_r, remote.ip(), remote.port());
        sa.nat_local = !hashes_equal(&ours, first);
        sa.nat_remote = !rest.iter().any(|r| hashes_equal(&theirs, r));
        if forces_natt(sa) {
            // We told the responder we are behind a NAT: act like it (float to 4500,
            // send keepalives), whatever the hashes say.
            sa.nat_local = true;
        }
        self.debug(DebugEvent::NatDetected {
            local: sa.nat_local,
            remote: sa.nat_remote,
        });
    }

    /// Initiator: after the NAT-D check, move to UDP 4500 when a NAT is in the path.
    pub(crate) fn maybe_float(&mut self, sa: &mut IkeSa, now: Instant) {
        if sa.natt.is_some() && (sa.nat_local || sa.nat_remote) && !sa.floated {
            sa.local.set_port(4500);
            sa.remote.set_port(4500);
            sa.floated = true;
            self.debug(DebugEvent::Floated);
            self.schedule_keepalive(sa, now);
        }
    }

    pub(crate) fn schedule_keepalive(&self, sa: &mut IkeSa, now: Instant) {
        if sa.floated && sa.nat_local {
            sa.timers.keepalive = now.checked_add(self.config.limits.natt_keepalive);
        }
    }

    /// Sends the 1-byte 0xFF NAT keepalive when due (the driver sends it without a marker).
    pub(crate) fn keepalive_timeout(&mut self, sa: &mut IkeSa, now: Instant) {
        if sa.timers.keepalive.is_some_and(|d| d <= now) {
            self.send(sa, vec![0xff]);
            self.schedule_keepalive(sa, now);
        }
    }
}
