#![allow(clippy::unwrap_used)]
//! Disk pressure: forced deletion above diskSpaceCleanForciblyRatio, the
//! disk-full flag above diskSpaceWarningLevelRatio, appends running while
//! files are deleted, and the background thread.

mod retention_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use retention_support::{FakeDisk, SEG, Store, at_hour, options, record};
use skylark_store::error::PutMessageStatus;
use skylark_store::retention::{DiskState, RetentionOptions};

// Named so that `cargo test retention` selects these tests.
mod retention {
    use super::*;

    #[test]
    fn above_clean_forcibly_ratio_unexpired_files_go_too() {
        let mut s = Store::open();
        s.fill(5);
        let disk = FakeDisk::new(0.86);
        let opts = RetentionOptions {
            delete_file_batch_max: 3,
            ..options()
        };
        let svc = s.service(opts, &disk);
        let r = svc.run_once(at_hour(12));
        assert!(r.space_to_delete && r.clean_immediately && !r.disk_full);
        // Oldest first, a bounded batch per pass, never the newest file.
        assert_eq!(r.deleted_commit_log_files.len(), 3);
        assert_eq!(s.log.min_offset(), 3 * SEG as i64);
        assert_eq!(svc.run_once(at_hour(12)).deleted_commit_log_files.len(), 1);
        assert!(
            svc.run_once(at_hour(12))
                .deleted_commit_log_files
                .is_empty()
        );
        assert_eq!((s.files(), s.files_on_disk()), (1, 1));
    }

    #[test]
    fn forced_deletion_needs_clean_file_forcibly_enable() {
        let mut s = Store::open();
        s.fill(3);
        let disk = FakeDisk::new(0.88);
        let opts = RetentionOptions {
            clean_file_forcibly_enable: false,
            ..options()
        };
        let svc = s.service(opts, &disk);
        let r = svc.run_once(at_hour(12));
        assert!(r.clean_immediately && r.deleted_commit_log_files.is_empty());
        assert_eq!(s.files(), 3);
    }

    #[test]
    fn disk_full_flag_flips_at_the_warning_ratio_and_back() {
        let mut s = Store::open();
        s.fill(2);
        let disk = FakeDisk::new(0.5);
        let shared = DiskState::new();
        let svc = s.service(options(), &disk).with_disk_state(shared.clone());
        assert!(!svc.run_once(at_hour(12)).disk_full);
        assert!(shared.is_writable());

        disk.set_commit_log(0.91);
        let r = svc.run_once(at_hour(12));
        assert!(r.disk_full && r.disk_state_changed);
        assert!(!shared.is_writable() && !svc.is_writable());
        let refused = shared.check_writable().unwrap_err();
        assert_eq!(refused.put_status(), PutMessageStatus::ServiceNotAvailable);
        assert!(refused.to_string().contains("commitlog"), "{refused}");
        // Reads go on (forced deletion took all but the active file).
        let (off, len) = *s.records.last().unwrap();
        assert_eq!(s.log.get_record(off).unwrap().unwrap().len(), len);

        // Between 85 % and 90 % the flag holds, so it does not flap.
        disk.set_commit_log(0.87);
        let r = svc.run_once(at_hour(12));
        assert!(r.disk_full && !r.disk_state_changed);
        disk.set_commit_log(0.85);
        let r = svc.run_once(at_hour(12));
        assert!(!r.disk_full && r.disk_state_changed);
        assert!(shared.is_writable() && shared.check_writable().is_ok());

        // The ConsumeQueues' partition counts as well.
        disk.set_logics(0.95);
        assert!(svc.run_once(at_hour(12)).disk_full);
        let refused = shared.check_writable().unwrap_err();
        assert!(refused.to_string().contains("consumequeue"), "{refused}");
        disk.set_logics(0.2);
        assert!(!svc.run_once(at_hour(12)).disk_full);
        // A failing probe leaves the flag alone.
        disk.set(0.95);
        svc.run_once(at_hour(12));
        disk.set_failing(true);
        assert!(svc.run_once(at_hour(12)).disk_full);
    }

    #[test]
    fn appends_keep_working_while_files_are_deleted() {
        let mut s = Store::open();
        s.fill(3);
        let disk = FakeDisk::new(0.86);
        let opts = RetentionOptions {
            delete_file_batch_max: 100,
            ..options()
        };
        let svc = s.service(opts, &disk);
        let log = Arc::clone(&s.log);
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (log, done) = (Arc::clone(&log), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut wrote = Vec::new();
                for n in 0..3_000 {
                    let r = log.append(&record(n)).unwrap();
                    wrote.push((r.wrote_offset, r.wrote_bytes));
                }
                done.store(true, Ordering::SeqCst);
                wrote
            })
        };
        let mut deleted = 0;
        let mut passes = 0;
        while !done.load(Ordering::SeqCst) || passes == 0 {
            // A reader holding a view across the deletion keeps it readable.
            let min = log.min_offset();
            let view = log.get_data(min);
            let before = view.as_ref().map(|v| v.to_vec());
            let r = svc.run_once(at_hour(12));
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            deleted += r.deleted_commit_log_files.len();
            passes += 1;
            if let (Some(view), Some(before)) = (view, before) {
                assert_eq!(&view[..], &before[..]);
            }
        }
        let wrote = writer.join().unwrap();
        assert!(deleted > 0, "nothing deleted in {passes} passes");
        let (last_off, last_len) = *wrote.last().unwrap();
        assert_eq!(log.max_offset(), last_off + last_len as i64);
        // The records are contiguous, no record was lost to a deletion race.
        for w in wrote.windows(2) {
            let next = w[0].0 + w[0].1 as i64;
            assert!(w[1].0 == next || w[1].0 % SEG as i64 == 0, "{w:?}");
        }
        assert_eq!(log.get_record(last_off).unwrap().unwrap().len(), last_len);
        // Forced passes then leave only the active file. A pass deletes at
        // most a batch, and a fast writer may have left more than one batch
        // behind, so this takes as many passes as it needs (bounded).
        for _ in 0..100 {
            if s.files() == 1 {
                break;
            }
            svc.run_once(at_hour(12));
        }
        assert_eq!(s.files(), 1);
        log.append(&record(0)).unwrap();
    }

    #[test]
    fn the_background_thread_runs_passes_and_stops() {
        let mut s = Store::open();
        s.fill(3);
        let disk = FakeDisk::new(0.95);
        let opts = RetentionOptions {
            interval: Duration::from_millis(5),
            ..options()
        };
        let handle = s.service(opts, &disk).spawn().unwrap();
        let state = handle.disk_state();
        let deadline = Instant::now() + Duration::from_secs(10);
        while (state.is_writable() || s.files() > 1 || handle.passes() < 2)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !handle.is_writable() && s.files() == 1,
            "passes: {}",
            handle.passes()
        );
        disk.set(0.3);
        while state.is_full() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(state.is_writable());
        let started = Instant::now();
        handle.shutdown();
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn dropping_the_handle_interrupts_the_initial_delay() {
        let s = Store::open();
        let disk = FakeDisk::new(0.1);
        let opts = RetentionOptions {
            initial_delay: Duration::from_secs(3_600),
            ..options()
        };
        let handle = s.service(opts, &disk).spawn().unwrap();
        let started = Instant::now();
        drop(handle);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
