//! Shared test support: a seeded RNG, temp dirs, port picking, process guards,
//! and the socket driver around the Sans-IO AAA client.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // IO in a test: the socket driver, temp dirs and server processes of the tests
#![allow(dead_code, clippy::map_entry)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rand_core::{TryCryptoRng, TryRng};
use xauth::aaa::{AaaClient, AaaEvent, AaaTransmit, ConnId};

/// A deterministic generator (splitmix64) so every test run sends the same bytes.
pub struct TestRng(pub u64);

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl TryCryptoRng for TestRng {}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("xauth-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process (started under `timeout`) stopped with SIGTERM on drop, so
/// `timeout` passes the signal on to the server it runs.
pub struct ProcGuard(pub Child);

impl Drop for ProcGuard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails the test (never skips) when a tool is missing.
pub fn require_tool(cmd: &str, probe_args: &[&str]) {
    let ok = Command::new(cmd)
        .args(probe_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{cmd}` is missing or broken: run scripts/deps.sh to install the test dependencies"
    );
}

/// `n` consecutive free UDP (and TCP) ports on 127.0.0.1.
pub fn free_ports(n: u16) -> u16 {
    let seed = (std::process::id() as u64)
        .wrapping_mul(7919)
        .wrapping_add((COUNTER.fetch_add(1, Ordering::SeqCst) as u64).wrapping_mul(104_729));
    for i in 0..500u64 {
        let base = 20_000 + ((seed.wrapping_add(i * 37)) % 40_000) as u16;
        let all_free = (0..n).all(|k| {
            let p = base + k;
            UdpSocket::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if all_free {
            return base;
        }
    }
    panic!("no free port range found");
}

/// Waits until `file` contains `needle` (or panics with the file's content).
pub fn wait_for_text(file: &Path, needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(file) {
            if s.contains(needle) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = std::fs::read_to_string(file).unwrap_or_default();
    let tail: String = s
        .chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    panic!(
        "`{needle}` did not appear in {} within {within:?}; log tail:\n{tail}",
        file.display()
    );
}

/// What happened while driving the client, for assertions.
#[derive(Debug, Default)]
pub struct DriveLog {
    pub datagrams_sent: Vec<(SocketAddr, Vec<u8>)>,
    pub stream_writes: usize,
    pub connections_opened: usize,
    pub dropped_replies: Vec<xauth::XauthError>,
}

/// Does the IO for `client` until it emits an event or `limit` passes.
pub fn drive(
    client: &mut AaaClient,
    rng: &mut TestRng,
    limit: Duration,
    log: &mut DriveLog,
) -> Option<AaaEvent> {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let mut streams: HashMap<ConnId, TcpStream> = HashMap::new();
    let mut closed: Vec<ConnId> = Vec::new();
    let end = Instant::now() + limit;
    loop {
        if let Some(e) = client.poll_event() {
            return Some(e);
        }
        while let Some(t) = client.poll_transmit() {
            match t {
                AaaTransmit::Datagram { to, payload, .. } => {
                    udp.send_to(&payload, to).unwrap();
                    log.datagrams_sent.push((to, payload));
                }
                AaaTransmit::Stream { conn, to, payload } => {
                    if !streams.contains_key(&conn) {
                        match TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
                            Ok(s) => {
                                s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
                                log.connections_opened += 1;
                                streams.insert(conn, s);
                            }
                            Err(_) => {
                                closed.push(conn);
                                continue;
                            }
                        }
                    }
                    streams.get_mut(&conn).unwrap().write_all(&payload).unwrap();
                    log.stream_writes += 1;
                }
                AaaTransmit::Close { conn } => {
                    streams.remove(&conn);
                }
            }
        }
        for conn in closed.drain(..) {
            client.handle_stream_closed(Instant::now(), rng, conn);
        }
        if let Some(e) = client.poll_event() {
            return Some(e);
        }
        let now = Instant::now();
        if now >= end {
            return None;
        }
        let mut buf = [0u8; 4096];
        if let Ok((n, from)) = udp.recv_from(&mut buf) {
            if let Err(e) = client.handle_datagram(Instant::now(), rng, from, &buf[..n]) {
                log.dropped_replies.push(e);
            }
        }
        let conns: Vec<ConnId> = streams.keys().copied().collect();
        for conn in conns {
            let s = streams.get_mut(&conn).unwrap();
            match s.read(&mut buf) {
                Ok(0) => {
                    streams.remove(&conn);
                    client.handle_stream_closed(Instant::now(), rng, conn);
                }
                Ok(n) => {
                    if let Err(e) = client.handle_stream(Instant::now(), rng, conn, &buf[..n]) {
                        log.dropped_replies.push(e);
                    }
                }
                Err(_) => {}
            }
        }
        if let Some(t) = client.poll_timeout() {
            if Instant::now() >= t {
                client.handle_timeout(Instant::now(), rng);
            }
        }
    }
}
