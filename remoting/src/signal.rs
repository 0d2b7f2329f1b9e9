//! A one-shot broadcast flag that is cheap to test on hot paths.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

/// Fired once, never reset. Testing is one atomic load, where
/// `CancellationToken::is_cancelled` and re-polling its future take a mutex;
/// hot loops test the flag and await [`Signal::fired`] only when idle.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    flag: AtomicBool,
    token: CancellationToken,
}

impl Signal {
    /// Fires the signal; idempotent.
    pub(crate) fn fire(&self) {
        self.flag.store(true, Ordering::Release);
        self.token.cancel();
    }

    /// Whether the signal has fired.
    pub(crate) fn is_fired(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves once the signal has fired.
    pub(crate) async fn fired(&self) {
        self.token.cancelled().await;
    }
}
