//! Diffie-Hellman over the MODP groups 1, 2, 5 and 14 (RFC 2409 section 6, RFC 3526),
//! with a constant-time Montgomery exponentiation of our own (the private module
//! `crypto::monty`: fixed-width 64-bit limbs per group, four-row operand scanning, a
//! dedicated squaring, fixed windows with a masked table lookup, and a cheaper window
//! step for the generator 2). No branch and no memory address depends on the secret
//! exponent (nor on the base's value, beyond choosing the generator-2 path for the
//! public base 2); only the exponent *size* sets the amount of work.
//!
//! Two private exponent sizes are offered ([`ExponentSize`]): the full modulus size, or a
//! bounded size (256 bits by default) as RFC 3526 section 8 sizes exponents by the
//! group's strength; the exponentiation then runs over that many bits only, in constant
//! time for a given size, and is about 3-4x faster.

use super::modp::{MODP_1024_HEX, MODP_1536_HEX, MODP_2048_HEX, MODP_768_HEX};
use super::monty::{limbs_from_be, limbs_to_be, Modulus};
use crate::error::SmError;
use pix_primitives::Secret;
use rand_core::CryptoRng;
use std::sync::LazyLock;
use subtle::Choice;
use zeroize::Zeroizing;

/// The Montgomery constants of each prime, computed on first use (public data).
static MOD_768: LazyLock<Modulus<12>> = LazyLock::new(|| modulus(MODP_768_HEX));
static MOD_1024: LazyLock<Modulus<16>> = LazyLock::new(|| modulus(MODP_1024_HEX));
static MOD_1536: LazyLock<Modulus<24>> = LazyLock::new(|| modulus(MODP_1536_HEX));
static MOD_2048: LazyLock<Modulus<32>> = LazyLock::new(|| modulus(MODP_2048_HEX));

/// The Montgomery constants of a prime given as `8 N` bytes of big-endian hex.
fn modulus<const N: usize>(hex: &str) -> Modulus<N> {
    let mut limbs = [0u64; N];
    // Sixteen hex digits per limb, the last ones least significant.
    for (limb, chunk) in limbs.iter_mut().zip(hex.as_bytes().rchunks(16)) {
        *limb = chunk
            .iter()
            .fold(0u64, |acc, &c| acc.wrapping_shl(4) | hex_digit(c));
    }
    // The constant primes above begin and end with 64 one bits: this cannot fail
    // (the unit tests build all four).
    #[allow(clippy::expect_used)]
    Modulus::new(limbs).expect("a MODP prime")
}

const fn hex_digit(c: u8) -> u64 {
    match c {
        b'0'..=b'9' => c.wrapping_sub(b'0') as u64,
        b'a'..=b'f' => c.wrapping_sub(b'a' - 10) as u64,
        b'A'..=b'F' => c.wrapping_sub(b'A' - 10) as u64,
        _ => 0,
    }
}

/// `true` only when the crate was built with the `fuzzing` cargo feature, which replaces
/// Diffie-Hellman by a no-security stand-in (the public value is the private exponent, the
/// shared secret is their XOR) so that a fuzzer reaches the encrypted exchanges at full
/// speed. Never enable that feature outside a fuzz build: every key exchange is then
/// readable by anyone who sees it. A driver may refuse to start when this is `true`.
pub const INSECURE_FUZZING_CRYPTO: bool = cfg!(feature = "fuzzing");

/// The smallest bounded private exponent we accept, in bits (twice the ~80-bit strength
/// of the 768/1024-bit groups, RFC 3526 section 8).
pub const MIN_EXPONENT_BITS: u32 = 160;

/// The default bounded private exponent size: 256 bits, at least twice the strength
/// estimate of every group here (RFC 3526 section 8 gives 110-160 bits for 2048-bit MODP).
pub const DEFAULT_EXPONENT_BITS: u32 = 256;

