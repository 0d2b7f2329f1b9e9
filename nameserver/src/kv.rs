//! `KvConfigManager`: namespace → key → value settings that admins put on
//! name servers (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE), mainly
//! `ORDER_TOPIC_CONFIG`, persisted as Java's `kvConfig.json`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use skylark_protocol::body::{KVTable, fastjson};

use crate::error::NameServerError;

type Table = BTreeMap<String, BTreeMap<String, String>>;

/// The file's shape (`KVConfigSerializeWrapper`): `{"configTable":{ns:{k:v}}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvFile {
    #[serde(default)]
    config_table: Option<Table>,
}

#[derive(Debug, Default)]
struct State {
    table: Table,
    /// Bumped on every change, so a writer holding an older snapshot than
    /// the file already has does not overwrite it.
    version: u64,
}

/// Namespaced string settings, optionally persisted to a file.
#[derive(Debug)]
pub struct KvConfigManager {
    path: Option<PathBuf>,
    state: RwLock<State>,
    /// Serializes file writes and remembers the version last written. Held
    /// across the write, but never together with `state`'s lock.
    written: Mutex<u64>,
}

impl KvConfigManager {
    /// A manager that keeps everything in memory.
    pub fn in_memory() -> Self {
        Self {
            path: None,
            state: RwLock::default(),
            written: Mutex::new(0),
        }
    }

    /// A manager persisted to `path`, loading it if it exists. A missing or
    /// empty file is an empty table; an unreadable or corrupt one an error.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, NameServerError> {
        let path = path.into();
        let table = match fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Table::new(),
            Ok(bytes) => fastjson::from_slice::<KvFile>(&bytes)
                .map_err(|source| NameServerError::KvCorrupt {
                    path: path.clone(),
                    source,
                })?
                .config_table
                .unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Table::new(),
            Err(source) => return Err(NameServerError::KvRead { path, source }),
        };
        tracing::info!(path = %path.display(), namespaces = table.len(), "KV config loaded");
        Ok(Self {
            path: Some(path),
            state: RwLock::new(State { table, version: 0 }),
            written: Mutex::new(0),
        })
    }

    /// The file this manager persists to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Sets `namespace`/`key` to `value` and persists. On a write error the
    /// value is still in effect (as in Java) and the error is returned.
    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), NameServerError> {
        {
            let mut state = self.write();
            let prev = state
                .table
                .entry(namespace.to_owned())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
            state.version += 1;
            tracing::info!(
                namespace,
                key,
                value,
                updated = prev.is_some(),
                "KV config put"
            );
        }
        self.persist()
    }

    /// The value of `namespace`/`key`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.read().table.get(namespace)?.get(key).cloned()
    }

    /// Removes `namespace`/`key` (an emptied namespace stays, as in Java)
    /// and persists.
    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), NameServerError> {
        {
            let mut state = self.write();
            let removed = state.table.get_mut(namespace).and_then(|ns| ns.remove(key));
            state.version += 1;
            tracing::info!(namespace, key, removed = ?removed, "KV config delete");
        }
        self.persist()
    }

    /// Every pair of `namespace`, or `None` when the namespace was never used.
    pub fn namespace(&self, namespace: &str) -> Option<KVTable> {
        self.read()
            .table
            .get(namespace)
            .map(|t| KVTable { table: t.clone() })
    }

    /// Number of namespaces.
    pub fn namespace_count(&self) -> usize {
        self.read().table.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the current table to the file, if there is one and it is not
    /// already newer.
    fn persist(&self) -> Result<(), NameServerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let (version, bytes) = {
            let state = self.read();
            if state.version <= *written {
                return Ok(());
            }
            let file = KvFile {
                config_table: Some(state.table.clone()),
            };
            // Serializing string maps cannot fail.
            (state.version, serde_json::to_vec(&file).unwrap_or_default())
        };
        write_atomically(path, &bytes).map_err(|source| NameServerError::KvWrite {
            path: path.clone(),
            source,
        })?;
        *written = version;
        Ok(())
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
/// over `path`, so a crash leaves either the old or the new file whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Makes the rename itself durable; not all platforms allow it.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_in_memory() {
        let kv = KvConfigManager::in_memory();
        assert!(kv.namespace("NS").is_none());
        kv.put("NS", "k", "v").unwrap();
        assert_eq!(kv.get("NS", "k").as_deref(), Some("v"));
        kv.delete("NS", "k").unwrap();
        assert_eq!(kv.get("NS", "k"), None);
        assert_eq!(kv.namespace("NS").unwrap().table.len(), 0);
    }

    #[test]
    fn persists_in_java_shape_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("kvConfig.json");
        let kv = KvConfigManager::load(&path).unwrap();
        kv.put("ORDER_TOPIC_CONFIG", "T", "broker-a:4").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4"}}}"#
        );
        let again = KvConfigManager::load(&path).unwrap();
        assert_eq!(
            again.get("ORDER_TOPIC_CONFIG", "T").as_deref(),
            Some("broker-a:4")
        );
    }

    #[test]
    fn reads_java_files_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kvConfig.json");
        fs::write(&path, "{\"configTable\":{\"NS\":{\"a\":\"1\"}},\"x\":1}").unwrap();
        assert_eq!(
            KvConfigManager::load(&path)
                .unwrap()
                .get("NS", "a")
                .as_deref(),
            Some("1")
        );
        fs::write(&path, "  \n").unwrap();
        assert_eq!(KvConfigManager::load(&path).unwrap().namespace_count(), 0);
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            KvConfigManager::load(&path),
            Err(NameServerError::KvCorrupt { .. })
        ));
    }
}
