use super::*;
use crate::mapped_file::Prepare;

#[test]
fn roll_find_flush_truncate_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let q = MappedFileQueue::open(dir.path(), QueueOptions::new(4096)).unwrap();
    assert!(q.is_empty());
    assert_eq!((q.min_offset(), q.max_offset()), (0, 0));
    let a = q.roll(0).unwrap();
    a.append_with(4096, 11, |d, _| {
        d.fill(1);
        Ok(())
    })
    .unwrap();
    let b = q.roll(4096).unwrap();
    b.append_with(100, 12, |d, _| {
        d.fill(2);
        Ok(())
    })
    .unwrap();
    assert_eq!(q.find(4095).unwrap().from_offset(), 0);
    assert_eq!(q.find(4096).unwrap().from_offset(), 4096);
    assert!(q.find(8192).is_none());
    assert!(q.find(-1).is_none());
    assert_eq!(q.max_offset(), 4196);
    let out = q.flush(0).unwrap();
    assert_eq!(
        out,
        FlushOutcome {
            flushed_where: 4196,
            store_timestamp: 12
        }
    );
    // The third file is asked for only once the second is half written
    // (nothing asked for it yet, so nothing can have made it)...
    let third = dir.path().join(MappedFile::file_name(8192));
    assert!(
        !third.exists(),
        "made before the second file was half written"
    );
    b.append_with(1948, 13, |d, _| {
        d.fill(2);
        Ok(())
    })
    .unwrap();
    // ...then it appears on disk in the background.
    for _ in 0..200 {
        if third.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(third.exists());
    q.truncate(4000, true).unwrap();
    assert_eq!(
        (q.max_offset(), q.flushed_where(), q.files().len()),
        (4000, 4000, 1)
    );
    assert!(!third.exists(), "cancelled pre-allocation is removed");
    drop(q);
    let q = MappedFileQueue::open(dir.path(), QueueOptions::new(4096)).unwrap();
    assert_eq!(q.files().len(), 1);
    assert_eq!(q.find(0).unwrap().read(3999, 2).unwrap(), [1, 0]);
    assert!(matches!(
        MappedFileQueue::open(dir.path(), QueueOptions::new(8192)),
        Err(StoreError::BadFileSize { .. })
    ));
}

#[test]
fn gaps_are_errors_and_empty_last_file_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    for offset in [0, 8192] {
        MappedFile::create(dir.path(), offset, 4096, Prepare::default()).unwrap();
    }
    let opts = QueueOptions {
        preallocate: false,
        ..QueueOptions::new(4096)
    };
    assert!(matches!(
        MappedFileQueue::open(dir.path(), opts.clone()),
        Err(StoreError::FileGap { expected: 4096, .. })
    ));
    std::fs::remove_file(dir.path().join(MappedFile::file_name(8192))).unwrap();
    std::fs::write(dir.path().join(MappedFile::file_name(4096)), b"").unwrap();
    std::fs::write(dir.path().join("not-a-log-file"), b"x").unwrap();
    let q = MappedFileQueue::open(dir.path(), opts).unwrap();
    assert_eq!(q.files().len(), 1);
    assert!(!dir.path().join(MappedFile::file_name(4096)).exists());
}
