//! Store geometry shared with the Java side (`compat.properties`).

use super::*;

/// The store config the harness used, read from `root/compat.properties`
/// (broker.conf names, which `MessageStoreConfig` deserializes).
pub(crate) fn config_from_properties(root: &Path) -> MessageStoreConfig {
    let text = std::fs::read_to_string(root.join("compat.properties")).unwrap();
    let mut map = serde_json::Map::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("compat.properties: {line}"));
        let v = v.trim();
        let value = if let Ok(n) = v.parse::<u64>() {
            serde_json::Value::from(n)
        } else if let Ok(b) = v.parse::<bool>() {
            serde_json::Value::from(b)
        } else {
            serde_json::Value::from(v)
        };
        map.insert(k.trim().to_owned(), value);
    }
    for required in [
        "mappedFileSizeCommitLog",
        "mappedFileSizeConsumeQueue",
        "maxHashSlotNum",
        "maxIndexNum",
    ] {
        assert!(
            map.contains_key(required),
            "compat.properties lacks {required}:\n{text}"
        );
    }
    map.insert(
        "storePathRootDir".to_owned(),
        serde_json::Value::from(root.to_str().unwrap()),
    );
    serde_json::from_value(serde_json::Value::Object(map)).unwrap()
}

/// Skylark's config for stores Java reads: the harness's small geometry.
pub(crate) fn compat_config(root: &Path) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = 1 << 20;
    c.mapped_file_size_consume_queue = 300 * 20;
    c.max_hash_slot_num = 1000;
    c.max_index_num = 5000;
    c
}

/// Writes the geometry of `c` where `run.sh read` picks it up.
pub(crate) fn write_compat_properties(root: &Path, c: &MessageStoreConfig) {
    let text = format!(
        "# written by store/tests/store_java_compat.rs\n\
         flushDiskType=ASYNC_FLUSH\n\
         mappedFileSizeCommitLog={}\n\
         mappedFileSizeConsumeQueue={}\n\
         maxHashSlotNum={}\n\
         maxIndexNum={}\n\
         messageIndexEnable={}\n",
        c.mapped_file_size_commit_log,
        c.mapped_file_size_consume_queue,
        c.max_hash_slot_num,
        c.max_index_num,
        c.message_index_enable
    );
    std::fs::write(root.join("compat.properties"), text).unwrap();
}

/// Checks the files Java's `load()` insists on: exact sizes everywhere.
pub(crate) fn assert_geometry(root: &Path, c: &MessageStoreConfig) -> usize {
    let mut commit_files = 0;
    for e in std::fs::read_dir(root.join("commitlog")).unwrap() {
        let e = e.unwrap();
        let len = e.metadata().unwrap().len();
        assert_eq!(len, c.mapped_file_size_commit_log as u64, "{:?}", e.path());
        commit_files += 1;
    }
    for topic in std::fs::read_dir(root.join("consumequeue")).unwrap() {
        let topic = topic.unwrap();
        if !topic.file_type().unwrap().is_dir() {
            continue;
        }
        for queue in std::fs::read_dir(topic.path()).unwrap() {
            for f in std::fs::read_dir(queue.unwrap().path()).unwrap() {
                let f = f.unwrap();
                let len = f.metadata().unwrap().len();
                assert_eq!(len, c.consume_queue_file_size() as u64, "{:?}", f.path());
            }
        }
    }
    commit_files
}
