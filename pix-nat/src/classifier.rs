//! A compiled access list: the same first-match answer as
//! [`linear_first_match`](crate::acl::linear_first_match), without scanning every entry.
//!
//! Entries are split three ways:
//!
//! 1. entries whose destination covers few *elementary intervals* of the
//!    destination address space go into a destination index: the sorted interval
//!    boundaries (binary search, narrowed by a 64 Ki-entry table on the top 16 bits)
//!    and, per interval, the ascending list of entries covering it;
//! 2. of the rest, entries whose source is narrow go into a source index built the
//!    same way;
//! 3. what remains (typically `any any` lines) stays in an ascending list.
//!
//! A lookup scans each candidate list in entry order and stops at the first full
//! match or as soon as the entry index passes the best match found so far, so the
//! answer is the lowest matching index: the linear scan's answer.

use crate::acl::{Ace, Tuple};

/// Entries covering more intervals than this are not copied into an index.
const NARROW_LIMIT: usize = 32;
/// Below this many boundaries the top-16-bit table is not worth its 256 KiB.
const TABLE_MIN_BOUNDS: usize = 1024;

#[derive(Debug, Clone, Default)]
struct IntervalIndex {
    /// Interval starts, ascending; `bounds[0] == 0` when non-empty.
    bounds: Vec<u32>,
    /// `items[offsets[i]..offsets[i + 1]]` are the entries covering interval `i`.
    offsets: Vec<u32>,
    items: Vec<u32>,
    /// For each top-16-bit prefix, the first interval index that can contain it.
    table: Vec<u32>,
    /// Lowest entry index in this index (`u32::MAX` when empty).
    min: u32,
}

impl IntervalIndex {
    fn bounds_of(ranges: impl Iterator<Item = (u32, u32)>) -> Vec<u32> {
        let mut b = vec![0u32];
        for (lo, hi) in ranges {
            b.push(lo);
            if let Some(n) = hi.checked_add(1) {
                b.push(n);
            }
        }
        b.sort_unstable();
        b.dedup();
        b
    }

    fn interval_of(bounds: &[u32], x: u32) -> usize {
        bounds.partition_point(|&b| b <= x).saturating_sub(1)
    }

    /// Build from `(entry index, lo, hi)`; entries covering more than
    /// [`NARROW_LIMIT`] intervals are handed back.
    fn build(entries: &[(u32, u32, u32)], bounds: Vec<u32>) -> (IntervalIndex, Vec<u32>) {
        let n = bounds.len();
        let mut counts = vec![0u32; n.saturating_add(1)];
        let mut spans = Vec::with_capacity(entries.len());
        let mut rejected = Vec::new();
        for &(idx, lo, hi) in entries {
            let a = Self::interval_of(&bounds, lo);
            let b = Self::interval_of(&bounds, hi);
            if b.saturating_sub(a) >= NARROW_LIMIT {
                rejected.push(idx);
                continue;
            }
            spans.push((idx, a, b));
            for c in counts.iter_mut().take(b.saturating_add(1)).skip(a) {
                *c = c.saturating_add(1);
            }
        }
        let mut offsets = Vec::with_capacity(n.saturating_add(1));
        let mut acc = 0u32;
        for c in counts.iter().take(n) {
            offsets.push(acc);
            acc = acc.saturating_add(*c);
        }
        offsets.push(acc);
        let mut fill: Vec<u32> = offsets.clone();
        let mut items = vec![0u32; acc as usize];
        for &(idx, a, b) in &spans {
            for f in fill.iter_mut().take(b.saturating_add(1)).skip(a) {
                if let Some(slot) = items.get_mut(*f as usize) {
                    *slot = idx;
                }
                *f = f.saturating_add(1);
            }
        }
        let min = spans.iter().map(|s| s.0).min().unwrap_or(u32::MAX);
        let table = if n >= TABLE_MIN_BOUNDS {
            (0u32..=0xFFFF)
                .map(|p| Self::interval_of(&bounds, p << 16) as u32)
                .collect()
        } else {
            Vec::new()
        };
        (
            IntervalIndex {
                bounds,
                offsets,
                items,
                table,
                min,
            },
            rejected,
        )
    }

    #[inline]
    fn candidates(&self, x: u32) -> &[u32] {
        if self.bounds.is_empty() {
            return &[];
        }
        let i = if self.table.is_empty() {
            Self::interval_of(&self.bounds, x)
        } else {
            let top = (x >> 16) as usize;
            let lo = self.table.get(top).copied().unwrap_or(0) as usize;
            let hi = match self.table.get(top.wrapping_add(1)) {
                Some(&h) => (h as usize).saturating_add(1).min(self.bounds.len()),
                None => self.bounds.len(),
            };
            let slice = self.bounds.get(lo..hi).unwrap_or(&[]);
            lo.saturating_add(slice.partition_point(|&b| b <= x))
                .saturating_sub(1)
        };
        let (Some(&s), Some(&e)) = (self.offsets.get(i), self.offsets.get(i.wrapping_add(1)))
        else {
            return &[];
        };
        self.items.get(s as usize..e as usize).unwrap_or(&[])
    }
}

