//! Constant-time Montgomery arithmetic for the MODP Diffie-Hellman groups: `N` 64-bit
//! limbs (12, 16, 24 and 32 for the 768-, 1024-, 1536- and 2048-bit primes), separated
//! operand scanning (the schoolbook product, then a word-by-word Montgomery reduction),
//! both scanned four rows at a time (four carry chains, one load and store of the
//! accumulator per four word products), a dedicated squaring (each cross product
//! computed once and doubled), and fixed-window exponentiation with a constant-time
//! table lookup. It relies on what the MODP primes have in common: the low and the top
//! 64 bits are all ones, so `-p^-1 mod 2^64 = 1` (the reduction factor of a row is the
//! word itself) and `R mod p < 2^(64(N-1))` (the generator-2 step folds with it).
//!
//! Constant time: the sequence of instructions and memory addresses depends only on the
//! modulus, on `N` and on the public exponent *length* (`bits`), never on the base's or
//! the exponent's value. There is no `if` on secret data: carries are handled in
//! arithmetic, the final subtraction of the Montgomery product is a masked select, a
//! window's table entry is read by scanning every entry and keeping the wanted one by a
//! mask (masks behind an optimisation barrier: [`subtle`]'s, or `core::hint::black_box`
//! for the lookup), and the generator-2 path computes `2^d` for a secret window digit `d`
//! by multiplications, not by a shift or an index. `benches/benches/ike_crypto.rs`
//! checks the timing with a dudect-style t-test.
//!
//! Limbs are little-endian (`[0]` is the least significant word). All values handed to
//! the operations are below the modulus unless said otherwise.

use subtle::Choice;
use zeroize::Zeroizing;

/// Window width of the general exponentiation for exponents of at least 512 bits (a
/// 32-entry table: 2048 bits take 410 multiplications + 30 for the table, against 404 +
/// 62 at width 6, whose lookups also cost twice as much).
const WIDE_WINDOW: u32 = 5;
/// Window width below 512 exponent bits (256 bits: 64 multiplications + 14 for the table).
const NARROW_WINDOW: u32 = 4;
/// Window width of the generator-2 path. Its per-window step is a multiplication by the
/// single word `2^d` plus two folds, about 4N word products, so the width only needs to
/// keep `2^d` in a word and the fold bound below `R` (see [`Modulus::mul_pow2`]).
const POW2_WINDOW: u32 = 6;

/// An odd modulus whose top limb is all ones (every MODP prime: they begin and end with
/// 64 one bits), with its Montgomery constants for `R = 2^(64 N)`.
pub(crate) struct Modulus<const N: usize> {
    /// The modulus.
    p: [u64; N],
    /// `R mod p = R - p` (the Montgomery form of 1); below `2^(64 (N-1))`.
    one: [u64; N],
    /// `R^2 mod p`, to convert into the Montgomery form.
    rr: [u64; N],
}

/// `acc + a * b + c` as (low word, high word); cannot overflow 128 bits. `c` is added
/// last, into the low word only, so whatever is passed as `c` waits for one `add` and one
/// `adc` (the product and `acc` do not wait for it): the multi-row loops pass the column
/// value being accumulated there, which is their longest dependency chain.
#[inline(always)]
fn mac(acc: u64, a: u64, b: u64, c: u64) -> (u64, u64) {
    let p = u128::from(a)
        .wrapping_mul(u128::from(b))
        .wrapping_add(u128::from(acc));
    let (lo, o) = (p as u64).overflowing_add(c);
    // p <= (2^64 - 1)^2 + 2^64 - 1, so its high word is at most 2^64 - 2.
    (lo, (p.wrapping_shr(64) as u64).wrapping_add(u64::from(o)))
}

/// `acc += a * b` over `min(acc.len(), a.len())` words; returns the carry word out.
#[inline(always)]
fn mac_row(acc: &mut [u64], a: &[u64], b: u64) -> u64 {
    let mut c = 0u64;
    for (r, &x) in acc.iter_mut().zip(a) {
        let (lo, hi) = mac(*r, x, b, c);
        *r = lo;
        c = hi;
    }
    c
}

