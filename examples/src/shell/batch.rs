//! Batched IO for the data path: many datagrams per system call (`recvmmsg`/`sendmmsg`
//! through `nix`), and the TUN device with its offloads (`tun-rs`: the virtio-net
//! header, GSO super-packets split on read, GRO coalescing on write; the technique of
//! wireguard-go's TUN).
//!
//! Packets are received into fixed slots and handed to the core where they lie
//! (decrypted in place, or encapsulated in place with [`INSIDE_HEADROOM`] before them),
//! and the results are sent from the same slots: no allocation and no copy per packet
//! besides the kernel's (and tun-rs's GSO split, which copies each segment out of the
//! super-packet into its slot).

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrIn};
use pix_gateway::gateway::io::{INSIDE_HEADROOM, INSIDE_TAILROOM};
use std::io::{IoSlice, IoSliceMut};

/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 32;

/// One datagram slot: the largest IP packet (a raw socket hands over reassembled
/// datagrams) and room to spare. Only the pages a packet touches become resident.
pub const SLOT: usize = 65_536 + 64;

/// Packets read from the TUN device before they are encapsulated and sent together;
/// tun-rs's recommended batch (a GSO super-packet of 64 KiB splits into at most ~46
/// segments of a 1,400-byte MTU).
pub const TUN_BATCH: usize = tun_rs::IDEAL_BATCH_SIZE;

/// Free slots a TUN read needs: the most segments one super-packet can split into.
pub const TUN_READ_ROOM: usize = 64;

/// The virtio-net header before every packet on an offloading TUN device.
pub const VNET: usize = tun_rs::VIRTIO_NET_HDR_LEN;

/// How well the batching works, for the metrics page (`pix_batch_*`): system calls and
/// the packets they moved, per socket kind. Updated once per batch.
#[derive(Default)]
pub struct IoCounters {
    /// `recvmmsg` calls that returned datagrams, per socket: UDP 500, UDP 4500, raw ESP.
    pub recv_calls: [AtomicU64; 3],
    /// Datagrams those calls returned.
    pub recv_datagrams: [AtomicU64; 3],
    /// Reads from the TUN device that returned packets.
    pub tun_reads: AtomicU64,
    /// Packets they returned (more than reads: GSO super-packets were split).
    pub tun_packets: AtomicU64,
    /// Batches written to the TUN device.
    pub tun_write_batches: AtomicU64,
    /// Packets in them (coalesced by GRO when the device has the offloads).
    pub tun_write_packets: AtomicU64,
    /// `sendmmsg` batches of ESP.
    pub send_batches: AtomicU64,
    /// ESP datagrams in them.
    pub sent: AtomicU64,
    /// ESP datagrams the kernel refused.
    pub send_refused: AtomicU64,
    /// `sendmsg` calls with UDP GSO (ESP in UDP to one peer) ...
    pub gso_sends: AtomicU64,
    /// ... and the datagrams they carried.
    pub gso_datagrams: AtomicU64,
}

/// The socket names of [`IoCounters::recv_calls`].
pub const SOCKETS: [&str; 3] = ["udp500", "udp4500", "raw_esp"];