/// A MODP Diffie-Hellman group, by its phase-1 `Group Description` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DhGroup {
    /// Group 1, 768-bit MODP (RFC 2409 section 6.1).
    Modp768,
    /// Group 2, 1024-bit MODP (RFC 2409 section 6.2).
    Modp1024,
    /// Group 5, 1536-bit MODP (RFC 3526 section 2).
    Modp1536,
    /// Group 14, 2048-bit MODP (RFC 3526 section 3).
    Modp2048,
}

/// Every group this crate implements, in number order.
pub const ALL_GROUPS: [DhGroup; 4] = [
    DhGroup::Modp768,
    DhGroup::Modp1024,
    DhGroup::Modp1536,
    DhGroup::Modp2048,
];

impl DhGroup {
    /// From the phase-1 `Group Description` attribute (or the PFS group of Quick Mode).
    ///
    /// # Errors
    /// [`SmError::UnsupportedGroup`] for anything but 1, 2, 5 and 14.
    pub fn from_attribute(value: u16) -> Result<Self, SmError> {
        match value {
            1 => Ok(Self::Modp768),
            2 => Ok(Self::Modp1024),
            5 => Ok(Self::Modp1536),
            14 => Ok(Self::Modp2048),
            other => Err(SmError::UnsupportedGroup(other)),
        }
    }

    /// The `Group Description` number.
    #[must_use]
    pub fn attribute(self) -> u16 {
        match self {
            Self::Modp768 => 1,
            Self::Modp1024 => 2,
            Self::Modp1536 => 5,
            Self::Modp2048 => 14,
        }
    }

    /// Modulus size in bits.
    #[must_use]
    pub fn modulus_bits(self) -> u32 {
        match self {
            Self::Modp768 => 768,
            Self::Modp1024 => 1024,
            Self::Modp1536 => 1536,
            Self::Modp2048 => 2048,
        }
    }

    /// Modulus size in bytes: the length of every public value and of g^xy on the wire.
    #[must_use]
    pub fn modulus_len(self) -> usize {
        match self {
            Self::Modp768 => 96,
            Self::Modp1024 => 128,
            Self::Modp1536 => 192,
            Self::Modp2048 => 256,
        }
    }

    /// The prime as big-endian hex (upper case, no separators).
    #[must_use]
    pub fn prime_hex(self) -> &'static str {
        match self {
            Self::Modp768 => MODP_768_HEX,
            Self::Modp1024 => MODP_1024_HEX,
            Self::Modp1536 => MODP_1536_HEX,
            Self::Modp2048 => MODP_2048_HEX,
        }
    }

    /// The prime as big-endian bytes of [`DhGroup::modulus_len`].
    #[must_use]
    pub fn prime_be(self) -> Vec<u8> {
        let mut out = vec![0u8; self.modulus_len()];
        match self {
            Self::Modp768 => limbs_to_be(MOD_768.modulus(), &mut out),
            Self::Modp1024 => limbs_to_be(MOD_1024.modulus(), &mut out),
            Self::Modp1536 => limbs_to_be(MOD_1536.modulus(), &mut out),
            Self::Modp2048 => limbs_to_be(MOD_2048.modulus(), &mut out),
        }
        out
    }

    /// `base^exponent mod p` in constant time, taking only the `exponent_bits` least
    /// significant bits of the exponent into account (the number of bits is the only thing
    /// the timing depends on). `base` and `exponent` are big-endian and at most
    /// [`DhGroup::modulus_len`] bytes (shorter ones are left-padded); longer inputs and
    /// `exponent_bits` above the modulus size give `None`. The result has exactly
    /// `modulus_len` bytes.
    #[must_use]
    pub fn modexp(self, base: &[u8], exponent: &[u8], exponent_bits: u32) -> Option<Secret> {
        let len = self.modulus_len();
        if base.len() > len || exponent.len() > len || exponent_bits > self.modulus_bits() {
            return None;
        }
        let b = left_pad(base, len)?;
        let e = left_pad(exponent, len)?;
        // The generator 2 (a public base) gets the cheaper window step of
        // `Modulus::pow2`: a multiplication by 2^d instead of a table lookup and a product.
        let two = base.iter().rev().skip(1).all(|&x| x == 0) && base.last() == Some(&2);
        match self {
            Self::Modp768 => pow_be(&MOD_768, &b, &e, exponent_bits, two),
            Self::Modp1024 => pow_be(&MOD_1024, &b, &e, exponent_bits, two),
            Self::Modp1536 => pow_be(&MOD_1536, &b, &e, exponent_bits, two),
            Self::Modp2048 => pow_be(&MOD_2048, &b, &e, exponent_bits, two),
        }
    }

    /// Checks a peer's public value (KE payload data): exactly [`DhGroup::modulus_len`]
    /// bytes (RFC 2409 section 5: "MUST be the length of the negotiated Diffie-Hellman
    /// group enforced, if necessary, by pre-pending the value with zeros") and
    /// `1 < y < p-1` (which excludes the small-subgroup values 0, 1 and p-1).
    ///
    /// # Errors
    /// [`SmError::PublicValueLength`] or [`SmError::PublicValueRange`].
    pub fn validate_public_value(self, y: &[u8]) -> Result<(), SmError> {
        if y.len() != self.modulus_len() {
            return Err(SmError::PublicValueLength {
                group: self.attribute(),
                expected: self.modulus_len(),
                got: y.len(),
            });
        }
        if bool::from(self.in_open_range(y)) {
            Ok(())
        } else {
            Err(SmError::PublicValueRange {
                group: self.attribute(),
            })
        }
    }

    /// `1 < x < p-1` for a value of exactly `modulus_len` bytes, in constant time.
    fn in_open_range(self, x: &[u8]) -> Choice {
        let mut p_minus_1 = self.prime_be();
        // The primes end in 0xFF, so p-1 only changes the last byte.
        if let Some(last) = p_minus_1.last_mut() {
            *last = last.wrapping_sub(1);
        }
        let mut two = vec![0u8; self.modulus_len()];
        if let Some(last) = two.last_mut() {
            *last = 2;
        }
        let above_one = !ct_lt_be(x, &two);
        above_one & ct_lt_be(x, &p_minus_1)
    }
}

