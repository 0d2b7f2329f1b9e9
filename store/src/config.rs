//! Store configuration: RocketMQ's `MessageStoreConfig` keys and defaults,
//! and the paths of the files under `storePathRootDir`.
//!
//! Keys are spelled as in `broker.conf` (camelCase, Java's field names, typos
//! included); missing keys take RocketMQ's defaults and unknown keys are
//! ignored, so a whole broker config can be deserialized into this struct.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bytes of one ConsumeQueue entry (offset i64, size i32, tags code i64).
pub const CQ_STORE_UNIT_SIZE: usize = 20;
/// The page size RocketMQ counts flush progress in (`OS_PAGE_SIZE`).
pub const OS_PAGE_SIZE: usize = 4096;
/// Default `warmWindowSizeCommitLog`: 16 MiB, ~14 ms of appends at 1.2 GB/s
/// (store/BENCHMARKS.md has the measurements behind it).
pub const DEFAULT_WARM_WINDOW: usize = 16 << 20;

/// When the CommitLog is forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum FlushDiskType {
    /// A background thread flushes every `flushIntervalCommitLog` ms.
    #[default]
    #[serde(rename = "ASYNC_FLUSH")]
    AsyncFlush,
    /// Puts complete after a (group-committed) flush covering them.
    #[serde(rename = "SYNC_FLUSH")]
    SyncFlush,
}

/// The broker's role in its replica group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum BrokerRole {
    /// A master that does not wait for replicas.
    #[default]
    #[serde(rename = "ASYNC_MASTER")]
    AsyncMaster,
    /// A master whose puts wait for an in-sync replica.
    #[serde(rename = "SYNC_MASTER")]
    SyncMaster,
    /// A replica.
    #[serde(rename = "SLAVE")]
    Slave,
}

/// `MessageStoreConfig`: the keys the store reads, with RocketMQ's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageStoreConfig {
    /// Root of every store file (default `~/store`).
    pub store_path_root_dir: PathBuf,
    /// CommitLog directory; `None` means `<root>/commitlog`.
    pub store_path_commit_log: Option<PathBuf>,
    /// Size of each CommitLog file (1 GiB).
    pub mapped_file_size_commit_log: usize,
    /// Size of each ConsumeQueue file (300 000 entries × 20 bytes).
    pub mapped_file_size_consume_queue: usize,
    /// Sync or async flushing of the CommitLog.
    pub flush_disk_type: FlushDiskType,
    /// The broker's replication role.
    pub broker_role: BrokerRole,
    /// Async flush period in ms (500).
    pub flush_interval_commit_log: u64,
    /// Async flush waits for this many dirty pages (4).
    pub flush_commit_log_least_pages: usize,
    /// Async flush flushes everything at least this often, in ms (10 000).
    pub flush_commit_log_thorough_interval: u64,
    /// Async flush sleeps its full period instead of waking on puts (true).
    pub flush_commit_log_timed: bool,
    /// A sync-flush put waits at most this long, in ms (5000).
    pub sync_flush_timeout: u64,
    /// ConsumeQueue flush period in ms (1000).
    pub flush_interval_consume_queue: u64,
    /// ConsumeQueue flush waits for this many dirty pages (2).
    pub flush_consume_queue_least_pages: usize,
    /// ConsumeQueue full flush period in ms (60 000).
    pub flush_consume_queue_thorough_interval: u64,
    /// Largest record accepted, in bytes (4 MiB).
    pub max_message_size: usize,
    /// Verify body CRCs while recovering (true).
    #[serde(rename = "checkCRCOnRecover")]
    pub check_crc_on_recover: bool,
    /// Pre-fault every page of each new CommitLog file in the background
    /// (false, as in RocketMQ).
    ///
    /// True makes appends fault-free from a file's first byte, at the cost
    /// of the whole file (1 GiB) in memory and ~0.2–0.6 s of CPU per file,
    /// whether or not it is ever written. False (the default) leaves new
    /// files untouched, their blocks reserved by `fallocate`, and relies on
    /// `warmWindowSizeCommitLog`.
    pub warm_maped_file_enable: bool,
    /// Bytes past the CommitLog write position a background thread keeps
    /// resident and writable (16 MiB; 0: none). Skylark's own key: memory
    /// grows with the data written plus this, and appends rarely fault as
    /// long as the thread keeps ahead of the writer.
    pub warm_window_size_commit_log: usize,
    /// Hours a CommitLog file is kept (72).
    pub file_reserved_time: u32,
    /// Hours of the day (`"04"`, or `"04;05"`) when expired files are deleted.
    pub delete_when: String,
    /// Disk usage (%) above which old files are deleted regardless of age (75).
    pub disk_max_used_space_ratio: u32,
    /// Disk usage (%) above which files are deleted forcibly (85).
    pub disk_space_clean_forcibly_ratio: u32,
    /// Disk usage (%) above which the store refuses writes (90).
    pub disk_space_warning_level_ratio: u32,
    /// Delete expired files even when the disk is not full (true).
    pub clean_file_forcibly_enable: bool,
    /// Period of the clean-up task in ms (10 000).
    pub clean_resource_interval: u64,
    /// Pause between two file deletions in ms (100).
    pub delete_commit_log_files_interval: u64,
    /// Files deleted per clean-up round at most (10).
    pub delete_file_batch_max: usize,
    /// A file still in use is deleted anyway after this many ms (120 000).
    pub destroy_maped_file_interval_forcibly: u64,
    /// Build the IndexFile (true).
    pub message_index_enable: bool,
    /// Hash slots per IndexFile (5 000 000).
    pub max_hash_slot_num: usize,
    /// Entries per IndexFile (20 000 000).
    pub max_index_num: usize,
    /// Keep the whole index in step with the CommitLog on recovery (false).
    pub message_index_safe: bool,
    /// Most messages one query returns (32).
    pub default_query_max_num: usize,
    /// Port replicas connect to (10912).
    pub ha_listen_port: u16,
    /// A replica further behind than this many bytes is not in sync (256 MiB).
    pub ha_max_gap_not_in_sync: u64,
    /// Bytes per replication chunk (32 KiB).
    pub ha_transfer_batch_size: usize,
    /// A SYNC_MASTER put waits at most this long for a replica, in ms (3000).
    pub slave_timeout: u64,
    /// Pick record version v2 for topics longer than 127 bytes (true).
    pub auto_message_version_on_topic_len: bool,
    /// Keep transaction-state duplicates on recovery (false).
    pub duplication_enable: bool,
    /// A pull from page cache returns at most this many bytes (256 KiB).
    pub max_transfer_bytes_on_message_in_memory: usize,
    /// A pull from page cache returns at most this many messages (32).
    pub max_transfer_count_on_message_in_memory: usize,
    /// A pull from disk returns at most this many bytes (64 KiB).
    pub max_transfer_bytes_on_message_in_disk: usize,
    /// A pull from disk returns at most this many messages (8).
    pub max_transfer_count_on_message_in_disk: usize,
    /// Data within this % of RAM from the CommitLog end counts as in memory (40).
    pub access_message_in_memory_max_ratio: u32,
    /// A pull scans at most this many ConsumeQueue bytes for matches (16 000).
    pub max_filter_message_size: usize,
    /// A slave corrects consumers' out-of-range offsets too (false).
    pub offset_check_in_slave: bool,
    /// Delay of each level, e.g. `"1s 5s 10s … 2h"`.
    pub message_delay_level: String,
}

