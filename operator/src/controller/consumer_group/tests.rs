//! The ConsumerGroup reconcile against a scripted API server and fake brokers.

use std::sync::Arc;

use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::{FINALIZER, reconcile};
use crate::admin::TopicLagOnBroker;
use crate::admin::fake::FakeBrokers;
use crate::crd::ConsumerGroup;
use crate::testing::{
    assert_degraded_by, broker_group_with_master, condition, context, event_reasons, last_status,
    mock_client, with_groups,
};

const PATH: &str = "/apis/skylark.io/v1alpha1/namespaces/mq/consumergroups/billing";

fn group(name: &str, spec: Value, extra_meta: Value) -> Value {
    let mut obj = json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "ConsumerGroup",
        "metadata": {"name": name, "namespace": "mq", "uid": "g-1", "generation": 1, "finalizers": [FINALIZER]},
        "spec": spec,
    });
    for (k, v) in extra_meta.as_object().into_iter().flatten() {
        obj["metadata"][k] = v.clone();
    }
    obj
}

fn typed(v: &Value) -> Arc<ConsumerGroup> {
    Arc::new(serde_json::from_value(v.clone()).expect("consumer group"))
}

fn groups() -> Vec<Value> {
    vec![
        broker_group_with_master("a", "10.0.0.1:10911", json!({})),
        broker_group_with_master("b", "10.0.0.2:10911", json!({})),
    ]
}

fn lag(topic: &str, lag: i64) -> TopicLagOnBroker {
    TopicLagOnBroker {
        topic: topic.to_owned(),
        lag,
    }
}

#[tokio::test]
async fn create_puts_the_group_and_reports_lag_and_members() {
    let obj = group(
        "billing",
        json!({"retryMaxTimes": 3, "consumeBroadcast": true}),
        json!({}),
    );
    let (client, log) = mock_client(with_groups(groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.set_consumption(
        "10.0.0.1:10911",
        vec![lag("orders", 5), lag("refunds", 1)],
        2,
    );
    brokers.set_consumption("10.0.0.2:10911", vec![lag("orders", 7)], 3);
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    for addr in ["10.0.0.1:10911", "10.0.0.2:10911"] {
        let g = &brokers.groups(addr)["billing"];
        assert_eq!((g.retry_max_times, g.consume_broadcast), (3, true));
    }
    let status = last_status(&log);
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(status["membersOnline"], 3);
    assert_eq!(
        status["lag"],
        json!([{"topic": "orders", "lag": 12}, {"topic": "refunds", "lag": 1}])
    );
}

#[tokio::test]
async fn invalid_group_name_is_reported() {
    let obj = group("billing", json!({"groupName": "bad name"}), json!({}));
    let (client, log) = mock_client(with_groups(groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    let action = reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert_eq!(action, Action::await_change());
    assert_eq!(
        condition(&last_status(&log), "Ready")["reason"],
        "InvalidSpec"
    );
    assert_eq!(event_reasons(&log), ["InvalidSpec"]);
    assert!(brokers.calls().is_empty());
}

#[tokio::test]
async fn unreachable_master_is_degraded() {
    let obj = group("billing", json!({}), json!({}));
    let (client, log) = mock_client(with_groups(groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.take_down("10.0.0.1:10911");
    reconcile(typed(&obj), context(client, brokers))
        .await
        .expect("reconcile");
    assert_degraded_by(&last_status(&log), "10.0.0.1:10911");
}

#[tokio::test]
async fn deletion_removes_the_group_then_the_finalizer() {
    let obj = group(
        "billing",
        json!({}),
        json!({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
    );
    let (client, log) = mock_client(with_groups(groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    let ctx = context(client, brokers.clone());
    let put = crate::admin::GroupSettings {
        name: "billing".to_owned(),
        consume_broadcast: false,
        retry_max_times: 16,
    };
    crate::admin::BrokerAdmin::put_group(&brokers, "10.0.0.1:10911", &put)
        .await
        .expect("seed");
    reconcile(typed(&obj), ctx).await.expect("reconcile");
    assert!(brokers.groups("10.0.0.1:10911").is_empty());
    assert!(
        brokers
            .calls()
            .contains(&"delete_group 10.0.0.2:10911 billing".to_owned())
    );
    let patches = log.find("PATCH", "/consumergroups/billing");
    assert_eq!(patches.len(), 1, "{}", log.summary());
    assert_eq!(event_reasons(&log), ["Deleted"]);
}
