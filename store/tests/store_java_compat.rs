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

#[path = "store_java_compat/dump_lines.rs"]
mod dump_lines;
#[path = "store_java_compat/geometry.rs"]
mod geometry;
#[path = "store_java_compat/java_harness.rs"]
mod java_harness;
#[path = "store_java_compat/sky_messages.rs"]
mod sky_messages;
#[path = "store_java_compat/store_dirs.rs"]
mod store_dirs;
use dump_lines::*;
use geometry::*;
use java_harness::*;
use sky_messages::*;
use store_dirs::*;

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
