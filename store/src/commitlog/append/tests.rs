//! Encoding into the mapping: the same bytes as a copy, and nothing
//! published (and nothing left behind) when an encoder fails.

#![allow(clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use skylark_protocol::message::record::{
    BLANK_LEN, BLANK_MAGIC_CODE, PHYSICAL_OFFSET_POS, SYS_FLAG_POS, TOTAL_SIZE_POS,
};
use skylark_protocol::message::sysflag::MessageSysFlag;

use super::super::record::tests::record;
use super::super::{CommitLog, CommitLogOptions};
use crate::error::StoreError;

const FILE: usize = 4096;

fn open(dir: &std::path::Path) -> CommitLog {
    CommitLog::open(CommitLogOptions::new(dir.join("commitlog"), FILE)).unwrap()
}

/// Appends `rec` by copying it from the encoder.
fn append_copy(log: &CommitLog, rec: &[u8]) -> crate::error::Result<super::AppendResult> {
    log.append_with(rec.len(), "T", 1, 0, |dst| {
        dst.copy_from_slice(rec);
        Ok(())
    })
}

/// The bytes from the write position to the end of the current file.
fn unpublished(log: &CommitLog) -> Vec<u8> {
    let file = log.queue().last().unwrap();
    let pos = file.wrote_position();
    file.read_unpublished(pos, file.size() - pos)
        .unwrap()
        .to_vec()
}

#[test]
fn encoding_in_place_stores_what_append_stores() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (copied, encoded) = (open(a.path()), open(b.path()));
    // Enough records to roll over several files (BLANK padding included).
    for i in 0..60 {
        let rec = record("T", &vec![i as u8; 17 * i]);
        let x = copied.append(&rec).unwrap();
        let y = append_copy(&encoded, &rec).unwrap();
        assert_eq!(
            (x.wrote_offset, x.wrote_bytes, x.queue_offset, x.msg_num),
            (y.wrote_offset, y.wrote_bytes, y.queue_offset, y.msg_num)
        );
        let (mut x_rec, y_rec) = (
            copied.get_record(x.wrote_offset).unwrap().unwrap().to_vec(),
            encoded
                .get_record(y.wrote_offset)
                .unwrap()
                .unwrap()
                .to_vec(),
        );
        // Only the store timestamps may differ.
        super::patch(
            &mut x_rec,
            x.queue_offset,
            x.wrote_offset,
            y.store_timestamp,
        )
        .unwrap();
        assert_eq!(x_rec, y_rec, "record {i}");
    }
    assert!(encoded.queue().files().len() > 3);
    assert_eq!(copied.max_offset(), encoded.max_offset());
    for (x, y) in copied.queue().files().iter().zip(encoded.queue().files()) {
        let (x, y) = (
            x.read(0, x.wrote_position()).unwrap(),
            y.read(0, y.wrote_position()).unwrap(),
        );
        assert_eq!(x.len(), y.len());
        let tail = x.len() - BLANK_LEN.min(x.len());
        if x.len() == FILE {
            assert_eq!(x[tail..], y[tail..], "same BLANK");
        }
    }
}

