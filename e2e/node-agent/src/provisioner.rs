//! A tiny volume provisioner: every pending PersistentVolumeClaim gets a
//! PersistentVolume backed by a directory under the agent's state folder,
//! pre-bound to the claim (the controller manager's PV binder completes the
//! binding). Directories outlive pods, so a restarted pod finds its data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::watcher;

use crate::context::Context;

/// Watches claims and provisions a volume for each unbound one.
pub(crate) async fn run(ctx: Arc<Context>) {
    loop {
        if let Err(e) = watch(&ctx).await {
            tracing::warn!(error = %e, "provisioner watch failed; retrying");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn watch(ctx: &Context) -> anyhow::Result<()> {
    let claims: Api<PersistentVolumeClaim> = Api::all(ctx.client.clone());
    let mut stream = std::pin::pin!(watcher::watcher(claims, watcher::Config::default()));
    while let Some(event) = stream.try_next().await? {
        let claim = match event {
            watcher::Event::Apply(c) | watcher::Event::InitApply(c) => c,
            _ => continue,
        };
        let unbound = claim
            .spec
            .as_ref()
            .is_none_or(|s| s.volume_name.as_deref().unwrap_or("").is_empty());
        if unbound && claim.metadata.deletion_timestamp.is_none() {
            if let Err(e) = provision(ctx, &claim).await {
                tracing::warn!(claim = ?claim.metadata.name, error = %e, "provisioning failed");
            }
        }
    }
    Ok(())
}

async fn provision(ctx: &Context, claim: &PersistentVolumeClaim) -> anyhow::Result<()> {
    let (Some(ns), Some(name), Some(uid)) = (
        claim.metadata.namespace.as_deref(),
        claim.metadata.name.as_deref(),
        claim.metadata.uid.as_deref(),
    ) else {
        return Ok(());
    };
    let spec = claim.spec.clone().unwrap_or_default();
    let pv_name = format!("pvc-{uid}");
    let dir = ctx.volume_dir(&pv_name);
    std::fs::create_dir_all(&dir)?;
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned())
        .unwrap_or_else(|| Quantity("1Gi".into()));
    let access_modes = spec
        .access_modes
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| vec!["ReadWriteOnce".into()]);
    let pv = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(pv_name.clone()),
            labels: Some(BTreeMap::from([(
                "skylark.e2e/provisioned-by".into(),
                ctx.node_name.clone(),
            )])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            capacity: Some(BTreeMap::from([("storage".into(), size)])),
            access_modes: Some(access_modes),
            host_path: Some(HostPathVolumeSource {
                path: dir.display().to_string(),
                type_: None,
            }),
            claim_ref: Some(ObjectReference {
                kind: Some("PersistentVolumeClaim".into()),
                api_version: Some("v1".into()),
                namespace: Some(ns.to_string()),
                name: Some(name.to_string()),
                uid: Some(uid.to_string()),
                ..Default::default()
            }),
            storage_class_name: spec.storage_class_name.clone(),
            volume_mode: spec.volume_mode.clone(),
            persistent_volume_reclaim_policy: Some("Retain".into()),
            ..Default::default()
        }),
        status: None,
    };
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match pvs.create(&PostParams::default(), &pv).await {
        Ok(_) => {
            tracing::info!(namespace = ns, claim = name, volume = %pv_name, dir = %dir.display(), "provisioned")
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
