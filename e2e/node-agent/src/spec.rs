//! From a container spec to a process: which binary an image name stands for,
//! its argv, and its environment (values, downward-API fields, ConfigMap and
//! Secret keys, with Kubernetes' `$(VAR)` expansion).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::Api;

use crate::context::Context;

/// The key an image is mapped by: its last path segment without tag or digest
/// (`registry.example/skylark-mq/skylark:0.1` → `skylark`).
pub(crate) fn image_key(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split(':').next().unwrap_or(last)
}

/// The program and arguments a container runs: `command` replaces the image's
/// entrypoint (the mapped binary) and `args` follow, as in Kubernetes.
pub(crate) fn argv(
    ctx: &Context,
    c: &Container,
    env: &[(String, String)],
) -> anyhow::Result<(PathBuf, Vec<String>)> {
    let image = c.image.as_deref().unwrap_or("");
    let key = image_key(image);
    let bin = ctx
        .images
        .get(key)
        .with_context(|| format!("image {image:?} is not mapped to a local binary (start the agent with --image {key}=PATH)"))?;
    let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expand_all = |v: &Option<Vec<String>>| -> Vec<String> {
        v.iter().flatten().map(|s| expand(s, &vars)).collect()
    };
    let command = expand_all(&c.command);
    let args = expand_all(&c.args);
    let Some((first, rest)) = command.split_first() else {
        return Ok((bin.clone(), args));
    };
    let program = resolve_program(first, key, bin, &vars)?;
    Ok((program, rest.iter().cloned().chain(args).collect()))
}

fn resolve_program(
    name: &str,
    key: &str,
    bin: &Path,
    vars: &HashMap<&str, &str>,
) -> anyhow::Result<PathBuf> {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name);
    if base == key || Some(base) == bin.file_name().and_then(|n| n.to_str()) {
        return Ok(bin.to_path_buf());
    }
    if name.contains('/') {
        if Path::new(name).is_file() {
            return Ok(PathBuf::from(name));
        }
        bail!("command {name} does not exist on this node");
    }
    let path = vars.get("PATH").copied().unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("command {name} not found in PATH {path}"))
}

/// PATH of a container that sets none (the usual image default).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Kubernetes' `$(VAR)` expansion: a defined variable is replaced, `$$` is a
/// literal `$`, anything else stays as written.
pub(crate) fn expand(s: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some(value) = vars.get(&inner[..end])
        {
            out.push_str(value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Facts about the running pod that the downward API exposes.
#[derive(Debug, Clone)]
pub(crate) struct PodFacts {
    /// The pod's address.
    pub(crate) pod_ip: String,
    /// The node's address.
    pub(crate) host_ip: String,
}

/// A downward-API field of the pod.
pub(crate) fn field(pod: &Pod, path: &str, facts: &PodFacts) -> anyhow::Result<String> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let lookup = |map: &Option<std::collections::BTreeMap<String, String>>, key: &str| {
        map.as_ref()
            .and_then(|m| m.get(key))
            .cloned()
            .unwrap_or_default()
    };
    let bracketed = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix("['"))
            .and_then(|r| r.strip_suffix("']"))
    };
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.clone(),
        _ => {
            if let Some(k) = bracketed("metadata.labels") {
                lookup(&m.labels, k)
            } else if let Some(k) = bracketed("metadata.annotations") {
                lookup(&m.annotations, k)
            } else {
                bail!("downward-API field {path} is not supported by the node agent")
            }
        }
    })
}

/// The container's environment, in Kubernetes' order: envFrom, then env
/// (later entries win), then what the agent adds for in-cluster clients.
pub(crate) async fn environment(
    ctx: &Context,
    pod: &Pod,
    c: &Container,
    facts: &PodFacts,
) -> anyhow::Result<Vec<(String, String)>> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let configmaps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let image_dir = ctx.image_bin_dir(image_key(c.image.as_deref().unwrap_or("")));
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            format!("{}:{DEFAULT_PATH}", image_dir.display()),
        ),
        ("HOSTNAME".into(), pod_hostname(pod)),
        ("KUBERNETES_SERVICE_HOST".into(), "127.0.0.1".into()),
        ("KUBERNETES_SERVICE_PORT".into(), ctx.api_port.to_string()),
        (
            "KUBERNETES_SERVICE_PORT_HTTPS".into(),
            ctx.api_port.to_string(),
        ),
    ];
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| {
        env.retain(|(name, _)| *name != k);
        env.push((k, v));
    };
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match configmaps.get_opt(&r.name).await? {
                Some(cm) => {
                    for (k, v) in cm.data.unwrap_or_default() {
                        set(&mut env, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => bail!("envFrom: ConfigMap {ns}/{} not found", r.name),
            }
        }
        if let Some(r) = &from.secret_ref {
            match secrets.get_opt(&r.name).await? {
                Some(s) => {
                    for (k, v) in s.data.unwrap_or_default() {
                        set(
                            &mut env,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => bail!("envFrom: Secret {ns}/{} not found", r.name),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(src) = &e.value_from {
            if let Some(f) = &src.field_ref {
                Some(field(pod, &f.field_path, facts)?)
            } else if let Some(r) = &src.config_map_key_ref {
                let cm = configmaps.get_opt(&r.name).await?;
                let v = cm
                    .and_then(|cm| cm.data)
                    .and_then(|d| d.get(&r.key).cloned());
                match v {
                    Some(v) => Some(v),
                    None if r.optional == Some(true) => None,
                    None => bail!(
                        "env {}: key {} of ConfigMap {ns}/{} not found",
                        e.name,
                        r.key,
                        r.name
                    ),
                }
            } else if let Some(r) = &src.secret_key_ref {
                let s = secrets.get_opt(&r.name).await?;
                let v = s.and_then(|s| s.data).and_then(|d| {
                    d.get(&r.key)
                        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                });
                match v {
                    Some(v) => Some(v),
                    None if r.optional == Some(true) => None,
                    None => bail!(
                        "env {}: key {} of Secret {ns}/{} not found",
                        e.name,
                        r.key,
                        r.name
                    ),
                }
            } else {
                bail!(
                    "env {}: this valueFrom source is not supported by the node agent",
                    e.name
                )
            }
        } else {
            let vars: HashMap<&str, &str> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Some(expand(e.value.as_deref().unwrap_or(""), &vars))
        };
        if let Some(v) = value {
            set(&mut env, e.name.clone(), v);
        }
    }
    Ok(env)
}

/// The pod's hostname: spec.hostname, else its name.
pub(crate) fn pod_hostname(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_keys() {
        assert_eq!(image_key("skylark"), "skylark");
        assert_eq!(image_key("skylark:0.1.0"), "skylark");
        assert_eq!(
            image_key("ghcr.io/skylark-mq/skylark:0.1@sha256:abc"),
            "skylark"
        );
        assert_eq!(image_key("localhost:5000/sh"), "sh");
    }

    #[test]
    fn expansion_follows_kubernetes() {
        let vars = HashMap::from([("A", "1"), ("POD_NAME", "web-0")]);
        assert_eq!(expand("$(A)-$(POD_NAME)", &vars), "1-web-0");
        assert_eq!(expand("$$(A) $(MISSING) $", &vars), "$(A) $(MISSING) $");
    }
}
