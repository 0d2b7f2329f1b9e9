//! The CommitLog: every stored record, appended to mmap'd files named by
//! their start offset.
//!
//! - appends: [`CommitLog::put_with`] and [`CommitLog::put_batch_with`]
//!   have an encoder write records straight into the mapping under a short
//!   lock ([`CommitLog::put`] and [`CommitLog::put_batch`] copy encoded
//!   ones), assigning queue offset, physical offset and store timestamp in
//!   place, and pad a file's end with a BLANK record so no record spans two
//!   files;
//! - reads: records by offset as zero-copy [`Bytes`];
//! - replication: raw bytes for ([`CommitLog::get_data`]) and from
//!   ([`CommitLog::append_raw`]) a master, and [`CommitLog::truncate`];
//! - recovery: [`CommitLog::open`] cuts a torn tail, and [`CommitLog::scan`]
//!   walks records for the broker's full recovery.

mod append;
mod record;
mod replica;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use skylark_protocol::message::record::{BLANK_LEN, MIN_RECORD_LEN};

pub use append::{AppendResult, PutResult};
pub use record::{Entry, RecordInfo, parse_entry, verify_crc};

use crate::checkpoint::StoreCheckpoint;
use crate::config::MessageStoreConfig;
use crate::error::{RecordFault, Result, StoreError};
use crate::flush::{FlushConfig, FlushService};
use crate::mapped_file::{DiskSync, MappedFile, Msync};
use crate::mapped_file_queue::{MappedFileQueue, QueueOptions};

/// How to open a [`CommitLog`].
#[derive(Debug, Clone)]
pub struct CommitLogOptions {
    /// Directory of the files.
    pub dir: PathBuf,
    /// Size of each file (`mappedFileSizeCommitLog`).
    pub file_size: usize,
    /// Largest record accepted (`maxMessageSize`).
    pub max_message_size: usize,
    /// Flushing.
    pub flush: FlushConfig,
    /// Verify body CRCs while recovering the tail (`checkCRCOnRecover`).
    pub check_crc_on_recover: bool,
    /// Create the next file in the background before it is needed.
    pub preallocate: bool,
    /// Pre-fault every page of each new file (`warmMapedFileEnable`).
    pub prefault: bool,
    /// Bytes past the write position kept resident (`warmWindowSizeCommitLog`; 0: none).
    pub warm_window: usize,
    /// How flushes reach the disk (tests inject slow or counting ones).
    pub disk_sync: Arc<dyn DiskSync>,
    /// Checkpoint whose physicMsgTimestamp flushes advance.
    pub checkpoint: Option<Arc<StoreCheckpoint>>,
}

impl CommitLogOptions {
    /// Options for `dir` with `file_size`-byte files and otherwise RocketMQ's defaults.
    pub fn new(dir: impl Into<PathBuf>, file_size: usize) -> Self {
        let defaults = MessageStoreConfig::default();
        Self {
            dir: dir.into(),
            file_size,
            max_message_size: defaults.max_message_size,
            flush: FlushConfig::from_store_config(&defaults),
            check_crc_on_recover: defaults.check_crc_on_recover,
            preallocate: true,
            prefault: defaults.warm_maped_file_enable,
            warm_window: defaults.warm_window_size_commit_log,
            disk_sync: Arc::new(Msync),
            checkpoint: None,
        }
    }

    /// Options from a store config.
    pub fn from_config(config: &MessageStoreConfig) -> Self {
        Self {
            max_message_size: config.max_message_size,
            flush: FlushConfig::from_store_config(config),
            check_crc_on_recover: config.check_crc_on_recover,
            prefault: config.warm_maped_file_enable,
            warm_window: config.warm_window_size_commit_log,
            ..Self::new(config.commit_log_dir(), config.mapped_file_size_commit_log)
        }
    }
}

/// What [`CommitLog::scan`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Where the scan started.
    pub from: i64,
    /// Offset just past the last valid record (or BLANK-padded file end).
    pub end: i64,
    /// Records visited.
    pub records: u64,
    /// The first invalid bytes, unless the scan ended on zeros (a clean end).
    pub fault: Option<(i64, RecordFault)>,
    /// Store timestamp of the last valid record (0 if none).
    pub last_store_timestamp: i64,
}

/// The next queue offset of every topic and queue, consulted under the append lock.
#[derive(Debug, Default)]
pub(crate) struct QueueOffsets {
    // Topic → index into `queues`: the lookup goes by `&str` and copies the
    // index out, so no key is built and no borrow outlives it.
    index: HashMap<String, usize>,
    queues: Vec<HashMap<i32, i64>>,
}

