//! One set of `ip local pool`s shared by the gateway's shards (one `ike_sm::Endpoint` per
//! worker thread), and who holds each leased address.
//!
//! Every shard owns its own IKE and ESP SAs, but pool addresses must stay unique across
//! the whole gateway, so the shards lease from one [`modecfg::Pools`]. Each shard's
//! endpoint gets a [`PoolHandle`] ([`SharedPools::handle`]) through
//! `ike_sm::Endpoint::with_lease_store`; the handle implements [`modecfg::LeaseStore`].
//!
//! What is shared, and what each operation locks:
//!
//! * **The pools** (`Mutex<Pools>`): every lease operation of a handle (`allocate`,
//!   `assign_aaa`, `acquire`, `release`) and every check of a Quick Mode selector against
//!   the pools (`overlaps`) takes this lock once, for one decision. These happen a few
//!   times per tunnel (login, Mode Config, Quick Mode, logout), never per packet. `show
//!   ip local pool` and metrics read the pools under the same lock ([`SharedPools::with_pools`],
//!   [`SharedPools::snapshot`], [`SharedPools::total_in_use`]).
//! * **Who holds a pool address** (one `AtomicU8` per address of each pool: the pools are
//!   contiguous ranges, fixed when the gateway starts, so the address's offset in its pool
//!   is the index): written under the pools' lock by the operation that leases or frees
//!   the address, read without any lock by [`SharedPools::owner`], the per-packet lookup
//!   that sends a packet from the inside to the shard whose tunnel owns its destination.
//! * **Who holds an AAA address outside every pool** (RADIUS Framed-IP-Address): a small
//!   `RwLock<HashMap>` written under the pools' lock like the slots above. [`SharedPools::owner`]
//!   takes its read lock only while at least one such address is leased (an atomic count
//!   says whether any is), so a gateway whose AAA server assigns no outside addresses
//!   never touches it per packet.
//!
//! A reader may see an owner a moment before or after the lease itself changes (the slot
//! is written right after the pools, under the same lock): a packet sent to the old shard
//! in that moment finds no tunnel there and is dropped, as it would be a moment later.
//!
//! A lock poisoned by a panic in another thread is recovered (the data behind it is
//! consistent: every operation on the pools completes or refuses without panicking), never
//! turned into a second panic.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, TryLockError};

use ike_sm::Shard;
use modecfg::{AaaAddress, Lease, LeaseStore, ModeCfgError, Pools};

/// The owner slot of an address nobody holds. A slot holds the shard's index plus one.
const FREE: u8 = 0;

/// The owner slots of one pool.
struct Slots {
    first: u32,
    owners: Box<[AtomicU8]>,
}

impl Slots {
    fn slot(&self, addr: Ipv4Addr) -> Option<&AtomicU8> {
        let offset = u32::from(addr).checked_sub(self.first)?;
        self.owners.get(usize::try_from(offset).ok()?)
    }
}

struct Inner {
    pools: Mutex<Pools>,
    /// One entry per pool, sorted by first address (pools never overlap).
    slots: Vec<Slots>,
    /// AAA-assigned addresses outside every pool -> owner slot value.
    external: RwLock<HashMap<Ipv4Addr, u8>>,
    /// How many entries `external` has (read without its lock).
    external_len: AtomicUsize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self, addr: Ipv4Addr) -> Option<&AtomicU8> {
        let a = u32::from(addr);
        let after = self.slots.partition_point(|s| s.first <= a);
        self.slots.get(after.checked_sub(1)?)?.slot(addr)
    }

    /// Records `value` (a shard's slot value, or [`FREE`]) for `addr`. Called with the
    /// pools' lock held, right after the pools changed.
    fn set_owner(&self, addr: Ipv4Addr, value: u8) {
        if let Some(slot) = self.slot(addr) {
            slot.store(value, Ordering::Release);
            return;
        }
        let mut ext = self
            .external
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if value == FREE {
            ext.remove(&addr);
        } else {
            ext.insert(addr, value);
        }
        self.external_len.store(ext.len(), Ordering::Release);
    }

    fn owner(&self, addr: Ipv4Addr) -> Option<u8> {
        let value = match self.slot(addr) {
            Some(slot) => slot.load(Ordering::Acquire),
            None if self.external_len.load(Ordering::Acquire) == 0 => FREE,
            None => self
                .external
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&addr)
                .copied()
                .unwrap_or(FREE),
        };
        value.checked_sub(1)
    }
}

/// The gateway's pools, shared by its shards (see the [module documentation](self)).
/// Cloning gives another reference to the same pools.
#[derive(Clone)]
pub struct SharedPools {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SharedPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never waits for the lock: a Debug inside `with_pools` must not deadlock.
        let in_use = match self.inner.pools.try_lock() {
            Ok(p) => Some(p.total_in_use()),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner().total_in_use()),
            Err(TryLockError::WouldBlock) => None,
        };
        f.debug_struct("SharedPools")
            .field("pools", &self.inner.slots.len())
            .field("in_use", &in_use)
            .finish_non_exhaustive()
    }
}

