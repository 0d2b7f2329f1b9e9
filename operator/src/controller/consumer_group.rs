//! The ConsumerGroup controller: the subscription group on the master of
//! every selected BrokerGroup, lag and members in status, removed on deletion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::selection;
use super::{
    Context, Error, Failures, apply_status, error_policy, invalid_spec_conditions, key_of,
    namespace_of, report_invalid, sync_conditions, timed,
};
use crate::admin::{AdminError, BrokerAdmin, GroupSettings};
use crate::conditions;
use crate::crd::{ConsumerGroup, ConsumerGroupStatus, TopicLag, validate_group_name};

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "consumergroup";
/// Keeps a ConsumerGroup until it is deleted from its brokers.
pub const FINALIZER: &str = "skylark.io/consumer-group";

/// Runs the controller until `shutdown` resolves.
pub async fn run<A: BrokerAdmin>(
    ctx: Arc<Context<A>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    Controller::new(
        Api::<ConsumerGroup>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown)
    .run(
        reconcile,
        |obj, error, ctx| error_policy(obj, error, ctx, CONTROLLER),
        ctx,
    )
    .for_each(|_| futures::future::ready(()))
    .await;
}

/// One reconcile of a ConsumerGroup, timed and counted.
pub async fn reconcile<A: BrokerAdmin>(
    group: Arc<ConsumerGroup>,
    ctx: Arc<Context<A>>,
) -> Result<Action, Error> {
    timed(CONTROLLER, key_of(group.as_ref()), &ctx, async {
        let api: Api<ConsumerGroup> =
            Api::namespaced(ctx.client.clone(), &namespace_of(group.as_ref())?);
        finalizer(&api, FINALIZER, group, |event| async {
            match event {
                Finalizer::Apply(group) => apply(&group, &ctx).await,
                Finalizer::Cleanup(group) => cleanup(&group, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)))
    })
    .await
}

/// The RocketMQ name: spec.groupName, else metadata.name.
pub fn group_name(group: &ConsumerGroup) -> String {
    group
        .spec
        .group_name
        .clone()
        .unwrap_or_else(|| group.name_any())
}

fn validate(group: &ConsumerGroup) -> Result<(), String> {
    validate_group_name(&group_name(group)).map_err(|e| e.to_string())?;
    if group.spec.retry_max_times < 0 {
        return Err(format!(
            "retryMaxTimes is {}; it must not be negative",
            group.spec.retry_max_times
        ));
    }
    selection::parse(group.spec.broker_group_selector.as_ref()).map(|_| ())
}

async fn apply<A: BrokerAdmin>(group: &ConsumerGroup, ctx: &Context<A>) -> Result<Action, Error> {
    let namespace = namespace_of(group)?;
    let api: Api<ConsumerGroup> = Api::namespaced(ctx.client.clone(), &namespace);
    let generation = group.metadata.generation;
    let old = group.status.clone().unwrap_or_default();
    if let Err(message) = validate(group) {
        let status = ConsumerGroupStatus {
            observed_generation: generation,
            conditions: conditions::merge(
                &old.conditions,
                &invalid_spec_conditions(&message),
                generation,
            ),
            ..old
        };
        return report_invalid(ctx, &api, group, &status, message).await;
    }
    let selector = selection::parse(group.spec.broker_group_selector.as_ref()).unwrap_or(None);
    let targets = selection::select(&ctx.client, &namespace, selector.as_ref()).await?;
    let want = GroupSettings {
        name: group_name(group),
        consume_broadcast: group.spec.consume_broadcast,
        retry_max_times: group.spec.retry_max_times,
    };
    let mut failures = Failures::default();
    let mut waiting = Vec::new();
    let mut lag: BTreeMap<String, i64> = BTreeMap::new();
    let mut members = 0usize;
    for target in &targets {
        let Some(addr) = &target.master else {
            waiting.push(target.group.clone());
            continue;
        };
        let result: Result<(), AdminError> = async {
            ctx.admin.put_group(addr, &want).await?;
            for entry in ctx.admin.group_lag(addr, &want.name).await? {
                *lag.entry(entry.topic).or_insert(0) += entry.lag;
            }
            members = members.max(ctx.admin.group_members(addr, &want.name).await?);
            Ok(())
        }
        .await;
        if let Err(error) = result {
            failures.push(&format!("{} at {addr}", target.group), &error);
        }
    }
    let (ready, wanted) = sync_conditions(targets.len(), &failures, &waiting);
    let status = ConsumerGroupStatus {
        observed_generation: generation,
        conditions: conditions::merge(&old.conditions, &wanted, generation),
        group_name: Some(want.name.clone()),
        members_online: i32::try_from(members).unwrap_or(i32::MAX),
        lag: lag
            .into_iter()
            .map(|(topic, lag)| TopicLag { topic, lag })
            .collect(),
    };
    apply_status(&api, &group.name_any(), &status).await?;
    tracing::info!(ready, members, "reconciled");
    Ok(Action::requeue(Duration::from_secs(if ready {
        30
    } else {
        15
    })))
}

async fn cleanup<A: BrokerAdmin>(group: &ConsumerGroup, ctx: &Context<A>) -> Result<Action, Error> {
    let namespace = namespace_of(group)?;
    let name = group_name(group);
    let selector = selection::parse(group.spec.broker_group_selector.as_ref()).unwrap_or(None);
    let targets = selection::select(&ctx.client, &namespace, selector.as_ref()).await?;
    let addresses: Vec<String> = targets.into_iter().filter_map(|t| t.master).collect();
    for addr in &addresses {
        ctx.admin.delete_group(addr, &name).await?;
    }
    ctx.event(
        group,
        EventType::Normal,
        "Deleted",
        "DeleteGroup",
        format!("deleted group {name} from {} broker(s)", addresses.len()),
    )
    .await;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
