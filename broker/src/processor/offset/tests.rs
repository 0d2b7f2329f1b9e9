use skylark_protocol::CommandHeader;

use super::*;
use crate::error::RequestError;
use crate::test_support::{broker_in, put, remote};

fn call(broker: &Broker, request: &RemotingCommand) -> RemotingCommand {
    broker
        .handle_offset(remote(), request)
        .expect("an offset code")
        .expect("a response")
}

fn query(group: &str, topic: &str, queue_id: i32, zero: Option<bool>) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::QUERY_CONSUMER_OFFSET,
        &QueryConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id,
            set_zero_if_not_found: zero,
            broker_name: None,
        },
    )
}

fn update(group: &str, topic: &str, queue_id: i32, offset: i64) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id,
            commit_offset: offset,
            broker_name: None,
        },
    )
}

fn offset_of<H: CommandHeader>(response: &RemotingCommand, get: impl Fn(H) -> i64) -> i64 {
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{response:?}"
    );
    get(response.read_header::<H>().unwrap())
}

#[test]
fn query_consumer_offset_without_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    // An empty queue: the client decides where to start.
    let r = call(&broker, &query("CG", "T", 0, None));
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    assert_eq!(
        r.remark.as_deref(),
        Some("Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
    );
    assert_eq!(r.ext("offset"), None);
    // A young queue whose first message is in memory: start from 0.
    put(broker.store(), "T", 0, b"m0");
    let r = call(&broker, &query("CG", "T", 0, None));
    assert_eq!(
        offset_of(&r, |h: QueryConsumerOffsetResponseHeader| h.offset),
        0
    );
    let r = call(&broker, &query("CG", "T", 0, Some(true)));
    assert_eq!(
        offset_of(&r, |h: QueryConsumerOffsetResponseHeader| h.offset),
        0
    );
    // Unless the client says not to.
    let r = call(&broker, &query("CG", "T", 0, Some(false)));
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    assert_eq!(
        r.remark.as_deref(),
        Some("Not found, do not set to zero, maybe this group boot first")
    );
    // Another queue of the topic is still empty.
    let r = call(&broker, &query("CG", "T", 1, None));
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
}

#[test]
fn update_then_query_consumer_offset() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    // Java 5 wants a known group and topic.
    let r = call(&broker, &update("CG", "SELF_TEST_TOPIC", 0, 5));
    assert_eq!(
        r.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
    );
    assert_eq!(r.remark.as_deref(), Some("Group CG not exist!"));
    broker.groups.find_or_create("CG").unwrap();
    let r = call(&broker, &update("CG", "NoSuchTopic", 0, 5));
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(r.remark.as_deref(), Some("Topic NoSuchTopic not exist!"));

    let r = call(&broker, &update("CG", "SELF_TEST_TOPIC", 0, 5));
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    // A committed offset wins whatever the queue holds, even setZeroIfNotFound=false.
    let r = call(&broker, &query("CG", "SELF_TEST_TOPIC", 0, Some(false)));
    assert_eq!(
        offset_of(&r, |h: QueryConsumerOffsetResponseHeader| h.offset),
        5
    );
    assert_eq!(broker.offsets.query("CG", "SELF_TEST_TOPIC", 0), Some(5));
}

#[test]
fn queue_offsets_and_store_times() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    for i in 0..3 {
        assert_eq!(put(broker.store(), "T", 2, b"m"), i);
    }
    let max = |topic: &str, queue_id| {
        let request = RemotingCommand::request(
            RequestCode::GET_MAX_OFFSET,
            &GetMaxOffsetRequestHeader {
                topic: topic.into(),
                queue_id,
                committed: None,
                broker_name: None,
            },
        );
        offset_of(&call(&broker, &request), |h: GetMaxOffsetResponseHeader| {
            h.offset
        })
    };
    let min = |topic: &str, queue_id| {
        let request = RemotingCommand::request(
            RequestCode::GET_MIN_OFFSET,
            &GetMinOffsetRequestHeader {
                topic: topic.into(),
                queue_id,
                broker_name: None,
            },
        );
        offset_of(&call(&broker, &request), |h: GetMinOffsetResponseHeader| {
            h.offset
        })
    };
    let earliest = |topic: &str, queue_id| {
        let request = RemotingCommand::request(
            RequestCode::GET_EARLIEST_MSG_STORETIME,
            &GetEarliestMsgStoretimeRequestHeader {
                topic: topic.into(),
                queue_id,
                broker_name: None,
            },
        );
        offset_of(
            &call(&broker, &request),
            |h: GetEarliestMsgStoretimeResponseHeader| h.timestamp,
        )
    };
    assert_eq!((min("T", 2), max("T", 2)), (0, 3));
    // Unknown queues answer 0 (and no store time), as in Java.
    assert_eq!((min("T", 9), max("Nope", 0)), (0, 0));
    let first_time = broker.store().message_store_time("T", 2, 0);
    assert!(first_time > 0);
    assert_eq!(earliest("T", 2), first_time);
    assert_eq!(earliest("T", 9), -1);
}

#[test]
fn search_offset_by_timestamp_both_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    for _ in 0..4 {
        put(broker.store(), "T", 0, b"m");
    }
    let times: Vec<i64> = (0..4)
        .map(|i| broker.store().message_store_time("T", 0, i))
        .collect();
    let search = |timestamp, boundary| {
        let request = RemotingCommand::request(
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
            &SearchOffsetRequestHeader {
                topic: "T".into(),
                queue_id: 0,
                timestamp,
                boundary_type: boundary,
                broker_name: None,
            },
        );
        offset_of(&call(&broker, &request), |h: SearchOffsetResponseHeader| {
            h.offset
        })
    };
    // Expected answers follow from the stored times, however many share a millisecond.
    let lower = |t: i64| times.iter().position(|&s| s >= t).unwrap_or(times.len()) as i64;
    let upper = |t: i64| times.iter().rposition(|&s| s <= t).unwrap_or(0) as i64;
    for t in [0, times[0], times[1], times[3], times[3] + 1, i64::MAX] {
        assert_eq!(search(t, None), lower(t), "lower {t}");
        assert_eq!(search(t, Some(BoundaryType::Lower)), lower(t), "lower {t}");
        assert_eq!(search(t, Some(BoundaryType::Upper)), upper(t), "upper {t}");
    }
}

#[test]
fn malformed_headers_and_other_codes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path());
    let mut request = query("CG", "T", 0, None);
    request.set_ext("queueId", "zero");
    let err = broker
        .handle_offset(remote(), &request)
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, RequestError::Header(_)), "{err}");
    assert!(err.to_string().contains("queueId"), "{err}");
    let other = RemotingCommand::bare_request(RequestCode::HEART_BEAT);
    assert!(broker.handle_offset(remote(), &other).is_none());
}
