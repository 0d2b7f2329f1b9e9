//! Appending records: one, or a batch for one queue.
//!
//! Everything that can be is done before the append lock is taken (size
//! checks here; encoding lengths, CRCs and validation by the caller). Under
//! it the store only picks the file (padding the old one with BLANK and
//! taking the pre-allocated next one when a record does not fit), has the
//! record written into the mapping once — by an encoder
//! ([`CommitLog::append_with`]) or as a copy of encoded bytes
//! ([`CommitLog::append`]) — and patches QUEUEOFFSET, PHYSICALOFFSET and
//! STORETIMESTAMP there. No allocation happens under the lock except the
//! first time a topic or queue is seen, and no syscall except when rolling to
//! a file that was not pre-allocated in time.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use skylark_protocol::message::record::{
    BLANK_LEN, MIN_RECORD_LEN, QUEUE_ID_POS, SYS_FLAG_POS, TOTAL_SIZE_POS, patch_physical_offset,
    patch_queue_offset, patch_store_timestamp, write_blank,
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

    /// Pairs an append with the wait for the flush covering it.
    fn with_flush_wait(&self, append: AppendResult, wait: bool) -> PutResult {
        let flush = self.flush.wait_for(append.end_offset(), wait);
        PutResult { append, flush }
    }

    /// Appends one encoded record (TOTALSIZE must be its length) and returns
    /// where it went with the wait for its flush (`wait`: the `WAIT` property).
    pub fn put(&self, record: &[u8], wait: bool) -> Result<PutResult> {
        let append = self.append(record)?;
        Ok(self.with_flush_wait(append, wait))
    }

    /// Appends a batch and returns where it went with the wait for its flush.
    pub fn put_batch(&self, records: &[u8], wait: bool) -> Result<PutResult> {
        let append = self.append_batch(records)?;
        Ok(self.with_flush_wait(append, wait))
    }

    /// Reserves `len` bytes for one record of `topic`/`queue_id` with
    /// `sys_flag`, has `encode` write the record straight into the mapping,
    /// and returns where it went with the wait for its flush.
    pub fn put_with(
        &self,
        len: usize,
        topic: &str,
        queue_id: i32,
        sys_flag: i32,
        wait: bool,
        encode: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<PutResult> {
        let append = self.append_with(len, topic, queue_id, sys_flag, encode)?;
        Ok(self.with_flush_wait(append, wait))
    }

    /// [`append_batch_with`](Self::append_batch_with), then the wait for its flush.
    pub fn put_batch_with(
        &self,
        total: usize,
        topic: &str,
        queue_id: i32,
        wait: bool,
        encode: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<PutResult> {
        let append = self.append_batch_with(total, topic, queue_id, encode)?;
        Ok(self.with_flush_wait(append, wait))
    }

    /// Appends one encoded record without waiting for any flush.
    pub fn append(&self, record: &[u8]) -> Result<AppendResult> {
        let Checked { info, topic } = self.check(record)?;
        if record.len() != info.total_size {
            return Err(StoreError::MessageIllegal(
                "TOTALSIZE disagrees with the record's length",
            ));
        }
        self.append_with(record.len(), topic, info.queue_id, info.sys_flag, |dst| {
            dst.copy_from_slice(record);
            Ok(())
        })
    }

    /// Appends one record that `encode` writes straight into the mapping.
    ///
    /// Under the append lock the log picks the file (padding the old one with
    /// BLANK and rolling when `len` does not fit), hands `encode` exactly the
    /// `len` bytes at the write position, checks that it wrote TOTALSIZE
    /// `len`, SYSFLAG `sys_flag` and QUEUEID `queue_id` (the topic is
    /// trusted), and sets QUEUEOFFSET, PHYSICALOFFSET and
    /// STORETIMESTAMP in place. The write position advances only after all of
    /// that succeeded; on failure (or a panic) the reserved bytes are zeroed
    /// again and nothing is published. `encode` runs under the lock: it
    /// should only copy (compute CRCs and lengths before calling).
    pub fn append_with(
        &self,
        len: usize,
        topic: &str,
        queue_id: i32,
        sys_flag: i32,
        encode: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<AppendResult> {
        if len > self.max_message_size {
            return Err(StoreError::MessageTooLarge {
                len,
                max: self.max_message_size,
            });
        }
        if len < MIN_RECORD_LEN {
            return Err(StoreError::MessageIllegal(
                "record shorter than the minimum",
            ));
        }
        let takes_offset = takes_queue_offset(sys_flag);

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
        let slot = offsets.slot(topic, queue_id);
        let queue_offset = if takes_offset { *slot } else { 0 };
        let from = file.from_offset();
        let (pos, ()) = file.append_with(len, now, |dst, pos| {
            let mut dst = Reserved::new(dst);
            encode(dst.bytes())?;
            let rec = dst.bytes();
            if i32_at(rec, TOTAL_SIZE_POS) != i32::try_from(len).ok()
                || i32_at(rec, SYS_FLAG_POS) != Some(sys_flag)
                || i32_at(rec, QUEUE_ID_POS) != Some(queue_id)
            {
                return Err(StoreError::MessageIllegal(
                    "the encoder wrote another TOTALSIZE, SYSFLAG or QUEUEID than announced",
                ));
            }
            patch(dst.bytes(), queue_offset, from + pos as i64, now)?;
            dst.keep();
            Ok(())
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
            first.get_or_insert(checked);
        }
        let Some(Checked { info, topic }) = first else {
            return Err(StoreError::MessageIllegal("empty batch"));
        };
        self.append_batch_with(records.len(), topic, info.queue_id, |dst| {
            dst.copy_from_slice(records);
            Ok(())
        })
    }

    /// Appends a batch of records of `topic`/`queue_id`, `total` bytes in
    /// all, that `encode` writes back to back straight into the mapping.
    ///
    /// As [`append_with`](Self::append_with), for a batch: all records go to
    /// one file with consecutive queue offsets; after `encode` the log walks
    /// the records by their TOTALSIZE (which must tile `total` exactly) and
    /// sets each one's QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP.
    pub fn append_batch_with(
        &self,
        total: usize,
        topic: &str,
        queue_id: i32,
        encode: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<AppendResult> {
        if total == 0 {
            return Err(StoreError::MessageIllegal("empty batch"));
        }
        if total.saturating_add(BLANK_LEN) > self.file_size {
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
        let slot = offsets.slot(topic, queue_id);
        let base = *slot;
        let from = file.from_offset();
        let (at, (taken, count, first_takes)) = file.append_with(total, now, |dst, at| {
            let mut dst = Reserved::new(dst);
            encode(dst.bytes())?;
            let out = self.patch_batch(dst.bytes(), queue_id, base, from + at as i64, now)?;
            dst.keep();
            Ok(out)
        })?;
        *slot += taken;
        drop(st);
        Ok(AppendResult {
            wrote_offset: from + at as i64,
            wrote_bytes: total,
            queue_offset: if first_takes { base } else { 0 },
            msg_num: count,
            store_timestamp: now,
        })
    }

    /// Walks the records of a batch for `queue_id` written at `physical` and
    /// patches them; returns the queue offsets taken, the records, and
    /// whether the first takes one.
    fn patch_batch(
        &self,
        dst: &mut [u8],
        queue_id: i32,
        base: i64,
        physical: i64,
        now: i64,
    ) -> Result<(i64, usize, bool)> {
        let (mut next, mut count, mut first_takes, mut p) = (base, 0, false, 0);
        while p < dst.len() {
            let size = i32_at(dst, p)
                .and_then(|s| usize::try_from(s).ok())
                .filter(|s| (MIN_RECORD_LEN..=self.max_message_size).contains(s))
                .ok_or(StoreError::MessageIllegal("batch record size out of range"))?;
            let rec = dst.get_mut(p..p + size).ok_or(StoreError::MessageIllegal(
                "batch records overrun the batch",
            ))?;
            if i32_at(rec, QUEUE_ID_POS) != Some(queue_id) {
                return Err(StoreError::MessageIllegal(
                    "a batch must hold one topic and queue",
                ));
            }
            let takes = i32_at(rec, SYS_FLAG_POS).is_some_and(takes_queue_offset);
            patch(rec, if takes { next } else { 0 }, physical + p as i64, now)?;
            first_takes |= count == 0 && takes;
            next += i64::from(takes);
            count += 1;
            p += size;
        }
        Ok((next - base, count, first_takes))
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

/// Reserved, unpublished bytes of a mapping, zeroed again on drop unless
/// [`keep`](Self::keep) was called: bytes past the write position stay zero
/// (what recovery expects at a clean end) whatever an encoder did before it
/// failed or panicked.
struct Reserved<'a> {
    bytes: &'a mut [u8],
    keep: bool,
}

impl<'a> Reserved<'a> {
    fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes, keep: false }
    }

    fn bytes(&mut self) -> &mut [u8] {
        self.bytes
    }

    /// The bytes are complete: they will be published.
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.bytes.fill(0);
        }
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
    Ok(())
}

#[cfg(test)]
mod tests;
