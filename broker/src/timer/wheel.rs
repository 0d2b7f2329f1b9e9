//! The persistent timing wheel (Java's `TimerWheel` + `TimerLog`, not their
//! file formats): an append-only log of fixed-size entries, and a wheel file
//! of slots, one per precision unit, each holding its time, the first and
//! last log position of its entries and their count. A slot's entries are
//! chained backwards through each entry's `prev`, so any number of scheduled
//! messages costs log bytes on disk, and memory only for the fixed wheel.
//!
//! The wheel is mirrored in memory (as Java keeps a copy of its wheel);
//! changed slots are written to the wheel file at [`TimerStore::flush`]. Log
//! entries are written as they are appended. A slot is valid for the time it
//! records: a slot left over from an earlier lap reads as empty.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::BrokerError;

/// Bytes of one log entry.
pub(crate) const ENTRY_SIZE: u64 = 40;
/// Bytes of one wheel slot.
const SLOT_SIZE: u64 = 32;
/// No entry (an empty chain's end).
const NONE: i64 = -1;
/// Entry flag: the message cancels another (`TIMER_DEL_UNIQKEY`).
pub(crate) const FLAG_DELETE: i32 = 1;

/// One scheduled message in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The timer record's CommitLog offset.
    pub(crate) phys_offset: i64,
    /// Its size in bytes.
    pub(crate) size: i32,
    /// [`FLAG_DELETE`] or 0.
    pub(crate) flags: i32,
    /// When it is due (its `TIMER_OUT_MS`).
    pub(crate) deliver_ms: i64,
    /// When it entered the wheel (`TIMER_ENQUEUE_MS` on delivery).
    pub(crate) enqueue_ms: i64,
}

impl Entry {
    fn encode(&self, prev: i64) -> [u8; ENTRY_SIZE as usize] {
        let mut b = [0u8; ENTRY_SIZE as usize];
        b[0..8].copy_from_slice(&self.phys_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..16].copy_from_slice(&self.flags.to_be_bytes());
        b[16..24].copy_from_slice(&self.deliver_ms.to_be_bytes());
        b[24..32].copy_from_slice(&self.enqueue_ms.to_be_bytes());
        b[32..40].copy_from_slice(&prev.to_be_bytes());
        b
    }

    fn decode(b: &[u8; ENTRY_SIZE as usize]) -> (Self, i64) {
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        let i32_at = |at: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[at..at + 4]);
            i32::from_be_bytes(x)
        };
        let entry = Self {
            phys_offset: i64_at(0),
            size: i32_at(8),
            flags: i32_at(12),
            deliver_ms: i64_at(16),
            enqueue_ms: i64_at(24),
        };
        (entry, i64_at(32))
    }
}

/// One slot: the time it is for (in precision units), its chain and count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    unit: i64,
    first: i64,
    last: i64,
    count: i32,
}

