//! A one-shot action the writer runs once its write position reaches a mark.
//!
//! The queue uses it to ask for the next file only when the current one is
//! half written, so an idle store reserves one file's disk, not two.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// What runs when the mark is reached.
type Action = Box<dyn FnOnce() + Send>;

/// A mark and the action to run once a write reaches it.
pub(crate) struct WriteHook {
    /// Write position that fires the action (`usize::MAX`: none armed).
    mark: AtomicUsize,
    action: Mutex<Option<Action>>,
}

impl WriteHook {
    pub(crate) fn new() -> Self {
        Self {
            mark: AtomicUsize::new(usize::MAX),
            action: Mutex::new(None),
        }
    }

    /// Arms `action` to run once the write position reaches `mark`,
    /// replacing any armed one; runs it now if `wrote` (the position
    /// read after arming) is there already.
    ///
    /// A writer passing the mark while it is being armed can miss it (the
    /// writer's load of the mark is not ordered after its store of the
    /// position); callers treat the action as an optimisation, never as
    /// something that must happen.
    pub(crate) fn arm(&self, mark: usize, action: Action, wrote: impl FnOnce() -> usize) {
        *self.lock() = Some(action);
        self.mark.store(mark, Ordering::Release);
        if wrote() >= mark {
            self.fire();
        }
    }

    /// Called by the writer after publishing bytes up to `end`.
    #[inline]
    pub(crate) fn passed(&self, end: usize) {
        if end >= self.mark.load(Ordering::Relaxed) {
            self.fire();
        }
    }

    /// Disarms and runs the action, at most once however many callers race here.
    #[cold]
    fn fire(&self) {
        self.mark.store(usize::MAX, Ordering::Relaxed);
        let action = self.lock().take();
        if let Some(action) = action {
            action();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Action>> {
        // Only ever a plain replace or take: a poisoned lock holds consistent data.
        self.action.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for WriteHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHook")
            .field("mark", &self.mark.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    fn counter() -> (Arc<AtomicU32>, Action) {
        let count = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&count);
        (
            count,
            Box::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    #[test]
    fn fires_once_when_a_write_reaches_the_mark() {
        let hook = WriteHook::new();
        let (count, action) = counter();
        hook.arm(100, action, || 0);
        hook.passed(99);
        assert_eq!(count.load(Ordering::SeqCst), 0);
        hook.passed(100);
        hook.passed(200);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn fires_at_once_when_armed_behind_the_writer() {
        let hook = WriteHook::new();
        let (count, action) = counter();
        hook.arm(100, action, || 150);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        hook.passed(300);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn rearming_replaces_the_action() {
        let hook = WriteHook::new();
        let (first, a) = counter();
        let (second, b) = counter();
        hook.arm(100, a, || 0);
        hook.arm(50, b, || 0);
        hook.passed(60);
        assert_eq!(
            (first.load(Ordering::SeqCst), second.load(Ordering::SeqCst)),
            (0, 1)
        );
    }
}
