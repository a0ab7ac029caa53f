//! The pool under random allocate / release / AAA-assign sequences, against a model built
//! from sets: no address is ever held twice, exhaustion happens exactly when the model is
//! full, released addresses come back, and a user gets its previous address back when free.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use modecfg::{AaaAddress, Lease, ModeCfgError, Pools};
use proptest::prelude::*;

const FIRST: u32 = 0x0a59_81c8; // 10.89.129.200
const SIZE: u32 = 5;

#[derive(Debug, Clone)]
enum Op {
    Allocate(u8),
    Release(usize),
    Aaa(u8, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8).prop_map(Op::Allocate),
        3 => any::<usize>().prop_map(Op::Release),
        // 10.89.129.197 ..= 10.89.129.207: inside and on both sides of the pool.
        1 => ((0u8..8), (FIRST - 3)..(FIRST + SIZE + 3)).prop_map(|(u, a)| Op::Aaa(u, a)),
    ]
}

fn in_pool(a: u32) -> bool {
    (FIRST..FIRST + SIZE).contains(&a)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn pool_matches_set_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut pools = Pools::new();
        pools.add("VPNpool", Ipv4Addr::from(FIRST), Ipv4Addr::from(FIRST + SIZE - 1)).unwrap();
        let names = vec!["VPNpool".to_owned()];
        let mut held: Vec<(Lease, u8)> = Vec::new();
        let mut model: BTreeSet<u32> = BTreeSet::new();
        // user -> the pool address it got last, forgotten once somebody else gets it.
        let mut last: BTreeMap<u8, u32> = BTreeMap::new();

        for op in ops {
            match op {
                Op::Allocate(u) => {
                    let user = format!("user{u}");
                    let in_pool_held = model.iter().filter(|a| in_pool(**a)).count() as u32;
                    match pools.allocate(&names, &user) {
                        Ok(lease) => {
                            let a = u32::from(lease.addr());
                            prop_assert!(in_pool(a));
                            prop_assert!(!model.contains(&a), "address handed out twice");
                            if let Some(prev) = last.get(&u) {
                                if !model.contains(prev) {
                                    prop_assert_eq!(a, *prev, "sticky address not given back");
                                }
                            }
                            last.retain(|_, v| *v != a);
                            last.insert(u, a);
                            model.insert(a);
                            held.push((lease, u));
                        }
                        Err(e) => {
                            prop_assert_eq!(in_pool_held, SIZE, "refused while free: {:?}", e);
                            prop_assert_eq!(e, ModeCfgError::PoolExhausted { pool: "VPNpool".into(), size: SIZE });
                        }
                    }
                }
                Op::Release(i) => {
                    if held.is_empty() {
                        continue;
                    }
                    let (lease, _) = held.remove(i % held.len());
                    let a = u32::from(lease.addr());
                    pools.release(lease).unwrap();
                    prop_assert!(model.remove(&a));
                    prop_assert!(!pools.is_in_use(Ipv4Addr::from(a)));
                }
                Op::Aaa(u, a) => {
                    let user = format!("user{u}");
                    let r = pools.assign_aaa(AaaAddress { addr: Ipv4Addr::from(a), netmask: None }, &user);
                    if model.contains(&a) {
                        prop_assert_eq!(r, Err(ModeCfgError::AddressInUse { addr: Ipv4Addr::from(a) }));
                    } else {
                        let lease = r.unwrap();
                        prop_assert_eq!(u32::from(lease.addr()), a);
                        if in_pool(a) {
                            last.retain(|_, v| *v != a);
                            last.insert(u, a);
                        }
                        model.insert(a);
                        held.push((lease, u));
                    }
                }
            }
            prop_assert_eq!(pools.total_in_use(), model.len());
            let pool = pools.pool("VPNpool").unwrap();
            prop_assert_eq!(pool.in_use() as usize, model.iter().filter(|a| in_pool(**a)).count());
            for a in FIRST - 3..FIRST + SIZE + 3 {
                prop_assert_eq!(pools.is_in_use(Ipv4Addr::from(a)), model.contains(&a));
            }
        }
        // Teardown of every SA empties everything: nothing leaks.
        for (lease, _) in held {
            pools.release(lease).unwrap();
        }
        prop_assert_eq!(pools.total_in_use(), 0);
    }
}
