//! Consumer offset stores: in memory between commits, persisted to the
//! broker for clustering groups ([`OffsetStore::Remote`], Java's
//! `RemoteBrokerOffsetStore`) or to a local `offsets.json` for
//! broadcasting ones ([`OffsetStore::Local`], `LocalFileOffsetStore`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use skylark_protocol::body::{Body, KeyStyle, MessageModel, MessageQueue, OffsetSerializeWrapper};

use super::broker_api;
use crate::error::ClientError;
use crate::instance::ClientInstance;

/// Where [`OffsetStore::read`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOffsetType {
    /// Memory only.
    Memory,
    /// The broker or the file only (the answer is cached in memory).
    Store,
    /// Memory, else the store.
    MemoryThenStore,
}

/// A consumer group's offsets.
#[derive(Debug)]
pub enum OffsetStore {
    /// Committed to the broker (clustering).
    Remote(RemoteBrokerOffsetStore),
    /// Kept in a local file (broadcasting).
    Local(LocalFileOffsetStore),
}

/// Offsets in memory: queue → next offset to consume.
#[derive(Debug, Default)]
struct Table(Mutex<HashMap<MessageQueue, i64>>);

impl Table {
    fn lock(&self) -> MutexGuard<'_, HashMap<MessageQueue, i64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut t = self.lock();
        match t.get_mut(mq) {
            Some(old) if increase_only => *old = (*old).max(offset),
            Some(old) => *old = offset,
            None => {
                t.insert(mq.clone(), offset);
            }
        }
    }

    fn get(&self, mq: &MessageQueue) -> Option<i64> {
        self.lock().get(mq).copied()
    }
}

impl OffsetStore {
    /// The store a consumer of `model` uses: the broker for clustering, a
    /// loaded `offsets.json` under `dir` (default [`LocalFileOffsetStore::default_dir`])
    /// for broadcasting.
    pub async fn for_model(
        model: MessageModel,
        instance: &ClientInstance,
        group: &str,
        dir: Option<&Path>,
    ) -> Result<Self, ClientError> {
        Ok(match model {
            MessageModel::Clustering => {
                Self::Remote(RemoteBrokerOffsetStore::new(instance.clone(), group))
            }
            MessageModel::Broadcasting => {
                let dir = dir.map_or_else(LocalFileOffsetStore::default_dir, Path::to_path_buf);
                let local = LocalFileOffsetStore::new(&dir, instance.client_id(), group);
                local.load().await?;
                Self::Local(local)
            }
        })
    }

    fn table(&self) -> &Table {
        match self {
            Self::Remote(r) => &r.table,
            Self::Local(l) => &l.table,
        }
    }

    /// Sets the in-memory offset of `mq`; with `increase_only`, never
    /// lowers it (concurrent consumption finishes out of order).
    pub fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        self.table().update(mq, offset, increase_only);
    }

    /// The offset of `mq`: `Ok(None)` when neither memory nor the store
    /// has one.
    pub async fn read(
        &self,
        mq: &MessageQueue,
        how: ReadOffsetType,
    ) -> Result<Option<i64>, ClientError> {
        if how != ReadOffsetType::Store
            && let Some(offset) = self.table().get(mq)
        {
            return Ok(Some(offset));
        }
        if how == ReadOffsetType::Memory {
            return Ok(None);
        }
        let stored = match self {
            Self::Remote(r) => broker_api::query_consumer_offset(&r.instance, &r.group, mq).await?,
            Self::Local(l) => l.read_file().await?.offset_table.get(mq).copied(),
        };
        if let Some(offset) = stored {
            self.table().update(mq, offset, false);
        }
        Ok(stored)
    }

    /// Persists the offsets of `mqs` (the queues still assigned) and
    /// forgets the others from memory, as Java's `persistAll` does.
    pub async fn persist_all(&self, mqs: &[MessageQueue]) -> Result<(), ClientError> {
        let snapshot: Vec<(MessageQueue, i64)> = {
            let mut t = self.table().lock();
            t.retain(|mq, _| mqs.contains(mq));
            t.iter().map(|(mq, o)| (mq.clone(), *o)).collect()
        };
        match self {
            Self::Remote(r) => {
                let mut first_error = None;
                for (mq, offset) in snapshot {
                    if let Err(e) = r.commit(&mq, offset).await {
                        tracing::warn!(group = %r.group, %mq, offset, error = %e, "offset commit failed");
                        first_error.get_or_insert(e);
                    }
                }
                first_error.map_or(Ok(()), Err)
            }
            Self::Local(l) => l.write_file(snapshot).await,
        }
    }

    /// Persists one queue's offset now (a queue being released).
    pub async fn persist(&self, mq: &MessageQueue) -> Result<(), ClientError> {
        let Some(offset) = self.table().get(mq) else {
            return Ok(());
        };
        match self {
            Self::Remote(r) => r.commit(mq, offset).await,
            Self::Local(l) => {
                // The file holds every queue; rewrite it with this one updated.
                let mut all: Vec<(MessageQueue, i64)> = l
                    .read_file()
                    .await?
                    .offset_table
                    .into_iter()
                    .filter(|(q, _)| q != mq)
                    .collect();
                all.push((mq.clone(), offset));
                l.write_file(all).await
            }
        }
    }

    /// Forgets `mq` from memory.
    pub fn remove(&self, mq: &MessageQueue) {
        self.table().lock().remove(mq);
    }

    /// Every in-memory offset.
    pub fn snapshot(&self) -> Vec<(MessageQueue, i64)> {
        self.table()
            .lock()
            .iter()
            .map(|(mq, o)| (mq.clone(), *o))
            .collect()
    }
}

