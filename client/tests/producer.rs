//! The producer against a real `skylark standalone`: sync, async, oneway
//! and batch sends read back through the admin client, compression, topic
//! auto-creation, retries around a dead broker, ordered sends and
//! transactions (commit, rollback, check).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use skylark_client::producer::selector::hash_index;
use skylark_client::producer::{
    LocalTransactionState, Producer, TransactionListener, TransactionProducer,
};
use skylark_client::{Message, SendStatus, StoredMessage};
use support::{create_topic, eventually, standalone, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sends_round_robin_and_read_back() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("sync");
    create_topic(&admin, &topic, 4).await;
    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();

    let mut queues = Vec::new();
    for i in 0..8 {
        let msg = Message::new(&topic, format!("body-{i}"))
            .with_tags("TagA")
            .with_keys([format!("key-{i}").as_str()]);
        let r = producer.send(msg).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert_eq!(r.queue.topic, topic);
        // The stored message is the one sent, with the UNIQ_KEY the result names.
        let stored = admin.view_message(&r.offset_msg_id).await.unwrap();
        assert_eq!(&stored.body[..], format!("body-{i}").as_bytes());
        assert_eq!(stored.uniq_key(), Some(r.msg_id.as_str()));
        assert_eq!(stored.tags(), Some("TagA"));
        assert_eq!(stored.keys(), Some(format!("key-{i}").as_str()));
        assert_eq!(stored.queue_id, r.queue.queue_id);
        assert_eq!(stored.queue_offset, r.queue_offset);
        queues.push(r.queue.queue_id);
    }
    // Round robin: each send takes the next queue.
    for pair in queues.windows(2) {
        assert_eq!(pair[1], (pair[0] + 1) % 4, "{queues:?}");
    }
    let d = support::wait_stored(&admin, &topic, 8).await;
    assert_eq!(d.queues.len(), 4);
    assert!(d.queues.iter().all(|q| q.max_offset == 2), "{:?}", d.queues);
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_oneway_batch_and_compressed_sends() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("many");
    create_topic(&admin, &topic, 2).await;
    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();

    // 40 async sends in flight at once; every one stored at its own offset.
    let handles: Vec<_> = (0..40)
        .map(|i| producer.send_async(Message::new(&topic, format!("async-{i}"))))
        .collect();
    let mut positions = BTreeSet::new();
    for h in handles {
        let r = h.await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert!(positions.insert((r.queue.queue_id, r.queue_offset)));
    }

    // 10 oneway sends: no result, but stored.
    for i in 0..10 {
        producer
            .send_oneway(Message::new(&topic, format!("oneway-{i}")))
            .await
            .unwrap();
    }

    // A batch of 10 lands contiguously in one queue.
    let batch: Vec<_> = (0..10)
        .map(|i| Message::new(&topic, format!("batch-{i}")).with_keys([format!("bk-{i}").as_str()]))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    let ids: Vec<_> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), 10);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 10);
    let offset_ids: Vec<_> = r.offset_msg_id.split(',').collect();
    assert_eq!(offset_ids.len(), 10, "{}", r.offset_msg_id);
    for (i, oid) in offset_ids.iter().enumerate() {
        let m = admin.view_message(oid).await.unwrap();
        assert_eq!(&m.body[..], format!("batch-{i}").as_bytes());
        assert_eq!(m.uniq_key(), Some(ids[i]));
        assert_eq!(m.queue_id, r.queue.queue_id);
        assert_eq!(m.queue_offset, r.queue_offset + i as i64);
    }

    // A body over 4 KiB is compressed on the wire and read back whole.
    let big: String = (0..2000).map(|i| format!("{i:05}")).collect();
    let r = producer
        .send(Message::new(&topic, big.clone()))
        .await
        .unwrap();
    let m = admin.view_message(&r.offset_msg_id).await.unwrap();
    assert_eq!(&m.body[..], big.as_bytes());

    // Everything arrived: 40 + 10 + 10 + 1.
    support::wait_stored(&admin, &topic, 61).await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topic_is_created_from_the_default_topic() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("auto");
    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();
    let r = producer.send(Message::new(&topic, "first")).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    // The broker created it with the producer's 4 queues and registers it.
    let route = support::eventually_some("route of the new topic", || async {
        Ok(admin.topic_route(&topic).await.ok())
    })
    .await;
    assert_eq!(route.queue_datas[0].write_queue_nums, 4, "{route:?}");

    // A topic that exists read-only is not sent to through the default topic.
    let read_only = unique("ro");
    let mut config = support::topic_config(&read_only, 2);
    config.perm = 4;
    admin.create_topic_in_cluster(None, &config).await.unwrap();
    eventually("route of the read-only topic", || async {
        admin.topic_route(&read_only).await.is_ok()
    })
    .await;
    let err = producer
        .send(Message::new(&read_only, "no"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, skylark_client::ClientError::NoRoute { .. }),
        "{err}"
    );
    assert!(err.hint().is_some());
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_retry_around_a_dead_broker() {
    let s = standalone();
    let (_b_addr, mut broker_b) = s.add_broker("broker-b");
    let admin = s.admin();
    eventually("two masters", || async {
        admin.masters(None).await.unwrap().len() == 2
    })
    .await;
    let topic = unique("retry");
    create_topic(&admin, &topic, 8).await;

    // One producer with latency fault tolerance, one without (Java's
    // default): both cache a route naming both brokers while they live.
    let mut producers = Vec::new();
    for fault_enabled in [true, false] {
        let mut config = s.producer_config(&unique("pg"));
        config.fault.enabled = fault_enabled;
        // No periodic refresh in this test: the cached route must keep naming broker-b.
        config.client.poll_name_server_interval = std::time::Duration::from_secs(3600);
        let producer = Producer::start(config).unwrap();
        producer
            .send(Message::new(&topic, "warm-up"))
            .await
            .unwrap();
        let queues = producer.publish_queues(&topic).await.unwrap();
        let brokers: BTreeSet<_> = queues.iter().map(|q| q.broker_name.as_str()).collect();
        assert_eq!(brokers, BTreeSet::from(["broker-a", "broker-b"]));
        producers.push((fault_enabled, producer));
    }
    // broker-b dies; the cached routes still name it.
    broker_b.kill();
    for (fault_enabled, producer) in &producers {
        let queues = producer.publish_queues(&topic).await.unwrap();
        assert!(queues.iter().any(|q| q.broker_name == "broker-b"));
        for i in 0..10 {
            let r = producer
                .send(Message::new(&topic, format!("after-{i}")))
                .await
                .unwrap_or_else(|e| panic!("send {i} (fault tolerance {fault_enabled}): {e}"));
            assert_eq!(r.queue.broker_name, "broker-a");
        }
        if *fault_enabled {
            assert!(!producer.fault_tolerance().is_available("broker-b"));
            assert!(producer.fault_tolerance().is_available("broker-a"));
        }
        producer.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_sends_keep_a_key_on_one_queue() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("order");
    create_topic(&admin, &topic, 4).await;
    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();
    let keys = ["order-1", "order-2", "order-3", "order-4", "order-5"];
    let mut seen: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for round in 0..6 {
        for key in keys {
            let r = producer
                .send_orderly(Message::new(&topic, format!("{key}:{round}")), key)
                .await
                .unwrap();
            seen.entry(key)
                .or_default()
                .push((r.queue.queue_id, r.queue_offset));
        }
    }
    for (key, sends) in &seen {
        let queue = sends[0].0;
        assert!(sends.iter().all(|(q, _)| *q == queue), "{key}: {sends:?}");
        // Java's SelectMessageQueueByHash picks the same queue.
        assert_eq!(queue as usize, hash_index(key, 4));
        // In send order.
        assert!(
            sends.windows(2).all(|w| w[0].1 < w[1].1),
            "{key}: {sends:?}"
        );
    }
    // A closure selector: always the last queue.
    let last = |qs: &[skylark_client::MessageQueue], _: &Message| qs.len() - 1;
    let r = producer
        .send_with_selector(Message::new(&topic, "last"), &last)
        .await
        .unwrap();
    assert_eq!(r.queue.queue_id, 3);
    producer.shutdown().await;
}

/// Commits bodies starting with `c`, rolls back `r`, leaves `u` unknown
/// until the broker checks, then commits it.
#[derive(Default)]
struct Listener {
    executed: AtomicUsize,
    checked: AtomicUsize,
}

impl TransactionListener for Listener {
    fn execute_local_transaction(
        &self,
        msg: &Message,
        transaction_id: &str,
    ) -> LocalTransactionState {
        assert!(!transaction_id.is_empty());
        self.executed.fetch_add(1, Ordering::SeqCst);
        match msg.body.first() {
            Some(b'c') => LocalTransactionState::CommitMessage,
            Some(b'r') => LocalTransactionState::RollbackMessage,
            _ => LocalTransactionState::Unknown,
        }
    }

    fn check_local_transaction(&self, msg: &StoredMessage) -> LocalTransactionState {
        assert_eq!(
            msg.body.first(),
            Some(&b'u'),
            "only the unknown one is checked"
        );
        self.checked.fetch_add(1, Ordering::SeqCst);
        LocalTransactionState::CommitMessage
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_roll_back_and_answer_checks() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("tx");
    create_topic(&admin, &topic, 1).await;
    let listener = Arc::new(Listener::default());
    let producer =
        TransactionProducer::start(s.producer_config(&unique("txg")), listener.clone()).unwrap();

    let c = producer
        .send_in_transaction(Message::new(&topic, "commit-me"))
        .await
        .unwrap();
    assert_eq!(c.local_state, LocalTransactionState::CommitMessage);
    assert!(c.send.transaction_id.is_some());
    let r = producer
        .send_in_transaction(Message::new(&topic, "rollback-me"))
        .await
        .unwrap();
    assert_eq!(r.local_state, LocalTransactionState::RollbackMessage);
    let u = producer
        .send_in_transaction(Message::new(&topic, "unknown-first"))
        .await
        .unwrap();
    assert_eq!(u.local_state, LocalTransactionState::Unknown);
    assert_eq!(listener.executed.load(Ordering::SeqCst), 3);

    // The committed one and, after the broker's check, the unknown one become
    // visible in the topic; the rolled-back one never does.
    eventually("two committed messages", || async {
        let d = admin.describe_topic(&topic).await.unwrap();
        d.queues.iter().map(|q| q.max_offset).sum::<i64>() >= 2
    })
    .await;
    assert!(listener.checked.load(Ordering::SeqCst) >= 1);
    let mut bodies = BTreeSet::new();
    for id in [&c.send.msg_id, &u.send.msg_id] {
        let found = support::eventually_some("committed message by id", || async {
            let found = admin.query_message_by_uniq_key(&topic, id).await?;
            Ok(found.into_iter().find(|m| m.topic == topic))
        })
        .await;
        bodies.insert(String::from_utf8(found.body.to_vec()).unwrap());
    }
    assert_eq!(
        bodies,
        BTreeSet::from(["commit-me".to_owned(), "unknown-first".to_owned()])
    );
    // Give a wrongly committed rollback every chance to show up: checks run every second.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let d = admin.describe_topic(&topic).await.unwrap();
    assert_eq!(d.queues.iter().map(|q| q.max_offset).sum::<i64>(), 2);
    assert!(
        admin
            .query_message_by_uniq_key(&topic, &r.send.msg_id)
            .await
            .unwrap()
            .iter()
            .all(|m| m.topic != topic)
    );
    producer.shutdown().await;
}
