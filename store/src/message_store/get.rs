//! Reading: pulls by queue offset (`getMessage`), records by physical
//! offset, offsets by time, and lookups by key through the index. Records
//! come back as zero-copy views of the mapped CommitLog.

use bytes::Bytes;
use skylark_protocol::message::record::{BLANK_LEN, RecordLayout, SYS_FLAG_POS};

use super::MessageStore;
use super::dispatch::{props_of, scan_props, topic_of};
use crate::commitlog::{Entry, parse_entry};
use crate::config::BrokerRole;
use crate::consume_queue::{CQ_ENTRY_SIZE, CqEntry};

/// Largest pull in bytes whatever the caller asks (`MAX_PULL_MSG_SIZE`).
const MAX_PULL_MSG_SIZE: usize = 128 * 1024 * 1024;
/// Most index hits one key query looks at (`maxMsgsNumBatch`).
const MAX_MSGS_NUM_BATCH: usize = 64;
/// Rounds of a key query, each before the oldest hit of the last (Java: 3).
const QUERY_ROUNDS: usize = 3;
/// Bytes of a record header that hold STORETIMESTAMP whatever the host kinds.
const HEADER_WITH_STORE_TS: usize = 80;

/// A filter on a candidate record's raw property bytes (`name\x01value`
/// pairs joined by `\x02`), as Java's `isMatchedByCommitLog`.
pub type RecordFilter<'a> = &'a dyn Fn(&[u8]) -> bool;

/// The tags-code filter and the optional record filter of a read.
type Filters<'a> = (&'a dyn Fn(i64) -> bool, Option<RecordFilter<'a>>);

/// The outcome of a pull (`GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetMessageStatus {
    /// Messages were found.
    Found,
    /// Entries were scanned but none passed the filter.
    NoMatchedMessage,
    /// The records of the scanned entries were already deleted.
    MessageWasRemoving,
    /// The ConsumeQueue file holding the offset could not be read.
    OffsetFoundNull,
    /// The offset is past the queue's end.
    OffsetOverflowBadly,
    /// The offset is the queue's end: nothing new yet.
    OffsetOverflowOne,
    /// The offset is below the queue's minimum.
    OffsetTooSmall,
    /// The queue does not exist.
    NoMatchedLogicQueue,
    /// The queue has never held a message.
    NoMessageInQueue,
}

impl GetMessageStatus {
    /// The Java enum constant's name, e.g. `OFFSET_OVERFLOW_ONE`.
    pub const fn java_name(self) -> &'static str {
        match self {
            Self::Found => "FOUND",
            Self::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            Self::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
            Self::OffsetFoundNull => "OFFSET_FOUND_NULL",
            Self::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            Self::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            Self::OffsetTooSmall => "OFFSET_TOO_SMALL",
            Self::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            Self::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
        }
    }
}

/// The outcome of [`MessageStore::get_messages`] (`GetMessageResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMessageResult {
    /// What happened.
    pub status: GetMessageStatus,
    /// Where the consumer continues (after the last scanned entry when found).
    pub next_begin_offset: i64,
    /// The queue's minimum offset.
    pub min_offset: i64,
    /// The queue's next offset to be written.
    pub max_offset: i64,
    /// The records, each a zero-copy view of the CommitLog.
    pub messages: Vec<Bytes>,
    /// The queue offset of each record in `messages`.
    pub queue_offsets: Vec<i64>,
    /// Bytes in `messages`.
    pub buffer_total_size: usize,
    /// The data read is far behind the CommitLog end (likely not in memory).
    pub suggest_pulling_from_slave: bool,
}

impl GetMessageResult {
    fn empty(status: GetMessageStatus, next: i64, min: i64, max: i64) -> Self {
        Self {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            buffer_total_size: 0,
            suggest_pulling_from_slave: false,
        }
    }
}

/// The outcome of [`MessageStore::query_by_key`] (`QueryMessageResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMessageResult {
    /// Matching records, oldest first, as zero-copy views.
    pub messages: Vec<Bytes>,
    /// End timestamp of the newest index file.
    pub index_last_update_timestamp: i64,
    /// End CommitLog offset of the newest index file.
    pub index_last_update_phy_offset: i64,
}

