//! The dispatcher (`ReputMessageService`): follows the CommitLog and turns
//! every record into its ConsumeQueue entry and index keys, then tells the
//! arrival listener (the broker's long polling).
//!
//! Records are read in place from zero-copy views of the mapped files; only
//! the fields the entry needs are parsed (header, topic, and the TAGS, KEYS,
//! UNIQ_KEY and DELAY properties), so the steady state allocates nothing per
//! record. The same code re-dispatches synchronously during recovery.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use skylark_protocol::message::record::BLANK_LEN;
use skylark_protocol::message::tags_code;
use skylark_protocol::message::topic::RMQ_SYS_SCHEDULE_TOPIC;

use crate::commitlog::{CommitLog, Entry, RecordInfo, parse_entry};
use crate::consume_queue::{AppendOutcome, ConsumeQueueStore, CqEntry};
use crate::index_file::{IndexRequest, IndexService};

/// Called for every new ConsumeQueue entry: `(topic, queue_id, next queue
/// offset, tags code, store timestamp)`; what long polling hooks into.
pub type ArrivalListener = Arc<dyn Fn(&str, i32, i64, i64, i64) + Send + Sync>;

/// How long the idle dispatcher sleeps when no put wakes it (replicated
/// appends do not wake it).
const IDLE_WAIT: Duration = Duration::from_millis(10);

/// Records dispatched between two looks at the stop flag. A record costs
/// microseconds normally and about a millisecond at worst (a tail remap with
/// a cold page), so stop is seen within tens of milliseconds.
const STOP_CHECK_RECORDS: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Guarded data is `()` or replaced whole: poisoning carries no broken state.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The properties dispatch needs, borrowed from the record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordProps<'a> {
    /// `TAGS`.
    pub(crate) tags: Option<&'a str>,
    /// `KEYS`.
    pub(crate) keys: Option<&'a str>,
    /// `UNIQ_KEY`.
    pub(crate) uniq_key: Option<&'a str>,
    /// `DELAY`.
    pub(crate) delay: Option<&'a str>,
}

/// Scans `name 0x01 value 0x02` pairs without allocating; like Java's
/// `string2messageProperties`, pairs missing a name or value are skipped and
/// a repeated name keeps its last value. Non-UTF-8 values are ignored.
pub(crate) fn scan_props(raw: &[u8]) -> RecordProps<'_> {
    let mut out = RecordProps::default();
    for pair in raw.split(|&b| b == 0x02) {
        let Some(sep) = pair.iter().position(|&b| b == 0x01) else {
            continue;
        };
        let (name, value) = (&pair[..sep], &pair[sep + 1..]);
        if name.is_empty() || value.is_empty() {
            continue;
        }
        let slot = match name {
            b"TAGS" => &mut out.tags,
            b"KEYS" => &mut out.keys,
            b"UNIQ_KEY" => &mut out.uniq_key,
            b"DELAY" => &mut out.delay,
            _ => continue,
        };
        if let Ok(v) = std::str::from_utf8(value) {
            *slot = Some(v);
        }
    }
    out
}

/// The property bytes of a parsed record.
pub(crate) fn props_of<'a>(rec: &'a [u8], info: &RecordInfo) -> &'a [u8] {
    rec.get(info.topic.end + 2..info.total_size).unwrap_or(&[])
}

/// The topic of a parsed record, if it is UTF-8.
pub(crate) fn topic_of<'a>(rec: &'a [u8], info: &RecordInfo) -> Option<&'a str> {
    std::str::from_utf8(rec.get(info.topic.clone())?).ok()
}

/// What the dispatcher shares with the store.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) commit_log: Arc<CommitLog>,
    pub(crate) queues: Arc<ConsumeQueueStore>,
    pub(crate) index: Option<Arc<IndexService>>,
    /// `messageDelayLevel` in ms, level 1 first.
    pub(crate) delay_levels: Vec<i64>,
}

