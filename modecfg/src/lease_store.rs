//! [`LeaseStore`]: where Mode Config leases addresses from, so that several endpoints
//! (one per worker thread of a gateway) can lease from one set of pools.
//!
//! [`Pools`] is the store of one endpoint and implements the trait directly. A gateway
//! that runs several endpoints gives each a handle to one shared [`Pools`] (behind
//! whatever lock it likes: the crate stays Sans-IO and has none) that implements the
//! trait by locking once per operation. Every operation is one lease decision (an
//! address handed out or given back, or a range checked against the pools when a Quick
//! Mode selector names one), never one per packet.
//!
//! ```
//! use modecfg::{LeaseStore, Pools};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut pools = Pools::new();
//! pools.add("VPNpool", "10.89.129.200".parse()?, "10.89.129.204".parse()?)?;
//! let store: &mut dyn LeaseStore = &mut pools;
//! let lease = store.acquire("alice", None, &["VPNpool".to_owned()])?;
//! assert_eq!(lease.addr(), "10.89.129.200".parse::<std::net::Ipv4Addr>()?);
//! assert!(store.is_in_use(lease.addr()));
//! let mut in_use = 0;
//! store.with_pools(&mut |p| in_use = p.total_in_use());
//! assert_eq!(in_use, 1);
//! store.release(lease)?;
//! assert_eq!(store.total_in_use(), 0);
//! # Ok(())
//! # }
//! ```

use core::net::Ipv4Addr;

use crate::error::ModeCfgError;
use crate::pool::{AaaAddress, Lease, Pools};

/// Where leases come from: the operations Mode Config and an IKE endpoint need from the
/// address pools. The semantics are those of the [`Pools`] methods of the same names.
///
/// `Send + Sync`, so that an endpoint holding a store stays `Send + Sync` (it moves to
/// its worker thread; its read-only views may be shared).
pub trait LeaseStore: core::fmt::Debug + Send + Sync {
    /// Leases an address for `user` from the first of `pools` that has one free
    /// ([`Pools::allocate`]).
    fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError>;

    /// Leases an AAA-assigned address for `user`, refusing one already in use
    /// ([`Pools::assign_aaa`]).
    fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError>;

    /// An address for a session: the AAA one when given (it wins), else from `pools`
    /// ([`Pools::acquire`]).
    fn acquire(
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

    /// Gives a lease back ([`Pools::release`]).
    fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError>;

    /// The first address in `first..=last` that lies in a pool or that AAA assigned
    /// outside every pool ([`Pools::overlaps`]).
    fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr>;

    /// Whether `addr` is leased, from a pool or by AAA ([`Pools::is_in_use`]).
    fn is_in_use(&self, addr: Ipv4Addr) -> bool;

    /// Leased addresses over all pools plus AAA-assigned ones outside them
    /// ([`Pools::total_in_use`]).
    fn total_in_use(&self) -> usize;

    /// Calls `f` with the pools as they are now (for `show ip local pool` and metrics).
    /// A shared store holds its lock while `f` runs: keep `f` short.
    fn with_pools(&self, f: &mut dyn FnMut(&Pools));

    /// Takes the pools of a new configuration, every lease staying valid; returns the
    /// leased addresses no pool of the same name holds any more ([`Pools::reconfigure`]).
    /// `None`: this store cannot be reconfigured (the default; its pools stay).
    fn reconfigure(&mut self, new: Pools) -> Option<Vec<Ipv4Addr>> {
        let _ = new;
        None
    }
}

impl LeaseStore for Pools {
    fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError> {
        Pools::allocate(self, pools, user)
    }

    fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError> {
        Pools::assign_aaa(self, aaa, user)
    }

    fn acquire(
        &mut self,
        user: &str,
        aaa: Option<AaaAddress>,
        pools: &[String],
    ) -> Result<Lease, ModeCfgError> {
        Pools::acquire(self, user, aaa, pools)
    }

    fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError> {
        Pools::release(self, lease)
    }

    fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        Pools::overlaps(self, first, last)
    }

    fn is_in_use(&self, addr: Ipv4Addr) -> bool {
        Pools::is_in_use(self, addr)
    }

    fn total_in_use(&self) -> usize {
        Pools::total_in_use(self)
    }

    fn with_pools(&self, f: &mut dyn FnMut(&Pools)) {
        f(self);
    }

    fn reconfigure(&mut self, new: Pools) -> Option<Vec<Ipv4Addr>> {
        Some(Pools::reconfigure(self, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that is not `Pools` itself (as a shared one would be): the trait's
    /// default `acquire` must route to `assign_aaa` or `allocate` like `Pools::acquire`.
    #[derive(Debug)]
    struct Wrapped(Pools);

    impl LeaseStore for Wrapped {
        fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError> {
            self.0.allocate(pools, user)
        }
        fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError> {
            self.0.assign_aaa(aaa, user)
        }
        fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError> {
            self.0.release(lease)
        }
        fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
            self.0.overlaps(first, last)
        }
        fn is_in_use(&self, addr: Ipv4Addr) -> bool {
            self.0.is_in_use(addr)
        }
        fn total_in_use(&self) -> usize {
            self.0.total_in_use()
        }
        fn with_pools(&self, f: &mut dyn FnMut(&Pools)) {
            f(&self.0);
        }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn default_acquire_prefers_the_aaa_address_then_the_pool() {
        let mut pools = Pools::new();
        pools.add("P", ip("10.0.0.1"), ip("10.0.0.2")).unwrap();
        let names = ["P".to_owned()];
        let mut w = Wrapped(pools);
        let store: &mut dyn LeaseStore = &mut w;
        let framed = AaaAddress {
            addr: ip("172.16.0.9"),
            netmask: None,
        };
        let a = store.acquire("a", Some(framed), &names).unwrap();
        assert_eq!(a.addr(), ip("172.16.0.9"));
        let b = store.acquire("b", None, &names).unwrap();
        assert_eq!(b.addr(), ip("10.0.0.1"));
        assert_eq!(
            store.acquire("c", Some(framed), &names),
            Err(ModeCfgError::AddressInUse {
                addr: ip("172.16.0.9")
            })
        );
        assert_eq!(store.total_in_use(), 2);
        assert_eq!(
            store.overlaps(ip("10.0.0.0"), ip("10.0.0.255")),
            Some(ip("10.0.0.1"))
        );
        let mut seen = Vec::new();
        store.with_pools(&mut |p| seen.extend(p.pools().iter().map(|p| p.in_use())));
        assert_eq!(seen, [1]);
        store.release(a).unwrap();
        store.release(b).unwrap();
        assert!(!store.is_in_use(ip("10.0.0.1")));
        assert_eq!(store.total_in_use(), 0);
    }
}
