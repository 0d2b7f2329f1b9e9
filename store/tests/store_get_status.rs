#![allow(clippy::unwrap_used)]
//! Every `GetMessageStatus` a pull can end with, the next offset each
//! implies (`getMessage`), and the hot/cold transfer limits.

mod store_support;

use skylark_store::MessageStore;
use skylark_store::config::BrokerRole;
use skylark_store::consume_queue::file_name;
use skylark_store::message_store::GetMessageStatus as S;
use store_support::{CQ_PER_FILE, all, config, decode, msg, open, put_ok, settle};
use tempfile::TempDir;

fn fill(store: &MessageStore, topic: &str, n: usize, body_len: usize) {
    for i in 0..n {
        put_ok(store, &msg(topic, 0, &vec![i as u8; body_len], "TagA", &[]));
    }
    settle(store);
}

#[test]
fn statuses_and_next_offsets() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "S", 10, 10);
    let get = |topic: &str, offset| store.get_messages(topic, 0, offset, 32, 1 << 20, &all);

    let r = get("Unknown", 7);
    assert_eq!((r.status, r.next_begin_offset), (S::NoMatchedLogicQueue, 0));
    store.consume_queues().get_or_create("Empty", 0).unwrap();
    let r = get("Empty", 3);
    assert_eq!((r.status, r.next_begin_offset), (S::NoMessageInQueue, 0));
    let r = get("S", 10);
    assert_eq!((r.status, r.next_begin_offset), (S::OffsetOverflowOne, 10));
    let r = get("S", 15);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (S::OffsetOverflowBadly, 10)
    );
    let r = get("S", 0);
    assert_eq!(
        (r.status, r.next_begin_offset, r.max_offset),
        (S::Found, 10, 10)
    );
    assert_eq!(r.messages.len(), 10);

    // Move the minimum as retention would: entries below it are gone.
    let third = decode(&get("S", 3).messages[0]).physical_offset;
    let cq = store.consume_queues().queue("S", 0).unwrap();
    cq.correct_min_offset(third).unwrap();
    let r = get("S", 1);
    assert_eq!(
        (r.status, r.next_begin_offset, r.min_offset),
        (S::OffsetTooSmall, 3, 3)
    );
    assert_eq!(store.min_offset("S", 0), 3);
}

#[test]
fn a_slave_keeps_the_consumers_offset() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "S", 3, 10);
    store.shutdown();
    drop(store);
    let mut c = config(dir.path());
    c.broker_role = BrokerRole::Slave;
    let slave = MessageStore::open(c).unwrap();
    let r = slave.get_messages("S", 0, 9, 32, 1 << 20, &all);
    assert_eq!((r.status, r.next_begin_offset), (S::OffsetOverflowBadly, 9));
    let r = slave.get_messages("Unknown", 0, 9, 32, 1 << 20, &all);
    assert_eq!(r.next_begin_offset, 9);
    let put = slave
        .put_message(&msg("S", 0, b"x", "", &[]))
        .wait_blocking();
    assert_eq!(
        put.status,
        skylark_store::error::PutMessageStatus::ServiceNotAvailable
    );
}

#[test]
fn an_unreadable_consume_queue_file_gives_offset_found_null() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Gap", CQ_PER_FILE * 3, 10);
    let middle = dir
        .path()
        .join("consumequeue/Gap/0")
        .join(file_name((CQ_PER_FILE * 20) as i64));
    std::fs::remove_file(middle).unwrap();
    let r = store.get_messages("Gap", 0, CQ_PER_FILE as i64 + 5, 32, 1 << 20, &all);
    assert_eq!(r.status, S::OffsetFoundNull);
    assert_eq!(r.next_begin_offset, 2 * CQ_PER_FILE as i64);
    let r = store.get_messages("Gap", 0, 2 * CQ_PER_FILE as i64, 32, 1 << 20, &all);
    assert_eq!(r.status, S::Found);
}

