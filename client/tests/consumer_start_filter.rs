//! Where a push consumer starts without a committed offset (first, last,
//! timestamp) and what it selects (tags on both sides, SQL92 on the
//! broker), against a real `skylark standalone`.

#![allow(clippy::unwrap_used, clippy::panic)]

mod consumer_support;
mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::{
    Seen, bodies_of, client, create_topic, producer, recording_consumer, send_numbered,
};
use skylark_client::Message;
use skylark_client::consumer::{
    ConsumeConcurrentlyStatus, ConsumeFromWhere, MessageSelector, PushConsumer, PushConsumerConfig,
    concurrently_fn,
};
use support::{eventually, now_ms, wait_stored};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_from_first_last_and_timestamp() {
    // Java 5's broker answers a new group's offset query with 0 while the
    // queue starts at 0 and its first message is "in memory", so on a young
    // queue every new group reads from the start whatever its
    // ConsumeFromWhere (Java consumers too). A zero memory budget makes the
    // broker answer QUERY_NOT_FOUND, so the client's own choice applies.
    let s = support::standalone_with_conf("accessMessageInMemoryMaxRatio=0\n");
    let topic = "FromWhereTopic";
    create_topic(&s, topic, 2).await;
    let early = send_numbered(&s, topic, "early", 10).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cut = now_ms();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late = send_numbered(&s, topic, "late", 10).await;
    // The max offset a last-offset consumer starts from must count them all.
    let admin = s.admin();
    wait_stored(&admin, topic, 20).await;
    admin.shutdown();
    let everything: HashSet<String> = early.union(&late).cloned().collect();

    let seen: Seen = Arc::default();
    let mut first = recording_consumer(&s, "FromFirst", "from-first", topic, &seen, |_| {});
    let mut stamp = recording_consumer(&s, "FromStamp", "from-stamp", topic, &seen, |c| {
        c.consume_from_where = ConsumeFromWhere::ConsumeFromTimestamp;
        c.consume_timestamp_ms = cut;
    });
    let mut last = recording_consumer(&s, "FromLast", "from-last", topic, &seen, |c| {
        c.consume_from_where = ConsumeFromWhere::ConsumeFromLastOffset;
    });
    for c in [&mut first, &mut stamp, &mut last] {
        c.start().await.unwrap();
    }
    eventually("every queue taken", || {
        let ok = [&first, &stamp, &last].iter().all(|c| {
            c.assigned_queues()
                .iter()
                .filter(|q| q.topic == topic)
                .count()
                == 2
        });
        async move { ok }
    })
    .await;
    let newer = send_numbered(&s, topic, "newer", 5).await;
    eventually("the newest messages at every consumer", || {
        let ok = ["from-first", "from-stamp", "from-last"]
            .iter()
            .all(|n| newer.is_subset(&bodies_of(&seen, Some(n))));
        async move { ok }
    })
    .await;
    eventually("the first-offset consumer to read everything", || {
        let ok = everything.is_subset(&bodies_of(&seen, Some("from-first")));
        async move { ok }
    })
    .await;
    eventually("the timestamp consumer to read the late batch", || {
        let ok = late.is_subset(&bodies_of(&seen, Some("from-stamp")));
        async move { ok }
    })
    .await;
    let stamped = bodies_of(&seen, Some("from-stamp"));
    assert!(
        stamped.is_disjoint(&early),
        "messages stored before the timestamp: {:?}",
        stamped.intersection(&early).collect::<Vec<_>>()
    );
    // Let anything wrongly selected arrive before checking for it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stamped = bodies_of(&seen, Some("from-stamp"));
    assert!(
        stamped.is_disjoint(&early),
        "timestamp consumer read early messages"
    );
    let lasted = bodies_of(&seen, Some("from-last"));
    assert_eq!(
        lasted, newer,
        "the last-offset consumer reads only what came after it started"
    );
    for c in [&mut first, &mut stamp, &mut last] {
        c.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_and_sql92_subscriptions_select_messages() {
    let s = support::standalone_with_conf("enablePropertyFilter=true\n");
    let topic = "FilterTopic";
    create_topic(&s, topic, 2).await;

    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let consumer = |group: &str, selector: MessageSelector| {
        let mut config = PushConsumerConfig::new(group, client(&s, group));
        config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
        let mut c = PushConsumer::new(config);
        c.subscribe_with(topic, selector).unwrap();
        let (got, group) = (got.clone(), group.to_owned());
        c.register_concurrently(concurrently_fn(move |msgs, _ctx| {
            let mut got = got.lock().unwrap();
            for m in msgs {
                got.push((
                    group.clone(),
                    String::from_utf8_lossy(m.body()).into_owned(),
                ));
            }
            ConsumeConcurrentlyStatus::ConsumeSuccess
        }));
        c
    };
    let mut tags = consumer("TagGroup", MessageSelector::Tag("TagA || TagC".into()));
    let mut sql = consumer(
        "SqlGroup",
        MessageSelector::Sql92("n > 14 AND color = 'red'".into()),
    );
    tags.start().await.unwrap();
    sql.start().await.unwrap();

    let producer = producer(&s, "filter-producer");
    let tag_names = ["TagA", "TagB", "TagC"];
    for n in 0..30 {
        let color = if n % 2 == 0 { "red" } else { "blue" };
        let m = Message::new(topic, format!("m{n}").into_bytes())
            .with_tags(tag_names[n % 3])
            .with_property("n", n.to_string())
            .with_property("color", color);
        producer.send(m).await.unwrap();
    }
    // A message without tags matches only `*`.
    producer
        .send(Message::new(topic, &b"untagged"[..]))
        .await
        .unwrap();
    producer.shutdown().await;

    let want_tags: HashSet<String> = (0..30)
        .filter(|n| n % 3 != 1)
        .map(|n| format!("m{n}"))
        .collect();
    let want_sql: HashSet<String> = (15..30)
        .filter(|n| n % 2 == 0)
        .map(|n| format!("m{n}"))
        .collect();
    let of = |group: &str| -> HashSet<String> {
        got.lock()
            .unwrap()
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, b)| b.clone())
            .collect()
    };
    eventually("both selections", || {
        let ok = want_tags.is_subset(&of("TagGroup")) && want_sql.is_subset(&of("SqlGroup"));
        async move { ok }
    })
    .await;
    // Let anything wrongly selected arrive before checking for it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(of("TagGroup"), want_tags);
    assert_eq!(of("SqlGroup"), want_sql);
    tags.shutdown().await;
    sql.shutdown().await;
}
