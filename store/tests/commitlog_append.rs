#![allow(clippy::unwrap_used)]
//! Appending and reading back: single records, batches, file rolls with
//! BLANK padding, transaction records, limits, concurrency and reopening.

mod commitlog_support;

use std::collections::HashMap;
use std::sync::Arc;

use commitlog_support::{decode, options, record, record_with_sys_flag};
use skylark_protocol::message::record::BLANK_MAGIC_CODE;
use skylark_protocol::message::sysflag::MessageSysFlag;
use skylark_store::commitlog::CommitLog;
use skylark_store::error::{PutMessageStatus, StoreError};
use skylark_store::mapped_file::MappedFile;

const FILE: usize = 64 * 1024;

#[test]
fn append_and_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    assert_eq!((log.min_offset(), log.max_offset()), (0, 0));
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut expected_qo: HashMap<(String, i32), i64> = HashMap::new();
    let mut written = Vec::new();
    let mut next = 0;
    for i in 0..40 {
        let topic = format!("Topic{}", i % 3);
        let queue_id = i % 2;
        let body = format!("body number {i}").repeat(i as usize + 1);
        let rec = record(&topic, queue_id, body.as_bytes());
        let r = log.append(&rec).unwrap();
        let qo = expected_qo.entry((topic.clone(), queue_id)).or_insert(0);
        assert_eq!(
            (r.wrote_offset, r.wrote_bytes, r.queue_offset, r.msg_num),
            (next, rec.len(), *qo, 1)
        );
        assert!(r.store_timestamp >= before);
        *qo += 1;
        next += rec.len() as i64;
        written.push((r, topic, queue_id, body));
    }
    assert_eq!(log.max_offset(), next);
    for (r, topic, queue_id, body) in &written {
        let bytes = log.get_record(r.wrote_offset).unwrap().unwrap();
        let msg = decode(&bytes);
        assert_eq!(
            (&msg.topic, msg.queue_id, msg.body.as_ref()),
            (topic, *queue_id, body.as_bytes())
        );
        assert_eq!(
            (msg.physical_offset, msg.queue_offset),
            (r.wrote_offset, r.queue_offset)
        );
        assert_eq!(msg.store_timestamp, r.store_timestamp);
        assert_eq!(msg.tags(), Some("TagA"));
        assert_eq!(
            log.get_message(r.wrote_offset, r.wrote_bytes).unwrap(),
            bytes
        );
    }
    assert_eq!(
        log.queue_offset("Topic1", 1),
        expected_qo[&("Topic1".to_owned(), 1)]
    );
    assert!(
        log.get_record(next).unwrap().is_none(),
        "the end is not a record"
    );
    assert!(
        log.get_message(next - 10, 11).is_none(),
        "unpublished bytes are not readable"
    );
    assert!(matches!(
        log.get_record(3),
        Err(StoreError::CorruptRecord { offset: 3, .. })
    ));
}

#[test]
fn blank_pads_the_file_end_and_the_next_file_continues() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let rec = record("Roll", 0, &[7u8; 1000]);
    let len = rec.len() as i64;
    let per_file = (FILE as i64 - 8) / len;
    let mut offsets = Vec::new();
    for _ in 0..per_file + 2 {
        offsets.push(log.append(&rec).unwrap());
    }
    let last_in_first = offsets[per_file as usize - 1];
    let first_in_second = offsets[per_file as usize];
    assert_eq!(last_in_first.end_offset(), per_file * len);
    assert_eq!(
        first_in_second.wrote_offset, FILE as i64,
        "the record that did not fit starts the next file"
    );
    assert_eq!(
        first_in_second.queue_offset, per_file,
        "queue offsets run on across files"
    );
    let blank_at = per_file * len;
    let left = FILE as i64 - blank_at;
    let raw = log.get_message(blank_at, left as usize).unwrap();
    assert_eq!(raw[..4], (left as i32).to_be_bytes());
    assert_eq!(raw[4..8], BLANK_MAGIC_CODE.to_be_bytes());
    assert!(raw[8..].iter().all(|&b| b == 0));
    assert!(log.get_record(blank_at).unwrap().is_none());
    assert_eq!(log.roll_next_file(blank_at), FILE as i64);
    let names: Vec<String> = log
        .queue()
        .files()
        .iter()
        .map(|f| f.path().file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names[..2],
        [MappedFile::file_name(0), MappedFile::file_name(FILE as i64)]
    );
    assert_eq!(names[1], "00000000000000065536");
    let msg = decode(&log.get_record(FILE as i64).unwrap().unwrap());
    assert_eq!(msg.physical_offset, FILE as i64);
    let data = log.get_data(FILE as i64).unwrap();
    assert_eq!(data.len() as i64, 2 * len);
}

#[test]
fn reopen_reads_back_and_continues_queue_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let rec = record("Persist", 3, &[1u8; 3000]);
    let mut offsets = Vec::new();
    {
        let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
        for _ in 0..50 {
            offsets.push(log.append(&rec).unwrap());
        }
    }
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let end = offsets.last().unwrap().end_offset();
    assert_eq!(log.max_offset(), end);
    assert_eq!(log.recovery().fault, None);
    assert_eq!(log.flushed_offset(), end);
    for r in &offsets {
        assert_eq!(
            decode(&log.get_record(r.wrote_offset).unwrap().unwrap()).queue_offset,
            r.queue_offset
        );
    }
    assert_eq!(
        log.queue_offset("Persist", 3),
        50,
        "seeded from the recovered records"
    );
    let r = log.append(&rec).unwrap();
    assert_eq!((r.wrote_offset, r.queue_offset), (end, 50));
    log.set_queue_offset("Persist", 3, 1000);
    assert_eq!(log.append(&rec).unwrap().queue_offset, 1000);
    log.remove_queue_offsets("Persist");
    assert_eq!(log.queue_offset("Persist", 3), 0);
}

