//! The BrokerGroup controller: read → validate → build the desired objects →
//! server-side apply → status.

pub mod config;
pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Context, Error, MANAGER, apply_status, error_policy, key_of, namespace_of, report_invalid,
    timed,
};
use crate::admin::BrokerAdmin;
use crate::conditions::{self, DEGRADED, PROGRESSING, READY, RECONCILIATION_PAUSED, Wanted};
use crate::crd::{BrokerGroup, BrokerGroupStatus, BrokerPodStatus};
use workload::Owner;

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "brokergroup";

/// Runs the controller until `shutdown` resolves.
pub async fn run<A: BrokerAdmin>(
    ctx: Arc<Context<A>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=skylark-operator");
    Controller::new(
        Api::<BrokerGroup>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<StatefulSet>::all(client.clone()), owned.clone())
    .owns(Api::<ConfigMap>::all(client.clone()), owned.clone())
    .owns(Api::<Service>::all(client.clone()), owned.clone())
    .owns(Api::<PodDisruptionBudget>::all(client), owned)
    .graceful_shutdown_on(shutdown)
    .run(
        reconcile,
        |obj, error, ctx| error_policy(obj, error, ctx, CONTROLLER),
        ctx,
    )
    .for_each(|_| futures::future::ready(()))
    .await;
}

/// One reconcile of a BrokerGroup, timed and counted.
pub async fn reconcile<A: BrokerAdmin>(
    bg: Arc<BrokerGroup>,
    ctx: Arc<Context<A>>,
) -> Result<Action, Error> {
    timed(
        CONTROLLER,
        key_of(bg.as_ref()),
        &ctx,
        reconcile_inner(&bg, &ctx),
    )
    .await
}

async fn reconcile_inner<A: BrokerAdmin>(
    bg: &BrokerGroup,
    ctx: &Context<A>,
) -> Result<Action, Error> {
    let name = bg.name_any();
    let namespace = namespace_of(bg)?;
    let api: Api<BrokerGroup> = Api::namespaced(ctx.client.clone(), &namespace);
    let generation = bg.metadata.generation;
    let old = bg.status.clone().unwrap_or_default();

    if bg.spec.paused {
        let was_paused =
            conditions::status_of(&old.conditions, RECONCILIATION_PAUSED) == Some("True");
        let status = BrokerGroupStatus {
            conditions: replace_condition(
                &old.conditions,
                Wanted::new(
                    RECONCILIATION_PAUSED,
                    true,
                    "Paused",
                    "spec.paused is true; nothing is applied",
                ),
                generation,
            ),
            observed_generation: generation,
            ..old
        };
        apply_status(&api, &name, &status).await?;
        if !was_paused {
            ctx.event(
                bg,
                EventType::Normal,
                "Paused",
                "Reconcile",
                "spec.paused is true; the operator changes nothing".to_owned(),
            )
            .await;
        }
        tracing::info!("paused");
        return Ok(Action::await_change());
    }

    let namesrv_addr = bg
        .spec
        .name_server
        .as_ref()
        .map(|n| n.address.clone())
        .or_else(|| ctx.settings.namesrv_addr.clone());
    if let Err(message) = config::validate(&bg.spec, namesrv_addr.as_deref()) {
        return invalid_spec(bg, ctx, &api, old, message).await;
    }
    let namesrv_addr = namesrv_addr.unwrap_or_default();
    let reference = bg
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Malformed(format!("{name} has no uid")))?;
    let owner = Owner {
        name: name.clone(),
        namespace: namespace.clone(),
        reference,
    };
    let image = bg
        .spec
        .image
        .clone()
        .unwrap_or_else(|| ctx.settings.broker_image.clone());

    let config_map = workload::config_map(&owner, &bg.spec, &namesrv_addr);
    let hash = workload::config_hash(&config_map);
    apply(&ctx.client, &namespace, &config_map).await?;
    apply(&ctx.client, &namespace, &workload::headless_service(&owner)).await?;
    apply(&ctx.client, &namespace, &workload::client_service(&owner)).await?;
    apply(
        &ctx.client,
        &namespace,
        &workload::disruption_budget(&owner),
    )
    .await?;
    let sts = apply(
        &ctx.client,
        &namespace,
        &workload::stateful_set(&owner, &bg.spec, &image, &hash),
    )
    .await?;

    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let pods = pods
        .list(&ListParams::default().labels(&workload::selector_string(&name)))
        .await?
        .items;
    let expected_master = old.master.clone().unwrap_or_else(|| format!("{name}-0"));
    let mut brokers: Vec<BrokerPodStatus> = pods
        .iter()
        .map(|p| pod_status(p, &expected_master))
        .collect();
    brokers.sort_by(|a, b| a.pod.cmp(&b.pod));
    let mut unreachable = Vec::new();
    // (pod, epoch, in-sync replicas) of each broker that says it is master.
    let mut masters: Vec<(String, i64, i32)> = Vec::new();
    let mut epoch = old.epoch;
    for broker in brokers.iter_mut().filter(|b| b.ready) {
        let Some(addr) = broker.address.clone() else {
            continue;
        };
        match ctx.admin.broker_state(&addr).await {
            Ok(state) => {
                broker.commit_log_max_offset = Some(state.commit_log_max_offset);
                broker.role = role_name(&state.role);
                epoch = epoch.max(state.epoch);
                if state.role == "MASTER" {
                    masters.push((broker.pod.clone(), state.epoch, state.in_sync_replicas));
                }
            }
            Err(error) => {
                tracing::warn!(pod = %broker.pod, %error, "broker did not answer");
                unreachable.push(format!("{} ({addr}): {error}", broker.pod));
            }
        }
    }
    // The master is who says so at the newest epoch; until one answers, the
    // one the status named (or ordinal 0, which starts as master).
    masters.sort_by_key(|(_, epoch, _)| *epoch);
    let (master, in_sync_replicas) = match masters.pop() {
        Some((pod, _, in_sync)) => (pod, in_sync),
        None => (expected_master, old.in_sync_replicas),
    };

    let sts_status = sts.status.unwrap_or_default();
    let ready_replicas = sts_status.ready_replicas.unwrap_or(0);
    let rolled_out = sts_status.observed_generation >= sts.metadata.generation
        && sts_status.updated_replicas.unwrap_or(0) == bg.spec.replicas
        && sts_status.current_revision == sts_status.update_revision;
    let ready =
        rolled_out && ready_replicas == bg.spec.replicas && sts_status.replicas == bg.spec.replicas;
    let ready_message = format!("{ready_replicas} of {} brokers ready", bg.spec.replicas);
    let wanted = [
        if ready {
            Wanted::new(READY, true, "BrokersReady", ready_message)
        } else {
            Wanted::new(READY, false, "BrokersNotReady", ready_message)
        },
        if ready {
            Wanted::new(
                PROGRESSING,
                false,
                "RolledOut",
                "every broker runs the current spec",
            )
        } else {
            Wanted::new(
                PROGRESSING,
                true,
                "RollingOut",
                "brokers are being created or replaced, replicas before the master",
            )
        },
        if unreachable.is_empty() {
            Wanted::new(
                DEGRADED,
                false,
                "BrokersReachable",
                "every ready broker answers",
            )
        } else {
            Wanted::new(
                DEGRADED,
                true,
                "BrokerUnreachable",
                format!("unreachable: {}", unreachable.join("; ")),
            )
        },
        Wanted::new(
            RECONCILIATION_PAUSED,
            false,
            "Reconciling",
            "spec.paused is false",
        ),
    ];
    if old.observed_generation != generation {
        ctx.event(
            bg,
            EventType::Normal,
            "Applied",
            "Reconcile",
            format!(
                "applied generation {} to the StatefulSet {name}",
                generation.unwrap_or(0)
            ),
        )
        .await;
    }
    let status = BrokerGroupStatus {
        observed_generation: generation,
        conditions: conditions::merge(&old.conditions, &wanted, generation),
        replicas: sts_status.replicas,
        selector: Some(workload::selector_string(&name)),
        ready_replicas,
        in_sync_replicas,
        master: Some(master),
        epoch,
        brokers,
    };
    apply_status(&api, &name, &status).await?;
    tracing::info!(ready_replicas, ready, "reconciled");
    Ok(Action::requeue(if ready && unreachable.is_empty() {
        Duration::from_secs(120)
    } else {
        Duration::from_secs(15)
    }))
}

