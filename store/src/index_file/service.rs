//! The IndexService: the list of index files, building, querying,
//! retention and recovery (`IndexService.java`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use skylark_protocol::message::MessageSysFlag;

use super::file::{IndexFile, TMP_SUFFIX};
use super::name::{format_name, parse_name};
use super::{IndexConfig, IndexError, Result, topic_key_hash};

/// One index file, shared between the builder and queries.
type Shared = Arc<RwLock<IndexFile>>;

/// What a dispatched record contributes to the index (`DispatchRequest`).
#[derive(Debug, Clone, Copy)]
pub struct IndexRequest<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The `UNIQ_KEY` property.
    pub uniq_key: Option<&'a str>,
    /// The `KEYS` property (space-separated).
    pub keys: Option<&'a str>,
    /// Commit-log offset of the record.
    pub phy_offset: i64,
    /// Store timestamp of the record.
    pub store_timestamp: i64,
    /// The record's sys flag (ROLLBACK records are skipped).
    pub sys_flag: i32,
}

/// Result of [`IndexService::query`] (`QueryOffsetResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOffsetResult {
    /// Matching commit-log offsets, newest first (hash matches only).
    pub phys_offsets: Vec<i64>,
    /// End timestamp of the newest file.
    pub index_last_update_timestamp: i64,
    /// End commit-log offset of the newest file.
    pub index_last_update_phy_offset: i64,
}

/// All index files of a store.
#[derive(Debug)]
pub struct IndexService {
    /// The `index` directory.
    dir: PathBuf,
    /// File sizing.
    config: IndexConfig,
    /// Files, oldest first.
    files: RwLock<Vec<Shared>>,
    /// Serialises building, truncation and retention; queries never take it.
    writer: Mutex<()>,
}

impl IndexService {
    /// Loads every file in `dir` (created if missing), oldest first by name.
    pub fn open(dir: impl Into<PathBuf>, config: IndexConfig) -> Result<IndexService> {
        IndexService::open_checked(dir, config, true, 0)
    }

    /// Loads like [`IndexService::open`]; after an unclean exit, deletes the
    /// files whose end timestamp is past the checkpoint's index timestamp,
    /// whose contents may not have been flushed (`IndexService.load`).
    pub fn open_checked(
        dir: impl Into<PathBuf>,
        config: IndexConfig,
        last_exit_ok: bool,
        index_checkpoint_ts: i64,
    ) -> Result<IndexService> {
        let dir = dir.into();
        config.file_size()?;
        std::fs::create_dir_all(&dir).map_err(|e| IndexError::io(&dir, e))?;
        let mut names = Vec::new();
        for ent in std::fs::read_dir(&dir).map_err(|e| IndexError::io(&dir, e))? {
            let ent = ent.map_err(|e| IndexError::io(&dir, e))?;
            match ent.file_name().into_string() {
                Ok(n) if parse_name(&n).is_some() => names.push(n),
                Ok(n)
                    if n.strip_suffix(TMP_SUFFIX)
                        .is_some_and(|stem| parse_name(stem).is_some()) =>
                {
                    // A file whose creation a crash interrupted: never published.
                    tracing::warn!(path = %ent.path().display(), "deleting an unfinished index file");
                    remove_file(&ent.path())?;
                }
                _ => tracing::warn!(path = %ent.path().display(), "ignoring a non-index file"),
            }
        }
        names.sort();
        let mut files = Vec::new();
        let count = names.len();
        for (i, n) in names.into_iter().enumerate() {
            let path = dir.join(&n);
            // A kill between creating and sizing a file (stores written before
            // files were created under a temporary name, or by another
            // writer) leaves it empty: it holds nothing, so it was never made.
            if i + 1 == count && file_len(&path)? == 0 {
                tracing::warn!(path = %path.display(), "deleting an empty last index file (a crash while creating it)");
                remove_file(&path)?;
                continue;
            }
            let f = IndexFile::open(&path, &config)?;
            if !last_exit_ok && f.header().end_timestamp > index_checkpoint_ts {
                drop(f);
                remove_file(&path)?;
                continue;
            }
            files.push(Arc::new(RwLock::new(f)));
        }
        Ok(IndexService {
            dir,
            config,
            files: RwLock::new(files),
            writer: Mutex::new(()),
        })
    }

    /// The `index` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of files.
    pub fn file_count(&self) -> usize {
        self.list().len()
    }

