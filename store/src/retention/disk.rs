//! Measuring disk usage, and the disk-full flag puts are checked against.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::StoreError;

/// Measures how full the partition holding a path is: the seam tests use to
/// simulate a filling disk.
pub trait DiskUsage: Send + Sync + std::fmt::Debug {
    /// Fraction (0.0–1.0) of the partition holding `path` that is in use.
    fn used_ratio(&self, path: &Path) -> io::Result<f64>;
}

/// The real [`DiskUsage`]: `statvfs(2)`, computed as `UtilAll.getDiskPartitionSpaceUsedPercent`.
///
/// Used space is `total − free`; it is divided by `used + available to
/// unprivileged users` (so blocks reserved for root count as unusable, as in
/// `df`) and rounded *up* to a whole percent. A path that does not exist yet
/// is measured at its nearest existing ancestor: the partition it will live on.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatvfsUsage;

impl DiskUsage for StatvfsUsage {
    fn used_ratio(&self, path: &Path) -> io::Result<f64> {
        let mut at = path;
        loop {
            match statvfs_ratio(at) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match at.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                    _ => return Err(e),
                },
                other => return other,
            }
        }
    }
}

/// The used ratio of the partition holding the existing `path`.
fn statvfs_ratio(path: &Path) -> io::Result<f64> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `statvfs` is plain data for which all-zero bytes are valid.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a NUL-terminated string and `st` a valid out
    // pointer, both live for the call, which keeps neither.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    let (frsize, blocks, bfree, bavail) = (
        u128::from(st.f_frsize),
        u128::from(st.f_blocks),
        u128::from(st.f_bfree),
        u128::from(st.f_bavail),
    );
    let used = blocks.saturating_sub(bfree) * frsize;
    let entire = used + bavail * frsize;
    if blocks == 0 || entire == 0 {
        return Err(io::Error::other("the partition reports no space"));
    }
    let percent = (used * 100).div_ceil(entire);
    Ok(percent as f64 / 100.0)
}

/// Whether the store may accept writes as far as disk space goes
/// (`RunningFlags`' `DISK_FULL` bit); cheap to clone and to check per put.
///
/// Retention sets it when usage passes `diskSpaceWarningLevelRatio` and
/// clears it when usage is back at or below `diskSpaceCleanForciblyRatio`.
/// Reads are never refused for it.
#[derive(Debug, Clone, Default)]
pub struct DiskState {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    full: AtomicBool,
    /// The directory whose partition was found full, for error messages.
    path: Mutex<PathBuf>,
}

impl DiskState {
    /// A writable state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether puts may proceed.
    pub fn is_writable(&self) -> bool {
        !self.is_full()
    }

    /// Whether the disk counts as full.
    pub fn is_full(&self) -> bool {
        self.inner.full.load(Ordering::Acquire)
    }

    /// `Ok` when writable, else [`StoreError::DiskFull`], whose
    /// [`put_status`](StoreError::put_status) is `SERVICE_NOT_AVAILABLE`.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        if self.is_writable() {
            return Ok(());
        }
        let path = self
            .inner
            .path
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Err(StoreError::DiskFull { path })
    }

    /// Sets the flag (recording `path` when it becomes full); returns whether it changed.
    pub fn set_full(&self, full: bool, path: &Path) -> bool {
        if full {
            // The path first, so a put refused after the swap names it.
            *self
                .inner
                .path
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = path.to_path_buf();
        }
        self.inner.full.swap(full, Ordering::AcqRel) != full
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PutMessageStatus;

    #[test]
    fn statvfs_measures_a_real_partition() {
        let dir = tempfile::tempdir().unwrap();
        let r = StatvfsUsage.used_ratio(dir.path()).unwrap();
        assert!((0.0..=1.0).contains(&r), "{r}");
        // Not created yet: measured where it would live.
        let later = dir.path().join("consumequeue").join("x");
        assert!((0.0..=1.0).contains(&StatvfsUsage.used_ratio(&later).unwrap()));
        // Whole percent, rounded up.
        assert_eq!((r * 100.0).round() / 100.0, r);
    }

    #[test]
    fn disk_state_flips_and_reports() {
        let s = DiskState::new();
        let seen = s.clone();
        assert!(s.is_writable() && s.check_writable().is_ok());
        assert!(s.set_full(true, Path::new("/data/commitlog")));
        assert!(!s.set_full(true, Path::new("/data/commitlog")));
        assert!(!seen.is_writable());
        let err = seen.check_writable().unwrap_err();
        assert_eq!(err.put_status(), PutMessageStatus::ServiceNotAvailable);
        assert!(err.to_string().contains("/data/commitlog"));
        assert!(s.set_full(false, Path::new("/data/commitlog")));
        assert!(seen.is_writable());
    }
}