/// A compiled access list.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    aces: Vec<Ace>,
    by_dst: IntervalIndex,
    by_src: IntervalIndex,
    rest: Vec<u32>,
}

impl Classifier {
    /// Compile `aces` (in ACL order).
    pub fn new(aces: Vec<Ace>) -> Classifier {
        let n = u32::try_from(aces.len()).unwrap_or(u32::MAX);
        let dst_entries: Vec<(u32, u32, u32)> = aces
            .iter()
            .zip(0..n)
            .filter(|(a, _)| a.dst_mask != 0)
            .map(|(a, i)| {
                let (lo, hi) = a.dst_range();
                (i, lo, hi)
            })
            .collect();
        let mut wide: Vec<u32> = aces
            .iter()
            .zip(0..n)
            .filter(|(a, _)| a.dst_mask == 0)
            .map(|(_, i)| i)
            .collect();
        let bounds = IntervalIndex::bounds_of(dst_entries.iter().map(|e| (e.1, e.2)));
        let (by_dst, rejected) = IntervalIndex::build(&dst_entries, bounds);
        wide.extend(rejected);
        wide.sort_unstable();
        let get = |i: u32| aces.get(i as usize);
        let src_entries: Vec<(u32, u32, u32)> = wide
            .iter()
            .filter_map(|&i| get(i).map(|a| (i, a)))
            .filter(|(_, a)| a.src_mask != 0)
            .map(|(i, a)| {
                let (lo, hi) = a.src_range();
                (i, lo, hi)
            })
            .collect();
        let mut rest: Vec<u32> = wide
            .iter()
            .copied()
            .filter(|&i| get(i).is_some_and(|a| a.src_mask == 0))
            .collect();
        let bounds = IntervalIndex::bounds_of(src_entries.iter().map(|e| (e.1, e.2)));
        let (by_src, rejected) = IntervalIndex::build(&src_entries, bounds);
        rest.extend(rejected);
        rest.sort_unstable();
        Classifier {
            aces,
            by_dst,
            by_src,
            rest,
        }
    }

    /// The entries, in ACL order.
    pub fn aces(&self) -> &[Ace] {
        &self.aces
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.aces.len()
    }

    /// True without entries (everything hits the implicit deny).
    pub fn is_empty(&self) -> bool {
        self.aces.is_empty()
    }

    #[inline]
    fn scan(&self, list: &[u32], t: &Tuple, best: &mut u32) {
        for &i in list {
            if i >= *best {
                return;
            }
            if self.aces.get(i as usize).is_some_and(|a| a.matches(t)) {
                *best = i;
                return;
            }
        }
    }

    /// Index of the first matching entry (the linear scan's answer).
    #[inline]
    pub fn first_match(&self, t: &Tuple) -> Option<usize> {
        let mut best = u32::MAX;
        if self.by_dst.min != u32::MAX {
            self.scan(self.by_dst.candidates(t.dst), t, &mut best);
        }
        if self.by_src.min < best {
            self.scan(self.by_src.candidates(t.src), t, &mut best);
        }
        self.scan(&self.rest, t, &mut best);
        (best != u32::MAX).then_some(best as usize)
    }

    /// The first matching entry.
    pub fn lookup(&self, t: &Tuple) -> Option<&Ace> {
        self.first_match(t).and_then(|i| self.aces.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{linear_first_match, AclAction, PortMatch};

    fn host(dst: u32, port: u16, line: u32) -> Ace {
        Ace {
            proto: 6,
            dst,
            dst_mask: u32::MAX,
            dport: PortMatch {
                lo: port,
                hi: port,
                negate: false,
            },
            ..Ace::any(AclAction::Permit, line)
        }
    }

    #[test]
    fn first_match_prefers_lower_index_across_indexes() {
        let mut aces = vec![Ace::any(AclAction::Deny, 1)];
        aces.push(host(10, 80, 2));
        let c = Classifier::new(aces.clone());
        let t = Tuple {
            proto: 6,
            src: 1,
            dst: 10,
            sport: 1000,
            dport: 80,
            icmp_type: 0,
        };
        assert_eq!(c.first_match(&t), Some(0));
        assert_eq!(linear_first_match(&aces, &t), Some(0));
        let c = Classifier::new(vec![host(10, 80, 2), Ace::any(AclAction::Deny, 1)]);
        assert_eq!(c.first_match(&t), Some(0));
        let t2 = Tuple { dport: 81, ..t };
        assert_eq!(c.first_match(&t2), Some(1));
    }

    #[test]
    fn big_list_uses_table() {
        let aces: Vec<Ace> = (0..5000u32)
            .map(|i| host(i.wrapping_mul(7919) << 8, 80, i))
            .collect();
        let c = Classifier::new(aces.clone());
        assert!(!c.by_dst.table.is_empty());
        for i in (0..5000u32).step_by(37) {
            let t = Tuple {
                proto: 6,
                src: 5,
                dst: i.wrapping_mul(7919) << 8,
                sport: 1,
                dport: 80,
                icmp_type: 0,
            };
            assert_eq!(c.first_match(&t), linear_first_match(&aces, &t));
        }
    }
}
