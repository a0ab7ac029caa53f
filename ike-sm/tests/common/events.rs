//! The events of one kind out of a scenario's timed event log ([`super::net::Net`]'s
//! `(virtual ms, event)` pairs), for the assertions of the scenario tests.

use ike_sm::{Event, SaId};
use std::net::Ipv4Addr;

/// Child SAs installed: (IKE SA, inbound SPI, outbound SPI).
pub fn children(events: &[(u64, &Event)]) -> Vec<(SaId, u32, u32)> {
    pick(events, |e| match e {
        Event::ChildSa(c) => Some((c.ike_sa, c.spi_in, c.spi_out)),
        _ => None,
    })
}

/// Phase 1 established: (time, SA).
pub fn established(events: &[(u64, &Event)]) -> Vec<(u64, SaId)> {
    timed(events, |e| match e {
        Event::Phase1Established { sa, .. } => Some(*sa),
        _ => None,
    })
}

/// Phase 1 rekeyed: (time, old SA, new SA).
pub fn rekeyed(events: &[(u64, &Event)]) -> Vec<(u64, SaId, SaId)> {
    timed(events, |e| match e {
        Event::Phase1Rekeyed { old, new } => Some((*old, *new)),
        _ => None,
    })
    .into_iter()
    .map(|(t, (old, new))| (t, old, new))
    .collect()
}

/// IKE SAs deleted: (time, SA).
pub fn deleted(events: &[(u64, &Event)]) -> Vec<(u64, SaId)> {
    timed(events, |e| match e {
        Event::Deleted { sa, .. } => Some(*sa),
        _ => None,
    })
}

/// Child SAs deleted: (IKE SA, inbound SPI).
pub fn child_deleted(events: &[(u64, &Event)]) -> Vec<(SaId, u32)> {
    pick(events, |e| match e {
        Event::ChildDeleted { sa, spi_in } => Some((*sa, *spi_in)),
        _ => None,
    })
}

/// Addresses assigned by Mode Config: (SA, address).
pub fn assigned(events: &[(u64, &Event)]) -> Vec<(SaId, Ipv4Addr)> {
    pick(events, |e| match e {
        Event::AddressAssigned { sa, addr } => Some((*sa, *addr)),
        _ => None,
    })
}

/// How many negotiations failed.
pub fn failed(events: &[(u64, &Event)]) -> usize {
    events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Failed { .. }))
        .count()
}

/// Every debug line, as the PIX prints it.
pub fn debug(events: &[(u64, &Event)]) -> Vec<String> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Debug(d) => Some(d.pix_lines()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn pick<T>(events: &[(u64, &Event)], f: impl Fn(&Event) -> Option<T>) -> Vec<T> {
    events.iter().filter_map(|(_, e)| f(e)).collect()
}

fn timed<T>(events: &[(u64, &Event)], f: impl Fn(&Event) -> Option<T>) -> Vec<(u64, T)> {
    events
        .iter()
        .filter_map(|(t, e)| f(e).map(|x| (*t, x)))
        .collect()
}