/// How many bits of private exponent to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExponentSize {
    /// Uniform in `[2, p-2]`: the exponentiation runs over the whole modulus width.
    Full,
    /// Uniform in `[2, 2^bits)`, `MIN_EXPONENT_BITS <= bits < modulus bits`: the
    /// exponentiation runs over `bits` bits only.
    Bits(u32),
}

impl Default for ExponentSize {
    fn default() -> Self {
        Self::Bits(DEFAULT_EXPONENT_BITS)
    }
}

/// Our Diffie-Hellman key pair for one exchange: the private exponent (secret,
/// zeroized on drop) and the public value `g^x mod p` (as sent in the KE payload).
pub struct KeyPair {
    group: DhGroup,
    exponent: Secret,
    exponent_bits: u32,
    public: Vec<u8>,
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("group", &self.group)
            .field("exponent", &"<redacted>")
            .field("exponent_bits", &self.exponent_bits)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Draws a private exponent from `rng` and computes the public value.
    ///
    /// # Errors
    /// [`SmError::ExponentSize`] when `size` is `Bits(n)` with `n` out of range.
    pub fn generate<R: CryptoRng + ?Sized>(
        group: DhGroup,
        size: ExponentSize,
        rng: &mut R,
    ) -> Result<Self, SmError> {
        let len = group.modulus_len();
        let bits = check_size(group, size)?;
        let mut buf = Zeroizing::new(vec![0u8; len]);
        loop {
            match size {
                ExponentSize::Full => rng.fill_bytes(&mut buf),
                ExponentSize::Bits(n) => {
                    let start = len.saturating_sub(bytes_for(n, len));
                    if let Some(tail) = buf.get_mut(start..) {
                        rng.fill_bytes(tail);
                    }
                    mask_to_bits(&mut buf, n);
                }
            }
            // Rejection sampling: for Full the chance of a retry is below 2^-64; for
            // Bits(n) only x < 2 is rejected. Whether a draw was rejected is not secret.
            if bool::from(group.in_open_range(&buf)) {
                break;
            }
        }
        Self::from_exponent_checked(group, Secret::from_slice(&buf), bits)
    }