/// Two rows at once: `acc[k] += a[k+1] b0 + a[k] b1` for `k` in `0..a.len()-1`, with
/// one carry chain per row (`c0`, `c1`, in and out). Two independent chains and one load
/// and store of `acc` per two products: the point of scanning two rows together.
#[inline(always)]
fn mac_row2(acc: &mut [u64], a: &[u64], b0: u64, b1: u64, c: (u64, u64)) -> (u64, u64) {
    let (mut c0, mut c1) = c;
    let next = a.get(1..).unwrap_or(&[]);
    for ((r, &x), &prev) in acc.iter_mut().zip(next).zip(a) {
        let (v, n0) = mac(c0, x, b0, *r);
        let (v, n1) = mac(c1, prev, b1, v);
        *r = v;
        c0 = n0;
        c1 = n1;
    }
    (c0, c1)
}

/// Four rows of a product-accumulation at once, after their first `start` (>= 3)
/// positions (done by the caller, who also supplies the row factors `m` and the four
/// carries `c` into position `start`): `row[k] += a[k] m0 + a[k-1] m1 + a[k-2] m2 +
/// a[k-3] m3` for `k` in `start..n` (`n = a.len()`), then the rows' last products and
/// carries added into `row[n..n+4]` together with `top`, the carry bit deferred to
/// `row[n]` by the previous block. Returns the carry out of `row[n+3]`, which belongs to
/// the next block's `row[n]`.
#[inline(always)]
fn rows4(row: &mut [u64], a: &[u64], start: usize, m: [u64; 4], c: [u64; 4], top: u64) -> u64 {
    let n = a.len();
    let [m0, m1, m2, m3] = m;
    let mut c = c;
    let ak = |k: usize| a.get(k).copied().unwrap_or(0);
    let from = |k: usize| a.get(k..).unwrap_or(&[]);
    let (s1, s2, s3, s4) = (
        from(start.wrapping_sub(3)),
        from(start.wrapping_sub(2)),
        from(start.wrapping_sub(1)),
        from(start),
    );
    let body = row.get_mut(start..n).unwrap_or(&mut []);
    for ((((r, &x0), &x1), &x2), &x3) in body.iter_mut().zip(s4).zip(s3).zip(s2).zip(s1) {
        let (v, n0) = mac(c[0], x0, m0, *r);
        let (v, n1) = mac(c[1], x1, m1, v);
        let (v, n2) = mac(c[2], x2, m2, v);
        let (v, n3) = mac(c[3], x3, m3, v);
        *r = v;
        c = [n0, n1, n2, n3];
    }
    // Positions N .. N+3: the rows' last products and carries.
    let (q1, q2, q3) = (
        ak(n.wrapping_sub(1)),
        ak(n.wrapping_sub(2)),
        ak(n.wrapping_sub(3)),
    );
    let (w0, d1) = mac(c[0], m1, q1, c[1]);
    let (w0, d2) = mac(w0, m2, q2, c[2]);
    let (w0, d3) = mac(w0, m3, q3, c[3]);
    let (w1, e2) = mac(d1, m2, q1, d2);
    let (w1, e3) = mac(w1, m3, q2, d3);
    let (w2, f3) = mac(e2, m3, q1, e3);
    let mut carry = top;
    if let Some(dst) = row.get_mut(n..n.wrapping_add(4)) {
        for (x, &y) in dst.iter_mut().zip(&[w0, w1, w2, f3]) {
            let s = u128::from(*x)
                .wrapping_add(u128::from(y))
                .wrapping_add(u128::from(carry));
            *x = s as u64;
            carry = s.wrapping_shr(64) as u64;
        }
    }
    carry
}

/// `t[at] + 2^64 t[at+1] += lo + 2^64 hi` (the sum fits: callers know it).
#[inline(always)]
fn add2(t: &mut [u64], at: usize, lo: u64, hi: u64) {
    if let Some([x, y]) = t.get_mut(at..at.wrapping_add(2)) {
        let (s, o) = x.overflowing_add(lo);
        *x = s;
        *y = y.wrapping_add(hi).wrapping_add(u64::from(o));
    }
}

/// An all-ones mask when `choice` is set, zero otherwise (the value went through
/// `subtle`'s barrier, so the compiler cannot turn the masking into a branch).
#[inline(always)]
fn mask(choice: Choice) -> u64 {
    0u64.wrapping_sub(u64::from(choice.unwrap_u8()))
}

/// Big-endian bytes (exactly `8 N`; callers pad) to little-endian limbs; `None` for
/// another length.
pub(crate) fn limbs_from_be<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    if bytes.len() != N.checked_mul(8)? {
        return None;
    }
    let mut out = [0u64; N];
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        *limb = u64::from_be_bytes(w);
    }
    Some(out)
}

