//! The control socket: a Unix stream socket (mode 0600) that takes one command line and
//! answers in the PIX's words. `show ...` and `clear ...` answer and close; `debug crypto
//! isakmp|ipsec` keeps streaming debug lines until the client goes away.
//!
//! At most [`MAX_CONNS`] connections at once (see [`Slots`]), a 512-byte line sent
//! within 5 s, an answer within 5 s, and each debug line written within 5 s.
//!
//! `pix-gateway show crypto isakmp sa` is the client side: it connects, sends the words
//! and copies the answer to stdout.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use pix_gateway::DebugKind;

/// The default control socket.
pub const DEFAULT_PATH: &str = "/run/pix-gateway.sock";

/// A request from a control connection to the event loop.
#[derive(Debug)]
pub enum ControlMsg {
    /// A `show`/`clear` line and where to send the answer.
    Command(String, oneshot::Sender<String>),
    /// `debug crypto ...`: lines of these kinds go to the sender until it is closed.
    Subscribe(Vec<DebugKind>, mpsc::Sender<String>),
}

/// Longest command line accepted.
const MAX_LINE: usize = 512;

/// Control connections served at once; one more evicts the oldest that has not sent
/// its line yet, or is refused when every slot is busy (debug streams, answers).
pub const MAX_CONNS: usize = 16;

/// Time to send the command line, and to take a `show`/`clear` answer.
const REQUEST_TIME: Duration = Duration::from_secs(5);
/// Time for one debug line to be written to a `debug crypto` client that stopped reading.
const WRITE_TIME: Duration = Duration::from_secs(5);

/// The bound control socket; dropping it removes the path if it still names our socket,
/// so an error after the bind (or the end of `serve`) leaves no stale socket.
#[derive(Debug)]
pub struct Bound {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for Bound {
    fn drop(&mut self) {
        // only our own socket: not one that replaced it
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds the socket (after removing a stale one, see [`remove_stale`]) with mode 0600 and
/// serves connections on the current tokio runtime, at most [`MAX_CONNS`] at once.
///
/// No moment with wider permissions: the socket is bound in a fresh private directory
/// (mode 0700, created by `mkdir`, which never follows or reuses anything) next to
/// `path`, chmod-ed to 0600 there (the result checked, then read back), and only then
/// given its public name with `link(2)`, which fails rather than replace anything that
/// appeared at `path` meanwhile. A umask around `bind` would do the same, but the umask
/// is process-wide (a thread creating files at that moment would be affected) and
/// setting it needs `unsafe`, which the workspace forbids.
///
/// # Errors
/// One line saying what and how to fix it.
pub fn listen(
    path: &Path,
    tx: mpsc::Sender<ControlMsg>,
    slots: Arc<Mutex<Slots>>,
) -> anyhow::Result<Bound> {
    let (std_listener, bound) = bind_private(path)?;
    std_listener.set_nonblocking(true).map_err(|e| {
        anyhow::anyhow!(
            "control socket {}: cannot make it non-blocking: {e}",
            path.display()
        )
    })?;
    let listener = tokio::net::UnixListener::from_std(std_listener).map_err(|e| {
        anyhow::anyhow!("control socket {}: cannot register it: {e}", path.display())
    })?;
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(_) => {
                    // out of file descriptors and the like: do not spin
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let admitted = lock(&slots).admit();
            let Some((id, evicted)) = admitted else {
                let _ = stream.try_write(b"% Too many control connections; try again\n");
                continue;
            };
            let tx = tx.clone();
            let slots = slots.clone();
            tokio::spawn(async move {
                let line = tokio::select! {
                    _ = evicted => return, // our slot went to a newer connection
                    r = tokio::time::timeout(REQUEST_TIME, read_line(stream)) => r,
                };
                match line {
                    Ok(Ok((line, w))) => {
                        if lock(&slots).busy(id) {
                            let _ = answer(line, w, tx).await;
                            lock(&slots).done(id, Outcome::Served);
                        }
                    }
                    Ok(Err(_)) => lock(&slots).done(id, Outcome::Served),
                    Err(_) => lock(&slots).done(id, Outcome::TimedOut),
                }
            });
            // Let the connection just evicted (if any) close before the next accept: on
            // this one-thread runtime a burst of accepts would otherwise hold every
            // evicted socket open until the burst ends.
            tokio::task::yield_now().await;
        }
    });
    Ok(bound)
}

/// Locks the slots (a poisoned lock is taken as it is: every update is one step).
pub fn lock(slots: &Mutex<Slots>) -> std::sync::MutexGuard<'_, Slots> {
    slots
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes `path` only when it is a stale socket.
///
/// * nothing there: fine;
/// * not a socket (`lstat`: a regular file, a directory, a symbolic link, ...): refused,
///   and left as it is;
/// * a socket that accepts a connection: another gateway runs there; refused;
/// * a socket that refuses connections (`ECONNREFUSED`: nobody listens): removed.
///
/// # Errors
/// One line saying what is at `path` and what to do.
pub fn remove_stale(path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => anyhow::bail!(
            "cannot inspect the control socket path {}: {e}",
            path.display()
        ),
    };
    let ft = meta.file_type();
    if !ft.is_socket() {
        let what = if ft.is_symlink() {
            "a symbolic link"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_file() {
            "a regular file"
        } else {
            "not a socket"
        };
        anyhow::bail!(
            "control socket path {} is {what}, not a stale socket; it is left alone: remove it yourself or pass --control PATH",
            path.display()
        );
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => anyhow::bail!(
            "control socket {} is in use: another pix-gateway runs; stop it or pass --control PATH",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).map_err(|e| {
                anyhow::anyhow!(
                    "cannot remove the stale control socket {}: {e}; remove it yourself or pass --control PATH",
                    path.display()
                )
            })
        }
        Err(e) => anyhow::bail!(
            "cannot tell whether the control socket {} is stale (connect: {e}); remove it yourself or pass --control PATH",
            path.display()
        ),
    }
}

