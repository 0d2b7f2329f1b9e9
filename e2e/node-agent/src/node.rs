//! The Node object: registration, status heartbeats and the node Lease the
//! node-lifecycle controller watches.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::context::Context;

const HEARTBEAT: Duration = Duration::from_secs(10);
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Creates our Node (or takes over an existing one) and marks it Ready.
pub(crate) async fn register(ctx: &Context) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), ctx.node_name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        (
            "kubernetes.io/arch".to_string(),
            std::env::consts::ARCH.replace("x86_64", "amd64"),
        ),
    ]);
    let node = Node {
        metadata: ObjectMeta {
            name: Some(ctx.node_name.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => tracing::info!(node = %ctx.node_name, "registered the node"),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::info!(node = %ctx.node_name, "node exists")
        }
        Err(e) => return Err(e.into()),
    }
    patch_status(ctx).await?;
    // kube-node-lease may not exist yet this early; the heartbeat retries.
    if let Err(e) = renew_lease(ctx).await {
        tracing::info!(error = %e, "first node lease not written yet");
    }
    Ok(())
}

/// Refreshes the Node's status and Lease every 10 s.
pub(crate) async fn heartbeat(ctx: Arc<Context>) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        if let Err(e) = patch_status(&ctx).await {
            tracing::warn!(error = %e, "node status heartbeat failed");
        }
        if let Err(e) = renew_lease(&ctx).await {
            tracing::warn!(error = %e, "node lease renewal failed");
        }
    }
}

async fn patch_status(ctx: &Context) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let now = Time(Timestamp::now());
    let condition = |type_: &str, status: &str, reason: &str| {
        json!({"type": type_, "status": status, "reason": reason,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let capacity = json!({"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"});
    let status = json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            condition("Ready", "True", "KubeletReady"),
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": ctx.network.gateway.to_string()},
            {"type": "Hostname", "address": ctx.node_name},
        ],
        "nodeInfo": {
            "architecture": std::env::consts::ARCH, "bootID": "", "containerRuntimeVersion": "skylark-node-agent://0.1",
            "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "v1.35.4",
            "machineID": "", "operatingSystem": "linux", "osImage": "skylark-node-agent", "systemUUID": "",
        },
    }});
    nodes
        .patch_status(
            &ctx.node_name,
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
    Ok(())
}

async fn renew_lease(ctx: &Context) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), LEASE_NAMESPACE);
    let spec = LeaseSpec {
        holder_identity: Some(ctx.node_name.clone()),
        lease_duration_seconds: Some(40),
        renew_time: Some(MicroTime(Timestamp::now())),
        ..Default::default()
    };
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(ctx.node_name.clone()),
            ..Default::default()
        },
        spec: Some(spec.clone()),
    };
    match leases.get_opt(&ctx.node_name).await? {
        None => {
            leases.create(&PostParams::default(), &lease).await?;
        }
        Some(_) => {
            leases
                .patch(
                    &ctx.node_name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"spec": spec})),
                )
                .await?;
        }
    }
    Ok(())
}