/// Little-endian limbs to big-endian bytes in `out` (of `8 N` bytes; a shorter `out`
/// takes the low-order bytes).
pub(crate) fn limbs_to_be<const N: usize>(limbs: &[u64; N], out: &mut [u8]) {
    for (chunk, limb) in out.rchunks_exact_mut(8).zip(limbs) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
}

/// `t + hi * R - p` if that is not negative, else `t`, in constant time (`hi` is 0 or 1).
#[inline(always)]
fn sub_if_ge<const N: usize>(mut t: [u64; N], hi: u64, p: &[u64; N]) -> [u64; N] {
    let mut d = [0u64; N];
    let mut borrow = 0u64;
    for ((d, &x), &y) in d.iter_mut().zip(&t).zip(p) {
        let (s1, b1) = x.overflowing_sub(y);
        let (s2, b2) = s1.overflowing_sub(borrow);
        *d = s2;
        borrow = u64::from(b1 | b2);
    }
    // The difference stands when there was a word above (hi) or no borrow.
    let keep_d = mask(Choice::from(((hi | (borrow ^ 1)) & 1) as u8));
    for (x, &y) in t.iter_mut().zip(&d) {
        *x ^= keep_d & (*x ^ y);
    }
    t
}

/// `2^d` for a secret `d < 64`, by multiplying the selected powers `2^(2^k)` of its bits.
#[inline(always)]
fn ct_pow2_word(d: u64) -> u64 {
    let mut s = 1u64;
    for k in 0..6u32 {
        let bit = Choice::from(((d.wrapping_shr(k)) & 1) as u8);
        let f = 1u64.wrapping_shl(1u32.wrapping_shl(k));
        // f when the bit is set, 1 otherwise.
        s = s.wrapping_mul(1 ^ (mask(bit) & (1 ^ f)));
    }
    s
}

/// The `width` (at most 63) exponent bits at bit position `pos` (public), as a word.
fn window(exp: &[u64], pos: u32, width: u32) -> u64 {
    let limb = usize::try_from(pos / 64).unwrap_or(usize::MAX);
    let off = pos % 64;
    let lo = exp.get(limb).copied().unwrap_or(0).wrapping_shr(off);
    let hi = if off == 0 {
        0
    } else {
        exp.get(limb.wrapping_add(1))
            .copied()
            .unwrap_or(0)
            .wrapping_shl(64u32.wrapping_sub(off))
    };
    (lo | hi) & 1u64.wrapping_shl(width).wrapping_sub(1)
}

/// Copies `table[idx]` into `out`, reading every entry (constant time in `idx`). The
/// masks are computed arithmetically and then pass one optimisation barrier together
/// (`core::hint::black_box`, the barrier `subtle` itself can use), so the compiler cannot
/// see that they come from a comparison and turn the selection into a branch; one
/// barrier per lookup instead of one call per entry. A `table` longer than
/// `2^WIDE_WINDOW` entries is read only that far.
#[inline(always)]
fn ct_lookup<const N: usize>(table: &[[u64; N]], idx: u64, out: &mut [u64; N]) {
    let mut masks = [0u64; 1 << WIDE_WINDOW];
    for (j, m) in (0u64..).zip(masks.iter_mut()) {
        let x = j ^ idx;
        // The top bit of (x - 1) & !x is set exactly when x == 0.
        *m = 0u64.wrapping_sub((x.wrapping_sub(1) & !x).wrapping_shr(63));
    }
    let masks = core::hint::black_box(masks);
    *out = [0u64; N];
    for (entry, &m) in table.iter().zip(&masks) {
        for (o, &e) in out.iter_mut().zip(entry) {
            *o |= e & m;
        }
    }
}

/// Best-effort wipe of the stack below the caller after an exponentiation: the
/// products' scratch arrays (up to `4N` words of secret-derived values, in the frames of
/// `mul` and `square`, which are not wiped one by one for their cost) lie in the region
/// this frame reuses at the same call depth. Not a guarantee (the compiler decides the
/// frame layout); the named secrets are held in `Zeroizing` values.
#[inline(never)]
fn scrub_stack() {
    let mut buf = [0u64; 512];
    zeroize::Zeroize::zeroize(&mut buf[..]);
    core::hint::black_box(&buf);
}

