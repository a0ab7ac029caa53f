//! Translation slots (`show xlate`): dynamic NAT, PAT and identity xlates, with the
//! global-pool allocation they come from.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// The kind of a dynamic translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum XlateKind {
    /// One-to-one from a `global` range.
    Nat,
    /// Port address translation (one `global` address, many ports).
    Pat,
    /// `nat (if) 0 A M`: the address maps to itself (outbound only).
    Identity,
}

/// One translation slot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Xlate {
    /// Id (creation order).
    pub id: u64,
    /// Kind.
    pub kind: XlateKind,
    /// Real-side interface index.
    pub real_if: usize,
    /// Mapped-side interface index.
    pub mapped_if: usize,
    /// Local (real) address.
    pub local: Ipv4Addr,
    /// Global (mapped) address.
    pub global: Ipv4Addr,
    /// PAT only: protocol number and (local, global) ports.
    pub pat: Option<(u8, u16, u16)>,
    /// The `nat` line that selected it.
    pub nat_line: u32,
    /// The `global` line it came from (identity: the `nat` line).
    pub global_line: u32,
    /// Created.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub created: Instant,
    /// Last used.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub last_used: Instant,
    /// Connections using it.
    pub conns: u32,
}

/// Index key of the mapped side: (interface, protocol or 0, address, port or 0).
type MappedKey = (usize, u8, u32, u16);
/// Index key of the real side: (real interface, mapped interface, protocol or 0, address, port or 0).
type RealKey = (usize, usize, u8, u32, u16);

/// The xlate table.
///
/// Its indexes hash with the unkeyed Fx hasher: xlates are created only by new
/// connections from the higher-security side, and the mapped side's addresses and
/// ports are ours (global pools), so no host on the Internet chooses their keys; the
/// connection table, whose keys it does choose, hashes with a secret key
/// ([`crate::conn::FlowHasher`]).
#[derive(Debug, Clone, Default)]
pub struct XlateTable {
    slots: BTreeMap<u64, Xlate>,
    by_mapped: FxHashMap<MappedKey, u64>,
    by_real: FxHashMap<RealKey, u64>,
    /// Next PAT port to try per (interface, protocol, address, band start).
    pat_cursor: FxHashMap<(usize, u8, u32, u16), u16>,
    next_id: u64,
    most_used: usize,
}

fn keys(x: &Xlate) -> (MappedKey, RealKey) {
    let (p, lp, gp) = x.pat.unwrap_or((0, 0, 0));
    (
        (x.mapped_if, p, u32::from(x.global), gp),
        (x.real_if, x.mapped_if, p, u32::from(x.local), lp),
    )
}

impl XlateTable {
    /// The xlates in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Xlate> {
        self.slots.values()
    }

    /// Number in use.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Most ever in use at once.
    pub fn most_used(&self) -> usize {
        self.most_used
    }

    /// The xlate with id `id`.
    pub fn get(&self, id: u64) -> Option<&Xlate> {
        self.slots.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Xlate> {
        self.slots.get_mut(&id)
    }

    /// Insert a new xlate (its `id` is assigned here).
    pub fn insert(&mut self, mut x: Xlate) -> u64 {
        self.next_id = self.next_id.saturating_add(1);
        x.id = self.next_id;
        let (m, r) = keys(&x);
        self.by_mapped.insert(m, x.id);
        self.by_real.insert(r, x.id);
        self.slots.insert(x.id, x);
        self.most_used = self.most_used.max(self.slots.len());
        self.next_id
    }

    /// Remove an xlate (its address or port returns to the pool).
    pub fn remove(&mut self, id: u64) -> Option<Xlate> {
        let x = self.slots.remove(&id)?;
        let (m, r) = keys(&x);
        self.by_mapped.remove(&m);
        self.by_real.remove(&r);
        Some(x)
    }

    /// The xlate a packet to `addr:port` on `mapped_if` un-translates through
    /// (a PAT slot for that port first, then a NAT/identity slot for the address).
    pub fn find_mapped(&self, mapped_if: usize, proto: u8, addr: u32, port: u16) -> Option<&Xlate> {
        self.by_mapped
            .get(&(mapped_if, proto, addr, port))
            .or_else(|| self.by_mapped.get(&(mapped_if, 0, addr, 0)))
            .and_then(|id| self.slots.get(id))
    }

    /// An existing xlate for a real source going from `real_if` to `mapped_if`
    /// (NAT/identity slot for the address first, then the PAT slot for that port).
    pub fn find_real(
        &self,
        real_if: usize,
        mapped_if: usize,
        proto: u8,
        addr: u32,
        port: u16,
    ) -> Option<&Xlate> {
        self.by_real
            .get(&(real_if, mapped_if, 0, addr, 0))
            .or_else(|| self.by_real.get(&(real_if, mapped_if, proto, addr, port)))
            .and_then(|id| self.slots.get(id))
    }

    /// Is `addr` on `mapped_if` taken by a NAT slot?
    pub fn nat_used(&self, mapped_if: usize, addr: u32) -> bool {
        self.by_mapped.contains_key(&(mapped_if, 0, addr, 0))
    }

    /// Is `port` of `addr` on `mapped_if` taken by a PAT slot?
    pub fn pat_used(&self, mapped_if: usize, proto: u8, addr: u32, port: u16) -> bool {
        self.by_mapped.contains_key(&(mapped_if, proto, addr, port))
    }

    /// A free PAT port of `addr` in the band `lo..=hi`, searched from where the
    /// last search of that band stopped (wrapping), so a busy band costs one probe
    /// per allocation rather than a scan from its start.
    pub fn pat_port(
        &mut self,
        mapped_if: usize,
        proto: u8,
        addr: u32,
        lo: u16,
        hi: u16,
    ) -> Option<u16> {
        let key = (mapped_if, proto, addr, lo);
        let start = self
            .pat_cursor
            .get(&key)
            .copied()
            .unwrap_or(lo)
            .clamp(lo, hi);
        let found = (start..=hi)
            .chain(lo..start)
            .find(|p| !self.pat_used(mapped_if, proto, addr, *p))?;
        let next = if found >= hi {
            lo
        } else {
            found.saturating_add(1)
        };
        self.pat_cursor.insert(key, next);
        Some(found)
    }

    /// Remove idle xlates without connections; returns them.
    pub fn expire(&mut self, now: Instant, nat_idle: Duration, pat_idle: Duration) -> Vec<Xlate> {
        let gone: Vec<u64> = self
            .slots
            .values()
            .filter(|x| {
                x.conns == 0 && Self::deadline_of(x, nat_idle, pat_idle).is_some_and(|d| now >= d)
            })
            .map(|x| x.id)
            .collect();
        gone.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    fn deadline_of(x: &Xlate, nat_idle: Duration, pat_idle: Duration) -> Option<Instant> {
        let idle = if x.kind == XlateKind::Pat {
            pat_idle
        } else {
            nat_idle
        };
        x.last_used.checked_add(idle)
    }

    /// The earliest instant an idle xlate without connections expires.
    pub fn next_deadline(&self, nat_idle: Duration, pat_idle: Duration) -> Option<Instant> {
        self.slots
            .values()
            .filter(|x| x.conns == 0)
            .filter_map(|x| Self::deadline_of(x, nat_idle, pat_idle))
            .min()
    }
}
