#![allow(clippy::unwrap_used)]
//! Replication hooks: a replica rebuilding a master's log from raw chunks
//! (BLANK padding included), rejection of torn or misplaced chunks, and
//! truncation.

mod commitlog_support;

use commitlog_support::{decode, options, record};
use skylark_store::commitlog::{CommitLog, Entry, parse_entry};
use skylark_store::error::{RecordFault, StoreError};

const FILE: usize = 64 * 1024;

/// A master with `n` records of ~1 KiB spread over several files.
fn master(dir: &std::path::Path, n: usize) -> CommitLog {
    let log = CommitLog::open(options(dir, FILE)).unwrap();
    for i in 0..n {
        log.append(&record(
            "Repl",
            (i % 4) as i32,
            &vec![i as u8; 900 + i % 200],
        ))
        .unwrap();
    }
    log
}

/// The master's bytes from `from`, cut into chunks that end on record
/// boundaries, except inside BLANK padding, which is cut every 300 bytes as
/// a Java master's 32 KiB transfers may cut it; the last piece of padding
/// shares a chunk with the next file's first records.
fn chunks(log: &CommitLog, from: i64) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = from;
    let mut chunk_start = at;
    let mut chunk = Vec::new();
    while let Some(data) = log.get_data(at) {
        if data.is_empty() {
            break;
        }
        let mut i = 0;
        while i < data.len() {
            match parse_entry(&data[i..], FILE).unwrap() {
                Entry::Record(info) => {
                    chunk.extend_from_slice(&data[i..i + info.total_size]);
                    i += info.total_size;
                    if chunk.len() > 3000 {
                        out.push((chunk_start, std::mem::take(&mut chunk)));
                        chunk_start = at + i as i64;
                    }
                }
                Entry::Blank { .. } => {
                    let pieces: Vec<_> = data[i..].chunks(300).collect();
                    let (last, rest) = pieces.split_last().unwrap();
                    for piece in rest {
                        chunk.extend_from_slice(piece);
                        let len = chunk.len() as i64;
                        out.push((chunk_start, std::mem::take(&mut chunk)));
                        chunk_start += len;
                    }
                    chunk.extend_from_slice(last);
                    i = data.len();
                }
            }
        }
        at += data.len() as i64;
    }
    if !chunk.is_empty() {
        out.push((chunk_start, chunk));
    }
    out
}

