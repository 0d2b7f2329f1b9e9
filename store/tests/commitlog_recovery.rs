#![allow(clippy::unwrap_used)]
//! Recovery building blocks: the scanner finds the end of the valid records,
//! and reopening cuts a torn tail (garbage, a bad CRC, a half-written record).

mod commitlog_support;

use std::io::{Seek, SeekFrom, Write};

use commitlog_support::{options, record};
use skylark_store::commitlog::{AppendResult, CommitLog};
use skylark_store::error::RecordFault;
use skylark_store::mapped_file::MappedFile;

const FILE: usize = 64 * 1024;

fn fill(dir: &std::path::Path, n: usize) -> Vec<AppendResult> {
    let log = CommitLog::open(options(dir, FILE)).unwrap();
    (0..n)
        .map(|i| log.append(&record("Scan", 0, &vec![i as u8; 700])).unwrap())
        .collect()
}

fn overwrite(dir: &std::path::Path, offset: i64, bytes: &[u8]) {
    let name = MappedFile::file_name(offset - offset % FILE as i64);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("commitlog").join(name))
        .unwrap();
    f.seek(SeekFrom::Start((offset % FILE as i64) as u64))
        .unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn scanner_walks_files_and_stops_at_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), 200);
    let end = written.last().unwrap().end_offset();
    overwrite(dir.path(), end, b"\x00\x00\x01\x00garbage garbage garbage");
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let recovered = *log.recovery();
    assert_eq!(recovered.end, end);
    assert!(matches!(recovered.fault, Some((at, RecordFault::BadMagic(_))) if at == end));
    assert_eq!(log.max_offset(), end);
    let file = log.queue().last().unwrap();
    let pos = (end - file.from_offset()) as usize;
    assert!(
        std::fs::read(file.path()).unwrap()[pos..]
            .iter()
            .all(|&b| b == 0),
        "garbage is zeroed"
    );

    let mut visited = Vec::new();
    let outcome = log.scan(0, true, |offset, info, bytes| {
        assert_eq!(bytes.len(), info.total_size);
        visited.push(offset);
    });
    assert_eq!(
        (outcome.from, outcome.end, outcome.records, outcome.fault),
        (0, end, 200, None)
    );
    assert_eq!(
        visited,
        written.iter().map(|r| r.wrote_offset).collect::<Vec<_>>()
    );
    assert_eq!(
        outcome.last_store_timestamp,
        written.last().unwrap().store_timestamp
    );
    let from_middle = log.scan(written[150].wrote_offset, false, |_, _, _| {});
    assert_eq!(from_middle.records, 50);
    let next = log.append(&record("Scan", 0, b"after")).unwrap();
    assert_eq!((next.wrote_offset, next.queue_offset), (end, 200));
}

#[test]
fn a_bad_body_crc_cuts_the_log_before_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), 20);
    let victim = written[17];
    overwrite(
        dir.path(),
        victim.wrote_offset + victim.wrote_bytes as i64 - 40,
        b"flipped",
    );
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    assert!(
        matches!(log.recovery().fault, Some((at, RecordFault::BodyCrc { .. })) if at == victim.wrote_offset)
    );
    assert_eq!(log.max_offset(), victim.wrote_offset);
}

#[test]
fn without_crc_checks_only_the_framing_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), 5);
    let victim = written[3];
    overwrite(
        dir.path(),
        victim.wrote_offset + victim.wrote_bytes as i64 - 40,
        b"flipped",
    );
    let mut opts = options(dir.path(), FILE);
    opts.check_crc_on_recover = false;
    let log = CommitLog::open(opts).unwrap();
    assert_eq!(
        (log.max_offset(), log.recovery().fault),
        (written[4].end_offset(), None)
    );
}

#[test]
fn a_half_written_record_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), 30);
    let last = written.last().unwrap();
    // Keep the header of the last record but lose the rest of it.
    let zeros = vec![0u8; last.wrote_bytes - 100];
    overwrite(dir.path(), last.wrote_offset + 100, &zeros);
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    assert_eq!(log.max_offset(), last.wrote_offset);
    assert!(log.recovery().fault.is_some());
}

#[test]
fn a_leftover_preallocated_file_is_dropped_or_reused() {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), 10);
    let end = written.last().unwrap().end_offset();
    // The pre-allocator left the next file behind, never written.
    let next = dir
        .path()
        .join("commitlog")
        .join(MappedFile::file_name(FILE as i64));
    assert!(next.exists() || std::fs::write(&next, vec![0u8; FILE]).is_ok());
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    assert_eq!(log.max_offset(), end);
    assert_eq!(
        log.queue().files().len(),
        1,
        "the unwritten file past the end is cut off"
    );
    drop(log);

    // A log that ended exactly at the file end keeps the empty next file as its current one.
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let rec = record("Full", 0, &[1u8; 4000]);
    while log.queue().files().len() < 2 {
        log.append(&rec).unwrap();
    }
    let second_end = log.max_offset();
    drop(log);
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    assert_eq!(log.max_offset(), second_end);
    assert_eq!(log.append(&rec).unwrap().wrote_offset, second_end);
}

#[test]
fn lowering_max_message_size_keeps_stored_records() {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), 10);
    let mut opts = options(dir.path(), FILE);
    opts.max_message_size = 200;
    let log = CommitLog::open(opts).unwrap();
    assert_eq!(log.max_offset(), written.last().unwrap().end_offset());
    assert!(log.get_record(written[3].wrote_offset).unwrap().is_some());
    assert!(
        log.append(&record("Scan", 0, &[0u8; 700])).is_err(),
        "new records obey the limit"
    );
}
