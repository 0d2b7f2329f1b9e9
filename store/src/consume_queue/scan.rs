//! Loading, truncation, retention and time search: everything that searches
//! a queue's files rather than appending to them.
//!
//! Entries of a queue are written in commit-log order, so their commit-log
//! offsets (and store times) never decrease; every search here is a binary
//! search with one 20-byte `pread` per probe, which keeps startup and
//! retention cheap even with 100 000 queues.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::budget::MapBudget;
use super::queue::{ConsumeQueue, State, TMP_SUFFIX};
use super::{ConsumeQueueError, Result, UNIT};

/// The first index in `[lo, hi)` where `pred` turns false, for a `pred` that
/// holds on a prefix (`hi` if it holds everywhere).
fn partition_point(
    mut lo: i64,
    mut hi: i64,
    mut pred: impl FnMut(i64) -> Result<bool>,
) -> Result<i64> {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid)? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

impl ConsumeQueue {
    /// Opens the queue in `dir`, finding where its last file ends.
    ///
    /// Files must have the configured size and follow each other. In the last
    /// file, written entries form a prefix and the rest is zero (a sparse,
    /// fresh file), so the end is the last non-zero entry, found by binary
    /// search; trailing entries recovery would reject (`offset < 0 ||
    /// size <= 0`, a torn write) are cut off. Earlier files are taken as full,
    /// as RocketMQ only ever rolls from a full file. Leading pads of the first
    /// file are skipped for the minimum offset.
    pub(super) fn load(
        topic: &str,
        queue_id: i32,
        dir: PathBuf,
        file_size: i64,
        budget: Arc<MapBudget>,
    ) -> Result<ConsumeQueue> {
        let segments = list_segments(&dir, file_size)?;
        let q = ConsumeQueue::new(topic, queue_id, dir, file_size, budget, State::default());
        let (Some(&first), Some(&last)) = (segments.first(), segments.last()) else {
            return Ok(q);
        };
        let per_file = file_size / UNIT;
        let mut r = q.entry_reader();
        let written = partition_point(0, per_file, |i| {
            // Probe "is entry i or anything after it non-zero?" via entry i:
            // valid only because the written part is a prefix.
            Ok(!r.entry(last + i * UNIT)?.is_empty())
        })?;
        let mut end = last + written * UNIT;
        while end > last && !r.entry(end - UNIT)?.is_valid() {
            end -= UNIT;
        }
        if end < last + written * UNIT {
            // Clear the torn tail so the next load agrees with this one.
            q.zero_range(last, end, last + written * UNIT)?;
        }
        let first_end = if segments.len() == 1 {
            end
        } else {
            first + file_size
        };
        let pads = partition_point(0, (first_end - first) / UNIT, |i| {
            Ok(r.entry(first + i * UNIT)?.is_pad())
        })?;
        let max_phys = if end > first {
            let e = r.entry(end - UNIT)?;
            if e.is_pad() { -1 } else { e.phys_end() }
        } else {
            -1
        };
        {
            let mut st = q.write_state();
            st.segments = segments;
            st.write_pos = end;
            st.min_logical = first + pads * UNIT;
            st.max_phys = max_phys;
        }
        Ok(q)
    }

