//! Data attributes (RFC 2408 3.3) in TV ("basic") and TLV ("variable") form.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |A|       Attribute Type        |    AF=0  Attribute Length     |
//! |F|                             |    AF=1  Attribute Value      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! .                   AF=0  Attribute Value                       .
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The same encoding carries phase-1 (RFC 2409 App. A), IPsec DOI (RFC 2407 4.5),
//! Mode Config, Xauth and Cisco Unity attributes; the type number space depends on
//! the enclosing payload. Attributes are kept in wire order, and the form (TV or TLV)
//! survives a round trip, so bytes -> model -> bytes is the identity.

use bytes::BufMut;

use crate::error::{Location, WireError};

pub mod config;
pub mod ipsec;
pub mod phase1;

/// Which number space an attribute list uses (it depends on where it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrSpace {
    /// A phase-1 transform (protocol ISAKMP): RFC 2409 App. A.
    Phase1,
    /// An IPsec transform (ESP, AH, IPCOMP): RFC 2407 4.5.
    Ipsec,
    /// The Mode Config / Xauth attribute payload.
    Config,
}

impl AttrSpace {
    /// The space of a transform's attributes for a proposal's protocol.
    pub fn for_protocol(protocol: crate::doi::ProtocolId) -> Self {
        if protocol == crate::doi::ProtocolId::Isakmp {
            AttrSpace::Phase1
        } else {
            AttrSpace::Ipsec
        }
    }

    /// The attribute type's name in this space.
    pub fn type_name(self, kind: u16) -> &'static str {
        match self {
            AttrSpace::Phase1 => phase1::Phase1AttrType::from(kind).name(),
            AttrSpace::Ipsec => ipsec::IpsecAttrType::from(kind).name(),
            AttrSpace::Config => config::ConfigAttrType::from(kind).name(),
        }
    }

    /// The name of an attribute's value, when its class has a registry
    /// (e.g. `Encryption-Algorithm = 7` gives `AES-CBC`).
    pub fn value_name(self, attr: &Attribute<'_>) -> Option<&'static str> {
        let v = attr.as_u64()?;
        match self {
            AttrSpace::Phase1 => phase1::value_name(attr.kind, v),
            AttrSpace::Ipsec => ipsec::value_name(attr.kind, v),
            AttrSpace::Config => config::value_name(attr.kind, v),
        }
    }
}

/// The "Attribute Format" bit: set for TV (basic) attributes.
pub const AF_BIT: u16 = 0x8000;

/// Default cap on the number of attributes in one list.
pub const MAX_ATTRIBUTES: usize = 256;

/// The value of a data attribute, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrValue<'a> {
    /// TV form (AF=1): a 16-bit value.
    Basic(u16),
    /// TLV form (AF=0): a value of any length up to 65535 bytes.
    Variable(&'a [u8]),
}

/// One data attribute, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attribute<'a> {
    /// The 15-bit attribute type (the AF bit is not part of it).
    pub kind: u16,
    /// The value, in the form it had on the wire.
    pub value: AttrValue<'a>,
}

impl<'a> Attribute<'a> {
    /// A TV attribute. `kind` is masked to 15 bits.
    #[inline]
    pub fn basic(kind: u16, value: u16) -> Self {
        Attribute {
            kind: kind & !AF_BIT,
            value: AttrValue::Basic(value),
        }
    }

    /// A TLV attribute. `kind` is masked to 15 bits.
    #[inline]
    pub fn variable(kind: u16, value: &'a [u8]) -> Self {
        Attribute {
            kind: kind & !AF_BIT,
            value: AttrValue::Variable(value),
        }
    }

