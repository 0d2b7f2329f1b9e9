//! Reading what the operator and the brokers report: pod lists, Ready
//! conditions, a BrokerGroup's roles, master address and CommitLog offsets.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams};
use skylark_e2e::wait_for_object;
use skylark_operator::crd::BrokerGroup;

use crate::{BG, LONG};

pub(crate) fn holder(lease: &Lease) -> Option<String> {
    lease.spec.as_ref()?.holder_identity.clone()
}

pub(crate) async fn wait_list(
    pods: &Api<Pod>,
    selector: &str,
    what: &str,
    pred: impl Fn(&[Pod]) -> bool,
) -> anyhow::Result<Vec<Pod>> {
    let lp = ListParams::default().labels(selector);
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let found = pods.list(&lp).await?.items;
        if pred(&found) {
            return Ok(found);
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for Ready=True observed at the object's current generation.
pub(crate) async fn wait_ready_resource<K>(
    api: &Api<K>,
    name: &str,
    conditions: impl Fn(&K) -> Option<&Vec<Condition>>,
) -> anyhow::Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(
        wait_for_object(api, name, "Ready=True at its generation", LONG, |obj| {
            let generation = obj.meta().generation;
            conditions(obj).is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.type_ == "Ready" && c.status == "True" && c.observed_generation == generation
                })
            })
        })
        .await?,
    )
}

pub(crate) fn roles(bg: &BrokerGroup) -> BTreeMap<String, String> {
    bg.status
        .iter()
        .flat_map(|s| &s.brokers)
        .map(|b| (b.pod.clone(), b.role.clone()))
        .collect()
}

/// The master pod's broker address (`podIP:10911`).
pub(crate) async fn master_addr(bgs: &Api<BrokerGroup>) -> anyhow::Result<String> {
    let bg = bgs.get(BG).await?;
    let status = bg.status.context("no status")?;
    let master = status.master.clone().context("no master")?;
    status
        .brokers
        .iter()
        .find(|b| b.pod == master)
        .and_then(|b| b.address.clone())
        .with_context(|| format!("no address for {master}: {status:?}"))
}

pub(crate) fn commit_log_offset(bg: &BrokerGroup, pod: &str) -> Option<i64> {
    bg.status
        .as_ref()?
        .brokers
        .iter()
        .find(|b| b.pod == pod)?
        .commit_log_max_offset
}

/// Waits until the status reports `pod`'s CommitLog offset at least `min`.
pub(crate) async fn wait_offset(
    bgs: &Api<BrokerGroup>,
    pod: &str,
    min: Option<i64>,
) -> anyhow::Result<i64> {
    let min = min.context("no CommitLog offset in the status before")?;
    ensure!(min > 0, "CommitLog offset {min} before: nothing was stored");
    let bg = wait_for_object(bgs, BG, "the CommitLog offset back", LONG, |b| {
        commit_log_offset(b, pod).is_some_and(|o| o >= min)
    })
    .await?;
    Ok(commit_log_offset(&bg, pod).unwrap_or_default())
}
