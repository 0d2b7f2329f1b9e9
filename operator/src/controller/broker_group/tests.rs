//! The BrokerGroup reconcile against a scripted API server and fake brokers.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::reconcile;
use crate::admin::BrokerState;
use crate::admin::fake::FakeBrokers;
use crate::crd::BrokerGroup;
use crate::testing::{
    Answer, Recorded, assert_degraded_by, condition, context, event_reasons, last_status,
    mock_client,
};

fn broker_group(spec: Value, status: Option<Value>) -> Arc<BrokerGroup> {
    let mut obj = json!({
        "apiVersion": "skylark.io/v1alpha1",
        "kind": "BrokerGroup",
        "metadata": {"name": "orders", "namespace": "mq", "uid": "uid-1", "generation": 2},
        "spec": spec,
    });
    if let Some(status) = status {
        obj["status"] = status;
    }
    Arc::new(serde_json::from_value(obj).expect("broker group"))
}

fn pod(name: &str, ip: &str, ready: bool) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "mq"},
        "status": {
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]
        }
    })
}

/// An API server whose StatefulSet reports `ready` of `updated` pods
/// updated and ready, and whose pod list is `pods`.
fn cluster(
    ready: i32,
    updated: i32,
    pods: Vec<Value>,
) -> impl Fn(&Recorded) -> Option<Answer> + Send + Sync + 'static {
    move |r: &Recorded| {
        if r.method == "PATCH" && r.path().ends_with("/statefulsets/orders") {
            let mut sts = r.body.clone();
            sts["metadata"]["generation"] = json!(1);
            let replicas = sts["spec"]["replicas"].clone();
            sts["status"] = json!({
                "observedGeneration": 1, "replicas": replicas, "readyReplicas": ready,
                "updatedReplicas": updated, "currentRevision": "r1",
                "updateRevision": if updated == replicas { "r1" } else { "r2" }
            });
            return Some((200, sts));
        }
        if r.method == "GET" && r.path().ends_with("/namespaces/mq/pods") {
            return Some((
                200,
                json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}),
            ));
        }
        None
    }
}

fn applied<'a>(log: &'a [Recorded], suffix: &str) -> &'a Recorded {
    log.iter()
        .find(|r| r.method == "PATCH" && r.path().ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} was not applied"))
}

#[tokio::test]
async fn create_applies_every_object_and_reports_ready() {
    let pods = vec![
        pod("orders-0", "10.0.0.10", true),
        pod("orders-1", "10.0.0.11", true),
    ];
    let (client, log) = mock_client(cluster(2, 2, pods));
    let brokers = FakeBrokers::default();
    brokers.set_state(
        "10.0.0.10:10911",
        BrokerState {
            role: "MASTER".to_owned(),
            epoch: 4,
            commit_log_max_offset: 4096,
            in_sync_replicas: 1,
        },
    );
    let ctx = context(client, brokers.clone());
    let bg = broker_group(
        json!({"replicas": 2, "replicationMode": "sync", "storage": {"size": "20Gi", "storageClassName": "fast"}}),
        None,
    );

    let action = reconcile(bg, ctx).await.expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(120)));

    let all = log.all();
    for suffix in [
        "/configmaps/orders-config",
        "/services/orders-headless",
        "/services/orders",
        "/poddisruptionbudgets/orders",
        "/statefulsets/orders",
    ] {
        let r = applied(&all, suffix);
        assert!(r.uri.contains("fieldManager=skylark-operator"), "{}", r.uri);
        assert!(r.uri.contains("force=true"), "{}", r.uri);
        let owner = &r.body["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "BrokerGroup");
        assert_eq!(owner["uid"], "uid-1");
        assert_eq!(owner["controller"], true);
    }
    let cm = &applied(&all, "/configmaps/orders-config").body;
    let conf = cm["data"]["broker.conf"].as_str().expect("broker.conf");
    assert!(
        conf.contains("brokerName=orders\n") && conf.contains("namesrvAddr=ns-0:9876;ns-1:9876\n"),
        "{conf}"
    );
    assert!(
        cm["data"]["start.sh"]
            .as_str()
            .expect("start.sh")
            .contains("brokerRole=SYNC_MASTER")
    );

    let sts = &applied(&all, "/statefulsets/orders").body["spec"];
    assert_eq!(sts["replicas"], 2);
    assert_eq!(sts["serviceName"], "orders-headless");
    assert_eq!(sts["podManagementPolicy"], "OrderedReady");
    assert_eq!(sts["updateStrategy"]["type"], "RollingUpdate");
    let pod_spec = &sts["template"]["spec"];
    assert_eq!(pod_spec["terminationGracePeriodSeconds"], 120);
    let container = &pod_spec["containers"][0];
    assert_eq!(container["image"], "skylark:test");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(
        container["command"],
        json!(["/bin/sh", "/etc/skylark/start.sh"])
    );
    let claim = &sts["volumeClaimTemplates"][0]["spec"];
    assert_eq!(claim["resources"]["requests"]["storage"], "20Gi");
    assert_eq!(claim["storageClassName"], "fast");
    assert_eq!(
        applied(&all, "/poddisruptionbudgets/orders").body["spec"]["maxUnavailable"],
        1
    );
    assert_eq!(
        applied(&all, "/services/orders-headless").body["spec"]["clusterIP"],
        "None"
    );

    let status = last_status(&log);
    assert_eq!(status["observedGeneration"], 2);
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "Progressing")["status"], "False");
    assert_eq!(condition(&status, "Degraded")["status"], "False");
    assert_eq!(
        condition(&status, "ReconciliationPaused")["status"],
        "False"
    );
    assert_eq!(status["master"], "orders-0");
    assert_eq!(status["readyReplicas"], 2);
    assert_eq!(
        status["brokers"][0],
        json!({"pod": "orders-0", "role": "master", "ready": true, "address": "10.0.0.10:10911", "commitLogMaxOffset": 4096})
    );
    assert_eq!(status["epoch"], 4);
    assert_eq!(status["inSyncReplicas"], 1);
    assert_eq!(status["brokers"][1]["role"], "replica");
    assert_eq!(event_reasons(&log), ["Applied"]);
    assert!(
        brokers
            .calls()
            .contains(&"broker_state 10.0.0.11:10911".to_owned())
    );
}