    /// Parses one attribute from the front of `input`, returning it and the rest.
    ///
    /// `offset` is the position of `input` in the whole message, for error locations.
    #[inline]
    pub fn parse(input: &'a [u8], offset: usize) -> Result<(Self, &'a [u8]), WireError> {
        let Some((&[w0, w1, s0, s1], rest)) = input.split_first_chunk::<4>() else {
            return Err(WireError::Truncated {
                what: "data attribute header",
                at: Location {
                    offset,
                    payload: None,
                },
                needed: 4,
                available: input.len(),
            });
        };
        let word = u16::from_be_bytes([w0, w1]);
        let second = u16::from_be_bytes([s0, s1]);
        let kind = word & !AF_BIT;
        if word & AF_BIT != 0 {
            return Ok((
                Attribute {
                    kind,
                    value: AttrValue::Basic(second),
                },
                rest,
            ));
        }
        let len = usize::from(second);
        let (value, rest) = split(rest, len).ok_or_else(|| WireError::Truncated {
            what: "data attribute value",
            at: Location {
                offset: offset.saturating_add(4),
                payload: None,
            },
            needed: len,
            available: rest.len(),
        })?;
        Ok((
            Attribute {
                kind,
                value: AttrValue::Variable(value),
            },
            rest,
        ))
    }

    /// Bytes this attribute takes on the wire.
    #[inline]
    pub fn wire_len(&self) -> usize {
        match self.value {
            AttrValue::Basic(_) => 4,
            AttrValue::Variable(v) => 4usize.saturating_add(v.len()),
        }
    }

    /// Writes the attribute. A TLV value longer than 65535 bytes cannot be encoded.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        let kind = self.kind & !AF_BIT;
        match self.value {
            AttrValue::Basic(v) => {
                buf.put_u16(kind | AF_BIT);
                buf.put_u16(v);
            }
            AttrValue::Variable(v) => {
                let len = u16::try_from(v.len()).map_err(|_| WireError::BadLength {
                    what: "data attribute value",
                    at: Location {
                        offset: 0,
                        payload: None,
                    },
                    length: v.len(),
                    reason: "a TLV attribute value is at most 65535 bytes",
                })?;
                buf.put_u16(kind);
                buf.put_u16(len);
                buf.put_slice(v);
            }
        }
        Ok(())
    }

    /// The value as an unsigned integer: a TV value, or a TLV value of 1 to 8 bytes
    /// read big-endian (RFC 2409 allows variable-length life durations).
    #[inline]
    pub fn as_u64(&self) -> Option<u64> {
        match self.value {
            AttrValue::Basic(v) => Some(u64::from(v)),
            AttrValue::Variable(v) => be_u64(v),
        }
    }

    /// The raw bytes of a TLV value (`None` for TV).
    #[inline]
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            AttrValue::Basic(_) => None,
            AttrValue::Variable(v) => Some(v),
        }
    }

    /// An owned copy.
    #[inline]
    pub fn to_owned_attr(&self) -> OwnedAttribute {
        OwnedAttribute {
            kind: self.kind,
            value: match self.value {
                AttrValue::Basic(v) => OwnedAttrValue::Basic(v),
                AttrValue::Variable(v) => OwnedAttrValue::Variable(v.to_vec()),
            },
        }
    }
}

/// An owned attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedAttrValue {
    /// TV form.
    Basic(u16),
    /// TLV form.
    Variable(Vec<u8>),
}

/// An owned data attribute, for building messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedAttribute {
    /// The 15-bit attribute type.
    pub kind: u16,
    /// The value.
    pub value: OwnedAttrValue,
}

impl OwnedAttribute {
    /// A TV attribute.
    #[inline]
    pub fn basic(kind: u16, value: u16) -> Self {
        OwnedAttribute {
            kind: kind & !AF_BIT,
            value: OwnedAttrValue::Basic(value),
        }
    }

    /// A TLV attribute.
    #[inline]
    pub fn variable(kind: u16, value: impl Into<Vec<u8>>) -> Self {
        OwnedAttribute {
            kind: kind & !AF_BIT,
            value: OwnedAttrValue::Variable(value.into()),
        }
    }

    /// An integer attribute in the shortest form that holds it: TV when it fits in
    /// 16 bits, else TLV of 4 or 8 bytes (as peers encode life durations).
    pub fn integer(kind: u16, value: u64) -> Self {
        if let Ok(v) = u16::try_from(value) {
            Self::basic(kind, v)
        } else if let Ok(v) = u32::try_from(value) {
            Self::variable(kind, v.to_be_bytes().to_vec())
        } else {
            Self::variable(kind, value.to_be_bytes().to_vec())
        }
    }

