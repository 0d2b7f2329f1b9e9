//! The Topic reconcile against a scripted API server and fake brokers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::{FINALIZER, reconcile};
use crate::admin::TopicSettings;
use crate::admin::fake::FakeBrokers;
use crate::crd::Topic;
use crate::testing::{
    assert_degraded_by, broker_group_with_master, condition, context, event_reasons, last_status,
    mock_client, with_groups,
};

const PATH: &str = "/apis/skylark.io/v1alpha1/namespaces/mq/topics/orders";

fn topic(name: &str, spec: Value, extra_meta: Value) -> Value {
    let mut obj = json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "Topic",
        "metadata": {"name": name, "namespace": "mq", "uid": "t-1", "generation": 1, "finalizers": [FINALIZER]},
        "spec": spec,
    });
    for (k, v) in extra_meta.as_object().into_iter().flatten() {
        obj["metadata"][k] = v.clone();
    }
    obj
}

fn typed(v: &Value) -> Arc<Topic> {
    Arc::new(serde_json::from_value(v.clone()).expect("topic"))
}

fn two_groups() -> Vec<Value> {
    vec![
        broker_group_with_master("a", "10.0.0.1:10911", json!({"tier": "gold"})),
        broker_group_with_master("b", "10.0.0.2:10911", json!({"tier": "silver"})),
    ]
}

fn settings(read: i32, write: i32) -> TopicSettings {
    TopicSettings {
        name: "orders".to_owned(),
        read_queue_nums: read,
        write_queue_nums: write,
        perm: 6,
        order: false,
        attributes: BTreeMap::from([("message.type".to_owned(), "NORMAL".to_owned())]),
    }
}

#[tokio::test]
async fn a_new_topic_gets_the_finalizer_first() {
    let obj = topic("orders", json!({}), json!({"finalizers": []}));
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    let patches = log.find("PATCH", "/topics/orders");
    assert_eq!(patches.len(), 1, "{}", log.summary());
    assert!(
        patches[0].body.to_string().contains(FINALIZER),
        "{}",
        patches[0].body
    );
    assert!(
        brokers.calls().is_empty(),
        "nothing is created before the finalizer is in place"
    );
}

#[tokio::test]
async fn create_puts_the_topic_on_every_selected_master() {
    let obj = topic(
        "orders",
        json!({"readQueueNums": 4, "writeQueueNums": 4}),
        json!({}),
    );
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    let action = reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));
    for addr in ["10.0.0.1:10911", "10.0.0.2:10911"] {
        assert_eq!(
            brokers.topics(addr).get("orders"),
            Some(&settings(4, 4)),
            "{addr}"
        );
    }
    let status = last_status(&log);
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(status["topicName"], "orders");
    assert_eq!(
        status["brokerGroups"][1],
        json!({"brokerGroup": "b", "address": "10.0.0.2:10911", "synced": true})
    );
    assert_eq!(event_reasons(&log), ["Created"]);
    let note = &log.find("POST", "/events")[0].body["note"];
    assert_eq!(
        note,
        "topic orders created on 10.0.0.1:10911, 10.0.0.2:10911"
    );
}

#[tokio::test]
async fn update_corrects_drift_and_leaves_matching_brokers_alone() {
    let obj = topic(
        "orders",
        json!({"readQueueNums": 16, "writeQueueNums": 16}),
        json!({"generation": 2}),
    );
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.set_topic("10.0.0.1:10911", settings(8, 8));
    brokers.set_topic("10.0.0.2:10911", settings(16, 16));
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert_eq!(brokers.topics("10.0.0.1:10911")["orders"], settings(16, 16));
    let puts: Vec<String> = brokers
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("put_topic"))
        .collect();
    assert_eq!(puts, ["put_topic 10.0.0.1:10911 orders"]);
    assert_eq!(event_reasons(&log), ["DriftCorrected"]);
    assert_eq!(last_status(&log)["observedGeneration"], 2);
}

#[tokio::test]
async fn a_selector_picks_broker_groups() {
    let obj = topic(
        "orders",
        json!({"brokerGroupSelector": {"matchLabels": {"tier": "gold"}}}),
        json!({}),
    );
    let (client, log) = mock_client(with_groups(vec![two_groups().remove(0)], PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    let list = log.find("GET", "/brokergroups");
    assert!(
        list[0].uri.contains("labelSelector=tier%3Dgold"),
        "{}",
        list[0].uri
    );
    assert!(brokers.topics("10.0.0.2:10911").is_empty());
}

#[tokio::test]
async fn invalid_name_is_reported_and_touches_no_broker() {
    let obj = topic("orders.v1", json!({}), json!({}));
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    let action = reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert_eq!(action, Action::await_change());
    let ready = condition(&last_status(&log), "Ready");
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        ready["message"].as_str().expect("message").contains("'.'"),
        "{ready}"
    );
    assert_eq!(event_reasons(&log), ["InvalidSpec"]);
    assert!(brokers.calls().is_empty());
}

#[tokio::test]
async fn unreachable_master_is_degraded_with_its_address() {
    let obj = topic("orders", json!({}), json!({}));
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.take_down("10.0.0.2:10911");
    let action = reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(15)));
    let status = last_status(&log);
    assert_degraded_by(&status, "10.0.0.2:10911");
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert!(brokers.topics("10.0.0.1:10911").contains_key("orders"));
}