impl IoCounters {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Relaxed);
    }

    /// The Prometheus text of the counters.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(out, "# HELP pix_batch_recv_calls_total recvmmsg calls that returned datagrams, by socket.\n# TYPE pix_batch_recv_calls_total counter");
        for (name, c) in SOCKETS.iter().zip(&self.recv_calls) {
            let _ = writeln!(
                out,
                "pix_batch_recv_calls_total{{socket=\"{name}\"}} {}",
                c.load(Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP pix_batch_recv_datagrams_total Datagrams those recvmmsg calls returned, by socket.\n# TYPE pix_batch_recv_datagrams_total counter");
        for (name, c) in SOCKETS.iter().zip(&self.recv_datagrams) {
            let _ = writeln!(
                out,
                "pix_batch_recv_datagrams_total{{socket=\"{name}\"}} {}",
                c.load(Relaxed)
            );
        }
        for (name, help, c) in [
            (
                "pix_batch_tun_reads_total",
                "Reads from the TUN device that returned packets.",
                &self.tun_reads,
            ),
            (
                "pix_batch_tun_packets_total",
                "Packets those reads returned (GSO super-packets split into segments).",
                &self.tun_packets,
            ),
            (
                "pix_batch_tun_write_batches_total",
                "Batches written to the TUN device.",
                &self.tun_write_batches,
            ),
            (
                "pix_batch_tun_write_packets_total",
                "Packets in those batches (coalesced by GRO with the offloads).",
                &self.tun_write_packets,
            ),
            (
                "pix_batch_send_batches_total",
                "sendmmsg batches of ESP.",
                &self.send_batches,
            ),
            (
                "pix_batch_sent_total",
                "ESP datagrams in those batches.",
                &self.sent,
            ),
            (
                "pix_batch_send_refused_total",
                "ESP datagrams the kernel refused.",
                &self.send_refused,
            ),
            (
                "pix_batch_gso_sends_total",
                "sendmsg calls with UDP segmentation offload (ESP in UDP to one peer).",
                &self.gso_sends,
            ),
            (
                "pix_batch_gso_datagrams_total",
                "ESP datagrams those calls carried.",
                &self.gso_datagrams,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Relaxed)
            );
        }
    }
}

/// A set of packet slots with the `recvmmsg`/`sendmmsg` headers that point into them.
pub struct Slots {
    /// The buffers.
    pub bufs: Vec<Vec<u8>>,
    /// Per slot: the received length and sender.
    pub got: Vec<(usize, Option<SocketAddrV4>)>,
    /// Per slot: the segment size when the kernel coalesced several datagrams of one
    /// peer into the slot (UDP GRO; [`Slots::with_gro`]), else 0.
    pub segments: Vec<usize>,
    headers: MultiHeaders<SockaddrIn>,
    gro: bool,
}

impl Slots {
    /// `n` slots of `size` bytes.
    pub fn new(n: usize, size: usize) -> Slots {
        Slots {
            bufs: (0..n).map(|_| vec![0u8; size]).collect(),
            got: Vec::with_capacity(n),
            segments: Vec::with_capacity(n),
            headers: MultiHeaders::preallocate(n, None),
            gro: false,
        }
    }

    /// `n` slots of `size` bytes for a UDP socket with `UDP_GRO` on: each slot may hold
    /// a run of datagrams of one peer, cut at [`segments`](Self::segments).
    pub fn with_gro(n: usize, size: usize) -> Slots {
        Slots {
            headers: MultiHeaders::preallocate(n, Some(nix::cmsg_space!(i32))),
            gro: true,
            ..Slots::new(n, size)
        }
    }

    /// One `recvmmsg` on `fd` (non-blocking): fills `got` with the datagrams received.
    ///
    /// # Errors
    /// The system call's (`WouldBlock` when nothing is waiting).
    pub fn recv(&mut self, fd: &impl AsRawFd) -> io::Result<usize> {
        self.got.clear();
        self.segments.clear();
        let gro = self.gro;
        if gro {
            // nix's recvmmsg sets each header's buffers but not its control length, which
            // the kernel overwrote with what the last message used (0 for a plain
            // datagram): without fresh headers a later run would lose its segment size
            // and be taken for one datagram. One allocation per call, not per packet.
            self.headers = MultiHeaders::preallocate(self.bufs.len(), Some(nix::cmsg_space!(i32)));
        }
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self
            .bufs
            .iter_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())])
            .collect();
        let res = nix::sys::socket::recvmmsg(
            fd.as_raw_fd(),
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        for m in res {
            let from = m
                .address
                .map(|a: SockaddrIn| SocketAddrV4::new(a.ip(), a.port()));
            // A datagram longer than its slot cannot be (SLOT > 65,535); drop it anyway.
            let len = if m.flags.contains(MsgFlags::MSG_TRUNC) {
                0
            } else {
                m.bytes
            };
            let mut seg = 0usize;
            if gro {
                if let Ok(cmsgs) = m.cmsgs() {
                    for c in cmsgs {
                        if let nix::sys::socket::ControlMessageOwned::UdpGroSegments(n) = c {
                            seg = usize::try_from(n).unwrap_or(0);
                        }
                    }
                }
            }
            self.got.push((len, from));
            self.segments.push(seg);
        }
        Ok(self.got.len())
    }
}