#[tokio::test]
async fn update_rolls_and_reports_progressing() {
    let pods = vec![
        pod("orders-0", "10.0.0.10", true),
        pod("orders-1", "10.0.0.11", true),
        pod("orders-2", "10.0.0.12", false),
    ];
    let (client, log) = mock_client(cluster(2, 1, pods));
    let ctx = context(client, FakeBrokers::default());
    let old_status =
        json!({"observedGeneration": 1, "master": "orders-0", "epoch": 3, "conditions": []});
    let bg = broker_group(
        json!({"replicas": 3, "config": {"deleteWhen": "03"}}),
        Some(old_status),
    );

    let action = reconcile(bg, ctx).await.expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(15)));
    let all = log.all();
    assert_eq!(
        applied(&all, "/statefulsets/orders").body["spec"]["replicas"],
        3
    );
    let conf = applied(&all, "/configmaps/orders-config").body["data"]["broker.conf"].clone();
    assert!(conf.as_str().expect("conf").contains("deleteWhen=03\n"));
    let status = last_status(&log);
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert_eq!(
        condition(&status, "Ready")["message"],
        "2 of 3 brokers ready"
    );
    assert_eq!(condition(&status, "Progressing")["status"], "True");
    assert_eq!(
        status["epoch"], 3,
        "the epoch belongs to failover and is kept"
    );
    assert_eq!(status["brokers"][2]["ready"], false);
}

#[tokio::test]
async fn a_config_change_changes_the_pod_template() {
    let hash_of = |config: Value| {
        let (client, log) = mock_client(cluster(1, 1, vec![]));
        let ctx = context(client, FakeBrokers::default());
        async move {
            reconcile(broker_group(json!({"config": config}), None), ctx)
                .await
                .expect("reconcile");
            applied(&log.all(), "/statefulsets/orders").body["spec"]["template"]["metadata"]["annotations"]["skylark.io/config-hash"].clone()
        }
    };
    let a = hash_of(json!({"deleteWhen": "03"})).await;
    let b = hash_of(json!({"deleteWhen": "04"})).await;
    assert!(a.is_string());
    assert_ne!(a, b);
}

