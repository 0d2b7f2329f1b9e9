//! What the agent knows about a pod's containers, and its translation into
//! the Pod's status (phase, conditions, container statuses), written to the
//! API server whenever it changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A container's state.
#[derive(Debug, Clone)]
pub(crate) enum CState {
    /// Not running: why.
    Waiting { reason: String, message: String },
    /// Running since.
    Running { started: Timestamp },
    /// Exited.
    Terminated {
        exit_code: i32,
        signal: Option<i32>,
        reason: String,
        started: Timestamp,
        finished: Timestamp,
    },
}

impl CState {
    /// Waiting with a reason.
    pub(crate) fn waiting(reason: &str, message: impl Into<String>) -> CState {
        CState::Waiting {
            reason: reason.into(),
            message: message.into(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            CState::Waiting { reason, message } => {
                json!({"waiting": {"reason": reason, "message": message}})
            }
            CState::Running { started } => json!({"running": {"startedAt": Time(*started)}}),
            CState::Terminated {
                exit_code,
                signal,
                reason,
                started,
                finished,
            } => json!({"terminated": {
                "exitCode": exit_code, "signal": signal, "reason": reason,
                "startedAt": Time(*started), "finishedAt": Time(*finished),
            }}),
        }
    }
}

/// A container's status as the agent tracks it.
#[derive(Debug, Clone)]
pub(crate) struct CStatus {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) restart_count: i32,
    pub(crate) state: CState,
    pub(crate) last: Option<CState>,
    pub(crate) ready: bool,
    pub(crate) started: bool,
    pub(crate) pid: Option<u32>,
}

impl CStatus {
    pub(crate) fn new(name: &str, image: &str) -> CStatus {
        CStatus {
            name: name.into(),
            image: image.into(),
            restart_count: 0,
            state: CState::waiting("ContainerCreating", ""),
            last: None,
            ready: false,
            started: false,
            pid: None,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name, "image": self.image, "imageID": format!("skylark-node-agent://{}", self.image),
            "containerID": self.pid.map(|p| format!("skylark-node-agent://{p}")),
            "ready": self.ready, "started": self.started, "restartCount": self.restart_count,
            "state": self.state.to_json(),
            "lastState": self.last.as_ref().map(CState::to_json).unwrap_or_else(|| json!({})),
        })
    }
}

/// A pod's state.
#[derive(Debug)]
pub(crate) struct PodState {
    pub(crate) phase: &'static str,
    pub(crate) pod_ip: Option<String>,
    pub(crate) host_ip: String,
    pub(crate) start_time: Timestamp,
    pub(crate) initialized: bool,
    pub(crate) init: Vec<CStatus>,
    pub(crate) containers: Vec<CStatus>,
    pub(crate) message: Option<String>,
    transitions: HashMap<&'static str, (bool, Timestamp)>,
}

impl PodState {
    pub(crate) fn new(pod: &Pod, host_ip: String) -> PodState {
        let spec = pod.spec.clone().unwrap_or_default();
        let statuses = |cs: &[k8s_openapi::api::core::v1::Container]| {
            cs.iter()
                .map(|c| CStatus::new(&c.name, c.image.as_deref().unwrap_or("")))
                .collect()
        };
        PodState {
            phase: "Pending",
            pod_ip: None,
            host_ip,
            start_time: Timestamp::now(),
            initialized: spec.init_containers.as_ref().is_none_or(Vec::is_empty),
            init: statuses(spec.init_containers.as_deref().unwrap_or(&[])),
            containers: statuses(&spec.containers),
            message: None,
            transitions: HashMap::new(),
        }
    }

    fn condition(&mut self, type_: &'static str, status: bool) -> Value {
        let now = Timestamp::now();
        let entry = self.transitions.entry(type_).or_insert((status, now));
        if entry.0 != status {
            *entry = (status, now);
        }
        json!({"type": type_, "status": if status { "True" } else { "False" }, "lastTransitionTime": Time(entry.1)})
    }

    /// The status subresource as a merge patch.
    pub(crate) fn as_patch(&mut self) -> Value {
        let ready =
            self.phase == "Running" && self.initialized && self.containers.iter().all(|c| c.ready);
        let conditions = vec![
            self.condition("PodScheduled", true),
            self.condition("Initialized", self.initialized),
            self.condition("ContainersReady", ready),
            self.condition("Ready", ready),
        ];
        let ips = self
            .pod_ip
            .iter()
            .map(|ip| json!({"ip": ip}))
            .collect::<Vec<_>>();
        json!({"status": {
            "phase": self.phase,
            "conditions": conditions,
            "hostIP": self.host_ip, "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.pod_ip, "podIPs": ips,
            "startTime": Time(self.start_time),
            "message": self.message,
            "initContainerStatuses": self.init.iter().map(CStatus::to_json).collect::<Vec<_>>(),
            "containerStatuses": self.containers.iter().map(CStatus::to_json).collect::<Vec<_>>(),
        }})
    }
}

/// A pod's state shared by its container runners and its status writer.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<PodState>,
    changed: Notify,
}

impl Shared {
    pub(crate) fn new(state: PodState) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
            changed: Notify::new(),
        })
    }

    /// Changes the state and wakes the status writer.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut PodState) -> R) -> R {
        let r = f(&mut self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
        self.changed.notify_one();
        r
    }
}

/// Writes the pod's status after every change (coalescing bursts).
pub(crate) async fn writer(api: Api<Pod>, name: String, shared: Arc<Shared>) {
    loop {
        shared.changed.notified().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let patch = shared.update_quiet();
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                return;
            }
            tracing::warn!(pod = %name, error = %e, "status update failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            shared.changed.notify_one();
        }
    }
}

impl Shared {
    fn update_quiet(&self) -> Value {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_patch()
    }
}