    /// Paths and headers of the files, oldest first.
    pub fn files(&self) -> Vec<(PathBuf, super::IndexHeader)> {
        self.snapshot()
            .iter()
            .map(|f| {
                let f = read(f);
                (f.path().to_path_buf(), f.header())
            })
            .collect()
    }

    /// End timestamp of the newest full file, 0 if none: what Java records
    /// as the checkpoint's `indexMsgTimestamp` once a full file is flushed
    /// (a roll flushes the file it leaves).
    pub fn checkpoint_timestamp(&self) -> i64 {
        self.snapshot()
            .iter()
            .rev()
            .map(|f| read(f))
            .find(|f| f.is_full())
            .map_or(0, |f| f.header().end_timestamp)
    }

    /// Indexes a dispatched record, unless it is a ROLLBACK.
    pub fn dispatch(&self, req: &IndexRequest<'_>) -> Result<()> {
        if MessageSysFlag::transaction_value(req.sys_flag)
            == MessageSysFlag::TRANSACTION_ROLLBACK_TYPE
        {
            return Ok(());
        }
        self.build_index(
            req.topic,
            req.uniq_key,
            req.keys,
            req.phy_offset,
            req.store_timestamp,
        )
    }

    /// Indexes `topic#uniq_key` and `topic#k` for each non-empty
    /// space-separated token of `keys` (`buildIndex`; the caller has already
    /// skipped ROLLBACK records, see [`IndexService::dispatch`]).
    ///
    /// Re-dispatch after recovery is idempotent: a record below the newest
    /// file's end offset was indexed before and is skipped, and of the record
    /// *at* that offset only the keys not indexed yet are put. A record's keys
    /// may span two files (the first fills up between them, as in Java), so
    /// when a crash drops the newer file, the older one ends with a record
    /// only partly indexed; its remaining keys are put now, into a new file.
    pub fn build_index(
        &self,
        topic: &str,
        uniq_key: Option<&str>,
        keys: Option<&str>,
        phy_offset: i64,
        store_timestamp: i64,
    ) -> Result<()> {
        let _w = self.lock_writer();
        let newest = self.list().last().cloned();
        let done = match newest.map(|f| read(&f).header().end_phy_offset) {
            Some(end) if phy_offset < end => return Ok(()),
            Some(end) if phy_offset == end => self.keys_indexed(phy_offset),
            _ => 0,
        };
        let tokens = keys
            .into_iter()
            .flat_map(|k| k.split(' '))
            .filter(|k| !k.is_empty());
        let mut todo = uniq_key.into_iter().chain(tokens).skip(done).peekable();
        if todo.peek().is_none() {
            return Ok(());
        }
        let mut file = self.last_or_create()?;
        for key in todo {
            let hash = topic_key_hash(topic, key);
            while !write(&file).put(hash, phy_offset, store_timestamp) {
                file = self.roll()?;
            }
        }
        Ok(())
    }

    /// How many keys of the record at commit-log offset `phy_offset` are in
    /// the index: the entries for it at the end of the newest file, and
    /// before those, while a file holds nothing else, at the end of the
    /// files before it. Entries are in commit-log order and a record's keys
    /// are put in a fixed order, so these are the record's first keys.
    fn keys_indexed(&self, phy_offset: i64) -> usize {
        let mut n = 0;
        for f in self.snapshot().iter().rev() {
            let f = read(f);
            let mut i = f.entry_count();
            while i > 0 && f.entry(i).is_some_and(|e| e.phy_offset == phy_offset) {
                n += 1;
                i -= 1;
            }
            if i > 0 || f.header().begin_phy_offset != phy_offset {
                break;
            }
        }
        n
    }

    /// Commit-log offsets of records whose key hashes like `topic#key`,
    /// stored within `[begin, end]` ms, newest first, at most `max_num`
    /// (`queryOffset`; the caller applies `maxMsgsNumBatch`). Files are
    /// visited newest first and the walk stops at the first file that
    /// begins before `begin`.
    pub fn query(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin: i64,
        end: i64,
    ) -> QueryOffsetResult {
        let hash = topic_key_hash(topic, key);
        let files = self.snapshot();
        let mut result = QueryOffsetResult::default();
        if let Some(last) = files.last() {
            let h = read(last).header();
            result.index_last_update_timestamp = h.end_timestamp;
            result.index_last_update_phy_offset = h.end_phy_offset;
        }
        for f in files.iter().rev() {
            let f = read(f);
            if f.is_time_matched(begin, end) {
                f.select(hash, max_num, begin, end, &mut result.phys_offsets);
            }
            if f.header().begin_timestamp < begin || result.phys_offsets.len() >= max_num {
                break;
            }
        }
        result
    }

