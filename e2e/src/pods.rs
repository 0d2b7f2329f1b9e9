//! Waiting on Pods the way tests need to.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::error::{Error, Result};
use crate::wait::wait_until;

/// True if the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until pod `name` exists and satisfies `pred`; returns it.
pub async fn wait_for_pod(
    api: &Api<Pod>,
    name: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Pod) -> bool,
) -> Result<Pod> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(p) = api.get_opt(name).await?
            && pred(&p)
        {
            return Ok(p);
        }
        if std::time::Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!("pod {name}: {what}"),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until pod `name` is Ready; returns it.
pub async fn wait_ready(api: &Api<Pod>, name: &str, timeout: Duration) -> Result<Pod> {
    wait_for_pod(api, name, "Ready", timeout, is_ready).await
}

/// Waits until pod `name` no longer exists.
pub async fn wait_gone(api: &Api<Pod>, name: &str, timeout: Duration) -> Result<()> {
    wait_until(&format!("pod {name} to be gone"), timeout, || async {
        Ok(api.get_opt(name).await?.is_none())
    })
    .await
}

/// The process id the node agent reports for a running container
/// (its containerID is `skylark-node-agent://PID`).
pub fn container_pid(pod: &Pod, container: &str) -> Option<i32> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let s = statuses.iter().find(|s| s.name == container)?;
    s.state.as_ref()?.running.as_ref()?;
    s.container_id
        .as_deref()?
        .strip_prefix("skylark-node-agent://")?
        .parse()
        .ok()
}

/// A container's restart count.
pub fn restart_count(pod: &Pod, container: &str) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|s| s.name == container))
        .map_or(0, |s| s.restart_count)
}