    /// A key pair from a given private exponent (big-endian, at most `modulus_len`
    /// bytes), for tests and reproducible benchmarks. `size` says how many exponent bits
    /// the exponentiation covers; bits above it are ignored.
    ///
    /// # Errors
    /// [`SmError::ExponentSize`] for a bad `size` or an exponent longer than the modulus,
    /// [`SmError::PublicValueRange`] when the exponent is not in `[2, p-2]`.
    pub fn from_private_exponent(
        group: DhGroup,
        exponent: &[u8],
        size: ExponentSize,
    ) -> Result<Self, SmError> {
        let bits = check_size(group, size)?;
        let Some(mut padded) = left_pad(exponent, group.modulus_len()) else {
            return Err(SmError::ExponentSize {
                group: group.attribute(),
                bits: u32::try_from(exponent.len().saturating_mul(8)).unwrap_or(u32::MAX),
                min: MIN_EXPONENT_BITS,
                max: group.modulus_bits(),
            });
        };
        // Only the low `bits` bits take part: check (and keep) the exponent actually used.
        mask_to_bits(&mut padded, bits);
        if !bool::from(group.in_open_range(&padded)) {
            return Err(SmError::PublicValueRange {
                group: group.attribute(),
            });
        }
        Self::from_exponent_checked(group, Secret::from_slice(&padded), bits)
    }

    fn from_exponent_checked(
        group: DhGroup,
        exponent: Secret,
        exponent_bits: u32,
    ) -> Result<Self, SmError> {
        // No-security mode for fuzzing (see `INSECURE_FUZZING_CRYPTO`): the "public value"
        // is the private exponent itself, already checked to lie in [2, p-2].
        #[cfg(feature = "fuzzing")]
        let public = Secret::from_slice(exponent.expose_secret());
        #[cfg(not(feature = "fuzzing"))]
        let public = group
            .modexp(
                &[super::modp::GENERATOR],
                exponent.expose_secret(),
                exponent_bits,
            )
            .ok_or(SmError::ExponentSize {
                group: group.attribute(),
                bits: exponent_bits,
                min: MIN_EXPONENT_BITS,
                max: group.modulus_bits(),
            })?;
        Ok(Self {
            group,
            exponent,
            exponent_bits,
            public: public.expose_secret().to_vec(),
        })
    }

    /// The group.
    #[must_use]
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// Our public value g^x, exactly `modulus_len` bytes (the KE payload data).
    #[must_use]
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// How many exponent bits the exponentiations cover.
    #[must_use]
    pub fn exponent_bits(&self) -> u32 {
        self.exponent_bits
    }

    /// Validates the peer's public value and computes the shared secret g^xy as
    /// `modulus_len` big-endian bytes, left-padded with zeros as IKEv1 hashes it.
    ///
    /// # Errors
    /// [`SmError::PublicValueLength`] or [`SmError::PublicValueRange`] for a bad peer value.
    pub fn agree(&self, peer_public: &[u8]) -> Result<Secret, SmError> {
        self.group.validate_public_value(peer_public)?;
        // No-security mode for fuzzing: x XOR y is the same on both sides, costs nothing,
        // and protects nothing.
        #[cfg(feature = "fuzzing")]
        let shared = Some(Secret::from_slice(&Zeroizing::new(
            self.exponent
                .expose_secret()
                .iter()
                .zip(peer_public)
                .map(|(a, b)| a ^ b)
                .collect::<Vec<u8>>(),
        )));
        #[cfg(not(feature = "fuzzing"))]
        let shared = self.group.modexp(
            peer_public,
            self.exponent.expose_secret(),
            self.exponent_bits,
        );
        shared.ok_or(SmError::PublicValueLength {
            group: self.group.attribute(),
            expected: self.group.modulus_len(),
            got: peer_public.len(),
        })
    }
}

