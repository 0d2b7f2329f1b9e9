#![allow(clippy::unwrap_used)]
//! SQL92 property filtering over real loopback connections: pulls that
//! carry the expression, pulls of a group whose heartbeat registered it,
//! CHECK_CLIENT_CONFIG, malformed expressions, and a broker with
//! `enablePropertyFilter` off.

mod support;

use skylark_protocol::body::{
    Body, ConsumeType, ConsumerData, HeartbeatData, KeyStyle, MessageModel, SubscriptionData,
};
use skylark_protocol::headers::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use skylark_protocol::message::{Properties, PullSysFlag};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use support::{TestBroker, records};

const MATCHING: &str = "a BETWEEN 3 AND 6 AND b = 'x'";

/// Sends messages 0..10 to `topic` queue 0 with `a` = i and `b` = x for
/// even i, y for odd; then one without `a`.
async fn send_numbered(broker: &TestBroker, topic: &str) {
    for i in 0..10 {
        let mut properties = Properties::new();
        properties.set_tags("T");
        properties.insert("a", i.to_string());
        properties.insert("b", if i % 2 == 0 { "x" } else { "y" });
        let response = broker
            .send_with(topic, 0, properties, format!("m{i}").as_bytes())
            .await;
        assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    }
    let mut properties = Properties::new();
    properties.insert("b", "x");
    let response = broker.send_with(topic, 0, properties, b"no a").await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    broker.wait_dispatched();
}

/// A PULL_MESSAGE of `group`; with `Some(expression)` the pull carries it
/// as an SQL92 subscription, with `None` the broker uses the group's
/// registered one.
fn pull_request(
    group: &str,
    topic: &str,
    offset: i64,
    expression: Option<&str>,
) -> RemotingCommand {
    let header = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: PullSysFlag::build(false, false, expression.is_some(), false, false),
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: expression.map(str::to_owned),
        sub_version: 0,
        expression_type: Some("SQL92".into()),
        max_msg_bytes: None,
        request_source: None,
        proxy_froward_client_id: None,
        broker_name: None,
    };
    RemotingCommand::request(RequestCode::PULL_MESSAGE, &header)
}

/// The bodies of a pull's records and its next offset.
fn bodies_and_next(response: &RemotingCommand) -> (Vec<String>, i64) {
    let header: PullMessageResponseHeader = response.read_header().unwrap();
    let bodies = if response.response_code() == ResponseCode::SUCCESS {
        records(response)
            .iter()
            .map(|r| String::from_utf8(r.body.to_vec()).unwrap())
            .collect()
    } else {
        Vec::new()
    };
    (bodies, header.next_begin_offset)
}

/// A push consumer of `group` subscribed to `topic` by `expression` at
/// subscription version `version`.
fn sql_consumer(group: &str, topic: &str, expression: &str, version: i64) -> ConsumerData {
    ConsumerData {
        group_name: group.into(),
        consume_type: Some(ConsumeType::ConsumePassively),
        message_model: Some(MessageModel::Clustering),
        subscription_data_set: vec![SubscriptionData {
            topic: topic.into(),
            sub_string: expression.into(),
            expression_type: SubscriptionData::EXPRESSION_SQL92.into(),
            sub_version: version,
            ..SubscriptionData::default()
        }],
        ..ConsumerData::default()
    }
}

fn heartbeat(consumers: Vec<ConsumerData>) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: "127.0.0.1@sql".into(),
        consumer_data_set: consumers,
        ..HeartbeatData::default()
    };
    RemotingCommand::bare_request(RequestCode::HEART_BEAT)
        .with_body(data.encode(KeyStyle::Unquoted))
}

fn check_client_config(expression: &str) -> RemotingCommand {
    let body = serde_json::json!({
        "clientId": "127.0.0.1@sql",
        "group": "CG",
        "subscriptionData": {
            "topic": "S",
            "subString": expression,
            "expressionType": "SQL92",
            "subVersion": 1,
        },
    });
    RemotingCommand::bare_request(RequestCode::CHECK_CLIENT_CONFIG)
        .with_body(serde_json::to_vec(&body).unwrap())
}

