//! A bounded cursor over untrusted bytes: every read either returns the bytes or a
//! [`ReadError`] saying what was being read, at which offset, and how short the input
//! was. No read panics, allocates or loops.

use core::fmt;

/// A read ran past the end of the input.
///
/// The crates that parse with a [`Reader`] map this into their own error type (adding,
/// say, the payload being parsed); its fields are public for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadError {
    /// What was being read (a field name such as `"attribute length"`).
    pub what: &'static str,
    /// Absolute offset of the read in the message.
    pub offset: usize,
    /// Bytes the read needed.
    pub needed: usize,
    /// Bytes that were left.
    pub available: usize,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "truncated {} at offset {}: needed {} bytes, {} available",
            self.what, self.offset, self.needed, self.available
        )
    }
}

impl std::error::Error for ReadError {}

/// Reads big-endian fields from the front of a borrowed slice, tracking the absolute
/// offset of the next byte (so that errors and callers can say where they are).
///
/// Cheap to copy: a parser that needs to look ahead copies the reader and drops the copy.
///
/// ```
/// use pix_primitives::Reader;
///
/// let mut r = Reader::new(&[0x01, 0x02, 0x03], 28);
/// assert_eq!(r.u16("length")?, 0x0102);
/// assert_eq!(r.offset(), 30);
/// let err = r.u16("type").unwrap_err();
/// assert_eq!((err.what, err.offset, err.needed, err.available), ("type", 30, 2, 1));
/// # Ok::<(), pix_primitives::ReadError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `input`, whose first byte is at `offset` in the message.
    #[inline]
    #[must_use]
    pub fn new(input: &'a [u8], offset: usize) -> Self {
        Reader {
            rest: input,
            offset,
        }
    }

    /// Absolute offset of the next byte.
    #[inline]
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The bytes not read yet (the reader does not move).
    #[inline]
    #[must_use]
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// How many bytes are left.
    #[inline]
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether everything has been read.
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The error for a read of `needed` bytes of `what` here.
    #[cold]
    #[inline(never)]
    #[must_use]
    pub fn truncated(&self, what: &'static str, needed: usize) -> ReadError {
        ReadError {
            what,
            offset: self.offset,
            needed,
            available: self.rest.len(),
        }
    }

    #[inline]
    fn advance(&mut self, rest: &'a [u8]) {
        let used = self.rest.len().saturating_sub(rest.len());
        self.offset = self.offset.saturating_add(used);
        self.rest = rest;
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, ReadError> {
        match self.rest.split_first() {
            Some((&v, rest)) => {
                self.advance(rest);
                Ok(v)
            }
            None => Err(self.truncated(what, 1)),
        }
    }

    /// Reads a big-endian `u16`.
    #[inline]
    pub fn u16(&mut self, what: &'static str) -> Result<u16, ReadError> {
        self.array::<2>(what).map(u16::from_be_bytes)
    }

    /// Reads a big-endian `u32`.
    #[inline]
    pub fn u32(&mut self, what: &'static str) -> Result<u32, ReadError> {
        self.array::<4>(what).map(u32::from_be_bytes)
    }

    /// Reads `N` bytes into an array.
    #[inline]
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ReadError> {
        match self.rest.split_first_chunk::<N>() {
            Some((v, rest)) => {
                self.advance(rest);
                Ok(*v)
            }
            None => Err(self.truncated(what, N)),
        }
    }

    /// Borrows the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ReadError> {
        match self.rest.split_at_checked(n) {
            Some((v, rest)) => {
                self.advance(rest);
                Ok(v)
            }
            None => Err(self.truncated(what, n)),
        }
    }

    /// Skips the next `n` bytes (reserved fields, padding).
    #[inline]
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), ReadError> {
        self.take(n, what).map(|_| ())
    }

    /// Borrows everything left; the reader is then empty.
    #[inline]
    pub fn take_rest(&mut self) -> &'a [u8] {
        let all = self.rest;
        self.advance(&[]);
        all
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_fields_and_tracks_the_offset() {
        let bytes = [1, 0, 2, 0, 0, 0, 3, 4, 5, 6, 7];
        let mut r = Reader::new(&bytes, 100);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.offset(), 103);
        assert_eq!(r.u32("c").unwrap(), 3);
        assert_eq!(r.array::<2>("d").unwrap(), [4, 5]);
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.rest(), &[6, 7]);
        r.skip(1, "pad").unwrap();
        assert_eq!(r.take_rest(), &[7]);
        assert!(r.is_empty());
        assert_eq!(r.offset(), 111);
        assert_eq!(r.take_rest(), &[] as &[u8]);
    }

    #[test]
    fn short_reads_say_what_and_where_and_do_not_move() {
        let mut r = Reader::new(&[9, 9, 9], 40);
        r.u8("first").unwrap();
        let e = r.u32("spi").unwrap_err();
        assert_eq!(
            e,
            ReadError {
                what: "spi",
                offset: 41,
                needed: 4,
                available: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "truncated spi at offset 41: needed 4 bytes, 2 available"
        );
        assert_eq!(r.offset(), 41);
        assert_eq!(r.take(3, "body").unwrap_err().needed, 3);
        assert_eq!(r.take(2, "body").unwrap(), &[9, 9]);
        assert_eq!(r.u8("end").unwrap_err().available, 0);
    }
}