/// The private directory and the socket in it, removed when dropped.
struct Scratch {
    dir: PathBuf,
    sock: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.sock);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn bind_private(path: &Path) -> anyhow::Result<(std::os::unix::net::UnixListener, Bound)> {
    let shown = path.display();
    let hint = "(pass --control PATH to put it elsewhere)";
    remove_stale(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("control socket path {shown} names no file {hint}"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut scratch = None;
    for attempt in 0..16u32 {
        let mut dir_name = std::ffi::OsString::from(".");
        dir_name.push(name);
        dir_name.push(format!(".{}.{attempt}.tmp", std::process::id()));
        let dir = parent.join(dir_name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                scratch = Some(Scratch {
                    sock: dir.join("s"),
                    dir,
                });
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => anyhow::bail!(
                "cannot create the control socket {shown}: mkdir {}: {e} {hint}",
                dir.display()
            ),
        }
    }
    let scratch = scratch.ok_or_else(|| {
        anyhow::anyhow!(
            "cannot create the control socket {shown}: 16 leftover .{}.*.tmp directories in {}; remove them {hint}",
            name.to_string_lossy(),
            parent.display()
        )
    })?;
    let listener = std::os::unix::net::UnixListener::bind(&scratch.sock)
        .map_err(|e| anyhow::anyhow!("cannot create the control socket {shown}: {e} {hint}"))?;
    std::fs::set_permissions(&scratch.sock, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| anyhow::anyhow!("cannot chmod 0600 the control socket {shown}: {e}"))?;
    let meta = std::fs::symlink_metadata(&scratch.sock)
        .map_err(|e| anyhow::anyhow!("cannot stat the new control socket {shown}: {e}"))?;
    if meta.mode() & 0o7777 != 0o600 || !meta.file_type().is_socket() {
        anyhow::bail!(
            "the new control socket {shown} has mode {:04o} after chmod 0600; refusing to serve on it",
            meta.mode() & 0o7777
        );
    }
    std::fs::hard_link(&scratch.sock, path).map_err(|e| {
        anyhow::anyhow!("cannot create the control socket {shown}: link: {e} {hint}")
    })?;
    let bound = Bound {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    std::fs::remove_file(&scratch.sock).map_err(|e| {
        anyhow::anyhow!(
            "cannot remove the scratch name {} of the control socket {shown}: {e}",
            scratch.sock.display()
        )
    })?;
    std::fs::remove_dir(&scratch.dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot remove the scratch directory {} of the control socket {shown}: {e}",
            scratch.dir.display()
        )
    })?;
    Ok((listener, bound))
}

type Reader = tokio::io::Take<tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>>;

async fn read_line(
    stream: tokio::net::UnixStream,
) -> std::io::Result<(String, tokio::net::unix::OwnedWriteHalf)> {
    let (r, w) = stream.into_split();
    let mut r: Reader = tokio::io::BufReader::new(r).take(MAX_LINE as u64);
    let mut line = String::new();
    r.read_line(&mut line).await?;
    Ok((line.trim().to_string(), w))
}

async fn answer(
    line: String,
    mut w: tokio::net::unix::OwnedWriteHalf,
    tx: mpsc::Sender<ControlMsg>,
) -> std::io::Result<()> {
    let lower = line.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.first() == Some(&"debug") {
        let kinds = match words.as_slice() {
            ["debug", "crypto", "isakmp", ..] => vec![DebugKind::Isakmp],
            ["debug", "crypto", "ipsec", ..] => vec![DebugKind::Ipsec],
            ["debug", "crypto"] | ["debug", "all"] => vec![DebugKind::Isakmp, DebugKind::Ipsec],
            _ => {
                let usage = b"% Usage: debug crypto isakmp | debug crypto ipsec\n";
                let _ = tokio::time::timeout(WRITE_TIME, w.write_all(usage)).await;
                return Ok(());
            }
        };
        let (dtx, mut drx) = mpsc::channel::<String>(1024);
        if tx.send(ControlMsg::Subscribe(kinds, dtx)).await.is_err() {
            return Ok(());
        }
        while let Some(mut l) = drx.recv().await {
            l.push('\n');
            match tokio::time::timeout(WRITE_TIME, w.write_all(l.as_bytes())).await {
                Ok(r) => r?,
                Err(_) => return Ok(()), // the client stopped reading
            }
        }
        return Ok(());
    }
    let respond = async {
        let (otx, orx) = oneshot::channel();
        if tx.send(ControlMsg::Command(line, otx)).await.is_err() {
            return Ok(());
        }
        if let Ok(answer) = orx.await {
            w.write_all(answer.as_bytes()).await?;
        }
        w.shutdown().await
    };
    tokio::time::timeout(REQUEST_TIME, respond)
        .await
        .unwrap_or(Ok(()))
}

/// How a connection ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its request was read (answered or not).
    Served,
    /// It did not send a whole request in time, or its answer did not go out in time.
    TimedOut,
}

