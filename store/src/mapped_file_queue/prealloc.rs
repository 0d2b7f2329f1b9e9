//! The background thread creating the next file before the writer needs it.
//!
//! Creating is cheap (`fallocate` and `mmap`, no page touched: ~1 ms per
//! GiB) unless whole files are pre-faulted (`warmMapedFileEnable`); either
//! way it is off the writer's path. The queue asks for the next file once
//! the current one is half written, not when the current one is made:
//! `fallocate` reserves real disk, and an idle store should hold one
//! file's worth, not two (RocketMQ's sparse files reserve none). A
//! finished file is handed to the warm window, which warms its head once
//! the writer nears the end of the current file.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::lock;
use super::warm::Warmer;
use crate::error::Result;
use crate::mapped_file::{MappedFile, Prepare};

/// State shared with the pre-allocation thread.
#[derive(Debug, Default)]
struct PreState {
    /// The file wanted next.
    wanted: Option<i64>,
    /// A finished file and its start offset.
    ready: Option<(i64, Result<Arc<MappedFile>>)>,
    /// Whether the thread is creating `wanted` right now.
    busy: bool,
    stop: bool,
}

/// What the thread needs to make files.
#[derive(Debug)]
pub(super) struct Recipe {
    /// Where files go.
    pub(super) dir: PathBuf,
    /// Size of every file.
    pub(super) size: usize,
    /// How each file is prepared.
    pub(super) prepare: Prepare,
    /// Told about each finished file.
    pub(super) warmer: Option<Warmer>,
}

/// The pre-allocation thread and the state it shares.
#[derive(Debug)]
pub(super) struct Preallocator {
    shared: Arc<(Mutex<PreState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Preallocator {
    pub(super) fn spawn(recipe: Recipe) -> Self {
        let shared = Arc::new((Mutex::new(PreState::default()), Condvar::new()));
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("skylark-prealloc".into())
            .spawn(move || Self::run(&worker, &recipe))
            .map_err(|e| tracing::error!(error = %e, "cannot start the pre-allocation thread"))
            .ok();
        Self { shared, thread }
    }

    fn run(shared: &(Mutex<PreState>, Condvar), recipe: &Recipe) {
        let (state, cv) = shared;
        let mut st = lock(state);
        loop {
            if st.stop {
                return;
            }
            let Some(offset) = st.wanted.filter(|_| st.ready.is_none()) else {
                st = cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            st.busy = true;
            drop(st);
            let created =
                MappedFile::create(&recipe.dir, offset, recipe.size, recipe.prepare).map(Arc::new);
            st = lock(state);
            st.busy = false;
            if st.wanted == Some(offset) && !st.stop {
                if let (Ok(file), Some(warmer)) = (&created, &recipe.warmer) {
                    warmer.set_next(file);
                }
                st.ready = Some((offset, created));
            } else if let Ok(file) = created {
                // Cancelled meanwhile: leave no stray file that could leave a gap.
                let _ = file.delete();
            }
            cv.notify_all();
        }
    }

    /// Asks for the file starting at `offset` (dropping a ready file for another offset).
    pub(super) fn request(&self, offset: i64) {
        Self::request_on(&self.shared, offset);
    }

    /// A handle that asks for the file at `offset` later, from another thread.
    pub(super) fn deferred_request(&self, offset: i64) -> Box<dyn FnOnce() + Send> {
        // Weak: a request that fires after the queue closed has nobody to ask.
        let shared = Arc::downgrade(&self.shared);
        Box::new(move || {
            if let Some(shared) = shared.upgrade() {
                Self::request_on(&shared, offset);
            }
        })
    }

    fn request_on(shared: &(Mutex<PreState>, Condvar), offset: i64) {
        let (state, cv) = shared;
        let mut st = lock(state);
        if st.wanted != Some(offset) && !st.stop {
            Self::discard_ready(&mut st);
            st.wanted = Some(offset);
            cv.notify_all();
        }
    }

    /// The file for `offset` if it is ready or being made (then waits for it).
    pub(super) fn take(&self, offset: i64) -> Option<Result<Arc<MappedFile>>> {
        let (state, cv) = &*self.shared;
        let mut st = lock(state);
        while st.wanted == Some(offset) && st.ready.is_none() && !st.stop && self.thread.is_some() {
            st = cv.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        match st.ready.take() {
            Some((at, file)) if at == offset => {
                st.wanted = None;
                Some(file)
            }
            other => {
                st.ready = other;
                Self::discard_ready(&mut st);
                st.wanted = None;
                None
            }
        }
    }

    pub(super) fn cancel(&self) {
        let (state, _) = &*self.shared;
        let mut st = lock(state);
        st.wanted = None;
        Self::discard_ready(&mut st);
    }

    fn discard_ready(st: &mut PreState) {
        if let Some((_, Ok(file))) = st.ready.take() {
            let _ = file.delete();
        }
    }
}

impl Drop for Preallocator {
    fn drop(&mut self) {
        {
            let (state, cv) = &*self.shared;
            let mut st = lock(state);
            st.stop = true;
            // A ready file stays on disk, as Java leaves it; recovery cuts it off if unused.
            cv.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
