//! `ip local pool NAME A-B`: IPv4 address pools with sticky, bounded allocation.
//!
//! * Each pool is a bitset over its range: allocation scans 64 addresses per step from a
//!   round-robin cursor, release is O(1), memory is 1 bit (+ one remembered user) per address.
//! * The same user gets back the address it last held when that address is still free;
//!   otherwise the next free address after the cursor. The cursor makes a just-released
//!   address the last one handed to somebody else, which keeps stickiness useful and avoids
//!   handing a stale address to a new user at once.
//! * An address belongs to a [`Lease`], which only the SA holding it keeps; releasing the
//!   lease on teardown is the only way back into the pool (a lease is not `Clone`).
//! * An address assigned by AAA (RADIUS Framed-IP-Address) wins over the pool; if it lies in
//!   a pool it is taken out of that pool (refused if in use), if not it is tracked so two
//!   sessions never share it.
//!
//! PIX 6.3's `ip local pool` has no mask option; [`Pools::add`] gives clients the classful
//! mask of the pool's first address (what ASA documents for a pool without a mask), and
//! [`Pools::add_with_mask`] sets one explicitly.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::error::ModeCfgError;

/// Largest pool accepted (addresses).
pub const MAX_POOL_SIZE: u32 = 1 << 16;

/// Default cap on AAA-assigned addresses outside every pool that may be live at once.
pub const DEFAULT_MAX_EXTERNAL: usize = 1 << 16;

/// One `ip local pool`.
#[derive(Debug, Clone)]
pub struct AddressPool {
    name: String,
    start: u32,
    size: u32,
    mask: Ipv4Addr,
    used: Vec<u64>,
    in_use: u32,
    cursor: u32,
    /// Per offset: the user that held it last (the same string as its `sticky` key: one
    /// allocation per remembered user, none when a user gets its address back).
    last_user: Vec<Option<Arc<str>>>,
    /// User -> offset it held last (inverse of `last_user`, so at most `size` entries).
    /// A `BTreeMap`: user names come from the peer, so no hash table whose collisions
    /// they could choose, and the same order in every run.
    sticky: BTreeMap<Arc<str>, u32>,
}

impl AddressPool {
    fn new(
        name: &str,
        start: Ipv4Addr,
        end: Ipv4Addr,
        mask: Ipv4Addr,
    ) -> Result<Self, ModeCfgError> {
        let (s, e) = (u32::from(start), u32::from(end));
        let bad = |reason| ModeCfgError::BadRange { start, end, reason };
        if e < s {
            return Err(bad("the last address is below the first"));
        }
        let size = e
            .checked_sub(s)
            .and_then(|d| d.checked_add(1))
            .filter(|n| *n <= MAX_POOL_SIZE)
            .ok_or_else(|| bad("more than 65536 addresses"))?;
        let words = usize::try_from(size.div_ceil(64)).map_err(|_| bad("too large"))?;
        let slots = usize::try_from(size).map_err(|_| bad("too large"))?;
        Ok(AddressPool {
            name: name.to_owned(),
            start: s,
            size,
            mask,
            used: vec![0; words],
            in_use: 0,
            cursor: 0,
            last_user: vec![None; slots],
            sticky: BTreeMap::new(),
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// First address.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.start)
    }

    /// Last address.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.start.saturating_add(self.size.saturating_sub(1)))
    }

    /// Number of addresses.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Addresses currently leased.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Addresses free.
    pub fn available(&self) -> u32 {
        self.size.saturating_sub(self.in_use)
    }

    /// The netmask clients get with an address from this pool.
    pub fn netmask(&self) -> Ipv4Addr {
        self.mask
    }

    /// Whether `addr` is in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.offset_of(addr).is_some()
    }

    /// Whether `addr` is in the range and leased.
    pub fn is_leased(&self, addr: Ipv4Addr) -> bool {
        self.offset_of(addr).is_some_and(|o| self.bit(o))
    }

    fn offset_of(&self, addr: Ipv4Addr) -> Option<u32> {
        u32::from(addr)
            .checked_sub(self.start)
            .filter(|o| *o < self.size)
    }

