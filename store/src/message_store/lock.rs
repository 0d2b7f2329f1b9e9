//! The store directory's lock, taken as Java's `DefaultMessageStore` does.
//!
//! Java opens `<storePathRootDir>/lock` and takes
//! `FileChannel.tryLock(0, 1, false)`: on Linux an `fcntl(F_SETLK)` write
//! lock on byte 0. This takes the same lock, so a Skylark store and a Java
//! broker exclude each other on one directory (a `flock` would not: the two
//! lock kinds are independent), then writes `lock` into the file as Java does.
//!
//! `fcntl` locks belong to the process: a second store in the same process
//! would be granted the lock again, and closing *any* descriptor of the file
//! in the process releases it. So stores of one process also register the
//! canonical lock path in a process-wide set, checked before the file is even
//! opened; a second open fails with [`StoreError::Locked`] without touching
//! (and so without releasing) the lock. Nothing else in the process should
//! open the `lock` file while a store holds it.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{Result, StoreError};

/// Canonical paths of the lock files this process holds.
static HELD: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn held() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    // The set is updated in single steps; poisoning leaves it whole.
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The held lock on a store directory; released when dropped.
#[derive(Debug)]
pub(super) struct StoreLock {
    /// Canonical path, as registered in the process-wide set.
    path: PathBuf,
    /// The descriptor the `fcntl` lock hangs on (`Option` only so drop can close it first).
    file: Option<File>,
}

impl StoreLock {
    /// Takes the lock on `path` (`<root>/lock`), failing at once with
    /// [`StoreError::Locked`] if this or another process holds it.
    pub(super) fn take(path: &Path) -> Result<Self> {
        let canonical = canonical(path)?;
        let mut held = held();
        let set = held.get_or_insert_with(HashSet::new);
        if set.contains(&canonical) {
            return Err(locked(path, "this process"));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&canonical)
            .map_err(|e| StoreError::io("open", path, e))?;
        match try_write_lock(&file) {
            Ok(true) => {}
            Ok(false) => return Err(locked(path, "another process")),
            Err(e) => return Err(StoreError::io("lock", path, e)),
        }
        // As Java: the 4 bytes "lock" at the start, forced to disk.
        file.write_all_at(b"lock", 0)
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::io("write", path, e))?;
        set.insert(canonical.clone());
        tracing::debug!(path = %canonical.display(), "store directory locked");
        Ok(Self {
            path: canonical,
            file: Some(file),
        })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Closing releases the fcntl lock; only then may this process take it
        // again (a new lock taken before the close would be released by it).
        let mut held = held();
        drop(self.file.take());
        if let Some(set) = held.as_mut() {
            set.remove(&self.path);
        }
    }
}

fn locked(path: &Path, holder: &str) -> StoreError {
    tracing::warn!(path = %path.display(), holder, "store directory is locked");
    StoreError::Locked {
        path: path.to_path_buf(),
    }
}

/// `path` with its directory resolved (the file itself may not exist yet).
fn canonical(path: &Path) -> Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or(StoreError::InvalidConfig("the lock path must name a file"))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| StoreError::io("resolve", dir, e))?;
    Ok(dir.join(name))
}

/// A `struct flock` for a write lock (or a query of one) on byte 0.
fn byte_zero(kind: libc::c_short) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers, for which all-zero
    // bytes are a valid value; zeroing also covers platform padding fields.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 1;
    fl
}

/// `fcntl(F_SETLK)` write lock on byte 0 (Java's `tryLock(0, 1, false)`);
/// false if another process holds a conflicting lock.
fn try_write_lock(file: &File) -> io::Result<bool> {
    let fl = byte_zero(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_SETLK takes a pointer to a `struct flock`, which `fl` is and
    // which outlives the call; the kernel only reads it. The descriptor is
    // open (borrowed from `file`).
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(err),
    }
}

/// The process holding a write lock on byte 0 of `file` that would block
/// this process, if any (`fcntl(F_GETLK)`; never reports this process's own).
#[cfg(test)]
fn write_lock_holder(file: &File) -> io::Result<Option<libc::pid_t>> {
    let mut fl = byte_zero(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_GETLK takes a pointer to a `struct flock`, which `fl` is and
    // which outlives the call; the kernel writes the conflicting lock into it.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fl.l_type != libc::F_UNLCK as libc::c_short).then_some(fl.l_pid))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::process::Command;

    use super::*;

    /// Set in the child process [`seen_from_another_process`] starts.
    const PROBE_ENV: &str = "SKYLARK_STORE_LOCK_PROBE";

    #[test]
    fn second_take_in_process_fails_and_release_allows_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = StoreLock::take(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"lock");
        // Another spelling of the same file is the same lock.
        let other = dir.path().join(".").join("lock");
        assert!(matches!(
            StoreLock::take(&other),
            Err(StoreError::Locked { .. })
        ));
        drop(first);
        let again = StoreLock::take(&path).unwrap();
        drop(again);
    }

    #[test]
    fn seen_from_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = StoreLock::take(&path).unwrap();
        let test = concat!(module_path!(), "::child_probe");
        let test = test.split_once("::").map_or(test, |(_, t)| t);
        let out = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(PROBE_ENV, &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
        assert!(
            stdout.contains("1 passed") && stderr.contains("probe: locked"),
            "the probe did not run: {stdout}\n{stderr}"
        );
        drop(held);
    }

    /// Runs only in the child of [`seen_from_another_process`]: the lock
    /// must be visible to `F_GETLK` as the parent's write lock, and refused
    /// to both `F_SETLK` (what Java does) and [`StoreLock::take`].
    #[test]
    fn child_probe() {
        let Some(path) = std::env::var_os(PROBE_ENV) else {
            return;
        };
        let path = PathBuf::from(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let parent = libc::pid_t::try_from(std::os::unix::process::parent_id()).unwrap();
        assert_eq!(write_lock_holder(&file).unwrap(), Some(parent));
        assert!(!try_write_lock(&file).unwrap());
        drop(file);
        assert!(matches!(
            StoreLock::take(&path),
            Err(StoreError::Locked { .. })
        ));
        eprintln!("probe: locked by {parent}");
    }
}
