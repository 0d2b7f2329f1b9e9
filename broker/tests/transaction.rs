#![allow(clippy::unwrap_used)]
//! Transactional messages over loopback: a half is invisible until
//! END_TRANSACTION commits it, a rollback leaves nothing, the check asks a
//! producer about a half nobody ended and commits it on its answer, a half
//! checked `transactionCheckMax` times is discarded, and check progress
//! survives a restart.

mod support;
use support::assert_success;

use skylark_protocol::headers::send::SendMessageResponseHeader;
use skylark_protocol::headers::transaction::{
    TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use skylark_protocol::message::record;
use skylark_protocol::message::topic::{
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC, RMQ_SYS_TRANS_HALF_TOPIC, RMQ_SYS_TRANS_OP_HALF_TOPIC,
};
use skylark_protocol::message::{OffsetMsgId, TransactionType};
use skylark_protocol::{RemotingCommand, ResponseCode};
use support::transaction::{FakeProducer, end_after_send, send_half, wait_for};
use support::{HANG_GUARD, TestBroker, records};

/// The checking group whose offsets keep the check's progress.
const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";

/// A broker whose check runs every 100 ms on halves older than 300 ms.
async fn fast_checking(check_max: i32) -> TestBroker {
    TestBroker::start(|c| {
        c.transaction_check_interval = 100;
        c.transaction_time_out = 300;
        c.transaction_check_max = check_max;
    })
    .await
}

fn sent_header(response: &RemotingCommand) -> SendMessageResponseHeader {
    response.read_header::<SendMessageResponseHeader>().unwrap()
}

/// The records of `topic`/`queue_id` from `offset`, read from the store.
fn stored(
    broker: &TestBroker,
    topic: &str,
    queue_id: i32,
    offset: i64,
) -> Vec<record::StoredMessage> {
    let store = broker.handle.broker().store();
    assert!(store.wait_dispatched_all(HANG_GUARD));
    store
        .get_messages(topic, queue_id, offset, 32, usize::MAX, &|_| true)
        .messages
        .iter()
        .map(|bytes| record::decode(bytes).unwrap().0)
        .collect()
}

#[tokio::test]
async fn a_committed_half_reaches_consumers_and_a_rolled_back_one_never_does() {
    let broker = TestBroker::start(|_| {}).await;
    let sent = send_half(
        &broker.client,
        &broker.addr,
        "TxT",
        1,
        "UNIQ-C",
        b"commit me",
    )
    .await;
    assert_success(&sent);
    let header = sent_header(&sent);
    assert_eq!(header.transaction_id.as_deref(), Some("UNIQ-C"));
    assert_eq!((header.queue_id, header.queue_offset), (1, 0));

    // Stored as a half, invisible in the real topic.
    let halves = stored(&broker, RMQ_SYS_TRANS_HALF_TOPIC, 0, 0);
    assert_eq!(halves.len(), 1);
    let half = &halves[0];
    assert_eq!(half.properties.real_topic(), Some("TxT"));
    assert_eq!(half.properties.real_queue_id(), Some(1));
    assert_eq!(half.properties.transaction_id(), Some("UNIQ-C"));
    assert_eq!(half.transaction_type(), TransactionType::Not);
    assert_eq!(
        OffsetMsgId::parse(&header.msg_id)
            .unwrap()
            .commit_log_offset,
        half.physical_offset
    );
    let empty = broker.pull("G", "TxT", 1, 0, "*", 0).await;
    assert_ne!(empty.response_code(), ResponseCode::SUCCESS);

    let ended = broker
        .invoke(end_after_send(&sent, TRANSACTION_COMMIT_TYPE))
        .await;
    assert_success(&ended);
    let pulled = broker.pull("G", "TxT", 1, 0, "*", 5_000).await;
    assert_eq!(pulled.response_code(), ResponseCode::SUCCESS);
    let got = records(&pulled);
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(&message.body[..], b"commit me");
    assert_eq!((message.topic.as_str(), message.queue_id), ("TxT", 1));
    assert_eq!(message.transaction_type(), TransactionType::Commit);
    assert_eq!(message.prepared_transaction_offset, half.physical_offset);
    assert_eq!(message.uniq_key(), Some("UNIQ-C"));
    assert_eq!(message.tags(), Some("TagT"));

    // The op record names the half's queue offset.
    let ops = stored(&broker, RMQ_SYS_TRANS_OP_HALF_TOPIC, 0, 0);
    assert_eq!(ops.len(), 1);
    assert_eq!((ops[0].tags(), &ops[0].body[..]), (Some("d"), &b"0,"[..]));

    let sent = send_half(
        &broker.client,
        &broker.addr,
        "TxT",
        1,
        "UNIQ-R",
        b"roll me back",
    )
    .await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    assert_eq!(sent_header(&sent).queue_offset, 1);
    let ended = broker
        .invoke(end_after_send(&sent, TRANSACTION_ROLLBACK_TYPE))
        .await;
    assert_success(&ended);
    let ops = stored(&broker, RMQ_SYS_TRANS_OP_HALF_TOPIC, 0, 0);
    assert_eq!(ops.len(), 2);
    assert_eq!(&ops[1].body[..], b"1,");
    assert!(stored(&broker, "TxT", 1, 1).is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn end_transaction_refuses_what_does_not_name_a_half() {
    let broker = TestBroker::start(|_| {}).await;
    let sent = send_half(&broker.client, &broker.addr, "TxR", 0, "UNIQ-1", b"x").await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);

    let mut wrong_group = end_after_send(&sent, TRANSACTION_COMMIT_TYPE);
    wrong_group.set_ext("producerGroup", "OtherGroup");
    let response = broker.invoke(wrong_group).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(response.remark.as_deref(), Some("The producer group wrong"));

    let mut wrong_offset = end_after_send(&sent, TRANSACTION_COMMIT_TYPE);
    wrong_offset.set_ext("tranStateTableOffset", "5");
    let response = broker.invoke(wrong_offset).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);

    // A normal message is no half, nor is the middle of a record.
    let normal = broker.send("TxR", 0, "", b"plain").await;
    let normal_offset = OffsetMsgId::parse(&sent_header(&normal).msg_id)
        .unwrap()
        .commit_log_offset;
    for offset in [normal_offset, normal_offset + 3, i64::MAX, -1] {
        let mut request = end_after_send(&sent, TRANSACTION_COMMIT_TYPE);
        request.set_ext("commitLogOffset", offset.to_string());
        let response = broker.invoke(request).await;
        assert_eq!(
            response.response_code(),
            ResponseCode::SYSTEM_ERROR,
            "{offset}"
        );
    }

    let mut bad_type = end_after_send(&sent, TRANSACTION_COMMIT_TYPE);
    bad_type.set_ext("commitOrRollback", "4");
    let response = broker.invoke(bad_type).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);

    // Unknown, oneway as clients send it: nothing happens.
    broker
        .client
        .invoke_oneway(&broker.addr, end_after_send(&sent, TRANSACTION_NOT_TYPE))
        .await
        .unwrap();
    // The committed message is the only record of the topic afterwards.
    let ended = broker
        .invoke(end_after_send(&sent, TRANSACTION_COMMIT_TYPE))
        .await;
    assert_eq!(ended.response_code(), ResponseCode::SUCCESS);
    assert_eq!(stored(&broker, RMQ_SYS_TRANS_OP_HALF_TOPIC, 0, 0).len(), 1);
    assert_eq!(stored(&broker, "TxR", 0, 0).len(), 2);
    broker.stop().await;
}