    fn addr_at(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.start.saturating_add(offset))
    }

    fn bit(&self, o: u32) -> bool {
        let (w, b) = (o / 64, o % 64);
        usize::try_from(w)
            .ok()
            .and_then(|w| self.used.get(w))
            .is_some_and(|word| word & (1u64 << b) != 0)
    }

    fn set_bit(&mut self, o: u32, on: bool) {
        let (w, b) = (o / 64, o % 64);
        if let Some(word) = usize::try_from(w).ok().and_then(|w| self.used.get_mut(w)) {
            if on {
                *word |= 1u64 << b;
            } else {
                *word &= !(1u64 << b);
            }
        }
    }

    /// The first free offset at or after `from`, wrapping once.
    fn find_free(&self, from: u32) -> Option<u32> {
        let words = u32::try_from(self.used.len()).ok()?;
        if words == 0 || self.in_use >= self.size {
            return None;
        }
        let start_word = from / 64;
        // Walk every word once, plus the start word again to cover its low bits.
        for step in 0..=words {
            let w = start_word.checked_add(step)?.checked_rem(words)?;
            let word = *self.used.get(usize::try_from(w).ok()?)?;
            let mut free = !word;
            if step == 0 {
                // Only bits at or above `from` in the first visit.
                free &= u64::MAX.checked_shl(from % 64).unwrap_or(0);
            }
            while free != 0 {
                let b = free.trailing_zeros();
                let o = w.checked_mul(64)?.checked_add(b)?;
                if o < self.size {
                    return Some(o);
                }
                // Bits past the end of the range in the last word are never free.
                free &= free.saturating_sub(1);
            }
        }
        None
    }

    fn remember(&mut self, o: u32, user: &str) {
        let Some(slot) = usize::try_from(o).ok() else {
            return;
        };
        // Drop whatever `user` remembered before (keeping its name, to reuse), and whoever
        // remembered `o`.
        let mut name = None;
        if let Some((key, prev)) = self.sticky.remove_entry(user) {
            if let Some(s) = usize::try_from(prev)
                .ok()
                .and_then(|p| self.last_user.get_mut(p))
            {
                *s = None;
            }
            name = Some(key);
        }
        if let Some(Some(old)) = self.last_user.get_mut(slot).map(Option::take) {
            self.sticky.remove(&old);
        }
        if let Some(s) = self.last_user.get_mut(slot) {
            let name = name.unwrap_or_else(|| Arc::from(user));
            *s = Some(Arc::clone(&name));
            self.sticky.insert(name, o);
        }
    }

    fn take(&mut self, o: u32, user: &str) {
        self.set_bit(o, true);
        self.in_use = self.in_use.saturating_add(1);
        self.remember(o, user);
    }

    fn allocate(&mut self, user: &str) -> Option<Ipv4Addr> {
        if let Some(&o) = self.sticky.get(user) {
            if !self.bit(o) {
                self.take(o, user);
                return Some(self.addr_at(o));
            }
        }
        let o = self.find_free(self.cursor)?;
        self.cursor = o.checked_add(1).filter(|c| *c < self.size).unwrap_or(0);
        self.take(o, user);
        Some(self.addr_at(o))
    }

    fn take_specific(&mut self, addr: Ipv4Addr, user: &str) -> Result<(), ModeCfgError> {
        let o = self
            .offset_of(addr)
            .ok_or(ModeCfgError::NotLeased { addr })?;
        if self.bit(o) {
            return Err(ModeCfgError::AddressInUse { addr });
        }
        self.take(o, user);
        Ok(())
    }

    fn release(&mut self, addr: Ipv4Addr) -> Result<(), ModeCfgError> {
        match self.offset_of(addr) {
            Some(o) if self.bit(o) => {
                self.set_bit(o, false);
                self.in_use = self.in_use.saturating_sub(1);
                Ok(())
            }
            _ => Err(ModeCfgError::NotLeased { addr }),
        }
    }

    /// The address `user` held last, if remembered.
    pub fn remembered(&self, user: &str) -> Option<Ipv4Addr> {
        self.sticky.get(user).map(|o| self.addr_at(*o))
    }
}

/// Where a lease's address came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseSource {
    /// Allocated from the named pool.
    Pool(String),
    /// Assigned by AAA (RADIUS Framed-IP-Address); `pool` names the pool it was taken out
    /// of, if it lies inside one.
    Aaa {
        /// The pool that contains the address, if any.
        pool: Option<String>,
    },
}