impl MessageStore {
    /// Java's `nextOffsetCorrection`: a slave keeps the consumer's offset
    /// unless `offsetCheckInSlave`.
    fn correct(&self, old: i64, new: i64) -> i64 {
        if self.config.broker_role != BrokerRole::Slave || self.config.offset_check_in_slave {
            new
        } else {
            old
        }
    }

    /// Reads up to `max_count` messages of `topic`/`queue_id` from queue
    /// offset `offset`, skipping entries whose tags code `filter` rejects,
    /// within `max_bytes` and the hot/cold transfer limits, with RocketMQ's
    /// statuses and next offsets (`DefaultMessageStore.getMessage`).
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: usize,
        max_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetMessageResult {
        self.get_messages_with(topic, queue_id, offset, max_count, max_bytes, filter, None)
    }

    /// [`get_messages`](Self::get_messages), also skipping records whose
    /// raw property bytes `record_filter` rejects (Java's
    /// `isMatchedByCommitLog`, for SQL92). A skipped record still advances
    /// the next offset; when none matched the status is
    /// `NoMatchedMessage`.
    #[allow(clippy::too_many_arguments)]
    pub fn get_messages_with(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: usize,
        max_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
        record_filter: Option<RecordFilter<'_>>,
    ) -> GetMessageResult {
        use GetMessageStatus as S;
        let Some(cq) = self.queues.queue(topic, queue_id) else {
            return GetMessageResult::empty(S::NoMatchedLogicQueue, self.correct(offset, 0), 0, 0);
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        let (status, next) = if max == 0 {
            (S::NoMessageInQueue, self.correct(offset, 0))
        } else if offset < min {
            (S::OffsetTooSmall, self.correct(offset, min))
        } else if offset == max {
            (S::OffsetOverflowOne, self.correct(offset, offset))
        } else if offset > max {
            (S::OffsetOverflowBadly, self.correct(offset, max))
        } else {
            let filters = (filter, record_filter);
            return self.read_queue(&cq, offset, min, max, max_count, max_bytes, filters);
        };
        GetMessageResult::empty(status, next, min, max)
    }

    #[allow(clippy::too_many_arguments)]
    fn read_queue(
        &self,
        cq: &crate::consume_queue::ConsumeQueue,
        offset: i64,
        min: i64,
        max: i64,
        max_count: usize,
        max_bytes: usize,
        (filter, record_filter): Filters<'_>,
    ) -> GetMessageResult {
        use GetMessageStatus as S;
        let cfg = &self.config;
        let max_py = self.commit_log.max_offset();
        let max_filter = cfg
            .max_filter_message_size
            .max(max_count.saturating_mul(CQ_ENTRY_SIZE));
        let max_pull = max_bytes.clamp(100, MAX_PULL_MSG_SIZE);
        let mut out = GetMessageResult::empty(S::NoMatchedMessage, offset, min, max);
        let entries = match cq.read(offset, (max_filter / CQ_ENTRY_SIZE).max(1)) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(topic = cq.topic(), queue_id = cq.queue_id(), offset, error = %e, "ConsumeQueue read failed");
                Vec::new()
            }
        };
        if entries.is_empty() {
            let per_file = (self.queues.file_size() / CQ_ENTRY_SIZE as i64).max(1);
            out.status = S::OffsetFoundNull;
            out.next_begin_offset = self.correct(offset, (offset / per_file + 1) * per_file);
            return out;
        }
        // Sized once: growing them record by record allocated per record.
        let most = max_count.min(entries.len());
        out.messages.reserve_exact(most);
        out.queue_offsets.reserve_exact(most);
        let mut max_phy_pulling = 0;
        let mut next_file_start = i64::MIN;
        for (queue_offset, e) in (offset..max).zip(entries.iter()) {
            let size = usize::try_from(e.size).unwrap_or(0);
            let in_mem = max_py - e.phys_offset <= self.memory_budget;
            if self.batch_full(size, &out, max_count, max_pull, in_mem)
                || out.buffer_total_size >= max_pull
            {
                break;
            }
            max_phy_pulling = e.phys_offset;
            out.next_begin_offset = queue_offset + 1;
            if next_file_start != i64::MIN && e.phys_offset < next_file_start {
                continue;
            }
            if !filter(e.tags_code) {
                if out.buffer_total_size == 0 {
                    out.status = S::NoMatchedMessage;
                }
                continue;
            }
            let Some(record) = self.record_for(e) else {
                if out.buffer_total_size == 0 {
                    out.status = S::MessageWasRemoving;
                }
                next_file_start = self.commit_log.roll_next_file(e.phys_offset);
                continue;
            };
            if let Some(record_filter) = record_filter
                && !record_filter(record_props(&record))
            {
                if out.buffer_total_size == 0 {
                    out.status = S::NoMatchedMessage;
                }
                continue;
            }
            out.buffer_total_size += record.len();
            out.messages.push(record);
            out.queue_offsets.push(queue_offset);
            out.status = S::Found;
            next_file_start = i64::MIN;
        }
        out.suggest_pulling_from_slave = max_py - max_phy_pulling > self.memory_budget;
        out
    }

    /// Java's `isTheBatchFull`.
    fn batch_full(
        &self,
        size: usize,
        out: &GetMessageResult,
        max_count: usize,
        max_pull: usize,
        in_mem: bool,
    ) -> bool {
        let (total, count) = (out.buffer_total_size, out.messages.len());
        if total == 0 || count == 0 {
            return false;
        }
        if count + 1 > max_count || total + size > max_pull {
            return true;
        }
        let cfg = &self.config;
        let (max_bytes, max_msgs) = if in_mem {
            (
                cfg.max_transfer_bytes_on_message_in_memory,
                cfg.max_transfer_count_on_message_in_memory,
            )
        } else {
            (
                cfg.max_transfer_bytes_on_message_in_disk,
                cfg.max_transfer_count_on_message_in_disk,
            )
        };
        total + size > max_bytes || count + 1 > max_msgs
    }

    /// The record an entry points to, if it is still there and really starts
    /// with a record of that size (never serve bytes a later write replaced).
    fn record_for(&self, e: &CqEntry) -> Option<Bytes> {
        let size = usize::try_from(e.size).ok()?;
        let record = self.commit_log.get_message(e.phys_offset, size)?;
        let stored = record.get(..4).map(|b| [b[0], b[1], b[2], b[3]]);
        if stored.map(i32::from_be_bytes) != Some(e.size) {
            tracing::error!(
                offset = e.phys_offset,
                size = e.size,
                "ConsumeQueue entry does not match the CommitLog record"
            );
            return None;
        }
        Some(record)
    }

    /// The record at CommitLog offset `offset` as a zero-copy view.
    pub fn message_by_phys_offset(&self, offset: i64) -> Option<Bytes> {
        match self.commit_log.get_record(offset) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(offset, error = %e, "damaged record");
                None
            }
        }
    }

    /// Store timestamp of the record of `size` bytes at `offset`.
    fn store_time_at(&self, offset: i64, size: i32) -> Option<i64> {
        let size = usize::try_from(size).ok()?;
        let head = self
            .commit_log
            .get_message(offset, HEADER_WITH_STORE_TS.min(size))?;
        let sys_flag =
            i32::from_be_bytes(head.get(SYS_FLAG_POS..SYS_FLAG_POS + 4)?.try_into().ok()?);
        let at = RecordLayout::for_sys_flag(sys_flag).store_timestamp;
        Some(i64::from_be_bytes(head.get(at..at + 8)?.try_into().ok()?))
    }

    /// The next queue offset of `topic`/`queue_id` (0 if the queue does not exist).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues
            .queue(topic, queue_id)
            .map_or(0, |q| q.max_offset())
    }

    /// The smallest readable queue offset (0 if the queue does not exist).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues
            .queue(topic, queue_id)
            .map_or(0, |q| q.min_offset())
    }

    /// The first queue offset stored at or after `timestamp` (the max offset
    /// if all are older; 0 without the queue) — `getOffsetInQueueByTime`.
    pub fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64) -> i64 {
        let Some(cq) = self.queues.queue(topic, queue_id) else {
            return 0;
        };
        cq.offset_by_time(timestamp, |off, size| self.store_time_at(off, size))
            .unwrap_or_else(|e| {
                tracing::warn!(topic, queue_id, error = %e, "offset by time failed");
                0
            })
    }

    /// Store time of the message at queue offset `offset`, or -1.
    pub fn message_store_time(&self, topic: &str, queue_id: i32, offset: i64) -> i64 {
        self.queues
            .queue(topic, queue_id)
            .and_then(|q| q.get(offset).ok().flatten())
            .and_then(|e| self.store_time_at(e.phys_offset, e.size))
            .unwrap_or(-1)
    }

    /// Store time of the oldest message still in the queue, or -1.
    pub fn earliest_store_time(&self, topic: &str, queue_id: i32) -> i64 {
        self.message_store_time(topic, queue_id, self.min_offset(topic, queue_id))
    }

    /// Whether the message at queue offset `offset` is still stored and
    /// within the hot window at the CommitLog's end that pulls treat as in
    /// memory (`checkInMemByConsumeOffset`; Java 5 asks `mincore`, this
    /// estimates as Java 4.9 and the pull path do).
    pub fn check_in_mem_by_consume_offset(&self, topic: &str, queue_id: i32, offset: i64) -> bool {
        let Some(entry) = self
            .queues
            .queue(topic, queue_id)
            .and_then(|q| q.get(offset).ok().flatten())
        else {
            return false;
        };
        entry.phys_offset >= self.commit_log.min_offset()
            && self.commit_log.max_offset() - entry.phys_offset <= self.memory_budget
    }

    /// Messages of `topic` whose `KEYS` hold `key` or whose `UNIQ_KEY` is
    /// `key`, stored within `[begin, end]` ms, oldest first, at most
    /// `max_num` (capped at 64) — `queryMessage`. Unlike Java, which leaves
    /// it to the client, hash collisions are filtered out here.
    pub fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin: i64,
        end: i64,
    ) -> QueryMessageResult {
        let mut out = QueryMessageResult::default();
        let Some(index) = &self.index else {
            return out;
        };
        let max_num = max_num.min(MAX_MSGS_NUM_BATCH);
        let max_record = self.commit_log.file_size() - BLANK_LEN;
        let mut last = end;
        for _ in 0..QUERY_ROUNDS {
            let found = index.query(topic, key, max_num, begin, last);
            if found.phys_offsets.is_empty() {
                break;
            }
            out.index_last_update_timestamp = found.index_last_update_timestamp;
            out.index_last_update_phy_offset = found.index_last_update_phy_offset;
            let mut offsets = found.phys_offsets;
            offsets.sort_unstable();
            offsets.dedup();
            for (m, &off) in offsets.iter().enumerate() {
                let Some(rec) = self.message_by_phys_offset(off) else {
                    continue;
                };
                let Ok(Entry::Record(info)) = parse_entry(&rec, max_record) else {
                    continue;
                };
                if m == 0 {
                    last = info.store_timestamp;
                }
                let props = scan_props(props_of(&rec, &info));
                let key_matches = props.uniq_key == Some(key)
                    || props.keys.is_some_and(|k| k.split(' ').any(|t| t == key));
                if topic_of(&rec, &info) == Some(topic) && key_matches {
                    out.messages.push(rec);
                }
            }
            if !out.messages.is_empty() || last < begin {
                break;
            }
        }
        out
    }
}

/// A whole record's raw property bytes (empty if it does not parse).
fn record_props(record: &[u8]) -> &[u8] {
    match parse_entry(record, record.len()) {
        Ok(Entry::Record(info)) => props_of(record, &info),
        _ => &[],
    }
}
