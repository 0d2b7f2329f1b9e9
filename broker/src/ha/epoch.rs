//! The epoch file: which master term (epoch) wrote which CommitLog range,
//! as RocketMQ 5's controller mode keeps it (`EpochFileCache`).
//!
//! `epochFileCheckpoint` in the store root, Java's name and text format: the
//! number of entries on the first line, then one `epoch-startOffset` line per
//! term, oldest first. Entry *i* covers `[start_i, start_{i+1})`; the last
//! one runs to the CommitLog's end. Unlike Java, which rewrites the file in
//! place, every change goes through a synced temporary file and a rename
//! (the previous version kept as `.bak`), and a file that does not parse
//! stops the broker with an error naming the line instead of being read as
//! empty.
//!
//! Two brokers' histories agree up to their *consistent point*: the end of
//! the newest epoch both hold with the same start offset, as the shorter of
//! the two (Java's `findConsistentPoint`). A broker that follows a master of
//! a newer epoch truncates its CommitLog there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::BrokerError;
use crate::persist::ConfigFile;

/// The epoch file's name in the store root (Java's `storePathEpochFile`).
pub(crate) const EPOCH_FILE: &str = "epochFileCheckpoint";

/// One master term: epoch `epoch` wrote the CommitLog from `start_offset`
/// (the HA_STATUS body's type, so histories go over the wire as they are).
pub use skylark_protocol::body::HaEpochEntry as EpochEntry;

/// Why an epoch history could not be read, changed or saved.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// The file holds something else than Java's epoch checkpoint text.
    #[error(
        "epoch file {path} is corrupt at line {line}: {reason}; the broker cannot tell which \
         master terms its CommitLog holds (restore it, or remove it to start without epochs)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An appended term is not after the last one.
    #[error(
        "epoch {epoch} from offset {start_offset} cannot follow epoch {last_epoch} from offset \
         {last_start}: epochs must grow and offsets must not go back"
    )]
    NotAfter {
        /// The new epoch.
        epoch: i32,
        /// Its start.
        start_offset: i64,
        /// The last epoch held.
        last_epoch: i32,
        /// Its start.
        last_start: i64,
    },
    /// Reading or writing the file failed.
    #[error(transparent)]
    Io(#[from] BrokerError),
}

/// An ordered list of terms (epochs strictly growing, starts never going back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<EpochEntry>,
}

impl EpochHistory {
    /// A history of `entries`, checked to be in order.
    pub fn new(entries: Vec<EpochEntry>) -> Result<Self, EpochError> {
        let mut history = Self::default();
        for entry in entries {
            history.check_after(entry)?;
            history.entries.push(entry);
        }
        Ok(history)
    }

    /// The terms, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest term.
    pub fn last(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The newest epoch, 0 when there is none.
    pub fn last_epoch(&self) -> i32 {
        self.last().map_or(0, |e| e.epoch)
    }

    /// Whether no term is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn check_after(&self, entry: EpochEntry) -> Result<(), EpochError> {
        let not_after = |last: EpochEntry| EpochError::NotAfter {
            epoch: entry.epoch,
            start_offset: entry.start_offset,
            last_epoch: last.epoch,
            last_start: last.start_offset,
        };
        if entry.epoch <= 0 || entry.start_offset < 0 {
            return Err(not_after(EpochEntry {
                epoch: 0,
                start_offset: 0,
            }));
        }
        match self.last() {
            Some(last) if entry.epoch <= last.epoch || entry.start_offset < last.start_offset => {
                Err(not_after(last))
            }
            _ => Ok(()),
        }
    }