impl Slot {
    fn encode(&self) -> [u8; SLOT_SIZE as usize] {
        let mut b = [0u8; SLOT_SIZE as usize];
        b[0..8].copy_from_slice(&self.unit.to_be_bytes());
        b[8..16].copy_from_slice(&self.first.to_be_bytes());
        b[16..24].copy_from_slice(&self.last.to_be_bytes());
        b[24..28].copy_from_slice(&self.count.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Self {
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        let mut count = [0u8; 4];
        count.copy_from_slice(&b[24..28]);
        Self {
            unit: i64_at(0),
            first: i64_at(8),
            last: i64_at(16),
            count: i32::from_be_bytes(count),
        }
    }
}

/// The in-memory wheel and the slots changed since the last flush.
#[derive(Debug)]
struct Wheel {
    slots: Vec<Slot>,
    dirty: BTreeSet<usize>,
}

/// The timer log and the wheel over it.
#[derive(Debug)]
pub(crate) struct TimerStore {
    precision_ms: i64,
    wheel: Mutex<Wheel>,
    wheel_file: File,
    wheel_path: PathBuf,
    log: File,
    log_path: PathBuf,
    /// Bytes of the log in use; the next entry goes here.
    log_len: AtomicU64,
}

impl TimerStore {
    /// Opens (or creates) `wheel` and `log` in `dir`. A new wheel gets
    /// `slots` slots; an existing one keeps its size, so changing
    /// `timerMaxDelaySec` never loses what it holds (entries beyond the
    /// window are rolled by the caller). A torn entry at the log's end is
    /// cut off.
    pub(crate) fn open(dir: &Path, slots: usize, precision_ms: i64) -> Result<Self, BrokerError> {
        std::fs::create_dir_all(dir).map_err(|e| BrokerError::io("create", dir, e))?;
        let wheel_path = dir.join("wheel");
        let log_path = dir.join("log");
        let open = |path: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| BrokerError::io("open", path, e))
        };
        let wheel_file = open(&wheel_path)?;
        let log = open(&log_path)?;
        let wheel_len = wheel_file
            .metadata()
            .map_err(|e| BrokerError::io("stat", &wheel_path, e))?
            .len();
        let table = if wheel_len == 0 {
            let empty = vec![Slot::default(); slots.max(2)];
            wheel_file
                .set_len(empty.len() as u64 * SLOT_SIZE)
                .map_err(|e| BrokerError::io("size", &wheel_path, e))?;
            empty
        } else {
            if wheel_len % SLOT_SIZE != 0 || wheel_len < 2 * SLOT_SIZE {
                return Err(BrokerError::Config(format!(
                    "{} has {wheel_len} bytes, not whole slots",
                    wheel_path.display()
                )));
            }
            let len = usize::try_from(wheel_len)
                .map_err(|_| BrokerError::Config("timer wheel too large".to_owned()))?;
            let mut bytes = vec![0u8; len];
            wheel_file
                .read_exact_at(&mut bytes, 0)
                .map_err(|e| BrokerError::io("read", &wheel_path, e))?;
            bytes
                .chunks_exact(SLOT_SIZE as usize)
                .map(Slot::decode)
                .collect()
        };
        let log_len = log
            .metadata()
            .map_err(|e| BrokerError::io("stat", &log_path, e))?
            .len();
        Ok(Self {
            precision_ms: precision_ms.max(1),
            wheel: Mutex::new(Wheel {
                slots: table,
                dirty: BTreeSet::new(),
            }),
            wheel_file,
            wheel_path,
            log,
            log_path,
            log_len: AtomicU64::new(log_len - log_len % ENTRY_SIZE),
        })
    }

    /// Slots in the wheel.
    pub(crate) fn slot_count(&self) -> usize {
        self.lock().slots.len()
    }

    /// How far ahead of the read time an entry can go without rolling.
    pub(crate) fn window_ms(&self) -> i64 {
        i64::try_from(self.slot_count()).unwrap_or(i64::MAX) * self.precision_ms
    }

    /// Bytes of log in use.
    pub(crate) fn log_len(&self) -> u64 {
        self.log_len.load(Ordering::Acquire)
    }

    /// Appends `entry` to the chain of the slot for `slot_ms` (a multiple
    /// of the precision). The 40-byte log write happens under the wheel's
    /// lock, so a flush never records a slot pointing at an unwritten entry
    /// and two inserts into one slot never chain the same predecessor; it
    /// is a page-cache write on the timer's background tasks, never on the
    /// send path.
    pub(crate) fn insert(&self, slot_ms: i64, entry: &Entry) -> Result<(), BrokerError> {
        let unit = slot_ms / self.precision_ms;
        let mut wheel = self.lock();
        let index = index_of(unit, wheel.slots.len());
        let slot = wheel.slots[index];
        let prev = if slot.unit == unit { slot.last } else { NONE };
        let at = self.log_len.load(Ordering::Acquire);
        self.log
            .write_all_at(&entry.encode(prev), at)
            .map_err(|e| BrokerError::io("append to", &self.log_path, e))?;
        self.log_len.store(at + ENTRY_SIZE, Ordering::Release);
        let pos = i64::try_from(at).unwrap_or(i64::MAX);
        wheel.slots[index] = if slot.unit == unit {
            Slot {
                last: pos,
                count: slot.count.saturating_add(1),
                ..slot
            }
        } else {
            Slot {
                unit,
                first: pos,
                last: pos,
                count: 1,
            }
        };
        wheel.dirty.insert(index);
        Ok(())
    }

