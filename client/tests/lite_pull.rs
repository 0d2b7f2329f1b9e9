//! The lite pull consumer against a real `skylark standalone`: assign,
//! seek, poll and commit; subscribe with auto-commit; committed offsets
//! carry over to the next consumer of the group.

#![allow(clippy::unwrap_used, clippy::panic)]

mod consumer_support;
mod support;

use std::time::Duration;

use consumer_support::{client, create_topic, send_numbered};
use skylark_client::consumer::{
    ConsumeFromWhere, LitePullConsumer, LitePullConsumerConfig, MessageExt,
};
use support::{GUARD, wait_stored};

/// Polls until `n` messages came (hang guard [`GUARD`]).
async fn poll_n(c: &LitePullConsumer, n: usize) -> Vec<MessageExt> {
    let deadline = tokio::time::Instant::now() + GUARD;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "polled {} of {n} messages before timing out",
            out.len()
        );
        out.extend(c.poll_timeout(Duration::from_millis(500)).await.unwrap());
    }
    out
}

fn offsets(msgs: &[MessageExt]) -> Vec<i64> {
    msgs.iter().map(MessageExt::queue_offset).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_seek_poll_and_commit() {
    let s = support::standalone();
    let topic = "LiteAssignTopic";
    create_topic(&s, topic, 1).await;
    send_numbered(&s, topic, "lite", 20).await;
    // Seeking checks the queue's bounds: wait until all 20 are dispatched.
    let admin = s.admin();
    wait_stored(&admin, topic, 20).await;

    let mut config = LitePullConsumerConfig::new("LiteAssignGroup", client(&s, "lite-assign-1"));
    config.auto_commit = false;
    let mut c = LitePullConsumer::new(config.clone());
    c.start().await.unwrap();
    let mqs = c.fetch_message_queues(topic).await.unwrap();
    assert_eq!(mqs.len(), 1);
    let mq = mqs[0].clone();
    c.assign(&mqs).await.unwrap();
    assert_eq!(c.assignment(), mqs);

    c.seek(&mq, 5).await.unwrap();
    let got = poll_n(&c, 15).await;
    assert_eq!(offsets(&got), (5..20).collect::<Vec<_>>());
    assert_eq!(&got[0].body()[..], b"lite-5");
    c.commit_sync().await.unwrap();
    assert_eq!(c.committed(&mq).await.unwrap(), Some(20));

    // Out of range is refused; back to the start works.
    assert!(c.seek(&mq, 21).await.is_err());
    c.seek_to_begin(&mq).await.unwrap();
    let again = poll_n(&c, 3).await;
    assert_eq!(offsets(&again)[..3], [0, 1, 2]);
    // The first message stored at or after time 0 is the first one.
    assert_eq!(c.offset_for_timestamp(&mq, 0).await.unwrap(), 0);
    c.shutdown().await;

    // The next consumer of the group starts at the committed offset.
    send_numbered(&s, topic, "more", 5).await;
    wait_stored(&admin, topic, 25).await;
    admin.shutdown();
    config.client = client(&s, "lite-assign-2");
    let mut c = LitePullConsumer::new(config);
    c.start().await.unwrap();
    c.assign(std::slice::from_ref(&mq)).await.unwrap();
    let rest = poll_n(&c, 5).await;
    assert_eq!(offsets(&rest), (20..25).collect::<Vec<_>>());
    assert!(
        c.poll_timeout(Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_with_auto_commit() {
    let s = support::standalone();
    let topic = "LiteSubTopic";
    create_topic(&s, topic, 2).await;
    let sent = send_numbered(&s, topic, "sub", 10).await;

    let mut config = LitePullConsumerConfig::new("LiteSubGroup", client(&s, "lite-sub-1"));
    config.consume_from_where = ConsumeFromWhere::ConsumeFromFirstOffset;
    config.auto_commit_interval = Duration::from_millis(100);
    let mut c = LitePullConsumer::new(config.clone());
    c.start().await.unwrap();
    c.subscribe(topic, "*").await.unwrap();
    let got = poll_n(&c, 10).await;
    let bodies: std::collections::HashSet<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(m.body()).into_owned())
        .collect();
    assert_eq!(bodies, sent);
    assert_eq!(c.assignment().len(), 2);
    // One more poll after the interval moves the polled offsets into the
    // store; shutdown commits them.
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.poll_timeout(Duration::from_millis(10)).await.unwrap();
    let mqs = c.assignment();
    c.shutdown().await;

    config.client = client(&s, "lite-sub-2");
    config.auto_commit = false;
    let mut check = LitePullConsumer::new(config);
    check.start().await.unwrap();
    let mut total = 0;
    for mq in &mqs {
        total += check.committed(mq).await.unwrap().unwrap_or(0);
    }
    assert_eq!(total, 10, "committed offsets of {mqs:?}");
    check.shutdown().await;
}