    /// Appends a term. One starting where the last one starts replaces it:
    /// that term wrote nothing, so no CommitLog byte belongs to it (Java
    /// refuses such an append; a master promoted twice without a write in
    /// between would then be stuck).
    pub fn append(&mut self, entry: EpochEntry) -> Result<(), EpochError> {
        self.check_after(entry)?;
        if self
            .last()
            .is_some_and(|last| last.start_offset == entry.start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Drops every term starting at or after `offset` (Java's
    /// `truncateSuffixByOffset`): what a truncation of the CommitLog to
    /// `offset` removed.
    pub fn truncate_from(&mut self, offset: i64) {
        self.entries.retain(|e| e.start_offset < offset);
    }

    /// Where the term at `i` ends, given that the history ends at `end`.
    fn end_of(&self, i: usize, end: i64) -> i64 {
        self.entries
            .get(i + 1)
            .map_or(end, |next| next.start_offset)
    }

    /// The last CommitLog offset this history (whose data ends at `end`)
    /// shares with `other` (ending at `other_end`): the end of the newest
    /// epoch both hold with the same start, the shorter of the two — Java's
    /// `findConsistentPoint`. `None` when they share no term.
    ///
    /// An empty history (a broker that never held a term, e.g. a new
    /// replica) shares everything up to the shorter end, as Java skips
    /// truncation for a replica without epochs.
    pub fn consistent_point(&self, end: i64, other: &EpochHistory, other_end: i64) -> Option<i64> {
        if self.is_empty() {
            return Some(end.min(other_end));
        }
        self.entries.iter().enumerate().rev().find_map(|(i, mine)| {
            let j = other
                .entries
                .iter()
                .position(|theirs| theirs.epoch == mine.epoch)?;
            (other.entries[j].start_offset == mine.start_offset)
                .then(|| self.end_of(i, end).min(other.end_of(j, other_end)))
        })
    }

    /// Java's text: the entry count, then `epoch-startOffset` lines.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n", self.entries.len());
        for e in &self.entries {
            let _ = writeln!(text, "{}-{}", e.epoch, e.start_offset);
        }
        text
    }

    /// Parses Java's text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, EpochError> {
        let corrupt = |line: usize, reason: String| EpochError::Corrupt {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        let Some((_, count)) = lines.next() else {
            return Ok(Self::default());
        };
        let count: usize = count
            .parse()
            .map_err(|_| corrupt(1, format!("entry count {count:?} is not a number")))?;
        let mut history = Self::default();
        for (n, line) in lines.filter(|(_, l)| !l.is_empty()) {
            let entry = line
                .split_once('-')
                .and_then(|(epoch, start)| {
                    Some(EpochEntry {
                        epoch: epoch.parse().ok()?,
                        start_offset: start.parse().ok()?,
                    })
                })
                .ok_or_else(|| corrupt(n, format!("{line:?} is not `epoch-startOffset`")))?;
            history
                .check_after(entry)
                .map_err(|error| corrupt(n, error.to_string()))?;
            history.entries.push(entry);
        }
        if history.entries.len() != count {
            return Err(corrupt(
                1,
                format!(
                    "it announces {count} entries and holds {}",
                    history.entries.len()
                ),
            ));
        }
        Ok(history)
    }
}

/// The epoch file of one store: the history in memory, every change saved
/// before it is visible.
#[derive(Debug)]
pub struct EpochFile {
    file: ConfigFile,
    history: Mutex<EpochHistory>,
}

impl EpochFile {
    /// Loads `<store_root>/epochFileCheckpoint` (empty when absent).
    pub fn load(store_root: &Path) -> Result<Self, EpochError> {
        let file = ConfigFile::new(store_root, EPOCH_FILE);
        let history = match std::fs::read(file.path()) {
            Ok(bytes) => {
                let text = std::str::from_utf8(&bytes).map_err(|_| EpochError::Corrupt {
                    path: file.path().to_owned(),
                    line: 1,
                    reason: "not UTF-8 text".to_owned(),
                })?;
                EpochHistory::parse(text, file.path())?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => EpochHistory::default(),
            Err(e) => return Err(BrokerError::io("read", file.path(), e).into()),
        };
        Ok(Self {
            file,
            history: Mutex::new(history),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    fn lock(&self) -> MutexGuard<'_, EpochHistory> {
        // Changed only after a successful save: poisoning leaves it whole.
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the history.
    pub fn history(&self) -> EpochHistory {
        self.lock().clone()
    }

    /// The newest epoch, 0 when none.
    pub fn last_epoch(&self) -> i32 {
        self.lock().last_epoch()
    }

    /// Changes the history with `change` and saves it; on any error the
    /// history stays as it was.
    fn update(
        &self,
        change: impl FnOnce(&mut EpochHistory) -> Result<(), EpochError>,
    ) -> Result<(), EpochError> {
        let mut history = self.lock();
        let mut next = history.clone();
        change(&mut next)?;
        if next != *history {
            let text = next.to_text();
            self.file.save(|| text.into_bytes())?;
            *history = next;
        }
        Ok(())
    }

    /// Appends a term and saves ([`EpochHistory::append`]).
    pub fn append(&self, entry: EpochEntry) -> Result<(), EpochError> {
        self.update(|h| h.append(entry))
    }

    /// Drops the terms starting at or after `offset` and saves.
    pub fn truncate_from(&self, offset: i64) -> Result<(), EpochError> {
        self.update(|h| {
            h.truncate_from(offset);
            Ok(())
        })
    }

    /// Replaces the history with `master`'s and saves: a replica whose
    /// CommitLog was cut to the consistent point holds the master's bytes
    /// up to it, and receives the rest, so the master's terms describe it.
    pub fn replace(&self, master: &EpochHistory) -> Result<(), EpochError> {
        self.update(|h| {
            *h = master.clone();
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn e(epoch: i32, start_offset: i64) -> EpochEntry {
        EpochEntry {
            epoch,
            start_offset,
        }
    }

    fn h(entries: &[(i32, i64)]) -> EpochHistory {
        EpochHistory::new(entries.iter().map(|&(a, b)| e(a, b)).collect()).unwrap()
    }

    #[test]
    fn persists_and_reloads_in_javas_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = EpochFile::load(dir.path()).unwrap();
        assert!(file.history().is_empty());
        assert_eq!(file.last_epoch(), 0);
        file.append(e(1, 0)).unwrap();
        file.append(e(2, 4096)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(EPOCH_FILE)).unwrap();
        assert_eq!(text, "2\n1-0\n2-4096\n");
        let again = EpochFile::load(dir.path()).unwrap();
        assert_eq!(again.history(), h(&[(1, 0), (2, 4096)]));
        again.truncate_from(4096).unwrap();
        assert_eq!(EpochFile::load(dir.path()).unwrap().history(), h(&[(1, 0)]));
    }

    #[test]
    fn refuses_terms_out_of_order_and_keeps_the_old_history() {
        let dir = tempfile::tempdir().unwrap();
        let file = EpochFile::load(dir.path()).unwrap();
        file.append(e(3, 100)).unwrap();
        assert!(matches!(
            file.append(e(3, 200)),
            Err(EpochError::NotAfter { .. })
        ));
        assert!(file.append(e(4, 50)).is_err());
        assert!(file.append(e(0, 500)).is_err());
        assert_eq!(file.history(), h(&[(3, 100)]));
        // A term that wrote nothing is replaced by the next one.
        file.append(e(5, 100)).unwrap();
        assert_eq!(file.history(), h(&[(5, 100)]));
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EPOCH_FILE);
        for (text, line, what) in [
            ("x\n1-0\n", 1, "not a number"),
            ("2\n1-0\n", 1, "announces 2 entries and holds 1"),
            ("2\n1-0\nabc\n", 3, "not `epoch-startOffset`"),
            ("2\n2-0\n1-10\n", 3, "cannot follow"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = EpochFile::load(dir.path()).unwrap_err();
            match &err {
                EpochError::Corrupt {
                    line: l, reason, ..
                } => {
                    assert_eq!(*l, line, "{text:?}: {err}");
                    assert!(reason.contains(what), "{text:?}: {err}");
                }
                other => panic!("{text:?}: {other}"),
            }
            assert!(err.to_string().contains(EPOCH_FILE), "{err}");
        }
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(EpochFile::load(dir.path()).is_err());
    }

    #[test]
    fn consistent_point_is_the_end_of_the_newest_shared_term() {
        // The old master wrote epoch 1 to 1000; its replica got 800 of it,
        // was promoted at 2 and wrote to 1500.
        let old = h(&[(1, 0)]);
        let new = h(&[(1, 0), (2, 800)]);
        assert_eq!(old.consistent_point(1000, &new, 1500), Some(800));
        assert_eq!(new.consistent_point(1500, &old, 1000), Some(800));
        // Same term, one behind the other: the shorter end.
        assert_eq!(new.consistent_point(1500, &new, 1200), Some(1200));
        // The newest shared term decides even when later ones differ.
        let a = h(&[(1, 0), (2, 800), (3, 900)]);
        let b = h(&[(1, 0), (2, 800), (4, 1000)]);
        assert_eq!(a.consistent_point(950, &b, 2000), Some(900));
        assert_eq!(b.consistent_point(2000, &a, 950), Some(900));
        // A term with the same number but another start is not shared.
        let c = h(&[(1, 0), (2, 700)]);
        assert_eq!(c.consistent_point(900, &new, 1500), Some(700));
        // Nothing shared.
        assert_eq!(h(&[(5, 0)]).consistent_point(10, &new, 1500), None);
        // No history: everything up to the shorter end.
        assert_eq!(
            EpochHistory::default().consistent_point(300, &new, 1500),
            Some(300)
        );
    }

    #[test]
    fn replaces_its_history_with_the_masters() {
        let dir = tempfile::tempdir().unwrap();
        let file = EpochFile::load(dir.path()).unwrap();
        file.append(e(1, 0)).unwrap();
        let master = h(&[(1, 0), (2, 800), (3, 1200)]);
        file.replace(&master).unwrap();
        assert_eq!(file.history(), master);
        assert_eq!(
            EpochFile::load(dir.path()).unwrap().history(),
            master,
            "the replacement is saved"
        );
    }
}