/// An address held by one SA. Not `Clone`: give it back with [`Pools::release`] on teardown.
#[derive(Debug, PartialEq, Eq)]
pub struct Lease {
    addr: Ipv4Addr,
    netmask: Ipv4Addr,
    source: LeaseSource,
}

impl Lease {
    /// The address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The netmask to give the client.
    pub fn netmask(&self) -> Ipv4Addr {
        self.netmask
    }

    /// Where it came from.
    pub fn source(&self) -> &LeaseSource {
        &self.source
    }
}

/// An AAA-assigned address (RADIUS Framed-IP-Address, optional Framed-IP-Netmask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AaaAddress {
    /// Framed-IP-Address.
    pub addr: Ipv4Addr,
    /// Framed-IP-Netmask, if sent.
    pub netmask: Option<Ipv4Addr>,
}

/// The classful (natural) mask of an address: /8, /16 or /24 for classes A, B, C; /32 otherwise.
pub fn classful_mask(addr: Ipv4Addr) -> Ipv4Addr {
    match addr.octets()[0] {
        0..=127 => Ipv4Addr::new(255, 0, 0, 0),
        128..=191 => Ipv4Addr::new(255, 255, 0, 0),
        192..=223 => Ipv4Addr::new(255, 255, 255, 0),
        _ => Ipv4Addr::BROADCAST,
    }
}

/// Every configured pool plus the AAA-assigned addresses outside them.
#[derive(Debug, Clone)]
pub struct Pools {
    pools: Vec<AddressPool>,
    external: BTreeSet<Ipv4Addr>,
    max_external: usize,
    /// Leases that lost their pool in a [`Pools::reconfigure`] (the pool went, or no
    /// longer holds the address) and AAA-assigned addresses a new pool now covers: held
    /// until their session gives them back, with the pool (if any) whose bit keeps the
    /// address from being handed to somebody else meanwhile.
    moved: BTreeMap<Ipv4Addr, Option<String>>,
}

impl Default for Pools {
    fn default() -> Self {
        Self::new()
    }
}

impl Pools {
    /// No pools.
    pub const fn new() -> Self {
        Pools {
            pools: Vec::new(),
            external: BTreeSet::new(),
            max_external: DEFAULT_MAX_EXTERNAL,
            moved: BTreeMap::new(),
        }
    }

    /// Sets the cap on live AAA-assigned addresses outside every pool.
    pub fn set_max_external(&mut self, limit: usize) {
        self.max_external = limit;
    }

    /// Adds `ip local pool NAME START-END` (classful netmask for clients).
    pub fn add(&mut self, name: &str, start: Ipv4Addr, end: Ipv4Addr) -> Result<(), ModeCfgError> {
        self.add_with_mask(name, start, end, classful_mask(start))
    }