impl QueueOffsets {
    /// The slot of `topic`/`queue_id`, created at 0 (allocating only the first time).
    pub(crate) fn slot(&mut self, topic: &str, queue_id: i32) -> &mut i64 {
        let i = match self.index.get(topic) {
            Some(&i) => i,
            None => {
                self.index.insert(topic.to_owned(), self.queues.len());
                self.queues.push(HashMap::new());
                self.queues.len() - 1
            }
        };
        self.queues[i].entry(queue_id).or_insert(0)
    }

    fn get(&self, topic: &str, queue_id: i32) -> Option<i64> {
        self.queues
            .get(*self.index.get(topic)?)?
            .get(&queue_id)
            .copied()
    }

    fn remove_topic(&mut self, topic: &str) {
        if let Some(i) = self.index.remove(topic) {
            // The slot stays (indices are stable); only its queues go.
            self.queues[i] = HashMap::new();
        }
    }

    /// Records that a record with `queue_offset` exists (recovery, replication).
    pub(crate) fn observe(&mut self, topic: &str, queue_id: i32, queue_offset: i64) {
        let slot = self.slot(topic, queue_id);
        *slot = (*slot).max(queue_offset + 1);
    }
}

/// Everything the append lock guards.
#[derive(Debug, Default)]
struct AppendState {
    /// The file appends go to (the queue's last file).
    current: Option<Arc<MappedFile>>,
    offsets: QueueOffsets,
    /// Where the first record goes when the log has no file.
    empty_start: i64,
    /// Padding bytes still due from a master after a raw BLANK.
    raw_padding: usize,
}

/// The CommitLog.
#[derive(Debug)]
pub struct CommitLog {
    queue: Arc<MappedFileQueue>,
    state: Mutex<AppendState>,
    flush: FlushService,
    file_size: usize,
    max_message_size: usize,
    recovery: ScanOutcome,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Appends publish only after every write succeeded, so a panicking holder
    // leaves the state consistent; poisoning is not a reason to stop.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CommitLog {
    /// Opens (or creates) the log in `options.dir`, cuts any torn tail, and
    /// starts flushing.
    ///
    /// Recovery scans from the newest file that starts with a valid record:
    /// the end of the last valid record becomes the write position, garbage
    /// after it is zeroed, later files are deleted, and the queue-offset table
    /// is seeded from the scanned records (the broker's full recovery then
    /// replaces it from the ConsumeQueues with
    /// [`reset_queue_offsets`](Self::reset_queue_offsets)).
    pub fn open(options: CommitLogOptions) -> Result<Self> {
        if options.file_size < MIN_RECORD_LEN + BLANK_LEN
            || i32::try_from(options.file_size).is_err()
        {
            return Err(StoreError::InvalidConfig(
                "file size must be from 99 bytes to 2 GiB",
            ));
        }
        let queue = Arc::new(MappedFileQueue::open(
            options.dir.clone(),
            QueueOptions {
                file_size: options.file_size,
                preallocate: options.preallocate,
                prefault: options.prefault,
                warm_window: options.warm_window,
                disk_sync: Arc::clone(&options.disk_sync),
            },
        )?);
        let max_message_size = options.max_message_size.min(options.file_size - BLANK_LEN);
        let mut state = AppendState::default();
        // Stored records are bounded by the file, not by today's maxMessageSize:
        // lowering the limit must not make recovery cut valid records.
        let max_record = options.file_size - BLANK_LEN;
        let recovery = recover(&queue, &mut state, options.check_crc_on_recover, max_record)?;
        let flush = FlushService::start(Arc::clone(&queue), options.flush, options.checkpoint)?;
        Ok(Self {
            queue,
            state: Mutex::new(state),
            flush,
            file_size: options.file_size,
            max_message_size,
            recovery,
        })
    }

    /// What recovery found when the log was opened.
    pub fn recovery(&self) -> &ScanOutcome {
        &self.recovery
    }

    /// Largest record a file can hold: the bound for reading stored records.
    fn max_record(&self) -> usize {
        self.file_size - BLANK_LEN
    }

    /// The files.
    pub fn queue(&self) -> &Arc<MappedFileQueue> {
        &self.queue
    }

    /// The flusher.
    pub fn flush_service(&self) -> &FlushService {
        &self.flush
    }

    /// Size of each file.
    pub fn file_size(&self) -> usize {
        self.file_size
    }

    /// Smallest stored offset (start of the oldest file).
    pub fn min_offset(&self) -> i64 {
        self.queue
            .first()
            .map_or_else(|| self.max_offset(), |f| f.from_offset())
    }

