//! Retention and disk pressure: RocketMQ's `CleanCommitLogService` and
//! `CleanConsumeQueueService`, plus the disk-full flag.
//!
//! Every `cleanResourceInterval` (10 s) a pass ([`RetentionService::run_once`]):
//!
//! 1. measures the partitions of the CommitLog and the ConsumeQueues, and
//!    sets the [`DiskState`] (full above `diskSpaceWarningLevelRatio`, 90 %;
//!    writable again at or below `diskSpaceCleanForciblyRatio`, 85 %);
//! 2. if the hour is one of `deleteWhen` ("04", or "04;05"), or usage is above
//!    `diskMaxUsedSpaceRatio` (75 %), or a manual deletion was requested,
//!    deletes the oldest CommitLog files last modified more than
//!    `fileReservedTime` (72 h) ago, oldest first, stopping at the first one
//!    that is not, at most `deleteFileBatchMax` (10) per pass and pausing
//!    `deleteCommitLogFilesInterval` (100 ms) between two; above 85 % (with
//!    `cleanFileForciblyEnable`) age does not matter. The newest (active)
//!    file is never deleted, nor any file past the dispatch guard;
//! 3. when the CommitLog's minimum offset has moved, deletes ConsumeQueue
//!    files wholly below it and corrects the queues' minimum offsets, then
//!    deletes index files ending below it.
//!
//! Appends never wait for retention: a file is taken out of the CommitLog's
//! file list under a short write lock (the append lock is not involved, and
//! only a file wholly before the active one qualifies), then unlinked with
//! no lock held. Readers holding views of it keep its mapping alive.
//!
//! Java's `destroyMapedFileIntervalForcibly` and `reDeleteHangedFile` have no
//! counterpart: a mapping lives exactly as long as its last `Arc`, so a file
//! in use can always be unlinked at once.
//!
//! `deleteWhen` hours are read in UTC by default ([`HourClock::Utc`]), like
//! the index-file names of this store; Java uses local time, which
//! [`HourClock::Local`] provides through `localtime_r`.

mod disk;
mod policy;
mod service;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use disk::{DiskState, DiskUsage, StatvfsUsage};
pub use service::{RetentionHandle, RetentionService};

use crate::config::MessageStoreConfig;
use crate::consume_queue::ConsumeQueueError;
use crate::error::StoreError;
use crate::index_file::IndexError;

/// Passes a manual deletion request triggers (`MAX_MANUAL_DELETE_FILE_TIMES`).
pub const MANUAL_DELETE_PASSES: u32 = 20;

/// Which clock `deleteWhen` hours are read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HourClock {
    /// Coordinated universal time: the same on every host.
    #[default]
    Utc,
    /// The host's local time zone (`TZ` or `/etc/localtime`), as Java reads it.
    Local,
}

/// Retention settings, from `MessageStoreConfig` or set directly by tests.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionOptions {
    /// A file is expired this long after its last modification (`fileReservedTime`).
    pub file_reserved_time: Duration,
    /// Hours of the day when expired files are deleted (`deleteWhen`).
    pub delete_hours: Vec<u32>,
    /// The clock `delete_hours` are read on.
    pub hour_clock: HourClock,
    /// Usage above which expired files are deleted at any hour (`diskMaxUsedSpaceRatio`).
    pub disk_max_used_ratio: f64,
    /// Usage above which unexpired files are deleted too (`diskSpaceCleanForciblyRatio`).
    pub clean_forcibly_ratio: f64,
    /// Usage above which the store refuses writes (`diskSpaceWarningLevelRatio`).
    pub warning_ratio: f64,
    /// Whether usage above `clean_forcibly_ratio` may delete unexpired files (`cleanFileForciblyEnable`).
    pub clean_file_forcibly_enable: bool,
    /// Period of the background pass (`cleanResourceInterval`).
    pub interval: Duration,
    /// Wait before the first background pass (Java: one minute).
    pub initial_delay: Duration,
    /// Pause between two CommitLog file deletions (`deleteCommitLogFilesInterval`).
    pub delete_files_interval: Duration,
    /// CommitLog files deleted per pass at most (`deleteFileBatchMax`).
    pub delete_file_batch_max: usize,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        Self::from_config(&MessageStoreConfig::default())
    }
}

