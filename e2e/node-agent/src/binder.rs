//! Binds pending Pods to our Node, standing in for kube-scheduler: with one
//! node the choice is trivial, and the pods/binding subresource is the same
//! API the scheduler uses, so controllers see what they would in a cluster.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::watcher;

use crate::context::Context;

/// Watches unscheduled pods and binds each to our Node.
pub(crate) async fn run(ctx: Arc<Context>) {
    loop {
        if let Err(e) = watch(&ctx).await {
            tracing::warn!(error = %e, "binder watch failed; retrying");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn watch(ctx: &Context) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::all(ctx.client.clone());
    let config = watcher::Config::default().fields("spec.nodeName=");
    let mut stream = std::pin::pin!(watcher::watcher(pods, config));
    while let Some(event) = stream.try_next().await? {
        let pod = match event {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => p,
            _ => continue,
        };
        let spec = pod.spec.as_ref();
        let scheduler = spec
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or("default-scheduler");
        if scheduler != "default-scheduler" || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Err(e) = bind(ctx, &pod).await {
            tracing::warn!(pod = ?pod.metadata.name, error = %e, "binding failed");
        }
    }
    Ok(())
}

async fn bind(ctx: &Context, pod: &Pod) -> anyhow::Result<()> {
    let (Some(ns), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return Ok(());
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            kind: Some("Node".into()),
            api_version: Some("v1".into()),
            name: Some(ctx.node_name.clone()),
            ..Default::default()
        },
    };
    match pods
        .create_subresource::<Binding, serde_json::Value>(
            "binding",
            name,
            &PostParams::default(),
            &binding,
        )
        .await
    {
        Ok(_) => {
            tracing::info!(namespace = ns, pod = name, node = %ctx.node_name, "bound");
            Ok(())
        }
        // Already bound (a stale event): nothing to do.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
