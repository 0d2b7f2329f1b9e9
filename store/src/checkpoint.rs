//! The `checkpoint` file (`StoreCheckpoint`) and the `abort` file.
//!
//! The checkpoint is 4096 bytes; the first 40 hold five big-endian i64s:
//! physicMsgTimestamp @0 (store time of the last flushed CommitLog record),
//! logicsMsgTimestamp @8 (ConsumeQueues), indexMsgTimestamp @16,
//! masterFlushedOffset @24 and confirmPhyOffset @32 (5.x). Setters only
//! change memory; [`StoreCheckpoint::flush`] writes and syncs the file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use crate::config::OS_PAGE_SIZE;
use crate::error::{Result, StoreError};

/// Bytes of the checkpoint file.
pub const CHECKPOINT_FILE_SIZE: usize = OS_PAGE_SIZE;
/// Bytes of the checkpoint that hold values.
const USED: usize = 40;

/// The checkpoint's values, shared by the flushers that advance them.
#[derive(Debug)]
pub struct StoreCheckpoint {
    path: PathBuf,
    file: File,
    physic_msg_timestamp: AtomicI64,
    logics_msg_timestamp: AtomicI64,
    index_msg_timestamp: AtomicI64,
    master_flushed_offset: AtomicI64,
    confirm_phy_offset: AtomicI64,
}

macro_rules! accessors {
    ($($field:ident, $set:ident, $what:literal;)*) => {$(
        #[doc = concat!("The ", $what, ".")]
        pub fn $field(&self) -> i64 {
            self.$field.load(Ordering::Acquire)
        }
        #[doc = concat!("Sets the ", $what, " (in memory until the next flush).")]
        pub fn $set(&self, value: i64) {
            self.$field.store(value, Ordering::Release);
        }
    )*};
}

