//! The Topic controller: the topic on the master of every selected
//! BrokerGroup, drift corrected, removed on deletion behind a finalizer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::selection::{self, Target};
use super::{
    Context, Error, Failures, apply_status, error_policy, invalid_spec_conditions, key_of,
    namespace_of, report_invalid, sync_conditions, timed,
};
use crate::admin::{BrokerAdmin, TopicSettings};
use crate::conditions;
use crate::crd::{Topic, TopicBrokerStatus, TopicStatus, validate_topic_name};

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "topic";
/// Keeps a Topic until it is deleted from its brokers.
pub const FINALIZER: &str = "skylark.io/topic";

/// Runs the controller until `shutdown` resolves.
pub async fn run<A: BrokerAdmin>(
    ctx: Arc<Context<A>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    Controller::new(
        Api::<Topic>::all(ctx.client.clone()),
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

/// One reconcile of a Topic, timed and counted.
pub async fn reconcile<A: BrokerAdmin>(
    topic: Arc<Topic>,
    ctx: Arc<Context<A>>,
) -> Result<Action, Error> {
    timed(CONTROLLER, key_of(topic.as_ref()), &ctx, async {
        let api: Api<Topic> = Api::namespaced(ctx.client.clone(), &namespace_of(topic.as_ref())?);
        finalizer(&api, FINALIZER, topic, |event| async {
            match event {
                Finalizer::Apply(topic) => apply(&topic, &ctx).await,
                Finalizer::Cleanup(topic) => cleanup(&topic, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)))
    })
    .await
}

/// The RocketMQ name: spec.topicName, else metadata.name.
pub fn topic_name(topic: &Topic) -> String {
    topic
        .spec
        .topic_name
        .clone()
        .unwrap_or_else(|| topic.name_any())
}

fn desired(topic: &Topic) -> TopicSettings {
    TopicSettings {
        name: topic_name(topic),
        read_queue_nums: topic.spec.read_queue_nums,
        write_queue_nums: topic.spec.write_queue_nums,
        perm: topic.spec.perm,
        order: topic.spec.order,
        attributes: BTreeMap::from([(
            "message.type".to_owned(),
            topic.spec.message_type.attribute().to_owned(),
        )]),
    }
}

/// What the schema cannot check (or an API server without CEL let through).
fn validate(topic: &Topic) -> Result<(), String> {
    validate_topic_name(&topic_name(topic)).map_err(|e| e.to_string())?;
    let spec = &topic.spec;
    for (field, n) in [
        ("readQueueNums", spec.read_queue_nums),
        ("writeQueueNums", spec.write_queue_nums),
    ] {
        if !(1..=1024).contains(&n) {
            return Err(format!("{field} is {n}; it must be within 1..1024"));
        }
    }
    if ![2, 4, 6].contains(&spec.perm) {
        return Err(format!("perm is {}; it must be 2, 4 or 6", spec.perm));
    }
    selection::parse(spec.broker_group_selector.as_ref()).map(|_| ())
}

async fn apply<A: BrokerAdmin>(topic: &Topic, ctx: &Context<A>) -> Result<Action, Error> {
    let namespace = namespace_of(topic)?;
    let api: Api<Topic> = Api::namespaced(ctx.client.clone(), &namespace);
    let generation = topic.metadata.generation;
    let old = topic.status.clone().unwrap_or_default();
    if let Err(message) = validate(topic) {
        let status = TopicStatus {
            observed_generation: generation,
            conditions: conditions::merge(
                &old.conditions,
                &invalid_spec_conditions(&message),
                generation,
            ),
            ..old
        };
        return report_invalid(ctx, &api, topic, &status, message).await;
    }
    let selector = selection::parse(topic.spec.broker_group_selector.as_ref()).unwrap_or(None);
    let targets = selection::select(&ctx.client, &namespace, selector.as_ref()).await?;
    let want = desired(topic);

    let mut groups = Vec::new();
    let mut failures = Failures::default();
    let (mut created, mut corrected) = (Vec::new(), Vec::new());
    let mut waiting = Vec::new();
    for Target { group, master, .. } in &targets {
        let Some(addr) = master else {
            waiting.push(group.clone());
            groups.push(TopicBrokerStatus {
                broker_group: group.clone(),
                address: String::new(),
                synced: false,
                message: Some("the BrokerGroup reports no master address yet".to_owned()),
            });
            continue;
        };
        let result = sync_one(ctx, addr, &want).await;
        match &result {
            Ok(Change::Created) => created.push(addr.clone()),
            Ok(Change::Corrected) => corrected.push(addr.clone()),
            Ok(Change::None) => {}
            Err(error) => failures.push(&format!("{group} at {addr}"), error),
        }
        groups.push(TopicBrokerStatus {
            broker_group: group.clone(),
            address: addr.clone(),
            synced: result.is_ok(),
            message: result.err().map(|e| e.to_string()),
        });
    }
    // Broker groups no longer selected lose the topic (those that still
    // exist, at their master's current address).
    let dropped: Vec<&str> = old
        .broker_groups
        .iter()
        .map(|g| g.broker_group.as_str())
        .filter(|g| !targets.iter().any(|t| t.group == *g))
        .collect();
    if !dropped.is_empty() {
        for gone in selection::select(&ctx.client, &namespace, None).await? {
            let Some(addr) = gone
                .master
                .filter(|_| dropped.contains(&gone.group.as_str()))
            else {
                continue;
            };
            if let Err(error) = ctx.admin.delete_topic(&addr, &want.name).await {
                failures.push(&format!("{} at {addr}", gone.group), &error);
            }
        }
    }

    // One event per kind of change, naming every broker it was made on.
    for (reason, verb, addrs) in [
        ("Created", "created", &created),
        ("DriftCorrected", "set back to the spec", &corrected),
    ] {
        if !addrs.is_empty() {
            let note = format!("topic {} {verb} on {}", want.name, addrs.join(", "));
            ctx.event(topic, EventType::Normal, reason, "SyncTopic", note)
                .await;
        }
    }
    let (ready, wanted) = sync_conditions(targets.len(), &failures, &waiting);
    let status = TopicStatus {
        observed_generation: generation,
        conditions: conditions::merge(&old.conditions, &wanted, generation),
        topic_name: Some(want.name.clone()),
        broker_groups: groups,
    };
    apply_status(&api, &topic.name_any(), &status).await?;
    tracing::info!(ready, groups = targets.len(), "reconciled");
    Ok(Action::requeue(Duration::from_secs(if ready {
        60
    } else {
        15
    })))
}

/// What syncing one master did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The topic was there as specified.
    None,
    /// The topic was missing and was created.
    Created,
    /// The topic differed and was set back to the spec.
    Corrected,
}

/// Creates the topic on one master, or corrects what differs.
async fn sync_one<A: BrokerAdmin>(
    ctx: &Context<A>,
    addr: &str,
    want: &TopicSettings,
) -> Result<Change, crate::admin::AdminError> {
    let have = ctx.admin.topic(addr, &want.name).await?;
    if have.as_ref() == Some(want) {
        return Ok(Change::None);
    }
    ctx.admin.put_topic(addr, want).await?;
    Ok(if have.is_none() {
        Change::Created
    } else {
        Change::Corrected
    })
}

async fn cleanup<A: BrokerAdmin>(topic: &Topic, ctx: &Context<A>) -> Result<Action, Error> {
    let namespace = namespace_of(topic)?;
    let name = topic_name(topic);
    // The selected BrokerGroups and those the status lists, as they exist
    // now: a BrokerGroup deleted meanwhile took the topic with it.
    let listed: Vec<&str> = topic
        .status
        .iter()
        .flat_map(|s| s.broker_groups.iter())
        .map(|g| g.broker_group.as_str())
        .collect();
    let selected: Vec<String> = match selection::parse(topic.spec.broker_group_selector.as_ref()) {
        Ok(selector) => selection::select(&ctx.client, &namespace, selector.as_ref())
            .await?
            .into_iter()
            .map(|t| t.group)
            .collect(),
        Err(_) => Vec::new(),
    };
    let targets: Vec<Target> = selection::select(&ctx.client, &namespace, None)
        .await?
        .into_iter()
        .filter(|t| listed.contains(&t.group.as_str()) || selected.contains(&t.group))
        .collect();
    let mut addresses: Vec<String> = targets.iter().filter_map(|t| t.master.clone()).collect();
    addresses.sort();
    addresses.dedup();
    for addr in &addresses {
        ctx.admin.delete_topic(addr, &name).await?;
    }
    // Then the route at each group's nameservers (per cluster, as RocketMQ's
    // DELETE_TOPIC_IN_NAMESRV takes it), or clients keep routing to it.
    let mut routes: Vec<(String, String)> = Vec::new();
    for t in &targets {
        let namesrv = t
            .namesrv
            .clone()
            .or_else(|| ctx.settings.namesrv_addr.clone());
        for addr in namesrv.iter().flat_map(|a| a.split(';')) {
            let addr = addr.trim();
            if !addr.is_empty() {
                routes.push((addr.to_owned(), t.cluster.clone()));
            }
        }
    }
    routes.sort();
    routes.dedup();
    for (namesrv, cluster) in &routes {
        ctx.admin
            .delete_topic_route(namesrv, &name, cluster)
            .await?;
    }
    ctx.event(
        topic,
        EventType::Normal,
        "Deleted",
        "DeleteTopic",
        format!("deleted topic {name} from {} broker(s)", addresses.len()),
    )
    .await;
    tracing::info!(brokers = addresses.len(), "topic deleted");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