    /// Entries in the slot for `slot_ms`.
    #[cfg(test)]
    pub(crate) fn count(&self, slot_ms: i64) -> i32 {
        let unit = slot_ms / self.precision_ms;
        let wheel = self.lock();
        let slot = wheel.slots[index_of(unit, wheel.slots.len())];
        if slot.unit == unit { slot.count } else { 0 }
    }

    /// Entries of every slot from `from_ms` over one lap of the wheel.
    pub(crate) fn count_from(&self, from_ms: i64) -> i64 {
        let first = from_ms / self.precision_ms;
        let wheel = self.lock();
        let n = wheel.slots.len();
        (0..n)
            .map(|i| {
                let unit = first + i64::try_from(i).unwrap_or(0);
                let slot = wheel.slots[index_of(unit, n)];
                if slot.unit == unit {
                    i64::from(slot.count)
                } else {
                    0
                }
            })
            .sum()
    }

    /// The entries of the slot for `slot_ms`, oldest first. The chain is
    /// read from the log outside the wheel's lock: the slot is no longer
    /// written to once its time is being delivered.
    pub(crate) fn entries(&self, slot_ms: i64) -> Result<Vec<Entry>, BrokerError> {
        let unit = slot_ms / self.precision_ms;
        let slot = {
            let wheel = self.lock();
            wheel.slots[index_of(unit, wheel.slots.len())]
        };
        if slot.unit != unit {
            return Ok(Vec::new());
        }
        let mut entries = Vec::with_capacity(usize::try_from(slot.count).unwrap_or(0));
        let mut at = slot.last;
        let len = self.log_len();
        while at != NONE {
            let pos = u64::try_from(at)
                .ok()
                .filter(|&p| p + ENTRY_SIZE <= len)
                .ok_or_else(|| {
                    BrokerError::Config(format!(
                        "timer slot {slot_ms} links to {at}, outside {} ({len} bytes)",
                        self.log_path.display()
                    ))
                })?;
            let mut b = [0u8; ENTRY_SIZE as usize];
            self.log
                .read_exact_at(&mut b, pos)
                .map_err(|e| BrokerError::io("read", &self.log_path, e))?;
            let (entry, prev) = Entry::decode(&b);
            entries.push(entry);
            if at == slot.first || prev >= at {
                // The chain's start; a link forward would loop.
                break;
            }
            at = prev;
        }
        entries.reverse();
        Ok(entries)
    }

