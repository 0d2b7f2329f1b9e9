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
