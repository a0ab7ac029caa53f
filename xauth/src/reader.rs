//! A bounds-checked cursor over untrusted bytes: every read says what it was
//! reading and at which offset when the input ends early.

use crate::error::XauthError;

#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8], offset: usize) -> Self {
        Reader {
            rest: input,
            offset,
        }
    }

    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], XauthError> {
        if self.rest.len() < n {
            return Err(XauthError::Truncated {
                what,
                offset: self.offset,
                needed: n,
                available: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        self.offset = self.offset.saturating_add(n);
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], XauthError> {
        let b = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, XauthError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, XauthError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, XauthError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
}

/// Converts a caller-given length to a wire field, or says it is too long.
pub(crate) fn len_u8(what: &'static str, len: usize) -> Result<u8, XauthError> {
    u8::try_from(len).map_err(|_| XauthError::TooLong {
        what,
        length: len,
        max: 255,
    })
}

/// Converts a caller-given length to a 16-bit wire field.
pub(crate) fn len_u16(what: &'static str, len: usize) -> Result<u16, XauthError> {
    u16::try_from(len).map_err(|_| XauthError::TooLong {
        what,
        length: len,
        max: 65535,
    })
}