impl RetentionOptions {
    /// The settings of `config`, with Java's getter clamps: `diskMaxUsedSpaceRatio`
    /// to 10–95 %, `diskSpaceCleanForciblyRatio` to 30–85 %,
    /// `diskSpaceWarningLevelRatio` to 35–90 %.
    pub fn from_config(config: &MessageStoreConfig) -> Self {
        let mut delete_hours = Vec::new();
        for token in config.delete_when.split(';') {
            match token.trim().parse::<u32>() {
                Ok(h) if h < 24 => delete_hours.push(h),
                _ => tracing::warn!(
                    delete_when = %config.delete_when,
                    token,
                    "ignoring a deleteWhen entry that is not an hour"
                ),
            }
        }
        let percent = |p: u32| f64::from(p) / 100.0;
        Self {
            file_reserved_time: Duration::from_secs(u64::from(config.file_reserved_time) * 3_600),
            delete_hours,
            hour_clock: HourClock::Utc,
            disk_max_used_ratio: percent(config.disk_max_used_space_ratio()),
            clean_forcibly_ratio: percent(config.disk_space_clean_forcibly_ratio).clamp(0.30, 0.85),
            warning_ratio: percent(config.disk_space_warning_level_ratio).clamp(0.35, 0.90),
            clean_file_forcibly_enable: config.clean_file_forcibly_enable,
            // A zero period would spin; Java's scheduler rejects it outright.
            interval: Duration::from_millis(config.clean_resource_interval.max(1)),
            initial_delay: Duration::from_secs(60),
            delete_files_interval: Duration::from_millis(config.delete_commit_log_files_interval),
            delete_file_batch_max: config.delete_file_batch_max,
        }
    }
}

/// Why part of a retention pass failed; the pass goes on with the rest.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The disk-usage probe failed for `path`.
    #[error("measuring disk usage of {}: {source}", path.display())]
    DiskUsage {
        /// The directory measured.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Inspecting or deleting a CommitLog file failed.
    #[error(transparent)]
    CommitLog(#[from] StoreError),
    /// Deleting ConsumeQueue files or correcting their minimum offsets failed.
    #[error(transparent)]
    ConsumeQueue(#[from] ConsumeQueueError),
    /// Deleting index files failed.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// What one pass saw and did.
#[derive(Debug, Default)]
pub struct RetentionReport {
    /// The hour was one of `deleteWhen`.
    pub time_up: bool,
    /// A manual deletion request was being served.
    pub manual: bool,
    /// Used ratio of the CommitLog's partition (`None` if the probe failed).
    pub commit_log_usage: Option<f64>,
    /// Used ratio of the ConsumeQueues' partition (`None` if the probe failed).
    pub consume_queue_usage: Option<f64>,
    /// Usage asked for deletion whatever the hour.
    pub space_to_delete: bool,
    /// Unexpired files were eligible (usage above the clean-forcibly ratio).
    pub clean_immediately: bool,
    /// The disk-full flag after the pass.
    pub disk_full: bool,
    /// The pass flipped the disk-full flag.
    pub disk_state_changed: bool,
    /// CommitLog files deleted, oldest first.
    pub deleted_commit_log_files: Vec<PathBuf>,
    /// The CommitLog's minimum offset before the pass.
    pub min_offset_before: i64,
    /// The CommitLog's minimum offset after the pass.
    pub min_offset_after: i64,
    /// ConsumeQueue files deleted.
    pub consume_queue_files_deleted: usize,
    /// Index files deleted.
    pub index_files_deleted: usize,
    /// What failed, in order.
    pub errors: Vec<RetentionError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_java_getters() {
        let mut c = MessageStoreConfig::with_root("/s");
        let o = RetentionOptions::from_config(&c);
        assert_eq!(o.file_reserved_time, Duration::from_secs(72 * 3_600));
        assert_eq!(o.delete_hours, [4]);
        assert_eq!(
            (
                o.disk_max_used_ratio,
                o.clean_forcibly_ratio,
                o.warning_ratio
            ),
            (0.75, 0.85, 0.90)
        );
        assert_eq!(o.interval, Duration::from_secs(10));
        assert_eq!(o.delete_file_batch_max, 10);
        c.delete_when = "04;05;x;24".to_owned();
        c.disk_max_used_space_ratio = 99;
        c.disk_space_clean_forcibly_ratio = 95;
        c.disk_space_warning_level_ratio = 10;
        c.clean_resource_interval = 0;
        let o = RetentionOptions::from_config(&c);
        assert_eq!(o.delete_hours, [4, 5]);
        assert_eq!(
            (
                o.disk_max_used_ratio,
                o.clean_forcibly_ratio,
                o.warning_ratio
            ),
            (0.95, 0.85, 0.35)
        );
        assert_eq!(o.interval, Duration::from_millis(1));
    }
}
