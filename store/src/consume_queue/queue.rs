//! One ConsumeQueue: appends through the tail mapping, reads through `pread`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::budget::{MapBudget, NONE_UNFLUSHED, TailSlot, lock};
use super::{CQ_ENTRY_SIZE, ConsumeQueueError, CqEntry, Result, UNIT, file_name};

/// Suffix of a file being created (see [`ConsumeQueue::ensure_segment`]).
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// What [`ConsumeQueue::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entry was written.
    Appended,
    /// The entry (or a later one) was already there: a re-dispatch after
    /// recovery, skipped like `putMessagePositionInfo` does.
    Duplicate,
}

/// One topic/queue's ConsumeQueue.
///
/// Any number of threads may read; appends, truncation and retention
/// serialise on the queue's own lock (never a store-wide one).
#[derive(Debug)]
pub struct ConsumeQueue {
    /// The topic.
    topic: String,
    /// The queue id.
    queue_id: i32,
    /// `consumequeue/<topic>/<queueId>`.
    pub(super) dir: PathBuf,
    /// Bytes per file, a multiple of 20.
    pub(super) file_size: i64,
    /// The store's mapping budget.
    pub(super) budget: Arc<MapBudget>,
    /// This queue's place in the budget.
    pub(super) slot: Arc<TailSlot>,
    /// Files and offsets.
    pub(super) state: RwLock<State>,
}

/// The mutable bookkeeping of a queue (byte offsets are logical: entry n is
/// at n × 20).
#[derive(Debug)]
pub(super) struct State {
    /// Start offsets of the files, ascending and contiguous.
    pub(super) segments: Vec<i64>,
    /// Logical byte offset of the next entry (max offset × 20).
    pub(super) write_pos: i64,
    /// Logical byte offset of the first entry still valid (min offset × 20).
    pub(super) min_logical: i64,
    /// End (`offset + size`) of the last entry in the commit log, or -1.
    pub(super) max_phys: i64,
    /// The last file written with `pwrite` and its path, so unmapped
    /// appends do not build the path each time.
    pub(super) tail_path: Option<(i64, PathBuf)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            segments: Vec::new(),
            write_pos: 0,
            min_logical: 0,
            max_phys: -1,
            tail_path: None,
        }
    }
}

