//! All ConsumeQueues of a store, by topic and queue id.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use super::budget::MapBudget;
use super::queue::{AppendOutcome, ConsumeQueue, State};
use super::{ConsumeQueueConfig, ConsumeQueueError, CqEntry, Result};

/// The queues of one topic.
type TopicQueues = RwLock<HashMap<i32, Arc<ConsumeQueue>>>;

/// Every ConsumeQueue under `consumequeue/`.
///
/// Lookups take two short read locks (topic table, then the topic's queue
/// table) and return an `Arc<ConsumeQueue>`; no lock of the store is held
/// during file I/O, which happens on the queue itself.
#[derive(Debug)]
pub struct ConsumeQueueStore {
    /// The `consumequeue` directory.
    root: PathBuf,
    /// Bytes per file.
    file_size: i64,
    /// The mapping budget shared by all queues.
    budget: Arc<MapBudget>,
    /// topic → queue id → queue.
    topics: RwLock<HashMap<String, Arc<TopicQueues>>>,
}

impl ConsumeQueueStore {
    /// Opens the store rooted at `root` (the `consumequeue` directory), loading
    /// every `<topic>/<queueId>/` found; directories whose name is not a queue
    /// id are ignored.
    pub fn open(root: impl Into<PathBuf>, config: ConsumeQueueConfig) -> Result<ConsumeQueueStore> {
        let root = root.into();
        let file_size = config.effective_file_size()?;
        let store = ConsumeQueueStore {
            root,
            file_size,
            budget: Arc::new(MapBudget::new(effective_cap(config.max_mapped_tails))),
            topics: RwLock::new(HashMap::new()),
        };
        let mut topics = HashMap::new();
        for (topic, tdir) in subdirs(&store.root)? {
            let mut queues = HashMap::new();
            for (qid, qdir) in subdirs(&tdir)? {
                let Ok(queue_id) = qid.parse::<i32>() else {
                    tracing::warn!(path = %qdir.display(), "ignoring a non-queue directory");
                    continue;
                };
                let q = ConsumeQueue::load(
                    &topic,
                    queue_id,
                    qdir,
                    file_size,
                    Arc::clone(&store.budget),
                )?;
                queues.insert(queue_id, Arc::new(q));
            }
            topics.insert(topic, Arc::new(RwLock::new(queues)));
        }
        *store.topics.write().unwrap_or_else(PoisonError::into_inner) = topics;
        Ok(store)
    }

    /// The `consumequeue` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes per file.
    pub fn file_size(&self) -> i64 {
        self.file_size
    }