/// One queued datagram: (slot, range, destination, the IKE SA for a failed send).
pub type Item = (usize, Range<usize>, SocketAddrV4, ike_sm::SaId);

/// UDP segmentation offload: at most this many datagrams in one `sendmsg`.
const GSO_MAX_SEGMENTS: usize = 64;

/// ... and at most this many bytes of payload.
const GSO_MAX_BYTES: usize = 65_000;

/// A queue of datagrams for one socket, each a range of a slot, sent with `sendmmsg`;
/// on a UDP socket with [`gso`](Self::gso), runs of datagrams to one peer go out as
/// one `sendmsg` with `UDP_SEGMENT` (the kernel, or the NIC, cuts them apart).
#[derive(Default)]
pub struct SendQueue {
    /// The queued datagrams.
    pub items: Vec<Item>,
    /// Use UDP GSO (turned off for good when the kernel refuses it).
    pub gso: bool,
    /// IKE SAs of datagrams queued to a destination the socket cannot reach.
    unsendable: Vec<ike_sm::SaId>,
    /// `sendmsg` calls with UDP GSO and the datagrams they carried.
    pub gso_sends: (u64, u64),
    headers: Option<MultiHeaders<SockaddrIn>>,
}

impl SendQueue {
    /// A queue for a UDP socket: runs to one peer go out with UDP GSO.
    pub fn with_gso() -> SendQueue {
        SendQueue {
            gso: true,
            ..SendQueue::default()
        }
    }