impl Parts {
    /// The ConsumeQueue tags code: the TAGS hash, or for delayed messages in
    /// `SCHEDULE_TOPIC_XXXX` the delivery time (`computeDeliverTimestamp`).
    fn tags_code(&self, topic: &str, props: &RecordProps<'_>, store_ts: i64) -> i64 {
        let code = tags_code(props.tags);
        if topic != RMQ_SYS_SCHEDULE_TOPIC {
            return code;
        }
        let Some(level) = props.delay.and_then(|d| d.trim().parse::<i64>().ok()) else {
            return code;
        };
        let level = level.min(self.delay_levels.len() as i64);
        if level <= 0 {
            return code;
        }
        let delay = usize::try_from(level - 1)
            .ok()
            .and_then(|i| self.delay_levels.get(i))
            .copied()
            .unwrap_or(1000);
        store_ts + delay
    }
}

/// Where recovery's re-dispatch starts putting a record into each part: the
/// ConsumeQueues and the index resume from their own points, and a
/// ConsumeQueue rebuild must not bring back the queues of deleted topics.
/// All zero (everything goes everywhere) outside recovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gates {
    /// Records below this offset are not put into ConsumeQueues.
    pub(crate) cq_from: i64,
    /// Records below this offset go only into ConsumeQueues that exist:
    /// below it, a queue that does not is one that was deleted.
    pub(crate) cq_create_from: i64,
    /// Records below this offset are not indexed.
    pub(crate) index_from: i64,
}

/// Dispatch state shared between the thread, the store and waiters.
pub(crate) struct Shared {
    pub(crate) parts: Parts,
    /// CommitLog offset up to which records are dispatched.
    offset: AtomicI64,
    /// [`Gates::cq_from`].
    cq_from: AtomicI64,
    /// [`Gates::cq_create_from`].
    cq_create_from: AtomicI64,
    /// [`Gates::index_from`].
    index_from: AtomicI64,
    /// The queues a recovery rebuilds (by topic), consulted below
    /// [`Gates::cq_create_from`] only.
    rebuilding: Mutex<HashMap<String, HashSet<i32>>>,
    /// Store timestamp of the last dispatched record.
    last_timestamp: AtomicI64,
    sleeping: AtomicBool,
    stop: AtomicBool,
    /// Test hook: sleep this many microseconds per dispatched record (0 = off).
    delay_micros: AtomicU64,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    /// Wakes the dispatcher.
    wake_cv: Condvar,
    /// Wakes threads waiting for progress.
    progress_cv: Condvar,
    listener: RwLock<Option<ArrivalListener>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("offset", &self.offset)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Dispatch state starting at `offset`.
    pub(crate) fn new(parts: Parts, offset: i64) -> Self {
        Self {
            parts,
            offset: AtomicI64::new(offset),
            cq_from: AtomicI64::new(0),
            cq_create_from: AtomicI64::new(0),
            index_from: AtomicI64::new(0),
            rebuilding: Mutex::new(HashMap::new()),
            last_timestamp: AtomicI64::new(0),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            delay_micros: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake_cv: Condvar::new(),
            progress_cv: Condvar::new(),
            listener: RwLock::new(None),
        }
    }

    /// CommitLog offset up to which records are dispatched.
    pub(crate) fn offset(&self) -> i64 {
        self.offset.load(Ordering::Acquire)
    }

    /// Moves the dispatch position (recovery only, before the thread runs).
    pub(crate) fn set_offset(&self, offset: i64) {
        self.offset.store(offset, Ordering::Release);
    }

    /// Sets where each part takes records from (recovery only, before the
    /// thread runs; [`Gates::default`] afterwards).
    pub(crate) fn set_gates(&self, gates: Gates) {
        self.cq_from.store(gates.cq_from, Ordering::Release);
        self.cq_create_from
            .store(gates.cq_create_from, Ordering::Release);
        self.index_from.store(gates.index_from, Ordering::Release);
    }

    /// Sets the queues a recovery rebuilds (recovery only; empty afterwards).
    pub(crate) fn set_rebuilding(&self, queues: HashMap<String, HashSet<i32>>) {
        *lock(&self.rebuilding) = queues;
    }

