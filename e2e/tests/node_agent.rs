//! The node agent as a kubelet: a killed container is restarted per
//! restartPolicy (with its restart count and last state reported), a
//! container that fails under `Never` fails its pod, deletion sends SIGTERM
//! (and SIGKILL once the grace period is over), and pods reach the API server
//! through their own loopback with a service-account token.

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use skylark_e2e::pods::{container_pid, restart_count, wait_for_pod, wait_gone, wait_ready};
use skylark_e2e::{Cluster, ClusterOptions, SHELL_IMAGE};

const NS: &str = "agent";
const LONG: Duration = Duration::from_secs(90);

fn shell_pod(name: &str, restart: &str, grace: i64, script: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": grace,
            "containers": [{"name": "main", "image": SHELL_IMAGE, "command": ["sh", "-c", script]}],
        }
    }))?)
}

/// Deletes pod `name` and waits until the agent has removed it.
async fn delete(pods: &Api<Pod>, name: &str) -> anyhow::Result<()> {
    pods.delete(name, &DeleteParams::default()).await?;
    wait_gone(pods, name, LONG).await?;
    Ok(())
}

/// The pod's phase, once reported.
fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_agent_restarts_stops_and_relays() -> anyhow::Result<()> {
    if skylark_e2e::skip_requested() {
        return Ok(());
    }
    // Shell containers only: no need to build the `skylark` binary here.
    let options = ClusterOptions {
        with_skylark: false,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start_with(options).await?;
    cluster.create_namespace(NS).await?;
    let result = async {
        killed_container_is_restarted(&cluster)
            .await
            .context("restart after SIGKILL")?;
        failure_under_never_fails_the_pod(&cluster)
            .await
            .context("restartPolicy Never")?;
        deletion_sends_sigterm(&cluster)
            .await
            .context("SIGTERM on deletion")?;
        grace_period_ends_in_sigkill(&cluster)
            .await
            .context("SIGKILL after the grace period")?;
        pod_reaches_the_api_server(&cluster)
            .await
            .context("API relay and service-account token")?;
        configmap_volumes_are_files(&cluster)
            .await
            .context("ConfigMap volumes")?;
        failing_liveness_probe_restarts(&cluster)
            .await
            .context("liveness probe")
    }
    .await;
    if result.is_err() {
        eprintln!(
            "cluster logs are in {} (SKYLARK_E2E_KEEP=1 keeps them)",
            cluster.dir().display()
        );
    }
    result
}

async fn killed_container_is_restarted(cluster: &Cluster) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let pod = shell_pod(
        "crashy",
        "Always",
        5,
        "echo started; while :; do sleep 1; done",
    )?;
    pods.create(&PostParams::default(), &pod).await?;
    let running = wait_ready(&pods, "crashy", LONG).await?;
    let pid = container_pid(&running, "main").context("no pid reported")?;
    // SAFETY: kill(2) of the container's process group, which the agent made.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let restarted = wait_for_pod(&pods, "crashy", "restarted", LONG, |p| {
        restart_count(p, "main") >= 1 && container_pid(p, "main").is_some_and(|n| n != pid)
    })
    .await?;
    let status = restarted
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default();
    let last = status[0]
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .context("no last state")?;
    assert_eq!(last.exit_code, 128 + libc::SIGKILL, "{last:?}");
    let log = std::fs::read_to_string(cluster.container_log(NS, "crashy", "main"))?;
    assert!(log.matches("started").count() >= 2, "ran twice: {log}");
    wait_ready(&pods, "crashy", LONG).await?;
    delete(&pods, "crashy").await?;
    Ok(())
}

async fn failure_under_never_fails_the_pod(cluster: &Cluster) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    pods.create(
        &PostParams::default(),
        &shell_pod("once", "Never", 5, "exit 3")?,
    )
    .await?;
    let done = wait_for_pod(&pods, "once", "Failed", LONG, |p| {
        phase(p) == Some("Failed")
    })
    .await?;
    let status = done
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default();
    let term = status[0]
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .context("not terminated")?;
    assert_eq!(term.exit_code, 3);
    assert_eq!(status[0].restart_count, 0);
    delete(&pods, "once").await?;
    Ok(())
}

async fn deletion_sends_sigterm(cluster: &Cluster) -> anyhow::Result<()> {
    let script = "trap 'echo got SIGTERM; exit 0' TERM; echo up; while :; do sleep 0.2; done";
    let (pid, log) = run_then_delete(cluster, "polite", 60, script).await?;
    assert!(!alive(pid), "the container process is gone");
    assert!(
        log.contains("got SIGTERM"),
        "the container saw SIGTERM: {log}"
    );
    Ok(())
}

async fn grace_period_ends_in_sigkill(cluster: &Cluster) -> anyhow::Result<()> {
    let script = "trap 'echo ignoring SIGTERM' TERM; while :; do sleep 0.2; done";
    let (pid, log) = run_then_delete(cluster, "stubborn", 2, script).await?;
    assert!(!alive(pid), "SIGKILL ended the process");
    assert!(
        log.contains("ignoring SIGTERM"),
        "SIGTERM came first: {log}"
    );
    Ok(())
}

