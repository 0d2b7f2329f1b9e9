//! Appending encoded records: one, or a batch for one queue.
//!
//! Records are checked before the append lock is taken. Under it the store
//! only picks the file (padding the old one with BLANK and taking the
//! pre-allocated next one when a record does not fit), copies the bytes into
//! the mapping once, and patches QUEUEOFFSET, PHYSICALOFFSET and
//! STORETIMESTAMP there. No allocation happens under the lock except the
//! first time a topic or queue is seen, and no syscall except when rolling to
//! a file that was not pre-allocated in time.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use skylark_protocol::message::record::{
    BLANK_LEN, QUEUE_ID_POS, SYS_FLAG_POS, patch_physical_offset, patch_queue_offset,
    patch_store_timestamp, write_blank,
};

use super::record::{Entry, RecordInfo, i32_at, parse_entry, takes_queue_offset};
use super::{AppendState, CommitLog, lock};
use crate::error::{Result, StoreError};
use crate::flush::FlushWait;
use crate::mapped_file::MappedFile;

/// Where an append put its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// Physical offset of the first record.
    pub wrote_offset: i64,
    /// Bytes written (all records).
    pub wrote_bytes: usize,
    /// Queue offset of the first record (0 for PREPARED/ROLLBACK).
    pub queue_offset: i64,
    /// Records written.
    pub msg_num: usize,
    /// Store timestamp given to every record.
    pub store_timestamp: i64,
}

impl AppendResult {
    /// Offset just past the last record: what a sync flush must reach.
    pub fn end_offset(&self) -> i64 {
        self.wrote_offset + self.wrote_bytes as i64
    }
}

/// A completed append and the wait for its flush.
#[derive(Debug)]
pub struct PutResult {
    /// Where the records went.
    pub append: AppendResult,
    /// Completes with `PUT_OK` once flushed as configured, or `FLUSH_DISK_TIMEOUT`.
    pub flush: FlushWait,
}