    /// Datagrams queued (those that cannot be sent included).
    pub fn len(&self) -> usize {
        self.items.len().saturating_add(self.unsendable.len())
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `bufs[slot][range]` to `to`.
    pub fn push(&mut self, slot: usize, range: Range<usize>, to: SocketAddr, sa: ike_sm::SaId) {
        match to {
            SocketAddr::V4(to) => self.items.push((slot, range, to, sa)),
            // the sockets are IPv4: counted as a failed send like any other refusal
            SocketAddr::V6(_) => self.unsendable.push(sa),
        }
    }

    /// Sends everything queued from `bufs` on `sock` with as few `sendmmsg` calls as
    /// the kernel allows. Returns the IKE SAs of datagrams the kernel refused (counted
    /// as send errors); the queue is empty afterwards. When the socket's buffer is
    /// full the batch waits once for it to drain; what is still blocked then counts as
    /// refused: nothing waits for long.
    pub async fn send(
        &mut self,
        bufs: &[Vec<u8>],
        sock: &tokio::net::UdpSocket,
    ) -> Vec<ike_sm::SaId> {
        let mut failed = std::mem::take(&mut self.unsendable);
        let items = std::mem::take(&mut self.items);
        let single = if self.gso {
            self.send_gso(bufs, sock, items, &mut failed).await
        } else {
            items
        };
        let headers = self
            .headers
            .get_or_insert_with(|| MultiHeaders::preallocate(TUN_BATCH.max(BATCH), None));
        let refused = sendmmsg_all(sock, headers, TUN_BATCH.max(BATCH), single.len(), |i| {
            single.get(i).map(|(slot, r, to, _)| {
                let d = bufs
                    .get(*slot)
                    .and_then(|b| b.get(r.clone()))
                    .unwrap_or_default();
                (d, *to)
            })
        })
        .await;
        failed.extend(
            refused
                .iter()
                .filter_map(|(i, _)| single.get(*i))
                .map(|c| c.3),
        );
        failed
    }

    /// Sends the runs of datagrams to one peer of one size (the last may be shorter)
    /// with UDP GSO; returns the datagrams left for `sendmmsg`.
    async fn send_gso(
        &mut self,
        bufs: &[Vec<u8>],
        sock: &tokio::net::UdpSocket,
        items: Vec<Item>,
        failed: &mut Vec<ike_sm::SaId>,
    ) -> Vec<Item> {
        let mut single = Vec::new();
        let mut i = 0usize;
        while let Some(first) = items.get(i) {
            let seg = first.1.len();
            let mut j = i.saturating_add(1);
            let mut total = seg;
            while let Some(next) = items.get(j) {
                let len = next.1.len();
                if next.2 != first.2
                    || len > seg
                    || j.saturating_sub(i) >= GSO_MAX_SEGMENTS
                    || total.saturating_add(len) > GSO_MAX_BYTES
                {
                    break;
                }
                total = total.saturating_add(len);
                j = j.saturating_add(1);
                if len < seg {
                    break;
                }
            }
            let run = items.get(i..j).unwrap_or_default();
            i = j;
            if run.len() < 2 || !self.gso {
                single.extend(run.iter().cloned());
                continue;
            }
            let iovs: Vec<IoSlice<'_>> = run
                .iter()
                .map(|(slot, r, _, _)| {
                    IoSlice::new(
                        bufs.get(*slot)
                            .and_then(|b| b.get(r.clone()))
                            .unwrap_or_default(),
                    )
                })
                .collect();
            let to = SockaddrIn::from(first.2);
            let size = u16::try_from(seg).unwrap_or(u16::MAX);
            let fd = sock.as_raw_fd();
            let call = || -> io::Result<usize> {
                let cmsg = [nix::sys::socket::ControlMessage::UdpGsoSegments(&size)];
                nix::sys::socket::sendmsg(fd, &iovs, &cmsg, MsgFlags::MSG_DONTWAIT, Some(&to))
                    .map_err(io::Error::from)
            };
            let mut r = sock.try_io(tokio::io::Interest::WRITABLE, call);
            if r.as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
            {
                let _ = sock.writable().await;
                r = sock.try_io(tokio::io::Interest::WRITABLE, call);
            }
            match r {
                Ok(_) => {
                    self.gso_sends.0 = self.gso_sends.0.saturating_add(1);
                    self.gso_sends.1 = self.gso_sends.1.saturating_add(run.len() as u64);
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EIO | libc::EINVAL | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
                    ) =>
                {
                    // No UDP GSO here (old kernel, a device without checksum offload):
                    // one datagram per message from now on.
                    self.gso = false;
                    single.extend(run.iter().cloned());
                }
                // Segments over the path MTU (ESP packets the kernel must fragment,
                // issue 19): GSO cannot send them; one per message, GSO kept for the rest.
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    single.extend(run.iter().cloned());
                }
                Err(_) => failed.extend(run.iter().map(|c| c.3)),
            }
        }
        single
    }
}

/// Sends owned datagrams (the core's IKE answers of one turn of the loop) on `sock`
/// with as few `sendmmsg` calls as the kernel allows. Returns the destinations and
/// errors of those it refused.
pub async fn send_owned(
    sock: &tokio::net::UdpSocket,
    msgs: &[(SocketAddrV4, Vec<u8>)],
) -> Vec<(SocketAddrV4, io::Error)> {
    let per_call = msgs.len().clamp(1, BATCH);
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(per_call, None);
    sendmmsg_all(sock, &mut headers, per_call, msgs.len(), |i| {
        msgs.get(i).map(|(to, p)| (p.as_slice(), *to))
    })
    .await
    .into_iter()
    .filter_map(|(i, e)| msgs.get(i).map(|(to, _)| (*to, e)))
    .collect()
}