/// Offsets committed to the broker with UPDATE_CONSUMER_OFFSET and read
/// with QUERY_CONSUMER_OFFSET.
#[derive(Debug)]
pub struct RemoteBrokerOffsetStore {
    instance: ClientInstance,
    group: String,
    table: Table,
}

impl RemoteBrokerOffsetStore {
    /// The store of `group` on `instance`'s brokers.
    pub fn new(instance: ClientInstance, group: impl Into<String>) -> Self {
        Self {
            instance,
            group: group.into(),
            table: Table::default(),
        }
    }

    async fn commit(&self, mq: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        broker_api::update_consumer_offset(&self.instance, &self.group, mq, offset).await
    }
}

/// Offsets in `DIR/<client id>/<group>/offsets.json`, fastjson's
/// `OffsetSerializeWrapper` as Java writes it, replaced atomically with the
/// previous version kept as `offsets.json.bak`.
#[derive(Debug)]
pub struct LocalFileOffsetStore {
    path: PathBuf,
    table: Table,
}

impl LocalFileOffsetStore {
    /// The file name Java uses.
    pub const FILE_NAME: &'static str = "offsets.json";

    /// The store of `group` for `client_id` under `dir` (Java's default is
    /// `~/.rocketmq_offsets`; see [`LocalFileOffsetStore::default_dir`]).
    pub fn new(dir: &Path, client_id: &str, group: &str) -> Self {
        Self {
            path: dir.join(client_id).join(group).join(Self::FILE_NAME),
            table: Table::default(),
        }
    }

