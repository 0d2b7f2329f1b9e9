#![allow(clippy::unwrap_used)]
//! Send and pull over real loopback connections: offsets, tag filtering,
//! long polling woken by an arrival, suspension timeouts, shutdown.

mod support;

use std::time::{Duration, Instant};

use skylark_protocol::headers::pull::PullMessageResponseHeader;
use skylark_protocol::headers::send::SendMessageResponseHeader;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use support::{TestBroker, records};

fn code(response: &RemotingCommand) -> ResponseCode {
    response.response_code()
}

#[tokio::test]
async fn sent_messages_are_pulled_back_in_order_with_offsets() {
    let broker = TestBroker::start(|_| {}).await;
    for i in 0..10 {
        let response = broker
            .send("T1", 0, "TagA", format!("m{i}").as_bytes())
            .await;
        assert_eq!(
            code(&response),
            ResponseCode::SUCCESS,
            "{:?}",
            response.remark
        );
        let header: SendMessageResponseHeader = response.read_header().unwrap();
        assert_eq!(header.queue_id, 0);
        assert_eq!(header.queue_offset, i);
        assert_eq!(header.msg_id.len(), 32);
        assert_eq!(response.ext("MSG_REGION"), Some("DefaultRegion"));
    }
    broker.wait_dispatched();
    let response = broker.pull("G", "T1", 0, 0, "*", 0).await;
    assert_eq!(code(&response), ResponseCode::SUCCESS);
    let header: PullMessageResponseHeader = response.read_header().unwrap();
    assert_eq!(
        (
            header.next_begin_offset,
            header.min_offset,
            header.max_offset
        ),
        (10, 0, 10)
    );
    let got = records(&response);
    assert_eq!(got.len(), 10);
    for (i, record) in got.iter().enumerate() {
        assert_eq!(&record.body[..], format!("m{i}").as_bytes());
        assert_eq!(record.queue_offset, i64::try_from(i).unwrap());
        assert_eq!(record.topic, "T1");
        assert_eq!(record.tags(), Some("TagA"));
        assert_eq!(record.properties.get("CLUSTER"), Some("DefaultCluster"));
    }
    // From the middle, and at the end.
    let response = broker.pull("G", "T1", 0, 7, "*", 0).await;
    assert_eq!(records(&response).len(), 3);
    let response = broker.pull("G", "T1", 0, 10, "*", 0).await;
    assert_eq!(code(&response), ResponseCode::PULL_NOT_FOUND);
    broker.stop().await;
}

#[tokio::test]
async fn tag_filter_skips_other_tags() {
    let broker = TestBroker::start(|_| {}).await;
    for tags in ["TagA", "TagB", "TagC", "TagA"] {
        assert_eq!(
            code(&broker.send("T2", 0, tags, b"x").await),
            ResponseCode::SUCCESS
        );
    }
    broker.wait_dispatched();
    let response = broker.pull("G", "T2", 0, 0, "TagA || TagC", 0).await;
    let tags: Vec<_> = records(&response)
        .iter()
        .map(|r| r.tags().unwrap().to_owned())
        .collect();
    assert_eq!(tags, ["TagA", "TagC", "TagA"]);
    broker.stop().await;
}

#[tokio::test]
async fn long_poll_is_woken_by_an_arrival() {
    let broker = TestBroker::start(|_| {}).await;
    assert_eq!(
        code(&broker.send("T3", 0, "", b"first").await),
        ResponseCode::SUCCESS
    );
    broker.wait_dispatched();
    let started = Instant::now();
    let (pulled, ()) = tokio::join!(broker.pull("G", "T3", 0, 1, "*", 20_000), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            code(&broker.send("T3", 0, "", b"second").await),
            ResponseCode::SUCCESS
        );
    });
    assert_eq!(code(&pulled), ResponseCode::SUCCESS);
    assert_eq!(&records(&pulled)[0].body[..], b"second");
    // Woken by the arrival, not by the 20 s suspend timeout.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_suspended_pull_with_nothing_new_answers_not_found_after_its_timeout() {
    let broker = TestBroker::start(|_| {}).await;
    assert_eq!(
        code(&broker.send("T4", 0, "", b"x").await),
        ResponseCode::SUCCESS
    );
    broker.wait_dispatched();
    let started = Instant::now();
    let response = broker.pull("G", "T4", 0, 1, "*", 300).await;
    assert_eq!(code(&response), ResponseCode::PULL_NOT_FOUND);
    assert!(started.elapsed() >= Duration::from_millis(250));
    broker.stop().await;
}

#[tokio::test]
async fn shutdown_answers_suspended_pulls() {
    let broker = TestBroker::start(|_| {}).await;
    assert_eq!(
        code(&broker.send("T5", 0, "", b"x").await),
        ResponseCode::SUCCESS
    );
    broker.wait_dispatched();
    let client = broker.client.clone();
    let addr = broker.addr.clone();
    let header = skylark_protocol::headers::pull::PullMessageRequestHeader {
        consumer_group: "G".into(),
        topic: "T5".into(),
        queue_id: 0,
        queue_offset: 1,
        max_msg_nums: 32,
        sys_flag: skylark_protocol::message::PullSysFlag::build(false, true, true, false, false),
        commit_offset: 0,
        suspend_timeout_millis: 60_000,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: None,
        max_msg_bytes: None,
        request_source: None,
        proxy_froward_client_id: None,
        broker_name: None,
    };
    let pending = tokio::spawn(async move {
        client
            .invoke(
                &addr,
                RemotingCommand::request(RequestCode::PULL_MESSAGE, &header),
                Duration::from_secs(90),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    broker.handle.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let answered = pending.await.unwrap().unwrap();
    assert_eq!(answered.response_code(), ResponseCode::PULL_NOT_FOUND);
}

#[tokio::test]
async fn unknown_topics_and_codes_get_java_codes() {
    let broker = TestBroker::start(|c| c.auto_create_topic_enable = false).await;
    let response = broker.send("Nope", 0, "", b"x").await;
    assert_eq!(code(&response), ResponseCode::TOPIC_NOT_EXIST);
    let response = broker.pull("G", "Nope", 0, 0, "*", 0).await;
    assert_eq!(code(&response), ResponseCode::TOPIC_NOT_EXIST);
    let response = broker
        .invoke(RemotingCommand::bare_request(RequestCode::from(9999)))
        .await;
    assert_eq!(code(&response), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    broker.stop().await;
}

#[tokio::test]
async fn messages_survive_a_graceful_restart() {
    let broker = TestBroker::start(|_| {}).await;
    for i in 0..5 {
        assert_eq!(
            code(&broker.send("T6", 1, "", format!("r{i}").as_bytes()).await),
            ResponseCode::SUCCESS
        );
    }
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, |_| {}).await;
    broker.wait_dispatched();
    let response = broker.pull("G", "T6", 1, 0, "*", 0).await;
    let bodies: Vec<_> = records(&response).iter().map(|r| r.body.clone()).collect();
    assert_eq!(
        bodies,
        ["r0", "r1", "r2", "r3", "r4"].map(|b| bytes::Bytes::from(b.as_bytes()))
    );
    broker.stop().await;
}