impl SharedPools {
    /// Shares `pools` (with the leases it has, if any). The pools are fixed from now on:
    /// no pool can be added through a shared set (the owner table is sized by them).
    pub fn new(pools: Pools) -> Self {
        let mut slots: Vec<Slots> = pools
            .pools()
            .iter()
            .map(|p| Slots {
                first: u32::from(p.first()),
                owners: (0..p.size()).map(|_| AtomicU8::new(FREE)).collect(),
            })
            .collect();
        slots.sort_by_key(|s| s.first);
        SharedPools {
            inner: Arc::new(Inner {
                pools: Mutex::new(pools),
                slots,
                external: RwLock::new(HashMap::new()),
                external_len: AtomicUsize::new(0),
            }),
        }
    }

    /// The lease store of `shard`'s endpoint: leases it makes are recorded as that
    /// shard's.
    pub fn handle(&self, shard: Shard) -> PoolHandle {
        PoolHandle {
            inner: Arc::clone(&self.inner),
            shard: shard.index(),
        }
    }

    /// The shard whose tunnel holds `addr` (leased from a pool or assigned by AAA through
    /// a handle), if any. Lock-free for pool addresses: the per-packet lookup for traffic
    /// from the inside.
    pub fn owner(&self, addr: Ipv4Addr) -> Option<u8> {
        self.inner.owner(addr)
    }

    /// Calls `f` with the pools as they are now, under their lock: keep `f` short, and
    /// lease nothing through a handle inside it (the lock is not reentrant).
    pub fn with_pools<T>(&self, f: impl FnOnce(&Pools) -> T) -> T {
        f(&self.inner.lock())
    }

    /// A copy of the pools as they are now (for `show ip local pool` without holding the
    /// lock while rendering).
    pub fn snapshot(&self) -> Pools {
        self.inner.lock().clone()
    }

    /// Leased addresses over all pools plus AAA-assigned ones outside them.
    pub fn total_in_use(&self) -> usize {
        self.inner.lock().total_in_use()
    }
}

/// One shard's handle on the [`SharedPools`]: the [`LeaseStore`] of its endpoint. Each
/// operation locks the pools once.
#[derive(Clone)]
pub struct PoolHandle {
    inner: Arc<Inner>,
    shard: u8,
}

impl std::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle")
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

impl PoolHandle {
    /// The shard this handle leases for.
    pub fn shard(&self) -> u8 {
        self.shard
    }

    /// The owner slot value of this handle's shard (index + 1: a shard index is below
    /// its count, at most 255, so at most 254).
    fn value(&self) -> u8 {
        self.shard.saturating_add(1)
    }

    /// Runs a lease operation under the pools' lock and records the new lease's owner.
    fn lease(
        &self,
        op: impl FnOnce(&mut Pools) -> Result<Lease, ModeCfgError>,
    ) -> Result<Lease, ModeCfgError> {
        let mut pools = self.inner.lock();
        let lease = op(&mut pools)?;
        self.inner.set_owner(lease.addr(), self.value());
        Ok(lease)
    }
}

impl LeaseStore for PoolHandle {
    fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError> {
        self.lease(|p| p.allocate(pools, user))
    }

    fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError> {
        self.lease(|p| p.assign_aaa(aaa, user))
    }

    fn acquire(
        &mut self,
        user: &str,
        aaa: Option<AaaAddress>,
        pools: &[String],
    ) -> Result<Lease, ModeCfgError> {
        self.lease(|p| p.acquire(user, aaa, pools))
    }

    fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError> {
        let addr = lease.addr();
        let mut pools = self.inner.lock();
        pools.release(lease)?;
        // Only once the pools freed it: a refused release (a lease given back twice)
        // must not erase the owner of whoever holds the address now.
        self.inner.set_owner(addr, FREE);
        Ok(())
    }

    fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        self.inner.lock().overlaps(first, last)
    }

    fn is_in_use(&self, addr: Ipv4Addr) -> bool {
        self.inner.lock().is_in_use(addr)
    }

    fn total_in_use(&self) -> usize {
        self.inner.lock().total_in_use()
    }

    fn with_pools(&self, f: &mut dyn FnMut(&Pools)) {
        f(&self.inner.lock());
    }

    /// The pools of a new configuration for every shard at once (any handle may do it,
    /// once). The owner slots were sized by the pools the gateway started with: an
    /// address of a pool a reload added is recorded in the map of addresses outside the
    /// slots (as an AAA-assigned one is), so packets to it take that map's read lock
    /// until the next restart; the owners of the leases kept are unchanged.
    fn reconfigure(&mut self, new: Pools) -> Option<Vec<Ipv4Addr>> {
        Some(self.inner.lock().reconfigure(new))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects)]
    use super::*;
    use std::collections::BTreeSet;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn shared(first: &str, last: &str) -> SharedPools {
        let mut p = Pools::new();
        p.add("P", ip(first), ip(last)).unwrap();
        // A second pool, below the first, so that the owner lookup picks the right one.
        p.add("Q", ip("10.0.0.10"), ip("10.0.0.19")).unwrap();
        SharedPools::new(p)
    }

    fn names() -> Vec<String> {
        vec!["P".to_owned()]
    }

    /// Two shards lease from one pool at once, from two threads started together, until
    /// it is empty: every address once, owned by the shard that leased it; then they give
    /// everything back at once and nothing stays owned.
    #[test]
    fn two_shards_lease_concurrently_and_release() {
        let pools = shared("10.1.0.0", "10.1.0.199");
        let start = Arc::new(std::sync::Barrier::new(2));
        let run = |k: u8| {
            let mut h = pools.handle(Shard::new(k, 2).unwrap());
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let leases: Vec<Lease> = (0..100)
                    .map(|i| h.allocate(&names(), &format!("s{k}u{i}")).unwrap())
                    .collect();
                (h, leases)
            })
        };
        let (a, b) = (run(0), run(1));
        let (mut ha, la) = a.join().unwrap();
        let (mut hb, lb) = b.join().unwrap();
        let all: BTreeSet<Ipv4Addr> = la.iter().chain(&lb).map(Lease::addr).collect();
        assert_eq!(all.len(), 200, "an address was leased twice");
        for h in [&mut ha, &mut hb] {
            assert_eq!(
                h.allocate(&names(), "one too many"),
                Err(ModeCfgError::PoolExhausted {
                    pool: "P".into(),
                    size: 200
                })
            );
        }
        for l in &la {
            assert_eq!(pools.owner(l.addr()), Some(0), "{}", l.addr());
        }
        for l in &lb {
            assert_eq!(pools.owner(l.addr()), Some(1), "{}", l.addr());
        }
        assert_eq!(pools.owner(ip("10.1.0.200")), None, "outside the pool");
        assert_eq!(pools.owner(ip("10.0.0.10")), None, "free in pool Q");
        assert_eq!(pools.total_in_use(), 200);
        assert_eq!(ha.total_in_use(), 200);

        let ta = std::thread::spawn(move || {
            for l in la {
                ha.release(l).unwrap();
            }
        });
        let tb = std::thread::spawn(move || {
            for l in lb {
                hb.release(l).unwrap();
            }
        });
        ta.join().unwrap();
        tb.join().unwrap();
        assert_eq!(pools.total_in_use(), 0);
        assert!(all.iter().all(|a| pools.owner(*a).is_none()));
    }

    /// Shards lease and release in turn from several threads on a small pool; at the end
    /// the owner table and the pools agree on every address.
    #[test]
    fn owners_agree_with_the_pools_after_a_concurrent_churn() {
        // Room for more than the 12 leases the threads hold at most: at the end some
        // addresses every thread has used are free again.
        let pools = shared("10.2.0.1", "10.2.0.16");
        let threads: Vec<_> = (0..4u8)
            .map(|k| {
                let mut h = pools.handle(Shard::new(k, 4).unwrap());
                let check = pools.clone();
                std::thread::spawn(move || {
                    let mut held: Vec<Lease> = Vec::new();
                    for i in 0..2_000u32 {
                        if i % 3 == 2 || held.len() >= 3 {
                            if let Some(l) = held.pop() {
                                h.release(l).unwrap();
                            }
                        } else if let Ok(l) = h.allocate(&names(), &format!("s{k}u{i}")) {
                            // Ours from the moment the lease is returned.
                            assert_eq!(check.owner(l.addr()), Some(k));
                            held.push(l);
                        }
                    }
                    held
                })
            })
            .collect();
        let held: Vec<(u8, Vec<Lease>)> = threads
            .into_iter()
            .enumerate()
            .map(|(k, t)| (u8::try_from(k).unwrap(), t.join().unwrap()))
            .collect();
        let mut seen = BTreeSet::new();
        for (k, leases) in &held {
            for l in leases {
                assert!(seen.insert(l.addr()), "{} held twice", l.addr());
                assert_eq!(pools.owner(l.addr()), Some(*k));
            }
        }
        assert!(seen.len() <= 12);
        for o in 1..=16u8 {
            let a = Ipv4Addr::new(10, 2, 0, o);
            assert_eq!(pools.owner(a).is_some(), seen.contains(&a), "{a}");
            assert_eq!(pools.with_pools(|p| p.is_in_use(a)), seen.contains(&a));
        }
        assert_eq!(pools.total_in_use(), seen.len());
    }

    /// AAA addresses: outside every pool they are tracked in the map (and refused to a
    /// second shard), inside a pool in its slots; a refused double release does not
    /// erase the new holder.
    #[test]
    fn aaa_addresses_and_double_release() {
        let pools = shared("10.3.0.1", "10.3.0.4");
        let mut h0 = pools.handle(Shard::new(0, 3).unwrap());
        let mut h2 = pools.handle(Shard::new(2, 3).unwrap());
        assert_eq!(h2.shard(), 2);
        let outside = AaaAddress {
            addr: ip("172.16.0.9"),
            netmask: None,
        };
        assert_eq!(pools.owner(outside.addr), None);
        let l = h2.acquire("carol", Some(outside), &names()).unwrap();
        assert_eq!(pools.owner(outside.addr), Some(2));
        assert_eq!(
            h0.assign_aaa(outside, "mallory"),
            Err(ModeCfgError::AddressInUse { addr: outside.addr })
        );
        assert_eq!(pools.owner(outside.addr), Some(2));
        h2.release(l).unwrap();
        assert_eq!(pools.owner(outside.addr), None);

        let inside = AaaAddress {
            addr: ip("10.3.0.3"),
            netmask: None,
        };
        let l = h0.assign_aaa(inside, "dave").unwrap();
        assert_eq!(pools.owner(inside.addr), Some(0));
        assert!(h2.is_in_use(inside.addr));
        assert_eq!(
            h2.overlaps(ip("10.3.0.0"), ip("10.3.0.255")),
            Some(ip("10.3.0.1"))
        );

        // A lease that is not the pools' (from another set of pools, for the same
        // address) is refused, and the address's holder keeps it.
        let addr = l.addr();
        h0.release(l).unwrap();
        let again = h2.assign_aaa(inside, "erin").unwrap();
        assert_eq!(pools.owner(addr), Some(2));
        let mut stale = Pools::new();
        stale.add("Stale", ip("10.3.0.1"), ip("10.3.0.4")).unwrap();
        let foreign = stale.assign_aaa(inside, "dave").unwrap();
        assert_eq!(h0.release(foreign), Err(ModeCfgError::NotLeased { addr }));
        assert_eq!(pools.owner(addr), Some(2));
        assert!(h0.is_in_use(addr));
        h2.release(again).unwrap();
        assert_eq!(pools.owner(addr), None);
    }

    /// A thread that panics while it holds the pools' lock poisons it; the other shards
    /// go on leasing (the data is recovered, not a second panic).
    #[test]
    fn a_poisoned_lock_is_recovered() {
        let pools = shared("10.4.0.1", "10.4.0.4");
        let p = pools.clone();
        let r = std::thread::spawn(move || p.with_pools(|_| panic!("a panic under the lock")));
        assert!(r.join().is_err());
        assert!(pools.inner.pools.is_poisoned());
        assert!(
            format!("{pools:?}").contains("in_use: Some(0)"),
            "{pools:?}"
        );
        pools.with_pools(|_| assert!(format!("{pools:?}").contains("in_use: None")));
        let mut h = pools.handle(Shard::new(1, 2).unwrap());
        let l = h.allocate(&names(), "u").unwrap();
        assert_eq!(pools.owner(l.addr()), Some(1));
        assert_eq!(pools.snapshot().total_in_use(), 1);
        h.release(l).unwrap();
        assert_eq!(pools.total_in_use(), 0);
    }

    /// A handle is what `ike_sm::Endpoint::with_lease_store` takes: an endpoint on it
    /// sees the leases of the other shards.
    #[test]
    fn an_endpoint_leases_through_a_handle() {
        let (cfg, pools) =
            ike_sm::presets::seed_gateway(b"cisco1234", ip("10.89.129.200"), ip("10.89.129.204"))
                .unwrap();
        let shared = SharedPools::new(pools);
        let shard = Shard::new(1, 2).unwrap();
        let mut ep = ike_sm::Endpoint::with_lease_store(cfg, Box::new(shared.handle(shard)));
        ep.set_shard(shard);
        let mut other = shared.handle(Shard::new(0, 2).unwrap());
        let l = other.allocate(&["VPNpool".to_owned()], "u").unwrap();
        assert_eq!(ep.lease_store().total_in_use(), 1);
        assert!(ep.lease_store().is_in_use(l.addr()));
        let mut in_use = 0;
        ep.with_pools(&mut |p| in_use = p.pool("VPNpool").unwrap().in_use());
        assert_eq!(in_use, 1);
        assert_eq!(shared.owner(l.addr()), Some(0));
    }
}