    /// The queue, if it exists.
    pub fn queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        let t = self.topic(topic)?;
        let queues = t.read().unwrap_or_else(PoisonError::into_inner);
        queues.get(&queue_id).cloned()
    }

    /// The queue, created (in memory only; files come with the first append)
    /// if missing (`findOrCreateConsumeQueue`).
    pub fn get_or_create(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>> {
        if let Some(q) = self.queue(topic, queue_id) {
            return Ok(q);
        }
        validate_topic(topic)?;
        let t = {
            let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(topics.entry(topic.to_owned()).or_default())
        };
        let mut queues = t.write().unwrap_or_else(PoisonError::into_inner);
        let q = queues.entry(queue_id).or_insert_with(|| {
            let dir = self.root.join(topic).join(queue_id.to_string());
            Arc::new(ConsumeQueue::new(
                topic,
                queue_id,
                dir,
                self.file_size,
                Arc::clone(&self.budget),
                State::default(),
            ))
        });
        Ok(Arc::clone(q))
    }

    /// Appends an entry to `topic`/`queue_id`, creating the queue if needed
    /// (see [`ConsumeQueue::append`]).
    pub fn append(
        &self,
        topic: &str,
        queue_id: i32,
        cq_offset: i64,
        entry: CqEntry,
    ) -> Result<AppendOutcome> {
        self.get_or_create(topic, queue_id)?
            .append(cq_offset, entry)
    }

    /// A snapshot of every queue.
    pub fn queues(&self) -> Vec<Arc<ConsumeQueue>> {
        let topics: Vec<Arc<TopicQueues>> = {
            let t = self.topics.read().unwrap_or_else(PoisonError::into_inner);
            t.values().cloned().collect()
        };
        topics
            .iter()
            .flat_map(|t| {
                let q = t.read().unwrap_or_else(PoisonError::into_inner);
                q.values().cloned().collect::<Vec<_>>()
            })
            .collect()
    }

    /// The topics with at least one queue object.
    pub fn topics(&self) -> Vec<String> {
        let t = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        t.keys().cloned().collect()
    }

    /// The queues of one topic, by id.
    pub fn topic_queues(&self, topic: &str) -> HashMap<i32, Arc<ConsumeQueue>> {
        match self.topic(topic) {
            Some(t) => t.read().unwrap_or_else(PoisonError::into_inner).clone(),
            None => HashMap::new(),
        }
    }

    /// Tail files mapped right now (never more than the configured cap, save
    /// for an `msync` in flight).
    pub fn live_mappings(&self) -> usize {
        self.budget.live()
    }

    /// Tail mappings made since open: about one per queue when the budget
    /// fits them all; many more means tails keep being evicted.
    pub fn mappings_made(&self) -> u64 {
        self.budget.made()
    }

    /// The cap on mapped tail files.
    pub fn max_mapped_tails(&self) -> usize {
        self.budget.cap()
    }

    /// Flushes every queue (a thorough [`Self::flush_round`]); returns the
    /// first error after trying them all.
    pub fn flush_all(&self) -> Result<()> {
        match self.flush_round(0, i64::MIN, 0).error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The flusher's regular round: flushes only the queues with at least
    /// `least_pages` unflushed pages ([`ConsumeQueue::flush_least`]); with
    /// 0, [`Self::flush_all`].
    pub fn flush_least(&self, least_pages: usize) -> Result<()> {
        self.for_each(|q| q.flush_least(least_pages))
    }

    /// One round of the ConsumeQueue flusher; returns how far the queues are
    /// durable.
    ///
    /// Every queue gets [`ConsumeQueue::flush_least`]`(least_pages)` (0: a
    /// thorough round). Then queues whose oldest unflushed entry lies below
    /// CommitLog offset `force_below` are flushed whole, the oldest first and
    /// at most `max_forced` of them: a queue written too slowly to fill
    /// `least_pages` would otherwise hold the dispatch mark back until the
    /// next thorough round, and with it how much a crash re-dispatches. The
    /// cap bounds the extra `msync`s when many queues lag at once (then the
    /// mark moves on at thorough rounds, as Java's flusher does).
    ///
    /// [`FlushRound::oldest_unflushed`] is read after the flushes: appends
    /// made meanwhile only add entries past what the caller had dispatched
    /// before the round, so the minimum of it and that offset is a sound
    /// mark. Failed flushes keep their entries counted as unflushed.
    ///
    /// A thorough round over [`SYNCFS_AT`] queues or more that need a sync
    /// makes them durable with one `syncfs` instead.
    pub fn flush_round(
        &self,
        least_pages: usize,
        force_below: i64,
        max_forced: usize,
    ) -> FlushRound {
        let queues = self.queues();
        if least_pages == 0 {
            if let Some(round) = self.flush_by_syncfs(&queues) {
                return round;
            }
        }
        let mut error = None;
        let mut lagging = Vec::new();
        for q in &queues {
            if let Err(e) = q.flush_least(least_pages) {
                error.get_or_insert(e);
            }
            let oldest = q.oldest_unflushed();
            if oldest < force_below {
                lagging.push((oldest, q));
            }
        }
        if lagging.len() > max_forced {
            lagging.select_nth_unstable_by_key(max_forced, |(oldest, _)| *oldest);
            lagging.truncate(max_forced);
        }
        for (_, q) in &lagging {
            if let Err(e) = q.flush() {
                error.get_or_insert(e);
            }
        }
        let oldest_unflushed = queues
            .iter()
            .map(|q| q.oldest_unflushed())
            .min()
            .unwrap_or(i64::MAX);
        FlushRound {
            oldest_unflushed,
            forced: lagging.len(),
            error,
        }
    }

    /// A thorough round as one `syncfs` of the filesystem, if at least
    /// [`SYNCFS_AT`] queues need a sync (`None`, having done nothing, if
    /// fewer do). What each queue has to sync is taken before the sync and
    /// put back if it fails, as [`ConsumeQueue::flush_least`] does.
    fn flush_by_syncfs(&self, queues: &[Arc<ConsumeQueue>]) -> Option<FlushRound> {
        if queues.iter().filter(|q| q.needs_flush()).count() < SYNCFS_AT {
            return None;
        }
        let taken: Vec<_> = queues
            .iter()
            .filter_map(|q| q.take_unflushed().map(|u| (q, u)))
            .collect();
        let synced = std::fs::File::open(&self.root).and_then(|dir| {
            // SAFETY: `dir` is an open descriptor for the call's duration.
            if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
        let error = match synced {
            Ok(()) => None,
            Err(e) => {
                for (q, u) in taken {
                    q.restore_unflushed(u);
                }
                Some(ConsumeQueueError::io(&self.root, e))
            }
        };
        let oldest_unflushed = queues
            .iter()
            .map(|q| q.oldest_unflushed())
            .min()
            .unwrap_or(i64::MAX);
        Some(FlushRound {
            oldest_unflushed,
            forced: 0,
            error,
        })
    }

    /// Truncates every queue at commit-log offset `phys_offset`
    /// ([`ConsumeQueue::truncate_dirty`]).
    pub fn truncate_dirty(&self, phys_offset: i64) -> Result<()> {
        self.for_each(|q| q.truncate_dirty(phys_offset))
    }

    /// Retention on every queue ([`ConsumeQueue::delete_expired`]); returns
    /// the files deleted.
    pub fn delete_expired(&self, min_phys: i64) -> Result<usize> {
        let mut total = 0;
        self.for_each(|q| {
            total += q.delete_expired(min_phys)?;
            Ok(())
        })?;
        Ok(total)
    }

    /// Corrects every queue's minimum offset ([`ConsumeQueue::correct_min_offset`]).
    pub fn correct_min_offsets(&self, min_phys: i64) -> Result<()> {
        self.for_each(|q| q.correct_min_offset(min_phys))
    }

    /// The largest commit-log end over all queues (where dispatch resumes), or -1.
    pub fn max_phys_offset(&self) -> i64 {
        self.queues()
            .iter()
            .map(|q| q.max_phys_offset())
            .max()
            .unwrap_or(-1)
    }

    /// Deletes a topic's queues and their files (topic deletion).
    pub fn remove_topic(&self, topic: &str) -> Result<()> {
        let removed = {
            let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
            topics.remove(topic)
        };
        let Some(t) = removed else {
            return Ok(());
        };
        let queues: Vec<_> = t
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for q in queues {
            q.destroy()?;
        }
        if validate_topic(topic).is_ok() {
            let dir = self.root.join(topic);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ConsumeQueueError::io(dir, e)),
            }
        }
        Ok(())
    }

    /// The queue table of a topic.
    fn topic(&self, topic: &str) -> Option<Arc<TopicQueues>> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        topics.get(topic).cloned()
    }

    /// Runs `f` on every queue, returning the first error after trying all.
    fn for_each(&self, mut f: impl FnMut(&ConsumeQueue) -> Result<()>) -> Result<()> {
        let mut first = Ok(());
        for q in self.queues() {
            if let Err(e) = f(&q) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// Dirty queues from which a thorough round syncs the whole filesystem
/// (`syncfs`) instead of each queue's files: one `fsync` of a freshly
/// written sparse file costs a journal commit, and 100,000 of them kept a
/// shutdown busy for over ten seconds. `syncfs` also writes whatever else is
/// dirty on that filesystem (the CommitLog's unflushed tail, which its own
/// flusher writes anyway, and anything unrelated stored there).
const SYNCFS_AT: usize = 1_024;

/// What [`ConsumeQueueStore::flush_round`] did.
#[derive(Debug)]
pub struct FlushRound {
    /// CommitLog offset of the oldest entry still not durable after the
    /// round, over all queues (`i64::MAX` if none).
    pub oldest_unflushed: i64,
    /// Queues flushed whole because they lagged.
    pub forced: usize,
    /// The first flush error (the round tried every queue regardless).
    pub error: Option<ConsumeQueueError>,
}

/// The mapping budget actually used: `configured`, lowered to what the
/// process limits allow. Each mapped tail also holds its file open (reads of
/// the tail use it), so the cap must leave descriptors for everything else
/// (CommitLog and index files, sockets): at most `RLIMIT_NOFILE` minus a
/// quarter of it (at least 1 024). It must also leave a quarter of
/// `vm.max_map_count` to the CommitLog, IndexFiles and the heap.
fn effective_cap(configured: usize) -> usize {
    let mut cap = configured;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `lim`, a valid rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0
        && lim.rlim_cur != libc::RLIM_INFINITY
    {
        let nofile = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
        cap = cap.min(nofile.saturating_sub((nofile / 4).max(1_024)));
    }
    if let Some(maps) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
    {
        cap = cap.min(maps - maps / 4);
    }
    let cap = cap.max(1);
    if cap < configured {
        tracing::info!(
            configured,
            cap,
            "ConsumeQueue mapping budget lowered to the process limits (RLIMIT_NOFILE, vm.max_map_count)"
        );
    }
    cap
}

/// Rejects topics that would escape their directory: the store trusts the
/// broker's name validation but not so far as path traversal.
fn validate_topic(topic: &str) -> Result<()> {
    if topic.is_empty() || topic == "." || topic == ".." || topic.contains(['/', '\0']) {
        return Err(ConsumeQueueError::InvalidTopic(topic.to_owned()));
    }
    Ok(())
}

/// The subdirectories of `dir` by name (none if `dir` is missing).
fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConsumeQueueError::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| ConsumeQueueError::io(dir, e))?;
        let ty = ent
            .file_type()
            .map_err(|e| ConsumeQueueError::io(ent.path(), e))?;
        if !ty.is_dir() {
            continue;
        }
        match ent.file_name().into_string() {
            Ok(name) => out.push((name, ent.path())),
            Err(_) => {
                tracing::warn!(path = %ent.path().display(), "ignoring a non-UTF-8 directory")
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(phys_offset: i64) -> CqEntry {
        CqEntry {
            phys_offset,
            size: 10,
            tags_code: 0,
        }
    }

    /// A round reports the oldest entry it left unflushed: busy queues are
    /// flushed by the page rule, slow ones only when they lag (oldest first,
    /// up to the cap), and a thorough round flushes everything.
    #[test]
    fn flush_round_reports_the_oldest_unflushed_entry() {
        let dir = tempfile::tempdir().unwrap();
        let config = ConsumeQueueConfig {
            file_size: 10_000 * 20,
            ..ConsumeQueueConfig::default()
        };
        let store = ConsumeQueueStore::open(dir.path(), config).unwrap();
        let nothing = i64::MAX;
        // One slow entry in each of three queues, then a busy queue whose
        // 1,000 entries dirty five pages.
        for (i, phys) in [100, 200, 300].into_iter().enumerate() {
            store.append("Slow", i as i32, 0, entry(phys)).unwrap();
        }
        for i in 0..1_000 {
            store.append("Busy", 0, i, entry(1_000 + i * 10)).unwrap();
        }
        let round = store.flush_round(2, i64::MIN, 0);
        assert!(round.error.is_none());
        assert_eq!((round.oldest_unflushed, round.forced), (100, 0));
        let busy = store.queue("Busy", 0).unwrap();
        assert_eq!(busy.oldest_unflushed(), nothing, "flushed by the page rule");
        // Lagging below 250: the two oldest, capped at one a round.
        let round = store.flush_round(2, 250, 1);
        assert_eq!((round.oldest_unflushed, round.forced), (200, 1));
        let round = store.flush_round(2, 250, 256);
        assert_eq!((round.oldest_unflushed, round.forced), (300, 1));
        // An append since the last round counts until a round covers it.
        store.append("Busy", 0, 1_000, entry(50_000)).unwrap();
        assert_eq!(store.flush_round(2, 0, 256).oldest_unflushed, 300);
        let round = store.flush_round(0, i64::MIN, 0);
        assert_eq!((round.oldest_unflushed, round.forced), (nothing, 0));
    }

    /// A thorough round over many dirty queues syncs them all at once and
    /// leaves nothing counted as unflushed; a small one still syncs queue by
    /// queue. (That `syncfs` reaches the disk is the kernel's to keep.)
    #[test]
    fn a_thorough_round_over_many_queues_syncs_the_filesystem_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = ConsumeQueueConfig {
            file_size: 100 * 20,
            max_mapped_tails: 16,
        };
        let store = ConsumeQueueStore::open(dir.path(), config).unwrap();
        let n = SYNCFS_AT as i32 + 10;
        for q in 0..n {
            store
                .append("Many", q, 0, entry(1_000 + i64::from(q)))
                .unwrap();
        }
        let taken = store.queues().iter().filter(|q| q.needs_flush()).count();
        assert_eq!(taken, n as usize);
        assert!(store.flush_by_syncfs(&store.queues()[..10]).is_none());
        let round = store.flush_round(0, i64::MIN, 0);
        assert!(round.error.is_none());
        assert_eq!(round.oldest_unflushed, i64::MAX);
        assert!(store.queues().iter().all(|q| !q.needs_flush()));
        // Appends after the sync count again.
        store.append("Many", 7, 1, entry(9_999)).unwrap();
        assert_eq!(store.flush_round(2, i64::MIN, 0).oldest_unflushed, 9_999);
        for q in [0, 7, n - 1] {
            let cq = store.queue("Many", q).unwrap();
            assert_eq!(cq.get(0).unwrap(), Some(entry(1_000 + i64::from(q))));
        }
    }

    #[test]
    fn effective_cap_leaves_descriptors_for_the_rest() {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into `lim`, a valid rlimit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        let cap = effective_cap(usize::MAX);
        if lim.rlim_cur != libc::RLIM_INFINITY {
            let nofile = usize::try_from(lim.rlim_cur).unwrap();
            assert!(
                cap + (nofile / 4).max(1_024) <= nofile.max(1_025),
                "cap {cap} of {nofile}"
            );
        }
        assert!(cap >= 1);
        assert_eq!(effective_cap(3), 3);
        assert_eq!(effective_cap(0), 1);
    }
}
