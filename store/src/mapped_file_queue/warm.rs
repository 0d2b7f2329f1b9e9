//! The warm window: a background thread keeps the next `window` bytes past
//! the write position resident and writable, so appends rarely take a page
//! fault while memory grows only with the data written plus the window
//! (instead of pre-faulting whole files, which costs a file's size in RAM
//! whether or not anything is written).
//!
//! The writer drives it: [`MappedFile::append_with`] rings a [`Bell`] when
//! its write position passes a mark the thread set a quarter of the window
//! into the warm part, so the thread runs ~4 times per window written and
//! sleeps while nothing is. The window spans the current file and the head
//! of the pre-allocated next one, so a roll lands on warm pages too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::lock;
use crate::mapped_file::{MappedFile, Populated};

/// Bytes populated per `madvise`: small enough that a writer overtaking the
/// thread is noticed within ~1 ms, large enough that syscalls are rare.
const CHUNK: i64 = 1 << 20;

/// A safety net only: the writer's bell is what wakes the thread.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// A doorbell: the writer rings it, a background thread waits for it.
#[derive(Debug, Default)]
pub(crate) struct Bell {
    rung: Mutex<bool>,
    cv: Condvar,
}

impl Bell {
    /// Wakes the waiter (or makes its next wait return at once).
    pub(crate) fn ring(&self) {
        *lock(&self.rung) = true;
        self.cv.notify_one();
    }

    /// Waits until rung or `timeout` passes; returns whether it was rung.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let mut rung = lock(&self.rung);
        if !*rung {
            rung = self
                .cv
                .wait_timeout(rung, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        std::mem::replace(&mut *rung, false)
    }
}

/// The files the thread warms, as the queue last told it.
#[derive(Debug, Default)]
struct Files {
    /// The file appends go to.
    current: Option<Arc<MappedFile>>,
    /// The pre-allocated file after it, once made.
    next: Option<Arc<MappedFile>>,
    /// Forget what was warmed (the queue was truncated).
    reset: bool,
}

/// State shared by the queue, the pre-allocator and the thread.
#[derive(Debug)]
struct Shared {
    window: usize,
    bell: Arc<Bell>,
    files: Mutex<Files>,
    stop: AtomicBool,
}

/// A handle to tell the warm thread about files; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Warmer(Arc<Shared>);

impl Warmer {
    /// `file` is now the one appends go to (a roll).
    pub(crate) fn set_current(&self, file: &Arc<MappedFile>) {
        let mut files = lock(&self.0.files);
        files.current = Some(Arc::clone(file));
        files.next = None;
        drop(files);
        self.0.bell.ring();
    }

    /// The queue was cut: `last` is the file appends go to now, and nothing
    /// warmed before can be trusted (later files were deleted).
    pub(crate) fn reset(&self, last: Option<&Arc<MappedFile>>) {
        let mut files = lock(&self.0.files);
        files.current = last.cloned();
        files.next = None;
        files.reset = true;
        drop(files);
        self.0.bell.ring();
    }