fn check_size(group: DhGroup, size: ExponentSize) -> Result<u32, SmError> {
    match size {
        ExponentSize::Full => Ok(group.modulus_bits()),
        ExponentSize::Bits(n) if (MIN_EXPONENT_BITS..group.modulus_bits()).contains(&n) => Ok(n),
        ExponentSize::Bits(n) => Err(SmError::ExponentSize {
            group: group.attribute(),
            bits: n,
            min: MIN_EXPONENT_BITS,
            max: group.modulus_bits().saturating_sub(1),
        }),
    }
}

/// How many low-order bytes hold `bits` bits (at most `len`).
fn bytes_for(bits: u32, len: usize) -> usize {
    usize::try_from(bits.div_ceil(8)).unwrap_or(len).min(len)
}

/// Clears every bit of the big-endian `buf` above the low `bits` bits.
fn mask_to_bits(buf: &mut [u8], bits: u32) {
    let len = buf.len();
    let keep = bytes_for(bits, len);
    let start = len.saturating_sub(keep);
    if let Some(high) = buf.get_mut(..start) {
        high.fill(0);
    }
    let keep_bits = u32::try_from(keep).unwrap_or(u32::MAX).saturating_mul(8);
    let excess = keep_bits.saturating_sub(bits);
    if let Some(top) = buf.get_mut(start) {
        *top &= 0xffu8.checked_shr(excess).unwrap_or(0);
    }
}

/// Left-pads `v` with zeros to `len` bytes; `None` if it is longer.
fn left_pad(v: &[u8], len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let start = len.checked_sub(v.len())?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    out.get_mut(start..)?.copy_from_slice(v);
    Some(out)
}

/// Constant-time `a < b` for big-endian byte strings of equal length.
fn ct_lt_be(a: &[u8], b: &[u8]) -> Choice {
    // a < b exactly when a - b borrows: subtract 64-bit words from the least significant
    // end, carrying the borrow without branches (callers pass equal lengths). Word-wise,
    // this is ~20x cheaper than `subtle`'s byte-by-byte comparison.
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().rev().zip(c.iter().rev()) {
            *d = *s;
        }
        u64::from_be_bytes(w)
    };
    let mut borrow = false;
    for (x, y) in a.rchunks(8).zip(b.rchunks(8)) {
        let (d, b1) = word(x).overflowing_sub(word(y));
        let (_, b2) = d.overflowing_sub(u64::from(borrow));
        borrow = b1 | b2;
    }
    Choice::from(u8::from(borrow))
}