impl<const N: usize> Modulus<N> {
    /// The Montgomery constants of `p` (little-endian limbs); `None` unless `p` is odd,
    /// `N` a multiple of 4 and the top limb is all ones (the bound the generator-2 path relies on).
    pub(crate) fn new(p: [u64; N]) -> Option<Self> {
        let (&low, &top) = (p.first()?, p.last()?);
        // p = -1 mod 2^64 makes -p^-1 = 1 (`n0`), so the reduction's factor is the word
        // itself and its first product is free; rows are scanned two or four at a time
        // (N a multiple of 4).
        if N < 4 || N % 4 != 0 || low != u64::MAX || top != u64::MAX {
            return None;
        }
        // R mod p = R - p, since R/2 < p < R.
        let mut one = [0u64; N];
        let mut borrow = 0u64;
        for (o, &x) in one.iter_mut().zip(&p) {
            let (s1, b1) = 0u64.overflowing_sub(x);
            let (s2, b2) = s1.overflowing_sub(borrow);
            *o = s2;
            borrow = u64::from(b1 | b2);
        }
        let mut m = Self {
            p,
            one,
            rr: [0u64; N],
        };
        // R^2 mod p = R * 2^(64 N) mod p: 64 N modular doublings of R mod p (once per
        // modulus; public data).
        let mut rr = one;
        for _ in 0..N.saturating_mul(64) {
            rr = m.double(&rr);
        }
        m.rr = rr;
        Some(m)
    }

    /// The modulus as little-endian limbs.
    pub(crate) fn modulus(&self) -> &[u64; N] {
        &self.p
    }

    /// `2a mod p`.
    fn double(&self, a: &[u64; N]) -> [u64; N] {
        let mut t = [0u64; N];
        let mut carry = 0u64;
        for (t, &x) in t.iter_mut().zip(a) {
            *t = x.wrapping_shl(1) | carry;
            carry = x.wrapping_shr(63);
        }
        sub_if_ge(t, carry, &self.p)
    }

    /// Montgomery reduction of the `2N`-word `t < p R`: `t R^-1 mod p`, fully reduced.
    /// Four rows per step (four carry chains, one load and store of `t` per four
    /// products): with `p_0 = 2^64 - 1` (so `n0 = 1`) the factor of row `i` is the word
    /// `m_i = t_i` as it stands when the row starts, and `t_i + m_i p_0 = m_i 2^64`, so
    /// the first product of each row is just a carry of `m_i`.
    #[inline(always)]
    fn redc(&self, mut w: [[u64; N]; 2]) -> [u64; N] {
        let t = w.as_flattened_mut();
        let p = &self.p;
        let pk = |k: usize| p.get(k).copied().unwrap_or(0);
        let (p1, p2, p3) = (pk(1), pk(2), pk(3));
        let mut top = 0u64;
        for i in (0..N).step_by(4) {
            let Some(row) = t.get_mut(i..) else { break };
            let tk = |row: &[u64], k: usize| row.get(k).copied().unwrap_or(0);
            // The four factors, each from its word once the rows above have added in.
            let m0 = tk(row, 0);
            let (m1, c0) = mac(tk(row, 1), m0, p1, m0);
            let (v, c0) = mac(tk(row, 2), m0, p2, c0);
            let (m2, c1) = mac(v, m1, p1, m1);
            let (v, c0) = mac(tk(row, 3), m0, p3, c0);
            let (v, c1) = mac(v, m1, p2, c1);
            let (m3, c2) = mac(v, m2, p1, m2);
            top = rows4(row, p, 4, [m0, m1, m2, m3], [c0, c1, c2, m3], top);
        }
        let [_, hi] = w;
        sub_if_ge(hi, top, &self.p)
    }

    /// Montgomery product `a b R^-1 mod p` (`a < R`, `b < p`), four rows of the
    /// schoolbook product at a time, then the reduction.
    #[inline(never)]
    pub(crate) fn mul(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let mut w = [[0u64; N]; 2];
        let t = w.as_flattened_mut();
        let ak = |k: usize| a.get(k).copied().unwrap_or(0);
        let (a0, a1, a2, a3) = (ak(0), ak(1), ak(2), ak(3));
        let mut top = 0u64;
        for (i, quad) in (0usize..).step_by(4).zip(b.chunks_exact(4)) {
            let [b0, b1, b2, b3] = [0, 1, 2, 3].map(|k| quad.get(k).copied().unwrap_or(0));
            let Some(row) = t.get_mut(i..) else { break };
            // Positions i .. i+3: the products a[k-r] b_r with k-r >= 0.
            let tk = |row: &[u64], k: usize| row.get(k).copied().unwrap_or(0);
            let (v0, c0) = mac(tk(row, 0), a0, b0, 0);
            let (v, c0) = mac(tk(row, 1), a1, b0, c0);
            let (v1, c1) = mac(v, a0, b1, 0);
            let (v, c0) = mac(tk(row, 2), a2, b0, c0);
            let (v, c1) = mac(v, a1, b1, c1);
            let (v2, c2) = mac(v, a0, b2, 0);
            let (v, c0) = mac(tk(row, 3), a3, b0, c0);
            let (v, c1) = mac(v, a2, b1, c1);
            let (v, c2) = mac(v, a1, b2, c2);
            let (v3, c3) = mac(v, a0, b3, 0);
            if let Some(head) = row.get_mut(..4) {
                head.copy_from_slice(&[v0, v1, v2, v3]);
            }
            top = rows4(row, a, 4, [b0, b1, b2, b3], [c0, c1, c2, c3], top);
        }
        self.redc(w)
    }