    /// `file` was pre-allocated to follow the current one.
    pub(crate) fn set_next(&self, file: &Arc<MappedFile>) {
        lock(&self.0.files).next = Some(Arc::clone(file));
        self.0.bell.ring();
    }
}

/// The warm thread and its handle; stops the thread when dropped.
#[derive(Debug)]
pub(crate) struct WarmWindow {
    warmer: Warmer,
    thread: Option<JoinHandle<()>>,
}

impl WarmWindow {
    /// Starts a thread keeping `window` bytes ahead of the writer warm.
    pub(crate) fn spawn(window: usize) -> Self {
        let shared = Arc::new(Shared {
            window,
            bell: Arc::new(Bell::default()),
            files: Mutex::new(Files::default()),
            stop: AtomicBool::new(false),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("skylark-warm".into())
            .spawn(move || run(&worker))
            .map_err(|e| tracing::error!(error = %e, "cannot start the warm-window thread; appends will fault pages in themselves"))
            .ok();
        Self {
            warmer: Warmer(shared),
            thread,
        }
    }

    /// The handle.
    pub(crate) fn warmer(&self) -> &Warmer {
        &self.warmer
    }
}

impl Drop for WarmWindow {
    fn drop(&mut self) {
        self.warmer.0.stop.store(true, Ordering::Release);
        self.warmer.0.bell.ring();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(shared: &Shared) {
    // CommitLog offset up to which pages are known warm.
    let mut frontier = 0i64;
    // The file last warmed as the current one, to restore its read-ahead
    // once appends move on.
    let mut last: Option<Arc<MappedFile>> = None;
    loop {
        shared.bell.wait(IDLE_WAIT);
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let (current, next) = {
            let mut files = lock(&shared.files);
            if std::mem::take(&mut files.reset) {
                frontier = 0;
            }
            (files.current.clone(), files.next.clone())
        };
        if let Some(old) = last.take_if(|l| !current.as_ref().is_some_and(|c| Arc::ptr_eq(l, c))) {
            old.advise_normal();
        }
        if let Some(current) = current {
            current.advise_random_tail(current.wrote_position());
            warm_ahead(shared, &current, next.as_deref(), &mut frontier);
            last = Some(current);
        }
    }
}

/// Populates `[frontier, write position + window)` over `current` and (its
/// head) `next`, then arms `current`'s mark so the writer rings when a
/// quarter of the window is used; repeats while the writer is already past it.
fn warm_ahead(
    shared: &Shared,
    current: &MappedFile,
    next: Option<&MappedFile>,
    frontier: &mut i64,
) {
    let window = shared.window as i64;
    let current_end = current.from_offset() + current.size() as i64;
    // Only the file right after the current one continues the window.
    let next = next.filter(|n| n.from_offset() == current_end);
    if let Some(next) = next {
        next.advise_random_tail(0);
    }
    let warm_end = current_end + next.map_or(0, |n| n.size() as i64);
    // A writer that overtook the window faults the next quarter window in
    // itself while the thread gets ahead again, instead of both faulting the
    // same pages (and waiting on each other's page locks); that gap is
    // filled at the end of the pass if the writer has not got there.
    let lead = window / 4;
    loop {
        let wrote = current.end_offset();
        let target = (wrote + window).min(warm_end);
        let mut at = (*frontier).max(wrote);
        let mut gap = None;
        while at < target {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            let now = current.end_offset();
            if now > at {
                gap = Some((now, now + lead));
                at = now + lead;
                continue;
            }
            let Some(end) = populate(current, next, current_end, at, (at + CHUNK).min(target))
            else {
                break;
            };
            *frontier = end;
            at = end;
        }
        if let Some((from, to)) = gap {
            let mut at = from.max(current.end_offset());
            while at < to.min(target) {
                let Some(end) = populate(current, next, current_end, at, (at + CHUNK).min(to))
                else {
                    break;
                };
                at = end.max(current.end_offset());
            }
        }
        if *frontier >= warm_end {
            // Nothing left to warm until the next file is made or the writer
            // rolls, and both ring themselves.
            current.arm_warm_mark(usize::MAX, &shared.bell);
            return;
        }
        // Ring when the warm part ahead of the writer shrinks to ¾ of the
        // window (a full file rings at the latest: the roll rings anyway).
        let mark = (*frontier - window * 3 / 4).max(wrote + 1) - current.from_offset();
        let mark = usize::try_from(mark).unwrap_or(0).min(current.size());
        current.arm_warm_mark(mark, &shared.bell);
        // The writer may have passed the mark before it was armed.
        if current.wrote_position() < mark || current.is_full() {
            return;
        }
    }
}

/// Populates `[at, end)` (clipped to one file) of `current` or the `next`
/// file starting at `current_end`; returns where it stopped, or `None` if
/// `at` lies past the files known.
fn populate(
    current: &MappedFile,
    next: Option<&MappedFile>,
    current_end: i64,
    at: i64,
    end: i64,
) -> Option<i64> {
    let file = if at < current_end { current } else { next? };
    let end = end.min(file.from_offset() + file.size() as i64);
    let base = file.from_offset();
    if file.populate((at - base) as usize, (end - base) as usize) == Populated::Failed {
        // Logged by `populate`; the writer faults these pages itself.
        tracing::trace!(offset = at, "warm window chunk failed");
    }
    Some(end)
}

#[cfg(test)]
mod tests;
