#![allow(clippy::unwrap_used)]
//! Byte compatibility with Apache RocketMQ 5.3.3's own `DefaultMessageStore`,
//! driven through the Java harness in `store/compat` (see its README):
//!
//! - Java → Skylark: RocketMQ writes a store; Skylark opens it and must read
//!   every message, ConsumeQueue tags code and index answer exactly as Java
//!   printed them, before and after its own clean shutdown, without changing
//!   a byte of the CommitLog, ConsumeQueues or index; RocketMQ then reads the
//!   directory Skylark shut down and must print the same lines again. The
//!   same after a RocketMQ crash (an `abort` file), and with Skylark
//!   appending to RocketMQ's queues before RocketMQ reads it all back.
//! - Skylark → Java: Skylark writes a store (several topics and queues, IPv6
//!   hosts, batches, commit records, several CommitLog files with BLANK ends,
//!   two index files) and shuts down; RocketMQ loads a copy, must find it
//!   consistent, and must print exactly Skylark's own view of every message
//!   and the same index answers.
//! - Skylark → Java after a crash: the `abort` file stays and the newest
//!   records may not be dispatched; RocketMQ's abnormal recovery must find
//!   every message, and agree with Skylark's own recovery of the same bytes.
//! - Both take the same `lock`, so neither opens a store the other runs on;
//!   index file headers follow RocketMQ's rules.
//!
//! Skylark's own answers are also checked exhaustively: every key of every
//! message must find it through `query_by_key`.
//!
//! Needs a JDK 17+ and Maven (Debian: `apt-get install -y
//! openjdk-17-jdk-headless maven`); without them these tests fail, unless
//! `SKYLARK_SKIP_JAVA=1` says to skip them. `SKYLARK_COMPAT_KEEP=1` keeps the
//! temporary directories for inspection.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use skylark_protocol::message::property::{UNIQ_KEY, WAIT_STORE_MSG_OK};
use skylark_protocol::message::{Message, MessageSysFlag, StoredMessage, record, tags_code};
use skylark_store::MessageStore;
use skylark_store::config::MessageStoreConfig;
use skylark_store::message_store::GetMessageStatus;
use skylark_testkit::java::{HARNESS_TIMEOUT, HarnessRun, java_available, run_harness};
use tempfile::TempDir;

/// What these tests check, for the skip banner.
const CHECKED: &str = "RocketMQ store compatibility";
/// How long the store may take to dispatch everything it holds.
const DISPATCH_WAIT: Duration = Duration::from_secs(30);
/// Messages each direction writes.
const COUNT: usize = 2000;
/// `queryMessage`'s cap (`maxMsgsNumBatch`).
const QUERY_MAX: usize = 64;

// ---------------------------------------------------------------- the harness

/// Panics unless the harness exited 0, with everything it said.
fn assert_ok(run: &HarnessRun) {
    if run.code != Some(0) {
        let meaning = match run.code {
            Some(1) => "usage error, build failure or unexpected exception",
            Some(2) => "DefaultMessageStore.load() or start() failed",
            Some(3) => "the store loaded but is INCONSISTENT",
            _ => "killed or unknown",
        };
        panic!(
            "`run.sh {}` exited with {:?} ({meaning}) after {:?}.\n--- stderr ---\n{}\n--- stdout (first 2000 chars) ---\n{}",
            run.what,
            run.code,
            run.elapsed,
            run.stderr,
            run.stdout.chars().take(2000).collect::<String>()
        );
    }
}

/// Runs `store/compat/run.sh args…` (killed after [`HARNESS_TIMEOUT`]).
fn harness(args: &[OsString]) -> HarnessRun {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/run.sh");
    let run = run_harness(&script, args, &[], HARNESS_TIMEOUT);
    eprintln!(
        "run.sh {}: exit {:?} in {:.1?}",
        run.what, run.code, run.elapsed
    );
    // The harness's own summary lines (layout, checkpoint, record counts).
    for line in run.stderr.lines().filter(|l| {
        ["read: ", "write: ", "commitlog: "]
            .iter()
            .any(|p| l.starts_with(p))
    }) {
        eprintln!("  {line}");
    }
    run
}

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

// ---------------------------------------------------------------- the lines

/// One message line of the harness (README "Line format"); the same struct
/// is built from Skylark's view, so the two compare field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MsgLine {
    topic: String,
    queue_id: i32,
    queue_offset: i64,
    physical_offset: i64,
    store_size: i32,
    tags_code: i64,
    tags: Option<String>,
    keys: Option<String>,
    uniq_key: Option<String>,
    flag: i32,
    sys_flag: i32,
    born_timestamp: i64,
    store_timestamp: i64,
    born_host: String,
    store_host: String,
    reconsume_times: i32,
    prepared_transaction_offset: i64,
    body_len: usize,
    body_crc32: u32,
    body_crc: i32,
    properties: BTreeMap<String, String>,
}

/// One index query line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexQuery {
    topic: String,
    key: String,
    physical_offsets: Vec<i64>,
}

/// Everything the harness printed.
#[derive(Debug, Default)]
struct Dump {
    messages: Vec<MsgLine>,
    queries: Vec<IndexQuery>,
}

fn parse_dump(stdout: &str) -> Dump {
    let mut dump = Dump::default();
    for (n, line) in stdout.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line {}: not JSON ({e}): {line}", n + 1));
        if let Some(q) = value.get("indexQuery") {
            dump.queries.push(
                serde_json::from_value(q.clone())
                    .unwrap_or_else(|e| panic!("stdout line {}: {e}: {line}", n + 1)),
            );
        } else {
            assert!(
                dump.queries.is_empty(),
                "stdout line {}: a message after the index queries",
                n + 1
            );
            dump.messages.push(
                serde_json::from_value(value)
                    .unwrap_or_else(|e| panic!("stdout line {}: {e}: {line}", n + 1)),
            );
        }
    }
    dump
}

