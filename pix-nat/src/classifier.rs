//! A compiled access list: the same first-match answer as
//! [`linear_first_match`](crate::acl::linear_first_match), without scanning every entry.
//!
//! Entries are split three ways:
//!
//! 1. entries with a destination other than `any` go into destination indexes: the
//!    sorted boundaries of the *elementary intervals* their ranges cut the address
//!    space into (branch-free binary search, narrowed by a 64 Ki-entry table on the
//!    top 16 bits) and, per interval, the ascending list of entries covering it. An
//!    entry covering more than a few intervals is not copied into each of them but
//!    passed to the next level, whose intervals come only from such wider entries
//!    (hosts in level 0, the /24s around them in level 1, ...);
//! 2. entries whose destination is `any` (or too wide for every level) go into
//!    source indexes built the same way;
//! 3. what remains (typically `any any` lines) stays in ascending lists, one per
//!    protocol class, so a TCP packet never looks at `icmp any any`.
//!
//! A lookup scans each candidate list in entry order and stops at the first full
//! match or as soon as the entry index passes the best match found so far, so the
//! answer is the lowest matching index: the linear scan's answer.

use crate::acl::{Ace, Tuple};

/// Entries covering more intervals than this are passed to the next level.
const NARROW_LIMIT: usize = 32;
/// Levels per dimension; what no level takes falls through.
const MAX_LEVELS: usize = 6;
/// Below this many boundaries a plain binary search is as fast as the table.
const TABLE_MIN_BOUNDS: usize = 64;

#[derive(Debug, Clone, Default)]
struct IntervalIndex {
    /// Interval starts, ascending; `bounds[0] == 0` when non-empty.
    bounds: Vec<u32>,
    /// `items[offsets[i]..offsets[i + 1]]` are the entries covering interval `i`.
    offsets: Vec<u32>,
    items: Vec<u32>,
    /// Bucket table over `[base, base + (table.len() << shift))`: entry `j` is the
    /// interval holding `base + (j << shift)`. Sized to about two buckets per
    /// boundary, so a lookup is one table read and a search of one or two bounds.
    table: Vec<u32>,
    base: u32,
    shift: u32,
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

    /// Index of the last element `<= x` in a non-empty slice whose first element is
    /// `<= x` (branch-free: the loop runs log2(len) times whatever the data).
    #[inline]
    fn last_le(slice: &[u32], x: u32) -> usize {
        let mut base = 0usize;
        let mut len = slice.len();
        while len > 1 {
            let half = len / 2;
            let mid = base.wrapping_add(half);
            base = if slice.get(mid).is_some_and(|&b| b <= x) {
                mid
            } else {
                base
            };
            len = len.saturating_sub(half);
        }
        base
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
        let (mut table, mut base, mut shift) = (Vec::new(), 0u32, 0u32);
        if n >= TABLE_MIN_BOUNDS {
            if let (Some(&b1), Some(&last)) = (bounds.get(1), bounds.last()) {
                let span = u64::from(last.saturating_sub(b1)).saturating_add(1);
                let want = (n as u64).saturating_mul(2);
                while shift < 40 && (span >> shift) > want {
                    shift = shift.saturating_add(1);
                }
                base = b1;
                let buckets = (span >> shift).saturating_add(1);
                table = (0..buckets)
                    .map(|j| {
                        let x = u64::from(b1).saturating_add(j << shift);
                        Self::interval_of(&bounds, u32::try_from(x).unwrap_or(u32::MAX)) as u32
                    })
                    .collect();
            }
        }
        (
            IntervalIndex {
                bounds,
                offsets,
                items,
                table,
                base,
                shift,
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
            Self::last_le(&self.bounds, x)
        } else if x < self.base {
            // below every non-zero bound: the first interval
            0
        } else {
            let j = (x.wrapping_sub(self.base) >> self.shift) as usize;
            let lo = self.table.get(j).copied().unwrap_or(0) as usize;
            let hi = match self.table.get(j.wrapping_add(1)) {
                Some(&h) => (h as usize).saturating_add(1).min(self.bounds.len()),
                None => self.bounds.len(),
            };
            let slice = self.bounds.get(lo..hi).unwrap_or(&[]);
            lo.saturating_add(Self::last_le(slice, x))
        };
        let (Some(&s), Some(&e)) = (self.offsets.get(i), self.offsets.get(i.wrapping_add(1)))
        else {
            return &[];
        };
        self.items.get(s as usize..e as usize).unwrap_or(&[])
    }
}

/// The match fields of an entry, packed (28 bytes) for the scan.
#[derive(Debug, Clone, Copy)]
struct Key {
    src: u32,
    src_mask: u32,
    dst: u32,
    dst_mask: u32,
    sport: (u16, u16),
    dport: (u16, u16),
    proto: u8,
    /// bit 0: sport negated, bit 1: dport negated, bit 2: ICMP type given.
    flags: u8,
    icmp: u8,
}

impl Key {
    fn of(a: &Ace) -> Key {
        Key {
            src: a.src,
            src_mask: a.src_mask,
            dst: a.dst,
            dst_mask: a.dst_mask,
            sport: (a.sport.lo, a.sport.hi),
            dport: (a.dport.lo, a.dport.hi),
            proto: a.proto,
            flags: u8::from(a.sport.negate)
                | (u8::from(a.dport.negate) << 1)
                | (u8::from(a.icmp_type.is_some()) << 2),
            icmp: a.icmp_type.unwrap_or(0),
        }
    }

