//! Batched datagram IO for the ESP load: `sendmmsg` and `recvmmsg` over `BATCH` buffers
//! that are allocated once and reused, so that neither the load generator nor the inside
//! counterpart pays a system call (or an allocation) per packet.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmmsg, sendmmsg, sendmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrIn,
};

/// Packets per system call at most.
pub const BATCH: usize = 64;
/// The largest UDP payload a GSO send may carry in total (IPv4, 8-byte UDP header).
const GSO_MAX_BYTES: usize = 65_507;

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

    /// How many datagrams of `seg` bytes one GSO send may carry.
    pub fn gso_limit(seg: usize) -> usize {
        GSO_MAX_BYTES
            .checked_div(seg)
            .unwrap_or(BATCH)
            .clamp(1, BATCH)
    }

    /// Sends the datagrams in buffers `0..n` on the connected UDP socket `fd` as one UDP
    /// GSO send (`UDP_SEGMENT`: the kernel cuts the payload into datagrams of `seg`
    /// bytes), which takes one trip through the IP stack instead of `n`. Every datagram
    /// but the last must be exactly `seg` bytes and `n` at most `gso_limit(seg)`;
    /// otherwise, or when the kernel refuses GSO, the batch goes out with `send`.
    /// Returns (sent, refused, whether GSO was used).
    pub fn send_gso(&mut self, fd: RawFd, n: usize, seg: usize) -> (u64, u64, bool) {
        let n = n.min(BATCH);
        let lens = self.lens.get(..n).unwrap_or_default();
        let fits = n > 1
            && n <= Self::gso_limit(seg)
            && lens.split_last().is_some_and(|(last, rest)| {
                *last <= seg && *last > 0 && rest.iter().all(|&l| l == seg)
            });
        let Ok(seg16) = u16::try_from(seg) else {
            let (s, r) = self.send(fd, n, None);
            return (s, r, false);
        };
        if !fits {
            let (s, r) = self.send(fd, n, None);
            return (s, r, false);
        }
        let iov: Vec<IoSlice<'_>> = self
            .bufs
            .iter()
            .zip(lens)
            .map(|(b, &l)| IoSlice::new(b.get(..l).unwrap_or_default()))
            .collect();
        let cmsg = [ControlMessage::UdpGsoSegments(&seg16)];
        match sendmsg::<SockaddrIn>(fd, &iov, &cmsg, MsgFlags::empty(), None) {
            Ok(_) => (n as u64, 0, true),
            Err(_) => {
                drop(iov);
                let (s, r) = self.send(fd, n, None);
                (s, r, false)
            }
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd as _;
    use std::time::Duration;

    /// A receiver on loopback and a sender connected to it.
    fn pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (tx, rx)
    }

    /// Fills buffer k with `len` bytes of the value k.
    fn fill(b: &mut Batch, lens: &[usize]) {
        for (k, &len) in lens.iter().enumerate() {
            b.buf_mut(k).unwrap()[..len].fill(k as u8);
            b.set_len(k, len);
        }
    }

    /// Receives until `want` datagrams came; returns their (length, first byte).
    fn drain(rx: &UdpSocket, want: usize) -> Vec<(usize, u8)> {
        let mut b = Batch::new(2048);
        let mut got = Vec::new();
        while got.len() < want {
            let n = b.recv(rx.as_raw_fd()).unwrap();
            for k in 0..n {
                let (d, from) = b.datagram_mut(k).unwrap();
                assert!(from.is_some());
                assert!(d.iter().all(|x| *x == d[0]), "one value per datagram");
                got.push((d.len(), d[0]));
            }
        }
        got
    }

    #[test]
    fn a_batch_goes_out_and_comes_back_in_order() {
        let (tx, rx) = pair();
        let mut b = Batch::new(2048);
        let lens = [100, 1400, 7, 1, 512];
        fill(&mut b, &lens);
        assert_eq!(b.send(tx.as_raw_fd(), lens.len(), None), (5, 0));
        let got = drain(&rx, 5);
        let want: Vec<(usize, u8)> = lens
            .iter()
            .enumerate()
            .map(|(k, l)| (*l, k as u8))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_gso_send_arrives_as_separate_datagrams() {
        let (tx, rx) = pair();
        let mut b = Batch::new(2048);
        // five of 116 bytes and a shorter last one: one send, six datagrams
        let lens = [116, 116, 116, 116, 116, 60];
        fill(&mut b, &lens);
        let (sent, refused, used) = b.send_gso(tx.as_raw_fd(), lens.len(), 116);
        assert_eq!((sent, refused), (6, 0));
        assert!(used, "this kernel does UDP GSO on loopback");
        let got = drain(&rx, 6);
        let want: Vec<(usize, u8)> = lens
            .iter()
            .enumerate()
            .map(|(k, l)| (*l, k as u8))
            .collect();
        assert_eq!(got, want);
        // unequal sizes cannot be one GSO send: they go out one by one
        let lens = [116, 100, 116];
        fill(&mut b, &lens);
        assert_eq!(b.send_gso(tx.as_raw_fd(), 3, 116), (3, 0, false));
        assert_eq!(drain(&rx, 3), vec![(116, 0), (100, 1), (116, 2)]);
        assert_eq!(Batch::gso_limit(1500), 43);
        assert_eq!(Batch::gso_limit(100), BATCH);
    }
}