/// What is checked about a record before taking the lock.
struct Checked<'a> {
    info: RecordInfo,
    topic: &'a str,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl CommitLog {
    fn check<'a>(&self, record: &'a [u8]) -> Result<Checked<'a>> {
        if let Some(size) = i32_at(record, 0).and_then(|s| usize::try_from(s).ok()) {
            if size > self.max_message_size {
                return Err(StoreError::MessageTooLarge {
                    len: size,
                    max: self.max_message_size,
                });
            }
        }
        let info = match parse_entry(record, self.max_message_size) {
            Ok(Entry::Record(info)) => info,
            Ok(Entry::Blank { .. }) => {
                return Err(StoreError::MessageIllegal(
                    "a BLANK record cannot be appended",
                ));
            }
            Err(_) => return Err(StoreError::MessageIllegal("not a well-formed record")),
        };
        let topic = std::str::from_utf8(&record[info.topic.clone()])
            .map_err(|_| StoreError::MessageIllegal("topic is not UTF-8"))?;
        Ok(Checked { info, topic })
    }

    /// Appends one encoded record (TOTALSIZE must be its length) and returns
    /// where it went with the wait for its flush (`wait`: the `WAIT` property).
    pub fn put(&self, record: &[u8], wait: bool) -> Result<PutResult> {
        let append = self.append(record)?;
        let flush = self.flush.wait_for(append.end_offset(), wait);
        Ok(PutResult { append, flush })
    }

    /// Appends a batch and returns where it went with the wait for its flush.
    pub fn put_batch(&self, records: &[u8], wait: bool) -> Result<PutResult> {
        let append = self.append_batch(records)?;
        let flush = self.flush.wait_for(append.end_offset(), wait);
        Ok(PutResult { append, flush })
    }

    /// Appends one encoded record without waiting for any flush.
    pub fn append(&self, record: &[u8]) -> Result<AppendResult> {
        let Checked { info, topic } = self.check(record)?;
        if record.len() != info.total_size {
            return Err(StoreError::MessageIllegal(
                "TOTALSIZE disagrees with the record's length",
            ));
        }
        let takes_offset = info.takes_queue_offset();
        let len = record.len();

        let mut st = lock(&self.state);
        self.ensure_writable()?;
        let now = now_ms();
        let AppendState {
            current,
            offsets,
            empty_start,
            ..
        } = &mut *st;
        let file = self.file_for(current, *empty_start, len)?;
        let slot = offsets.slot(topic, info.queue_id);
        let queue_offset = if takes_offset { *slot } else { 0 };
        let from = file.from_offset();
        let (pos, ()) = file.append_with(len, now, |dst, pos| {
            dst.copy_from_slice(record);
            patch(dst, queue_offset, from + pos as i64, now)
        })?;
        if takes_offset {
            *slot += 1;
        }
        drop(st);
        Ok(AppendResult {
            wrote_offset: from + pos as i64,
            wrote_bytes: len,
            queue_offset,
            msg_num: 1,
            store_timestamp: now,
        })
    }

    /// Appends concatenated encoded records of one topic and queue with
    /// consecutive queue offsets, all in one file (as RocketMQ stores a
    /// `MessageExtBatch`).
    pub fn append_batch(&self, records: &[u8]) -> Result<AppendResult> {
        let mut pos = 0;
        let mut first: Option<Checked<'_>> = None;
        let mut count = 0;
        while pos < records.len() {
            let checked = self.check(&records[pos..])?;
            if let Some(first) = &first {
                if checked.topic != first.topic || checked.info.queue_id != first.info.queue_id {
                    return Err(StoreError::MessageIllegal(
                        "a batch must hold one topic and queue",
                    ));
                }
            }
            pos += checked.info.total_size;
            count += 1;
            first.get_or_insert(checked);
        }
        let Some(Checked { info, topic }) = first else {
            return Err(StoreError::MessageIllegal("empty batch"));
        };
        let total = records.len();
        if total + BLANK_LEN > self.file_size {
            return Err(StoreError::MessageTooLarge {
                len: total,
                max: self.file_size - BLANK_LEN,
            });
        }

        let mut st = lock(&self.state);
        self.ensure_writable()?;
        let now = now_ms();
        let AppendState {
            current,
            offsets,
            empty_start,
            ..
        } = &mut *st;
        let file = self.file_for(current, *empty_start, total)?;
        let slot = offsets.slot(topic, info.queue_id);
        let base = *slot;
        let from = file.from_offset();
        let (at, taken) = file.append_with(total, now, |dst, at| {
            dst.copy_from_slice(records);
            let mut next = base;
            let mut p = 0;
            while p < dst.len() {
                // Sizes were checked above; the fallbacks only keep this panic-free.
                let size = i32_at(dst, p).map_or(0, |s| s as usize).max(1);
                let rec = dst
                    .get_mut(p..p + size)
                    .ok_or(StoreError::MessageIllegal("batch framing changed"))?;
                let takes = i32_at(rec, SYS_FLAG_POS).is_some_and(takes_queue_offset);
                patch(
                    rec,
                    if takes { next } else { 0 },
                    from + (at + p) as i64,
                    now,
                )?;
                next += i64::from(takes);
                p += size;
            }
            Ok(next - base)
        })?;
        *slot += taken;
        drop(st);
        let queue_offset = if info.takes_queue_offset() { base } else { 0 };
        Ok(AppendResult {
            wrote_offset: from + at as i64,
            wrote_bytes: total,
            queue_offset,
            msg_num: count,
            store_timestamp: now,
        })
    }

    pub(super) fn ensure_writable(&self) -> Result<()> {
        if self.flush.is_accepting() {
            Ok(())
        } else {
            Err(StoreError::NotWritable)
        }
    }

    /// The file the next `len` bytes go to, padding and rolling as needed.
    ///
    /// Borrowed from the state, so the steady state costs no reference-count traffic.
    pub(super) fn file_for<'s>(
        &self,
        current: &'s mut Option<Arc<MappedFile>>,
        empty_start: i64,
        len: usize,
    ) -> Result<&'s Arc<MappedFile>> {
        let fits = current
            .as_ref()
            .is_some_and(|f| f.remaining() >= len + BLANK_LEN);
        if !fits {
            let next = match current.take() {
                None => self.first_file(empty_start)?,
                Some(file) => self.pad_and_roll(&file)?,
            };
            // After a truncation the last file may be full or short of room: roll past it.
            let next = if next.remaining() >= len + BLANK_LEN {
                next
            } else {
                self.pad_and_roll(&next)?
            };
            *current = Some(next);
        }
        current.as_ref().ok_or(StoreError::NotWritable)
    }

    /// Ends `file` with a BLANK record and returns the next file.
    fn pad_and_roll(&self, file: &MappedFile) -> Result<Arc<MappedFile>> {
        let left = file.remaining();
        if left > 0 {
            // Declares the whole rest of the file written; only 8 bytes are
            // stored, the rest is already zero.
            file.append_with(left, 0, |dst, _| {
                if left >= BLANK_LEN {
                    write_blank(&mut &mut dst[..BLANK_LEN], left)
                        .map_err(|_| StoreError::MessageIllegal("BLANK does not fit"))?;
                }
                Ok(())
            })?;
        }
        self.queue.roll(file.from_offset() + self.file_size as i64)
    }

    /// Creates the first file of an empty log at `empty_start`.
    pub(super) fn first_file(&self, empty_start: i64) -> Result<Arc<MappedFile>> {
        if let Some(last) = self.queue.last() {
            return Ok(last);
        }
        let size = self.file_size as i64;
        let start = empty_start - empty_start.rem_euclid(size);
        let file = self.queue.roll(start)?;
        file.set_start((empty_start - start) as usize);
        Ok(file)
    }
}

/// Fills in the fields the store assigns, in the mapped copy of a record.
fn patch(
    rec: &mut [u8],
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
) -> Result<()> {
    let bad = |_| StoreError::MessageIllegal("record too short to patch");
    patch_queue_offset(rec, queue_offset).map_err(bad)?;
    patch_physical_offset(rec, physical_offset).map_err(bad)?;
    patch_store_timestamp(rec, store_timestamp).map_err(bad)?;
    debug_assert!(rec.len() > QUEUE_ID_POS);
    Ok(())
}