#[tokio::test]
async fn paused_applies_nothing() {
    let (client, log) = mock_client(cluster(1, 1, vec![]));
    let ctx = context(client, FakeBrokers::default());
    let bg = broker_group(json!({"paused": true}), None);

    let action = reconcile(bg, ctx).await.expect("reconcile");
    assert_eq!(action, Action::await_change());
    let patches: Vec<String> = log
        .find("PATCH", "")
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        patches,
        ["/apis/skylark.io/v1alpha1/namespaces/mq/brokergroups/orders/status"]
    );
    let status = last_status(&log);
    assert_eq!(condition(&status, "ReconciliationPaused")["status"], "True");
    assert_eq!(event_reasons(&log), ["Paused"]);
}

#[tokio::test]
async fn invalid_spec_is_reported_not_retried() {
    let (client, log) = mock_client(cluster(1, 1, vec![]));
    let ctx = context(client, FakeBrokers::default());
    let bg = broker_group(json!({"config": {"brokerRole": "SLAVE"}}), None);

    let action = reconcile(bg, ctx.clone())
        .await
        .expect("an invalid spec is not an error");
    assert_eq!(action, Action::await_change());
    assert!(
        log.find("PATCH", "/statefulsets/orders").is_empty(),
        "{}",
        log.summary()
    );
    let status = last_status(&log);
    let ready = condition(&status, "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        ready["message"]
            .as_str()
            .expect("message")
            .contains("brokerRole"),
        "{ready}"
    );
    let events = log.find("POST", "/events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body["type"], "Warning");
    assert_eq!(events[0].body["reason"], "InvalidSpec");
}

#[tokio::test]
async fn unreachable_broker_is_degraded_with_its_address() {
    let pods = vec![pod("orders-0", "10.0.0.10", true)];
    let (client, log) = mock_client(cluster(1, 1, pods));
    let brokers = FakeBrokers::default();
    brokers.take_down("10.0.0.10:10911");
    let ctx = context(client, brokers);

    let action = reconcile(broker_group(json!({}), None), ctx)
        .await
        .expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(15)));
    assert_degraded_by(&last_status(&log), "10.0.0.10:10911");
}

#[tokio::test]
async fn api_errors_back_off_exponentially() {
    let (client, _log) = mock_client(|r: &Recorded| {
        (r.method == "PATCH").then(|| (500, json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 500, "message": "etcd down", "reason": "InternalError", "metadata": {}})))
    });
    let ctx = context(client, FakeBrokers::default());
    let bg = broker_group(json!({}), None);
    let mut waits = Vec::new();
    for _ in 0..3 {
        let error = reconcile(bg.clone(), ctx.clone())
            .await
            .expect_err("API down");
        waits.push(crate::controller::error_policy(
            bg.clone(),
            &error,
            ctx.clone(),
            super::CONTROLLER,
        ));
    }
    assert_eq!(
        waits,
        [5, 10, 20].map(|s| Action::requeue(Duration::from_secs(s)))
    );
    let text = ctx.metrics.render();
    assert!(text.contains("skylark_operator_reconciliation_errors_total{controller=\"brokergroup\",error=\"kube\"} 3"), "{text}");
}

#[tokio::test]
async fn the_master_is_who_reports_it_at_the_newest_epoch() {
    // After a failover orders-1 is master at epoch 5; orders-0 came back fenced.
    let pods = vec![
        pod("orders-0", "10.0.0.10", true),
        pod("orders-1", "10.0.0.11", true),
    ];
    let (client, log) = mock_client(cluster(2, 2, pods));
    let brokers = FakeBrokers::default();
    brokers.set_state(
        "10.0.0.10:10911",
        BrokerState {
            role: "FENCED".to_owned(),
            epoch: 5,
            commit_log_max_offset: 900,
            in_sync_replicas: 0,
        },
    );
    brokers.set_state(
        "10.0.0.11:10911",
        BrokerState {
            role: "MASTER".to_owned(),
            epoch: 5,
            commit_log_max_offset: 1000,
            in_sync_replicas: 0,
        },
    );
    let old_status = json!({"master": "orders-0", "epoch": 4});
    reconcile(
        broker_group(json!({"replicas": 2}), Some(old_status)),
        context(client, brokers),
    )
    .await
    .expect("reconcile");
    let status = last_status(&log);
    assert_eq!(status["master"], "orders-1");
    assert_eq!(status["epoch"], 5);
    assert_eq!(status["brokers"][0]["role"], "fenced");
    assert_eq!(status["brokers"][1]["role"], "master");
}