    /// A queue being rebuilt gets a record past its last one but with a
    /// queue offset below its next: the topic was deleted and created again
    /// (offsets start over at 0), so what the rebuild put in so far came
    /// from its earlier life. Starts the queue over.
    fn restart_rebuilt_queue(&self, topic: &str, info: &RecordInfo, at: i64) {
        let rebuilding = lock(&self.rebuilding)
            .get(topic)
            .is_some_and(|q| q.contains(&info.queue_id));
        let Some(q) = self.parts.queues.queue(topic, info.queue_id) else {
            return;
        };
        let restarts = rebuilding
            && q.file_count() > 0
            && info.queue_offset < q.max_offset()
            && at + info.total_size as i64 > q.max_phys_offset();
        if !restarts {
            return;
        }
        tracing::warn!(
            topic,
            queue_id = info.queue_id,
            offset = at,
            queue_offset = info.queue_offset,
            dropped = q.max_offset(),
            "rebuilt ConsumeQueue starts over: its topic was deleted and created again"
        );
        if let Err(e) = q.clear() {
            tracing::error!(topic, queue_id = info.queue_id, error = %e, "cannot restart a rebuilt ConsumeQueue");
        }
    }

    fn gates(&self) -> Gates {
        Gates {
            cq_from: self.cq_from.load(Ordering::Acquire),
            cq_create_from: self.cq_create_from.load(Ordering::Acquire),
            index_from: self.index_from.load(Ordering::Acquire),
        }
    }

    /// Store timestamp of the last dispatched record (0 if none).
    pub(crate) fn last_timestamp(&self) -> i64 {
        self.last_timestamp.load(Ordering::Acquire)
    }

    /// Replaces the arrival listener.
    pub(crate) fn set_listener(&self, listener: Option<ArrivalListener>) {
        *self
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = listener;
    }

