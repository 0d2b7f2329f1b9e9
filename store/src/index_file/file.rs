//! One IndexFile: a 40-byte header, a table of hash slots and an array of
//! 20-byte entries chained per slot, newest first (`IndexFile.java`).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use super::{ENTRY_SIZE, HEADER_SIZE, IndexConfig, IndexError, Result, SLOT_SIZE};

/// The header fields (`IndexHeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexHeader {
    /// Store time of the first entry (or the previous file's end).
    pub begin_timestamp: i64,
    /// Store time of the last entry.
    pub end_timestamp: i64,
    /// Commit-log offset of the first entry (or the previous file's end).
    pub begin_phy_offset: i64,
    /// Commit-log offset of the last entry.
    pub end_phy_offset: i64,
    /// Keys put so far (Java counts every put, not distinct slots).
    pub hash_slot_count: i32,
    /// Number of the next entry; entries are 1-based, so 1 when empty.
    pub index_count: i32,
}

/// Where [`IndexFile::create`] builds the file before publishing it.
pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TMP_SUFFIX);
    path.with_file_name(name)
}

/// Suffix of a file being created.
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// Header field positions.
const BEGIN_TS: usize = 0;
/// See [`BEGIN_TS`].
const END_TS: usize = 8;
/// See [`BEGIN_TS`].
const BEGIN_PHY: usize = 16;
/// See [`BEGIN_TS`].
const END_PHY: usize = 24;
/// See [`BEGIN_TS`].
const SLOT_COUNT: usize = 32;
/// See [`BEGIN_TS`].
const INDEX_COUNT: usize = 36;

/// One entry of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    /// `|hashCode|` of the key.
    pub(super) key_hash: i32,
    /// Commit-log offset of the record.
    pub(super) phy_offset: i64,
    /// Seconds since the header's begin timestamp.
    pub(super) time_diff: i32,
    /// The previous entry of the same slot, 0 for none.
    pub(super) prev: i32,
}

/// One mapped IndexFile.
#[derive(Debug)]
pub struct IndexFile {
    /// Where it lives.
    path: PathBuf,
    /// The whole file, mapped.
    map: MmapMut,
    /// Hash slots.
    slots: u32,
    /// Entry capacity (entry 0 included, unused).
    max_entries: u32,
    /// Cached header, written through to the mapping on every change.
    header: IndexHeader,
}