    /// Writes the slots changed since the last flush to the wheel file and
    /// syncs the log, then the wheel: after it returns, every slot on disk
    /// points at durable entries. The changed slots are copied under the
    /// lock and written after it.
    pub(crate) fn flush(&self) -> Result<(), BrokerError> {
        let changed: Vec<(usize, Slot)> = {
            let mut wheel = self.lock();
            let dirty = std::mem::take(&mut wheel.dirty);
            dirty.into_iter().map(|i| (i, wheel.slots[i])).collect()
        };
        self.log
            .sync_data()
            .map_err(|e| BrokerError::io("sync", &self.log_path, e))?;
        for (index, slot) in &changed {
            self.wheel_file
                .write_all_at(&slot.encode(), *index as u64 * SLOT_SIZE)
                .map_err(|e| BrokerError::io("write", &self.wheel_path, e))?;
        }
        if !changed.is_empty() {
            self.wheel_file
                .sync_data()
                .map_err(|e| BrokerError::io("sync", &self.wheel_path, e))?;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Wheel> {
        self.wheel.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The slot index of time `unit` (precision units) on a wheel of `slots`.
fn index_of(unit: i64, slots: usize) -> usize {
    let n = i64::try_from(slots).unwrap_or(i64::MAX);
    usize::try_from(unit.rem_euclid(n)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(phys: i64, deliver_ms: i64) -> Entry {
        Entry {
            phys_offset: phys,
            size: 100,
            flags: 0,
            deliver_ms,
            enqueue_ms: 7,
        }
    }

    #[test]
    fn inserted_entries_come_back_per_slot_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = TimerStore::open(dir.path(), 10, 1000).unwrap();
        store.insert(5000, &entry(1, 5000)).unwrap();
        store.insert(6000, &entry(2, 6500)).unwrap();
        store.insert(5000, &entry(3, 5999)).unwrap();
        store.insert(5000, &entry(4, 5000)).unwrap();
        let phys = |ms| {
            store
                .entries(ms)
                .unwrap()
                .iter()
                .map(|e| e.phys_offset)
                .collect::<Vec<_>>()
        };
        assert_eq!(phys(5000), [1, 3, 4]);
        assert_eq!(phys(6000), [2]);
        assert_eq!(phys(7000), Vec::<i64>::new());
        assert_eq!(store.entries(5000).unwrap()[1], entry(3, 5999));
        assert_eq!((store.count(5000), store.count(6000)), (3, 1));
        assert_eq!(store.count_from(5000), 4);
        assert_eq!(store.count_from(6000), 1);
        assert_eq!(store.log_len(), 4 * ENTRY_SIZE);
    }

    #[test]
    fn a_slot_from_an_earlier_lap_reads_empty_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = TimerStore::open(dir.path(), 4, 100).unwrap();
        store.insert(100, &entry(1, 100)).unwrap();
        // 500 ms is one lap (4 slots × 100 ms) later: the same slot index.
        assert!(store.entries(500).unwrap().is_empty());
        assert_eq!(store.count(500), 0);
        store.insert(500, &entry(2, 500)).unwrap();
        assert_eq!(store.entries(500).unwrap(), [entry(2, 500)]);
        assert!(store.entries(100).unwrap().is_empty());
        assert_eq!(store.count_from(200), 1);
        assert_eq!(store.window_ms(), 400);
    }

    #[test]
    fn a_flushed_wheel_reopens_with_its_slots_and_log() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = TimerStore::open(dir.path(), 16, 1000).unwrap();
            for i in 0..5 {
                store.insert(3000, &entry(i, 3000)).unwrap();
            }
            store.insert(9000, &entry(99, 9000)).unwrap();
            store.flush().unwrap();
            // Not flushed: the wheel file does not see it, as after a crash.
            store.insert(3000, &entry(100, 3000)).unwrap();
        }
        // A reopened wheel keeps its size whatever the config asks now.
        let store = TimerStore::open(dir.path(), 64, 1000).unwrap();
        assert_eq!(store.slot_count(), 16);
        let phys: Vec<i64> = store
            .entries(3000)
            .unwrap()
            .iter()
            .map(|e| e.phys_offset)
            .collect();
        assert_eq!(phys, [0, 1, 2, 3, 4]);
        assert_eq!(store.entries(9000).unwrap(), [entry(99, 9000)]);
        // New entries go after the orphaned one, chained to the flushed tail.
        assert_eq!(store.log_len(), 7 * ENTRY_SIZE);
        store.insert(3000, &entry(5, 3000)).unwrap();
        assert_eq!(store.entries(3000).unwrap().len(), 6);
    }

    #[test]
    fn a_torn_log_tail_is_cut_and_a_bad_wheel_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = TimerStore::open(dir.path(), 8, 1000).unwrap();
            store.insert(1000, &entry(1, 1000)).unwrap();
            store.flush().unwrap();
        }
        let log = OpenOptions::new()
            .append(true)
            .open(dir.path().join("log"))
            .unwrap();
        log.write_all_at(&[1, 2, 3], ENTRY_SIZE).unwrap();
        let store = TimerStore::open(dir.path(), 8, 1000).unwrap();
        assert_eq!(store.log_len(), ENTRY_SIZE);
        drop(store);
        std::fs::write(dir.path().join("wheel"), [0u8; 33]).unwrap();
        assert!(TimerStore::open(dir.path(), 8, 1000).is_err());
    }
}
