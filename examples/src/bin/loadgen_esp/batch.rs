//! Batched datagram IO for the ESP load: `sendmmsg` and `recvmmsg` over `BATCH` buffers
//! that are allocated once and reused, so that neither the load generator nor the inside
//! counterpart pays a system call (or an allocation) per packet.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrIn};

/// Packets per system call at most.
pub const BATCH: usize = 64;

/// `BATCH` buffers, the lengths of the datagrams in them and, after a receive, where
/// each came from.
pub struct Batch {
    bufs: Vec<Vec<u8>>,
    lens: [usize; BATCH],
    from: [Option<SockaddrIn>; BATCH],
    send_hdrs: MultiHeaders<SockaddrIn>,
    recv_hdrs: MultiHeaders<SockaddrIn>,
}

impl Batch {
    /// `BATCH` buffers of `size` bytes each.
    pub fn new(size: usize) -> Self {
        Self {
            bufs: (0..BATCH).map(|_| vec![0u8; size]).collect(),
            lens: [0; BATCH],
            from: [None; BATCH],
            // separate headers: a send rewrites the address pointers a receive needs
            send_hdrs: MultiHeaders::preallocate(BATCH, None),
            recv_hdrs: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Buffer `k` (all of it), to fill before a send.
    pub fn buf_mut(&mut self, k: usize) -> Option<&mut [u8]> {
        self.bufs.get_mut(k).map(Vec::as_mut_slice)
    }

    /// Sets the length of the datagram in buffer `k`.
    pub fn set_len(&mut self, k: usize, len: usize) {
        if let Some(l) = self.lens.get_mut(k) {
            *l = len;
        }
    }

    /// The datagram in buffer `k` after a receive (or a fill), its source, or `None`
    /// past the batch.
    pub fn datagram_mut(&mut self, k: usize) -> Option<(&mut [u8], Option<SockaddrIn>)> {
        let len = *self.lens.get(k)?;
        let from = *self.from.get(k)?;
        Some((self.bufs.get_mut(k)?.get_mut(..len)?, from))
    }

    /// Sends the datagrams in buffers `0..n` on `fd` (connected when `to` is `None`,
    /// else all to `to`), with as few system calls as the kernel allows. Returns
    /// (sent, refused): a datagram the kernel refuses is counted and skipped.
    pub fn send(&mut self, fd: RawFd, n: usize, to: Option<SockaddrIn>) -> (u64, u64) {
        let n = n.min(BATCH);
        let iov: Vec<[IoSlice<'_>; 1]> = self
            .bufs
            .iter()
            .zip(&self.lens)
            .take(n)
            .map(|(b, &l)| [IoSlice::new(b.get(..l).unwrap_or_default())])
            .collect();
        let addrs = [to; BATCH];
        let none: [ControlMessage<'_>; 0] = [];
        let (mut off, mut sent, mut refused) = (0usize, 0u64, 0u64);
        while off < n {
            let rest = iov.get(off..).unwrap_or_default();
            let addrs = addrs.get(..rest.len()).unwrap_or_default();
            match sendmmsg(
                fd,
                &mut self.send_hdrs,
                rest,
                addrs,
                none,
                MsgFlags::empty(),
            ) {
                Ok(r) => {
                    let k = r.count();
                    if k == 0 {
                        refused = refused.saturating_add(1);
                        off = off.saturating_add(1);
                    } else {
                        sent = sent.saturating_add(k as u64);
                        off = off.saturating_add(k);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => {
                    // the first datagram left was refused (e.g. ENOBUFS, ECONNREFUSED)
                    refused = refused.saturating_add(1);
                    off = off.saturating_add(1);
                }
            }
        }
        (sent, refused)
    }

    /// Receives up to `BATCH` datagrams from `fd` (blocking for the first one as the
    /// socket's read timeout allows); returns how many. A datagram longer than its
    /// buffer gets length 0.
    pub fn recv(&mut self, fd: RawFd) -> nix::Result<usize> {
        let mut iov: Vec<[IoSliceMut<'_>; 1]> = self
            .bufs
            .iter_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())])
            .collect();
        let r = recvmmsg(
            fd,
            &mut self.recv_hdrs,
            iov.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )?;
        let mut got = 0usize;
        for ((m, len), from) in r.zip(self.lens.iter_mut()).zip(self.from.iter_mut()) {
            *len = if m.flags.contains(MsgFlags::MSG_TRUNC) {
                0
            } else {
                m.bytes
            };
            *from = m.address;
            got = got.saturating_add(1);
        }
        Ok(got)
    }
}