impl StoreCheckpoint {
    /// Opens `path`, reading its values if it exists, else creating it (zeroed, 4096 bytes).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create dir", dir, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io("open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| StoreError::io("stat", &path, e))?
            .len();
        let mut head = [0u8; USED];
        // A short file (e.g. a 4.x checkpoint cut short) reads as zeros past its end.
        let have = (len as usize).min(USED);
        file.read_exact_at(&mut head[..have], 0)
            .map_err(|e| StoreError::io("read", &path, e))?;
        if len < CHECKPOINT_FILE_SIZE as u64 {
            file.set_len(CHECKPOINT_FILE_SIZE as u64)
                .map_err(|e| StoreError::io("create", &path, e))?;
        }
        let at = |i: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(&head[i * 8..i * 8 + 8]);
            AtomicI64::new(i64::from_be_bytes(v))
        };
        Ok(Self {
            physic_msg_timestamp: at(0),
            logics_msg_timestamp: at(1),
            index_msg_timestamp: at(2),
            master_flushed_offset: at(3),
            confirm_phy_offset: at(4),
            path,
            file,
        })
    }

    accessors! {
        physic_msg_timestamp, set_physic_msg_timestamp, "store time of the last flushed CommitLog record";
        logics_msg_timestamp, set_logics_msg_timestamp, "store time of the last flushed ConsumeQueue entry";
        index_msg_timestamp, set_index_msg_timestamp, "store time of the last flushed IndexFile entry";
        master_flushed_offset, set_master_flushed_offset, "master's flushed offset when this replica started";
        confirm_phy_offset, set_confirm_phy_offset, "confirmed CommitLog offset (controller mode)";
    }

    /// `min(physic, logics) − 3000 ms`, floored at 0: where crash recovery starts looking.
    pub fn min_timestamp(&self) -> i64 {
        (self.physic_msg_timestamp().min(self.logics_msg_timestamp()) - 3000).max(0)
    }

    /// [`min_timestamp`](Self::min_timestamp) also bounded by the index timestamp.
    pub fn min_timestamp_index(&self) -> i64 {
        self.min_timestamp().min(self.index_msg_timestamp())
    }

    /// Writes the values and syncs the file.
    pub fn flush(&self) -> Result<()> {
        let mut head = [0u8; USED];
        let values = [
            self.physic_msg_timestamp(),
            self.logics_msg_timestamp(),
            self.index_msg_timestamp(),
            self.master_flushed_offset(),
            self.confirm_phy_offset(),
        ];
        for (slot, v) in head.chunks_exact_mut(8).zip(values) {
            slot.copy_from_slice(&v.to_be_bytes());
        }
        self.file
            .write_all_at(&head, 0)
            .map_err(|e| StoreError::io("write", &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| StoreError::io("flush", &self.path, e))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates the `abort` file holding this process's PID and, on a second
/// line, the kernel's boot id; present at the next start, it means the store
/// did not shut down cleanly (Java only looks at whether it exists).
pub fn create_abort_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create dir", dir, e))?;
    }
    let text = format!(
        "{}\n{}\n",
        std::process::id(),
        boot_id().unwrap_or_default()
    );
    let mut file = File::create(path).map_err(|e| StoreError::io("create", path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io("write", path, e))
}

/// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), new at every
/// boot; `None` where it cannot be read.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Whether the `abort` file was written since the current boot: then the
/// unclean exit was the process's alone, and everything it had written to
/// its files, through mappings too, is still in the page cache (on its way
/// to the disk) though never synced. False when unsure (no boot id either
/// side, an `abort` file of an older version or of Java).
pub fn abort_file_from_this_boot(path: &Path) -> bool {
    let (Ok(text), Some(now)) = (std::fs::read_to_string(path), boot_id()) else {
        return false;
    };
    text.lines().nth(1).map(str::trim) == Some(now.as_str())
}

/// Whether the `abort` file exists (the last run did not shut down cleanly).
pub fn abort_file_exists(path: &Path) -> bool {
    path.exists()
}

/// Deletes the `abort` file on clean shutdown (absent is fine).
pub fn remove_abort_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError::io("delete", path, e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_store_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/checkpoint");
        let cp = StoreCheckpoint::open(&path).unwrap();
        assert_eq!(cp.physic_msg_timestamp(), 0);
        cp.set_physic_msg_timestamp(0x0102_0304_0506_0708);
        cp.set_logics_msg_timestamp(5000);
        cp.set_index_msg_timestamp(1000);
        cp.set_master_flushed_offset(24);
        cp.set_confirm_phy_offset(-1);
        assert_eq!(cp.min_timestamp(), 2000);
        assert_eq!(cp.min_timestamp_index(), 1000);
        cp.flush().unwrap();
        drop(cp);
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(raw.len(), 4096);
        assert_eq!(raw[..8], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(raw[8..16], 5000i64.to_be_bytes());
        assert_eq!(raw[24..32], 24i64.to_be_bytes());
        assert_eq!(raw[32..40], [0xFF; 8]);
        let cp = StoreCheckpoint::open(&path).unwrap();
        assert_eq!(
            (cp.logics_msg_timestamp(), cp.confirm_phy_offset()),
            (5000, -1)
        );
    }

    #[test]
    fn short_checkpoint_reads_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint");
        std::fs::write(&path, 7i64.to_be_bytes()).unwrap();
        let cp = StoreCheckpoint::open(&path).unwrap();
        assert_eq!(
            (cp.physic_msg_timestamp(), cp.logics_msg_timestamp()),
            (7, 0)
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
    }

    #[test]
    fn abort_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abort");
        assert!(!abort_file_exists(&path));
        create_abort_file(&path).unwrap();
        assert!(abort_file_exists(&path));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(std::process::id().to_string().as_str())
        );
        if boot_id().is_some() {
            assert!(abort_file_from_this_boot(&path));
        }
        // Another boot's, or an older version's (PID only): unsure.
        std::fs::write(&path, "1\nanother-boot\n").unwrap();
        assert!(!abort_file_from_this_boot(&path));
        std::fs::write(&path, "1").unwrap();
        assert!(!abort_file_from_this_boot(&path));
        remove_abort_file(&path).unwrap();
        remove_abort_file(&path).unwrap();
        assert!(!abort_file_exists(&path));
    }
}
