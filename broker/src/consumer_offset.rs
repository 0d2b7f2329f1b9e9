//! Committed consumer offsets (`ConsumerOffsetManager`) and
//! `consumerOffset.json`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Offsets per `topic@group` and queue.
#[derive(Debug, Default)]
pub struct ConsumerOffsetManager {
    table: Mutex<HashMap<String, HashMap<i32, i64>>>,
}

impl ConsumerOffsetManager {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `offset` as the next one `group` consumes from `topic`/`queue_id`.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let key = format!("{topic}@{group}");
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.entry(key).or_default().insert(queue_id, offset);
    }

    /// The committed offset, if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let key = format!("{topic}@{group}");
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.get(&key)?.get(&queue_id).copied()
    }
}
