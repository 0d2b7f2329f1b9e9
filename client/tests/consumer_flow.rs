//! Flow control and bodies: a slow listener makes the push consumer stop
//! pulling at `pull_threshold_for_queue` instead of caching without bound;
//! compressed bodies arrive inflated; an offset past the queue's end is
//! corrected by the broker. Against a real `skylark standalone`.

#![allow(clippy::unwrap_used, clippy::panic)]

mod consumer_support;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use consumer_support::{
    Seen, bodies_of, client, create_topic, producer, recording_consumer, send_numbered,
};
use skylark_client::consumer::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, ConsumeFromWhere, ListenerFuture,
    MessageExt, MessageListenerConcurrently, PushConsumer, PushConsumerConfig,
};
use skylark_client::{Message, MessageQueue};
use skylark_protocol::body::SubscriptionGroupConfig;
use support::{eventually, wait_stored};
use tokio::sync::Semaphore;

/// An async listener that waits for a permit per call and checks bodies.
struct Gated {
    gate: Arc<Semaphore>,
    consumed: Arc<AtomicUsize>,
    body_len: usize,
}

impl MessageListenerConcurrently for Gated {
    fn consume_message<'a>(
        &'a self,
        msgs: &'a [MessageExt],
        _ctx: &'a mut ConsumeConcurrentlyContext,
    ) -> ListenerFuture<'a, ConsumeConcurrentlyStatus> {
        Box::pin(async move {
            self.gate.acquire().await.unwrap().forget();
            for m in msgs {
                assert_eq!(m.body().len(), self.body_len);
                assert!(m.body().iter().all(|b| *b == b'x'));
            }
            self.consumed.fetch_add(msgs.len(), Ordering::SeqCst);
            ConsumeConcurrentlyStatus::ConsumeSuccess
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_listener_pauses_pulling_and_compressed_bodies_arrive_whole() {
    let s = support::standalone();
    let topic = "FlowTopic";
    create_topic(&s, topic, 1).await;
    // 8 KiB bodies: the producer compresses them (over 4 KiB).
    let body_len = 8 * 1024;
    let total = 120;
    let producer = producer(&s, "flow-producer");
    for _ in 0..total {
        producer
            .send(Message::new(topic, vec![b'x'; body_len]))
            .await
            .unwrap();
    }
    producer.shutdown().await;

    let gate = Arc::new(Semaphore::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    let mut config = PushConsumerConfig::new("FlowGroup", client(&s, "flow-consumer"));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    config.pull_threshold_for_queue = 20;
    config.pull_batch_size = 8;
    let mut c = PushConsumer::new(config);
    c.subscribe(topic, "*").unwrap();
    c.register_concurrently(Gated {
        gate: gate.clone(),
        consumed: consumed.clone(),
        body_len,
    });
    c.start().await.unwrap();
    let mq = wait_for_queue(&c, topic).await;
    let pq = c.process_queue(&mq).unwrap();
    eventually("the cache to fill up to the threshold", || {
        let n = pq.cached_count();
        async move { n > 20 }
    })
    .await;
    // Pulling stops once over the threshold: at most one batch beyond it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cached = pq.cached_count();
    assert!((21..=28).contains(&cached), "cached {cached}");
    assert_eq!(
        pq.cached_bytes(),
        cached * body_len,
        "bodies counted inflated"
    );
    assert_eq!(consumed.load(Ordering::SeqCst), 0);

    gate.add_permits(total);
    eventually("every message consumed", || {
        let n = consumed.load(Ordering::SeqCst);
        async move { n == total }
    })
    .await;
    c.shutdown().await;
}

async fn wait_for_queue(c: &PushConsumer, topic: &str) -> skylark_client::MessageQueue {
    eventually("the queue to be taken", || {
        let ok = c.assigned_queues().iter().any(|q| q.topic == topic);
        async move { ok }
    })
    .await;
    c.assigned_queues()
        .into_iter()
        .find(|q| q.topic == topic)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_beyond_the_queue_is_corrected_by_the_broker() {
    let s = support::standalone();
    let topic = "MovedTopic";
    create_topic(&s, topic, 1).await;
    let sent = send_numbered(&s, topic, "moved", 5).await;
    let admin = s.admin();
    // The broker corrects to the max offset: all five must count.
    wait_stored(&admin, topic, 5).await;
    // Commit an offset far past the end for the group (as an operator
    // could): the group first, then its offset.
    admin
        .create_group_in_cluster(None, &SubscriptionGroupConfig::new("MovedGroup"))
        .await
        .unwrap();
    // The standalone's broker is broker-a.
    let mq = MessageQueue::new(topic, "broker-a", 0);
    admin
        .update_consumer_offset("MovedGroup", &mq, 1000)
        .await
        .unwrap();
    admin.shutdown();

    // The pull at 1000 is answered PULL_OFFSET_MOVED with the queue's end
    // (Java 5 corrects an overflow to the max offset); the consumer drops
    // the queue and takes it afresh from there: later messages arrive, the
    // five below it are not read.
    let seen: Seen = Arc::default();
    let mut c = recording_consumer(&s, "MovedGroup", "moved-consumer", topic, &seen, |_| {});
    c.start().await.unwrap();
    eventually("the queue to be pulled", || {
        let ok = c.assigned_queues().contains(&mq);
        async move { ok }
    })
    .await;
    let later = send_numbered(&s, topic, "later", 3).await;
    eventually("the messages sent after the correction", || {
        let ok = later.is_subset(&bodies_of(&seen, None));
        async move { ok }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.shutdown().await;
    assert_eq!(bodies_of(&seen, None), later);
    assert_eq!(sent.len(), 5);
}