#[test]
fn hot_reads_stop_at_32_messages_or_256_kib() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Hot", 100, 100);
    let r = store.get_messages("Hot", 0, 0, 100, 64 << 20, &all);
    assert_eq!((r.messages.len(), r.next_begin_offset), (32, 32));
    let r = store.get_messages("Hot", 0, 0, 5, 64 << 20, &all);
    assert_eq!((r.messages.len(), r.next_begin_offset), (5, 5));
    let one = r.messages[0].len();
    // max_bytes: a message that would cross it is left for the next pull.
    let r = store.get_messages("Hot", 0, 0, 100, one * 3 + 1, &all);
    assert_eq!((r.messages.len(), r.buffer_total_size), (3, one * 3));
    // The first message is returned even when larger than max_bytes.
    let r = store.get_messages("Hot", 0, 0, 100, 1, &all);
    assert_eq!(r.messages.len(), 1);
    assert!(!r.suggest_pulling_from_slave);
}

#[test]
fn cold_reads_stop_at_8_messages_or_64_kib() {
    let dir = TempDir::new().unwrap();
    let mut c = config(dir.path());
    c.access_message_in_memory_max_ratio = 0;
    let store = MessageStore::open(c).unwrap();
    fill(&store, "Cold", 20, 100);
    let r = store.get_messages("Cold", 0, 0, 32, 64 << 20, &all);
    assert_eq!((r.messages.len(), r.next_begin_offset), (8, 8));
    fill(&store, "Big", 20, 15_000);
    let r = store.get_messages("Big", 0, 0, 32, 64 << 20, &all);
    assert_eq!(r.messages.len(), 4, "64 KiB of ~15 KiB records");
}

#[test]
fn reads_after_retention_removed_old_segments() {
    use skylark_store::retention::{RetentionOptions, RetentionService};
    use std::time::{Duration, SystemTime};
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    fill(&store, "Old", 300, 600);
    let mut opts = RetentionOptions::from_config(store.config());
    opts.file_reserved_time = Duration::ZERO;
    opts.delete_files_interval = Duration::ZERO;
    let svc = RetentionService::new(
        store.commit_log(),
        std::sync::Arc::clone(store.consume_queues()),
        store.index().cloned(),
        opts,
    );
    svc.request_manual_delete();
    let report = svc.run_once(SystemTime::now() + Duration::from_secs(3600));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let cl_min = store.commit_log_min_offset();
    assert!(cl_min > 0, "{report:?}");
    let min = store.min_offset("Old", 0);
    assert!(min > 0);
    let r = store.get_messages("Old", 0, 0, 32, 1 << 20, &all);
    assert_eq!((r.status, r.next_begin_offset), (S::OffsetTooSmall, min));
    let r = store.get_messages("Old", 0, min, 32, 1 << 20, &all);
    assert_eq!(r.status, S::Found);
    assert!(decode(&r.messages[0]).physical_offset >= cl_min);
    assert!(store.earliest_store_time("Old", 0) > 0);
    assert_eq!(put_ok(&store, &msg("Old", 0, b"n", "", &[])), 300);
}

#[test]
fn entries_whose_records_were_deleted_give_message_was_removing() {
    use skylark_store::consume_queue::{ConsumeQueueConfig, ConsumeQueueStore};
    use skylark_store::retention::{RetentionOptions, RetentionService};
    use std::time::{Duration, SystemTime};
    let dir = TempDir::new().unwrap();
    let mut c = config(dir.path());
    c.max_filter_message_size = 5 * 20;
    let store = MessageStore::open(c).unwrap();
    fill(&store, "Rm", 300, 600);
    let mut opts = RetentionOptions::from_config(store.config());
    opts.file_reserved_time = Duration::ZERO;
    opts.delete_files_interval = Duration::ZERO;
    // Retention over the CommitLog only: the store's ConsumeQueues keep
    // pointing at the deleted records, as they do until retention's second
    // half runs.
    let other = TempDir::new().unwrap();
    let unrelated =
        ConsumeQueueStore::open(other.path().join("cq"), ConsumeQueueConfig::default()).unwrap();
    let svc = RetentionService::new(
        store.commit_log(),
        std::sync::Arc::new(unrelated),
        None,
        opts,
    );
    svc.request_manual_delete();
    svc.run_once(SystemTime::now() + Duration::from_secs(3600));
    assert!(store.commit_log_min_offset() > 0);
    assert_eq!(store.min_offset("Rm", 0), 0);
    let r = store.get_messages("Rm", 0, 0, 1, 1 << 20, &all);
    assert_eq!((r.status, r.next_begin_offset), (S::MessageWasRemoving, 5));
    assert!(r.messages.is_empty());
}