/// The line for one record Skylark returned, with its ConsumeQueue tags code.
fn skylark_line(rec: &Bytes, tags_code: i64) -> MsgLine {
    let (m, len) = record::decode(rec).unwrap();
    assert_eq!(len, rec.len(), "record length at {}", m.physical_offset);
    m.verify_body_crc().unwrap();
    MsgLine {
        topic: m.topic.clone(),
        queue_id: m.queue_id,
        queue_offset: m.queue_offset,
        physical_offset: m.physical_offset,
        store_size: i32::try_from(rec.len()).unwrap(),
        tags_code,
        tags: m.tags().map(str::to_owned),
        keys: m.keys().map(str::to_owned),
        uniq_key: m.uniq_key().map(str::to_owned),
        flag: m.flag,
        sys_flag: m.sys_flag,
        born_timestamp: m.born_timestamp,
        store_timestamp: m.store_timestamp,
        born_host: m.born_host.to_string(),
        store_host: m.store_host.to_string(),
        reconsume_times: m.reconsume_times,
        prepared_transaction_offset: m.prepared_transaction_offset,
        body_len: m.body.len(),
        body_crc32: crc32fast::hash(&m.body),
        body_crc: m.body_crc,
        properties: m
            .properties
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

/// Every message of every queue, as the harness orders them (topic, queue
/// id, queue offset), pulled through `get_messages` in batches; each
/// ConsumeQueue entry is checked against its record.
fn skylark_dump(store: &MessageStore) -> Vec<MsgLine> {
    let mut queues = store.consume_queues().queues();
    queues.sort_by(|a, b| (a.topic(), a.queue_id()).cmp(&(b.topic(), b.queue_id())));
    let mut out = Vec::new();
    for cq in queues {
        let (topic, qid) = (cq.topic().to_owned(), cq.queue_id());
        let (min, max) = (store.min_offset(&topic, qid), store.max_offset(&topic, qid));
        let mut offset = min;
        while offset < max {
            let r = store.get_messages(&topic, qid, offset, 32, 4 << 20, &|_| true);
            assert_eq!(
                r.status,
                GetMessageStatus::Found,
                "Skylark: {topic}/{qid} @{offset} (min {min}, max {max})"
            );
            assert_eq!(r.messages.len(), r.queue_offsets.len());
            for (rec, &qo) in r.messages.iter().zip(&r.queue_offsets) {
                let e = cq.get(qo).unwrap().unwrap_or_else(|| {
                    panic!("Skylark: no ConsumeQueue entry {topic}/{qid} @{qo}")
                });
                let line = skylark_line(rec, e.tags_code);
                let at = format!("Skylark: {topic}/{qid} @{qo}");
                assert_eq!(
                    (e.phys_offset, e.size),
                    (line.physical_offset, line.store_size),
                    "{at}: ConsumeQueue entry vs record"
                );
                assert_eq!(
                    (line.topic.as_str(), line.queue_id, line.queue_offset),
                    (topic.as_str(), qid, qo),
                    "{at}: record header"
                );
                out.push(line);
            }
            assert!(
                r.next_begin_offset > offset,
                "Skylark: {topic}/{qid} @{offset}: no progress"
            );
            offset = r.next_begin_offset;
        }
    }
    out
}

/// Physical offsets of Skylark's answer to `queryMessage(topic, key, 64, 0, MAX)`.
fn skylark_query(store: &MessageStore, topic: &str, key: &str) -> Vec<i64> {
    let r = store.query_by_key(topic, key, QUERY_MAX, 0, i64::MAX);
    let mut offsets: Vec<i64> = r
        .messages
        .iter()
        .map(|b| record::decode(b).unwrap().0.physical_offset)
        .collect();
    offsets.sort_unstable();
    offsets
}

/// Every message's UNIQ_KEY and KEYS tokens find it through Skylark's
/// `query_by_key` (for a key with more than 64 messages: the 64 newest, as
/// RocketMQ answers).
fn assert_every_key_indexed(what: &str, store: &MessageStore, lines: &[MsgLine]) {
    let mut by_key: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for l in lines {
        let tokens = l.keys.iter().flat_map(|k| k.split(' '));
        for key in l.uniq_key.as_deref().into_iter().chain(tokens) {
            if !key.is_empty() {
                by_key
                    .entry((l.topic.as_str(), key))
                    .or_default()
                    .push(l.physical_offset);
            }
        }
    }
    let mut wrong = Vec::new();
    for (&(topic, key), offsets) in &mut by_key {
        offsets.sort_unstable();
        offsets.dedup();
        let want = &offsets[offsets.len().saturating_sub(QUERY_MAX)..];
        let got = skylark_query(store, topic, key);
        if got != want {
            let lost: Vec<i64> = want.iter().copied().filter(|o| !got.contains(o)).collect();
            wrong.push(format!(
                "{topic}#{key}: lost {lost:?}, got {} of {}",
                got.len(),
                want.len()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} keys are answered wrongly by the index:\n{}",
        wrong.len(),
        by_key.len(),
        wrong.join("\n")
    );
}

/// Fails with the first few differing messages, field by field.
fn assert_same_messages(what: &str, expected: &[MsgLine], actual: &[MsgLine]) {
    let differing: Vec<usize> = (0..expected.len().min(actual.len()))
        .filter(|&i| expected[i] != actual[i])
        .collect();
    if differing.is_empty() && expected.len() == actual.len() {
        return;
    }
    let mut report = format!(
        "{what}: expected {} messages, got {}; {} of the common prefix differ",
        expected.len(),
        actual.len(),
        differing.len()
    );
    for &i in differing.iter().take(5) {
        let (e, a) = (
            serde_json::to_value(&expected[i]).unwrap(),
            serde_json::to_value(&actual[i]).unwrap(),
        );
        let fields: Vec<String> = e
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| a.get(k.as_str()) != Some(v))
            .map(|(k, v)| format!("{k}: expected {v}, got {}", a[k.as_str()]))
            .collect();
        report += &format!(
            "\n#{i} {}/{} @{} (phys {}): {}",
            expected[i].topic,
            expected[i].queue_id,
            expected[i].queue_offset,
            expected[i].physical_offset,
            fields.join("; ")
        );
    }
    if expected.len() != actual.len() {
        let key = |m: &MsgLine| (m.topic.clone(), m.queue_id, m.queue_offset);
        let have: std::collections::HashSet<_> = actual.iter().map(key).collect();
        let want: std::collections::HashSet<_> = expected.iter().map(key).collect();
        let missing: Vec<_> = expected
            .iter()
            .map(key)
            .filter(|k| !have.contains(k))
            .take(10)
            .collect();
        let extra: Vec<_> = actual
            .iter()
            .map(key)
            .filter(|k| !want.contains(k))
            .take(10)
            .collect();
        report += &format!("\nmissing (first 10): {missing:?}\nunexpected (first 10): {extra:?}");
    }
    panic!("{report}");
}

// ---------------------------------------------------------------- directories

/// A temporary directory, kept when `SKYLARK_COMPAT_KEEP=1`.
struct Scratch {
    /// Deletes the directory when dropped (`None` when kept).
    _dir: Option<TempDir>,
    path: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("skylark-{test}-"))
            .tempdir()
            .unwrap();
        let path = dir.path().to_path_buf();
        if std::env::var("SKYLARK_COMPAT_KEEP").as_deref() == Ok("1") {
            eprintln!("{test}: keeping {}", path.display());
            return Self {
                _dir: None,
                path: dir.keep(),
            };
        }
        Self {
            _dir: Some(dir),
            path,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Contents of every file under `commitlog/`, `consumequeue/` (Skylark's
/// dot-files aside) and `index/`, by relative path.
fn data_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if !path.file_name().unwrap().to_string_lossy().starts_with('.') {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    for sub in ["commitlog", "consumequeue", "index"] {
        walk(root, &root.join(sub), &mut out);
    }
    out
}

/// Names the files that differ between two [`data_files`] snapshots, with
/// the first differing byte of each.
fn changed_files(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => out.push(format!("{} deleted", path.display())),
            Some(new) if new != old => {
                let at = old.iter().zip(new).position(|(a, b)| a != b);
                out.push(format!(
                    "{} changed: len {} -> {}, first difference at byte {at:?}",
                    path.display(),
                    old.len(),
                    new.len()
                ));
            }
            Some(_) => {}
        }
    }
    for (path, new) in after.iter().filter(|(p, _)| !before.contains_key(*p)) {
        // Skylark keeps the next CommitLog file pre-allocated (all zeros);
        // RocketMQ's recovery ignores and truncates such a file.
        let preallocated = path.starts_with("commitlog") && new.iter().all(|&b| b == 0);
        if preallocated {
            eprintln!("note: {} pre-allocated (all zeros)", path.display());
        } else {
            out.push(format!("{} created", path.display()));
        }
    }
    out
}

// ---------------------------------------------------------------- config

/// The store config the harness used, read from `root/compat.properties`
/// (broker.conf names, which `MessageStoreConfig` deserializes).
fn config_from_properties(root: &Path) -> MessageStoreConfig {
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
fn compat_config(root: &Path) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = 1 << 20;
    c.mapped_file_size_consume_queue = 300 * 20;
    c.max_hash_slot_num = 1000;
    c.max_index_num = 5000;
    c
}

/// Writes the geometry of `c` where `run.sh read` picks it up.
fn write_compat_properties(root: &Path, c: &MessageStoreConfig) {
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
fn assert_geometry(root: &Path, c: &MessageStoreConfig) -> usize {
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

// ---------------------------------------------------------------- Skylark's messages

const SKY_TOPICS: [(&str, usize); 3] = [
    ("SkylarkOrders", 4),
    ("SkylarkAudit", 3),
    ("SkylarkZeta", 1),
];

/// Topic and queue of message `i`.
fn route(i: usize) -> (&'static str, i32) {
    let (topic, queues) = SKY_TOPICS[match i % 7 {
        0..=3 => 0,
        4 | 5 => 1,
        _ => 2,
    }];
    (topic, i32::try_from(i / 7 % queues).unwrap())
}

fn has_keys(i: usize) -> bool {
    i % 10 != 3
}

fn uniq_key(i: usize) -> String {
    format!("7F0000011F3A{i:020X}")
}

/// Message `i` for `topic`/`queue_id`: tags (absent for every 8th), KEYS
/// `order-<i> user-<i%13> [bulk]` (absent for every 10th), UNIQ_KEY,
/// non-ASCII properties, empty / small / 6–9 KiB bodies, IPv6 born and store
/// hosts, flags, reconsume times and a few transaction COMMIT records.
fn sky_message(i: usize, (topic, queue_id): (&str, i32)) -> StoredMessage {
    let len = if i % 100 == 1 {
        0
    } else if i % 31 == 5 {
        6000 + i * 13 % 3000
    } else {
        1 + i * 53 % 1500
    };
    let body: Vec<u8> = (0..len).map(|j| ((i * 11 + j * 7) & 0xFF) as u8).collect();
    let mut m = Message::new(topic, body);
    m.flag = i32::try_from(i % 5 * 3).unwrap();
    if i % 8 != 7 {
        m = m.with_tags(&format!("Tag{}", char::from(b'A' + (i % 6) as u8)));
    }
    if has_keys(i) {
        let mut keys = vec![format!("order-{i}"), format!("user-{}", i % 13)];
        if i % 5 == 0 {
            keys.push("bulk".to_owned());
        }
        m = m.with_keys(keys.iter().map(String::as_str));
    }
    m = m
        .with_property(UNIQ_KEY, uniq_key(i))
        .with_property(WAIT_STORE_MSG_OK, "true")
        .with_property("seq", i.to_string());
    if i % 9 == 2 {
        m = m.with_property("note", format!("héllo ✓ 𝄞 #{i}"));
    }
    let port = u16::try_from(20_000 + i % 1000).unwrap();
    let born = if i % 11 == 4 {
        let low = u16::try_from(i & 0xFFFF).unwrap();
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x60, low)),
            port,
        )
    } else {
        let (hi, lo) = (((i >> 8) & 0xFF) as u8, (i & 0xFF) as u8);
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 2, hi, lo)), port)
    };
    let store_host = if i % 17 == 9 {
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0xa, 5)),
            10911,
        )
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 10911)
    };
    let mut s = StoredMessage::new(m, born, store_host);
    s.queue_id = queue_id;
    s.born_timestamp = 1_700_000_000_000 + 7 * i as i64;
    s.reconsume_times = if i % 7 == 6 { 3 } else { 0 };
    if i % 37 == 11 {
        s.sys_flag |= MessageSysFlag::TRANSACTION_COMMIT_TYPE;
        s.prepared_transaction_offset = 4096 + i as i64;
    }
    s
}