    /// A borrowed view.
    #[inline]
    pub fn as_attr(&self) -> Attribute<'_> {
        Attribute {
            kind: self.kind,
            value: match &self.value {
                OwnedAttrValue::Basic(v) => AttrValue::Basic(*v),
                OwnedAttrValue::Variable(v) => AttrValue::Variable(v),
            },
        }
    }

    /// Bytes on the wire.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_attr().wire_len()
    }

    /// Writes the attribute.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        self.as_attr().emit(buf)
    }
}

/// A TLV value of 1 to 8 bytes read big-endian (see [`Attribute::as_u64`]).
#[inline(always)]
fn be_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Iterates over a packed list of attributes, borrowing from the input.
///
/// Yields at most `limit` attributes, then one [`WireError::TooMany`]; stops after
/// the first error.
#[derive(Debug, Clone)]
pub struct AttributeIter<'a> {
    rest: &'a [u8],
    offset: usize,
    count: usize,
    limit: usize,
    failed: bool,
}

impl<'a> AttributeIter<'a> {
    /// Walks `input` (which starts at `offset` in the message), with the default cap.
    #[inline]
    pub fn new(input: &'a [u8], offset: usize) -> Self {
        Self::with_limit(input, offset, MAX_ATTRIBUTES)
    }

    /// Walks `input` with a cap of `limit` attributes.
    #[inline]
    pub fn with_limit(input: &'a [u8], offset: usize, limit: usize) -> Self {
        AttributeIter {
            rest: input,
            offset,
            count: 0,
            limit,
            failed: false,
        }
    }
}

impl AttributeIter<'_> {
    /// Folds `f` over what the iterator has left to yield, each attribute given as
    /// its type and its value read as by [`Attribute::as_u64`], when every one is
    /// well formed and within the cap. `None` when the iterator would yield an
    /// error: the caller replays the walk to report it.
    #[inline(always)]
    pub(crate) fn fold_well_formed<S>(
        &self,
        init: S,
        mut f: impl FnMut(&mut S, u16, Option<u64>),
    ) -> Option<S> {
        let mut state = init;
        if self.failed {
            return Some(state);
        }
        let mut rest = self.rest;
        let mut count = self.count;
        while let Some((&[w0, w1, s0, s1], tail)) = rest.split_first_chunk::<4>() {
            if count >= self.limit {
                return None;
            }
            let kind = u16::from_be_bytes([w0 & 0x7f, w1]);
            let second = u16::from_be_bytes([s0, s1]);
            let value = if w0 & 0x80 != 0 {
                rest = tail;
                Some(u64::from(second))
            } else {
                let (v, r) = tail.split_at_checked(usize::from(second))?;
                rest = r;
                be_u64(v)
            };
            count = count.saturating_add(1);
            f(&mut state, kind, value);
        }
        rest.is_empty().then_some(state)
    }
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = Result<Attribute<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if self.count < self.limit {
            // Fast path: a complete TV attribute, or a TLV whose value fits.
            if let Some((&[w0, w1, s0, s1], rest)) = self.rest.split_first_chunk::<4>() {
                let kind = u16::from_be_bytes([w0 & 0x7f, w1]);
                let second = u16::from_be_bytes([s0, s1]);
                let (value, rest, len) = if w0 & 0x80 != 0 {
                    (AttrValue::Basic(second), rest, 4usize)
                } else {
                    let n = usize::from(second);
                    match (rest.get(..n), rest.get(n..)) {
                        (Some(v), Some(r)) => (AttrValue::Variable(v), r, n.saturating_add(4)),
                        _ => return self.slow_next(),
                    }
                };
                self.rest = rest;
                self.offset = self.offset.saturating_add(len);
                self.count = self.count.saturating_add(1);
                return Some(Ok(Attribute { kind, value }));
            }
        }
        self.slow_next()
    }
}