#[tokio::test]
async fn deletion_removes_the_topic_then_the_finalizer() {
    let obj = topic(
        "orders",
        json!({}),
        json!({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
    );
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.set_topic("10.0.0.1:10911", settings(8, 8));
    brokers.set_topic("10.0.0.2:10911", settings(8, 8));
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert!(brokers.topics("10.0.0.1:10911").is_empty());
    assert!(brokers.topics("10.0.0.2:10911").is_empty());
    // The route goes from each nameserver too, once per cluster.
    let routes: Vec<String> = brokers
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("delete_topic_route"))
        .collect();
    assert_eq!(
        routes,
        [
            "delete_topic_route ns-0:9876 orders DefaultCluster",
            "delete_topic_route ns-1:9876 orders DefaultCluster"
        ]
    );
    let patches = log.find("PATCH", "/topics/orders");
    assert_eq!(patches.len(), 1, "{}", log.summary());
    assert_eq!(patches[0].body[1]["op"], "remove", "{}", patches[0].body);
    assert_eq!(event_reasons(&log), ["Deleted"]);
}

#[tokio::test]
async fn deletion_keeps_the_finalizer_while_a_broker_is_down() {
    let obj = topic(
        "orders",
        json!({}),
        json!({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
    );
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.take_down("10.0.0.2:10911");
    let error = reconcile(typed(&obj), context(client, brokers))
        .await
        .expect_err("cleanup fails");
    assert!(error.to_string().contains("10.0.0.2:10911"), "{error}");
    assert!(
        log.find("PATCH", "/topics/orders").is_empty(),
        "finalizer must stay"
    );
}

#[tokio::test]
async fn a_refusing_master_is_reported_as_refused() {
    let obj = topic("orders", json!({}), json!({}));
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.refuse(
        "10.0.0.1:10911",
        29,
        "The topic[orders] is conflict with system topic.",
    );
    reconcile(typed(&obj), context(client, brokers))
        .await
        .expect("reconcile");
    let status = last_status(&log);
    let ready = condition(&status, "Ready");
    assert_eq!(ready["reason"], "BrokerRefused");
    assert!(
        ready["message"]
            .as_str()
            .expect("message")
            .contains("conflict with system topic"),
        "{ready}"
    );
    assert_eq!(condition(&status, "Degraded")["reason"], "BrokerRefused");
    assert_eq!(status["brokerGroups"][0]["synced"], false);
    assert_eq!(status["brokerGroups"][1]["synced"], true);
}

#[tokio::test]
async fn a_broker_group_deselected_loses_the_topic_and_a_deleted_one_is_skipped() {
    // The status lists a (still there, now deselected) and gone (deleted).
    let obj = topic(
        "orders",
        json!({"brokerGroupSelector": {"matchLabels": {"tier": "silver"}}}),
        json!({}),
    );
    let mut obj = obj;
    obj["status"] = json!({"brokerGroups": [
        {"brokerGroup": "a", "address": "10.0.0.1:10911", "synced": true},
        {"brokerGroup": "gone", "address": "10.0.0.9:10911", "synced": true}
    ]});
    let groups = two_groups();
    let silver = vec![groups[1].clone()];
    let (client, log) = mock_client(move |r: &crate::testing::Recorded| {
        if r.method == "GET" && r.path().ends_with("/namespaces/mq/brokergroups") {
            let items = if r.uri.contains("labelSelector") {
                silver.clone()
            } else {
                groups.clone()
            };
            return Some((
                200,
                json!({"apiVersion": "skylark.io/v1alpha1", "kind": "BrokerGroupList", "metadata": {}, "items": items}),
            ));
        }
        None
    });
    let brokers = FakeBrokers::default();
    brokers.set_topic("10.0.0.1:10911", settings(8, 8));
    brokers.take_down("10.0.0.9:10911");
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert!(
        brokers.topics("10.0.0.1:10911").is_empty(),
        "deselected a loses the topic"
    );
    assert!(brokers.topics("10.0.0.2:10911").contains_key("orders"));
    assert!(
        !brokers.calls().iter().any(|c| c.contains("10.0.0.9")),
        "{:?}",
        brokers.calls()
    );
    assert_eq!(condition(&last_status(&log), "Ready")["status"], "True");
}

#[tokio::test]
async fn deletion_skips_broker_groups_that_are_gone() {
    let mut obj = topic(
        "orders",
        json!({}),
        json!({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
    );
    obj["status"] = json!({"brokerGroups": [{"brokerGroup": "gone", "address": "10.0.0.9:10911", "synced": true}]});
    let (client, log) = mock_client(with_groups(two_groups(), PATH, obj.clone()));
    let brokers = FakeBrokers::default();
    brokers.take_down("10.0.0.9:10911");
    reconcile(typed(&obj), context(client, brokers.clone()))
        .await
        .expect("reconcile");
    assert!(!brokers.calls().iter().any(|c| c.contains("10.0.0.9")));
    assert_eq!(
        log.find("PATCH", "/topics/orders").len(),
        1,
        "finalizer removed"
    );
}