    /// Montgomery square `a^2 R^-1 mod p`: the cross products `a_i a_j` (`i < j`) once,
    /// two rows at a time, doubled by a one-bit shift, plus the diagonal `a_i^2`, then the
    /// reduction.
    #[inline(never)]
    pub(crate) fn square(&self, a: &[u64; N]) -> [u64; N] {
        let mut w = [[0u64; N]; 2];
        let t = w.as_flattened_mut();
        // Cross products four rows at a time while the block's first row has at least 7
        // of them (rows i..i+3: a_(i+r) a[i+r+1..] from position 2(i+r)+1; with
        // A = a[i+1..], row r puts A[k-r] a_(i+r) at position 2i+1+k for k >= 2r).
        let blocks4 = N.saturating_sub(4) & !3;
        for i in (0..blocks4).step_by(4) {
            let ak = |k: usize| a.get(k).copied().unwrap_or(0);
            let m = [0usize, 1, 2, 3].map(|r| ak(i.wrapping_add(r)));
            let big_a = a.get(i.wrapping_add(1)..).unwrap_or(&[]);
            let x = |k: usize| big_a.get(k).copied().unwrap_or(0);
            let Some(row) = t.get_mut(i.wrapping_mul(2).wrapping_add(1)..) else {
                break;
            };
            let d = |row: &[u64], k: usize| row.get(k).copied().unwrap_or(0);
            let (v0, c0) = mac(d(row, 0), x(0), m[0], 0);
            let (v1, c0) = mac(d(row, 1), x(1), m[0], c0);
            let (v, c0) = mac(d(row, 2), x(2), m[0], c0);
            let (v2, c1) = mac(v, x(1), m[1], 0);
            let (v, c0) = mac(d(row, 3), x(3), m[0], c0);
            let (v3, c1) = mac(v, x(2), m[1], c1);
            let (v, c0) = mac(d(row, 4), x(4), m[0], c0);
            let (v, c1) = mac(v, x(3), m[1], c1);
            let (v4, c2) = mac(v, x(2), m[2], 0);
            let (v, c0) = mac(d(row, 5), x(5), m[0], c0);
            let (v, c1) = mac(v, x(4), m[1], c1);
            let (v5, c2) = mac(v, x(3), m[2], c2);
            if let Some(head) = row.get_mut(..6) {
                head.copy_from_slice(&[v0, v1, v2, v3, v4, v5]);
            }
            // The partial sums fit below position i+N+4: no carry out.
            let _ = rows4(row, big_a, 6, m, [c0, c1, c2, 0], 0);
        }
        for i in (blocks4..N).step_by(2) {
            // Rows i and i+1: a_i a[i+1..] from position 2i+1, a_(i+1) a[i+2..] from 2i+3.
            let get = |k: usize| a.get(k).copied().unwrap_or(0);
            let (ai, ai1, ai2) = (get(i), get(i.wrapping_add(1)), get(i.wrapping_add(2)));
            let Some(row) = t.get_mut(i.wrapping_mul(2).wrapping_add(1)..) else {
                break;
            };
            let mut c0 = 0u64;
            for (x, y) in row.iter_mut().take(2).zip([ai1, ai2]) {
                let (lo, c) = mac(*x, y, ai, c0);
                *x = lo;
                c0 = c;
            }
            let rest = a.get(i.wrapping_add(2)..).unwrap_or(&[]);
            let (c0, c1) = mac_row2(row.get_mut(2..).unwrap_or(&mut []), rest, ai, ai1, (c0, 0));
            let (lo, hi) = mac(c0, rest.last().copied().unwrap_or(0), ai1, c1);
            // Position i+N (= 2i+1 + N-1-i) and the next one.
            add2(row, N.wrapping_sub(1).wrapping_sub(i), lo, hi);
        }
        // t = 2 t + sum a_i^2 2^(128 i), two words per diagonal term.
        let mut shifted_out = 0u64;
        let mut carry = 0u64;
        for (pair, &ai) in t.chunks_exact_mut(2).zip(a) {
            if let [lo, hi] = pair {
                let l = lo.wrapping_shl(1) | shifted_out;
                let h = hi.wrapping_shl(1) | lo.wrapping_shr(63);
                shifted_out = hi.wrapping_shr(63);
                let sq = u128::from(ai).wrapping_mul(u128::from(ai));
                let v = u128::from(h).wrapping_shl(64) | u128::from(l);
                let (v, o1) = v.overflowing_add(sq);
                let (v, o2) = v.overflowing_add(u128::from(carry));
                *lo = v as u64;
                *hi = v.wrapping_shr(64) as u64;
                carry = u64::from(o1 | o2);
            }
        }
        self.redc(w)
    }