/// Sends datagrams `0..n` (`datagram(i)`: the bytes and the destination) on `sock` with
/// as few `sendmmsg` calls as the kernel allows, `per_call` (what `headers` holds) each.
/// When the socket's buffer is full it waits once for it to drain; a datagram the
/// kernel refuses (or that is still blocked after the wait) is skipped and returned
/// with its error, so nothing waits for long.
async fn sendmmsg_all<'d>(
    sock: &tokio::net::UdpSocket,
    headers: &mut MultiHeaders<SockaddrIn>,
    per_call: usize,
    n: usize,
    datagram: impl Fn(usize) -> Option<(&'d [u8], SocketAddrV4)>,
) -> Vec<(usize, io::Error)> {
    let mut refused = Vec::new();
    let per_call = per_call.max(1);
    let mut done = 0usize;
    let mut waited = false;
    while done < n {
        let end = done.saturating_add(per_call).min(n);
        let chunk: Vec<(&[u8], SocketAddrV4)> = (done..end).filter_map(&datagram).collect();
        let iovs: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|(d, _)| [IoSlice::new(d)]).collect();
        let addrs: Vec<Option<SockaddrIn>> = chunk
            .iter()
            .map(|(_, to)| Some(SockaddrIn::from(*to)))
            .collect();
        let fd = sock.as_raw_fd();
        let call = || -> io::Result<usize> {
            let r = nix::sys::socket::sendmmsg(
                fd,
                headers,
                iovs.iter(),
                &addrs,
                [],
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            Ok(r.count())
        };
        match sock.try_io(tokio::io::Interest::WRITABLE, call) {
            Ok(k) if k > 0 => done = done.saturating_add(k),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !waited => {
                waited = true;
                let _ = sock.writable().await;
            }
            r => {
                // The first datagram was refused (EMSGSIZE, EPERM by a firewall, a full
                // buffer after the wait ...): count it, go on with the rest.
                refused.push((
                    done,
                    r.err().unwrap_or_else(|| io::Error::other("nothing sent")),
                ));
                done = done.saturating_add(1);
            }
        }
    }
    refused
}

/// A packet's window in a slot, as tun-rs's GRO wants it (`ExpandBuffer`): it starts
/// [`VNET`] bytes before the packet (the virtio-net header is written there) and may
/// grow into the rest of the slot when later segments of the same flow are coalesced
/// onto it.
pub struct Win<'a> {
    buf: &'a mut [u8],
    start: usize,
    end: usize,
}

impl<'a> Win<'a> {
    /// Windows for the packets `(slot, range)` of `bufs` (in slot order, and within a
    /// slot in order of their ranges, as a batch produces them). Several packets of one
    /// slot (a UDP GRO run) get disjoint windows: each ends where the next one's
    /// header begins, the last one at the end of the slot.
    pub fn of(bufs: &'a mut [Vec<u8>], packets: &[(usize, Range<usize>)]) -> Vec<Win<'a>> {
        let mut wins = Vec::with_capacity(packets.len());
        let mut want = packets.iter().peekable();
        for (i, buf) in bufs.iter_mut().enumerate() {
            let mut rest: &'a mut [u8] = buf.as_mut_slice();
            let mut base = 0usize;
            while let Some((_, r)) = want.next_if(|(s, _)| *s == i) {
                let limit = match want.peek() {
                    Some((s, n)) if *s == i => n.start.saturating_sub(VNET),
                    _ => base.saturating_add(rest.len()),
                };
                let cut = limit.saturating_sub(base).min(rest.len());
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(cut);
                let local = r.start.saturating_sub(base)..r.end.saturating_sub(base);
                if r.start >= base {
                    if let Some(w) = Win::new(head, &local) {
                        wins.push(w);
                    }
                }
                rest = tail;
                base = base.saturating_add(cut);
            }
        }
        wins
    }

    /// The packet `buf[range]`; `None` when there is no room for the header before it.
    pub fn new(buf: &'a mut [u8], range: &Range<usize>) -> Option<Win<'a>> {
        let start = range.start.checked_sub(VNET)?;
        (range.end <= buf.len()).then_some(Win {
            buf,
            start,
            end: range.end,
        })
    }
}

impl AsRef<[u8]> for Win<'_> {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }
}

impl AsMut<[u8]> for Win<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.start..self.end).unwrap_or_default()
    }
}

