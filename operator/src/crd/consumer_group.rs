//! `ConsumerGroup`: a RocketMQ subscription group on the selected brokers.
// KubeSchema re-emits the spec struct in a hidden module, which trips this lint.
#![allow(unreachable_pub)]
// Printer columns repeat `type_ = "string"`, which clippy takes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a consumer group.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "skylark.io",
    version = "v1alpha1",
    kind = "ConsumerGroup",
    namespaced,
    status = "ConsumerGroupStatus",
    shortname = "cg",
    category = "skylark",
    doc = "A RocketMQ consumer (subscription) group on every selected BrokerGroup's master",
    validation = Rule::new("has(self.spec.groupName) || self.metadata.name.matches('^[%|a-zA-Z0-9_-]+$')").message("metadata.name is not a RocketMQ group name (^[%|a-zA-Z0-9_-]+$); set spec.groupName"),
    printcolumn(name = "Group", type_ = "string", json_path = ".status.groupName"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Members", type_ = "integer", json_path = ".status.membersOnline"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.groupName) == has(oldSelf.groupName)").message("groupName cannot be added or removed"))]
#[serde(rename_all = "camelCase")]
pub struct ConsumerGroupSpec {
    /// The RocketMQ group name; default: metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[%|a-zA-Z0-9_-]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("groupName is immutable"))]
    pub group_name: Option<String>,
    /// Broadcast consumption (every member gets every message).
    #[serde(default)]
    pub consume_broadcast: bool,
    /// Redeliveries before a message goes to the DLQ (RocketMQ's retryMaxTimes).
    #[serde(default = "default_retry_max_times")]
    #[x_kube(validation = Rule::new("self >= 0").message("retryMaxTimes must not be negative"))]
    pub retry_max_times: i32,
    /// Which BrokerGroups of the namespace carry the group; unset: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_group_selector: Option<LabelSelector>,
}

fn default_retry_max_times() -> i32 {
    16
}

/// Observed state of a consumer group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerGroupStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The RocketMQ name in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Consumers of the group connected to the brokers (the most any broker sees).
    #[serde(default)]
    pub members_online: i32,
    /// Messages not yet consumed, per topic, summed over the broker groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lag: Vec<TopicLag>,
}

/// The lag of the group on one topic.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicLag {
    /// The topic.
    pub topic: String,
    /// Broker offsets minus consumer offsets, summed over queues.
    pub lag: i64,
}