    /// Into the Montgomery form: `a R mod p`, for any `a < R` (so a value `>= p` is
    /// reduced).
    pub(crate) fn to_monty(&self, a: &[u64; N]) -> [u64; N] {
        self.mul(a, &self.rr)
    }

    /// Out of the Montgomery form: `a R^-1 mod p`.
    pub(crate) fn retrieve(&self, a: &[u64; N]) -> [u64; N] {
        let mut unit = [0u64; N];
        if let Some(u) = unit.first_mut() {
            *u = 1;
        }
        self.mul(a, &unit)
    }

    /// `base^e mod p` over the low `bits` bits of `exp` (`base < R`; the result is
    /// fully reduced), by fixed windows of 4 or 5 bits. Constant time for a given `bits`.
    pub(crate) fn pow(&self, base: &[u64; N], exp: &[u64; N], bits: u32) -> Zeroizing<[u64; N]> {
        let width = if bits >= 512 {
            WIDE_WINDOW
        } else {
            NARROW_WINDOW
        };
        let entries = 1usize.wrapping_shl(width);
        // table[j] = base^j in the Montgomery form.
        let mut table = Zeroizing::new([[0u64; N]; 1 << WIDE_WINDOW]);
        let b = Zeroizing::new(self.to_monty(base));
        for j in 0..entries {
            let v = match j {
                0 => self.one,
                1 => *b,
                _ if j % 2 == 0 => self.square(table.get(j / 2).unwrap_or(&self.one)),
                _ => self.mul(table.get(j.wrapping_sub(1)).unwrap_or(&self.one), &b),
            };
            if let Some(t) = table.get_mut(j) {
                *t = v;
            }
        }
        let table = table.get(..entries).unwrap_or(&[]);
        let mut acc = Zeroizing::new(self.one);
        let mut entry = Zeroizing::new([0u64; N]);
        let bits = bits.min(u32::try_from(N.saturating_mul(64)).unwrap_or(u32::MAX));
        let windows = bits.div_ceil(width);
        for k in (0..windows).rev() {
            let pos = k.wrapping_mul(width);
            let w = width.min(bits.wrapping_sub(pos));
            let d = Zeroizing::new(window(exp, pos, w));
            ct_lookup(table, *d, &mut entry);
            if k.wrapping_add(1) == windows {
                // The top window: the accumulator is 1, so take the entry as it is.
                *acc = *entry;
            } else {
                for _ in 0..w {
                    *acc = self.square(&acc);
                }
                *acc = self.mul(&acc, &entry);
            }
        }
        let out = Zeroizing::new(self.retrieve(&acc));
        scrub_stack();
        out
    }

    /// `a 2^d mod p` for `a < p` and a secret `d < 2^POW2_WINDOW`, in constant time: the
    /// product by the word `2^d` has `N+1` words `h R + l`; as `R = R mod p` (`one`, below
    /// `2^(64(N-1))` since the top limb of `p` is all ones), fold `h R` into `h one` twice.
    /// After the first fold the value is below `R + 2^(64(N-1)+6)`, so its top word `h'` is
    /// 0 or 1; when it is 1 the low part is below `2^(64(N-1)+6)`, so the second fold
    /// stays below `R < 2p` and one conditional subtraction ends it.
    fn mul_pow2(&self, a: &[u64; N], d: u64) -> [u64; N] {
        let s = ct_pow2_word(d);
        let mut v = [0u64; N];
        let h = mac_row(&mut v, a, s);
        let h1 = mac_row(&mut v, &self.one, h);
        let h2 = mac_row(&mut v, &self.one, h1);
        sub_if_ge(v, h2, &self.p)
    }

