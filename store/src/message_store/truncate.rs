//! Cutting the whole store back to a CommitLog offset: what a returning
//! replica does before it follows a master of a newer epoch (Java's
//! `DefaultMessageStore.truncateFiles`).

use std::time::Duration;

use super::{MessageStore, lock};
use crate::error::{Result, StoreError};

/// How long a truncation waits for the dispatcher to reach the CommitLog end.
const DISPATCH_WAIT: Duration = Duration::from_secs(10);

impl MessageStore {
    /// Removes every record at or past CommitLog offset `offset` from the
    /// CommitLog, the ConsumeQueues and the index, and moves the queue
    /// offsets and the dispatch position back, so the next appended record
    /// lands at `offset` and takes the queue offsets the removed ones had.
    ///
    /// `offset` must be a record boundary at or below the end (an offset at
    /// the end changes nothing). The caller stops every write first — puts
    /// and replicated appends — and serves no reads of the removed range;
    /// this waits for dispatch to catch up with what is there.
    ///
    /// Crash safety: the dispatch mark in `consumequeue/.dispatched` is
    /// lowered to `offset` (after the ConsumeQueues are cut and flushed)
    /// before the CommitLog is cut, so recovery never skips records that
    /// later land in the removed range.
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        let end = self.commit_log.max_offset();
        if offset == end {
            return Ok(());
        }
        if offset < 0 || offset > end {
            return Err(StoreError::OffsetOutOfRange {
                offset,
                min: self.commit_log.min_offset(),
                max: end,
            });
        }
        if !self.wait_dispatched(end, DISPATCH_WAIT) {
            return Err(StoreError::DispatchBehind {
                dispatched: self.dispatched_offset(),
                end,
            });
        }
        tracing::warn!(offset, end, "truncating the store");
        // No flush round may record a mark taken before the cut.
        let _round = lock(&self.logics.round);
        self.queues.truncate_dirty(offset)?;
        if let Some(index) = &self.index {
            index.truncate_from(offset)?;
        }
        self.queues.flush_all()?;
        self.logics.manifest.mark_dirty();
        let dispatched = self.dispatcher.shared().offset();
        self.logics
            .manifest
            .save(dispatched.min(offset), &self.queues)?;
        self.commit_log.truncate(offset)?;
        self.dispatcher.shared().set_offset(dispatched.min(offset));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;

    use skylark_protocol::message::{Message, StoredMessage};

    use crate::MessageStore;
    use crate::config::MessageStoreConfig;
    use crate::error::StoreError;

    fn config(dir: &std::path::Path) -> MessageStoreConfig {
        MessageStoreConfig {
            mapped_file_size_commit_log: 64 * 1024,
            mapped_file_size_consume_queue: 100 * 20,
            ..MessageStoreConfig::with_root(dir)
        }
    }

    fn put(store: &MessageStore, queue_id: i32, body: &str) -> (i64, i64) {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let m = Message::new("T", body.as_bytes().to_vec()).with_keys([body]);
        let mut msg = StoredMessage::new(m, host, host);
        msg.queue_id = queue_id;
        let r = store.put_message(&msg).wait_blocking();
        assert!(r.is_stored(), "{:?}", r.status);
        let a = r.append.unwrap();
        (a.wrote_offset, a.queue_offset)
    }

    fn bodies(store: &MessageStore, queue_id: i32) -> Vec<String> {
        let r = store.get_messages("T", queue_id, 0, 100, 1 << 20, &|_| true);
        r.messages
            .iter()
            .map(|m| {
                let (m, _) = skylark_protocol::message::record::decode(m).unwrap();
                String::from_utf8(m.body.to_vec()).unwrap()
            })
            .collect()
    }

    #[test]
    fn cuts_log_queues_and_index_and_reuses_the_queue_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(config(dir.path())).unwrap();
        let mut at = Vec::new();
        for i in 0..10 {
            at.push(put(&store, i % 2, &format!("m{i}")));
        }
        assert!(store.wait_dispatched_all(std::time::Duration::from_secs(10)));
        // Cut at m6: queue 0 keeps m0 m2 m4, queue 1 keeps m1 m3 m5.
        let cut = at[6].0;
        store.truncate_to(cut).unwrap();
        assert_eq!(store.commit_log_max_offset(), cut);
        assert_eq!(store.max_offset("T", 0), 3);
        assert_eq!(store.max_offset("T", 1), 3);
        assert_eq!(bodies(&store, 0), ["m0", "m2", "m4"]);
        assert!(
            store
                .query_by_key("T", "m8", 10, 0, i64::MAX)
                .messages
                .is_empty()
        );
        assert_eq!(
            store
                .query_by_key("T", "m4", 10, 0, i64::MAX)
                .messages
                .len(),
            1
        );
        // New records take the freed offsets and are dispatched.
        let (offset, queue_offset) = put(&store, 0, "n0");
        assert_eq!((offset, queue_offset), (cut, 3));
        assert!(store.wait_dispatched_all(std::time::Duration::from_secs(10)));
        assert_eq!(bodies(&store, 0), ["m0", "m2", "m4", "n0"]);
        store.shutdown();
        drop(store);
        // And a restart agrees.
        let store = MessageStore::open(config(dir.path())).unwrap();
        assert!(store.wait_dispatched_all(std::time::Duration::from_secs(10)));
        assert_eq!(bodies(&store, 0), ["m0", "m2", "m4", "n0"]);
        assert_eq!(bodies(&store, 1), ["m1", "m3", "m5"]);
    }

    #[test]
    fn a_crash_after_truncation_recovers_the_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(config(dir.path())).unwrap();
        let mut at = Vec::new();
        for i in 0..6 {
            at.push(put(&store, 0, &format!("m{i}")));
        }
        assert!(store.wait_dispatched_all(std::time::Duration::from_secs(10)));
        store.flush_logics();
        store.truncate_to(at[2].0).unwrap();
        put(&store, 0, "n2");
        store.simulate_crash();
        let store = MessageStore::open(config(dir.path())).unwrap();
        assert!(store.wait_dispatched_all(std::time::Duration::from_secs(10)));
        assert_eq!(bodies(&store, 0), ["m0", "m1", "n2"]);
    }

    #[test]
    fn refuses_offsets_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(config(dir.path())).unwrap();
        put(&store, 0, "m0");
        let end = store.commit_log_max_offset();
        store.truncate_to(end).unwrap();
        assert!(matches!(
            store.truncate_to(end + 1),
            Err(StoreError::OffsetOutOfRange { .. })
        ));
        store.truncate_to(0).unwrap();
        assert_eq!(store.commit_log_max_offset(), 0);
        assert_eq!(store.max_offset("T", 0), 0);
    }
}
