//! The control plane answers and round-trips objects, and a StatefulSet runs
//! for real: the controller manager makes its pods and claims, the node agent
//! binds and runs them in their own network namespaces, probes make them
//! Ready, EndpointSlices and names follow, and volume data survives a pod's
//! deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use skylark_e2e::pods::{is_ready, wait_for_pod, wait_ready};
use skylark_e2e::{Cluster, SHELL_IMAGE, SKYLARK_IMAGE, wait_until};

const NS: &str = "cp";
const LONG: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_round_trips_and_runs_a_statefulset() -> anyhow::Result<()> {
    if skylark_e2e::skip_requested() {
        return Ok(());
    }
    let cluster = Cluster::start().await?;
    let client = cluster.client();
    let result = async {
        api_round_trip(&cluster).await.context("API round trip")?;
        statefulset(&cluster).await.context("StatefulSet")
    }
    .await;
    if result.is_err() {
        eprintln!(
            "cluster logs are in {} (SKYLARK_E2E_KEEP=1 keeps them)",
            cluster.dir().display()
        );
    }
    drop(client);
    result
}

async fn api_round_trip(cluster: &Cluster) -> anyhow::Result<()> {
    let client = cluster.client();
    let version = client.apiserver_version().await?;
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "35"),
        "{version:?}"
    );

    let node = Api::<Node>::all(client.clone())
        .get(skylark_e2e::NODE_NAME)
        .await?;
    let ready = node.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(
        ready
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        "node not Ready: {ready:?}"
    );

    cluster.create_namespace(NS).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client, NS);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("settings".into());
    let data = BTreeMap::from([(
        "broker.conf".to_string(),
        "brokerName=b0\nflushDiskType=ASYNC_FLUSH\n".to_string(),
    )]);
    cm.data = Some(data.clone());
    cms.create(&PostParams::default(), &cm).await?;
    let back = cms.get("settings").await?;
    assert_eq!(back.data, Some(data));
    assert!(back.metadata.uid.is_some() && back.metadata.resource_version.is_some());
    Ok(())
}

async fn statefulset(cluster: &Cluster) -> anyhow::Result<()> {
    let client = cluster.client();
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": true,
            "selector": {"app": "web"},
            "ports": [{"name": "ns", "port": 9876}],
        }
    }))?;
    services.create(&PostParams::default(), &service).await?;

    let probe_names = format!(
        "getent hosts web-0.web.{NS}.svc.cluster.local && getent hosts web-1.web && getent hosts web.{NS}.svc"
    );
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web",
            "replicas": 2,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "initContainers": [{
                        "name": "boot",
                        "image": SHELL_IMAGE,
                        "command": ["sh", "-c", "echo \"$POD_NAME\" >> /data/boots"],
                        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }],
                    "containers": [
                        {
                            "name": "nameserver",
                            "image": format!("{SKYLARK_IMAGE}:e2e"),
                            "args": ["nameserver", "--listen", "$(POD_IP):9876", "--kv-config-path", "/data/kv.json"],
                            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                            "ports": [{"name": "remoting", "containerPort": 9876}],
                            "readinessProbe": {"tcpSocket": {"port": "remoting"}, "periodSeconds": 1},
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {
                            "name": "names",
                            "image": SHELL_IMAGE,
                            "command": ["sh", "-c", "while :; do sleep 1; done"],
                            "readinessProbe": {"exec": {"command": ["sh", "-c", probe_names]}, "periodSeconds": 1},
                        },
                    ],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}},
            }],
        }
    }))?;
    Api::<StatefulSet>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &sts)
        .await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let web0 = wait_ready(&pods, "web-0", LONG).await?;
    let web1 = wait_ready(&pods, "web-1", LONG).await?;
    let ip0 = web0
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .context("web-0 has no IP")?;
    let ip1 = web1
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .context("web-1 has no IP")?;
    assert_ne!(ip0, ip1, "each pod has its own address");
    // The nameserver listens on its pod's own address, reachable from the node.
    tokio::net::TcpStream::connect((ip0.as_str(), 9876))
        .await
        .context("connect to web-0")?;

    // The StatefulSet controller sees its pods ready.
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    wait_until("StatefulSet readyReplicas=2", LONG, || async {
        let s = sets.get("web").await?;
        Ok(s.status.and_then(|s| s.ready_replicas) == Some(2))
    })
    .await?;

    // The controller manager's EndpointSlice controller saw the pod IPs.
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NS);
    wait_until("EndpointSlice of web with both pods", LONG, || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await?;
        let mut hosts: Vec<(String, String)> = list
            .items
            .iter()
            .flat_map(|s| s.endpoints.iter())
            .filter_map(|e| Some((e.hostname.clone()?, e.addresses.first()?.clone())))
            .collect();
        hosts.sort();
        Ok(hosts
            == vec![
                ("web-0".to_string(), ip0.clone()),
                ("web-1".to_string(), ip1.clone()),
            ])
    })
    .await?;

    // Claims were provisioned and bound by our provisioner + the PV controller.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    let claim = claims.get("data-web-0").await?;
    assert_eq!(claim.status.and_then(|s| s.phase).as_deref(), Some("Bound"));
    let pv_name = claim
        .spec
        .and_then(|s| s.volume_name)
        .context("claim has no volume")?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&pv_name)
        .await?;
    let dir = pv
        .spec
        .and_then(|s| s.host_path)
        .map(|h| h.path)
        .context("no hostPath")?;
    let boots = std::path::Path::new(&dir).join("boots");
    assert_eq!(std::fs::read_to_string(&boots)?, "web-0\n");

    // Pod to pod, by name, with the product unchanged: a `skylark` client in
    // its own pod asks web-1's nameserver through the hosts file and the bridge.
    let client_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "asker"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "ask",
                "image": SKYLARK_IMAGE,
                "args": ["cluster", "list", "--namesrv", "web-1.web:9876", "--timeout", "5s"],
            }],
        }
    }))?;
    pods.create(&PostParams::default(), &client_pod).await?;
    let asked = wait_for_pod(&pods, "asker", "finished", LONG, |p| {
        matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    })
    .await?;
    let phase = asked.status.and_then(|s| s.phase);
    let log = std::fs::read_to_string(cluster.container_log(NS, "asker", "ask"))?;
    assert_eq!(
        phase.as_deref(),
        Some("Succeeded"),
        "skylark cluster list: {log}"
    );

    // Delete web-0: the controller makes a new one, which finds its data.
    let old_uid = web0.metadata.uid.clone();
    pods.delete("web-0", &DeleteParams::default()).await?;
    let new0 = wait_for_pod(&pods, "web-0", "recreated and Ready", LONG, |p| {
        p.metadata.uid != old_uid && is_ready(p)
    })
    .await?;
    assert_ne!(new0.metadata.uid, old_uid);
    assert_eq!(
        std::fs::read_to_string(&boots)?,
        "web-0\nweb-0\n",
        "the volume outlived the pod"
    );
    Ok(())
}
