//! Which BrokerGroups a Topic or ConsumerGroup applies to, and where their
//! masters answer.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ListParams;
use kube::core::Selector;
use kube::{Api, Client, ResourceExt};

use crate::crd::BrokerGroup;

/// A selected BrokerGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The BrokerGroup's name.
    pub(crate) group: String,
    /// The master's `ip:port`, once the BrokerGroup reports one.
    pub(crate) master: Option<String>,
    /// Its brokers' brokerClusterName.
    pub(crate) cluster: String,
    /// Its `spec.nameServer.address`, when set.
    pub(crate) namesrv: Option<String>,
}

/// The selector as the API takes it; `Err` names what is wrong with it.
pub(crate) fn parse(selector: Option<&LabelSelector>) -> Result<Option<Selector>, String> {
    selector
        .map(|s| {
            Selector::try_from(s.clone()).map_err(|e| format!("invalid brokerGroupSelector: {e}"))
        })
        .transpose()
}

/// The BrokerGroups of `namespace` that `selector` picks (all when `None`),
/// sorted by name.
pub(crate) async fn select(
    client: &Client,
    namespace: &str,
    selector: Option<&Selector>,
) -> Result<Vec<Target>, kube::Error> {
    let api: Api<BrokerGroup> = Api::namespaced(client.clone(), namespace);
    let params = match selector {
        Some(selector) => ListParams::default().labels_from(selector),
        None => ListParams::default(),
    };
    let mut targets: Vec<Target> = api
        .list(&params)
        .await?
        .items
        .iter()
        .map(|bg| Target {
            group: bg.name_any(),
            master: master_address(bg),
            cluster: bg.spec.cluster_name.clone(),
            namesrv: bg.spec.name_server.as_ref().map(|n| n.address.clone()),
        })
        .collect();
    targets.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(targets)
}

/// The master's address from the BrokerGroup's status.
pub(crate) fn master_address(bg: &BrokerGroup) -> Option<String> {
    let status = bg.status.as_ref()?;
    let master = status.master.as_ref()?;
    status
        .brokers
        .iter()
        .find(|b| &b.pod == master)
        .and_then(|b| b.address.clone())
}
