#![allow(clippy::unwrap_used)]
//! CommitLog retention on real files: when expired files go (deleteWhen
//! hours, usage above diskMaxUsedSpaceRatio, manual requests), in which
//! order, and that the newest file always stays.

mod retention_support;

use std::time::Duration;

use retention_support::{FakeDisk, SEG, Store, at_hour, options};
use skylark_store::retention::RetentionOptions;

// Named so that `cargo test retention` selects these tests.
mod retention {
    use super::*;

    #[test]
    fn expired_files_go_only_at_delete_when() {
        let mut s = Store::open();
        s.fill(5);
        // Files 0–2 expired, 3 fresh, 4 active.
        for i in 0..3 {
            s.age(i, 100);
        }
        let disk = FakeDisk::new(0.5);
        let svc = s.service(options(), &disk);

        let r = svc.run_once(at_hour(12));
        assert!(!r.time_up && !r.space_to_delete && !r.manual);
        assert!(r.deleted_commit_log_files.is_empty());
        assert_eq!((s.files(), s.log.min_offset()), (5, 0));

        let first = s.log.get_record(0).unwrap().unwrap();
        let r = svc.run_once(at_hour(4));
        assert!(r.time_up, "{r:?}");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.deleted_commit_log_files.len(), 3);
        assert_eq!(
            (r.min_offset_before, r.min_offset_after),
            (0, 3 * SEG as i64)
        );
        assert_eq!((s.files(), s.files_on_disk()), (2, 2));
        assert_eq!(s.log.min_offset(), 3 * SEG as i64);
        assert!(s.log.get_record(0).unwrap().is_none());
        // A view taken before the deletion still reads the unlinked file.
        assert_eq!(first.len(), s.records[0].1);
        assert_eq!(
            skylark_protocol::message::record::decode(&first)
                .unwrap()
                .0
                .physical_offset,
            0
        );
        // What is left reads as before.
        let (last_off, last_len) = *s.records.last().unwrap();
        assert_eq!(s.log.get_record(last_off).unwrap().unwrap().len(), last_len);
        // Nothing more is expired.
        let r = svc.run_once(at_hour(4));
        assert!(r.deleted_commit_log_files.is_empty());
        assert_eq!(s.files(), 2);
    }

    #[test]
    fn delete_when_lists_several_hours() {
        let mut s = Store::open();
        s.fill(3);
        s.age_all_but_last();
        let disk = FakeDisk::new(0.1);
        let opts = RetentionOptions {
            delete_hours: vec![4, 5],
            ..options()
        };
        let svc = s.service(opts, &disk);
        assert!(svc.run_once(at_hour(6)).deleted_commit_log_files.is_empty());
        assert_eq!(svc.run_once(at_hour(5)).deleted_commit_log_files.len(), 2);
        assert_eq!(s.files(), 1);
    }

    #[test]
    fn usage_above_max_ratio_deletes_expired_files_at_any_hour() {
        let mut s = Store::open();
        s.fill(4);
        s.age(0, 100);
        s.age(1, 100);
        let disk = FakeDisk::new(0.76);
        let svc = s.service(options(), &disk);
        let r = svc.run_once(at_hour(12));
        assert!(r.space_to_delete && !r.clean_immediately && !r.time_up);
        assert_eq!(r.deleted_commit_log_files.len(), 2);
        // The fresh file stays: 76 % is not enough to delete unexpired data.
        assert_eq!(s.files(), 2);
        assert!(svc.is_writable());
        // Only the ConsumeQueue partition above the ratio counts as well.
        s.age(0, 100);
        disk.set_commit_log(0.2);
        disk.set_logics(0.8);
        assert_eq!(svc.run_once(at_hour(12)).deleted_commit_log_files.len(), 1);
    }

    #[test]
    fn a_failing_probe_reclaims_expired_files_only() {
        let mut s = Store::open();
        s.fill(4);
        s.age(0, 100);
        let disk = FakeDisk::new(0.5);
        disk.set_failing(true);
        let svc = s.service(options(), &disk);
        let r = svc.run_once(at_hour(12));
        assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
        assert!(r.commit_log_usage.is_none() && r.space_to_delete && !r.clean_immediately);
        assert_eq!(r.deleted_commit_log_files.len(), 1);
        assert_eq!(s.files(), 3);
        assert!(svc.is_writable());
    }

    #[test]
    fn deletion_stops_at_the_first_unexpired_file() {
        let mut s = Store::open();
        s.fill(5);
        s.age(0, 100);
        s.age(2, 100);
        s.age(3, 100);
        let disk = FakeDisk::new(0.1);
        let svc = s.service(options(), &disk);
        let r = svc.run_once(at_hour(4));
        // File 1 is fresh: files 2 and 3 stay too, so the log keeps no hole.
        assert_eq!(r.deleted_commit_log_files.len(), 1);
        assert_eq!(s.log.min_offset(), SEG as i64);
        assert_eq!(s.files(), 4);
    }

    #[test]
    fn the_newest_file_is_never_deleted() {
        let mut s = Store::open();
        s.fill(1);
        s.age(0, 1_000);
        let disk = FakeDisk::new(0.89);
        let svc = s.service(options(), &disk);
        let r = svc.run_once(at_hour(4));
        assert!(r.clean_immediately && r.time_up);
        assert!(r.deleted_commit_log_files.is_empty());
        assert_eq!((s.files(), s.files_on_disk()), (1, 1));

        s.fill(2);
        s.age(0, 1_000);
        s.age(1, 1_000);
        let r = svc.run_once(at_hour(4));
        assert_eq!(r.deleted_commit_log_files.len(), 1);
        assert_eq!(s.files(), 1);
        // Appends go on in the surviving file.
        s.put();
        let (off, len) = *s.records.last().unwrap();
        assert_eq!(s.log.get_record(off).unwrap().unwrap().len(), len);
    }

    #[test]
    fn manual_requests_delete_expired_files_for_twenty_passes() {
        let mut s = Store::open();
        s.fill(3);
        s.age(0, 100);
        let disk = FakeDisk::new(0.1);
        let svc = s.service(options(), &disk);
        assert!(
            svc.run_once(at_hour(12))
                .deleted_commit_log_files
                .is_empty()
        );
        svc.request_manual_delete();
        let r = svc.run_once(at_hour(12));
        assert!(r.manual);
        assert_eq!(r.deleted_commit_log_files.len(), 1);
        for _ in 1..20 {
            assert!(svc.run_once(at_hour(12)).manual);
        }
        assert!(!svc.run_once(at_hour(12)).manual);
    }

    #[test]
    fn a_batch_deletes_at_most_delete_file_batch_max_files() {
        let mut s = Store::open();
        s.fill(6);
        s.age_all_but_last();
        let disk = FakeDisk::new(0.1);
        let opts = RetentionOptions {
            delete_file_batch_max: 2,
            delete_files_interval: Duration::from_millis(20),
            ..options()
        };
        let svc = s.service(opts, &disk);
        let started = std::time::Instant::now();
        assert_eq!(svc.run_once(at_hour(4)).deleted_commit_log_files.len(), 2);
        // One pause between the two deletions.
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(svc.run_once(at_hour(4)).deleted_commit_log_files.len(), 2);
        assert_eq!(svc.run_once(at_hour(4)).deleted_commit_log_files.len(), 1);
        assert_eq!(s.files(), 1);
    }

    #[test]
    fn the_dispatch_guard_keeps_undispatched_files() {
        let mut s = Store::open();
        s.fill(5);
        s.age_all_but_last();
        let disk = FakeDisk::new(0.1);
        // Dispatched up to the middle of file 2.
        let dispatched = 2 * SEG as i64 + 100;
        let svc = s
            .service(options(), &disk)
            .with_dispatch_guard(move || dispatched);
        let r = svc.run_once(at_hour(4));
        assert_eq!(r.deleted_commit_log_files.len(), 2);
        assert_eq!(s.log.min_offset(), 2 * SEG as i64);
    }
}
