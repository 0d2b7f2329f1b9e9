//! `BrokerGroup`: one master and its replicas, run as a StatefulSet.
// KubeSchema re-emits the spec struct in a hidden module, which trips this lint.
#![allow(unreachable_pub)]
// Printer columns repeat `type_ = "string"`, which clippy takes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a broker group: ordinal 0 starts as master, the others
/// replicate it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "skylark.io",
    version = "v1alpha1",
    kind = "BrokerGroup",
    namespaced,
    status = "BrokerGroupStatus",
    shortname = "bg",
    category = "skylark",
    doc = "A Skylark broker group: one master and its replicas, run as a StatefulSet",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Master", type_ = "string", json_path = ".status.master"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.replicationMode"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BrokerGroupSpec {
    /// brokerClusterName of every broker of the group.
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// Pods in the group: the master plus its replicas (at least 1).
    #[serde(default = "default_replicas")]
    #[x_kube(validation = Rule::new("self >= 1").message("replicas must be at least 1"))]
    pub replicas: i32,
    /// How a send waits for replicas: `sync` (SYNC_MASTER) or `async` (ASYNC_MASTER).
    #[serde(default)]
    pub replication_mode: ReplicationMode,
    /// When the CommitLog is flushed: `sync` (SYNC_FLUSH) or `async` (ASYNC_FLUSH).
    #[serde(default)]
    pub flush_mode: FlushMode,
    /// The persistent volume of each pod. Immutable: a StatefulSet's volume
    /// claim templates are fixed once it exists.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storage cannot change once the BrokerGroup exists"))]
    pub storage: StorageSpec,
    /// CPU and memory of the broker container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// broker.conf keys (RocketMQ's spellings) added to what the operator renders.
    /// Keys the operator owns (brokerName, brokerId, brokerRole, namesrvAddr, ...) are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Container image of the broker; default: the operator's `--broker-image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Where the nameservers are; default: the operator's `--namesrv-addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_server: Option<NameServerRef>,
    /// Scheduling overrides of the broker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodOverrides>,
    /// While true the operator changes nothing of this group.
    #[serde(default)]
    pub paused: bool,
}

fn default_cluster_name() -> String {
    "DefaultCluster".to_owned()
}

fn default_replicas() -> i32 {
    1
}

/// Replication between master and replicas.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMode {
    /// A send is answered once an in-sync replica has it (SYNC_MASTER).
    Sync,
    /// Replicas catch up in the background (ASYNC_MASTER).
    #[default]
    Async,
}

/// CommitLog flushing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlushMode {
    /// A send is answered after the flush (SYNC_FLUSH).
    Sync,
    /// Flushed in the background (ASYNC_FLUSH).
    #[default]
    Async,
}

/// The volume claim of each broker pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of the claim, a Kubernetes quantity (`10Gi`).
    #[serde(default = "default_storage_size")]
    pub size: String,
    /// Storage class of the claim; unset: the cluster's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

fn default_storage_size() -> String {
    "10Gi".to_owned()
}

/// The nameservers the brokers register with.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameServerRef {
    /// `host:port` pairs separated by `;` (RocketMQ's namesrvAddr).
    pub address: String,
}

/// Scheduling overrides of the broker pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Node selector of the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
}

/// Observed state of a broker group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerGroupStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Progressing, Degraded, ReconciliationPaused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Pods of the StatefulSet (the scale subresource's status replicas).
    #[serde(default)]
    pub replicas: i32,
    /// Label selector of the pods, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Pods passing /readyz.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Replicas within haMaxGapNotInSync of the master, as the master reports.
    #[serde(default)]
    pub in_sync_replicas: i32,
    /// The pod that is master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Failover epoch: the newest any broker of the group reports.
    #[serde(default)]
    pub epoch: i64,
    /// Each pod's role and CommitLog offset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brokers: Vec<BrokerPodStatus>,
}

/// One broker pod as the operator last saw it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerPodStatus {
    /// Pod name.
    pub pod: String,
    /// `master`, `replica` or `fenced` as the broker reports it (HA_STATUS);
    /// the expected role while it does not answer.
    pub role: String,
    /// Whether the pod passes /readyz.
    #[serde(default)]
    pub ready: bool,
    /// `podIP:listenPort`, where admin calls reach the broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The pod's CommitLog max offset, when the broker reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_log_max_offset: Option<i64>,
}
