//! Reassembly of TACACS+ packets from the TCP byte stream.

use super::packet::{Header, HEADER_LEN};
use crate::error::XauthError;

/// Reassembles packets from a TCP byte stream (bounded by [`MAX_BODY_LEN`](super::MAX_BODY_LEN)).
#[derive(Debug, Default, Clone)]
pub struct StreamBuffer {
    buf: Vec<u8>,
}

impl StreamBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete packet (header and body), if one has arrived.
    ///
    /// An impossible header (wrong version, over-long body) is an error: the
    /// connection should be closed.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, XauthError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = Header::parse(&self.buf)?.body_len()?;
        let total = HEADER_LEN.saturating_add(len);
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tacacs::packet::{seal, PacketType};
    use crate::Secret;

    fn key() -> Secret {
        Secret::from("secretkey")
    }

    #[test]
    fn stream_buffer_reassembles_split_packets() {
        let h = Header {
            version: 0xc0,
            kind: PacketType::Authentication,
            seq_no: 2,
            flags: 0,
            session_id: 9,
            length: 0,
        };
        let a = seal(h, b"one", &key()).unwrap();
        let b = seal(h, b"second", &key()).unwrap();
        let all = [a.clone(), b.clone()].concat();
        let mut s = StreamBuffer::new();
        for chunk in all.chunks(5) {
            s.feed(chunk);
        }
        assert_eq!(s.next_packet().unwrap(), Some(a));
        assert_eq!(s.next_packet().unwrap(), Some(b));
        assert_eq!(s.next_packet().unwrap(), None);
        assert!(s.is_empty());
        let mut bad = StreamBuffer::new();
        bad.feed(&[0xc0, 1, 2, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            bad.next_packet(),
            Err(XauthError::BadLength { .. })
        ));
        let mut bad = StreamBuffer::new();
        bad.feed(b"GET / HTTP/1.0\r\n");
        assert!(matches!(
            bad.next_packet(),
            Err(XauthError::BadValue { .. })
        ));
    }
}
