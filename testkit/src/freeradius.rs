//! A private FreeRADIUS 3 configuration for a test: the Debian configuration
//! (`/etc/freeradius/3.0`) copied into the test's own directory, with its log and
//! run directories there too, no switch to the `freerad` user, and the default
//! site listening on the test's address and ports. The caller adds its clients
//! and users (with [`edit`]) and starts `freeradius -X -l stdout -d <raddb>`
//! under `timeout`, then waits for [`READY`] in its output.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The line `freeradius -X` prints once it listens.
pub const READY: &str = "Ready to process requests";

/// Edits a file in place.
pub fn edit(path: &Path, f: impl Fn(&str) -> String) {
    let s =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    std::fs::write(path, f(&s)).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// [`copy_config_stock`], then [`send_message_authenticator`]: what our RADIUS
/// client needs by default (it refuses replies without a Message-Authenticator).
pub fn copy_config(dir: &Path, log: &str, run: &str) -> PathBuf {
    let raddb = copy_config_stock(dir, log, run);
    send_message_authenticator(&raddb);
    raddb
}

/// Makes the default site put a Message-Authenticator (RFC 3579) in every
/// Access-Accept, Access-Reject and Access-Challenge: FreeRADIUS before 3.2.5
/// (Debian 12 ships 3.2.1) sends one only in EAP replies, and a reply without it
/// can be forged (Blast-RADIUS, CVE-2024-3596). This is the line an operator adds
/// to the `authorize` section of `sites-enabled/default`:
/// `update reply { &Message-Authenticator := 0x00 }` (the server computes it).
pub fn send_message_authenticator(raddb: &Path) {
    edit(&raddb.join("sites-enabled/default"), |s| {
        let mut done = false;
        let out: Vec<String> = s
            .lines()
            .map(|l| {
                if !done && l.trim_end() == "authorize {" {
                    done = true;
                    format!("{l}\n\tupdate reply {{\n\t\t&Message-Authenticator := 0x00\n\t}}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(done, "sites-enabled/default has no `authorize {{` section");
        out.join("\n")
    });
}

/// Copies `/etc/freeradius/3.0` to `<dir>/raddb` and points `radiusd.conf` at
/// `<dir>/<log>`, `<dir>/<run>` (both created) and the copy, without the
/// `user`/`group` switch. Fails the test (never skips) when FreeRADIUS's
/// configuration is not installed. Returns the raddb path.
pub fn copy_config_stock(dir: &Path, log: &str, run: &str) -> PathBuf {
    let raddb = dir.join("raddb");
    let st = Command::new("cp")
        .args(["-a", "/etc/freeradius/3.0"])
        .arg(&raddb)
        .status()
        .expect("cp");
    assert!(
        st.success(),
        "copying /etc/freeradius/3.0 failed: scripts/deps.sh installs freeradius"
    );
    std::fs::create_dir_all(dir.join(log)).unwrap();
    std::fs::create_dir_all(dir.join(run)).unwrap();
    let root = dir.to_str().unwrap().to_string();
    edit(&raddb.join("radiusd.conf"), |s| {
        s.lines()
            .map(|l| {
                let t = l.trim_start();
                if t.starts_with("logdir =") {
                    format!("logdir = {root}/{log}")
                } else if t.starts_with("run_dir =") {
                    format!("run_dir = {root}/{run}")
                } else if t.starts_with("raddbdir =") {
                    format!("raddbdir = {root}/raddb")
                } else if t.starts_with("user = freerad") || t.starts_with("group = freerad") {
                    format!("#{l}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    raddb
}

/// Makes the default site listen on `addr` only: every listener (auth, acct, and
/// the two former IPv6 ones) moves to `addr`, on ports `first_port`,
/// `first_port + 1`, ... in file order.
pub fn listen_on(raddb: &Path, addr: &str, first_port: u16) {
    edit(&raddb.join("sites-enabled/default"), |s| {
        let mut port = first_port;
        s.lines()
            .map(|l| {
                let t = l.trim_start();
                if t.starts_with("ipaddr = *") || t.starts_with("ipv6addr = ::") {
                    format!("\tipaddr = {addr}")
                } else if t.starts_with("port = 0") {
                    let line = format!("\tport = {port}");
                    port += 1;
                    line
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
}