impl tun_rs::ExpandBuffer for Win<'_> {
    fn buf_capacity(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    fn buf_resize(&mut self, new_len: usize, value: u8) {
        let new_end = self.start.saturating_add(new_len).min(self.buf.len());
        if let Some(grown) = self.buf.get_mut(self.end..new_end) {
            grown.fill(value);
        }
        self.end = new_end;
    }

    fn buf_extend_from_slice(&mut self, src: &[u8]) {
        let new_end = self.end.saturating_add(src.len()).min(self.buf.len());
        let n = new_end.saturating_sub(self.end);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.end..new_end), src.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.end = new_end;
    }
}

/// The slot size for packets read from a TUN device of this MTU: the packet, the ESP
/// header and IV before it, padding and ICV after it.
pub fn tun_slot(mtu: usize) -> usize {
    INSIDE_HEADROOM
        .saturating_add(mtu.max(1500))
        .saturating_add(INSIDE_TAILROOM)
        .saturating_add(64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use tun_rs::ExpandBuffer as _;

    /// Sends what `q` holds from socket `a` on a current-thread runtime.
    fn send_from(
        a: &std::net::UdpSocket,
        q: &mut SendQueue,
        bufs: &[Vec<u8>],
    ) -> Vec<ike_sm::SaId> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            a.set_nonblocking(true).unwrap();
            let a = tokio::net::UdpSocket::from_std(a.try_clone().unwrap()).unwrap();
            q.send(bufs, &a).await
        })
    }

    #[test]
    fn a_window_starts_at_the_header_and_grows_inside_its_slot_only() {
        let mut slot = vec![0u8; 100];
        assert!(
            Win::new(&mut slot, &(4..20)).is_none(),
            "no room for the header"
        );
        let mut w = Win::new(&mut slot, &(40..60)).unwrap();
        assert_eq!(w.as_ref().len(), VNET + 20);
        assert_eq!(w.buf_capacity(), 100 - (40 - VNET));
        w.buf_extend_from_slice(&[7; 10]);
        assert_eq!(w.as_ref().len(), VNET + 30);
        // more than the slot holds: clipped, never a panic
        w.buf_extend_from_slice(&[9; 100]);
        assert_eq!(w.as_ref().len(), 100 - (40 - VNET));
        w.buf_resize(VNET + 5, 0);
        assert_eq!(w.as_ref().len(), VNET + 5);
        let _ = w;
        assert_eq!(&slot[60..70], &[7; 10]);
    }

    #[test]
    fn recvmmsg_and_sendmmsg_move_a_batch_in_one_call_each() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(to) = b.local_addr().unwrap() else {
            panic!("v4")
        };
        let mut tx = Slots::new(8, 256);
        let mut q = SendQueue::default();
        for i in 0..8usize {
            tx.bufs[i][..4].copy_from_slice(&(i as u32).to_be_bytes());
            q.push(i, 0..4 + i, SocketAddr::V4(to), ike_sm::SaId(i as u64));
        }
        let failed = send_from(&a, &mut q, &tx.bufs);
        assert!(failed.is_empty());
        assert!(q.items.is_empty());
        let mut rx = Slots::new(BATCH, SLOT);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let n = rx.recv(&b).unwrap();
        assert_eq!(n, 8, "one recvmmsg takes the whole batch");
        for i in 0..8usize {
            let (len, from) = rx.got[i];
            assert_eq!(len, 4 + i);
            assert_eq!(from.map(SocketAddr::V4), Some(a.local_addr().unwrap()));
            assert_eq!(&rx.bufs[i][..4], &(i as u32).to_be_bytes());
        }
        let e = rx.recv(&b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_run_to_one_peer_leaves_in_one_gso_sendmsg_and_arrives_as_datagrams() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (SocketAddr::V4(to_b), SocketAddr::V4(to_c)) =
            (b.local_addr().unwrap(), c.local_addr().unwrap())
        else {
            panic!("v4")
        };
        let mut tx = Slots::new(12, 256);
        let mut q = SendQueue::with_gso();
        // 8 x 100 bytes and a shorter last one to b, then one to c, then 2 more to b
        for i in 0..12usize {
            tx.bufs[i].fill(i as u8);
            let (len, to) = match i {
                0..=7 => (100, to_b),
                8 => (50, to_b),
                9 => (100, to_c),
                _ => (100, to_b),
            };
            q.push(i, 0..len, SocketAddr::V4(to), ike_sm::SaId(i as u64));
        }
        let failed = send_from(&a, &mut q, &tx.bufs);
        assert!(failed.is_empty());
        assert!(q.gso, "the kernel took UDP GSO on loopback");
        assert_eq!(q.gso_sends, (2, 11), "two runs to b (9 and 2 datagrams)");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut rx = Slots::new(BATCH, SLOT);
        assert_eq!(
            rx.recv(&b).unwrap(),
            11,
            "GSO cuts the run into its datagrams"
        );
        let lens: Vec<usize> = rx.got.iter().map(|g| g.0).collect();
        assert_eq!(lens, [100, 100, 100, 100, 100, 100, 100, 100, 50, 100, 100]);
        let firsts: Vec<u8> = rx.bufs.iter().take(11).map(|b| b[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11]);
        assert_eq!(rx.recv(&c).unwrap(), 1);
        assert_eq!((rx.got[0].0, rx.bufs[0][0]), (100, 9));
    }

    #[test]
    fn a_gso_run_reaches_a_gro_socket_as_one_slot_with_its_segment_size() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        nix::sys::socket::setsockopt(&b, nix::sys::socket::sockopt::UdpGroSegment, &true).unwrap();
        let SocketAddr::V4(to) = b.local_addr().unwrap() else {
            panic!("v4")
        };
        let mut tx = Slots::new(5, 256);
        let mut q = SendQueue::with_gso();
        for i in 0..5usize {
            tx.bufs[i].fill(i as u8 + 1);
            q.push(
                i,
                0..if i == 4 { 40 } else { 120 },
                SocketAddr::V4(to),
                ike_sm::SaId(0),
            );
        }
        let mut rx = Slots::with_gro(BATCH, SLOT);
        // a plain datagram first: the kernel then writes a control length of 0 into the
        // slot's header, which must not stop the next run's segment size from arriving
        a.send_to(&[1, 2, 3], b.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(rx.recv(&b).unwrap(), 1);
        assert_eq!(
            (rx.got[0].0, rx.segments[0]),
            (3, 0),
            "no segments: one datagram"
        );
        let failed = send_from(&a, &mut q, &tx.bufs);
        assert!(failed.is_empty());
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(rx.recv(&b).unwrap(), 1, "the run stays one datagram");
        assert_eq!((rx.got[0].0, rx.segments[0]), (4 * 120 + 40, 120));
        for k in 0..5usize {
            assert_eq!(rx.bufs[0][k * 120], k as u8 + 1);
        }
    }

    #[test]
    fn windows_of_several_packets_in_one_slot_do_not_overlap() {
        let mut bufs = vec![vec![0u8; 400], vec![0u8; 100]];
        // a GRO slot with three decrypted packets, and a plain slot
        let packets = [(0usize, 30..90), (0, 130..190), (0, 230..300), (1, 40..80)];
        let mut wins = Win::of(&mut bufs, &packets);
        assert_eq!(wins.len(), 4);
        let lens: Vec<usize> = wins.iter().map(|w| w.as_ref().len()).collect();
        assert_eq!(lens, [VNET + 60, VNET + 60, VNET + 70, VNET + 40]);
        use tun_rs::ExpandBuffer as _;
        // each may grow only up to the next one's header
        assert_eq!(wins[0].buf_capacity(), 130 - VNET - (30 - VNET));
        assert_eq!(wins[2].buf_capacity(), 400 - (230 - VNET));
        wins[0].buf_extend_from_slice(&[7; 500]);
        wins[1].as_mut()[VNET] = 9;
        let _ = wins;
        assert_eq!(bufs[0][130 - VNET - 1], 7, "grew to its limit");
        assert_eq!(bufs[0][130], 9, "the next packet is intact");
    }
}
