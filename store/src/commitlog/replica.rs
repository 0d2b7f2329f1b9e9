//! Replication hooks: appending bytes received from a master, and cutting
//! the log back (a returning replica truncating what the new master never had).
//!
//! A master streams raw CommitLog bytes, including the padding after a BLANK
//! record (a Java master sends it as data, possibly over several chunks). The
//! replica checks every record boundary in a chunk before writing any of it.

use std::sync::Arc;

use skylark_protocol::message::record::BLANK_LEN;

use super::record::{Entry, parse_entry};
use super::{AppendState, CommitLog, lock, scan_files};
use crate::error::{RecordFault, Result, StoreError};
use crate::mapped_file::MappedFile;

impl CommitLog {
    /// End of the data, for callers holding the append lock.
    fn end_locked(&self, st: &AppendState) -> i64 {
        self.queue.last().map_or(st.empty_start, |f| f.end_offset())
    }

    /// Appends `data`, received from a master, at `start`; returns the new end.
    ///
    /// `start` must be the log's end (any offset when the log is empty). The
    /// chunk must hold whole records: each has a valid magic and size, its
    /// PHYSICALOFFSET equal to where it lands, and room left for a BLANK
    /// after it; a BLANK's TOTALSIZE must be the rest of its file, whose
    /// padding may follow in this chunk or the next ones. Nothing is written
    /// unless the whole chunk passes (a torn last record is rejected; the
    /// replication layer re-sends from the returned end).
    pub fn append_raw(&self, start: i64, data: &[u8]) -> Result<i64> {
        let mut st = lock(&self.state);
        self.ensure_writable()?;
        if self.queue.is_empty() {
            if start < 0 {
                return Err(StoreError::OffsetMismatch {
                    expected: 0,
                    requested: start,
                });
            }
            st.empty_start = start;
            st.raw_padding = 0;
        } else {
            let expected = self.end_locked(&st);
            if start != expected {
                return Err(StoreError::OffsetMismatch {
                    expected,
                    requested: start,
                });
            }
        }
        let initial_padding = st.raw_padding;
        let (padding, last_ts) = self.validate_raw(start, data, initial_padding)?;

        let mut at = start;
        let mut i = 0;
        while i < data.len() {
            let file = self.raw_file_for(&mut st)?;
            let n = file.remaining().min(data.len() - i);
            // Only the last file gets the newest timestamp: an earlier file must not
            // claim (to the checkpoint) records it does not hold.
            let ts = if i + n == data.len() { last_ts } else { 0 };
            file.append_with(n, ts, |dst, _| {
                dst.copy_from_slice(&data[i..i + n]);
                Ok(())
            })?;
            i += n;
            at += n as i64;
        }
        st.raw_padding = padding;
        self.observe_raw(&mut st, start, data, initial_padding);
        Ok(at)
    }

    /// Checks a master's chunk; returns the padding still due after it and
    /// the last record's store timestamp.
    fn validate_raw(&self, start: i64, data: &[u8], mut padding: usize) -> Result<(usize, i64)> {
        let size = self.file_size;
        // A master's maxMessageSize may exceed ours; a file is the hard bound.
        let max_record = size - BLANK_LEN;
        let (mut at, mut i, mut last_ts) = (start, 0, 0);
        while i < data.len() {
            if padding > 0 {
                let n = padding.min(data.len() - i);
                (i, at, padding) = (i + n, at + n as i64, padding - n);
                continue;
            }
            let left = size - at.rem_euclid(size as i64) as usize;
            let corrupt = |fault| StoreError::CorruptRecord { offset: at, fault };
            match parse_entry(&data[i..], max_record).map_err(corrupt)? {
                Entry::Blank { total_size } => {
                    if usize::try_from(total_size) != Ok(left) {
                        return Err(corrupt(RecordFault::BadBlank { total_size, left }));
                    }
                    padding = left - BLANK_LEN;
                    (i, at) = (i + BLANK_LEN, at + BLANK_LEN as i64);
                }
                Entry::Record(info) => {
                    if info.physical_offset != at {
                        return Err(corrupt(RecordFault::WrongPhysicalOffset {
                            stored: info.physical_offset,
                        }));
                    }
                    if info.total_size + BLANK_LEN > left {
                        return Err(corrupt(RecordFault::BadTotalSize(info.total_size as i32)));
                    }
                    last_ts = info.store_timestamp;
                    (i, at) = (i + info.total_size, at + info.total_size as i64);
                }
            }
        }
        Ok((padding, last_ts))
    }

