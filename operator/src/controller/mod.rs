//! The controllers, one module per resource, and what they share: the
//! context, the error type, back-off and event publishing.

pub mod broker_group;
pub mod consumer_group;
mod selection;
pub mod topic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use tracing::Instrument as _;

use crate::admin::{AdminError, BrokerAdmin};
use crate::conditions::{DEGRADED, READY, Wanted};
use crate::metrics::Metrics;

/// The field manager of every server-side apply.
pub const MANAGER: &str = "skylark-operator";

/// Defaults the operator fills in when a spec leaves them out.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Broker image when `spec.image` is unset.
    pub broker_image: String,
    /// namesrvAddr when `spec.nameServer` is unset.
    pub namesrv_addr: Option<String>,
}

/// What every reconcile gets.
pub struct Context<A> {
    /// The Kubernetes client.
    pub client: Client,
    /// Admin calls to brokers.
    pub admin: A,
    /// Defaults.
    pub settings: Settings,
    /// Metrics.
    pub metrics: Metrics,
    /// Publishes events (one recorder, so repeats become an event series).
    recorder: Recorder,
    /// Consecutive failures per object, for exponential back-off.
    failures: Mutex<HashMap<String, u32>>,
}

impl<A: std::fmt::Debug> std::fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("admin", &self.admin)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<A: BrokerAdmin> Context<A> {
    /// A context; `instance` names this operator replica in events.
    pub fn new(
        client: Client,
        admin: A,
        settings: Settings,
        metrics: Metrics,
        instance: Option<String>,
    ) -> Self {
        Self {
            client: client.clone(),
            admin,
            settings,
            metrics,
            recorder: Recorder::new(
                client.clone(),
                Reporter {
                    controller: MANAGER.to_owned(),
                    instance,
                },
            ),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes an event about `obj`; a failure to publish is only logged.
    pub async fn event<K>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) where
        K: Resource<DynamicType = ()>,
    {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%error, reason, "cannot publish event");
        }
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }

    /// Counts a failure of `key` and returns how long to wait before retrying:
    /// 5 s doubled per consecutive failure, at most 5 minutes.
    pub fn backoff(&self, key: &str) -> Duration {
        let n = match self.failures.lock() {
            Ok(mut failures) => {
                let n = failures.entry(key.to_owned()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            }
            Err(_) => 1,
        };
        backoff_for(n)
    }
}

/// The wait after `n` consecutive failures.
pub fn backoff_for(n: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << n.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(300))
}

/// Writes `status` with server-side apply on the status subresource.
pub async fn apply_status<K>(
    api: &kube::Api<K>,
    name: &str,
    status: &impl serde::Serialize,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &kube::api::PatchParams::apply(MANAGER).force(),
        &kube::api::Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Runs one reconcile of the object `key` inside a span, times and counts
/// it, and forgets the object's failures when it succeeds.
pub async fn timed<A: BrokerAdmin>(
    controller: &'static str,
    key: String,
    ctx: &Context<A>,
    reconcile: impl Future<Output = Result<Action, Error>>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let span = tracing::info_span!("reconcile", controller, object = %key);
    let result = reconcile.instrument(span).await;
    ctx.metrics.reconciled(controller, started.elapsed());
    if result.is_ok() {
        ctx.succeeded(&key);
    }
    result
}

/// Reports a spec that failed validation: writes `status` (which carries
/// the InvalidSpec conditions), publishes a Warning event with `message`,
/// and waits for the object to change.
pub async fn report_invalid<K, A>(
    ctx: &Context<A>,
    api: &kube::Api<K>,
    obj: &K,
    status: &impl serde::Serialize,
    message: String,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    A: BrokerAdmin,
{
    tracing::warn!(%message, "invalid spec");
    apply_status(api, &obj.name_any(), status).await?;
    ctx.event(obj, EventType::Warning, "InvalidSpec", "Validate", message)
        .await;
    Ok(Action::await_change())
}

/// The namespace of a namespaced object.
pub fn namespace_of<K: Resource>(obj: &K) -> Result<String, Error> {
    obj.namespace()
        .ok_or_else(|| Error::Malformed(format!("{} has no namespace", obj.name_any())))
}

/// `namespace/name` of an object, the key of its back-off.
pub fn key_of<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Why a reconcile failed (an invalid spec is not an error: it is reported
/// in status and waits for the next change).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Adding or removing a finalizer, or the cleanup it guards, failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// A broker call failed where it must succeed (cleanup).
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// An object lacks what the API server always sets.
    #[error("{0}")]
    Malformed(String),
}

impl Error {
    /// A short label for the errors metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Finalizer(_) => "finalizer",
            Self::Admin(_) => "admin",
            Self::Malformed(_) => "malformed",
        }
    }
}

