#![allow(clippy::unwrap_used)]
//! After CommitLog files go, ConsumeQueue files and index files wholly
//! below the new minimum offset go too, and the queues' minimum offsets
//! move to the first entry still backed by the CommitLog.

mod retention_support;

use std::sync::Arc;

use retention_support::{CQ_PER_FILE, FakeDisk, SEG, Store, TOPIC, at_hour, options};
use skylark_store::consume_queue::{ConsumeQueueConfig, ConsumeQueueStore};
use skylark_store::retention::RetentionService;

// Named so that `cargo test retention` selects these tests.
mod retention {
    use super::*;

    /// ConsumeQueue files retention must delete once the log starts at `min`:
    /// every file but the last whose last entry points below `min`.
    fn expected_cq_deletions(s: &Store, min: i64) -> usize {
        let n = s.records.len();
        let files = n.div_ceil(CQ_PER_FILE);
        (0..files - 1)
            .take_while(|k| s.records[k * CQ_PER_FILE + CQ_PER_FILE - 1].0 < min)
            .count()
    }

    /// Index files retention must delete: the oldest ending below `min`, never the newest.
    fn expected_index_deletions(s: &Store, min: i64) -> usize {
        let files = s.index.files();
        files[..files.len() - 1]
            .iter()
            .take_while(|(_, h)| h.end_phy_offset < min)
            .count()
    }

    /// Index of the first record at or past `min`.
    fn first_record_from(s: &Store, min: i64) -> i64 {
        s.records.iter().position(|r| r.0 >= min).unwrap() as i64
    }

    #[test]
    fn consume_queue_and_index_files_below_the_new_minimum_go() {
        let mut s = Store::open();
        s.fill(6);
        for i in 0..3 {
            s.age(i, 100);
        }
        let min = 3 * SEG as i64;
        let cq_gone = expected_cq_deletions(&s, min);
        let index_gone = expected_index_deletions(&s, min);
        assert!(cq_gone > 3 && index_gone > 3, "{cq_gone} {index_gone}");
        let q = s.cq.queue(TOPIC, 0).unwrap();
        let (cq_files, index_files) = (q.file_count(), s.index.file_count());
        let newest = s.records.len() as i64 - 1;

        let disk = FakeDisk::new(0.2);
        let svc = s.service(options(), &disk);
        // Nothing moved yet: no ConsumeQueue or index work either.
        let r = svc.run_once(at_hour(12));
        assert_eq!(
            (r.consume_queue_files_deleted, r.index_files_deleted),
            (0, 0)
        );

        let r = svc.run_once(at_hour(4));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.min_offset_after, min);
        assert_eq!(r.consume_queue_files_deleted, cq_gone);
        assert_eq!(r.index_files_deleted, index_gone);
        assert_eq!(q.file_count(), cq_files - cq_gone);
        assert_eq!(s.index.file_count(), index_files - index_gone);
        for (path, h) in s.index.files() {
            assert!(path.exists());
            assert!(h.end_phy_offset >= min || s.index.file_count() == 1);
        }
        // The queue starts at the first entry whose record is still stored.
        let first = first_record_from(&s, min);
        assert_eq!(q.min_offset(), first);
        assert_eq!(
            q.get(first).unwrap().unwrap().phys_offset,
            s.records[first as usize].0
        );
        assert_eq!(
            q.get(newest).unwrap().unwrap().phys_offset,
            s.records[newest as usize].0
        );
        // Lookups by key still find what is left.
        let key = format!("K{newest}");
        let found = s.index.query(TOPIC, &key, 32, 0, i64::MAX);
        assert!(found.phys_offsets.contains(&s.records[newest as usize].0));

        // The minimum did not move: the next pass leaves the queues alone.
        let r = svc.run_once(at_hour(4));
        assert_eq!(
            (r.consume_queue_files_deleted, r.index_files_deleted),
            (0, 0)
        );
        assert_eq!(q.min_offset(), first);
    }

    #[test]
    fn a_restarted_service_catches_up_on_logic_files() {
        let mut s = Store::open();
        s.fill(4);
        s.age(0, 100);
        s.age(1, 100);
        let min = 2 * SEG as i64;
        let cq_gone = expected_cq_deletions(&s, min);
        let disk = FakeDisk::new(0.2);
        // A first service deletes CommitLog files, then "crashes" before the
        // ConsumeQueues were cleaned: it only knew an unrelated, empty store.
        let elsewhere = s.dir.path().join("elsewhere");
        let unrelated = ConsumeQueueStore::open(elsewhere, ConsumeQueueConfig::default()).unwrap();
        let first = RetentionService::new(&s.log, Arc::new(unrelated), None, options())
            .with_disk_usage(Arc::clone(&disk) as _);
        assert_eq!(first.run_once(at_hour(4)).deleted_commit_log_files.len(), 2);
        let q = s.cq.queue(TOPIC, 0).unwrap();
        assert_eq!(q.min_offset(), 0);

        // The next service's first pass sees a minimum it has not cleaned for.
        let svc = s.service(options(), &disk);
        let r = svc.run_once(at_hour(12));
        assert!(r.deleted_commit_log_files.is_empty());
        assert_eq!(r.consume_queue_files_deleted, cq_gone);
        assert!(r.index_files_deleted > 0);
        assert_eq!(q.min_offset(), first_record_from(&s, min));
    }

    #[test]
    fn a_store_without_index_cleans_its_queues() {
        let mut s = Store::open();
        s.fill(3);
        s.age(0, 100);
        let disk = FakeDisk::new(0.2);
        let svc = RetentionService::new(&s.log, Arc::clone(&s.cq), None, options())
            .with_disk_usage(Arc::clone(&disk) as _);
        let index_files = s.index.file_count();
        let r = svc.run_once(at_hour(4));
        assert_eq!(r.deleted_commit_log_files.len(), 1);
        assert_eq!(
            r.consume_queue_files_deleted,
            expected_cq_deletions(&s, SEG as i64)
        );
        assert_eq!(s.index.file_count(), index_files);
    }
}