    /// Advances the queue-offset table past the records of a validated chunk.
    fn observe_raw(&self, st: &mut AppendState, start: i64, data: &[u8], mut padding: usize) {
        let size = self.file_size;
        let (mut at, mut i) = (start, 0);
        while i < data.len() {
            if padding > 0 {
                let n = padding.min(data.len() - i);
                (i, at, padding) = (i + n, at + n as i64, padding - n);
                continue;
            }
            match parse_entry(&data[i..], size) {
                Ok(Entry::Record(info)) => {
                    if let (true, Ok(topic)) = (
                        info.takes_queue_offset(),
                        std::str::from_utf8(&data[i..][info.topic.clone()]),
                    ) {
                        st.offsets.observe(topic, info.queue_id, info.queue_offset);
                    }
                    (i, at) = (i + info.total_size, at + info.total_size as i64);
                }
                Ok(Entry::Blank { .. }) => {
                    padding = size - at.rem_euclid(size as i64) as usize - BLANK_LEN;
                    (i, at) = (i + BLANK_LEN, at + BLANK_LEN as i64);
                }
                // Validated above; nothing else can follow.
                Err(_) => return,
            }
        }
    }

    /// The file raw bytes go to next: the current one until it is full.
    fn raw_file_for(&self, st: &mut AppendState) -> Result<Arc<MappedFile>> {
        let file = match st.current.take() {
            Some(file) => file,
            None => self.first_file(st.empty_start)?,
        };
        let file = if file.is_full() {
            self.queue
                .roll(file.from_offset() + self.file_size as i64)?
        } else {
            file
        };
        st.current = Some(Arc::clone(&file));
        Ok(file)
    }

    /// Cuts the log at `offset`: files after it are deleted, the rest of its
    /// file is zeroed (and synced), and the write and flush positions move back.
    ///
    /// When `offset` is a record boundary the queue-offset table is rolled
    /// back past the removed records. Readers must not hold views of the
    /// removed range (stop serving before truncating). An offset below the
    /// oldest file empties the log; the next append starts at `offset`.
    pub fn truncate(&self, offset: i64) -> Result<()> {
        let mut st = lock(&self.state);
        let max = self.end_locked(&st);
        if offset < 0 || offset > max {
            let min = self.queue.first().map_or(max, |f| f.from_offset());
            return Err(StoreError::OffsetOutOfRange { offset, min, max });
        }
        let offsets = &mut st.offsets;
        if offset >= self.queue.min_offset() {
            scan_files(
                &self.queue,
                offset,
                false,
                self.file_size - BLANK_LEN,
                |at, info, rec| {
                    if at < max && info.takes_queue_offset() {
                        if let Ok(topic) = std::str::from_utf8(&rec[info.topic.clone()]) {
                            let slot = offsets.slot(topic, info.queue_id);
                            *slot = (*slot).min(info.queue_offset);
                        }
                    }
                },
            );
        }
        self.queue.truncate(offset, true)?;
        st.current = self.queue.last();
        st.empty_start = offset;
        st.raw_padding = 0;
        let size = self.file_size as i64;
        self.queue.request_next(match &st.current {
            Some(last) => last.from_offset() + size,
            None => offset - offset.rem_euclid(size),
        });
        Ok(())
    }
}
