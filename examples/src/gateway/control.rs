//! The control socket: a Unix stream socket (mode 0600) that takes one command line and
//! answers in the PIX's words. `show ...` and `clear ...` answer and close; `debug crypto
//! isakmp|ipsec` keeps streaming debug lines until the client goes away.
//!
//! `pix-gateway show crypto isakmp sa` is the client side: it connects, sends the words
//! and copies the answer to stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::DebugKind;

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

/// Binds the socket (replacing a stale one) and serves connections on the current
/// tokio runtime.
///
/// # Errors
/// One line saying what and how to fix it.
pub fn listen(path: &Path, tx: mpsc::Sender<ControlMsg>) -> anyhow::Result<()> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "control socket {} is in use: another pix-gateway runs; stop it or pass --control PATH",
                path.display()
            );
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the control socket {}: {e} (pass --control PATH to put it elsewhere)",
            path.display()
        )
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = serve_one(stream, tx).await;
            });
        }
    });
    Ok(())
}

async fn serve_one(
    stream: tokio::net::UnixStream,
    tx: mpsc::Sender<ControlMsg>,
) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r).take(MAX_LINE as u64);
    let mut line = String::new();
    r.read_line(&mut line).await?;
    let line = line.trim().to_string();
    let lower = line.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.first() == Some(&"debug") {
        let kinds = match words.as_slice() {
            ["debug", "crypto", "isakmp", ..] => vec![DebugKind::Isakmp],
            ["debug", "crypto", "ipsec", ..] => vec![DebugKind::Ipsec],
            ["debug", "crypto"] | ["debug", "all"] => vec![DebugKind::Isakmp, DebugKind::Ipsec],
            _ => {
                w.write_all(b"% Usage: debug crypto isakmp | debug crypto ipsec\n")
                    .await?;
                return Ok(());
            }
        };
        let (dtx, mut drx) = mpsc::channel::<String>(1024);
        if tx.send(ControlMsg::Subscribe(kinds, dtx)).await.is_err() {
            return Ok(());
        }
        while let Some(l) = drx.recv().await {
            w.write_all(l.as_bytes()).await?;
            w.write_all(b"\n").await?;
        }
        return Ok(());
    }
    let (otx, orx) = oneshot::channel();
    if tx.send(ControlMsg::Command(line, otx)).await.is_err() {
        return Ok(());
    }
    if let Ok(answer) = orx.await {
        w.write_all(answer.as_bytes()).await?;
    }
    w.shutdown().await
}

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
