//! charts/skylark: `helm lint` and `helm template` with the default and the
//! non-default values (charts/skylark/ci/), and what the rendered objects say.
//! helm must be installed (.ci/run builds it from the Go module proxy); a
//! missing helm fails these tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_yaml::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("operator/ has a parent")
        .to_path_buf()
}

fn chart() -> PathBuf {
    repo_root().join("charts/skylark")
}

/// helm from SKYLARK_HELM, PATH, or `go install`'s ~/go/bin.
fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("SKYLARK_HELM") {
        return PathBuf::from(path);
    }
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("helm"))
        .find(|p| p.is_file());
    let in_go_bin = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join("go/bin/helm"))
        .filter(|p| p.is_file());
    in_path.or(in_go_bin).unwrap_or_else(|| {
        panic!(
            "helm is not installed: run `go install helm.sh/helm/v3/cmd/helm@v3.22.0` \
             (as .ci/run does) or set SKYLARK_HELM"
        )
    })
}

fn run_helm(args: &[&str]) -> Result<String, String> {
    let out = Command::new(helm()).args(args).output().expect("helm runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn nondefault() -> String {
    chart()
        .join("ci/nondefault-values.yaml")
        .display()
        .to_string()
}

fn template(extra: &[&str]) -> Vec<Value> {
    let chart = chart().display().to_string();
    let mut args = vec![
        "template",
        "sky",
        chart.as_str(),
        "--namespace",
        "mq",
        "--include-crds",
    ];
    args.extend_from_slice(extra);
    let out = run_helm(&args).unwrap_or_else(|e| panic!("helm template {extra:?} failed:\n{e}"));
    serde_yaml::Deserializer::from_str(&out)
        .map(|doc| Value::deserialize(doc).expect("rendered YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_sequence()
        .and_then(|env| env.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn lint_passes_with_default_and_nondefault_values() {
    let chart = chart().display().to_string();
    run_helm(&["lint", "--strict", &chart]).unwrap_or_else(|e| panic!("helm lint failed:\n{e}"));
    run_helm(&["lint", "--strict", &chart, "-f", &nondefault()])
        .unwrap_or_else(|e| panic!("helm lint (non-default values) failed:\n{e}"));
}

#[test]
fn default_values_render_operator_nameservers_and_crds() {
    let docs = template(&[]);
    let crds: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(crds.len(), 3, "{crds:?}");
    let deploy = find(&docs, "Deployment", "sky-skylark-operator");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "skylark-operator:0.1.0");
    assert_eq!(
        env(container, "SKYLARK_LEASE_NAME")["value"],
        "sky-skylark-operator"
    );
    assert_eq!(
        env(container, "SKYLARK_NAMESRV_ADDR")["value"],
        "sky-skylark-nameserver-0.sky-skylark-nameserver.mq.svc:9876;sky-skylark-nameserver-1.sky-skylark-nameserver.mq.svc:9876"
    );
    assert_eq!(
        env(container, "POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    let ns = find(&docs, "StatefulSet", "sky-skylark-nameserver");
    assert_eq!(ns["spec"]["replicas"], 2);
    assert_eq!(
        ns["spec"]["template"]["spec"]["containers"][0]["args"][0],
        "nameserver"
    );
    assert_eq!(
        find(&docs, "Service", "sky-skylark-nameserver")["spec"]["clusterIP"],
        "None"
    );
    assert!(
        docs.iter()
            .all(|d| d["kind"] != "BrokerGroup" && d["kind"] != "Topic")
    );
}

#[test]
fn rbac_is_least_privilege() {
    let docs = template(&[]);
    let role = find(&docs, "ClusterRole", "sky-skylark-operator");
    let rules = role["rules"].as_sequence().expect("rules");
    for rule in rules {
        for field in ["apiGroups", "resources", "verbs"] {
            let values = rule[field].as_sequence().expect("list");
            assert!(!values.iter().any(|v| v == "*"), "wildcard in {rule:?}");
        }
    }
    let verbs_of = |resource: &str| -> Vec<String> {
        rules
            .iter()
            .filter(|r| {
                r["resources"]
                    .as_sequence()
                    .is_some_and(|rs| rs.iter().any(|x| x == resource))
            })
            .flat_map(|r| r["verbs"].as_sequence().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(verbs_of("persistentvolumeclaims"), ["get", "list", "watch"]);
    assert_eq!(verbs_of("pods"), ["get", "list", "watch", "delete"]);
    assert!(!verbs_of("statefulsets").contains(&"delete".to_owned()));
    assert!(verbs_of("events").contains(&"create".to_owned()));
    let lease_role = find(&docs, "Role", "sky-skylark-leader-election");
    assert_eq!(lease_role["rules"][0]["resources"][0], "leases");
}

#[test]
fn nondefault_values_render_the_first_broker_group_and_topic() {
    let values = nondefault();
    let docs = template(&["-f", &values]);
    let deploy = find(&docs, "Deployment", "sky-skylark-operator");
    assert_eq!(deploy["spec"]["replicas"], 3);
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(container, "SKYLARK_BROKER_IMAGE")["value"],
        "registry.example/skylark:9.9.9"
    );
    assert_eq!(env(container, "RUST_LOG")["value"], "debug");
    assert!(
        container["args"]
            .as_sequence()
            .expect("args")
            .iter()
            .any(|a| a == "--lease-seconds=30")
    );
    let bg = find(&docs, "BrokerGroup", "orders");
    assert_eq!(bg["spec"]["replicas"], 3);
    assert_eq!(bg["spec"]["replicationMode"], "sync");
    assert_eq!(bg["spec"]["storage"]["storageClassName"], "fast-ssd");
    assert_eq!(bg["spec"]["config"]["deleteWhen"], "03");
    assert!(
        bg["spec"]["nameServer"]["address"]
            .as_str()
            .expect("address")
            .contains("nameserver-2.sky-skylark-nameserver.mq.svc:19876")
    );
    let topic = find(&docs, "Topic", "orders-topic");
    assert_eq!(topic["spec"]["topicName"], "Orders_Topic");
    assert_eq!(topic["spec"]["readQueueNums"], 16);
}

#[test]
fn the_schema_refuses_bad_values() {
    let chart = chart().display().to_string();
    for (set, what) in [
        ("operator.replicas=0", "replicas"),
        ("topic.readQueueNums=2000", "readQueueNums"),
        ("brokerGroup.replicationMode=eventual", "replicationMode"),
        ("topic.name=bad.name", "name"),
    ] {
        let err = run_helm(&["template", "sky", &chart, "--set", set]).expect_err(set);
        assert!(err.contains(what), "{set}: {err}");
    }
}

#[test]
fn without_leader_election_the_operator_says_so() {
    let docs = template(&[
        "--set",
        "operator.leaderElection.enabled=false",
        "--set",
        "operator.replicas=1",
    ]);
    let deploy = find(&docs, "Deployment", "sky-skylark-operator");
    let args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .expect("args");
    assert!(args.iter().any(|a| a == "--no-leader-election"));
    assert!(!docs.iter().any(|d| d["kind"] == "Role"));
}