/// Connection slots of a small listener (the control socket, the metrics endpoint): at
/// most `max` connections at once. When all are taken, a new connection evicts the
/// oldest one still waiting for its request (a slowloris holds a slot only until the
/// next connection comes), and is refused only when every slot is serving a request.
/// The counters are published on `/metrics`.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    open: usize,
    next: u64,
    /// Connections still reading their request, oldest first, with the sender that
    /// evicts each.
    reading: VecDeque<(u64, oneshot::Sender<()>)>,
    /// Connections whose request was read.
    pub served: u64,
    /// Connections evicted while reading their request.
    pub evicted: u64,
    /// Connections refused because every slot was busy.
    pub refused: u64,
    /// Connections that ran out of time.
    pub timed_out: u64,
}

impl Slots {
    /// Room for `max` connections at once.
    pub fn new(max: usize) -> Self {
        Slots {
            max,
            open: 0,
            next: 0,
            reading: VecDeque::new(),
            served: 0,
            evicted: 0,
            refused: 0,
            timed_out: 0,
        }
    }

    /// A slot for a new connection: its id and the receiver that fires when it is
    /// evicted; `None` when refused.
    pub fn admit(&mut self) -> Option<(u64, oneshot::Receiver<()>)> {
        if self.open < self.max {
            self.open = self.open.saturating_add(1);
        } else if let Some((_, evict)) = self.reading.pop_front() {
            // the evicted connection's slot passes to the new one
            let _ = evict.send(());
            self.evicted = self.evicted.saturating_add(1);
        } else {
            self.refused = self.refused.saturating_add(1);
            return None;
        }
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        let (tx, rx) = oneshot::channel();
        self.reading.push_back((id, tx));
        Some((id, rx))
    }