    /// Retention: deletes the oldest files whose end offset is below
    /// `min_phy_offset`, never the newest file (`deleteExpiredFile`).
    /// Returns the files deleted.
    pub fn delete_expired(&self, min_phy_offset: i64) -> Result<usize> {
        let _w = self.lock_writer();
        let doomed: Vec<Shared> = {
            let files = self.list();
            let keep_last = files.len().saturating_sub(1);
            files[..keep_last]
                .iter()
                .take_while(|f| read(f).header().end_phy_offset < min_phy_offset)
                .cloned()
                .collect()
        };
        for f in &doomed {
            let path = read(f).path().to_path_buf();
            remove_file(&path)?;
            self.list_mut().retain(|g| !Arc::ptr_eq(f, g));
        }
        Ok(doomed.len())
    }

    /// Recovery: removes every entry at or past commit-log offset
    /// `phy_offset`. Files whose first entry is at or past it are deleted
    /// (Java deletes whole files after the recovery point and rebuilds them);
    /// the file holding the cut keeps its earlier entries, with its slot
    /// chains restored exactly, so the dispatcher only has to re-index from
    /// `phy_offset`.
    pub fn truncate_from(&self, phy_offset: i64) -> Result<()> {
        let _w = self.lock_writer();
        loop {
            // Bound first: the list guard must be gone before `list_mut`.
            let newest = self.list().last().cloned();
            let Some(last) = newest else {
                break;
            };
            let mut f = write(&last);
            let first = f.entry(1).map(|e| e.phy_offset);
            if f.entry_count() > 0 && first.is_some_and(|p| p < phy_offset) {
                f.truncate_from(phy_offset);
                return Ok(());
            }
            let path = f.path().to_path_buf();
            drop(f);
            remove_file(&path)?;
            self.list_mut().retain(|g| !Arc::ptr_eq(&last, g));
        }
        Ok(())
    }

    /// `msync`s every file; returns the first error after trying all.
    pub fn flush(&self) -> Result<()> {
        let mut first = Ok(());
        for f in self.snapshot() {
            if let Err(e) = read(&f).flush() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    /// The newest file if it has room, else a new one.
    fn last_or_create(&self) -> Result<Shared> {
        let newest = self.list().last().cloned();
        match newest {
            Some(f) if !read(&f).is_full() => Ok(f),
            _ => self.roll(),
        }
    }

    /// Creates a new file continuing from the newest one's end, flushing
    /// the full one (Java flushes it on a side thread).
    fn roll(&self) -> Result<Shared> {
        let prev = self.list().last().cloned();
        let (end_phy, end_ts, last_name) = match &prev {
            Some(p) => {
                let p = read(p);
                p.flush()?;
                let name = p
                    .path()
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(parse_name);
                (p.header().end_phy_offset, p.header().end_timestamp, name)
            }
            None => (0, 0, None),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        // Names order the files: keep each newer than the last, even when
        // created within the same millisecond (or after a clock step back).
        let mut ms = last_name.map_or(now, |l| now.max(l.saturating_add(1)));
        loop {
            let path = self.dir.join(format_name(ms));
            match IndexFile::create(&path, &self.config, end_phy, end_ts) {
                Ok(f) => {
                    let f = Arc::new(RwLock::new(f));
                    self.list_mut().push(Arc::clone(&f));
                    return Ok(f);
                }
                Err(IndexError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    ms = ms.saturating_add(1);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A copy of the file list, so no list lock is held while reading files.
    fn snapshot(&self) -> Vec<Shared> {
        self.list().clone()
    }

    /// The file list, for reading.
    fn list(&self) -> RwLockReadGuard<'_, Vec<Shared>> {
        self.files.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file list, for changing.
    fn list_mut(&self) -> RwLockWriteGuard<'_, Vec<Shared>> {
        self.files.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer lock.
    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Read access to a file (a poisoned lock still holds a consistent file:
/// every put writes the entry before publishing it in the slot and header).
fn read(f: &Shared) -> RwLockReadGuard<'_, IndexFile> {
    f.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write access to a file.
fn write(f: &Shared) -> RwLockWriteGuard<'_, IndexFile> {
    f.write().unwrap_or_else(PoisonError::into_inner)
}

/// The length of a file.
fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| IndexError::io(path, e))
}

/// Deletes a file; already gone is fine.
fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(IndexError::io(path, e)),
    }
}