impl Default for MessageStoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self {
            store_path_root_dir: home.join("store"),
            store_path_commit_log: None,
            mapped_file_size_commit_log: 1024 * 1024 * 1024,
            mapped_file_size_consume_queue: 300_000 * CQ_STORE_UNIT_SIZE,
            flush_disk_type: FlushDiskType::AsyncFlush,
            broker_role: BrokerRole::AsyncMaster,
            flush_interval_commit_log: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval: 10_000,
            flush_commit_log_timed: true,
            sync_flush_timeout: 5000,
            flush_interval_consume_queue: 1000,
            flush_consume_queue_least_pages: 2,
            flush_consume_queue_thorough_interval: 60_000,
            max_message_size: 4 * 1024 * 1024,
            check_crc_on_recover: true,
            warm_maped_file_enable: false,
            warm_window_size_commit_log: DEFAULT_WARM_WINDOW,
            file_reserved_time: 72,
            delete_when: "04".to_owned(),
            disk_max_used_space_ratio: 75,
            disk_space_clean_forcibly_ratio: 85,
            disk_space_warning_level_ratio: 90,
            clean_file_forcibly_enable: true,
            clean_resource_interval: 10_000,
            delete_commit_log_files_interval: 100,
            delete_file_batch_max: 10,
            destroy_maped_file_interval_forcibly: 120_000,
            message_index_enable: true,
            max_hash_slot_num: 5_000_000,
            max_index_num: 5_000_000 * 4,
            message_index_safe: false,
            default_query_max_num: 32,
            ha_listen_port: 10912,
            ha_max_gap_not_in_sync: 256 * 1024 * 1024,
            ha_transfer_batch_size: 32 * 1024,
            slave_timeout: 3000,
            auto_message_version_on_topic_len: true,
            duplication_enable: false,
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_disk: 64 * 1024,
            max_transfer_count_on_message_in_disk: 8,
            access_message_in_memory_max_ratio: 40,
            max_filter_message_size: 16_000,
            offset_check_in_slave: false,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .to_owned(),
        }
    }
}