#[test]
fn a_failed_encode_publishes_nothing_and_leaves_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let first = record("T", b"first");
    append_copy(&log, &first).unwrap();
    let end = log.max_offset();
    let rec = record("T", b"second");

    let failed = log.append_with(rec.len(), "T", 1, 0, |dst| {
        dst[..20].copy_from_slice(&rec[..20]);
        Err(StoreError::MessageIllegal("encoder gave up"))
    });
    assert!(matches!(
        failed,
        Err(StoreError::MessageIllegal("encoder gave up"))
    ));

    // An encoder that writes another record than announced.
    let wrong_size = log.append_with(rec.len(), "T", 1, 0, |dst| {
        dst.copy_from_slice(&rec);
        dst[TOTAL_SIZE_POS + 3] ^= 1;
        Ok(())
    });
    assert!(matches!(wrong_size, Err(StoreError::MessageIllegal(_))));
    let wrong_flag = log.append_with(
        rec.len(),
        "T",
        1,
        MessageSysFlag::TRANSACTION_PREPARED_TYPE,
        |dst| {
            dst.copy_from_slice(&rec);
            Ok(())
        },
    );
    assert!(matches!(wrong_flag, Err(StoreError::MessageIllegal(_))));
    let wrong_queue = log.append_with(rec.len(), "T", 2, 0, |dst| {
        dst.copy_from_slice(&rec);
        Ok(())
    });
    assert!(matches!(wrong_queue, Err(StoreError::MessageIllegal(_))));

    // A panicking encoder (the lock is poisoned, which appends ignore).
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        log.append_with(rec.len(), "T", 1, 0, |dst| {
            dst.copy_from_slice(&rec);
            panic!("encoder bug");
        })
    }));
    assert!(panicked.is_err());

    assert_eq!(log.max_offset(), end);
    assert_eq!(log.queue_offset("T", 1), 1);
    assert!(
        unpublished(&log).iter().all(|&b| b == 0),
        "garbage left past the end"
    );

    let next = append_copy(&log, &rec).unwrap();
    assert_eq!((next.wrote_offset, next.queue_offset), (end, 1));
    let stored = log.get_record(end).unwrap().unwrap();
    assert_eq!(
        stored[PHYSICAL_OFFSET_POS..PHYSICAL_OFFSET_POS + 8],
        end.to_be_bytes()
    );
    drop(log);
    let reopened = open(dir.path());
    assert_eq!(reopened.recovery().fault, None);
    assert_eq!(reopened.recovery().records, 2);
}

#[test]
fn sizes_are_checked_before_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let never = |_: &mut [u8]| -> crate::error::Result<()> { panic!("encoder called") };
    assert!(matches!(
        log.append_with(FILE, "T", 1, 0, never),
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert!(matches!(
        log.append_with(10, "T", 1, 0, never),
        Err(StoreError::MessageIllegal(_))
    ));
    assert!(matches!(
        log.append_batch_with(0, "T", 1, never),
        Err(StoreError::MessageIllegal("empty batch"))
    ));
    assert!(matches!(
        log.append_batch_with(FILE, "T", 1, never),
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert_eq!(log.max_offset(), 0);
}

#[test]
fn batches_are_encoded_in_place_and_checked_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let recs = [record("T", b"a"), record("T", b"bb"), record("T", b"ccc")];
    let all = recs.concat();
    // Fill most of the first file, so the batch rolls to the next one.
    let filler = record("T", &[0; 3700]);
    append_copy(&log, &filler).unwrap();

    let mut prepared = recs[1].clone();
    prepared[SYS_FLAG_POS + 3] |= MessageSysFlag::TRANSACTION_PREPARED_TYPE as u8;
    let with_prepared = [recs[0].clone(), prepared, recs[2].clone()].concat();
    let r = log
        .append_batch_with(with_prepared.len(), "T", 1, |dst| {
            dst.copy_from_slice(&with_prepared);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        (r.wrote_offset, r.msg_num, r.queue_offset),
        (FILE as i64, 3, 1)
    );
    assert_eq!(
        log.queue_offset("T", 1),
        3,
        "the PREPARED record takes no slot"
    );
    let first_file = log.queue().first().unwrap();
    let blank = first_file.read(filler.len(), BLANK_LEN).unwrap();
    assert_eq!(blank[4..8], BLANK_MAGIC_CODE.to_be_bytes());

    // Framing that does not tile the reservation: nothing is published.
    let end = log.max_offset();
    let bad = log.append_batch_with(all.len() + 1, "T", 1, |dst| {
        dst[..all.len()].copy_from_slice(&all);
        Ok(())
    });
    assert!(matches!(bad, Err(StoreError::MessageIllegal(_))));
    let other_queue = log.append_batch_with(all.len(), "T", 2, |dst| {
        dst.copy_from_slice(&all);
        Ok(())
    });
    assert!(matches!(other_queue, Err(StoreError::MessageIllegal(_))));
    assert_eq!((log.max_offset(), log.queue_offset("T", 1)), (end, 3));
    assert!(unpublished(&log).iter().all(|&b| b == 0));
    let ok = log.append_batch(&all).unwrap();
    assert_eq!((ok.wrote_offset, ok.queue_offset, ok.msg_num), (end, 3, 3));
}
