//! Name resolution for pods without a DNS server: every pod's namespace gets
//! `/etc/netns/<netns>/hosts`, which `ip netns exec` mounts over /etc/hosts for
//! the pod's processes. It lists the pod itself, `kubernetes.default.svc` (the
//! API relay on the pod's loopback), every Service (headless ones: each ready
//! endpoint; others: their ready endpoints too, as there is no kube-proxy to
//! route a ClusterIP), and StatefulSet pod names (`web-0.web.ns.svc...`).
//! The files are rewritten in place as EndpointSlices change. A resolv.conf
//! without servers makes every other lookup fail fast.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};

use crate::context::Context;

const DOMAIN: &str = "cluster.local";
const RESOLV_CONF: &str =
    "# skylark-node-agent: names come from /etc/hosts\noptions timeout:1 attempts:1\n";

/// One pod's hosts file and identity.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    namespace: String,
    hostname: String,
    subdomain: Option<String>,
    ip: String,
    written: String,
}

/// The pods whose hosts files the agent keeps current.
#[derive(Debug, Default)]
pub(crate) struct HostsRegistry {
    entries: Mutex<HashMap<String, Entry>>,
    slices: Mutex<Vec<Arc<EndpointSlice>>>,
}

impl HostsRegistry {
    /// Writes a pod's hosts file now (it must exist before its processes start).
    pub(crate) fn register(
        &self,
        uid: &str,
        netns: &str,
        namespace: &str,
        hostname: &str,
        subdomain: Option<String>,
        ip: &str,
    ) -> anyhow::Result<()> {
        let dir = PathBuf::from(format!("/etc/netns/{netns}"));
        std::fs::create_dir_all(&dir)?;
        // No DNS server: without this file the pod would inherit the host's
        // resolvers, unreachable from its namespace, and every lookup the hosts
        // file cannot answer (AAAA first, for one) would hang for their timeouts.
        // With no nameserver line the resolver asks the pod's own loopback,
        // which refuses at once.
        std::fs::write(dir.join("resolv.conf"), RESOLV_CONF)?;
        let mut entry = Entry {
            path: dir.join("hosts"),
            namespace: namespace.to_string(),
            hostname: hostname.to_string(),
            subdomain,
            ip: ip.to_string(),
            written: String::new(),
        };
        let slices = self
            .slices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        refresh(&mut entry, &slices)?;
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid.to_string(), entry);
        Ok(())
    }

    /// Forgets a pod (its netns folder goes with the namespace).
    pub(crate) fn unregister(&self, uid: &str) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }

    fn refresh_all(&self, slices: Vec<Arc<EndpointSlice>>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for entry in entries.values_mut() {
            if let Err(e) = refresh(entry, &slices) {
                tracing::warn!(path = %entry.path.display(), error = %e, "writing hosts file failed");
            }
        }
        *self
            .slices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = slices;
    }
}

fn refresh(entry: &mut Entry, slices: &[Arc<EndpointSlice>]) -> anyhow::Result<()> {
    let content = render(entry, slices);
    if content != entry.written {
        // In place, not by rename: the file is bind-mounted into running pods.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&entry.path)?;
        f.write_all(content.as_bytes())?;
        entry.written = content;
    }
    Ok(())
}

/// Names a Service or pod record is known by from `from_ns`.
fn names(base: &str, ns: &str, from_ns: &str) -> Vec<String> {
    let mut v = vec![
        format!("{base}.{ns}.svc.{DOMAIN}"),
        format!("{base}.{ns}.svc"),
        format!("{base}.{ns}"),
    ];
    if ns == from_ns {
        v.push(base.to_string());
    }
    v
}

fn render(entry: &Entry, slices: &[Arc<EndpointSlice>]) -> String {
    let mut lines: BTreeSet<String> = BTreeSet::new();
    let own = match &entry.subdomain {
        Some(sub) => names(
            &format!("{}.{sub}", entry.hostname),
            &entry.namespace,
            &entry.namespace,
        )
        .join(" "),
        None => String::new(),
    };
    lines.insert(
        format!("{} {} {own}", entry.ip, entry.hostname)
            .trim_end()
            .to_string(),
    );
    lines.insert(format!(
        "127.0.0.1 {}",
        names("kubernetes", "default", &entry.namespace).join(" ")
    ));
    for slice in slices {
        let Some(ns) = slice.metadata.namespace.as_deref() else {
            continue;
        };
        let labels = slice.metadata.labels.as_ref();
        let Some(service) = labels.and_then(|l| l.get("kubernetes.io/service-name")) else {
            continue;
        };
        if ns == "default" && service == "kubernetes" {
            continue;
        }
        for ep in &slice.endpoints {
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready {
                continue;
            }
            for addr in &ep.addresses {
                lines.insert(format!(
                    "{addr} {}",
                    names(service, ns, &entry.namespace).join(" ")
                ));
                if let Some(h) = &ep.hostname {
                    lines.insert(format!(
                        "{addr} {}",
                        names(&format!("{h}.{service}"), ns, &entry.namespace).join(" ")
                    ));
                }
            }
        }
    }
    let mut out = String::from("# written by skylark-node-agent\n127.0.0.1 localhost\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Watches EndpointSlices and keeps every registered hosts file current.
pub(crate) async fn run(ctx: Arc<Context>) {
    let api: Api<EndpointSlice> = Api::all(ctx.client.clone());
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    let mut stream = std::pin::pin!(stream);
    let poll = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            loop {
                ctx.hosts.refresh_all(reader.state());
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            tracing::debug!(error = %e, "endpointslice watch");
        }
    }
    poll.abort();
}