    /// Offset where the next record goes (end of the published data).
    pub fn max_offset(&self) -> i64 {
        match self.queue.last() {
            Some(file) => file.end_offset(),
            None => lock(&self.state).empty_start,
        }
    }

    /// Offset up to which the log is on disk.
    pub fn flushed_offset(&self) -> i64 {
        self.queue.flushed_where()
    }

    /// Start of the file after the one holding `offset` (`rollNextFile`).
    pub fn roll_next_file(&self, offset: i64) -> i64 {
        let size = self.file_size as i64;
        offset + size - offset.rem_euclid(size)
    }

    /// `size` bytes at `offset` as a zero-copy view, if published.
    pub fn get_message(&self, offset: i64, size: usize) -> Option<Bytes> {
        let file = self.queue.find(offset)?;
        file.slice(usize::try_from(offset - file.from_offset()).ok()?, size)
    }

    /// The record at `offset` as a zero-copy view; `None` past the end, before
    /// the start, or on the BLANK padding a file ends with.
    pub fn get_record(&self, offset: i64) -> Result<Option<Bytes>> {
        let Some(file) = self.queue.find(offset) else {
            return Ok(None);
        };
        let pos = usize::try_from(offset - file.from_offset()).unwrap_or(usize::MAX);
        let Some(head) = file
            .read(pos, file.wrote_position().saturating_sub(pos))
            .filter(|h| !h.is_empty())
        else {
            return Ok(None);
        };
        match parse_entry(head, self.max_record()) {
            Ok(Entry::Record(info)) => Ok(file.slice(pos, info.total_size)),
            Ok(Entry::Blank { .. }) => Ok(None),
            Err(fault) => Err(StoreError::CorruptRecord { offset, fault }),
        }
    }

    /// Published bytes from `offset` to the end of its file's data, zero-copy
    /// (what a master sends a replica; `getData`).
    pub fn get_data(&self, offset: i64) -> Option<Bytes> {
        let file = self.queue.find(offset)?;
        let pos = usize::try_from(offset - file.from_offset()).ok()?;
        file.slice(pos, file.wrote_position().checked_sub(pos)?)
    }

    /// Walks the records from `from` (a record boundary) to the end of the
    /// valid data, calling `visit(offset, info, bytes)` for each, optionally
    /// checking body CRCs; stops at the first invalid bytes.
    ///
    /// Reads past the published end (that is where a torn tail lives), so it
    /// holds the append lock throughout: a recovery tool, not a read path.
    pub fn scan(
        &self,
        from: i64,
        check_crc: bool,
        visit: impl FnMut(i64, &RecordInfo, &[u8]),
    ) -> ScanOutcome {
        let _appends = lock(&self.state);
        scan_files(&self.queue, from, check_crc, self.max_record(), visit)
    }

    /// The next queue offset of `topic`/`queue_id` (0 if never seen).
    pub fn queue_offset(&self, topic: &str, queue_id: i32) -> i64 {
        lock(&self.state).offsets.get(topic, queue_id).unwrap_or(0)
    }

    /// Sets the next queue offset of `topic`/`queue_id` (recovery from ConsumeQueues).
    pub fn set_queue_offset(&self, topic: &str, queue_id: i32, next: i64) {
        *lock(&self.state).offsets.slot(topic, queue_id) = next;
    }

    /// Replaces the whole queue-offset table with `next` (`topic`,
    /// `queue_id`, next offset) entries; every other queue starts at 0
    /// (recovery from ConsumeQueues: the table [`open`](Self::open) seeded
    /// from the newest file also holds deleted topics).
    pub fn reset_queue_offsets<'a>(&self, next: impl IntoIterator<Item = (&'a str, i32, i64)>) {
        let mut table = QueueOffsets::default();
        for (topic, queue_id, offset) in next {
            *table.slot(topic, queue_id) = offset;
        }
        lock(&self.state).offsets = table;
    }

    /// Forgets the queue offsets of `topic` (topic deleted).
    pub fn remove_queue_offsets(&self, topic: &str) {
        lock(&self.state).offsets.remove_topic(topic);
    }

    /// Refuses further appends, then stops flushing after a last full flush.
    pub fn shutdown(&mut self) {
        {
            // Under the append lock, so no append is half-way when the last flush starts.
            let _appends = lock(&self.state);
            self.flush.stop_accepting();
        }
        self.flush.shutdown();
    }
}