/// Broker calls that failed during one reconcile, and the condition reason
/// they make: BrokerUnreachable when any broker did not answer, else
/// BrokerRefused (the broker answered with an error).
#[derive(Debug, Default)]
pub struct Failures {
    messages: Vec<String>,
    unreachable: bool,
}

impl Failures {
    /// Records that `what` (a broker group at an address) failed with `error`.
    pub fn push(&mut self, what: &str, error: &AdminError) {
        self.unreachable |= error.unreachable_addr().is_some();
        self.messages.push(format!("{what}: {error}"));
    }

    /// Whether nothing failed.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Every failure, for a condition message.
    pub fn message(&self) -> String {
        self.messages.join("; ")
    }

    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        if self.unreachable {
            "BrokerUnreachable"
        } else {
            "BrokerRefused"
        }
    }
}

/// The Ready and Degraded conditions of an object synced onto the masters
/// of `selected` BrokerGroups, `waiting` naming those without a master
/// address yet; with whether it is ready.
pub fn sync_conditions(
    selected: usize,
    failures: &Failures,
    waiting: &[String],
) -> (bool, [Wanted; 2]) {
    let ready = selected > 0 && failures.is_empty() && waiting.is_empty();
    let ready_condition = if selected == 0 {
        Wanted::new(
            READY,
            false,
            "NoBrokerGroups",
            "no BrokerGroup in the namespace matches brokerGroupSelector",
        )
    } else if !failures.is_empty() {
        Wanted::new(READY, false, failures.reason(), failures.message())
    } else if !waiting.is_empty() {
        Wanted::new(
            READY,
            false,
            "WaitingForMaster",
            format!("no master address yet: {}", waiting.join(", ")),
        )
    } else {
        Wanted::new(
            READY,
            true,
            "Synced",
            format!("on {selected} broker group(s)"),
        )
    };
    let degraded = if failures.is_empty() {
        Wanted::new(
            DEGRADED,
            false,
            "BrokersReachable",
            "every selected master answers",
        )
    } else {
        Wanted::new(DEGRADED, true, failures.reason(), failures.message())
    };
    (ready, [ready_condition, degraded])
}

/// The conditions of a Topic or ConsumerGroup whose spec is invalid.
pub fn invalid_spec_conditions(message: &str) -> [Wanted; 2] {
    [
        Wanted::new(READY, false, "InvalidSpec", message),
        Wanted::new(DEGRADED, false, "InvalidSpec", "nothing applied"),
    ]
}

/// The shared error policy: count the failure, log it, retry with
/// exponential back-off so a failing object never spins.
pub fn error_policy<K, A>(
    obj: Arc<K>,
    error: &Error,
    ctx: Arc<Context<A>>,
    controller: &str,
) -> Action
where
    K: Resource,
    A: BrokerAdmin,
{
    let key = key_of(obj.as_ref());
    let wait = ctx.backoff(&key);
    ctx.metrics.failed(controller, error.metric_label());
    tracing::warn!(controller, object = %key, %error, retry_in_s = wait.as_secs(), "reconcile failed");
    Action::requeue(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff_for(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff_for(u32::MAX).as_secs(), 300);
    }
}
