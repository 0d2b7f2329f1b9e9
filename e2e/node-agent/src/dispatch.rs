//! Watches the Pods bound to our Node and keeps one worker per pod: starts
//! workers for new pods, tells them when their pod is being deleted or gone.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;

use crate::context::Context;
use crate::pod::{PodHandle, Stop, start};

/// The pod workers of this node, by pod UID.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    ctx: Arc<Context>,
    workers: Arc<Mutex<HashMap<String, PodHandle>>>,
}

fn grace_of(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(secs.max(0).unsigned_abs())
}

impl Dispatcher {
    pub(crate) fn new(ctx: Arc<Context>) -> Dispatcher {
        Dispatcher {
            ctx,
            workers: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Watches our pods until aborted (re-watching after errors).
    pub(crate) async fn run(self) {
        loop {
            if let Err(e) = self.watch().await {
                tracing::warn!(error = %e, "pod watch failed; retrying");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn watch(&self) -> anyhow::Result<()> {
        let pods: Api<Pod> = Api::all(self.ctx.client.clone());
        let config =
            watcher::Config::default().fields(&format!("spec.nodeName={}", self.ctx.node_name));
        let mut stream = std::pin::pin!(watcher::watcher(pods, config));
        let mut listed: HashSet<String> = HashSet::new();
        while let Some(event) = stream.try_next().await? {
            match event {
                watcher::Event::Init => listed.clear(),
                watcher::Event::InitApply(pod) => {
                    listed.insert(pod.metadata.uid.clone().unwrap_or_default());
                    self.apply(pod);
                }
                watcher::Event::InitDone => {
                    // Pods that vanished while we were not watching.
                    let mut workers = self.lock();
                    for (uid, h) in workers.iter() {
                        if !listed.contains(uid) {
                            let _ = h.stop.send(Stop::Gone);
                        }
                    }
                    workers.retain(|_, h| !h.task.is_finished());
                }
                watcher::Event::Apply(pod) => self.apply(pod),
                watcher::Event::Delete(pod) => {
                    let uid = pod.metadata.uid.unwrap_or_default();
                    if let Some(h) = self.lock().get(&uid) {
                        // Already being stopped gracefully: let that finish.
                        h.stop.send_if_modified(|s| {
                            let changed = *s == Stop::No;
                            if changed {
                                *s = Stop::Gone;
                            }
                            changed
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PodHandle>> {
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply(&self, pod: Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let mut workers = self.lock();
        workers.retain(|_, h| !h.task.is_finished());
        match workers.get(&uid) {
            Some(h) => {
                if deleting {
                    let grace = grace_of(&pod);
                    h.stop.send_if_modified(|s| {
                        let changed = *s == Stop::No;
                        if changed {
                            *s = Stop::Delete(grace);
                        }
                        changed
                    });
                }
            }
            None => {
                let terminal = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_some_and(|p| p == "Succeeded" || p == "Failed");
                if terminal && !deleting {
                    return;
                }
                let h = start(self.ctx.clone(), pod.clone());
                if deleting {
                    let _ = h.stop.send(Stop::Delete(Duration::ZERO));
                }
                workers.insert(uid, h);
            }
        }
    }

    /// Stops every pod (their grace periods, at most 20 s) and waits for them.
    pub(crate) async fn shutdown(&self) {
        let handles: Vec<PodHandle> = self.lock().drain().map(|(_, h)| h).collect();
        for h in &handles {
            let _ = h.stop.send(Stop::Shutdown(Duration::from_secs(20)));
        }
        for h in handles {
            let _ = tokio::time::timeout(Duration::from_secs(30), h.task).await;
        }
    }
}