impl<'a> AttributeIter<'a> {
    /// The error paths (cap reached, truncation), out of the hot loop.
    #[cold]
    fn slow_next(&mut self) -> Option<Result<Attribute<'a>, WireError>> {
        if self.count >= self.limit {
            self.failed = true;
            return Some(Err(WireError::TooMany {
                what: "data attributes",
                at: Location {
                    offset: self.offset,
                    payload: None,
                },
                limit: self.limit,
            }));
        }
        match Attribute::parse(self.rest, self.offset) {
            Ok((attr, rest)) => {
                self.offset = self.offset.saturating_add(attr.wire_len());
                self.rest = rest;
                self.count = self.count.saturating_add(1);
                Some(Ok(attr))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Checks that `input` is a well-formed list of at most `limit` attributes,
/// without building them (the hot path of a validating parse). Returns the count.
///
/// Any error is the same one [`AttributeIter`] would report first.
#[inline]
pub fn validate_attributes(input: &[u8], offset: usize, limit: usize) -> Result<usize, WireError> {
    let (count, rest) = skim_attributes(input, limit);
    if rest.is_empty() {
        return Ok(count);
    }
    // Slow path: let the iterator locate and describe the error.
    for a in AttributeIter::with_limit(input, offset, limit) {
        a?;
    }
    Ok(count)
}

/// Walks the attribute headers of `rest` without building anything: how many whole
/// attributes its front holds (at most `limit`), and what is left after them. The
/// list is well formed, within the limit, exactly when nothing is left.
#[inline(always)]
fn skim_attributes(mut rest: &[u8], limit: usize) -> (usize, &[u8]) {
    let mut count = 0usize;
    while let Some((&[w0, _, l0, l1], tail)) = rest.split_first_chunk::<4>() {
        if count >= limit {
            break;
        }
        let skip = if w0 & 0x80 != 0 {
            0
        } else {
            usize::from(u16::from_be_bytes([l0, l1]))
        };
        match tail.get(skip..) {
            Some(r) => rest = r,
            None => break,
        }
        count = count.saturating_add(1);
    }
    (count, rest)
}

/// Whether `input` is a well-formed list of at most `limit` attributes (exactly
/// when [`validate_attributes`] would succeed), with no error built.
#[inline(always)]
pub(crate) fn attributes_ok(rest: &[u8], limit: usize) -> bool {
    skim_attributes(rest, limit).1.is_empty()
}

/// How many attributes the front of `input` holds, at most `limit` (a capacity
/// hint: it stops, without an error, where a walk would fail).
#[inline]
pub(crate) fn count_attributes(rest: &[u8], limit: usize) -> usize {
    skim_attributes(rest, limit).0
}

/// Parses a whole attribute list into owned attributes (bounded by [`MAX_ATTRIBUTES`]).
pub fn parse_attributes_owned(
    input: &[u8],
    offset: usize,
) -> Result<Vec<OwnedAttribute>, WireError> {
    // Counted first, so the list is allocated once at its final size.
    collect_owned(
        AttributeIter::new(input, offset),
        count_attributes(input, MAX_ATTRIBUTES),
    )
}

/// Owned copies of what `attrs` yields, in a vector sized for `n` of them.
pub(crate) fn collect_owned(
    attrs: AttributeIter<'_>,
    n: usize,
) -> Result<Vec<OwnedAttribute>, WireError> {
    let mut out = Vec::with_capacity(n);
    for a in attrs {
        out.push(a?.to_owned_attr());
    }
    Ok(out)
}

/// Total wire length of a list of owned attributes.
#[inline]
pub fn attributes_wire_len(attrs: &[OwnedAttribute]) -> usize {
    attrs
        .iter()
        .fold(0usize, |n, a| n.saturating_add(a.wire_len()))
}

fn split(input: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    if input.len() >= n {
        Some(input.split_at(n))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tv_and_tlv_round_trip() {
        // Encryption DES (TV), life duration 86400 as 4-byte TLV.
        let bytes = [
            0x80, 0x01, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x01, 0x51, 0x80,
        ];
        let attrs: Vec<_> = AttributeIter::new(&bytes, 0)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            attrs,
            vec![
                Attribute::basic(1, 1),
                Attribute::variable(12, &[0, 1, 0x51, 0x80])
            ]
        );
        assert_eq!(attrs[1].as_u64(), Some(86400));
        let mut out = Vec::new();
        for a in &attrs {
            a.emit(&mut out).unwrap();
        }
        assert_eq!(out, bytes);
        assert_eq!(
            attrs.iter().map(Attribute::wire_len).sum::<usize>(),
            bytes.len()
        );
    }

    #[test]
    fn truncation_at_every_prefix_is_an_error() {
        let bytes = [0x00, 0x0c, 0x00, 0x04, 0x00, 0x01, 0x51, 0x80];
        for n in 1..bytes.len() {
            let r: Result<Vec<_>, _> = AttributeIter::new(&bytes[..n], 10).collect();
            assert!(matches!(r, Err(WireError::Truncated { .. })), "prefix {n}");
        }
    }

    #[test]
    fn cap_is_enforced() {
        let bytes = [0x80, 0x01, 0x00, 0x01].repeat(5);
        let r: Result<Vec<_>, _> = AttributeIter::with_limit(&bytes, 0, 4).collect();
        assert!(matches!(r, Err(WireError::TooMany { limit: 4, .. })));
    }

    #[test]
    fn integer_picks_shortest_form() {
        assert_eq!(
            OwnedAttribute::integer(12, 3600).value,
            OwnedAttrValue::Basic(3600)
        );
        assert_eq!(
            OwnedAttribute::integer(12, 86400).value,
            OwnedAttrValue::Variable(vec![0, 1, 0x51, 0x80])
        );
        assert_eq!(
            OwnedAttribute::integer(12, 1 << 40).as_attr().as_u64(),
            Some(1 << 40)
        );
    }

    /// Random attribute lists for checking a fast path against its reference walk:
    /// mostly well formed, small types and values, with cut-offs and odd widths.
    #[allow(clippy::arithmetic_side_effects)]
    pub(crate) fn random_attribute_lists(rounds: usize, mut check: impl FnMut(&[u8], usize)) {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..rounds {
            let mut bytes = Vec::new();
            let n = rnd() % 9;
            for _ in 0..n {
                let kind = if rnd() % 8 == 0 {
                    (rnd() & 0x7fff) as u16
                } else {
                    (rnd() % 17) as u16
                };
                if rnd() % 3 != 0 {
                    let v = match rnd() % 4 {
                        0 => (rnd() % 3) as u16,
                        1 => (rnd() % 20) as u16,
                        2 => 65000 + (rnd() % 12) as u16,
                        _ => rnd() as u16,
                    };
                    bytes.extend_from_slice(&(kind | AF_BIT).to_be_bytes());
                    bytes.extend_from_slice(&v.to_be_bytes());
                } else {
                    let len = (rnd() % 11) as usize;
                    bytes.extend_from_slice(&kind.to_be_bytes());
                    bytes.extend_from_slice(&(len as u16).to_be_bytes());
                    for i in 0..len {
                        bytes.push(if i + 2 < len { 0 } else { rnd() as u8 });
                    }
                }
            }
            if rnd() % 5 == 0 && !bytes.is_empty() {
                let cut = (rnd() as usize) % bytes.len();
                bytes.truncate(cut);
            }
            if rnd() % 7 == 0 {
                if let Some(b) = bytes.get_mut(3) {
                    *b = rnd() as u8;
                }
            }
            let limit = (rnd() % 10) as usize;
            check(&bytes, limit);
        }
    }

    /// Checks a transform's byte-level fast path against its typed reference walk on
    /// [`random_attribute_lists`]: the same result, errors included, from a fresh
    /// iterator and from one already partly walked; and enough lists that type to
    /// something for the check to mean anything.
    pub(crate) fn fast_path_agrees<T: PartialEq + Default + core::fmt::Debug>(
        fast: impl Fn(AttributeIter<'_>) -> Result<T, WireError>,
        typed: impl Fn(AttributeIter<'_>) -> Result<T, WireError>,
    ) {
        let mut ok = 0usize;
        random_attribute_lists(200_000, |bytes, limit| {
            let fresh = AttributeIter::with_limit(bytes, 40, limit);
            let got = fast(fresh.clone());
            assert_eq!(got, typed(fresh.clone()), "{bytes:02x?} limit {limit}");
            ok = ok.saturating_add(usize::from(got.is_ok_and(|t| t != T::default())));
            let mut walked = fresh;
            let _ = walked.next();
            assert_eq!(
                fast(walked.clone()),
                typed(walked),
                "{bytes:02x?} limit {limit}, after one"
            );
        });
        assert!(ok > 10_000, "{ok}");
    }
}
