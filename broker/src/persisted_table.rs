//! A config table the broker keeps in memory and saves to its JSON file
//! (topics, subscription groups, consumer offsets): the lock and the file
//! it is saved to, with the locking and encoding they all share.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use skylark_protocol::body::{Body, KeyStyle};

use crate::error::BrokerError;
use crate::persist::ConfigFile;

/// A table behind a read-write lock, and the file it is saved to.
#[derive(Debug)]
pub(crate) struct PersistedTable<T> {
    table: RwLock<T>,
    file: ConfigFile,
}

impl<T> PersistedTable<T> {
    /// `table`, saved to `file`.
    pub(crate) fn new(table: T, file: ConfigFile) -> Self {
        Self {
            table: RwLock::new(table),
            file,
        }
    }

    /// Reads the table. A panic while another thread held it does not stop
    /// the broker: every change leaves the table consistent between calls.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the table (poisoning ignored, as in [`Self::read`]).
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves the document `snapshot` makes, encoded as Java writes it
    /// (unquoted integer keys), atomically. `snapshot` takes the read lock
    /// itself; never call this while holding the write lock.
    pub(crate) fn save<B: Body>(&self, snapshot: impl FnOnce() -> B) -> Result<(), BrokerError> {
        self.file.save(|| snapshot().encode(KeyStyle::Unquoted))
    }
}