/// Runs `script` in pod `name` until it is ready, deletes the pod with
/// `grace` seconds to stop, and returns the container's pid and its log.
async fn run_then_delete(
    cluster: &Cluster,
    name: &str,
    grace: i64,
    script: &str,
) -> anyhow::Result<(i32, String)> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    pods.create(
        &PostParams::default(),
        &shell_pod(name, "Always", grace, script)?,
    )
    .await?;
    let pod = wait_ready(&pods, name, LONG).await?;
    let pid = container_pid(&pod, "main").context("no pid")?;
    delete(&pods, name).await?;
    let log = std::fs::read_to_string(cluster.container_log(NS, name, "main"))?;
    Ok((pid, log))
}

async fn pod_reaches_the_api_server(cluster: &Cluster) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    // Lists pods through the relay with its own token: the `default` account
    // may not (RBAC), so the API server's 403 naming that account proves that
    // name resolution, the relay, TLS and token authentication all worked.
    let script = r#"
        sa=/var/run/secrets/kubernetes.io/serviceaccount
        test "$(cat $sa/namespace)" = "$POD_NAMESPACE" || exit 7
        curl -sS --cacert $sa/ca.crt -H "Authorization: Bearer $(cat $sa/token)" \
            "https://kubernetes.default.svc:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/$POD_NAMESPACE/pods"
    "#;
    let mut pod = shell_pod("insider", "Never", 5, script)?;
    let env = json!([{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]);
    if let Some(c) = pod.spec.as_mut().map(|s| &mut s.containers[0]) {
        c.env = Some(serde_json::from_value(env)?);
    }
    pods.create(&PostParams::default(), &pod).await?;
    let done = wait_for_pod(&pods, "insider", "finished", LONG, |p| {
        matches!(phase(p), Some("Succeeded" | "Failed"))
    })
    .await?;
    let log = std::fs::read_to_string(cluster.container_log(NS, "insider", "main"))?;
    assert_eq!(
        done.status.and_then(|s| s.phase).as_deref(),
        Some("Succeeded"),
        "{log}"
    );
    assert!(
        log.contains("forbidden") && log.contains("system:serviceaccount:agent:default"),
        "{log}"
    );
    Ok(())
}

async fn configmap_volumes_are_files(cluster: &Cluster) -> anyhow::Result<()> {
    let client = cluster.client();
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "conf"},
        "data": {"broker.conf": "brokerName=b0\n", "extra": "x"},
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &cm)
        .await?;
    let dir = "/etc/skylark-e2e-conf";
    let file = "/etc/skylark-e2e-only.conf";
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "configured"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "conf", "configMap": {"name": "conf"}}],
            "containers": [{
                "name": "main", "image": SHELL_IMAGE,
                "command": ["sh", "-c", format!("cat {dir}/broker.conf {dir}/extra {file}; if touch {dir}/x 2>/dev/null; then echo writable; fi")],
                "volumeMounts": [
                    {"name": "conf", "mountPath": dir, "readOnly": true},
                    {"name": "conf", "mountPath": file, "subPath": "broker.conf"},
                ],
            }],
        }
    }))?;
    let pods: Api<Pod> = Api::namespaced(client, NS);
    pods.create(&PostParams::default(), &pod).await?;
    wait_for_pod(&pods, "configured", "Succeeded", LONG, |p| {
        phase(p) == Some("Succeeded")
    })
    .await?;
    let log = std::fs::read_to_string(cluster.container_log(NS, "configured", "main"))?;
    assert_eq!(
        log, "brokerName=b0\nxbrokerName=b0\n",
        "files as in the ConfigMap, read-only"
    );
    delete(&pods, "configured").await?;
    // The mount points the agent had to make on this host are gone with the pod.
    assert!(!std::path::Path::new(dir).exists() && !std::path::Path::new(file).exists());
    Ok(())
}

async fn failing_liveness_probe_restarts(cluster: &Cluster) -> anyhow::Result<()> {
    // Alive for a moment, then its liveness file goes: the agent must restart
    // it, and the emptyDir (like Kubernetes') outlives the container restart.
    let script = "echo run >> /scratch/runs; touch /scratch/alive; sleep 1; rm /scratch/alive; \
                  while :; do sleep 1; done";
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "sickly"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "containers": [{
                "name": "main", "image": SHELL_IMAGE, "command": ["sh", "-c", script],
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                "livenessProbe": {
                    "exec": {"command": ["test", "-f", "/scratch/alive"]},
                    "initialDelaySeconds": 2, "periodSeconds": 1, "failureThreshold": 2,
                },
            }],
        }
    }))?;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    pods.create(&PostParams::default(), &pod).await?;
    let restarted = wait_for_pod(
        &pods,
        "sickly",
        "restarted by its liveness probe",
        LONG,
        |p| restart_count(p, "main") >= 1,
    )
    .await?;
    let status = restarted
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default();
    let last = status[0]
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    assert_eq!(
        last.and_then(|t| t.reason.as_deref()),
        Some("LivenessProbeFailed"),
        "{status:?}"
    );
    // The second run appended to the same emptyDir file.
    let uid = restarted.metadata.uid.clone().unwrap_or_default();
    let runs = cluster
        .dir()
        .join("node/pods")
        .join(format!("{NS}_sickly/volumes-{uid}/scratch/runs"));
    skylark_e2e::wait_until("a second run in the same emptyDir", LONG, || async {
        let text = std::fs::read_to_string(&runs).unwrap_or_default();
        Ok(text.lines().count() >= 2)
    })
    .await?;
    delete(&pods, "sickly").await?;
    Ok(())
}