    /// Adds a pool whose clients get `mask`.
    ///
    /// Refuses a duplicate name, an empty or reversed range, more than [`MAX_POOL_SIZE`]
    /// addresses, and a range that overlaps another pool.
    pub fn add_with_mask(
        &mut self,
        name: &str,
        start: Ipv4Addr,
        end: Ipv4Addr,
        mask: Ipv4Addr,
    ) -> Result<(), ModeCfgError> {
        if self.pool(name).is_some() {
            return Err(ModeCfgError::DuplicatePool {
                name: name.to_owned(),
            });
        }
        let pool = AddressPool::new(name, start, end, mask)?;
        let overlaps = self.pools.iter().any(|p| {
            u32::from(start) <= u32::from(p.last()) && u32::from(p.first()) <= u32::from(end)
        });
        if overlaps {
            return Err(ModeCfgError::BadRange {
                start,
                end,
                reason: "overlaps another pool",
            });
        }
        self.pools.push(pool);
        Ok(())
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&AddressPool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// All pools, in the order added.
    pub fn pools(&self) -> &[AddressPool] {
        &self.pools
    }

    /// Whether `addr` is leased, from a pool or by AAA.
    pub fn is_in_use(&self, addr: Ipv4Addr) -> bool {
        self.external.contains(&addr)
            || self.moved.contains_key(&addr)
            || self.pools.iter().any(|p| p.is_leased(addr))
    }

    /// Takes the pools of a new configuration (`pix-gateway reload`) while every lease
    /// handed out stays valid: a leased address that a new pool of the same name still
    /// holds stays leased there (and its user's sticky address is remembered); any other
    /// lease from a pool is *orphaned*: returned here, so that its session can be ended,
    /// and kept out of every new pool until it is given back. AAA-assigned addresses stay
    /// valid (one a new pool now covers is taken out of it). Users remembered in a pool of
    /// the same name keep their address for next time when it is still in range. The
    /// leases keep working with [`Pools::release`]. O(pools' size / 64 + leases).
    pub fn reconfigure(&mut self, new: Pools) -> Vec<Ipv4Addr> {
        let old = std::mem::replace(self, new);
        self.max_external = old.max_external;
        let mut orphans = Vec::new();
        for p in &old.pools {
            let same = self.pools.iter().position(|n| n.name == p.name);
            for o in 0..p.size {
                let addr = p.addr_at(o);
                let user = usize::try_from(o)
                    .ok()
                    .and_then(|i| p.last_user.get(i))
                    .and_then(Option::as_ref)
                    .map(Arc::clone);
                let leased = p.bit(o);
                let kept = same.and_then(|i| self.pools.get_mut(i)).and_then(|n| {
                    let no = n.offset_of(addr)?;
                    if leased {
                        n.set_bit(no, true);
                        n.in_use = n.in_use.saturating_add(1);
                    }
                    if let Some(u) = &user {
                        n.remember(no, u);
                    }
                    Some(())
                });
                if leased && kept.is_none() {
                    self.hold_moved(addr);
                    orphans.push(addr);
                }
            }
        }
        for addr in old.external {
            if self.pools.iter().any(|p| p.contains(addr)) {
                self.hold_moved(addr);
            } else {
                self.external.insert(addr);
            }
        }
        for addr in old.moved.into_keys() {
            self.hold_moved(addr);
        }
        orphans
    }

    /// Keeps `addr` (a lease of the configuration before) out of the pools until it is
    /// released.
    fn hold_moved(&mut self, addr: Ipv4Addr) {
        let pool = self
            .pools
            .iter_mut()
            .find(|p| p.contains(addr))
            .and_then(|p| {
                let o = p.offset_of(addr)?;
                if p.bit(o) {
                    return None; // cannot happen: only one lease per address existed
                }
                p.set_bit(o, true);
                p.in_use = p.in_use.saturating_add(1);
                Some(p.name.clone())
            });
        self.moved.insert(addr, pool);
    }

    /// The first address in `first..=last` that lies in a pool (leased or not), or that
    /// AAA assigned outside every pool: whether a range of addresses touches what Mode
    /// Config hands out. O(pools + log external).
    pub fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        let (lo, hi) = (u32::from(first), u32::from(last));
        if lo > hi {
            return None;
        }
        let in_pool = self
            .pools
            .iter()
            .filter(|p| lo <= u32::from(p.last()) && u32::from(p.first()) <= hi)
            .map(|p| u32::from(p.first()).max(lo))
            .min()
            .map(Ipv4Addr::from);
        let external = self
            .external
            .range(first..=last)
            .next()
            .copied()
            .into_iter()
            .chain(self.moved.range(first..=last).next().map(|(a, _)| *a))
            .min();
        match (in_pool, external) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Leases an address for `user` from the first of `pools` that has one free.
    pub fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError> {
        let mut last = None;
        for name in pools {
            let p = self
                .pools
                .iter_mut()
                .find(|p| &p.name == name)
                .ok_or_else(|| ModeCfgError::UnknownPool { name: name.clone() })?;
            if let Some(addr) = p.allocate(user) {
                return Ok(Lease {
                    addr,
                    netmask: p.mask,
                    source: LeaseSource::Pool(p.name.clone()),
                });
            }
            last = Some((p.name.clone(), p.size));
        }
        match last {
            Some((pool, size)) => Err(ModeCfgError::PoolExhausted { pool, size }),
            None => Err(ModeCfgError::NoAddressSource),
        }
    }

    /// Leases an AAA-assigned address for `user`, refusing one already in use.
    pub fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError> {
        let addr = aaa.addr;
        if let Some(p) = self.pools.iter_mut().find(|p| p.contains(addr)) {
            p.take_specific(addr, user)?;
            return Ok(Lease {
                addr,
                netmask: aaa.netmask.unwrap_or(p.mask),
                source: LeaseSource::Aaa {
                    pool: Some(p.name.clone()),
                },
            });
        }
        if self.external.contains(&addr) || self.moved.contains_key(&addr) {
            return Err(ModeCfgError::AddressInUse { addr });
        }
        if self.external.len() >= self.max_external {
            return Err(ModeCfgError::TooManyExternal {
                limit: self.max_external,
            });
        }
        self.external.insert(addr);
        Ok(Lease {
            addr,
            netmask: aaa.netmask.unwrap_or(Ipv4Addr::BROADCAST),
            source: LeaseSource::Aaa { pool: None },
        })
    }

    /// An address for a session: the AAA one when given (it wins), else from `pools`.
    pub fn acquire(
        &mut self,
        user: &str,
        aaa: Option<AaaAddress>,
        pools: &[String],
    ) -> Result<Lease, ModeCfgError> {
        match aaa {
            Some(a) => self.assign_aaa(a, user),
            None => self.allocate(pools, user),
        }
    }

    /// Gives a lease back (SA teardown).
    pub fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError> {
        let addr = lease.addr;
        if let Some(pool) = self.moved.remove(&addr) {
            // a lease of the configuration before a reconfigure
            if let Some(p) = pool.and_then(|n| self.pools.iter_mut().find(|p| p.name == n)) {
                p.release(addr)?;
            }
            return Ok(());
        }
        match lease.source {
            LeaseSource::Pool(name) | LeaseSource::Aaa { pool: Some(name) } => self
                .pools
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or(ModeCfgError::NotLeased { addr })?
                .release(addr),
            LeaseSource::Aaa { pool: None } => {
                if self.external.remove(&addr) {
                    Ok(())
                } else {
                    Err(ModeCfgError::NotLeased { addr })
                }
            }
        }
    }

    /// Leased addresses over all pools plus AAA-assigned ones outside them.
    pub fn total_in_use(&self) -> usize {
        let moved_outside = self.moved.values().filter(|p| p.is_none()).count();
        self.pools
            .iter()
            .map(|p| p.in_use as usize)
            .fold(self.external.len(), usize::saturating_add)
            .saturating_add(moved_outside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn overlaps_finds_pool_and_external_addresses_in_a_range() {
        let mut p = seed();
        let (a, b) = (ip("10.89.129.0"), ip("10.89.129.255"));
        assert_eq!(p.overlaps(a, b), Some(ip("10.89.129.200")));
        assert_eq!(
            p.overlaps(ip("10.89.129.202"), b),
            Some(ip("10.89.129.202"))
        );
        assert_eq!(p.overlaps(ip("10.89.129.205"), b), None);
        assert_eq!(p.overlaps(b, a), None, "reversed range");
        let aaa = AaaAddress {
            addr: ip("10.7.0.9"),
            netmask: None,
        };
        let l = p.assign_aaa(aaa, "u").unwrap();
        assert_eq!(
            p.overlaps(ip("10.7.0.0"), ip("10.7.0.255")),
            Some(ip("10.7.0.9"))
        );
        assert_eq!(
            p.overlaps(ip("0.0.0.0"), ip("255.255.255.255")),
            Some(ip("10.7.0.9"))
        );
        assert_eq!(p.overlaps(ip("10.7.0.10"), ip("10.7.0.255")), None);
        p.release(l).unwrap();
        assert_eq!(p.overlaps(ip("10.7.0.0"), ip("10.7.0.255")), None);
    }

    fn seed() -> Pools {
        let mut p = Pools::new();
        p.add("VPNpool", ip("10.89.129.200"), ip("10.89.129.204"))
            .unwrap();
        p
    }

    fn vpnpool() -> Vec<String> {
        vec!["VPNpool".to_owned()]
    }

    #[test]
    fn sixth_client_of_five_is_refused_and_nothing_leaks() {
        let mut p = seed();
        let leases: Vec<Lease> = (0..5)
            .map(|i| p.allocate(&vpnpool(), &format!("user{i}")).unwrap())
            .collect();
        let addrs: Vec<_> = leases.iter().map(Lease::addr).collect();
        assert_eq!(
            addrs,
            [
                "10.89.129.200",
                "10.89.129.201",
                "10.89.129.202",
                "10.89.129.203",
                "10.89.129.204"
            ]
            .map(ip)
        );
        assert_eq!(
            p.allocate(&vpnpool(), "user5"),
            Err(ModeCfgError::PoolExhausted {
                pool: "VPNpool".into(),
                size: 5
            })
        );
        assert_eq!(p.total_in_use(), 5);
        for l in leases {
            p.release(l).unwrap();
        }
        assert_eq!(p.total_in_use(), 0);
        assert_eq!(p.pool("VPNpool").unwrap().available(), 5);
        // Now the refused user gets one.
        assert!(p.allocate(&vpnpool(), "user5").is_ok());
    }

    #[test]
    fn same_user_gets_previous_address_back_when_free() {
        let mut p = seed();
        let a = p.allocate(&vpnpool(), "alice").unwrap();
        let b = p.allocate(&vpnpool(), "bob").unwrap();
        let (aa, ba) = (a.addr(), b.addr());
        p.release(a).unwrap();
        p.release(b).unwrap();
        // A third user comes first; round robin does not hand out alice's address.
        let c = p.allocate(&vpnpool(), "carol").unwrap();
        assert_ne!(c.addr(), aa);
        assert_ne!(c.addr(), ba);
        assert_eq!(p.allocate(&vpnpool(), "bob").unwrap().addr(), ba);
        assert_eq!(p.allocate(&vpnpool(), "alice").unwrap().addr(), aa);
    }

    #[test]
    fn sticky_address_taken_by_other_user_falls_back() {
        let mut p = Pools::new();
        p.add("P", ip("192.168.5.1"), ip("192.168.5.2")).unwrap();
        let names = vec!["P".to_owned()];
        let a = p.allocate(&names, "alice").unwrap(); // .1
        let b = p.allocate(&names, "bob").unwrap(); // .2
        p.release(a).unwrap();
        let c = p.allocate(&names, "carol").unwrap(); // only .1 is free
        assert_eq!(c.addr(), ip("192.168.5.1"));
        p.release(b).unwrap();
        // alice's remembered address is carol's now; she gets the other one.
        assert_eq!(p.pool("P").unwrap().remembered("alice"), None);
        assert_eq!(
            p.allocate(&names, "alice").unwrap().addr(),
            ip("192.168.5.2")
        );
        assert_eq!(
            p.pool("P").unwrap().remembered("carol"),
            Some(ip("192.168.5.1"))
        );
    }

    #[test]
    fn double_release_is_refused() {
        let mut p = seed();
        let a = p.allocate(&vpnpool(), "u").unwrap();
        let copy = Lease {
            addr: a.addr,
            netmask: a.netmask,
            source: a.source.clone(),
        };
        p.release(a).unwrap();
        assert_eq!(
            p.release(copy),
            Err(ModeCfgError::NotLeased {
                addr: ip("10.89.129.200")
            })
        );
    }

    #[test]
    fn aaa_address_wins_and_is_checked_against_pool() {
        let mut p = seed();
        let first = p.allocate(&vpnpool(), "u1").unwrap();
        assert_eq!(first.addr(), ip("10.89.129.200"));
        // RADIUS tries to hand out an address the pool has given to somebody else.
        let clash = AaaAddress {
            addr: ip("10.89.129.200"),
            netmask: None,
        };
        assert_eq!(
            p.acquire("u2", Some(clash), &vpnpool()),
            Err(ModeCfgError::AddressInUse {
                addr: ip("10.89.129.200")
            })
        );
        // A free pool address from RADIUS is taken out of the pool.
        let framed = p
            .acquire(
                "u2",
                Some(AaaAddress {
                    addr: ip("10.89.129.201"),
                    netmask: Some(ip("255.255.255.0")),
                }),
                &vpnpool(),
            )
            .unwrap();
        assert_eq!(framed.netmask(), ip("255.255.255.0"));
        assert_eq!(
            framed.source(),
            &LeaseSource::Aaa {
                pool: Some("VPNpool".into())
            }
        );
        assert_eq!(
            p.allocate(&vpnpool(), "u3").unwrap().addr(),
            ip("10.89.129.202")
        );
        // Outside every pool: tracked, duplicates refused.
        let out = AaaAddress {
            addr: ip("172.16.0.9"),
            netmask: None,
        };
        let l = p.assign_aaa(out, "u4").unwrap();
        assert_eq!(l.netmask(), Ipv4Addr::BROADCAST);
        assert!(p.is_in_use(ip("172.16.0.9")));
        assert_eq!(
            p.assign_aaa(out, "u5"),
            Err(ModeCfgError::AddressInUse {
                addr: ip("172.16.0.9")
            })
        );
        p.release(l).unwrap();
        assert!(!p.is_in_use(ip("172.16.0.9")));
        p.release(framed).unwrap();
        assert!(!p.is_in_use(ip("10.89.129.201")));
    }

    #[test]
    fn external_cap() {
        let mut p = Pools::new();
        p.set_max_external(1);
        let _a = p
            .assign_aaa(
                AaaAddress {
                    addr: ip("1.1.1.1"),
                    netmask: None,
                },
                "a",
            )
            .unwrap();
        assert_eq!(
            p.assign_aaa(
                AaaAddress {
                    addr: ip("1.1.1.2"),
                    netmask: None
                },
                "b"
            ),
            Err(ModeCfgError::TooManyExternal { limit: 1 })
        );
    }

    #[test]
    fn multiple_pools_fall_through_in_order() {
        let mut p = Pools::new();
        p.add("A", ip("10.0.0.1"), ip("10.0.0.1")).unwrap();
        p.add("B", ip("10.0.1.1"), ip("10.0.1.2")).unwrap();
        let both = vec!["A".to_owned(), "B".to_owned()];
        assert_eq!(p.allocate(&both, "x").unwrap().addr(), ip("10.0.0.1"));
        assert_eq!(p.allocate(&both, "y").unwrap().addr(), ip("10.0.1.1"));
        assert_eq!(p.allocate(&both, "z").unwrap().addr(), ip("10.0.1.2"));
        assert_eq!(
            p.allocate(&both, "w"),
            Err(ModeCfgError::PoolExhausted {
                pool: "B".into(),
                size: 2
            })
        );
        assert_eq!(
            p.allocate(&["C".to_owned()], "w"),
            Err(ModeCfgError::UnknownPool { name: "C".into() })
        );
        assert_eq!(p.allocate(&[], "w"), Err(ModeCfgError::NoAddressSource));
    }

    #[test]
    fn bad_ranges() {
        let mut p = seed();
        assert_eq!(
            p.add("X", ip("10.0.0.5"), ip("10.0.0.1")),
            Err(ModeCfgError::BadRange {
                start: ip("10.0.0.5"),
                end: ip("10.0.0.1"),
                reason: "the last address is below the first"
            })
        );
        assert!(matches!(
            p.add("X", ip("10.0.0.0"), ip("10.1.0.0")),
            Err(ModeCfgError::BadRange {
                reason: "more than 65536 addresses",
                ..
            })
        ));
        assert!(matches!(
            p.add("X", ip("10.89.129.204"), ip("10.89.129.210")),
            Err(ModeCfgError::BadRange {
                reason: "overlaps another pool",
                ..
            })
        ));
        assert_eq!(
            p.add("VPNpool", ip("1.0.0.1"), ip("1.0.0.2")),
            Err(ModeCfgError::DuplicatePool {
                name: "VPNpool".into()
            })
        );
        // The whole of a /16 is fine, up to the very top of the address space.
        p.add("Big", ip("255.255.0.0"), ip("255.255.255.255"))
            .unwrap();
        let big = p.pool("Big").unwrap();
        assert_eq!(big.size(), 65536);
        assert_eq!(big.last(), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn classful_masks() {
        assert_eq!(classful_mask(ip("10.89.129.200")), ip("255.0.0.0"));
        assert_eq!(classful_mask(ip("172.16.1.1")), ip("255.255.0.0"));
        assert_eq!(classful_mask(ip("192.168.1.1")), ip("255.255.255.0"));
        assert_eq!(classful_mask(ip("224.0.0.1")), ip("255.255.255.255"));
        assert_eq!(seed().pool("VPNpool").unwrap().netmask(), ip("255.0.0.0"));
    }

    #[test]
    fn wraps_across_words() {
        let mut p = Pools::new();
        p.add("W", ip("10.0.0.0"), ip("10.0.0.199")).unwrap();
        let n = vec!["W".to_owned()];
        let mut held: Vec<Lease> = (0..200)
            .map(|i| p.allocate(&n, &format!("u{i}")).unwrap())
            .collect();
        assert!(p.allocate(&n, "extra").is_err());
        // Free one in the first word; the cursor is at the end and must wrap to it.
        let l = held.remove(3);
        let addr = l.addr();
        p.release(l).unwrap();
        assert_eq!(p.allocate(&n, "extra").unwrap().addr(), addr);
    }

    fn pools_of(list: &[(&str, &str, &str)]) -> Pools {
        let mut p = Pools::new();
        for (n, a, b) in list {
            p.add(n, ip(a), ip(b)).unwrap();
        }
        p
    }

    #[test]
    fn reconfigure_keeps_leases_a_pool_of_the_same_name_still_holds() {
        let mut p = pools_of(&[
            ("A", "10.0.0.1", "10.0.0.10"),
            ("B", "10.0.1.1", "10.0.1.10"),
        ]);
        let a = vec!["A".to_owned()];
        let b = vec!["B".to_owned()];
        let la = p.allocate(&a, "alice").unwrap();
        let lb = p.allocate(&b, "bob").unwrap();
        let lx = p
            .assign_aaa(
                AaaAddress {
                    addr: ip("10.0.9.9"),
                    netmask: None,
                },
                "xavier",
            )
            .unwrap();
        // A grows, B goes, a new pool C covers the AAA address
        let orphans = p.reconfigure(pools_of(&[
            ("A", "10.0.0.1", "10.0.0.20"),
            ("C", "10.0.9.1", "10.0.9.20"),
        ]));
        assert_eq!(orphans, vec![lb.addr()]);
        assert_eq!(p.pool("A").unwrap().in_use(), 1);
        assert!(p.is_in_use(la.addr()) && p.is_in_use(lb.addr()) && p.is_in_use(lx.addr()));
        assert_eq!(
            p.pool("C").unwrap().in_use(),
            1,
            "the AAA address is kept out of C"
        );
        assert_eq!(p.total_in_use(), 3);
        // nobody else gets a held address
        let c = vec!["C".to_owned()];
        let mut got = Vec::new();
        while let Ok(l) = p.allocate(&c, "someone") {
            assert_ne!(l.addr(), lx.addr());
            got.push(l);
        }
        assert_eq!(got.len(), 19);
        assert!(p
            .assign_aaa(
                AaaAddress {
                    addr: lb.addr(),
                    netmask: None
                },
                "eve"
            )
            .is_err());
        // every old lease gives back cleanly
        p.release(la).unwrap();
        p.release(lb).unwrap();
        p.release(lx).unwrap();
        for l in got {
            p.release(l).unwrap();
        }
        assert_eq!(p.total_in_use(), 0);
        // alice is remembered across the reload
        assert_eq!(p.allocate(&a, "alice").unwrap().addr(), ip("10.0.0.1"));
    }

    #[test]
    fn reconfigure_orphans_a_lease_its_pool_no_longer_covers_and_holds_it_in_the_new_one() {
        let mut p = pools_of(&[("A", "10.0.0.1", "10.0.0.10")]);
        let a = vec!["A".to_owned()];
        let l1 = p.allocate(&a, "u1").unwrap();
        let l2 = p.allocate(&a, "u2").unwrap();
        // A shrinks past l2; a pool D now covers l2's address
        let orphans = p.reconfigure(pools_of(&[
            ("A", "10.0.0.1", "10.0.0.1"),
            ("D", "10.0.0.2", "10.0.0.9"),
        ]));
        assert_eq!(orphans, vec![l2.addr()]);
        assert_eq!(p.pool("D").unwrap().in_use(), 1);
        assert!(p.allocate(&a, "u3").is_err(), "A's one address is u1's");
        p.release(l2).unwrap();
        assert_eq!(p.pool("D").unwrap().in_use(), 0);
        p.release(l1).unwrap();
        assert_eq!(p.total_in_use(), 0);
        // a second reconfigure carries an unreleased orphan on
        let l = p.allocate(&a, "u1").unwrap();
        assert_eq!(p.reconfigure(Pools::new()), vec![l.addr()]);
        assert_eq!(p.reconfigure(Pools::new()), Vec::<Ipv4Addr>::new());
        assert_eq!(p.total_in_use(), 1);
        p.release(l).unwrap();
        assert_eq!(p.total_in_use(), 0);
    }
}
