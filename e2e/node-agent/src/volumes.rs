//! A pod's volumes as host directories: ConfigMap, Secret, downward-API and
//! projected volumes are written as files, emptyDir is a fresh directory,
//! a PersistentVolumeClaim is the directory of the PersistentVolume bound to it
//! (which outlives the pod), hostPath is itself.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, DownwardAPIVolumeFile, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod,
    Secret, ServiceAccount, Volume,
};
use k8s_openapi::serde::de::DeserializeOwned;
use kube::Resource;
use kube::api::{Api, PostParams};

use crate::context::Context;
use crate::spec::{PodFacts, field};

/// Materializes every volume of the pod under `root` (PVCs and hostPath
/// excepted); name → host directory. Fails (the
/// caller retries) while a claim is not bound yet or a source is missing.
pub(crate) async fn prepare(
    ctx: &Context,
    pod: &Pod,
    root: &Path,
    facts: &PodFacts,
) -> anyhow::Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        let dir = root.join(&v.name);
        let path = prepare_one(ctx, pod, v, &dir, facts)
            .await
            .with_context(|| format!("volume {}", v.name))?;
        out.insert(v.name.clone(), path);
    }
    Ok(out)
}

async fn prepare_one(
    ctx: &Context,
    pod: &Pod,
    v: &Volume,
    dir: &Path,
    facts: &PodFacts,
) -> anyhow::Result<PathBuf> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    if v.empty_dir.is_some() {
        std::fs::create_dir_all(dir)?;
        return Ok(dir.to_path_buf());
    }
    if let Some(h) = &v.host_path {
        std::fs::create_dir_all(&h.path)?;
        return Ok(PathBuf::from(&h.path));
    }
    if let Some(c) = &v.persistent_volume_claim {
        return claim_dir(ctx, ns, &c.claim_name).await;
    }
    let mut files: BTreeMap<String, (Vec<u8>, Option<i32>)> = BTreeMap::new();
    let default_mode;
    if let Some(cm) = &v.config_map {
        default_mode = cm.default_mode;
        keyed_files::<ConfigMap>(
            ctx,
            ns,
            &cm.name,
            cm.items.as_deref(),
            cm.optional,
            &mut files,
        )
        .await?;
    } else if let Some(s) = &v.secret {
        default_mode = s.default_mode;
        let name = s.secret_name.as_deref().unwrap_or("");
        keyed_files::<Secret>(ctx, ns, name, s.items.as_deref(), s.optional, &mut files).await?;
    } else if let Some(d) = &v.downward_api {
        default_mode = d.default_mode;
        downward_files(pod, d.items.as_deref(), facts, &mut files)?;
    } else if let Some(p) = &v.projected {
        default_mode = p.default_mode;
        for src in p.sources.iter().flatten() {
            if let Some(cm) = &src.config_map {
                keyed_files::<ConfigMap>(
                    ctx,
                    ns,
                    &cm.name,
                    cm.items.as_deref(),
                    cm.optional,
                    &mut files,
                )
                .await?;
            } else if let Some(s) = &src.secret {
                keyed_files::<Secret>(ctx, ns, &s.name, s.items.as_deref(), s.optional, &mut files)
                    .await?;
            } else if let Some(d) = &src.downward_api {
                downward_files(pod, d.items.as_deref(), facts, &mut files)?;
            } else if let Some(t) = &src.service_account_token {
                let token =
                    service_account_token(ctx, pod, t.audience.clone(), t.expiration_seconds)
                        .await?;
                files.insert(t.path.clone(), (token.into_bytes(), None));
            } else {
                bail!("this projected volume source is not supported by the node agent");
            }
        }
    } else {
        bail!("this volume type is not supported by the node agent");
    }
    write_files(dir, &files, default_mode)?;
    Ok(dir.to_path_buf())
}

