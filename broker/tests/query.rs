#![allow(clippy::unwrap_used)]
//! QUERY_MESSAGE by key and by UNIQ_KEY through the IndexFile, and
//! VIEW_MESSAGE_BY_ID by the offset id a send returned.

mod support;

use skylark_protocol::headers::query::{
    QueryMessageRequestHeader, UNIQUE_KEY_QUERY, ViewMessageRequestHeader,
};
use skylark_protocol::headers::send::SendMessageResponseHeader;
use skylark_protocol::message::{OffsetMsgId, Properties};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use support::{TestBroker, now_ms, records};

fn query(topic: &str, key: &str) -> RemotingCommand {
    RemotingCommand::request(
        RequestCode::QUERY_MESSAGE,
        &QueryMessageRequestHeader {
            topic: topic.into(),
            key: key.into(),
            max_num: 32,
            begin_timestamp: 0,
            end_timestamp: now_ms() + 60_000,
            broker_name: None,
        },
    )
}

#[tokio::test]
async fn messages_are_found_by_key_uniq_key_and_offset_id() {
    let broker = TestBroker::start(|_| {}).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let mut properties = Properties::new();
        properties.set_keys([if i % 2 == 0 { "even" } else { "odd" }, "all"]);
        properties.insert("UNIQ_KEY", format!("UNIQ{i:04}"));
        let response = broker
            .send_with("Q", 0, properties, format!("q{i}").as_bytes())
            .await;
        assert_eq!(response.response_code(), ResponseCode::SUCCESS);
        ids.push(
            response
                .read_header::<SendMessageResponseHeader>()
                .unwrap()
                .msg_id,
        );
    }
    // The index is written by the dispatcher, just after the put.
    assert!(
        broker
            .handle
            .broker()
            .store()
            .wait_dispatched_all(support::HANG_GUARD)
    );

    let response = broker.invoke(query("Q", "even")).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let bodies: Vec<_> = records(&response).iter().map(|r| r.body.clone()).collect();
    assert_eq!(
        bodies,
        ["q0", "q2", "q4"].map(|b| bytes::Bytes::from(b.as_bytes()))
    );
    assert_eq!(records(&broker.invoke(query("Q", "all")).await).len(), 6);

    let mut by_uniq = query("Q", "UNIQ0003");
    by_uniq.set_ext(UNIQUE_KEY_QUERY, "true");
    let response = broker.invoke(by_uniq).await;
    assert_eq!(&records(&response)[0].body[..], b"q3");

    let response = broker.invoke(query("Q", "nobody")).await;
    assert_eq!(response.response_code(), ResponseCode::QUERY_NOT_FOUND);
    let response = broker.invoke(query("Other", "even")).await;
    assert_eq!(response.response_code(), ResponseCode::QUERY_NOT_FOUND);

    let id = OffsetMsgId::parse(&ids[4]).unwrap();
    let view = |offset| {
        RemotingCommand::request(
            RequestCode::VIEW_MESSAGE_BY_ID,
            &ViewMessageRequestHeader {
                topic: Some("Q".into()),
                offset,
            },
        )
    };
    let response = broker.invoke(view(id.commit_log_offset)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert_eq!(&records(&response)[0].body[..], b"q4");
    let response = broker.invoke(view(1 << 40)).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    broker.stop().await;
}