    /// `$ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR`, else `$HOME/.rocketmq_offsets`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR") {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".rocketmq_offsets")
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the file into memory (Java's `load` at start).
    pub async fn load(&self) -> Result<(), ClientError> {
        for (mq, offset) in self.read_file().await?.offset_table {
            self.table.update(&mq, offset, false);
        }
        Ok(())
    }

    /// The file's offsets, from the backup when the file is missing or
    /// unreadable; empty when neither exists.
    async fn read_file(&self) -> Result<OffsetSerializeWrapper, ClientError> {
        let path = self.path.clone();
        blocking(move || {
            let bak = with_suffix(&path, ".bak");
            let mut last_error = None;
            for p in [&path, &bak] {
                match std::fs::read(p) {
                    Ok(bytes) => match OffsetSerializeWrapper::decode(&bytes) {
                        Ok(w) => return Ok(w),
                        Err(e) => {
                            tracing::warn!(path = %p.display(), error = %e, "unreadable offsets file");
                            last_error = Some(ClientError::Body(e));
                        }
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => last_error = Some(io_error(p, &e)),
                }
            }
            match last_error {
                Some(e) => Err(e),
                None => Ok(OffsetSerializeWrapper::default()),
            }
        })
        .await
    }

    async fn write_file(&self, offsets: Vec<(MessageQueue, i64)>) -> Result<(), ClientError> {
        let path = self.path.clone();
        blocking(move || {
            let wrapper = OffsetSerializeWrapper {
                offset_table: offsets.into_iter().collect(),
            };
            let json = wrapper.encode(KeyStyle::Unquoted);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
            }
            let tmp = with_suffix(&path, ".tmp");
            write_synced(&tmp, &json)?;
            if path.exists() {
                let bak = with_suffix(&path, ".bak");
                std::fs::copy(&path, &bak).map_err(|e| io_error(&bak, &e))?;
            }
            std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, &e))
        })
        .await
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| io_error(path, &e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_error(path, &e))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn io_error(path: &Path, e: &std::io::Error) -> ClientError {
    ClientError::InvalidArgument(format!("offsets file {}: {e}", path.display()))
}

/// Runs file work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::InvalidArgument(format!("offsets file task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(id: i32) -> MessageQueue {
        MessageQueue::new("T", "broker-a", id)
    }

    #[test]
    fn memory_updates() {
        let t = Table::default();
        t.update(&mq(0), 10, true);
        t.update(&mq(0), 5, true);
        assert_eq!(t.get(&mq(0)), Some(10));
        t.update(&mq(0), 5, false);
        assert_eq!(t.get(&mq(0)), Some(5));
        assert_eq!(t.get(&mq(1)), None);
    }

    #[tokio::test]
    async fn local_file_round_trip_and_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = OffsetStore::Local(LocalFileOffsetStore::new(dir.path(), "1.2.3.4@x", "G"));
        let OffsetStore::Local(local) = &store else {
            unreachable!()
        };
        assert!(local.path().ends_with("1.2.3.4@x/G/offsets.json"));
        assert_eq!(
            store.read(&mq(0), ReadOffsetType::Store).await.unwrap(),
            None
        );
        store.update(&mq(0), 7, false);
        store.update(&mq(1), 9, false);
        store.update(&mq(2), 11, false);
        // Queue 2 is no longer assigned: not written, forgotten.
        store.persist_all(&[mq(0), mq(1)]).await.unwrap();
        let text = std::fs::read_to_string(local.path()).unwrap();
        assert!(text.contains("\"offsetTable\""), "{text}");
        assert!(text.contains("\"queueId\":1"), "{text}");
        assert_eq!(
            store.read(&mq(2), ReadOffsetType::Memory).await.unwrap(),
            None
        );

        // A fresh store (a restart) reads the file.
        let again = LocalFileOffsetStore::new(dir.path(), "1.2.3.4@x", "G");
        again.load().await.unwrap();
        let again = OffsetStore::Local(again);
        assert_eq!(
            again.read(&mq(1), ReadOffsetType::Memory).await.unwrap(),
            Some(9)
        );
        again.update(&mq(1), 12, true);
        again.persist(&mq(1)).await.unwrap();
        // The previous version is the backup; a broken main file falls back to it.
        let path = local.path().to_owned();
        std::fs::write(&path, b"{not json").unwrap();
        let fallback = LocalFileOffsetStore::new(dir.path(), "1.2.3.4@x", "G");
        fallback.load().await.unwrap();
        let fallback = OffsetStore::Local(fallback);
        assert_eq!(
            fallback.read(&mq(0), ReadOffsetType::Memory).await.unwrap(),
            Some(7)
        );
        assert_eq!(
            fallback.read(&mq(1), ReadOffsetType::Memory).await.unwrap(),
            Some(9)
        );
    }

    #[tokio::test]
    async fn reads_the_file_java_writes() {
        // The form Java's LocalFileOffsetStore writes (fastjson, object keys).
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileOffsetStore::new(dir.path(), "c", "G");
        std::fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        std::fs::write(
            store.path(),
            br#"{"offsetTable":{{"brokerName":"broker-a","queueId":3,"topic":"T"}:42}}"#,
        )
        .unwrap();
        store.load().await.unwrap();
        let store = OffsetStore::Local(store);
        assert_eq!(
            store.read(&mq(3), ReadOffsetType::Memory).await.unwrap(),
            Some(42)
        );
    }
}