    /// Same answer as [`Ace::matches`].
    #[inline]
    fn matches(&self, t: &Tuple) -> bool {
        if t.dst & self.dst_mask != self.dst || t.src & self.src_mask != self.src {
            return false;
        }
        if self.proto == 0 {
            return true;
        }
        if self.proto != t.proto {
            return false;
        }
        if self.proto == 6 || self.proto == 17 {
            let sp = (self.sport.0 <= t.sport && t.sport <= self.sport.1) != (self.flags & 1 != 0);
            let dp = (self.dport.0 <= t.dport && t.dport <= self.dport.1) != (self.flags & 2 != 0);
            return sp && dp;
        }
        self.proto != 1 || self.flags & 4 == 0 || self.icmp == t.icmp_type
    }
}

/// A compiled access list.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    aces: Vec<Ace>,
    keys: Vec<Key>,
    by_dst: Vec<IntervalIndex>,
    by_src: Vec<IntervalIndex>,
    /// Leftover entries by protocol class: tcp, udp, icmp, other (each with the `ip` ones).
    rest: [Vec<u32>; 4],
}

fn proto_class(p: u8) -> usize {
    match p {
        6 => 0,
        17 => 1,
        1 => 2,
        _ => 3,
    }
}

/// Build up to [`MAX_LEVELS`] indexes; returns them and the entries none took.
fn levels(mut entries: Vec<(u32, u32, u32)>) -> (Vec<IntervalIndex>, Vec<u32>) {
    // candidate lists must come out ascending: fill them in entry order
    entries.sort_unstable_by_key(|e| e.0);
    let mut out = Vec::new();
    while !entries.is_empty() && out.len() < MAX_LEVELS {
        let bounds = IntervalIndex::bounds_of(entries.iter().map(|e| (e.1, e.2)));
        let (idx, rejected) = IntervalIndex::build(&entries, bounds);
        if idx.min != u32::MAX {
            out.push(idx);
        }
        let before = entries.len();
        let keep: rustc_hash::FxHashSet<u32> = rejected.into_iter().collect();
        entries.retain(|e| keep.contains(&e.0));
        if entries.len() == before {
            break;
        }
    }
    (out, entries.into_iter().map(|e| e.0).collect())
}

impl Classifier {
    /// Compile `aces` (in ACL order).
    pub fn new(aces: Vec<Ace>) -> Classifier {
        let n = u32::try_from(aces.len()).unwrap_or(u32::MAX);
        let numbered = || aces.iter().zip(0..n);
        let dst_entries: Vec<(u32, u32, u32)> = numbered()
            .filter(|(a, _)| a.dst_mask != 0)
            .map(|(a, i)| {
                let (lo, hi) = a.dst_range();
                (i, lo, hi)
            })
            .collect();
        let (by_dst, mut wide) = levels(dst_entries);
        wide.extend(numbered().filter(|(a, _)| a.dst_mask == 0).map(|(_, i)| i));
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
        let (by_src, mut leftover) = levels(src_entries);
        leftover.extend(
            wide.iter()
                .copied()
                .filter(|&i| get(i).is_some_and(|a| a.src_mask == 0)),
        );
        leftover.sort_unstable();
        let mut rest: [Vec<u32>; 4] = Default::default();
        for i in leftover {
            let Some(a) = get(i) else { continue };
            for (c, list) in rest.iter_mut().enumerate() {
                if a.proto == 0 || proto_class(a.proto) == c {
                    list.push(i);
                }
            }
        }
        let keys = aces.iter().map(Key::of).collect();
        Classifier {
            aces,
            keys,
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
            if self.keys.get(i as usize).is_some_and(|k| k.matches(t)) {
                *best = i;
                return;
            }
        }
    }

    /// Index of the first matching entry (the linear scan's answer).
    #[inline]
    pub fn first_match(&self, t: &Tuple) -> Option<usize> {
        let mut best = u32::MAX;
        for idx in &self.by_dst {
            if idx.min < best {
                self.scan(idx.candidates(t.dst), t, &mut best);
            }
        }
        for idx in &self.by_src {
            if idx.min < best {
                self.scan(idx.candidates(t.src), t, &mut best);
            }
        }
        if let Some(list) = self.rest.get(proto_class(t.proto)) {
            self.scan(list, t, &mut best);
        }
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
        assert!(!c.by_dst[0].table.is_empty());
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
