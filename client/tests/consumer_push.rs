//! The push consumer against a real `skylark standalone`: a group's members
//! split the queues and together get every message; broadcasting gives
//! each member everything; orderly listeners see queue order; "reconsume
//! later" comes back through the retry topic; offsets survive a restart
//! and a broker-side reset reaches a running consumer.

#![allow(clippy::unwrap_used, clippy::panic)]

mod consumer_support;
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::{
    Seen, bodies_of, client, create_topic, producer, recording_consumer, send_numbered,
};
use skylark_client::Message;
use skylark_client::consumer::{
    ConsumeConcurrentlyStatus, ConsumeFromWhere, ConsumeOrderlyStatus, MessageModel, PushConsumer,
    PushConsumerConfig, concurrently_fn, orderly_fn,
};
use support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_the_queues_and_lose_nothing() {
    let s = support::standalone();
    let topic = "SplitTopic";
    create_topic(&s, topic, 8).await;
    let seen: Seen = Arc::default();
    let mut a = recording_consumer(&s, "SplitGroup", "member-a", topic, &seen, |_| {});
    let mut b = recording_consumer(&s, "SplitGroup", "member-b", topic, &seen, |_| {});
    a.start().await.unwrap();
    b.start().await.unwrap();
    // B's heartbeat makes the broker notify A, which rebalances at once.
    let of_topic = |qs: Vec<skylark_client::MessageQueue>| {
        qs.into_iter()
            .filter(|q| q.topic == topic)
            .collect::<Vec<_>>()
    };
    eventually("both members to hold 4 of the 8 queues", || {
        let (qa, qb) = (of_topic(a.assigned_queues()), of_topic(b.assigned_queues()));
        async move { qa.len() == 4 && qb.len() == 4 && qa.iter().all(|q| !qb.contains(q)) }
    })
    .await;

    let sent = send_numbered(&s, topic, "split", 200).await;
    eventually("every message to arrive", || {
        let got = bodies_of(&seen, None);
        let all = sent.is_subset(&got);
        async move { all }
    })
    .await;
    let (got_a, got_b) = (
        bodies_of(&seen, Some("member-a")),
        bodies_of(&seen, Some("member-b")),
    );
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both members consumed"
    );
    assert_eq!(
        bodies_of(&seen, None),
        sent,
        "nothing lost, nothing foreign"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_gives_each_member_everything() {
    let s = support::standalone();
    let topic = "BroadcastTopic";
    create_topic(&s, topic, 4).await;
    let seen: Seen = Arc::default();
    let offsets_dir = s.dir.path().join("client-offsets");
    let tune = |c: &mut PushConsumerConfig| {
        c.message_model = MessageModel::Broadcasting;
        c.offset_store_dir = Some(offsets_dir.clone());
    };
    let mut a = recording_consumer(&s, "BcastGroup", "bcast-a", topic, &seen, tune);
    let mut b = recording_consumer(&s, "BcastGroup", "bcast-b", topic, &seen, tune);
    a.start().await.unwrap();
    b.start().await.unwrap();
    eventually("both members to hold all 4 queues", || {
        let ok = a.assigned_queues().len() == 4 && b.assigned_queues().len() == 4;
        // (Broadcasting subscribes no retry topic.)
        async move { ok }
    })
    .await;
    let sent = send_numbered(&s, topic, "bcast", 50).await;
    eventually("each member to get every message", || {
        let ok = sent.is_subset(&bodies_of(&seen, Some("bcast-a")))
            && sent.is_subset(&bodies_of(&seen, Some("bcast-b")));
        async move { ok }
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    // Broadcasting offsets are local: each member's offsets.json exists.
    for name in ["bcast-a", "bcast-b"] {
        let file = offsets_dir
            .join(format!("127.0.0.1@{name}"))
            .join("BcastGroup")
            .join("offsets.json");
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(text.contains("\"offsetTable\""), "{text}");
    }
    // A restarted member resumes from its file: only what came since.
    let later = send_numbered(&s, topic, "bcast-later", 10).await;
    let seen_again: Seen = Arc::default();
    let mut a = recording_consumer(&s, "BcastGroup", "bcast-a", topic, &seen_again, tune);
    a.start().await.unwrap();
    eventually("the restarted member to get the new messages", || {
        let ok = later.is_subset(&bodies_of(&seen_again, None));
        async move { ok }
    })
    .await;
    // Let anything wrongly redelivered arrive before checking for it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.shutdown().await;
    assert_eq!(bodies_of(&seen_again, None), later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_listener_sees_each_queue_in_order() {
    let s = support::standalone();
    let topic = "OrderTopic";
    create_topic(&s, topic, 4).await;
    let producer = producer(&s, "order-producer");
    let keys = ["order-a", "order-b", "order-c", "order-d", "order-e"];
    for seq in 0..30 {
        for key in keys {
            let m = Message::new(topic, format!("{key}:{seq}").into_bytes());
            producer.send_orderly(m, key).await.unwrap();
        }
    }
    producer.shutdown().await;

    // Per key, the sequence numbers consumed successfully, in call order.
    let order: Arc<Mutex<BTreeMap<String, Vec<u32>>>> = Arc::default();
    let suspended: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut config = PushConsumerConfig::new("OrderGroup", client(&s, "order-consumer"));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    config.suspend_current_queue_time = Duration::from_millis(200);
    let mut c = PushConsumer::new(config);
    c.subscribe(topic, "*").unwrap();
    let (o, sus) = (order.clone(), suspended.clone());
    c.register_orderly(orderly_fn(move |msgs, _ctx| {
        for m in msgs {
            let body = String::from_utf8_lossy(m.body()).into_owned();
            // Every seq 7 fails once: the queue must stop there and redeliver it.
            if body.ends_with(":7") && sus.lock().unwrap().insert(body.clone()) {
                return ConsumeOrderlyStatus::SuspendCurrentQueueAMoment;
            }
        }
        let mut o = o.lock().unwrap();
        for m in msgs {
            let body = String::from_utf8_lossy(m.body()).into_owned();
            let (key, seq) = body.split_once(':').unwrap();
            o.entry(key.to_owned())
                .or_default()
                .push(seq.parse().unwrap());
        }
        ConsumeOrderlyStatus::Success
    }));
    c.start().await.unwrap();
    eventually("every ordered message", || {
        let done = order.lock().unwrap().values().map(Vec::len).sum::<usize>() >= 150;
        async move { done }
    })
    .await;
    c.shutdown().await;
    let order = order.lock().unwrap();
    for key in keys {
        let seqs = &order[key];
        assert_eq!(seqs, &(0..30).collect::<Vec<u32>>(), "order of {key}");
    }
    assert_eq!(suspended.lock().unwrap().len(), 5);
}

/// Body → (reconsume times, topic) of each delivery.
type Deliveries = Arc<Mutex<HashMap<String, Vec<(i32, String)>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconsume_later_comes_back_through_the_retry_topic() {
    let s = support::standalone();
    let topic = "RetryTopic";
    create_topic(&s, topic, 2).await;
    let deliveries: Deliveries = Arc::default();
    let mut config = PushConsumerConfig::new("RetryGroup", client(&s, "retry-consumer"));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    let mut c = PushConsumer::new(config);
    c.subscribe(topic, "*").unwrap();
    let d = deliveries.clone();
    c.register_concurrently(concurrently_fn(move |msgs, ctx| {
        let mut d = d.lock().unwrap();
        let mut later = false;
        for m in msgs {
            let body = String::from_utf8_lossy(m.body()).into_owned();
            d.entry(body)
                .or_default()
                .push((m.reconsume_times(), m.topic().to_owned()));
            later |= m.reconsume_times() == 0;
        }
        if later {
            // Delay level 1: 1 s.
            ctx.delay_level_when_next_consume = 1;
            ConsumeConcurrentlyStatus::ReconsumeLater
        } else {
            ConsumeConcurrentlyStatus::ConsumeSuccess
        }
    }));
    c.start().await.unwrap();
    let sent = send_numbered(&s, topic, "retry", 10).await;
    eventually("each message to be redelivered once", || {
        let done = {
            let d = deliveries.lock().unwrap();
            sent.iter()
                .all(|b| d.get(b).is_some_and(|v| v.iter().any(|(t, _)| *t >= 1)))
        };
        // The retry topic's route appears once the broker made it.
        c.rebalance_now();
        async move { done }
    })
    .await;
    assert!(
        c.assigned_queues()
            .iter()
            .any(|q| q.topic == "%RETRY%RetryGroup"),
        "the retry topic is subscribed automatically: {:?}",
        c.assigned_queues()
    );
    c.shutdown().await;
    let d = deliveries.lock().unwrap();
    for body in &sent {
        let v = &d[body];
        assert_eq!(v[0], (0, topic.to_owned()), "{body}: {v:?}");
        // The redelivery shows the original topic, not %RETRY%.
        assert!(
            v.iter().any(|(t, tp)| *t == 1 && tp == topic),
            "{body}: {v:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_survive_a_restart() {
    let s = support::standalone();
    let topic = "RestartTopic";
    create_topic(&s, topic, 4).await;
    let first = send_numbered(&s, topic, "before", 40).await;
    let seen: Seen = Arc::default();
    let mut c = recording_consumer(&s, "RestartGroup", "restart-1", topic, &seen, |_| {});
    c.start().await.unwrap();
    eventually("the first batch", || {
        let ok = first.is_subset(&bodies_of(&seen, None));
        async move { ok }
    })
    .await;
    c.shutdown().await;

    let second = send_numbered(&s, topic, "after", 20).await;
    let seen2: Seen = Arc::default();
    let mut c = recording_consumer(&s, "RestartGroup", "restart-2", topic, &seen2, |_| {});
    c.start().await.unwrap();
    eventually("the second batch", || {
        let ok = second.is_subset(&bodies_of(&seen2, None));
        async move { ok }
    })
    .await;
    // Give stragglers a moment: nothing from before the restart comes again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.shutdown().await;
    assert_eq!(bodies_of(&seen2, None), second);
}

/// `skylark offset reset` (mqadmin `resetOffsetByTime`) while the group
/// runs: the broker rewrites the committed offsets and tells the member
/// (RESET_CONSUMER_CLIENT_OFFSET), which takes them instead of committing
/// its own over them, and consumes everything again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_reset_rewinds_a_running_consumer() {
    let s = support::standalone();
    let (topic, group) = ("ResetOnlineTopic", "ResetOnlineGroup");
    create_topic(&s, topic, 2).await;
    let seen: Seen = Arc::default();
    let mut c = recording_consumer(&s, group, "reset-member", topic, &seen, |c| {
        c.persist_consumer_offset_interval = Duration::from_secs(1);
    });
    c.start().await.unwrap();
    let sent = send_numbered(&s, topic, "reset", 20).await;
    let admin = s.admin();
    let committed = |admin: &skylark_client::admin::Admin| {
        let admin = admin.clone();
        async move {
            let mut sum = 0;
            for queue_id in 0..2 {
                let q = skylark_client::MessageQueue::new(topic, "broker-a", queue_id);
                sum += admin
                    .query_consumer_offset(group, &q)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            }
            sum
        }
    };
    eventually("every message consumed and its offset committed", || {
        let all = sent.is_subset(&bodies_of(&seen, None));
        let committed = committed(&admin);
        async move { all && committed.await == 20 }
    })
    .await;

    let moved = admin
        .reset_offset_by_time(group, topic, 0, true)
        .await
        .unwrap();
    assert_eq!(moved.values().sum::<i64>(), 0, "{moved:?}");
    eventually("every message a second time", || {
        let seen = seen.lock().unwrap();
        let twice = sent
            .iter()
            .all(|b| seen.iter().filter(|(_, got)| got == b).count() >= 2);
        async move { twice }
    })
    .await;
    eventually("the offsets committed at the end again", || {
        let committed = committed(&admin);
        async move { committed.await == 20 }
    })
    .await;
    admin.shutdown();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_members_lock_their_queues_and_hand_them_over() {
    let s = support::standalone();
    let topic = "LockTopic";
    create_topic(&s, topic, 4).await;
    let order: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let member = |name: &str| {
        let mut config = PushConsumerConfig::new("LockGroup", client(&s, name));
        config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
        let mut c = PushConsumer::new(config);
        c.subscribe(topic, "*").unwrap();
        let (o, name) = (order.clone(), name.to_owned());
        c.register_orderly(orderly_fn(move |msgs, _ctx| {
            let mut o = o.lock().unwrap();
            for m in msgs {
                o.push((name.clone(), String::from_utf8_lossy(m.body()).into_owned()));
            }
            ConsumeOrderlyStatus::Success
        }));
        c
    };
    let of_topic = |c: &PushConsumer| {
        c.assigned_queues()
            .into_iter()
            .filter(|q| q.topic == topic)
            .collect::<Vec<_>>()
    };
    let mut a = member("lock-a");
    let mut b = member("lock-b");
    a.start().await.unwrap();
    b.start().await.unwrap();
    eventually("each member to hold and lock 2 queues", || {
        let ok = [&a, &b].iter().all(|c| {
            let qs = of_topic(c);
            qs.len() == 2
                && qs
                    .iter()
                    .all(|q| c.process_queue(q).is_some_and(|pq| pq.is_locked()))
        });
        async move { ok }
    })
    .await;
    // B leaves, releasing its locks; A takes every queue over.
    b.shutdown().await;
    eventually("the remaining member to lock all 4 queues", || {
        let qs = of_topic(&a);
        let ok = qs.len() == 4
            && qs
                .iter()
                .all(|q| a.process_queue(q).is_some_and(|pq| pq.is_locked()));
        async move { ok }
    })
    .await;
    let p = producer(&s, "lock-producer");
    for seq in 0..40 {
        let key = format!("k{}", seq % 4);
        let m = Message::new(topic, format!("{key}:{seq}").into_bytes());
        p.send_orderly(m, &key).await.unwrap();
    }
    p.shutdown().await;
    eventually("every message at the remaining member", || {
        let n = order.lock().unwrap().len();
        async move { n >= 40 }
    })
    .await;
    a.shutdown().await;
    let order = order.lock().unwrap();
    assert!(order.iter().all(|(who, _)| who == "lock-a"));
    for key in ["k0", "k1", "k2", "k3"] {
        let seqs: Vec<u32> = order
            .iter()
            .filter_map(|(_, b)| {
                b.strip_prefix(&format!("{key}:"))
                    .map(|s| s.parse().unwrap())
            })
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{key}: {seqs:?}");
        assert_eq!(seqs.len(), 10, "{key}: {seqs:?}");
    }
}
