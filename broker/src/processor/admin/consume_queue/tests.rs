use skylark_protocol::RequestCode;

use super::*;
use crate::client::test_support::{TestBroker, TestClient, push_consumer};
use crate::test_support::{broker_in, put, remote};

fn call(broker: &Broker, request: &RemotingCommand) -> RemotingCommand {
    broker
        .handle_admin(remote(), request)
        .expect("an admin code")
        .expect("a response")
}

fn query(
    topic: &str,
    queue_id: i32,
    index: i64,
    count: i32,
    group: Option<&str>,
) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::QUERY_CONSUME_QUEUE,
        &QueryConsumeQueueRequestHeader {
            topic: Some(topic.into()),
            queue_id: Some(queue_id),
            index: Some(index),
            count: Some(count),
            consumer_group: group.map(str::to_owned),
            broker_name: None,
        },
    )
}

#[test]
fn lists_entries_from_the_index_with_the_queue_range() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    for i in 0..5 {
        put(&broker.store, "T", 1, format!("body-{i}").as_bytes());
    }
    let cq = broker.store.consume_queues().queue("T", 1).unwrap();
    let expected = cq.read(1, 3).unwrap();

    let out = call(&broker, &query("T", 1, 1, 3, None));
    assert_eq!(out.response_code(), ResponseCode::SUCCESS, "{out:?}");
    let body = QueryConsumeQueueResponseBody::decode(&out.body).unwrap();
    assert_eq!((body.min_queue_index, body.max_queue_index), (0, 5));
    assert_eq!((body.filter_data, body.subscription_data), (None, None));
    let data = body.queue_data.unwrap();
    assert_eq!(data.len(), 3);
    for (got, want) in data.iter().zip(&expected) {
        assert_eq!(
            (got.physic_offset, got.physic_size, got.tags_code, got.eval),
            (want.phys_offset, want.size, want.tags_code, false)
        );
    }
    // Each entry points at its message: the bodies come back in order.
    let first = broker
        .store
        .message_by_phys_offset(data[0].physic_offset)
        .unwrap();
    let (message, _) = skylark_protocol::message::record::decode(&first).unwrap();
    assert_eq!(&message.body[..], b"body-1");

    // Past the end of the queue: only what there is.
    let out = call(&broker, &query("T", 1, 3, 100, None));
    let body = QueryConsumeQueueResponseBody::decode(&out.body).unwrap();
    assert_eq!(body.queue_data.unwrap().len(), 2);
}

#[test]
fn missing_queue_and_index_out_of_range_answer_as_java() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    put(&broker.store, "T", 0, b"x");

    let out = call(&broker, &query("T", 3, 0, 1, None));
    assert_eq!(out.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(out.remark.as_deref(), Some("3@T is not exist!"));

    for index in [1, -1] {
        let out = call(&broker, &query("T", 0, index, 1, None));
        assert_eq!(out.response_code(), ResponseCode::SUCCESS);
        assert!(out.body.is_empty());
        assert_eq!(
            out.remark,
            Some(format!("Index {index} of 0@T is not exist!"))
        );
    }
    // A header without numbers reads them as 0 (Java's defaults).
    let bare = RemotingCommand::request(
        RequestCode::QUERY_CONSUME_QUEUE,
        &QueryConsumeQueueRequestHeader {
            topic: Some("T".into()),
            queue_id: None,
            index: None,
            count: None,
            consumer_group: None,
            broker_name: None,
        },
    );
    let out = call(&broker, &bare);
    let body = QueryConsumeQueueResponseBody::decode(&out.body).unwrap();
    assert_eq!(body.queue_data, Some(Vec::new()));
}

#[tokio::test]
async fn a_group_adds_its_subscription_or_says_it_is_offline() {
    let served = TestBroker::start(|_| {}).await;
    let broker = &served.broker;
    put(&broker.store, "T", 0, b"x");
    let consumer = TestClient::connect(&served.addr, "10.0.0.1@c").await;
    consumer
        .heartbeat(vec![push_consumer("Online", &["T"])], &[])
        .await;

    let out = call(broker, &query("T", 0, 0, 1, Some("Online")));
    let body = QueryConsumeQueueResponseBody::decode(&out.body).unwrap();
    assert_eq!(body.filter_data.as_deref(), Some("null"));
    let sub = body.subscription_data.unwrap();
    assert_eq!((sub.topic.as_str(), sub.sub_string.as_str()), ("T", "*"));

    let out = call(broker, &query("T", 0, 0, 1, Some("Offline")));
    let body = QueryConsumeQueueResponseBody::decode(&out.body).unwrap();
    assert_eq!(
        body.filter_data.as_deref(),
        Some("Offline@T is not online!")
    );
    assert_eq!(body.subscription_data, None);
    assert_eq!(body.queue_data.map(|d| d.len()), Some(1));
}
