//! Helpers of the operator end-to-end test.

pub(crate) mod messages;
pub(crate) mod status;

use std::path::Path;

use skylark_e2e::Cluster;

/// On failure: the last lines of the operator's and the brokers' logs.
pub(crate) async fn diagnose(cluster: &Cluster, namespace: &str) {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(cluster.client(), namespace);
    let Ok(list) = pods.list(&Default::default()).await else {
        return;
    };
    for pod in list.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        for c in pod.spec.iter().flat_map(|s| &s.containers) {
            let log = cluster.container_log(namespace, &name, &c.name);
            eprintln!("--- {name}/{} ({}):", c.name, log.display());
            eprintln!("{}", tail(&log, 25));
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