    /// Removes every entry whose commit-log offset is `>= phys_offset`
    /// (`truncateDirtyLogicFiles`): after commit-log recovery, at the
    /// dispatch mark after a crash, or when a slave truncates to its master.
    /// Files left without entries are deleted; the removed entries are
    /// zeroed so a reload agrees.
    ///
    /// An empty (never written) entry counts as past the cut: below a
    /// dispatch mark every entry is flushed, but past it a crash may leave
    /// holes before later entries, and those must go too.
    pub fn truncate_dirty(&self, phys_offset: i64) -> Result<()> {
        let mut st = self.write_state();
        let Some(&first) = st.segments.first() else {
            return Ok(());
        };
        // The last entry ends at or before the cut: nothing to search for
        // (recovery cuts every queue twice; with 100,000 queues the searches'
        // `pread`s add up). Past a dispatch mark the last entry may follow a
        // hole, but then it lies past the mark too and is searched.
        if st.max_phys >= 0 && st.max_phys <= phys_offset {
            return Ok(());
        }
        let old_end = st.write_pos;
        let mut r = self.entry_reader();
        let cut = partition_point(first / UNIT, old_end / UNIT, |i| {
            let e = r.entry(i * UNIT)?;
            Ok(e.is_valid() && e.phys_offset < phys_offset)
        })? * UNIT;
        if cut == old_end {
            return Ok(());
        }
        while let Some(&seg) = st.segments.last() {
            if seg < cut {
                break;
            }
            self.unmap_if(seg);
            let path = self.path_of(seg);
            remove_file(&path)?;
            st.segments.pop();
        }
        match st.segments.last().copied() {
            Some(seg) => {
                let to = old_end.min(seg + self.file_size);
                self.zero_range(seg, cut, to)?;
                st.write_pos = cut;
            }
            None => st.write_pos = 0,
        }
        st.min_logical = st.min_logical.min(st.write_pos);
        st.max_phys = match st.segments.first() {
            Some(&first) if cut > first => {
                let e = r.entry(cut - UNIT)?;
                if e.is_pad() { -1 } else { e.phys_end() }
            }
            _ => -1,
        };
        Ok(())
    }

    /// Retention: deletes files whose last entry points below `min_phys`
    /// (the commit log's new minimum offset), never the last file, then moves
    /// the minimum offset to the first entry at or after `min_phys`
    /// (`deleteExpiredFile` + `correctMinOffset`). Returns the files deleted.
    pub fn delete_expired(&self, min_phys: i64) -> Result<usize> {
        let mut st = self.write_state();
        let mut deleted = 0;
        while st.segments.len() > 1 {
            let seg = st.segments[0];
            let last = self.entry_reader().entry(seg + self.file_size - UNIT)?;
            if last.phys_offset >= min_phys {
                break;
            }
            remove_file(&self.path_of(seg))?;
            st.segments.remove(0);
            deleted += 1;
        }
        if let Some(&first) = st.segments.first() {
            st.min_logical = st.min_logical.max(first);
        }
        self.correct_min(&mut st, min_phys)?;
        Ok(deleted)
    }

    /// Moves the minimum offset to the first entry pointing at or past
    /// `min_phys` (`correctMinOffset`); never moves it backwards.
    pub fn correct_min_offset(&self, min_phys: i64) -> Result<()> {
        let mut st = self.write_state();
        self.correct_min(&mut st, min_phys)
    }

    /// [`ConsumeQueue::correct_min_offset`] under the lock.
    fn correct_min(&self, st: &mut State, min_phys: i64) -> Result<()> {
        if st.segments.is_empty() || st.min_logical >= st.write_pos {
            st.min_logical = st.min_logical.min(st.write_pos);
            return Ok(());
        }
        let first = st.min_logical / UNIT;
        let mut r = self.entry_reader();
        let new_min = partition_point(first, st.write_pos / UNIT, |i| {
            Ok(r.entry(i * UNIT)?.phys_offset < min_phys)
        })?;
        st.min_logical = st.min_logical.max(new_min * UNIT);
        Ok(())
    }

    /// The first queue offset in `[min, max]` whose record was stored at or
    /// after `timestamp` (`getOffsetInQueueByTime`, lower boundary); `max`
    /// when every record is older.
    ///
    /// `store_time(phys_offset, size)` looks the store time up in the commit
    /// log; `None` (record gone) counts as older, as Java skips entries below
    /// the commit log's minimum offset.
    pub fn offset_by_time(
        &self,
        timestamp: i64,
        store_time: impl Fn(i64, i32) -> Option<i64>,
    ) -> Result<i64> {
        let (lo, hi) = {
            let st = self.read_state();
            (st.min_logical / UNIT, st.write_pos / UNIT)
        };
        let mut r = self.entry_reader();
        let found = partition_point(lo, hi, |i| {
            let e = r.entry(i * UNIT)?;
            Ok(store_time(e.phys_offset, e.size).is_none_or(|t| t < timestamp))
        });
        match found {
            Ok(v) => Ok(v),
            // A file deleted under the search: everything left is newer.
            Err(ConsumeQueueError::Io { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                Ok(self.min_offset())
            }
            Err(e) => Err(e),
        }
    }
}

/// Deletes a file; already gone is fine.
fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ConsumeQueueError::io(path, e)),
    }
}