#[test]
fn prepared_and_rollback_records_take_queue_offset_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let normal = record("Tx", 0, b"n");
    let prepared = record_with_sys_flag("Tx", 0, b"p", MessageSysFlag::TRANSACTION_PREPARED_TYPE);
    let rollback = record_with_sys_flag("Tx", 0, b"r", MessageSysFlag::TRANSACTION_ROLLBACK_TYPE);
    let commit = record_with_sys_flag("Tx", 0, b"c", MessageSysFlag::TRANSACTION_COMMIT_TYPE);
    assert_eq!(log.append(&normal).unwrap().queue_offset, 0);
    let p = log.append(&prepared).unwrap();
    assert_eq!(p.queue_offset, 0);
    assert_eq!(
        decode(&log.get_record(p.wrote_offset).unwrap().unwrap()).queue_offset,
        0
    );
    assert_eq!(log.append(&rollback).unwrap().queue_offset, 0);
    assert_eq!(log.append(&commit).unwrap().queue_offset, 1);
    assert_eq!(log.append(&normal).unwrap().queue_offset, 2);
}

#[test]
fn batches_get_consecutive_offsets_and_never_span_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let one = record("Batch", 2, &[9u8; 500]);
    let batch: Vec<u8> = std::iter::repeat_n(one.clone(), 10).flatten().collect();
    let r = log.append_batch(&batch).unwrap();
    assert_eq!(
        (r.wrote_offset, r.wrote_bytes, r.queue_offset, r.msg_num),
        (0, batch.len(), 0, 10)
    );
    for i in 0..10 {
        let offset = (i * one.len()) as i64;
        let msg = decode(&log.get_record(offset).unwrap().unwrap());
        assert_eq!(
            (msg.physical_offset, msg.queue_offset, msg.store_timestamp),
            (offset, i as i64, r.store_timestamp)
        );
    }
    // Fill the file so the next batch does not fit: it moves whole to the next file.
    while log.max_offset() + batch.len() as i64 + 8 <= FILE as i64 {
        log.append_batch(&batch).unwrap();
    }
    let before = log.queue_offset("Batch", 2);
    let r = log.append_batch(&batch).unwrap();
    assert_eq!((r.wrote_offset, r.queue_offset), (FILE as i64, before));
    assert_eq!(log.queue_offset("Batch", 2), before + 10);

    let mut mixed = one.clone();
    mixed.extend(record("Other", 2, b"x"));
    assert!(matches!(
        log.append_batch(&mixed),
        Err(StoreError::MessageIllegal(_))
    ));
    assert!(matches!(
        log.append_batch(&[]),
        Err(StoreError::MessageIllegal(_))
    ));
    let mut torn = batch.clone();
    torn.pop();
    assert!(matches!(
        log.append_batch(&torn),
        Err(StoreError::MessageIllegal(_))
    ));
    let huge: Vec<u8> = std::iter::repeat_n(one, 200).flatten().collect();
    assert!(matches!(
        log.append_batch(&huge),
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert_eq!(
        log.queue_offset("Batch", 2),
        before + 10,
        "rejected batches take no offsets"
    );
}

#[test]
fn bad_records_are_rejected_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), FILE);
    opts.max_message_size = 2048;
    let log = CommitLog::open(opts).unwrap();
    let big = record("Big", 0, &[0u8; 4000]);
    let err = log.append(&big).unwrap_err();
    assert!(matches!(err, StoreError::MessageTooLarge { max: 2048, .. }));
    assert_eq!(err.put_status(), PutMessageStatus::MessageIllegal);
    let mut rec = record("Ok", 0, b"fine");
    rec.push(0);
    assert!(
        matches!(log.append(&rec), Err(StoreError::MessageIllegal(_))),
        "trailing bytes"
    );
    rec.pop();
    rec[5] ^= 0xFF;
    assert!(
        matches!(log.append(&rec), Err(StoreError::MessageIllegal(_))),
        "bad magic"
    );
    assert!(matches!(
        log.append(&[0, 0, 0, 8, 0xCB, 0xD4, 0x31, 0x94]),
        Err(StoreError::MessageIllegal(_))
    ));
    assert_eq!(log.max_offset(), 0);
}

#[test]
fn concurrent_appends_are_contiguous_and_uniquely_numbered() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(CommitLog::open(options(dir.path(), 256 * 1024)).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let rec = record("Busy", t % 2, &vec![t as u8; 200 + 100 * t as usize]);
                (0..500)
                    .map(|_| log.append(&rec).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let mut seen: HashMap<i32, Vec<i64>> = HashMap::new();
    let outcome = log.scan(0, true, |offset, info, _| {
        assert_eq!(info.physical_offset, offset);
        seen.entry(info.queue_id)
            .or_default()
            .push(info.queue_offset);
    });
    assert_eq!(outcome.records, 2000);
    assert_eq!((outcome.end, outcome.fault), (log.max_offset(), None));
    for (_, offsets) in seen {
        assert!(
            offsets.windows(2).all(|w| w[1] == w[0] + 1),
            "queue offsets follow file order"
        );
        assert_eq!(offsets.len(), 1000);
    }
    assert_eq!(results.len(), 2000);
}