impl ConsumeQueue {
    /// An empty queue whose directory is created on the first append.
    pub(super) fn new(
        topic: &str,
        queue_id: i32,
        dir: PathBuf,
        file_size: i64,
        budget: Arc<MapBudget>,
        state: State,
    ) -> ConsumeQueue {
        ConsumeQueue {
            topic: topic.to_owned(),
            queue_id,
            dir,
            file_size,
            budget,
            slot: Arc::new(TailSlot::default()),
            state: RwLock::new(state),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The queue id.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// The queue's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next offset to write (`getMaxOffsetInQueue`).
    pub fn max_offset(&self) -> i64 {
        self.read_state().write_pos / UNIT
    }

    /// The first offset still readable (`getMinOffsetInQueue`).
    pub fn min_offset(&self) -> i64 {
        self.read_state().min_logical / UNIT
    }

    /// End (`offset + size`) of the last entry's record in the commit log,
    /// or -1 for an empty queue (`getMaxPhysicOffset`).
    pub fn max_phys_offset(&self) -> i64 {
        self.read_state().max_phys
    }

    /// Number of files on disk.
    pub fn file_count(&self) -> usize {
        self.read_state().segments.len()
    }

    /// Appends the entry for queue offset `cq_offset`.
    ///
    /// Like `putMessagePositionInfo`: an entry whose record ends at or before
    /// the last one's, or whose offset is below the next one, is a re-dispatch
    /// and is skipped. The first entry of an empty queue may have any offset:
    /// its file starts at the file boundary below it and is padded up to it.
    /// An offset past the next one is refused ([`ConsumeQueueError::OffsetGap`])
    /// where Java would log "[BUG]" and write at the wrong place.
    pub fn append(&self, cq_offset: i64, entry: CqEntry) -> Result<AppendOutcome> {
        let expect = cq_offset
            .checked_mul(UNIT)
            .filter(|e| *e >= 0 && *e <= i64::MAX / 2 - self.file_size)
            .ok_or(ConsumeQueueError::BadOffset(cq_offset))?;
        let mut st = self.write_state();
        if entry.phys_end() <= st.max_phys {
            return Ok(AppendOutcome::Duplicate);
        }
        if st.segments.is_empty() {
            if let Err(e) = self.start_at(&mut st, expect) {
                // Stay an empty queue, so a retry starts over cleanly.
                *st = State::default();
                return Err(e);
            }
        } else if expect < st.write_pos {
            return Ok(AppendOutcome::Duplicate);
        } else if expect > st.write_pos {
            return Err(ConsumeQueueError::OffsetGap {
                topic: self.topic.clone(),
                queue_id: self.queue_id,
                expected: cq_offset,
                next: st.write_pos / UNIT,
            });
        }
        let pos = st.write_pos;
        self.write_at(&mut st, pos, &entry.encode(), entry.phys_offset)?;
        st.write_pos = pos + UNIT;
        st.max_phys = entry.phys_end();
        Ok(AppendOutcome::Appended)
    }

    /// Creates the first file of an empty queue for an entry at `expect` and
    /// pads it up to there (`fillPreBlank`).
    fn start_at(&self, st: &mut State, expect: i64) -> Result<()> {
        let start = expect - expect % self.file_size;
        st.write_pos = start;
        st.min_logical = expect;
        if expect > start {
            let pad = CqEntry::PAD.encode();
            let count = usize::try_from((expect - start) / UNIT).unwrap_or(0);
            let bytes: Vec<u8> = pad
                .iter()
                .copied()
                .cycle()
                .take(count * CQ_ENTRY_SIZE)
                .collect();
            self.write_at(st, start, &bytes, NONE_UNFLUSHED)?;
        } else {
            self.ensure_segment(st, start)?;
        }
        st.write_pos = expect;
        Ok(())
    }

    /// Reads up to `max` entries (and at most one file's worth) from queue
    /// offset `offset`, crossing a file boundary if needed. Returns fewer
    /// (maybe none) at the end of the queue.
    pub fn read(&self, offset: i64, max: usize) -> Result<Vec<CqEntry>> {
        let (pos, end, segments) = {
            let st = self.read_state();
            let pos = offset
                .checked_mul(UNIT)
                .ok_or(ConsumeQueueError::BadOffset(offset))?;
            if pos < st.min_logical {
                return Err(ConsumeQueueError::BelowMin {
                    offset,
                    min: st.min_logical / UNIT,
                });
            }
            // At most a file's worth per call, so a careless `max` cannot
            // allocate the whole queue.
            let want = i64::try_from(max)
                .unwrap_or(i64::MAX)
                .saturating_mul(UNIT)
                .min(self.file_size);
            let end = st.write_pos.min(pos.saturating_add(want));
            if pos >= end {
                return Ok(Vec::new());
            }
            let segments: Vec<i64> = st
                .segments
                .iter()
                .copied()
                .filter(|s| *s < end && s + self.file_size > pos)
                .collect();
            (pos, end, segments)
        };
        let mut out = Vec::with_capacity(usize::try_from((end - pos) / UNIT).unwrap_or(0));
        let mut buf = Vec::new();
        let mut at = pos;
        for seg in segments {
            let to = end.min(seg + self.file_size);
            if at < seg || at >= to {
                break;
            }
            buf.resize(usize::try_from(to - at).unwrap_or(0), 0);
            match self.pread(seg, at - seg, &mut buf) {
                Ok(()) => {}
                Err(e) => return Err(self.explain_read_error(offset, e)),
            }
            out.extend(buf.chunks_exact(CQ_ENTRY_SIZE).map(|c| {
                let mut b = [0u8; CQ_ENTRY_SIZE];
                b.copy_from_slice(c);
                CqEntry::decode(&b)
            }));
            at = to;
        }
        Ok(out)
    }

    /// Reads the entry at queue offset `offset`, if it is in `[min, max)`.
    pub fn get(&self, offset: i64) -> Result<Option<CqEntry>> {
        match self.read(offset, 1) {
            Ok(v) => Ok(v.first().copied()),
            Err(ConsumeQueueError::BelowMin { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A missing file after a concurrent retention pass means the offset
    /// fell below the minimum; anything else stays an error.
    fn explain_read_error(&self, offset: i64, e: ConsumeQueueError) -> ConsumeQueueError {
        let min = self.min_offset();
        if offset < min {
            ConsumeQueueError::BelowMin { offset, min }
        } else {
            e
        }
    }

    /// Path of the file starting at logical offset `start`.
    pub(super) fn path_of(&self, start: i64) -> PathBuf {
        self.dir.join(file_name(start))
    }

    /// The state, for reading.
    pub(super) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for changing.
    pub(super) fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads `buf.len()` bytes at `off` in the file starting at `seg`.
    pub(super) fn pread(&self, seg: i64, off: i64, buf: &mut [u8]) -> Result<()> {
        let file = self.file_for_read(seg)?;
        self.pread_in(&file, seg, off, buf)
    }

    /// Reads `buf.len()` bytes at `off` of `file`, the file starting at `seg`.
    fn pread_in(&self, file: &File, seg: i64, off: i64, buf: &mut [u8]) -> Result<()> {
        let off = u64::try_from(off).map_err(|_| ConsumeQueueError::BadOffset(off))?;
        file.read_exact_at(buf, off).map_err(|e| {
            let path = self.path_of(seg);
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ConsumeQueueError::Corrupt {
                    path,
                    reason: format!("file ends before byte {}", off + buf.len() as u64),
                }
            } else {
                ConsumeQueueError::io(path, e)
            }
        })
    }

    /// A reader of single entries for searches.
    pub(super) fn entry_reader(&self) -> EntryReader<'_> {
        EntryReader {
            queue: self,
            cached: None,
        }
    }

    /// The tail's descriptor if it is mapped, else a fresh one: idle queues
    /// keep no descriptors open.
    fn file_for_read(&self, seg: i64) -> Result<Arc<File>> {
        {
            let s = lock(&self.slot.state);
            if let Some(m) = s.map.as_ref().filter(|m| m.start == seg) {
                return Ok(Arc::clone(&m.file));
            }
        }
        let path = self.path_of(seg);
        File::open(&path)
            .map(Arc::new)
            .map_err(|e| ConsumeQueueError::io(path, e))
    }

    /// Writes `bytes` (within one file) at logical byte `pos`, creating the
    /// file if `pos` starts the next one; `from` is the CommitLog offset of
    /// the first entry in `bytes` ([`NONE_UNFLUSHED`] for padding), tracked
    /// until the bytes are durable.
    fn write_at(&self, st: &mut State, pos: i64, bytes: &[u8], from: i64) -> Result<()> {
        let seg = pos - pos % self.file_size;
        self.ensure_segment(st, seg)?;
        let off = usize::try_from(pos - seg).map_err(|_| ConsumeQueueError::BadOffset(pos))?;
        self.write_tail(st, seg, off, bytes, from)
    }

    /// Makes `seg` the last file, creating it if needed.
    fn ensure_segment(&self, st: &mut State, seg: i64) -> Result<()> {
        match st.segments.last() {
            Some(last) if *last == seg => return Ok(()),
            Some(last) if *last + self.file_size != seg => {
                return Err(ConsumeQueueError::NotContiguous {
                    dir: self.dir.clone(),
                    prev: *last,
                    next: seg,
                });
            }
            _ => {}
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| ConsumeQueueError::io(&self.dir, e))?;
        let path = self.path_of(seg);
        // Sized under a temporary name, then renamed: a kill in between never
        // leaves a short file under a ConsumeQueue file's name. The rename
        // replaces anything already there, which lies past the queue's end.
        let mut tmp = path.clone().into_os_string();
        tmp.push(TMP_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| ConsumeQueueError::io(&tmp, e))?;
        // Sparse, like Java's `RandomAccessFile.setLength`.
        file.set_len(self.file_size as u64)
            .map_err(|e| ConsumeQueueError::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(|e| ConsumeQueueError::io(&path, e))?;
        st.segments.push(seg);
        Ok(())
    }

    /// Writes zeros over logical bytes `[from, to)` of file `seg` with
    /// `pwrite` (coherent with the mapping through the page cache).
    pub(super) fn zero_range(&self, seg: i64, from: i64, to: i64) -> Result<()> {
        if to <= from {
            return Ok(());
        }
        let path = self.path_of(seg);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| ConsumeQueueError::io(&path, e))?;
        let zeros = vec![0u8; usize::try_from(to - from).unwrap_or(0)];
        let off = u64::try_from(from - seg).map_err(|_| ConsumeQueueError::BadOffset(from))?;
        file.write_all_at(&zeros, off)
            .map_err(|e| ConsumeQueueError::io(&path, e))?;
        lock(&self.slot.state).add_pending(&path, NONE_UNFLUSHED, zeros.len());
        Ok(())
    }

    /// Drops the tail mapping if it maps file `seg` (about to be deleted).
    pub(super) fn unmap_if(&self, seg: i64) {
        let mut s = lock(&self.slot.state);
        if s.map.as_ref().is_some_and(|m| m.start == seg) {
            // The file is going away: nothing to sync, and its entries are
            // truncated, so they hold back nothing.
            s.map = None;
            s.dirty = false;
            s.dirty_from = NONE_UNFLUSHED;
        }
    }

    /// Removes every entry, file and the directory, leaving an empty queue
    /// that its next append starts anew at any offset (recovery rebuilding a
    /// queue whose topic was deleted and created again: what it rebuilt from
    /// the records of the topic's earlier life must go).
    pub fn clear(&self) -> Result<()> {
        self.destroy()
    }

    /// Removes every file and the directory, and gives up the mapping.
    pub(super) fn destroy(&self) -> Result<()> {
        let mut st = self.write_state();
        self.budget.forget(&self.slot);
        {
            let mut s = lock(&self.slot.state);
            s.pending_sync.clear();
            s.pending_from = NONE_UNFLUSHED;
        }
        st.segments.clear();
        st.write_pos = 0;
        st.min_logical = 0;
        st.max_phys = -1;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ConsumeQueueError::io(&self.dir, e)),
        }
    }
}

impl Drop for ConsumeQueue {
    fn drop(&mut self) {
        self.budget.forget(&self.slot);
    }
}

/// Reads single entries for a binary search, keeping the last file open:
/// a search probes one or two files some 20 times.
#[derive(Debug)]
pub(super) struct EntryReader<'a> {
    /// The queue searched.
    queue: &'a ConsumeQueue,
    /// The last file opened and its start offset.
    cached: Option<(i64, Arc<File>)>,
}

impl EntryReader<'_> {
    /// The entry at logical byte offset `pos`.
    pub(super) fn entry(&mut self, pos: i64) -> Result<CqEntry> {
        let q = self.queue;
        let seg = pos - pos.rem_euclid(q.file_size);
        let file = match &self.cached {
            Some((s, f)) if *s == seg => Arc::clone(f),
            _ => {
                let f = q.file_for_read(seg)?;
                self.cached = Some((seg, Arc::clone(&f)));
                f
            }
        };
        let mut b = [0u8; CQ_ENTRY_SIZE];
        q.pread_in(&file, seg, pos - seg, &mut b)?;
        Ok(CqEntry::decode(&b))
    }
}