    /// Connection `id` has its request: it can no longer be evicted. `false` when it
    /// was evicted already (it must stop, and not call [`Slots::done`]).
    pub fn busy(&mut self, id: u64) -> bool {
        match self.reading.iter().position(|(i, _)| *i == id) {
            Some(pos) => {
                self.reading.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Connection `id` ended (not evicted): its slot is free.
    pub fn done(&mut self, id: u64, how: Outcome) {
        if let Some(pos) = self.reading.iter().position(|(i, _)| *i == id) {
            self.reading.remove(pos);
        }
        self.open = self.open.saturating_sub(1);
        match how {
            Outcome::Served => self.served = self.served.saturating_add(1),
            Outcome::TimedOut => self.timed_out = self.timed_out.saturating_add(1),
        }
    }

    /// Prometheus lines for `listener`.
    pub fn metrics(&self, listener: &str, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "pix_listener_connections_open{{listener=\"{listener}\"}} {}",
            self.open
        );
        for (result, n) in [
            ("served", self.served),
            ("evicted", self.evicted),
            ("refused", self.refused),
            ("timed_out", self.timed_out),
        ] {
            let _ = writeln!(
                out,
                "pix_listener_connections_total{{listener=\"{listener}\",result=\"{result}\"}} {n}"
            );
        }
    }
}

/// The `# HELP`/`# TYPE` lines of [`Slots::metrics`].
pub const METRICS_HELP: &str = "# HELP pix_listener_connections_open Connections open on the control socket and the metrics endpoint.\n# TYPE pix_listener_connections_open gauge\n# HELP pix_listener_connections_total Connections by how they ended: served, evicted (a newer one took the slot of one that had not sent its request), refused (every slot busy), timed_out.\n# TYPE pix_listener_connections_total counter\n";

/// The client: sends `words` to the gateway at `path` and copies the answer to stdout.
///
/// # Errors
/// One line when the gateway is not there.
pub fn client(path: &Path, words: &[String]) -> anyhow::Result<ExitCode> {
    let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the gateway's control socket {}: {e} (is `pix-gateway run` running? pass --control PATH if it uses another socket)",
            path.display()
        )
    })?;
    let line = words.join(" ");
    s.write_all(line.as_bytes())?;
    s.write_all(b"\n")?;
    let out = std::io::stdout();
    let mut out = out.lock();
    let r = BufReader::new(s);
    for l in r.lines() {
        let l = l?;
        writeln!(out, "{l}")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The socket path to use.
pub fn path(p: Option<PathBuf>) -> PathBuf {
    p.unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slots_evict_the_oldest_reader_and_refuse_when_all_are_busy() {
        let mut s = Slots::new(2);
        let (a, mut ea) = s.admit().unwrap();
        let (b, mut eb) = s.admit().unwrap();
        assert_eq!(s.open, 2);
        // full: the third takes the oldest reader's slot (a)
        let (c, mut ec) = s.admit().unwrap();
        assert_eq!((s.open, s.evicted), (2, 1));
        assert!(ea.try_recv().is_ok(), "a is told it was evicted");
        assert!(!s.busy(a), "an evicted connection cannot become busy");
        // b and c have their requests: nothing left to evict, the next is refused
        assert!(s.busy(b) && s.busy(c));
        assert!(s.admit().is_none());
        assert_eq!(s.refused, 1);
        assert!(eb.try_recv().is_err() && ec.try_recv().is_err());
        s.done(b, Outcome::Served);
        s.done(c, Outcome::TimedOut);
        assert_eq!((s.open, s.served, s.timed_out), (0, 1, 1));
        let mut text = String::new();
        s.metrics("x", &mut text);
        assert!(
            text.contains("pix_listener_connections_open{listener=\"x\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("{listener=\"x\",result=\"evicted\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn slots_stay_bounded_under_a_stream_of_idle_connections() {
        let mut s = Slots::new(16);
        let mut live = Vec::new();
        for _ in 0..1000 {
            live.push(s.admit().unwrap());
            assert!(s.open <= 16 && s.reading.len() <= 16);
        }
        assert_eq!(s.evicted, 1000 - 16);
        // a reader that times out frees its slot and leaves the eviction list
        let (id, _) = live.pop().unwrap();
        s.done(id, Outcome::TimedOut);
        assert_eq!((s.open, s.reading.len()), (15, 15));
    }

    #[test]
    fn stale_socket_removed_live_one_and_other_files_refused() {
        let d = std::env::temp_dir().join(format!("pgw-ctl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        let p = d.join("ctl.sock");
        remove_stale(&p).unwrap(); // nothing there
                                   // a regular file: refused and untouched
        std::fs::write(&p, b"keep me").unwrap();
        let e = remove_stale(&p).unwrap_err().to_string();
        assert!(
            e.contains("regular file") && e.contains("left alone"),
            "{e}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
        std::fs::remove_file(&p).unwrap();
        // a live socket: refused
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        let e = remove_stale(&p).unwrap_err().to_string();
        assert!(e.contains("in use"), "{e}");
        assert!(p.exists());
        // the same socket with nobody listening: removed
        drop(l);
        remove_stale(&p).unwrap();
        assert!(std::fs::symlink_metadata(&p).is_err());
        // a symlink to a stale socket: refused (lstat)
        let target = d.join("t.sock");
        drop(std::os::unix::net::UnixListener::bind(&target).unwrap());
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let e = remove_stale(&p).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bound_socket_is_0600_and_leaves_no_scratch_behind() {
        let d = std::env::temp_dir().join(format!("pgw-bind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        let p = d.join("ctl.sock");
        let (l, bound) = bind_private(&p).unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.mode() & 0o7777, 0o600);
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("ctl.sock")]);
        // the public name reaches the listener
        let _c = std::os::unix::net::UnixStream::connect(&p).unwrap();
        assert!(l.accept().is_ok());
        // a second bind while it listens: refused
        let e = bind_private(&p).unwrap_err().to_string();
        assert!(e.contains("in use"), "{e}");
        drop(bound);
        assert!(std::fs::symlink_metadata(&p).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
