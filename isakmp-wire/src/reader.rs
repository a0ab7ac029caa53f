//! A cursor over borrowed bytes, turning short reads into located
//! [`WireError::Truncated`] values.

use crate::error::{Location, WireError};

/// Reads fields from the front of a slice, tracking the absolute offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    offset: usize,
    payload: Option<u8>,
}

impl<'a> Reader<'a> {
    /// A reader over `input`, which starts at `offset` in the message.
    #[inline]
    pub(crate) fn new(input: &'a [u8], offset: usize, payload: Option<u8>) -> Self {
        Reader {
            input,
            offset,
            payload,
        }
    }

    /// Where the next byte is, for error locations.
    #[inline]
    pub(crate) fn location(&self) -> Location {
        Location {
            offset: self.offset,
            payload: self.payload,
        }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, what: &'static str, needed: usize) -> WireError {
        WireError::Truncated {
            what,
            at: self.location(),
            needed,
            available: self.input.len(),
        }
    }

    #[inline]
    fn advance(&mut self, rest: &'a [u8]) {
        let used = self.input.len().saturating_sub(rest.len());
        self.offset = self.offset.saturating_add(used);
        self.input = rest;
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        match self.input.split_first() {
            Some((&v, rest)) => {
                self.advance(rest);
                Ok(v)
            }
            None => Err(self.truncated(what, 1)),
        }
    }

    #[inline]
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        match self.input.split_first_chunk::<2>() {
            Some((v, rest)) => {
                self.advance(rest);
                Ok(u16::from_be_bytes(*v))
            }
            None => Err(self.truncated(what, 2)),
        }
    }

    #[inline]
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        match self.input.split_first_chunk::<4>() {
            Some((v, rest)) => {
                self.advance(rest);
                Ok(u32::from_be_bytes(*v))
            }
            None => Err(self.truncated(what, 4)),
        }
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        match self.input.split_at_checked(n) {
            Some((v, rest)) => {
                self.advance(rest);
                Ok(v)
            }
            None => Err(self.truncated(what, n)),
        }
    }

    #[inline]
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], WireError> {
        let s = self.take(N, what)?;
        s.try_into().map_err(|_| self.truncated(what, N))
    }

    /// Takes everything left.
    #[inline]
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let all = self.input;
        self.advance(&[]);
        all
    }
}