/// The start offsets of the files in `dir`, checked for size and contiguity.
/// Names that are not 20 digits (editor droppings) are ignored; files a
/// crash left half-created are deleted: `<name>.tmp` (see
/// `ConsumeQueue::ensure_segment`), and an empty last file (created by
/// `open`, killed before `set_len`: by an older version, or another writer),
/// which holds nothing, as the CommitLog drops one and Java would.
fn list_segments(dir: &Path, file_size: i64) -> Result<Vec<i64>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConsumeQueueError::io(dir, e)),
    };
    let mut found = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| ConsumeQueueError::io(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!(path = %ent.path().display(), "ignoring a non-ConsumeQueue file");
            continue;
        };
        if name
            .strip_suffix(TMP_SUFFIX)
            .and_then(parse_file_name)
            .is_some()
        {
            tracing::warn!(path = %ent.path().display(), "deleting an unfinished ConsumeQueue file");
            remove_file(&ent.path())?;
            continue;
        }
        let Some(start) = parse_file_name(name) else {
            tracing::warn!(path = %ent.path().display(), "ignoring a non-ConsumeQueue file");
            continue;
        };
        let len = ent
            .metadata()
            .map_err(|e| ConsumeQueueError::io(ent.path(), e))?
            .len();
        found.push((start, len, ent.path()));
    }
    found.sort_unstable();
    if found.last().is_some_and(|(_, len, _)| *len == 0) {
        if let Some((_, _, path)) = found.pop() {
            tracing::warn!(path = %path.display(), "deleting an empty last ConsumeQueue file (a crash while creating it)");
            remove_file(&path)?;
        }
    }
    let mut segments = Vec::with_capacity(found.len());
    for (start, len, path) in found {
        if i64::try_from(len).ok() != Some(file_size) {
            return Err(ConsumeQueueError::BadFileSize {
                path,
                actual: len,
                expected: file_size,
            });
        }
        // Leave room for offset arithmetic past the file's end.
        if start % file_size != 0 || start > i64::MAX / 2 - file_size {
            return Err(ConsumeQueueError::Corrupt {
                path,
                reason: format!(
                    "start offset {start} is out of range or not a multiple of {file_size}"
                ),
            });
        }
        segments.push(start);
    }
    for w in segments.windows(2) {
        if w[1] != w[0] + file_size {
            return Err(ConsumeQueueError::NotContiguous {
                dir: dir.to_path_buf(),
                prev: w[0],
                next: w[1],
            });
        }
    }
    Ok(segments)
}

/// Parses a 20-digit file name.
fn parse_file_name(name: &str) -> Option<i64> {
    if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_point_finds_the_boundary() {
        let v = [1, 1, 1, 0, 0];
        let p = partition_point(0, 5, |i| Ok(v[i as usize] == 1)).unwrap();
        assert_eq!(p, 3);
        assert_eq!(partition_point(0, 0, |_| Ok(true)).unwrap(), 0);
        assert_eq!(partition_point(2, 5, |_| Ok(true)).unwrap(), 5);
    }

    #[test]
    fn file_names_parse_only_twenty_digits() {
        assert_eq!(parse_file_name("00000000000006000000"), Some(6_000_000));
        assert_eq!(parse_file_name("0000000000000600000"), None);
        assert_eq!(parse_file_name("0000000000000600000x"), None);
        assert_eq!(parse_file_name("99999999999999999999"), None);
    }
}