    /// Wakes the dispatcher if it sleeps; a put calls this after appending.
    pub(crate) fn wake(&self) {
        // The fence orders the append's publication before this load, and
        // pairs with the dispatcher's fence between its store of `sleeping`
        // and its re-check of the CommitLog end: one side sees the other.
        fence(Ordering::SeqCst);
        // Only the first put after the dispatcher went to sleep wakes it:
        // the puts made before it runs again find `sleeping` already
        // cleared, instead of each taking the lock and making a futex call
        // (about one put in four did, with 128-byte bodies). The lock is
        // held by the dispatcher from setting `sleeping` until it waits, so
        // this notify cannot fall between its re-check and its wait.
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::SeqCst) {
            let _g = lock(&self.lock);
            self.wake_cv.notify_one();
        }
    }

    /// Waits until everything before `offset` is dispatched; false on timeout.
    pub(crate) fn wait_for(&self, offset: i64, timeout: Duration) -> bool {
        if self.offset() >= offset {
            return true;
        }
        let deadline = Instant::now() + timeout;
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut g = lock(&self.lock);
        let reached = loop {
            if self.offset() >= offset {
                break true;
            }
            let now = Instant::now();
            if now >= deadline || self.stop.load(Ordering::Acquire) {
                break false;
            }
            g = self
                .progress_cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        drop(g);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        reached
    }

    fn notify_progress(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = lock(&self.lock);
            self.progress_cv.notify_all();
        }
    }

    /// Test hook: slows dispatch down by `delay` per record (zero: off).
    pub(crate) fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_micros.store(micros, Ordering::Relaxed);
    }

    /// Dispatches every published record from the current offset to `end`
    /// (the thread passes the CommitLog end; recovery too, without `notify`).
    /// Returns the offset reached.
    ///
    /// Every [`STOP_CHECK_RECORDS`] records (and between files) it looks at
    /// the stop flag and returns early once set, so [`Dispatcher::stop`]
    /// bounds its wait however large the backlog: the offset reached is
    /// published, and the rest is re-dispatched at the next open from the
    /// persisted dispatch position.
    pub(crate) fn dispatch_until(&self, end: i64, notify: bool) -> i64 {
        let log = &self.parts.commit_log;
        let max_record = log.file_size() - BLANK_LEN;
        let gates = self.gates();
        let listener = if notify {
            self.listener
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        } else {
            None
        };
        let mut at = self.offset();
        let mut since_check = 0usize;
        while at < end {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let min = log.min_offset();
            if at < min {
                tracing::warn!(
                    offset = at,
                    min,
                    "dispatch fell below the CommitLog minimum"
                );
                at = min;
                self.offset.store(at, Ordering::Release);
                continue;
            }
            let Some(data) = log.get_data(at).filter(|d| !d.is_empty()) else {
                break;
            };
            let mut pos = 0;
            while pos < data.len() {
                match parse_entry(&data[pos..], max_record) {
                    Ok(Entry::Record(info)) => {
                        let rec = &data[pos..pos + info.total_size];
                        self.dispatch_one(at, &info, rec, gates, listener.as_ref());
                        pos += info.total_size;
                        at += info.total_size as i64;
                        let delay = self.delay_micros.load(Ordering::Relaxed);
                        if delay > 0 {
                            std::thread::sleep(Duration::from_micros(delay));
                        }
                        since_check += 1;
                        if since_check >= STOP_CHECK_RECORDS {
                            since_check = 0;
                            if self.stop.load(Ordering::Acquire) {
                                self.offset.store(at, Ordering::Release);
                                break;
                            }
                        }
                    }
                    Ok(Entry::Blank { .. }) => {
                        at = log.roll_next_file(at);
                        break;
                    }
                    Err(fault) => {
                        // Published bytes are whole records; anything else is
                        // damage. Skip the file's rest as Java's master does.
                        tracing::error!(offset = at, %fault, "undispatchable record; skipping to the next file");
                        at = log.roll_next_file(at);
                        break;
                    }
                }
                self.offset.store(at, Ordering::Release);
            }
            self.offset.store(at, Ordering::Release);
            self.notify_progress();
        }
        at
    }

    fn dispatch_one(
        &self,
        at: i64,
        info: &RecordInfo,
        rec: &[u8],
        gates: Gates,
        listener: Option<&ArrivalListener>,
    ) {
        let Some(topic) = topic_of(rec, info) else {
            tracing::error!(offset = at, "record topic is not UTF-8; not dispatched");
            return;
        };
        let props = scan_props(props_of(rec, info));
        let ts = info.store_timestamp;
        let to_queue = info.takes_queue_offset()
            && at >= gates.cq_from
            && (at >= gates.cq_create_from
                || self.parts.queues.queue(topic, info.queue_id).is_some());
        if to_queue {
            if at < gates.cq_create_from {
                self.restart_rebuilt_queue(topic, info, at);
            }
            let tags_code = self.parts.tags_code(topic, &props, ts);
            let entry = CqEntry {
                phys_offset: at,
                size: info.total_size as i32,
                tags_code,
            };
            match self
                .parts
                .queues
                .append(topic, info.queue_id, info.queue_offset, entry)
            {
                Ok(AppendOutcome::Appended) => {
                    if let Some(l) = listener {
                        // A panicking listener must not stop dispatch for good.
                        let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            l(topic, info.queue_id, info.queue_offset + 1, tags_code, ts);
                        }));
                        if call.is_err() {
                            tracing::error!(
                                topic,
                                queue_id = info.queue_id,
                                "arrival listener panicked"
                            );
                        }
                    }
                }
                Ok(AppendOutcome::Duplicate) => {}
                Err(e) => tracing::error!(
                    topic,
                    queue_id = info.queue_id,
                    offset = at,
                    error = %e,
                    "ConsumeQueue append failed"
                ),
            }
        }
        if let Some(index) = self.parts.index.as_ref().filter(|_| at >= gates.index_from) {
            let req = IndexRequest {
                topic,
                uniq_key: props.uniq_key,
                keys: props.keys,
                phy_offset: at,
                store_timestamp: ts,
                sys_flag: info.sys_flag,
            };
            if let Err(e) = index.dispatch(&req) {
                tracing::error!(topic, offset = at, error = %e, "index build failed");
            }
        }
        self.last_timestamp.store(ts, Ordering::Release);
    }
}