impl MessageStoreConfig {
    /// A default config rooted at `root`.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self {
            store_path_root_dir: root.into(),
            ..Self::default()
        }
    }

    /// The CommitLog directory (`storePathCommitLog`, else `<root>/commitlog`).
    pub fn commit_log_dir(&self) -> PathBuf {
        self.store_path_commit_log
            .clone()
            .unwrap_or_else(|| self.store_path_root_dir.join("commitlog"))
    }

    /// `<root>/consumequeue`.
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("consumequeue")
    }

    /// `<root>/index`.
    pub fn index_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("index")
    }

    /// `<root>/checkpoint`.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.store_path_root_dir.join("checkpoint")
    }

    /// `<root>/abort`, present while the store runs (and after a crash).
    pub fn abort_path(&self) -> PathBuf {
        self.store_path_root_dir.join("abort")
    }

    /// `<root>/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.store_path_root_dir.join("lock")
    }

    /// `<root>/config`, home of `topics.json`, `consumerOffset.json`, ...
    pub fn config_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("config")
    }

    /// ConsumeQueue file size rounded up to whole entries, as Java's getter does.
    pub fn consume_queue_file_size(&self) -> usize {
        self.mapped_file_size_consume_queue
            .div_ceil(CQ_STORE_UNIT_SIZE)
            * CQ_STORE_UNIT_SIZE
    }

    /// `diskMaxUsedSpaceRatio` clamped to 10..=95, as Java's getter does.
    pub fn disk_max_used_space_ratio(&self) -> u32 {
        self.disk_max_used_space_ratio.clamp(10, 95)
    }

    /// `syncFlushTimeout` as a duration.
    pub fn sync_flush_timeout(&self) -> Duration {
        Duration::from_millis(self.sync_flush_timeout)
    }

    /// Delay in ms of each level of `messageDelayLevel` (level 1 first),
    /// up to the first unparsable entry, where Java's parser stops too.
    pub fn delay_levels_ms(&self) -> Vec<i64> {
        self.message_delay_level
            .split_whitespace()
            .map_while(|v| {
                let (num, unit) = v.split_at(v.char_indices().last()?.0);
                let unit_ms = match unit {
                    "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return None,
                };
                num.parse::<i64>().ok().map(|n| n * unit_ms)
            })
            .collect()
    }

    /// The hours of the day listed in `deleteWhen` (`"04;05"` → 4, 5).
    pub fn delete_hours(&self) -> impl Iterator<Item = u32> + '_ {
        self.delete_when
            .split(';')
            .filter_map(|h| h.trim().parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_rocketmq() {
        let c = MessageStoreConfig::with_root("/data/store");
        assert_eq!(c.mapped_file_size_commit_log, 1_073_741_824);
        assert_eq!(c.mapped_file_size_consume_queue, 6_000_000);
        assert_eq!(c.flush_disk_type, FlushDiskType::AsyncFlush);
        assert_eq!(
            (c.flush_interval_commit_log, c.flush_commit_log_least_pages),
            (500, 4)
        );
        assert_eq!(c.flush_commit_log_thorough_interval, 10_000);
        assert_eq!(c.sync_flush_timeout(), Duration::from_secs(5));
        assert_eq!((c.file_reserved_time, c.delete_when.as_str()), (72, "04"));
        assert_eq!(c.max_message_size, 4_194_304);
        assert!(!c.warm_maped_file_enable);
        assert_eq!(c.commit_log_dir(), PathBuf::from("/data/store/commitlog"));
        assert_eq!(c.checkpoint_path(), PathBuf::from("/data/store/checkpoint"));
        assert_eq!(c.abort_path(), PathBuf::from("/data/store/abort"));
        assert_eq!(c.config_dir(), PathBuf::from("/data/store/config"));
        assert_eq!(c.index_dir(), PathBuf::from("/data/store/index"));
        assert_eq!(
            c.consume_queue_dir(),
            PathBuf::from("/data/store/consumequeue")
        );
    }

    #[test]
    fn java_getters() {
        let mut c = MessageStoreConfig::with_root("/s");
        c.mapped_file_size_consume_queue = 1001;
        assert_eq!(c.consume_queue_file_size(), 1020);
        c.disk_max_used_space_ratio = 99;
        assert_eq!(c.disk_max_used_space_ratio(), 95);
        c.delete_when = "04;05; x".to_owned();
        assert_eq!(c.delete_hours().collect::<Vec<_>>(), [4, 5]);
        let levels = c.delay_levels_ms();
        assert_eq!((levels.len(), levels[0], levels[17]), (18, 1000, 7_200_000));
        c.message_delay_level = "1s 2é 3s".to_owned();
        assert_eq!(c.delay_levels_ms(), [1000]);
    }

    #[test]
    fn serde_uses_broker_conf_names() {
        let c: MessageStoreConfig = serde_json::from_str(
            r#"{"storePathRootDir":"/r","flushDiskType":"SYNC_FLUSH","mappedFileSizeCommitLog":65536,
                "brokerRole":"SLAVE","brokerClusterName":"ignored","warmMapedFileEnable":true,
                "warmWindowSizeCommitLog":0}"#,
        )
        .unwrap();
        assert_eq!(c.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.broker_role, BrokerRole::Slave);
        assert_eq!(c.mapped_file_size_commit_log, 65_536);
        assert_eq!(c.sync_flush_timeout, 5000);
        assert!(c.warm_maped_file_enable);
        assert_eq!(c.warm_window_size_commit_log, 0);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["flushIntervalCommitLog"], 500);
        assert_eq!(json["storePathCommitLog"], serde_json::Value::Null);
    }
}
