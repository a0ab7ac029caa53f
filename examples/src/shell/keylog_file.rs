//! `--keylog FILE`: Wireshark key tables for every SA, so an admin can decrypt a capture
//! (`ikev1_decryption_table` for ISAKMP, `esp_sa` for ESP). Off by default; when on, the
//! gateway says so loudly at start, because the file decrypts everything it lists.

use std::fs::{File, Metadata};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The mode the keylog is created with, and the widest one a pre-existing keylog may have.
pub const MODE: u32 = 0o600;

/// Opens (creating it 0600 if missing) the keylog for appending.
///
/// `O_CREAT|O_APPEND|O_WRONLY|O_NOFOLLOW|O_CLOEXEC` with mode 0600: a symlink at `path`
/// is refused by the kernel (`ELOOP`), never followed. `O_NONBLOCK` keeps a FIFO planted
/// at `path` from blocking the start. The checks that follow run on the opened file
/// descriptor (`fstat`), not on the path, so nothing can be swapped in between: it must
/// be a regular file with one link, owned by the user we run as, and not readable or
/// writable by anyone else (mode at most 0600). A fresh file passes by construction; a
/// pre-existing one is appended to only when it passes.
///
/// # Errors
/// One line naming the file, what is wrong with it and what to do.
pub fn open(path: &Path) -> anyhow::Result<File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::ELOOP) {
                " (it is a symbolic link; the keylog is never written through one: pass the real path)"
            } else if e.raw_os_error() == Some(libc::ENXIO) {
                " (it is a FIFO or a device, not a regular file)"
            } else {
                ""
            };
            anyhow::anyhow!("cannot open keylog file {}: {e}{hint}", path.display())
        })?;
    let meta = f
        .metadata()
        .map_err(|e| anyhow::anyhow!("cannot fstat keylog file {}: {e}", path.display()))?;
    let uid = our_uid()?;
    check(&meta, uid).map_err(|why| {
        anyhow::anyhow!(
            "refusing keylog file {}: {why}; it would hold every IKE and ESP key: remove it or pass another --keylog path",
            path.display()
        )
    })?;
    Ok(f)
}

/// Why an opened keylog's `fstat` is not acceptable, or `Ok`.
///
/// # Errors
/// The reason, in words.
pub fn check(meta: &Metadata, our_uid: u32) -> Result<(), String> {
    let ft = meta.file_type();
    if !ft.is_file() {
        let what = if ft.is_symlink() {
            "a symbolic link"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(format!("it is {what}, not a regular file"));
    }
    check_owner_mode(meta.uid(), meta.mode(), meta.nlink(), our_uid)
}

/// The owner, mode and link-count part of [`check`], on plain numbers.
///
/// # Errors
/// The reason, in words.
pub fn check_owner_mode(uid: u32, mode: u32, nlink: u64, our_uid: u32) -> Result<(), String> {
    if uid != our_uid {
        return Err(format!(
            "it is owned by uid {uid}, not by uid {our_uid} that the gateway runs as"
        ));
    }
    let perm = mode & 0o7777;
    if perm & !MODE != 0 {
        return Err(format!(
            "its mode is {perm:04o}, wider than {MODE:04o} (chmod 600 it if it is yours)"
        ));
    }
    if nlink != 1 {
        return Err(format!(
            "it has {nlink} hard links; another name for it could be anywhere"
        ));
    }
    Ok(())
}

/// The file-system uid we run as (the one new files get): the fourth `Uid:` field of
/// `/proc/self/status` (real, effective, saved, file system). Read there because the
/// project forbids `unsafe` and `getuid(2)` has no safe std wrapper.
///
/// # Errors
/// When `/proc` is not mounted or the line is missing.
pub fn our_uid() -> anyhow::Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| anyhow::anyhow!("cannot read /proc/self/status to learn our uid: {e}"))?;
    parse_fs_uid(&status)
        .ok_or_else(|| anyhow::anyhow!("/proc/self/status has no readable `Uid:` line"))
}

/// The file-system uid from the text of `/proc/self/status`.
pub fn parse_fs_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pgw-keylog-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        d
    }

    #[test]
    fn fs_uid_is_the_fourth_field() {
        let s = "Name:\tx\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t5\t5\t5\n";
        assert_eq!(parse_fs_uid(s), Some(1003));
        assert_eq!(parse_fs_uid("Uid:\t1\t2\n"), None);
        assert_eq!(parse_fs_uid("Gid:\t1\t2\t3\t4\n"), None);
    }

    #[test]
    fn owner_mode_and_links_are_checked() {
        assert!(check_owner_mode(0, 0o100600, 1, 0).is_ok());
        assert!(check_owner_mode(0, 0o100400, 1, 0).is_ok());
        let e = check_owner_mode(0, 0o100644, 1, 0).unwrap_err();
        assert!(e.contains("0644"), "{e}");
        assert!(check_owner_mode(0, 0o100700, 1, 0).is_err());
        assert!(check_owner_mode(0, 0o104600, 1, 0).is_err());
        let e = check_owner_mode(1000, 0o100600, 1, 0).unwrap_err();
        assert!(e.contains("uid 1000"), "{e}");
        assert!(check_owner_mode(0, 0o100600, 2, 0).is_err());
    }

    #[test]
    fn new_file_is_0600_and_existing_ones_are_checked() {
        let d = tmp("open");
        let p = d.join("k");
        let mut f = open(&p).unwrap();
        std::io::Write::write_all(&mut f, b"one\n").unwrap();
        drop(f);
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.file_type().is_file());
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        // ours and 0600: appended
        let mut f = open(&p).unwrap();
        std::io::Write::write_all(&mut f, b"two\n").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        // wider: refused, untouched
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = open(&p).unwrap_err().to_string();
        assert!(
            e.contains("0644") && e.contains(&p.display().to_string()),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        // a symlink (even to a good file): refused
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let l = d.join("link");
        std::os::unix::fs::symlink(&p, &l).unwrap();
        let e = open(&l).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // a directory
        let e = open(&d).unwrap_err().to_string();
        assert!(e.contains("keylog"), "{e}");
        // a second hard link
        std::fs::hard_link(&p, d.join("hard")).unwrap();
        let e = open(&p).unwrap_err().to_string();
        assert!(e.contains("hard links"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
