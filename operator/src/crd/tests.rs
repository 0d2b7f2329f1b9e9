//! The CRDs: schema invariants and the checked-in YAML.

use std::path::{Path, PathBuf};

use super::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("operator/ has a parent")
        .to_path_buf()
}

/// Regenerating must change nothing: `crds/` and the chart's copy are the
/// generated YAML byte for byte.
#[test]
fn checked_in_crds_match_the_types() {
    let root = repo_root();
    for dir in ["crds", "charts/skylark/crds"] {
        for (file, crd) in all() {
            let path = root.join(dir).join(file);
            let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read {}: {e}; run `cargo run -p skylark-operator --bin crdgen`",
                    path.display()
                )
            });
            assert!(
                on_disk == to_yaml(&crd).expect("yaml"),
                "{} is stale; run `cargo run -p skylark-operator --bin crdgen`",
                path.display()
            );
        }
    }
}

fn schema_json(crd: &CustomResourceDefinition) -> String {
    serde_json::to_string(crd).expect("json")
}

#[test]
fn broker_group_has_scale_status_columns_and_rules() {
    let (_, crd) = &all()[0];
    let version = &crd.spec.versions[0];
    assert_eq!(crd.spec.group, GROUP);
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(version.name, "v1alpha1");
    let sub = version.subresources.as_ref().expect("subresources");
    assert!(sub.status.is_some());
    let scale = sub.scale.as_ref().expect("scale");
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.replicas");
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Master", "Replicas", "Mode", "Age"]);
    let json = schema_json(crd);
    assert!(json.contains(r#""rule":"self >= 1""#), "{json}");
}

#[test]
fn topic_schema_carries_name_and_queue_rules() {
    let (_, crd) = &all()[1];
    let json = schema_json(crd);
    for needle in [
        r#""rule":"self == oldSelf""#,
        r#""rule":"self >= 1 && self <= 1024""#,
        r#""pattern":"^[%|a-zA-Z0-9_-]+$""#,
        r#""maxLength":127"#,
    ] {
        assert!(json.contains(needle), "missing {needle} in {json}");
    }
}

#[test]
fn consumer_group_schema_has_immutable_name() {
    let (_, crd) = &all()[2];
    let json = schema_json(crd);
    assert!(json.contains(r#""rule":"self == oldSelf""#));
    assert!(json.contains(r#""maxLength":255"#));
}

#[test]
fn specs_take_defaults() {
    let topic: TopicSpec = serde_json::from_str("{}").expect("empty topic spec");
    assert_eq!(
        (topic.read_queue_nums, topic.write_queue_nums, topic.perm),
        (8, 8, 6)
    );
    let bg: BrokerGroupSpec = serde_json::from_str("{}").expect("empty broker group spec");
    assert_eq!(bg.replicas, 1);
    assert_eq!(bg.replication_mode, ReplicationMode::Async);
    assert_eq!(bg.storage.size, "10Gi");
}

/// The CEL rules, evaluated client-side by kube's CEL validator on the
/// generated schema: what an API server would accept and refuse.
mod cel {
    use serde_json::{Value, json};

    use super::*;

    fn check(
        crd: &CustomResourceDefinition,
        obj: &Value,
        old: Option<&Value>,
    ) -> Result<(), String> {
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("schema"),
        )
        .expect("schema json");
        kube::core::cel::Validator::new()
            .validate(&schema, obj, old)
            .map_err(|e| format!("{e:?}"))
    }

    fn obj(kind: &str, name: &str, spec: Value) -> Value {
        json!({"apiVersion": "skylark.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
    }

    fn topic_spec(extra: Value) -> Value {
        let mut spec = json!({"readQueueNums": 8, "writeQueueNums": 8, "perm": 6, "order": false, "messageType": "NORMAL"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            spec[k] = v.clone();
        }
        spec
    }

    #[test]
    fn topic_queue_counts_and_perm() {
        let crd = Topic::crd();
        assert_eq!(
            check(&crd, &obj("Topic", "orders", topic_spec(json!({}))), None),
            Ok(())
        );
        for bad in [
            json!({"readQueueNums": 0}),
            json!({"writeQueueNums": 1025}),
            json!({"perm": 5}),
        ] {
            let err = check(&crd, &obj("Topic", "orders", topic_spec(bad.clone())), None)
                .expect_err("refused");
            assert!(err.contains("must be"), "{bad}: {err}");
        }
    }

    #[test]
    fn topic_name_is_immutable() {
        let crd = Topic::crd();
        let old = obj(
            "Topic",
            "orders",
            topic_spec(json!({"topicName": "Orders"})),
        );
        let same = old.clone();
        assert_eq!(check(&crd, &same, Some(&old)), Ok(()));
        let renamed = obj(
            "Topic",
            "orders",
            topic_spec(json!({"topicName": "Orders2"})),
        );
        let err = check(&crd, &renamed, Some(&old)).expect_err("rename refused");
        assert!(err.contains("topicName is immutable"), "{err}");
        let removed = obj("Topic", "orders", topic_spec(json!({})));
        let err = check(&crd, &removed, Some(&old)).expect_err("removal refused");
        assert!(err.contains("cannot be added or removed"), "{err}");
    }

    #[test]
    fn topic_metadata_name_must_be_a_rocketmq_name_without_topic_name() {
        let crd = Topic::crd();
        let err = check(
            &crd,
            &obj("Topic", "orders.v1", topic_spec(json!({}))),
            None,
        )
        .expect_err("dot refused");
        assert!(err.contains("set spec.topicName"), "{err}");
        let named = obj(
            "Topic",
            "orders.v1",
            topic_spec(json!({"topicName": "orders_v1"})),
        );
        assert_eq!(check(&crd, &named, None), Ok(()));
    }

    #[test]
    fn broker_group_replicas_and_storage() {
        let crd = BrokerGroup::crd();
        let spec = |replicas: i32, size: &str| {
            json!({"replicas": replicas, "replicationMode": "async", "flushMode": "async", "clusterName": "c",
                   "storage": {"size": size}, "paused": false})
        };
        assert_eq!(
            check(&crd, &obj("BrokerGroup", "a", spec(2, "10Gi")), None),
            Ok(())
        );
        let err =
            check(&crd, &obj("BrokerGroup", "a", spec(0, "10Gi")), None).expect_err("0 replicas");
        assert!(err.contains("at least 1"), "{err}");
        let old = obj("BrokerGroup", "a", spec(2, "10Gi"));
        assert_eq!(
            check(&crd, &obj("BrokerGroup", "a", spec(3, "10Gi")), Some(&old)),
            Ok(())
        );
        let err =
            check(&crd, &obj("BrokerGroup", "a", spec(2, "20Gi")), Some(&old)).expect_err("resize");
        assert!(err.contains("storage cannot change"), "{err}");
    }

    #[test]
    fn consumer_group_rules() {
        let crd = ConsumerGroup::crd();
        let spec = |retry: i32| json!({"consumeBroadcast": false, "retryMaxTimes": retry});
        assert_eq!(
            check(&crd, &obj("ConsumerGroup", "billing", spec(16)), None),
            Ok(())
        );
        assert!(check(&crd, &obj("ConsumerGroup", "billing", spec(-1)), None).is_err());
        let err = check(&crd, &obj("ConsumerGroup", "billing.v1", spec(1)), None).expect_err("dot");
        assert!(err.contains("set spec.groupName"), "{err}");
    }
}