/// The dispatcher thread.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts following the CommitLog from `shared`'s offset.
    pub(crate) fn start(shared: Arc<Shared>) -> std::io::Result<Self> {
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("skylark-dispatch".into())
            .spawn(move || run(&worker))?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The shared state.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Waits (up to `timeout`) for dispatch to reach the CommitLog end, then stops the thread.
    pub(crate) fn stop(&self, timeout: Duration) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(thread) = thread else {
            return;
        };
        let end = self.shared.parts.commit_log.max_offset();
        if !self.shared.wait_for(end, timeout) {
            tracing::warn!(
                offset = self.shared.offset(),
                end,
                "dispatch did not catch up before shutdown"
            );
        }
        self.shared.stop.store(true, Ordering::Release);
        {
            let _g = lock(&self.shared.lock);
            self.shared.wake_cv.notify_all();
            self.shared.progress_cv.notify_all();
        }
        if thread.join().is_err() {
            tracing::error!("the dispatch thread panicked");
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        // A no-op after `stop`; otherwise (an open that failed later) the
        // thread must not outlive the store.
        self.stop(Duration::ZERO);
    }
}

/// How long the dispatcher naps, unannounced, once it has caught up with a
/// log that is being written: puts made meanwhile do not wake it, and the
/// next round takes them together. Asking to be woken instead cost a futex
/// wake by a put and a context switch for nearly every message under a
/// steady load (a fifth of a broker's CPU samples at 45,000 sends/s;
/// broker/BENCHMARKS.md). RocketMQ's dispatcher naps 1 ms between rounds.
const BUSY_NAP: Duration = Duration::from_micros(200);

/// Naps that find nothing new before the dispatcher sleeps until a put wakes
/// it (about 4 ms of quiet).
const NAPS_BEFORE_SLEEP: u32 = 20;

fn run(shared: &Shared) {
    let log = &shared.parts.commit_log;
    let mut quiet_naps = NAPS_BEFORE_SLEEP;
    while !shared.stop.load(Ordering::Acquire) {
        let end = log.max_offset();
        let from = shared.offset();
        if from < end && shared.dispatch_until(end, true) > from {
            quiet_naps = 0;
            if shared.offset() >= log.max_offset() {
                std::thread::sleep(BUSY_NAP);
            }
            continue;
        }
        if from >= end && quiet_naps < NAPS_BEFORE_SLEEP {
            quiet_naps += 1;
            std::thread::sleep(BUSY_NAP);
            continue;
        }
        let g = lock(&shared.lock);
        shared.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Re-checked after `sleeping` is set, so a put in between is not missed;
        // `from < end` here means no progress was possible (e.g. a file not there yet).
        let idle = log.max_offset() <= shared.offset() || from < end;
        if idle && !shared.stop.load(Ordering::Acquire) {
            // No progress possible right now (or nothing new): sleep until a
            // put wakes us, or briefly.
            let _ = shared
                .wake_cv
                .wait_timeout(g, IDLE_WAIT)
                .unwrap_or_else(PoisonError::into_inner);
        }
        shared.sleeping.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_properties_like_java() {
        let raw = b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02\x01x\x02EMPTY\x01\x02UNIQ_KEY\x01U1\x02TAGS\x01TagB\x02";
        let p = scan_props(raw);
        assert_eq!(p.tags, Some("TagB"));
        assert_eq!(p.keys, Some("k1 k2"));
        assert_eq!(p.uniq_key, Some("U1"));
        assert_eq!(p.delay, None);
        assert_eq!(scan_props(b""), RecordProps::default());
        assert_eq!(scan_props(b"DELAY\x013").delay, Some("3"));
    }
}