#[tokio::test]
async fn reject_transaction_message_refuses_halves() {
    let broker = TestBroker::start(|c| c.reject_transaction_message = true).await;
    let sent = send_half(&broker.client, &broker.addr, "TxN", 0, "UNIQ-1", b"x").await;
    assert_eq!(sent.response_code(), ResponseCode::NO_PERMISSION);
    assert!(stored(&broker, RMQ_SYS_TRANS_HALF_TOPIC, 0, 0).is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn an_unended_half_is_checked_and_committed_on_the_answer_even_across_a_restart() {
    let broker = fast_checking(15).await;
    let producer = FakeProducer::start(&broker, TRANSACTION_COMMIT_TYPE).await;
    let sent = send_half(
        &producer.client,
        &broker.addr,
        "TxC",
        2,
        "UNIQ-1",
        b"checked",
    )
    .await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);

    wait_for("the first check", || !producer.checks().is_empty()).await;
    let check = producer.checks()[0].clone();
    assert_eq!(
        check.header.topic.as_deref(),
        Some(RMQ_SYS_TRANS_HALF_TOPIC)
    );
    assert_eq!(check.header.msg_id.as_deref(), Some("UNIQ-1"));
    assert_eq!(check.header.transaction_id.as_deref(), Some("UNIQ-1"));
    // It names the copy stored for the check, right after the half.
    assert_eq!(check.header.tran_state_table_offset, 1);
    assert_eq!(
        (check.message.topic.as_str(), check.message.queue_id),
        ("TxC", 2)
    );
    assert_eq!(check.message.properties.transaction_check_times(), Some(1));
    assert_eq!(&check.message.body[..], b"checked");
    assert_eq!(
        check.message.physical_offset,
        check.header.commit_log_offset
    );

    let pulled = broker.pull("G", "TxC", 2, 0, "*", 10_000).await;
    assert_eq!(pulled.response_code(), ResponseCode::SUCCESS);
    let got = records(&pulled);
    assert!(!got.is_empty());
    assert!(got.iter().all(|m| &m.body[..] == b"checked"));

    // Once every copy is resolved the check has moved past all of them.
    // (An answer slower than a check interval gets the copy checked, and
    // committed, again: at least once, as in RocketMQ.)
    wait_for("the check to pass every resolved copy", || {
        check_caught_up(&broker)
    })
    .await;
    let checked_before = checks_of(&producer, "UNIQ-1");

    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, |c| {
        c.transaction_check_interval = 100;
        c.transaction_time_out = 300;
    })
    .await;
    producer.heartbeat(&broker).await;
    // A second half's commit shows passes have run since the restart.
    let sent = send_half(
        &producer.client,
        &broker.addr,
        "TxC",
        2,
        "UNIQ-2",
        b"second",
    )
    .await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    wait_for("the second half's commit", || {
        stored(&broker, "TxC", 2, 0)
            .iter()
            .any(|m| m.uniq_key() == Some("UNIQ-2"))
    })
    .await;
    assert_eq!(
        checks_of(&producer, "UNIQ-1"),
        checked_before,
        "a resolved half is not checked again after a restart"
    );
    broker.stop().await;
}