    /// `2^e mod p` over the low `bits` bits of `exp`: per window of 6 bits, 6 squarings
    /// and a multiplication by `2^d` (see [`Modulus::mul_pow2`]) instead of a general
    /// multiplication and a table lookup. Constant time for a given `bits`.
    pub(crate) fn pow2(&self, exp: &[u64; N], bits: u32) -> Zeroizing<[u64; N]> {
        let mut acc = Zeroizing::new(self.one);
        let bits = bits.min(u32::try_from(N.saturating_mul(64)).unwrap_or(u32::MAX));
        let windows = bits.div_ceil(POW2_WINDOW);
        for k in (0..windows).rev() {
            let pos = k.wrapping_mul(POW2_WINDOW);
            let w = POW2_WINDOW.min(bits.wrapping_sub(pos));
            let d = Zeroizing::new(window(exp, pos, w));
            if k.wrapping_add(1) != windows {
                for _ in 0..w {
                    *acc = self.square(&acc);
                }
            }
            *acc = self.mul_pow2(&acc, *d);
        }
        let out = Zeroizing::new(self.retrieve(&acc));
        scrub_stack();
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects)]
    use super::*;
    use crate::crypto::dh::{DhGroup, ALL_GROUPS};
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn big<const N: usize>(a: &[u64; N]) -> BigUint {
        let mut b = vec![0u8; N * 8];
        limbs_to_be(a, &mut b);
        BigUint::from_bytes_be(&b)
    }

    fn limbs<const N: usize>(x: &BigUint) -> [u64; N] {
        let b = x.to_bytes_be();
        let mut p = vec![0u8; N * 8 - b.len()];
        p.extend_from_slice(&b);
        limbs_from_be(&p).unwrap()
    }

    fn modulus<const N: usize>(g: DhGroup) -> Modulus<N> {
        Modulus::new(limbs_from_be(&g.prime_be()).unwrap()).unwrap()
    }

    /// Montgomery mul, square, conversions, constants and the `2^d` step against
    /// num-bigint, for values drawn from `seed` (and the extremes 0, 1, p-1).
    fn check<const N: usize>(g: DhGroup, seed: u64) {
        let m = modulus::<N>(g);
        let p = big(&m.p);
        let r = BigUint::from(1u8) << (64 * N);
        assert_eq!(big(&m.one), &r % &p);
        assert_eq!(big(&m.rr), (&r * &r) % &p);
        // -p^-1 = 1 mod 2^64, which the reduction relies on.
        assert_eq!(
            (&p + 1u8) % (BigUint::from(1u8) << 64u32),
            BigUint::from(0u8)
        );
        let rinv = r.modinv(&p).unwrap();
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values: Vec<BigUint> =
            vec![BigUint::from(0u8), BigUint::from(1u8), &p - 1u8, &p - 2u8];
        for _ in 0..8 {
            let v: [u64; N] = core::array::from_fn(|_| next());
            values.push(big(&v) % &p);
        }
        for a in &values {
            let al = limbs::<N>(a);
            assert_eq!(big(&m.square(&al)), (a * a * &rinv) % &p, "square");
            assert_eq!(big(&m.to_monty(&al)), (a * &r) % &p, "to_monty");
            assert_eq!(big(&m.retrieve(&al)), (a * &rinv) % &p, "retrieve");
            for d in 0..64u64 {
                assert_eq!(ct_pow2_word(d), 1u64 << d);
                if d < 1 << POW2_WINDOW {
                    let want = (a << d as usize) % &p;
                    assert_eq!(big(&m.mul_pow2(&al, d)), want, "mul_pow2 {d}");
                }
            }
            for b in &values {
                let bl = limbs::<N>(b);
                assert_eq!(big(&m.mul(&al, &bl)), (a * b * &rinv) % &p, "mul");
            }
        }
        // Any a < R converts (reduced).
        let top = [u64::MAX; N];
        assert_eq!(big(&m.to_monty(&top)), (big(&top) * &r) % &p);
    }

    #[test]
    fn arithmetic_matches_num_bigint() {
        for seed in [1u64, 0xdead_beef, 0x0123_4567_89ab_cdef] {
            check::<12>(DhGroup::Modp768, seed);
            check::<16>(DhGroup::Modp1024, seed);
            check::<24>(DhGroup::Modp1536, seed);
            check::<32>(DhGroup::Modp2048, seed);
        }
    }

    #[test]
    fn constants_refuse_other_moduli() {
        let mut p = [u64::MAX; 4];
        assert!(Modulus::new(p).is_some());
        p[0] = 0xfe;
        assert!(Modulus::new(p).is_none(), "even");
        p[0] = u64::MAX - 2;
        assert!(Modulus::new(p).is_none(), "not -1 mod 2^64");
        p[0] = u64::MAX;
        p[3] = 0x7fff_ffff_ffff_ffff;
        assert!(Modulus::new(p).is_none(), "top limb not all ones");
        assert!(Modulus::new([u64::MAX; 1]).is_none());
        assert!(Modulus::new([u64::MAX; 3]).is_none(), "limb count");
        assert!(Modulus::new([u64::MAX; 6]).is_none(), "limb count");
        assert_eq!(ALL_GROUPS.len(), 4);
    }

    #[test]
    fn windows_are_read_across_limbs() {
        let e = [0x8000_0000_0000_0001u64, 0x3];
        assert_eq!(window(&e, 0, 4), 1);
        assert_eq!(window(&e, 63, 4), 0b111);
        assert_eq!(window(&e, 62, 6), 0b1110);
        assert_eq!(window(&e, 64, 6), 3);
        assert_eq!(window(&e, 126, 6), 0);
        assert_eq!(window(&e, 200, 6), 0);
    }

    #[test]
    fn lookup_returns_the_entry() {
        let table: Vec<[u64; 3]> = (0..32u64).map(|j| [j, j * 7, !j]).collect();
        let mut out = [0u64; 3];
        for j in 0..32u64 {
            ct_lookup(&table, j, &mut out);
            assert_eq!(out, table[j as usize]);
            ct_lookup(&table[..16], j, &mut out);
            assert_eq!(out, if j < 16 { table[j as usize] } else { [0; 3] });
        }
        for j in [32, 33, u64::MAX, 1 << 63] {
            ct_lookup(&table, j, &mut out);
            assert_eq!(out, [0; 3]);
        }
    }

    fn pow_case<const N: usize>(
        g: DhGroup,
        base: &[u8],
        exp: &[u8],
        bits: u32,
    ) -> Result<(), TestCaseError> {
        let m = modulus::<N>(g);
        let p = big(&m.p);
        let b = BigUint::from_bytes_be(base) % (BigUint::from(1u8) << (64 * N));
        let e = BigUint::from_bytes_be(exp) & ((BigUint::from(1u8) << bits) - 1u8);
        let want = b.modpow(&e, &p);
        let bl = limbs::<N>(&b);
        let el = limbs::<N>(&(BigUint::from_bytes_be(exp) % (BigUint::from(1u8) << (64 * N))));
        prop_assert_eq!(
            big(&m.pow(&bl, &el, bits)),
            want.clone(),
            "pow group {} bits {}",
            g.attribute(),
            bits
        );
        let want2 = BigUint::from(2u8).modpow(&e, &p);
        prop_assert_eq!(
            big(&m.pow2(&el, bits)),
            want2,
            "pow2 group {} bits {}",
            g.attribute(),
            bits
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4))]

        /// Random bases (any value below R, so also >= p) and exponents (or all ones), at
        /// bit counts 0, 1, 7 (a partial top window), 256, the full width and a random one.
        /// (Few cases: each runs both paths in all four groups; `tests/dh_props.rs` adds
        /// more through the public API.)
        #[test]
        fn pow_matches_num_bigint(
            base in prop::collection::vec(any::<u8>(), 256),
            exp in prop::collection::vec(any::<u8>(), 256),
            bits_pick in 0u32..2049,
            ones in any::<bool>(),
        ) {
            let exp = if ones { vec![0xff; 256] } else { exp };
            for g in ALL_GROUPS {
                let len = g.modulus_len();
                let n = g.modulus_bits();
                for bits in [0, 1, 7, 256, n, bits_pick % (n + 1)] {
                    let (b, e) = (&base[256 - len..], &exp[256 - len..]);
                    match g {
                        DhGroup::Modp768 => pow_case::<12>(g, b, e, bits)?,
                        DhGroup::Modp1024 => pow_case::<16>(g, b, e, bits)?,
                        DhGroup::Modp1536 => pow_case::<24>(g, b, e, bits)?,
                        _ => pow_case::<32>(g, b, e, bits)?,
                    }
                }
            }
        }
    }
}