/// `base^exp mod p` over the low `bits` bits of `exp` (`2^exp` when `two`); inputs are
/// exactly the modulus width (callers pad), so `None` does not happen.
fn pow_be<const N: usize>(
    m: &Modulus<N>,
    base: &[u8],
    exp: &[u8],
    bits: u32,
    two: bool,
) -> Option<Secret> {
    let e = Zeroizing::new(limbs_from_be::<N>(exp)?);
    let r = if two {
        m.pow2(&e, bits)
    } else {
        let b = Zeroizing::new(limbs_from_be::<N>(base)?);
        m.pow(&b, &e, bits)
    };
    let mut out = Zeroizing::new(vec![0u8; N.checked_mul(8)?]);
    limbs_to_be(&r, &mut out);
    Some(Secret::from_slice(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        for g in ALL_GROUPS {
            assert_eq!(DhGroup::from_attribute(g.attribute()), Ok(g));
            assert_eq!(g.prime_be().len(), g.modulus_len());
            assert_eq!(g.modulus_len() * 8, g.modulus_bits() as usize);
            assert_eq!(hex::encode_upper(g.prime_be()), g.prime_hex());
        }
        assert_eq!(
            DhGroup::from_attribute(15),
            Err(SmError::UnsupportedGroup(15))
        );
    }

    #[test]
    fn word_wise_less_than_matches_byte_order() {
        // Equal-length big-endian strings, including lengths that are not whole words,
        // values that differ only in the last byte, only in the first, and equal values.
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in [1usize, 7, 8, 9, 16, 96, 128, 131] {
            for _ in 0..200 {
                let a: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let mut b = a.clone();
                match next() % 4 {
                    0 => {}
                    1 => b[len - 1] = next() as u8,
                    2 => b[0] = next() as u8,
                    _ => b = (0..len).map(|_| next() as u8).collect(),
                }
                assert_eq!(bool::from(ct_lt_be(&a, &b)), a < b, "{a:?} {b:?}");
                assert_eq!(bool::from(ct_lt_be(&b, &a)), b < a, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn public_value_range() {
        for g in ALL_GROUPS {
            let len = g.modulus_len();
            let mut v = vec![0u8; len];
            assert!(g.validate_public_value(&v).is_err(), "0");
            v[len - 1] = 1;
            assert_eq!(
                g.validate_public_value(&v),
                Err(SmError::PublicValueRange {
                    group: g.attribute()
                })
            );
            v[len - 1] = 2;
            assert_eq!(g.validate_public_value(&v), Ok(()));
            let mut p = g.prime_be();
            assert!(g.validate_public_value(&p).is_err(), "p");
            p[len - 1] -= 1;
            assert!(g.validate_public_value(&p).is_err(), "p-1");
            p[len - 1] -= 1;
            assert_eq!(g.validate_public_value(&p), Ok(()), "p-2");
            assert!(g.validate_public_value(&[0xff; 1000]).is_err());
            assert_eq!(
                g.validate_public_value(&v[1..]),
                Err(SmError::PublicValueLength {
                    group: g.attribute(),
                    expected: len,
                    got: len - 1
                })
            );
            assert!(g.validate_public_value(&[]).is_err());
        }
    }

    #[test]
    fn exponent_sizes() {
        let g = DhGroup::Modp1024;
        assert!(check_size(g, ExponentSize::Bits(159)).is_err());
        assert!(check_size(g, ExponentSize::Bits(1024)).is_err());
        assert_eq!(check_size(g, ExponentSize::Bits(1023)), Ok(1023));
        assert_eq!(check_size(g, ExponentSize::Full), Ok(1024));
        assert!(KeyPair::from_private_exponent(g, &[1], ExponentSize::Full).is_err());
        assert!(KeyPair::from_private_exponent(g, &[0; 129], ExponentSize::Full).is_err());
    }

    #[test]
    fn masking() {
        let mut b = [0xffu8; 4];
        mask_to_bits(&mut b, 12);
        assert_eq!(b, [0, 0, 0x0f, 0xff]);
        let mut b = [0xffu8; 4];
        mask_to_bits(&mut b, 32);
        assert_eq!(b, [0xff; 4]);
        let mut b = [0xffu8; 4];
        mask_to_bits(&mut b, 40);
        assert_eq!(b, [0xff; 4]);
        // An exponent whose low 256 bits are 0 is refused in Bits(256) mode.
        let mut x = vec![0u8; 128];
        x[0] = 0x80;
        assert_eq!(
            KeyPair::from_private_exponent(DhGroup::Modp1024, &x, ExponentSize::Bits(256)).err(),
            Some(SmError::PublicValueRange { group: 2 })
        );
    }

    #[test]
    fn small_known_answers() {
        // 2^10 = 1024 in every group; 2^(p-1) = 1 (Fermat).
        for g in ALL_GROUPS {
            let r = g.modexp(&[2], &[10], 8).unwrap();
            let mut want = vec![0u8; g.modulus_len()];
            want[g.modulus_len() - 2] = 4;
            assert_eq!(r.expose_secret(), &want[..]);
            let mut pm1 = g.prime_be();
            *pm1.last_mut().unwrap() -= 1;
            let r = g.modexp(&[2], &pm1, g.modulus_bits()).unwrap();
            let mut one = vec![0u8; g.modulus_len()];
            *one.last_mut().unwrap() = 1;
            assert_eq!(r.expose_secret(), &one[..]);
            // bits above the bound are ignored
            let r = g.modexp(&[2], &[0xff, 10], 8).unwrap();
            assert_eq!(r.expose_secret()[g.modulus_len() - 2], 4);
            assert!(g.modexp(&[2], &[1], g.modulus_bits() + 1).is_none());
        }
    }
}