#[tokio::test]
async fn a_pull_carrying_an_expression_gets_exactly_the_matching_messages() {
    let broker = TestBroker::start(|c| c.enable_property_filter = true).await;
    send_numbered(&broker, "S1").await;

    let response = broker
        .invoke(pull_request("G", "S1", 0, Some(MATCHING)))
        .await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    // Skipped records still advance the next offset, past the last scanned.
    assert_eq!(
        bodies_and_next(&response),
        (vec!["m4".into(), "m6".into()], 11)
    );

    // Nothing matches from offset 7: retry at once from past the scanned.
    let response = broker
        .invoke(pull_request("G", "S1", 7, Some(MATCHING)))
        .await;
    assert_eq!(
        response.response_code(),
        ResponseCode::PULL_RETRY_IMMEDIATELY
    );
    assert_eq!(bodies_and_next(&response), (vec![], 11));
    let response = broker
        .invoke(pull_request("G", "S1", 11, Some(MATCHING)))
        .await;
    assert_eq!(response.response_code(), ResponseCode::PULL_NOT_FOUND);

    // Every construct on the wire: TAGS, IN, IS NULL, NOT, OR, CONTAINS.
    for (expression, want) in [
        ("TAGS = 'T' AND a IN ('1', '2')", vec!["m1", "m2"]),
        ("a IS NULL", vec!["no a"]),
        ("NOT (a < 8) OR b = 'x' AND a = 0", vec!["m0", "m8", "m9"]),
        ("a > 7.5 AND b CONTAINS 'y'", vec!["m9"]),
        ("b = 'x' AND a <> 2", vec!["m0", "m4", "m6", "m8"]),
    ] {
        let response = broker
            .invoke(pull_request("G", "S1", 0, Some(expression)))
            .await;
        assert_eq!(bodies_and_next(&response).0, want, "{expression}");
    }

    // A malformed or empty expression is a parse failure, with the reason.
    for bad in ["a BETWEEN 6 AND 3", "a >", ""] {
        let response = broker.invoke(pull_request("G", "S1", 0, Some(bad))).await;
        assert_eq!(
            response.response_code(),
            ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            "{bad:?}"
        );
        let remark = response.remark.unwrap_or_default();
        assert!(
            remark.starts_with("parse the consumer's subscription failed: "),
            "{remark}"
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn a_heartbeat_registers_the_expression_its_pulls_filter_by() {
    let broker = TestBroker::start(|c| c.enable_property_filter = true).await;
    send_numbered(&broker, "S2").await;
    let response = broker
        .invoke(heartbeat(vec![
            sql_consumer("HG", "S2", MATCHING, 1),
            sql_consumer("BAD", "S2", "a BETWEEN AND", 1),
        ]))
        .await;
    // Java answers success and leaves the bad expression to the pulls.
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);

    let response = broker.invoke(pull_request("HG", "S2", 0, None)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        bodies_and_next(&response),
        (vec!["m4".into(), "m6".into()], 11)
    );

    let response = broker.invoke(pull_request("BAD", "S2", 0, None)).await;
    assert_eq!(
        response.response_code(),
        ResponseCode::FILTER_DATA_NOT_EXIST
    );
    let remark = response.remark.unwrap_or_default();
    assert!(remark.contains("Invalid MessageSelector"), "{remark}");

    // A new expression (a newer subscription version) replaces the old.
    let response = broker
        .invoke(heartbeat(vec![sql_consumer("HG", "S2", "a = 9", 2)]))
        .await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let response = broker.invoke(pull_request("HG", "S2", 0, None)).await;
    assert_eq!(bodies_and_next(&response), (vec!["m9".into()], 11));
    broker.stop().await;
}

#[tokio::test]
async fn check_client_config_compiles_the_expression() {
    let broker = TestBroker::start(|c| c.enable_property_filter = true).await;
    let response = broker.invoke(check_client_config(MATCHING)).await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    for bad in ["a BETWEEN 6 AND 3", "a > 'x'", "(a = 1", "", "a != 1"] {
        let response = broker.invoke(check_client_config(bad)).await;
        assert_eq!(
            response.response_code(),
            ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            "{bad:?}"
        );
        let remark = response.remark.unwrap_or_default();
        assert!(
            remark.starts_with(&format!("Invalid MessageSelector \"{bad}\": ")),
            "{remark}"
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn with_property_filtering_off_sql92_is_not_supported() {
    let broker = TestBroker::start(|_| {}).await;
    send_numbered(&broker, "S3").await;
    let unsupported = "The broker does not support consumer to filter message by SQL92";
    let response = broker.invoke(check_client_config(MATCHING)).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(response.remark.as_deref(), Some(unsupported));

    let response = broker
        .invoke(pull_request("G", "S3", 0, Some(MATCHING)))
        .await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(response.remark.as_deref(), Some(unsupported));

    let response = broker
        .invoke(heartbeat(vec![sql_consumer("HG", "S3", MATCHING, 1)]))
        .await;
    assert_eq!(response.response_code(), ResponseCode::SUCCESS);
    let response = broker.invoke(pull_request("HG", "S3", 0, None)).await;
    assert_eq!(response.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(response.remark.as_deref(), Some(unsupported));
    broker.stop().await;
}