async fn claim_dir(ctx: &Context, ns: &str, claim: &str) -> anyhow::Result<PathBuf> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let pvc = claims
        .get_opt(claim)
        .await?
        .with_context(|| format!("claim {ns}/{claim} not found"))?;
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let volume = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|_| bound);
    let volume = volume.with_context(|| format!("claim {ns}/{claim} is not bound yet"))?;
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let pv = pvs.get(&volume).await?;
    let path = pv.spec.and_then(|s| s.host_path).map(|h| h.path);
    let path = path.with_context(|| format!("volume {volume} is not a hostPath volume"))?;
    std::fs::create_dir_all(&path)?;
    Ok(PathBuf::from(path))
}

fn select(
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    what: &str,
    files: &mut BTreeMap<String, (Vec<u8>, Option<i32>)>,
) -> anyhow::Result<()> {
    match items {
        None => files.extend(data.into_iter().map(|(k, v)| (k, (v, None)))),
        Some(items) => {
            for item in items {
                let v = data
                    .get(&item.key)
                    .with_context(|| format!("{what} has no key {}", item.key))?;
                files.insert(item.path.clone(), (v.clone(), item.mode));
            }
        }
    }
    Ok(())
}

/// A ConfigMap or Secret: an object whose keys become files.
trait KeyedFiles:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
    /// Every key with its bytes.
    fn into_data(self) -> BTreeMap<String, Vec<u8>>;
}

impl KeyedFiles for ConfigMap {
    fn into_data(self) -> BTreeMap<String, Vec<u8>> {
        let mut data: BTreeMap<String, Vec<u8>> = self
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        data.extend(
            self.binary_data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0)),
        );
        data
    }
}

impl KeyedFiles for Secret {
    fn into_data(self) -> BTreeMap<String, Vec<u8>> {
        self.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()
    }
}

/// Adds the files of the ConfigMap or Secret `ns/name` to `files`; a
/// missing one is skipped when `optional`, else an error.
async fn keyed_files<K: KeyedFiles>(
    ctx: &Context,
    ns: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    files: &mut BTreeMap<String, (Vec<u8>, Option<i32>)>,
) -> anyhow::Result<()> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let what = format!("{} {ns}/{name}", K::kind(&()));
    let Some(obj) = api.get_opt(name).await? else {
        if optional == Some(true) {
            return Ok(());
        }
        bail!("{what} not found");
    };
    select(obj.into_data(), items, &what, files)
}

fn downward_files(
    pod: &Pod,
    items: Option<&[DownwardAPIVolumeFile]>,
    facts: &PodFacts,
    files: &mut BTreeMap<String, (Vec<u8>, Option<i32>)>,
) -> anyhow::Result<()> {
    for item in items.into_iter().flatten() {
        let f = item
            .field_ref
            .as_ref()
            .context("only fieldRef downward-API files are supported")?;
        let value = match f.field_path.as_str() {
            "metadata.labels" | "metadata.annotations" => {
                let map = if f.field_path.ends_with("labels") {
                    &pod.metadata.labels
                } else {
                    &pod.metadata.annotations
                };
                map.iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={v:?}\n"))
                    .collect()
            }
            path => field(pod, path, facts)?,
        };
        files.insert(item.path.clone(), (value.into_bytes(), item.mode));
    }
    Ok(())
}

async fn service_account_token(
    ctx: &Context,
    pod: &Pod,
    audience: Option<String>,
    expiration: Option<i64>,
) -> anyhow::Result<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), ns);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.into_iter().collect(),
            expiration_seconds: Some(expiration.unwrap_or(3600).max(3600)),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..Default::default()
    };
    let token = api
        .create_token_request(&sa, &PostParams::default(), &request)
        .await?;
    token
        .status
        .map(|s| s.token)
        .context("the token request returned no token")
}

fn write_files(
    dir: &Path,
    files: &BTreeMap<String, (Vec<u8>, Option<i32>)>,
    default_mode: Option<i32>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (rel, (bytes, mode)) in files {
        if rel.split('/').any(|c| c == "..") || rel.starts_with('/') {
            bail!("volume file path {rel} escapes the volume");
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        let mode = mode.or(default_mode).unwrap_or(0o644);
        let mode = u32::try_from(mode).unwrap_or(0o644) & 0o7777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}