/// Finds the end of the valid data and cuts the log there.
fn recover(
    queue: &MappedFileQueue,
    state: &mut AppendState,
    check_crc: bool,
    max_size: usize,
) -> Result<ScanOutcome> {
    let files = queue.files();
    // The newest file that starts with a record or BLANK; a pre-allocated,
    // never-written last file starts with zeros and is skipped.
    let start = files
        .iter()
        .rev()
        .find(|f| {
            f.read_unpublished(0, f.size())
                .is_some_and(|b| parse_entry(b, max_size).is_ok())
        })
        .or(files.first());
    let Some(start) = start else {
        // Have the first file made before the first put needs it.
        queue.request_next(0);
        return Ok(ScanOutcome {
            from: 0,
            end: 0,
            records: 0,
            fault: None,
            last_store_timestamp: 0,
        });
    };
    let offsets = &mut state.offsets;
    let outcome = scan_files(
        queue,
        start.from_offset(),
        check_crc,
        max_size,
        |_, info, rec| {
            if let (true, Ok(topic)) = (
                info.takes_queue_offset(),
                std::str::from_utf8(&rec[info.topic.clone()]),
            ) {
                offsets.observe(topic, info.queue_id, info.queue_offset);
            }
        },
    );
    if let Some((at, fault)) = outcome.fault {
        tracing::warn!(offset = at, %fault, "cutting the CommitLog's torn tail");
    }
    // A clean end is followed by zeros already; only a torn tail needs zeroing.
    queue.truncate(outcome.end, outcome.fault.is_some())?;
    state.current = queue.last();
    state.empty_start = outcome.end;
    if let Some(last) = &state.current {
        queue.request_next(last.from_offset() + queue.file_size() as i64);
    }
    Ok(outcome)
}

/// How far ahead of a scan's position its file is asked to be read into
/// the page cache ([`MappedFile::read_ahead`]), once the walk has gone that
/// far: the distance starts at [`SCAN_READ_AHEAD_FIRST`] and doubles with
/// every request, so the scan of a new or nearly empty newest file (which
/// runs into its zeros at once) reads little past its data.
const SCAN_READ_AHEAD: usize = 32 << 20;

/// The first read-ahead distance of each file's walk.
const SCAN_READ_AHEAD_FIRST: usize = 1 << 20;

/// The scan behind [`CommitLog::scan`] and recovery; callers hold the append lock.
fn scan_files(
    queue: &MappedFileQueue,
    from: i64,
    check_crc: bool,
    max_size: usize,
    mut visit: impl FnMut(i64, &RecordInfo, &[u8]),
) -> ScanOutcome {
    let size = queue.file_size();
    let mut out = ScanOutcome {
        from,
        end: from,
        records: 0,
        fault: None,
        last_store_timestamp: 0,
    };
    let mut at = from;
    'files: while let Some(file) = queue.find(at) {
        let mut pos = usize::try_from(at - file.from_offset()).unwrap_or(size);
        // Bytes from `pos` up to `ahead` have been asked for ahead of the
        // walk; a new request goes out when less than half of `distance` is left.
        let (mut ahead, mut distance) = (pos, SCAN_READ_AHEAD_FIRST);
        while size - pos >= BLANK_LEN {
            if ahead < size && ahead - pos < distance / 2 {
                let to = (pos + distance).min(size);
                file.read_ahead(ahead, to);
                ahead = to;
                distance = (distance * 2).min(SCAN_READ_AHEAD);
            }
            let Some(buf) = file.read_unpublished(pos, size - pos) else {
                break 'files;
            };
            match parse_entry(buf, max_size) {
                Ok(Entry::Blank { total_size })
                    if usize::try_from(total_size) == Ok(size - pos) =>
                {
                    at = file.from_offset() + size as i64;
                    continue 'files;
                }
                Ok(Entry::Blank { total_size }) => {
                    out.fault = Some((
                        at,
                        RecordFault::BadBlank {
                            total_size,
                            left: size - pos,
                        },
                    ));
                    break 'files;
                }
                Ok(Entry::Record(info)) => {
                    let rec = &buf[..info.total_size];
                    let fault = if info.physical_offset != at {
                        Some(RecordFault::WrongPhysicalOffset {
                            stored: info.physical_offset,
                        })
                    } else if check_crc {
                        verify_crc(rec, &info).err()
                    } else {
                        None
                    };
                    if let Some(fault) = fault {
                        out.fault = Some((at, fault));
                        break 'files;
                    }
                    visit(at, &info, rec);
                    out.records += 1;
                    out.last_store_timestamp = info.store_timestamp;
                    pos += info.total_size;
                    at += info.total_size as i64;
                }
                Err(fault) => {
                    if buf[..BLANK_LEN].iter().any(|&b| b != 0) {
                        out.fault = Some((at, fault));
                    }
                    break 'files;
                }
            }
        }
        // Fewer than 8 bytes left cannot hold even a BLANK: the file is done.
        at = file.from_offset() + size as i64;
    }
    out.end = at;
    out
}