/// Whether the check's offsets on the half and op queues are at their
/// ends (every copy the check stored counted: dispatched first).
fn check_caught_up(broker: &TestBroker) -> bool {
    let (offsets, store) = (
        broker.handle.broker().offsets(),
        broker.handle.broker().store(),
    );
    assert!(store.wait_dispatched_all(HANG_GUARD));
    [RMQ_SYS_TRANS_HALF_TOPIC, RMQ_SYS_TRANS_OP_HALF_TOPIC]
        .iter()
        .all(|topic| offsets.query(CHECK_GROUP, topic, 0) == Some(store.max_offset(topic, 0)))
}

/// How often `producer` was asked about the half with UNIQ_KEY `uniq`.
fn checks_of(producer: &FakeProducer, uniq: &str) -> usize {
    producer
        .checks()
        .iter()
        .filter(|c| c.header.msg_id.as_deref() == Some(uniq))
        .count()
}

#[tokio::test]
async fn a_half_checked_check_max_times_is_discarded() {
    let broker = fast_checking(2).await;
    let producer = FakeProducer::start(&broker, TRANSACTION_NOT_TYPE).await;
    let sent = send_half(
        &producer.client,
        &broker.addr,
        "TxD",
        0,
        "UNIQ-D",
        b"undecided",
    )
    .await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);

    let store = broker.handle.broker().store();
    wait_for("the discard", || {
        store.max_offset(RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC, 0) == 1
    })
    .await;
    let times: Vec<_> = producer
        .checks()
        .iter()
        .map(|c| c.message.properties.transaction_check_times())
        .collect();
    assert_eq!(times, [Some(1), Some(2)]);
    let discarded = stored(&broker, RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC, 0, 0);
    assert_eq!(&discarded[0].body[..], b"undecided");
    assert_eq!(discarded[0].properties.real_topic(), Some("TxD"));
    assert!(stored(&broker, "TxD", 0, 0).is_empty());
    broker.stop().await;
}