impl IndexFile {
    /// Creates a sparse file at `path`, starting from the previous file's end
    /// offset and time when they are positive (like Java's constructor).
    ///
    /// The file is sized and its header written under a temporary name
    /// (`<name>.tmp`, removed at the next open if a crash leaves it), then
    /// renamed to `path`: a kill during creation never leaves a short file
    /// under an index file's name. Fails with `AlreadyExists` if `path` does
    /// (the store owns its directory, so nothing appears in between).
    pub(super) fn create(
        path: &Path,
        config: &IndexConfig,
        prev_end_phy: i64,
        prev_end_ts: i64,
    ) -> Result<IndexFile> {
        let size = config.file_size()?;
        if path.exists() {
            return Err(IndexError::io(
                path,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        let tmp = tmp_path(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| IndexError::io(&tmp, e))?;
        let made = IndexFile::init(path, &tmp, &file, config, size, prev_end_phy, prev_end_ts)
            .and_then(|f| {
                std::fs::rename(&tmp, path).map_err(|e| IndexError::io(path, e))?;
                Ok(f)
            });
        if made.is_err() {
            if let Err(e) = std::fs::remove_file(&tmp) {
                tracing::warn!(path = %tmp.display(), error = %e, "cannot remove a temporary index file");
            }
        }
        made
    }

    /// Sizes the new file `tmp` (to be published as `path`), maps it and
    /// writes its header.
    fn init(
        path: &Path,
        tmp: &Path,
        file: &File,
        config: &IndexConfig,
        size: usize,
        prev_end_phy: i64,
        prev_end_ts: i64,
    ) -> Result<IndexFile> {
        file.set_len(size as u64)
            .map_err(|e| IndexError::io(tmp, e))?;
        let mut f = IndexFile::map(path, file, config, size)?;
        f.header = IndexHeader {
            index_count: 1,
            ..IndexHeader::default()
        };
        // Java writes these fields at construction, but leaves the counts
        // at zero on disk until the first put.
        if prev_end_phy > 0 {
            f.set_i64(BEGIN_PHY, prev_end_phy);
            f.set_i64(END_PHY, prev_end_phy);
            f.header.begin_phy_offset = prev_end_phy;
            f.header.end_phy_offset = prev_end_phy;
        }
        if prev_end_ts > 0 {
            f.set_i64(BEGIN_TS, prev_end_ts);
            f.set_i64(END_TS, prev_end_ts);
            f.header.begin_timestamp = prev_end_ts;
            f.header.end_timestamp = prev_end_ts;
        }
        Ok(f)
    }

    /// Opens an existing file, which must have the configured size.
    pub(super) fn open(path: &Path, config: &IndexConfig) -> Result<IndexFile> {
        let size = config.file_size()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| IndexError::io(path, e))?;
        let len = file.metadata().map_err(|e| IndexError::io(path, e))?.len();
        if len != size as u64 {
            return Err(IndexError::BadFileSize {
                path: path.to_path_buf(),
                actual: len,
                expected: size as u64,
            });
        }
        let mut f = IndexFile::map(path, &file, config, size)?;
        let h = IndexHeader {
            begin_timestamp: f.i64_at(BEGIN_TS).unwrap_or(0),
            end_timestamp: f.i64_at(END_TS).unwrap_or(0),
            begin_phy_offset: f.i64_at(BEGIN_PHY).unwrap_or(0),
            end_phy_offset: f.i64_at(END_PHY).unwrap_or(0),
            hash_slot_count: f.i32_at(SLOT_COUNT).unwrap_or(0),
            index_count: f.i32_at(INDEX_COUNT).unwrap_or(0),
        };
        // `IndexHeader.load`: a non-positive count means empty. Past the
        // capacity the file is corrupt; clamp so puts see it as full and
        // lookups stay in bounds.
        let cap = i32::try_from(f.max_entries).unwrap_or(i32::MAX);
        f.header = IndexHeader {
            index_count: h.index_count.clamp(1, cap),
            ..h
        };
        f.undo_uncounted_put();
        Ok(f)
    }

    /// A put writes its entry, the slot, then the header's count: a kill in
    /// between leaves a slot naming the uncounted entry `index_count`, which
    /// re-dispatch would write again with itself as `prev`, cutting the key's
    /// older entries off. One put at a time is in flight: undo that one.
    fn undo_uncounted_put(&mut self) {
        let count = self.header.index_count;
        let Some(e) = self.entry(count) else {
            return;
        };
        let slot_pos = self.slot_pos(e.key_hash);
        if self.i32_at(slot_pos) == Some(count) {
            let prev = (e.prev > 0 && e.prev < count).then_some(e.prev);
            tracing::warn!(path = %self.path.display(), entry = count, "undoing a put a crash interrupted");
            self.set_i32(slot_pos, prev.unwrap_or(0));
        }
    }

    /// Maps `size` bytes of `file`.
    fn map(path: &Path, file: &File, config: &IndexConfig, size: usize) -> Result<IndexFile> {
        // SAFETY: the mapping is of a regular file in the store directory,
        // which this process owns exclusively (the store holds its `lock`
        // file), and index files are never shrunk after creation, so the
        // mapped pages stay backed. All access goes through `&self`/`&mut
        // self` of this value, guarded by the service's lock.
        let map = unsafe { MmapOptions::new().len(size).map_mut(file) }
            .map_err(|e| IndexError::io(path, e))?;
        // Slots and entries are hit at random: without MADV_RANDOM each first
        // fault reads around `read_ahead_kb` of the (sparse) file. Failure
        // only costs speed.
        if let Err(e) = map.advise(memmap2::Advice::Random) {
            tracing::debug!(path = %path.display(), error = %e, "madvise(MADV_RANDOM) on an IndexFile failed");
        }
        Ok(IndexFile {
            path: path.to_path_buf(),
            map,
            slots: config.hash_slot_num,
            max_entries: config.index_num,
            header: IndexHeader::default(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header.
    pub fn header(&self) -> IndexHeader {
        self.header
    }

    /// Whether no entry fits any more (`isWriteFull`).
    pub fn is_full(&self) -> bool {
        i64::from(self.header.index_count) >= i64::from(self.max_entries)
    }

    /// Number of entries written.
    pub fn entry_count(&self) -> i32 {
        self.header.index_count - 1
    }

    /// `msync`s the file.
    pub(super) fn flush(&self) -> Result<()> {
        self.map.flush().map_err(|e| IndexError::io(&self.path, e))
    }

    /// Whether `[begin, end]` overlaps the file's time range (`isTimeMatched`).
    pub(super) fn is_time_matched(&self, begin: i64, end: i64) -> bool {
        let (b, e) = (self.header.begin_timestamp, self.header.end_timestamp);
        (begin < b && end > e) || (b..=e).contains(&begin) || (b..=e).contains(&end)
    }

    /// Adds a key (`putKey`); false when the file is full.
    pub(super) fn put(&mut self, key_hash: i32, phy_offset: i64, store_ts: i64) -> bool {
        let count = self.header.index_count;
        if self.is_full() {
            return false;
        }
        let slot_pos = self.slot_pos(key_hash);
        let mut head = self.i32_at(slot_pos).unwrap_or(0);
        if head <= 0 || head > count {
            head = 0;
        }
        let begin = self.header.begin_timestamp;
        // Seconds since the begin timestamp *before* this put, clamped.
        let time_diff = if begin <= 0 {
            0
        } else {
            i32::try_from((store_ts.saturating_sub(begin) / 1_000).max(0)).unwrap_or(i32::MAX)
        };
        let Some(pos) = self.entry_pos(count) else {
            return false;
        };
        self.set_i32(pos, key_hash);
        self.set_i64(pos + 4, phy_offset);
        self.set_i32(pos + 12, time_diff);
        self.set_i32(pos + 16, head);
        self.set_i32(slot_pos, count);
        if count <= 1 {
            self.header.begin_phy_offset = phy_offset;
            self.header.begin_timestamp = store_ts;
        }
        // Java counts a slot when its first entry arrives, not every entry.
        if head == 0 {
            self.header.hash_slot_count = self.header.hash_slot_count.wrapping_add(1);
        }
        self.header.index_count = count + 1;
        self.header.end_phy_offset = phy_offset;
        self.header.end_timestamp = store_ts;
        self.write_header();
        true
    }

    /// Collects commit-log offsets of entries matching `key_hash` stored in
    /// `[begin, end]`, newest first, until `out` holds `max` (`selectPhyOffset`).
    ///
    /// Stops on a chain end (`prev <= 0`, `prev > indexCount`, `prev ==
    /// current`), an entry older than `begin`, a negative time, and — for
    /// corrupt files — after visiting as many entries as the file holds.
    pub(super) fn select(
        &self,
        key_hash: i32,
        max: usize,
        begin: i64,
        end: i64,
        out: &mut Vec<i64>,
    ) {
        let count = self.header.index_count;
        let head = self.i32_at(self.slot_pos(key_hash)).unwrap_or(0);
        if head <= 0 || head > count || count <= 1 {
            return;
        }
        let mut next = head;
        for _ in 0..count {
            if out.len() >= max {
                break;
            }
            let Some(e) = self.entry(next) else {
                break;
            };
            if e.time_diff < 0 {
                break;
            }
            let time = self
                .header
                .begin_timestamp
                .saturating_add(i64::from(e.time_diff) * 1_000);
            if e.key_hash == key_hash && time >= begin && time <= end {
                out.push(e.phy_offset);
            }
            if e.prev <= 0 || e.prev > count || e.prev == next || time < begin {
                break;
            }
            next = e.prev;
        }
    }

    /// Removes the entries at or past commit-log offset `phy_offset`,
    /// restoring the slots to their state before those puts. Returns the
    /// entries left. Entries are in commit-log order, so they form a suffix;
    /// undoing them newest first restores every chain head exactly.
    pub(super) fn truncate_from(&mut self, phy_offset: i64) -> i32 {
        let count = self.header.index_count;
        // First entry number in [1, count) whose offset is >= phy_offset.
        let (mut lo, mut hi) = (1, count.max(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid).is_some_and(|e| e.phy_offset < phy_offset) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let cut = lo;
        let mut emptied = 0;
        for n in (cut..count).rev() {
            let Some(e) = self.entry(n) else {
                continue;
            };
            let slot_pos = self.slot_pos(e.key_hash);
            if self.i32_at(slot_pos) == Some(n) {
                let prev = if e.prev > 0 && e.prev < n { e.prev } else { 0 };
                self.set_i32(slot_pos, prev);
                if prev == 0 {
                    emptied += 1;
                }
            }
            if let Some(pos) = self.entry_pos(n) {
                self.set_bytes(pos, &[0; ENTRY_SIZE]);
            }
        }
        if cut < count {
            self.header.hash_slot_count =
                self.header.hash_slot_count.saturating_sub(emptied).max(0);
            self.header.index_count = cut;
            if let Some(last) = self.entry(cut - 1).filter(|_| cut > 1) {
                self.header.end_phy_offset = last.phy_offset;
                // Entries keep whole seconds since the begin time, so the end
                // time becomes the last kept entry's, rounded down; entry 1's
                // time is the begin time itself (its stored diff is relative
                // to the previous file's end, a Java quirk kept for layout).
                self.header.end_timestamp = if cut == 2 {
                    self.header.begin_timestamp
                } else {
                    self.header
                        .begin_timestamp
                        .saturating_add(i64::from(last.time_diff) * 1_000)
                };
            }
            self.write_header();
        }
        cut - 1
    }

    /// Reads entry number `n` (1-based; 0 is never written).
    pub(super) fn entry(&self, n: i32) -> Option<Entry> {
        let pos = self.entry_pos(n)?;
        Some(Entry {
            key_hash: self.i32_at(pos)?,
            phy_offset: self.i64_at(pos + 4)?,
            time_diff: self.i32_at(pos + 12)?,
            prev: self.i32_at(pos + 16)?,
        })
    }

    /// Byte position of hash slot for `key_hash`.
    fn slot_pos(&self, key_hash: i32) -> usize {
        // Valid hashes are non-negative; `rem_euclid` keeps corrupt ones in range.
        let slot = i64::from(key_hash).rem_euclid(i64::from(self.slots.max(1)));
        HEADER_SIZE + usize::try_from(slot).unwrap_or(0) * SLOT_SIZE
    }

    /// Byte position of entry `n`, if inside the file.
    fn entry_pos(&self, n: i32) -> Option<usize> {
        let n = u32::try_from(n).ok().filter(|n| *n < self.max_entries)?;
        Some(HEADER_SIZE + self.slots as usize * SLOT_SIZE + n as usize * ENTRY_SIZE)
    }

    /// Writes the cached header through to the mapping.
    fn write_header(&mut self) {
        let h = self.header;
        self.set_i64(BEGIN_TS, h.begin_timestamp);
        self.set_i64(END_TS, h.end_timestamp);
        self.set_i64(BEGIN_PHY, h.begin_phy_offset);
        self.set_i64(END_PHY, h.end_phy_offset);
        self.set_i32(SLOT_COUNT, h.hash_slot_count);
        self.set_i32(INDEX_COUNT, h.index_count);
    }

    /// Big-endian `i32` at `pos`, if in bounds.
    fn i32_at(&self, pos: usize) -> Option<i32> {
        let b = self.map.get(pos..pos.checked_add(4)?)?;
        Some(i32::from_be_bytes(b.try_into().ok()?))
    }

    /// Big-endian `i64` at `pos`, if in bounds.
    fn i64_at(&self, pos: usize) -> Option<i64> {
        let b = self.map.get(pos..pos.checked_add(8)?)?;
        Some(i64::from_be_bytes(b.try_into().ok()?))
    }

    /// Writes big-endian bytes at `pos`; out of bounds is ignored (every
    /// caller computes positions from checked, in-bounds values).
    fn set_bytes(&mut self, pos: usize, bytes: &[u8]) {
        if let Some(dst) = pos
            .checked_add(bytes.len())
            .and_then(|end| self.map.get_mut(pos..end))
        {
            dst.copy_from_slice(bytes);
        }
    }

    /// See [`IndexFile::set_bytes`].
    fn set_i32(&mut self, pos: usize, v: i32) {
        self.set_bytes(pos, &v.to_be_bytes());
    }

    /// See [`IndexFile::set_bytes`].
    fn set_i64(&mut self, pos: usize, v: i64) {
        self.set_bytes(pos, &v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: IndexConfig = IndexConfig {
        hash_slot_num: 2,
        index_num: 8,
    };

    fn new_file(dir: &tempfile::TempDir, prev_end_phy: i64, prev_end_ts: i64) -> IndexFile {
        IndexFile::create(&dir.path().join("f"), &CFG, prev_end_phy, prev_end_ts).unwrap()
    }

    /// A kill between a put's slot and header writes is undone at open (the
    /// put made again used to link its entry to itself).
    #[test]
    fn a_put_interrupted_before_its_header_is_undone_at_open() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut f = new_file(&dir, 0, 0);
        assert!(f.put(7, 100, 10_000));
        assert!(f.put(7, 200, 11_000));
        // The third put's entry and slot, not its header.
        let count = f.header().index_count;
        let pos = f.entry_pos(count).unwrap();
        f.set_i32(pos, 7);
        f.set_i64(pos + 4, 300);
        f.set_i32(pos + 12, 2);
        f.set_i32(pos + 16, count - 1);
        let slot = f.slot_pos(7);
        f.set_i32(slot, count);
        drop(f);
        let mut f = IndexFile::open(&dir.path().join("f"), &CFG).unwrap();
        let mut out = Vec::new();
        f.select(7, 10, 0, i64::MAX, &mut out);
        assert_eq!(out, [200, 100], "the uncounted entry is not served");
        assert!(f.put(7, 300, 12_000));
        out.clear();
        f.select(7, 10, 0, i64::MAX, &mut out);
        assert_eq!(out, [300, 200, 100]);
    }

    #[test]
    fn fresh_file_keeps_counts_zero_on_disk_until_the_first_put() {
        let dir = tempfile::TempDir::new().unwrap();
        let f = new_file(&dir, 500, 9_000);
        assert_eq!(f.header().index_count, 1);
        assert_eq!(f.i32_at(INDEX_COUNT), Some(0));
        assert_eq!(f.i64_at(BEGIN_PHY), Some(500));
        assert_eq!(f.i64_at(END_TS), Some(9_000));
        drop(f);
        let f = IndexFile::open(&dir.path().join("f"), &CFG).unwrap();
        assert_eq!(f.header().index_count, 1);
        assert_eq!(f.entry_count(), 0);
    }

    #[test]
    fn first_put_of_a_rolled_file_measures_time_from_the_previous_end() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut f = new_file(&dir, 500, 10_000);
        assert!(f.put(7, 600, 13_500));
        // Java computes the diff before resetting the begin time.
        let e = f.entry(1).unwrap();
        assert_eq!(
            (e.key_hash, e.phy_offset, e.time_diff, e.prev),
            (7, 600, 3, 0)
        );
        let h = f.header();
        assert_eq!((h.begin_timestamp, h.begin_phy_offset), (13_500, 600));
        assert_eq!((h.hash_slot_count, h.index_count), (1, 2));
        // Later entries measure from the new begin time.
        assert!(f.put(9, 700, 15_400));
        assert_eq!(f.entry(2).unwrap().time_diff, 1);
        // Same slot (7 % 2 == 9 % 2): chained.
        assert_eq!(f.entry(2).unwrap().prev, 1);
    }

    #[test]
    fn put_stops_at_capacity() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut f = new_file(&dir, 0, 0);
        for i in 0..7 {
            assert!(f.put(i, i64::from(i), 1_000));
        }
        assert!(f.is_full());
        assert!(!f.put(1, 1, 1_000));
        assert_eq!(f.entry_count(), 7);
        assert_eq!(f.entry(8), None);
    }

    #[test]
    fn select_stops_at_older_entries_and_self_loops() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut f = new_file(&dir, 0, 0);
        for (i, ts) in [1_000, 2_000, 3_000, 4_000].into_iter().enumerate() {
            assert!(f.put(4, i as i64, ts));
        }
        let mut out = Vec::new();
        f.select(4, 10, 2_000, 3_000, &mut out);
        assert_eq!(out, vec![2, 1]);
        out.clear();
        f.select(4, 1, 0, i64::MAX, &mut out);
        assert_eq!(out, vec![3]);
        // A self-loop at entry 2 ends the walk there.
        let pos = f.entry_pos(2).unwrap();
        f.set_i32(pos + 16, 2);
        out.clear();
        f.select(4, 10, 0, i64::MAX, &mut out);
        // Entries 4, 3, 2 (offsets 3, 2, 1); entry 1 is cut off by the loop.
        assert_eq!(out, vec![3, 2, 1]);
    }

    #[test]
    fn time_match_is_any_overlap() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut f = new_file(&dir, 0, 0);
        f.put(1, 1, 1_000);
        f.put(1, 2, 5_000);
        assert!(f.is_time_matched(0, 10_000));
        assert!(f.is_time_matched(4_000, 10_000));
        assert!(f.is_time_matched(0, 1_000));
        assert!(!f.is_time_matched(5_001, 10_000));
        assert!(!f.is_time_matched(0, 999));
    }
}