/// One stored message and where the store said it went.
#[derive(Debug)]
struct Put {
    seq: usize,
    msg: StoredMessage,
    phys: i64,
    queue_offset: i64,
    store_timestamp: i64,
}

/// Puts messages `range` routed by [`route`], every 97th starting a batch of
/// four for one queue.
fn put_range(store: &MessageStore, range: Range<usize>, out: &mut Vec<Put>) {
    put_routed(store, range, route, out);
}

/// [`put_range`] with topics and queues from `route`.
fn put_routed(
    store: &MessageStore,
    range: Range<usize>,
    route: fn(usize) -> (&'static str, i32),
    out: &mut Vec<Put>,
) {
    let mut i = range.start;
    while i < range.end {
        let n = if i % 97 == 13 {
            4.min(range.end - i)
        } else {
            1
        };
        let to = route(i);
        let batch: Vec<StoredMessage> = (i..i + n).map(|j| sky_message(j, to)).collect();
        let r = if n == 1 {
            store.put_message(&batch[0]).wait_blocking()
        } else {
            store.put_messages(&batch).wait_blocking()
        };
        assert!(r.is_stored(), "put #{i}: {r:?}");
        let a = r.append.unwrap();
        assert_eq!(a.msg_num, n, "put #{i}");
        let mut phys = a.wrote_offset;
        for (k, msg) in batch.into_iter().enumerate() {
            let len = msg.encoded_len() as i64;
            out.push(Put {
                seq: i + k,
                msg,
                phys,
                queue_offset: a.queue_offset + k as i64,
                store_timestamp: a.store_timestamp,
            });
            phys += len;
        }
        assert_eq!(phys, a.end_offset(), "put #{i}: records are back to back");
        i += n;
    }
}

/// Checks a dump (Skylark's or Java's) against what was put: same messages,
/// each with every field as put and where the store said it went.
fn assert_matches_puts(what: &str, lines: &[MsgLine], puts: &[Put]) {
    assert_eq!(lines.len(), puts.len(), "{what}: message count");
    let by_phys: HashMap<i64, &MsgLine> = lines.iter().map(|l| (l.physical_offset, l)).collect();
    assert_eq!(
        by_phys.len(),
        lines.len(),
        "{what}: two messages at one offset"
    );
    for p in puts {
        let l = by_phys
            .get(&p.phys)
            .unwrap_or_else(|| panic!("{what}: seq {} at {} missing", p.seq, p.phys));
        let m = &p.msg;
        let props: BTreeMap<String, String> = m
            .properties
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let expected = MsgLine {
            topic: m.topic.clone(),
            queue_id: m.queue_id,
            queue_offset: p.queue_offset,
            physical_offset: p.phys,
            store_size: i32::try_from(m.encoded_len()).unwrap(),
            tags_code: tags_code(m.tags()),
            tags: m.tags().map(str::to_owned),
            keys: m.keys().map(str::to_owned),
            uniq_key: m.uniq_key().map(str::to_owned),
            flag: m.flag,
            sys_flag: m.normalized_sys_flag(),
            born_timestamp: m.born_timestamp,
            store_timestamp: p.store_timestamp,
            born_host: m.born_host.to_string(),
            store_host: m.store_host.to_string(),
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
            body_len: m.body.len(),
            body_crc32: crc32fast::hash(&m.body),
            body_crc: m.computed_body_crc(),
            properties: props,
        };
        if **l != expected {
            assert_same_messages(
                &format!("{what}: seq {}", p.seq),
                &[expected],
                &[(*l).clone()],
            );
        }
    }
}

/// Index queries to run on a Skylark-written store and the answers they
/// must get (the newest 64 matches, sorted).
fn chosen_queries(puts: &[Put]) -> Vec<IndexQuery> {
    let mut queries: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |topic: &str, key: String| {
        if seen.insert((topic.to_owned(), key.clone())) {
            queries.push((topic.to_owned(), key));
        }
    };
    let last = puts.len() - 1;
    for p in [0, 1, 2, 3, 4, 13, 14, 500, 1013, last / 2, last].map(|k| &puts[k.min(last)]) {
        add(&p.msg.topic, uniq_key(p.seq));
        add(&p.msg.topic, format!("order-{}", p.seq));
    }
    add("SkylarkOrders", "user-5".to_owned());
    add("SkylarkAudit", "user-12".to_owned());
    add("SkylarkZeta", "bulk".to_owned());
    add("SkylarkZeta", "user-0".to_owned());
    add("SkylarkOrders", "no-such-key".to_owned());
    queries
        .into_iter()
        .map(|(topic, key)| {
            let mut offsets: Vec<i64> = puts
                .iter()
                .filter(|p| p.msg.topic == topic)
                .filter(|p| {
                    p.msg.uniq_key() == Some(key.as_str())
                        || p.msg.keys().is_some_and(|k| k.split(' ').any(|t| t == key))
                })
                .map(|p| p.phys)
                .collect();
            offsets.sort_unstable();
            let newest = offsets.len().saturating_sub(QUERY_MAX);
            IndexQuery {
                topic,
                key,
                physical_offsets: offsets.split_off(newest),
            }
        })
        .collect()
}

/// One query for every UNIQ_KEY and KEYS token put (and a missing key),
/// with the answer RocketMQ must give: the newest 64 matches, sorted.
fn every_key_query(puts: &[Put]) -> Vec<IndexQuery> {
    let mut by_key: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for p in puts {
        let tokens = p.msg.keys().into_iter().flat_map(|k| k.split(' '));
        for key in p.msg.uniq_key().into_iter().chain(tokens) {
            by_key
                .entry((p.msg.topic.clone(), key.to_owned()))
                .or_default()
                .push(p.phys);
        }
    }
    by_key.insert(
        ("SkylarkOrders".to_owned(), "no-such-key".to_owned()),
        Vec::new(),
    );
    by_key
        .into_iter()
        .map(|((topic, key), mut offsets)| {
            offsets.sort_unstable();
            let newest = offsets.len().saturating_sub(QUERY_MAX);
            IndexQuery {
                topic,
                key,
                physical_offsets: offsets.split_off(newest),
            }
        })
        .collect()
}

/// Fails listing the queries whose answers differ.
fn assert_same_queries(what: &str, expected: &[IndexQuery], actual: &[IndexQuery]) {
    assert_eq!(
        expected.len(),
        actual.len(),
        "{what}: number of index queries"
    );
    let wrong: Vec<String> = expected
        .iter()
        .zip(actual)
        .filter(|(e, a)| e != a)
        .map(|(e, a)| {
            format!(
                "{}#{}: expected {:?}, got {}#{} {:?}",
                e.topic, e.key, e.physical_offsets, a.topic, a.key, a.physical_offsets
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} index queries differ:\n{}",
        wrong.len(),
        expected.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn query_args(queries: &[IndexQuery]) -> Vec<OsString> {
    queries
        .iter()
        .flat_map(|q| [os("--query"), os(format!("{}:{}", q.topic, q.key))])
        .collect()
}

fn open_and_settle(config: &MessageStoreConfig) -> MessageStore {
    let t = Instant::now();
    let store = MessageStore::open(config.clone()).unwrap();
    assert!(
        store.wait_dispatched_all(DISPATCH_WAIT),
        "dispatch did not catch up: {} bytes behind",
        store.dispatch_behind_bytes()
    );
    eprintln!(
        "Skylark opened {} in {:.1?}: {:?}",
        config.store_path_root_dir.display(),
        t.elapsed(),
        store.recovery_report()
    );
    store
}

// ---------------------------------------------------------------- the tests

/// RocketMQ writes; Skylark reads it all (twice, around its own clean
/// shutdown) without changing the data files; RocketMQ reads it again.
#[test]
fn java_store_reads_in_skylark() {
    if !java_available("java_store_reads_in_skylark", CHECKED) {
        return;
    }
    let scratch = Scratch::new("java-to-skylark");
    let root = scratch.path().join("java");
    let w = harness(&[os("write"), os(&root), os(COUNT.to_string())]);
    assert_ok(&w);
    let java = parse_dump(&w.stdout);
    assert_eq!(java.messages.len(), COUNT, "Java's write dump");
    assert!(!java.queries.is_empty(), "Java printed no index queries");

    let config = config_from_properties(&root);
    assert_eq!(
        (
            config.mapped_file_size_commit_log,
            config.mapped_file_size_consume_queue,
            config.max_hash_slot_num,
            config.max_index_num
        ),
        (1 << 20, 6000, 1000, 5000),
        "compat.properties"
    );
    let commit_files = assert_geometry(&root, &config);
    assert!(
        commit_files >= 3,
        "Java wrote {commit_files} CommitLog files"
    );
    let before = data_files(&root);

    for pass in ["first open", "re-open after Skylark's clean shutdown"] {
        let t = Instant::now();
        let store = open_and_settle(&config);
        let report = store.recovery_report();
        assert!(
            !report.crashed,
            "{pass}: Java's clean shutdown read as a crash"
        );
        assert_eq!(report.cut, None, "{pass}: Skylark cut Java's CommitLog");
        let last = java
            .messages
            .iter()
            .map(|m| m.physical_offset + i64::from(m.store_size))
            .max();
        assert_eq!(
            Some(store.commit_log_max_offset()),
            last,
            "{pass}: CommitLog end"
        );

        let ours = skylark_dump(&store);
        assert_same_messages(&format!("Java → Skylark, {pass}"), &java.messages, &ours);
        assert_every_key_indexed(&format!("Java → Skylark, {pass}"), &store, &ours);
        for q in &java.queries {
            assert_eq!(
                skylark_query(&store, &q.topic, &q.key),
                q.physical_offsets,
                "Java → Skylark, {pass}: query_by_key({}, {})",
                q.topic,
                q.key
            );
        }
        store.shutdown();
        drop(store);
        assert!(
            !config.abort_path().exists(),
            "{pass}: shutdown left the abort file"
        );
        let changed = changed_files(&before, &data_files(&root));
        assert!(
            changed.is_empty(),
            "{pass}: Skylark changed RocketMQ's data files:\n{}",
            changed.join("\n")
        );
        eprintln!(
            "Java → Skylark, {pass}: {} messages checked in {:.1?}",
            ours.len(),
            t.elapsed()
        );
    }

    // RocketMQ reads what Skylark left behind: still the same store.
    let copy = scratch.path().join("java-after-skylark");
    copy_dir(&root, &copy);
    let r = harness(&[os("read"), os(&copy)]);
    assert_ok(&r);
    let again = parse_dump(&r.stdout);
    assert_same_messages("Java → Skylark → Java", &java.messages, &again.messages);
    assert_eq!(
        again.queries, java.queries,
        "Java → Skylark → Java: index queries"
    );
}

/// A RocketMQ store as after a RocketMQ crash (its data and checkpoint, plus
/// an `abort` file): Skylark's crash recovery keeps every message and index
/// entry, and RocketMQ then reads what Skylark recovered.
#[test]
fn java_store_after_crash_reads_in_skylark() {
    if !java_available("java_store_after_crash_reads_in_skylark", CHECKED) {
        return;
    }
    let scratch = Scratch::new("java-crash-to-skylark");
    let crashed = scratch.path().join("java");
    let w = harness(&[os("write"), os(&crashed), os(COUNT.to_string())]);
    assert_ok(&w);
    let java = parse_dump(&w.stdout);
    let config = config_from_properties(&crashed);
    // As if RocketMQ had crashed (the same data, with an `abort` file):
    // Skylark's crash recovery, with RocketMQ's checkpoint, keeps everything,
    // and RocketMQ then reads what Skylark recovered.
    std::fs::write(crashed.join("abort"), b"4242").unwrap();
    let crashed_config = MessageStoreConfig {
        store_path_root_dir: crashed.clone(),
        ..config.clone()
    };
    let store = open_and_settle(&crashed_config);
    assert!(store.recovery_report().crashed);
    let ours = skylark_dump(&store);
    assert_same_messages("Java (crashed) → Skylark", &java.messages, &ours);
    for q in &java.queries {
        assert_eq!(
            skylark_query(&store, &q.topic, &q.key),
            q.physical_offsets,
            "Java (crashed) → Skylark: query_by_key({}, {})",
            q.topic,
            q.key
        );
    }
    assert_every_key_indexed("Java (crashed) → Skylark", &store, &ours);
    store.shutdown();
    drop(store);
    let r = harness(&[os("read"), os(&crashed)]);
    assert_ok(&r);
    let again = parse_dump(&r.stdout);
    assert_same_messages(
        "Java (crashed) → Skylark → Java",
        &java.messages,
        &again.messages,
    );
    assert_eq!(
        again.queries, java.queries,
        "Java (crashed) → Skylark → Java: index queries"
    );
}

/// A RocketMQ store moved to Skylark in place: Skylark appends to RocketMQ's
/// queues (and a new topic) from the end of its CommitLog, rolling to a new
/// file; RocketMQ, moved back, reads both its own and Skylark's messages,
/// and both answer index queries alike.
#[test]
fn java_store_continued_by_skylark_reads_in_java() {
    if !java_available("java_store_continued_by_skylark_reads_in_java", CHECKED) {
        return;
    }
    let scratch = Scratch::new("java-skylark-java");
    let root = scratch.path().join("java");
    let w = harness(&[os("write"), os(&root), os(COUNT.to_string())]);
    assert_ok(&w);
    let java = parse_dump(&w.stdout);
    let config = config_from_properties(&root);

    fn continue_route(i: usize) -> (&'static str, i32) {
        let q = i32::try_from(i / 5 % 4).unwrap();
        match i % 5 {
            0 | 1 => ("CompatTopicA", 0),
            2 => ("CompatTopicA", 1 + q % 3),
            3 => ("CompatTopicB", q),
            _ => ("SkylarkOrders", q % 2),
        }
    }
    let store = open_and_settle(&config);
    let java_end = store.commit_log_max_offset();
    let file_size = i64::try_from(config.mapped_file_size_commit_log).unwrap();
    let mut puts = Vec::new();
    put_routed(&store, 5000..5700, continue_route, &mut puts);
    assert!(store.wait_dispatched_all(DISPATCH_WAIT));
    let ours = skylark_dump(&store);
    let (old, new): (Vec<MsgLine>, Vec<MsgLine>) = ours
        .iter()
        .cloned()
        .partition(|m| m.physical_offset < java_end);
    assert_same_messages(
        "RocketMQ's messages after Skylark appended",
        &java.messages,
        &old,
    );
    assert_matches_puts("Skylark's appended messages", &new, &puts);
    assert_every_key_indexed("Skylark appending to RocketMQ's store", &store, &ours);
    assert!(
        puts.last().unwrap().phys >= (java_end / file_size + 1) * file_size,
        "the appends should roll past RocketMQ's last file"
    );
    store.shutdown();
    drop(store);

    let copy = scratch.path().join("back-to-java");
    copy_dir(&root, &copy);
    let r = harness(&[os("read"), os(&copy)]);
    assert_ok(&r);
    let back = parse_dump(&r.stdout);
    assert_same_messages(
        "RocketMQ → Skylark (appending) → RocketMQ",
        &ours,
        &back.messages,
    );

    let store = open_and_settle(&config);
    assert!(!back.queries.is_empty());
    for q in &back.queries {
        assert_eq!(
            skylark_query(&store, &q.topic, &q.key),
            q.physical_offsets,
            "RocketMQ and Skylark disagree on query({}, {})",
            q.topic,
            q.key
        );
    }
    store.shutdown();
}

/// Skylark writes and shuts down cleanly; RocketMQ loads it, finds it
/// consistent, and reads exactly what Skylark stored.
#[test]
fn skylark_store_reads_in_java() {
    if !java_available("skylark_store_reads_in_java", CHECKED) {
        return;
    }
    let scratch = Scratch::new("skylark-to-java");
    let root = scratch.path().join("skylark");
    let config = compat_config(&root);
    let t = Instant::now();
    let store = open_and_settle(&config);
    let mut puts = Vec::new();
    put_range(&store, 0..COUNT, &mut puts);
    assert!(store.wait_dispatched_all(DISPATCH_WAIT));
    let ours = skylark_dump(&store);
    assert_matches_puts("Skylark's own view", &ours, &puts);
    assert_every_key_indexed("Skylark's own view", &store, &ours);
    let queries = chosen_queries(&puts);
    for q in &queries {
        assert_eq!(
            skylark_query(&store, &q.topic, &q.key),
            q.physical_offsets,
            "Skylark: query_by_key({}, {})",
            q.topic,
            q.key
        );
    }
    store.shutdown();
    drop(store);
    eprintln!(
        "Skylark wrote {} messages in {:.1?}",
        puts.len(),
        t.elapsed()
    );
    assert!(
        !config.abort_path().exists(),
        "clean shutdown left the abort file"
    );
    let commit_files = assert_geometry(&root, &config);
    assert!(
        commit_files >= 3,
        "only {commit_files} CommitLog files: no BLANK end tested"
    );
    let index_files = std::fs::read_dir(config.index_dir()).unwrap().count();
    assert!(index_files >= 2, "only {index_files} index file(s)");

    let copy = scratch.path().join("java-reads");
    copy_dir(&root, &copy);
    write_compat_properties(&copy, &config);
    let mut args = vec![os("read"), os(&copy)];
    // RocketMQ looks up every key Skylark indexed.
    let all_keys = every_key_query(&puts);
    args.extend(query_args(&all_keys));
    let r = harness(&args);
    assert_ok(&r);
    let java = parse_dump(&r.stdout);
    assert_same_messages("Skylark → Java", &ours, &java.messages);
    assert_same_queries("Skylark → Java", &all_keys, &java.queries);

    // And Skylark still reads its store after RocketMQ had it.
    let copy_config = MessageStoreConfig {
        store_path_root_dir: copy.clone(),
        ..config.clone()
    };
    let store = open_and_settle(&copy_config);
    assert_same_messages("Skylark → Java → Skylark", &ours, &skylark_dump(&store));
    store.shutdown();
}

/// Skylark crashes (abort file left, newest records possibly undispatched,
/// last ConsumeQueue/index/checkpoint state unflushed); RocketMQ's abnormal
/// recovery must find every message, as Skylark's own recovery does.
#[test]
fn skylark_store_after_crash_reads_in_java() {
    if !java_available("skylark_store_after_crash_reads_in_java", CHECKED) {
        return;
    }
    let scratch = Scratch::new("skylark-crash-to-java");
    let root = scratch.path().join("skylark");
    let config = compat_config(&root);
    let store = open_and_settle(&config);
    let mut puts = Vec::new();
    // Java's abnormal recovery re-dispatches from the newest CommitLog file
    // whose first record is older than min(physic, logics) − 3 s of the
    // checkpoint (else from the first file). Old records, a pause, then
    // enough newer ones to flush past that mark make a later file qualify,
    // so Skylark's checkpoint really decides where Java starts.
    put_range(&store, 0..1000, &mut puts);
    std::thread::sleep(Duration::from_millis(3500));
    put_range(&store, 1000..2000, &mut puts);
    assert!(store.wait_dispatched_all(DISPATCH_WAIT));
    // Let the async CommitLog flush record its timestamp, then write the
    // checkpoint (the ConsumeQueue flusher does so every second).
    std::thread::sleep(Duration::from_millis(1200));
    store.flush_logics();
    let cp = store.checkpoint();
    assert!(
        cp.min_timestamp() > puts[999].store_timestamp,
        "the checkpoint does not cover the first phase: physic {}, logics {}, first phase ended {}",
        cp.physic_msg_timestamp(),
        cp.logics_msg_timestamp(),
        puts[999].store_timestamp
    );
    // The newest records: stored, maybe not dispatched, nothing flushed.
    put_range(&store, 2000..2400, &mut puts);
    store.simulate_crash();
    assert!(
        config.abort_path().exists(),
        "a crash leaves the abort file"
    );

    let copy = scratch.path().join("java-reads");
    copy_dir(&root, &copy);
    write_compat_properties(&copy, &config);
    let queries = chosen_queries(&puts);
    let all_keys = every_key_query(&puts);
    let mut args = vec![os("read"), os(&copy)];
    args.extend(query_args(&all_keys));
    let r = harness(&args);
    assert_ok(&r);
    let java = parse_dump(&r.stdout);
    assert_matches_puts("Skylark crash → Java", &java.messages, &puts);
    // RocketMQ's recovery re-indexes the record at the surviving index
    // file's end offset, so a key may list that record twice: compare sets.
    let mut answers = java.queries.clone();
    for q in &mut answers {
        q.physical_offsets.dedup();
    }
    assert_same_queries("Skylark crash → Java", &all_keys, &answers);

    // Skylark's own recovery of the same bytes agrees.
    let mine = scratch.path().join("skylark-reads");
    copy_dir(&root, &mine);
    let mine_config = MessageStoreConfig {
        store_path_root_dir: mine,
        ..config.clone()
    };
    let store = open_and_settle(&mine_config);
    assert!(store.recovery_report().crashed);
    let ours = skylark_dump(&store);
    assert_same_messages("Skylark crash → Skylark", &java.messages, &ours);
    assert_every_key_indexed("Skylark crash → Skylark", &store, &ours);
    for q in &queries {
        assert_eq!(
            skylark_query(&store, &q.topic, &q.key),
            q.physical_offsets,
            "Skylark crash → Skylark: query_by_key({}, {})",
            q.topic,
            q.key
        );
    }
    store.shutdown();
}

/// The pid of another process holding an `fcntl` lock on byte 0 of `path`
/// that would block a write lock (Java's `FileChannel.tryLock(0, 1, false)`).
fn fcntl_lock_holder(path: &Path) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ok()?;
    // SAFETY: `flock` is a plain C struct of integers; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 1;
    // SAFETY: F_GETLK reads and writes the `struct flock` `fl`, which outlives
    // the call; the descriptor is open.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    (rc == 0 && fl.l_type != libc::F_UNLCK as libc::c_short).then_some(fl.l_pid)
}

/// Skylark and RocketMQ take the same lock, so neither opens a store the
/// other has open: RocketMQ's `start()` fails on a store Skylark holds, and
/// Skylark's `open` fails while RocketMQ runs on the store.
#[test]
fn skylark_and_java_exclude_each_other() {
    if !java_available("skylark_and_java_exclude_each_other", CHECKED) {
        return;
    }
    let scratch = Scratch::new("lock");
    let root = scratch.path().join("store");
    let config = compat_config(&root);
    let store = open_and_settle(&config);
    let mut puts = Vec::new();
    put_range(&store, 0..200, &mut puts);
    assert!(store.wait_dispatched_all(DISPATCH_WAIT));
    store.shutdown();
    drop(store);
    write_compat_properties(&root, &config);

    // Skylark holds the store: RocketMQ must refuse it. (Its `load()`, which
    // recovers, runs before `start()` takes the lock, as in a Java broker;
    // this store is thrown away afterwards.)
    let store = MessageStore::open(config.clone()).unwrap();
    // Let Skylark's pre-allocation of the next CommitLog file finish, so
    // RocketMQ's `load()` does not see a file still being sized.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let sizes: Vec<u64> = std::fs::read_dir(config.commit_log_dir())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .collect();
        let full = config.mapped_file_size_commit_log as u64;
        if sizes.len() >= 2 && sizes.iter().all(|&l| l == full) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = harness(&[os("read"), os(&root)]);
    assert!(
        r.code == Some(2) && r.stderr.contains("Lock failed"),
        "RocketMQ opened a store Skylark holds (exit {:?}; expected 2 with \"Lock failed\" \
         from DefaultMessageStore.start()): the two stores do not take the same lock.\n\
         --- stderr ---\n{}",
        r.code,
        r.stderr
    );
    store.shutdown();
    drop(store);

    // RocketMQ holds a copy of the store: Skylark must refuse it.
    let copy = scratch.path().join("copy");
    copy_dir(&root, &copy);
    let lock_path = copy.join("lock");
    let args = vec![os("read"), os(&copy)];
    let java = std::thread::spawn(move || harness(&args));
    let deadline = Instant::now() + HARNESS_TIMEOUT;
    let holder = loop {
        if let Some(pid) = fcntl_lock_holder(&lock_path) {
            break pid;
        }
        assert!(
            !java.is_finished() && Instant::now() < deadline,
            "RocketMQ never held {} (fcntl F_GETLK)",
            lock_path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let copy_config = MessageStoreConfig {
        store_path_root_dir: copy.clone(),
        ..config.clone()
    };
    let opened = MessageStore::open(copy_config);
    let still_held = fcntl_lock_holder(&lock_path);
    let r = java.join().unwrap();
    assert_ok(&r);
    match opened {
        Err(skylark_store::error::StoreError::Locked { .. }) => {}
        Err(e) => panic!(
            "Skylark failed on a store RocketMQ (pid {holder}) holds, but not with Locked: {e}"
        ),
        Ok(store) => {
            store.shutdown();
            panic!(
                "Skylark opened a store RocketMQ (pid {holder}) holds (lock still held after: {still_held:?})"
            );
        }
    }
}

/// Checks an index file's header against its slots and entries as Java's
/// `IndexFile.putKey` keeps them: `hashSlotCount` counts the slots that
/// hold an entry (Java increments it only when a key lands in an empty
/// slot), `indexCount` is entries + 1, and begin/end offsets are the first
/// and last entry's.
fn index_header_problems(path: &Path, slots: usize) -> Vec<String> {
    let b = std::fs::read(path).unwrap();
    let i32_at = |at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap());
    let i64_at = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().unwrap());
    let (begin_phy, end_phy) = (i64_at(16), i64_at(24));
    let (slot_count, index_count) = (i32_at(32), i32_at(36));
    let used = (0..slots).filter(|s| i32_at(40 + 4 * s) != 0).count();
    let entry_phy = |n: usize| i64_at(40 + 4 * slots + 20 * n + 4);
    let entries = usize::try_from(index_count).unwrap().saturating_sub(1);
    let mut problems = Vec::new();
    let name = path.file_name().unwrap().to_string_lossy();
    if usize::try_from(slot_count).ok() != Some(used) {
        problems.push(format!(
            "{name}: hashSlotCount {slot_count} but {used} slots are used ({entries} entries)"
        ));
    }
    if entries > 0 && (entry_phy(1), entry_phy(entries)) != (begin_phy, end_phy) {
        problems.push(format!(
            "{name}: begin/end phy offsets {begin_phy}/{end_phy}, entries say {}/{}",
            entry_phy(1),
            entry_phy(entries)
        ));
    }
    problems
}

fn index_problems(root: &Path, slots: usize) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no index files under {}", root.display());
    files
        .iter()
        .flat_map(|f| index_header_problems(f, slots))
        .collect()
}

/// Index file headers: RocketMQ's own files satisfy [`index_header_problems`]'s
/// rules, and Skylark's must too (the header is part of the bytes RocketMQ
/// reads back, e.g. in `IndexHeader.load`).
#[test]
fn index_headers_follow_java() {
    if !java_available("index_headers_follow_java", CHECKED) {
        return;
    }
    let scratch = Scratch::new("index-headers");
    let java_root = scratch.path().join("java");
    assert_ok(&harness(&[os("write"), os(&java_root), os("600")]));
    let config = config_from_properties(&java_root);
    let problems = index_problems(&java_root, config.max_hash_slot_num);
    assert!(problems.is_empty(), "RocketMQ's own index: {problems:#?}");

    let root = scratch.path().join("skylark");
    let config = compat_config(&root);
    let store = open_and_settle(&config);
    let mut puts = Vec::new();
    put_range(&store, 0..600, &mut puts);
    assert!(store.wait_dispatched_all(DISPATCH_WAIT));
    store.shutdown();
    drop(store);
    let problems = index_problems(&root, config.max_hash_slot_num);
    assert!(
        problems.is_empty(),
        "Skylark's index headers differ from RocketMQ's: {problems:#?}"
    );
}