/// Ready=False with the reason, a Warning event, and no retry until the spec changes.
async fn invalid_spec<A: BrokerAdmin>(
    bg: &BrokerGroup,
    ctx: &Context<A>,
    api: &Api<BrokerGroup>,
    old: BrokerGroupStatus,
    message: String,
) -> Result<Action, Error> {
    let generation = bg.metadata.generation;
    let wanted = [
        Wanted::new(READY, false, "InvalidSpec", message.clone()),
        Wanted::new(
            PROGRESSING,
            false,
            "InvalidSpec",
            "waiting for the spec to be fixed",
        ),
        Wanted::new(DEGRADED, false, "InvalidSpec", "nothing applied"),
        Wanted::new(
            RECONCILIATION_PAUSED,
            false,
            "Reconciling",
            "spec.paused is false",
        ),
    ];
    let status = BrokerGroupStatus {
        observed_generation: generation,
        conditions: conditions::merge(&old.conditions, &wanted, generation),
        ..old
    };
    report_invalid(ctx, api, bg, &status, message).await
}

/// `old` with the condition of `wanted.type_` replaced.
fn replace_condition(old: &[Condition], wanted: Wanted, generation: Option<i64>) -> Vec<Condition> {
    let mut out: Vec<Condition> = old
        .iter()
        .filter(|c| c.type_ != wanted.type_)
        .cloned()
        .collect();
    out.extend(conditions::merge(old, &[wanted], generation));
    out
}

/// Server-side applies `obj` with the operator's field manager; returns what
/// the API server holds afterwards.
async fn apply<K>(client: &Client, namespace: &str, obj: &K) -> Result<K, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let name = obj.name_any();
    Ok(api
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await?)
}

/// The status's name of a role HA_STATUS reports.
fn role_name(reported: &str) -> String {
    match reported {
        "MASTER" => "master".to_owned(),
        "SLAVE" => "replica".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// A pod's readiness, address and the role it is expected to have.
fn pod_status(pod: &Pod, master: &str) -> BrokerPodStatus {
    let name = pod.name_any();
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let address = status
        .and_then(|s| s.pod_ip.as_ref())
        .map(|ip| format!("{ip}:{}", config::LISTEN_PORT));
    BrokerPodStatus {
        role: if name == master { "master" } else { "replica" }.to_owned(),
        pod: name,
        ready,
        address,
        commit_log_max_offset: None,
    }
}

#[cfg(test)]
mod tests;