#[test]
fn replica_rebuilds_the_masters_log_byte_for_byte() {
    let (mdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = master(mdir.path(), 200);
    assert!(master.queue().files().len() >= 3);
    let replica = CommitLog::open(options(sdir.path(), FILE)).unwrap();
    let mut end = 0;
    let mut mixed = 0;
    for (start, chunk) in chunks(&master, 0) {
        end = replica.append_raw(start, &chunk).unwrap();
        assert_eq!(end, replica.max_offset());
        // The queue-offset table keeps up chunk by chunk, even when a chunk
        // starts with the padding of the previous file.
        let mut expected = [0i64; 4];
        replica.scan(0, false, |_, info, _| {
            expected[info.queue_id as usize] = info.queue_offset + 1
        });
        for (queue_id, next) in expected.into_iter().enumerate() {
            assert_eq!(
                replica.queue_offset("Repl", queue_id as i32),
                next,
                "after the chunk at {start}"
            );
        }
        mixed += usize::from(
            start % FILE as i64 != 0 && (start + chunk.len() as i64) % FILE as i64 > 1000,
        );
    }
    assert!(mixed > 0);
    assert_eq!(end, master.max_offset());
    let mut at = 0;
    while at < end {
        let (m, r) = (master.get_data(at).unwrap(), replica.get_data(at).unwrap());
        assert_eq!(m, r);
        at += m.len() as i64;
    }
    for queue_id in 0..4 {
        assert_eq!(
            replica.queue_offset("Repl", queue_id),
            master.queue_offset("Repl", queue_id)
        );
    }
    let first = decode(&replica.get_record(0).unwrap().unwrap());
    assert_eq!(first.body.len(), 900);
    drop(replica);
    let replica = CommitLog::open(options(sdir.path(), FILE)).unwrap();
    assert_eq!(
        (replica.max_offset(), replica.recovery().fault),
        (end, None)
    );
}

#[test]
fn replica_starts_mid_log_from_the_masters_last_file() {
    let (mdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = master(mdir.path(), 150);
    let last_start = master.queue().last().unwrap().from_offset();
    let replica = CommitLog::open(options(sdir.path(), FILE)).unwrap();
    for (start, chunk) in chunks(&master, last_start) {
        replica.append_raw(start, &chunk).unwrap();
    }
    assert_eq!(
        (replica.min_offset(), replica.max_offset()),
        (last_start, master.max_offset())
    );
    assert_eq!(
        replica.get_record(last_start).unwrap(),
        master.get_record(last_start).unwrap()
    );
}

#[test]
fn torn_misplaced_and_corrupt_chunks_are_rejected_whole() {
    let (mdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = master(mdir.path(), 10);
    let replica = CommitLog::open(options(sdir.path(), FILE)).unwrap();
    let data = master.get_data(0).unwrap();
    let first_len = parse_entry(&data, FILE).map(|e| match e {
        Entry::Record(info) => info.total_size,
        Entry::Blank { .. } => unreachable!(),
    });
    let first_len = first_len.unwrap();

    // Torn: the chunk ends inside its second record.
    let err = replica.append_raw(0, &data[..first_len + 100]).unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptRecord { offset, fault: RecordFault::Truncated { .. } } if offset == first_len as i64)
    );
    assert_eq!(
        replica.max_offset(),
        0,
        "nothing of a rejected chunk is written"
    );

    // Misaligned: starting inside a record.
    let err = replica.append_raw(0, &data[10..]).unwrap_err();
    assert!(matches!(err, StoreError::CorruptRecord { offset: 0, .. }));

    // Whole records, but placed where they do not belong.
    let err = replica.append_raw(4096, &data[..first_len]).unwrap_err();
    assert!(matches!(
        err,
        StoreError::CorruptRecord {
            fault: RecordFault::WrongPhysicalOffset { stored: 0 },
            ..
        }
    ));

    replica.append_raw(0, &data[..first_len]).unwrap();
    // Not at the replica's end.
    let err = replica.append_raw(0, &data[..first_len]).unwrap_err();
    assert!(
        matches!(err, StoreError::OffsetMismatch { expected, requested: 0 } if expected == first_len as i64)
    );

    // A BLANK claiming the wrong size.
    let mut blank = 100i32.to_be_bytes().to_vec();
    blank.extend_from_slice(&[0xCB, 0xD4, 0x31, 0x94]);
    let err = replica.append_raw(first_len as i64, &blank).unwrap_err();
    assert!(matches!(
        err,
        StoreError::CorruptRecord {
            fault: RecordFault::BadBlank {
                total_size: 100,
                ..
            },
            ..
        }
    ));

    let rest = &data[first_len..];
    assert_eq!(
        replica.append_raw(first_len as i64, rest).unwrap(),
        data.len() as i64
    );
}

#[test]
fn truncate_cuts_files_zeroes_the_tail_and_rolls_back_queue_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let rec = record("Cut", 0, &[5u8; 2000]);
    let results: Vec<_> = (0..100).map(|_| log.append(&rec).unwrap()).collect();
    assert!(log.queue().files().len() >= 3);
    let cut = results[40];
    log.truncate(cut.wrote_offset).unwrap();
    assert_eq!(
        (log.max_offset(), log.flushed_offset()),
        (cut.wrote_offset, cut.wrote_offset)
    );
    assert_eq!(
        log.queue().last().unwrap().from_offset(),
        cut.wrote_offset - cut.wrote_offset % FILE as i64
    );
    assert!(log.get_record(cut.wrote_offset).unwrap().is_none());
    let file = log.queue().last().unwrap();
    let pos = (cut.wrote_offset - file.from_offset()) as usize;
    assert!(
        std::fs::read(file.path()).unwrap()[pos..]
            .iter()
            .all(|&b| b == 0),
        "the tail is zeroed on disk"
    );
    assert_eq!(log.queue_offset("Cut", 0), 40);
    let again = log.append(&rec).unwrap();
    assert_eq!(
        (again.wrote_offset, again.queue_offset),
        (cut.wrote_offset, 40)
    );

    assert!(matches!(
        log.truncate(log.max_offset() + 1),
        Err(StoreError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    assert_eq!(log.max_offset(), again.end_offset());
    assert_eq!(log.queue_offset("Cut", 0), 41);

    // Below the first file: the log empties and restarts where told.
    log.truncate(0).unwrap();
    assert_eq!((log.min_offset(), log.max_offset()), (0, 0));
    assert_eq!(log.append(&rec).unwrap().wrote_offset, 0);
}

#[test]
fn truncate_at_a_file_boundary_keeps_appending_in_the_next_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommitLog::open(options(dir.path(), FILE)).unwrap();
    let rec = record("Edge", 0, &[1u8; 3000]);
    while log.max_offset() < FILE as i64 + 5000 {
        log.append(&rec).unwrap();
    }
    log.truncate(FILE as i64).unwrap();
    assert_eq!(log.max_offset(), FILE as i64);
    let r = log.append(&rec).unwrap();
    assert_eq!(r.wrote_offset, FILE as i64);
    assert_eq!(
        decode(&log.get_record(FILE as i64).unwrap().unwrap()).physical_offset,
        FILE as i64
    );
}
