//! `Topic`: a RocketMQ topic on the masters of the selected broker groups.
// KubeSchema re-emits the spec struct in a hidden module, which trips this lint.
#![allow(unreachable_pub)]
// Printer columns repeat `type_ = "string"`, which clippy takes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a topic.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "skylark.io",
    version = "v1alpha1",
    kind = "Topic",
    namespaced,
    status = "TopicStatus",
    shortname = "rmqtopic",
    category = "skylark",
    doc = "A RocketMQ topic, created on the master of every selected BrokerGroup",
    validation = Rule::new("has(self.spec.topicName) || (size(self.metadata.name) <= 127 && self.metadata.name.matches('^[%|a-zA-Z0-9_-]+$'))").message("metadata.name is not a RocketMQ topic name (^[%|a-zA-Z0-9_-]+$, at most 127 characters); set spec.topicName"),
    printcolumn(name = "Topic", type_ = "string", json_path = ".status.topicName"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Read", type_ = "integer", json_path = ".spec.readQueueNums"),
    printcolumn(name = "Write", type_ = "integer", json_path = ".spec.writeQueueNums"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.topicName) == has(oldSelf.topicName)").message("topicName cannot be added or removed"))]
#[serde(rename_all = "camelCase")]
pub struct TopicSpec {
    /// The RocketMQ topic name; default: metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 127), regex(pattern = r"^[%|a-zA-Z0-9_-]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("topicName is immutable"))]
    pub topic_name: Option<String>,
    /// Read queues on each broker group (1..1024).
    #[serde(default = "default_queues")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 1024").message("readQueueNums must be within 1..1024"))]
    pub read_queue_nums: i32,
    /// Write queues on each broker group (1..1024).
    #[serde(default = "default_queues")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 1024").message("writeQueueNums must be within 1..1024"))]
    pub write_queue_nums: i32,
    /// Permission bits: 6 read and write, 4 read only, 2 write only.
    #[serde(default = "default_perm")]
    #[x_kube(validation = Rule::new("self in [2, 4, 6]").message("perm must be 2, 4 or 6"))]
    pub perm: i32,
    /// Ordered topic (RocketMQ's `order` flag).
    #[serde(default)]
    pub order: bool,
    /// The kind of messages the topic carries (RocketMQ 5's `message.type` attribute).
    #[serde(default)]
    pub message_type: MessageType,
    /// Which BrokerGroups of the namespace carry the topic; unset: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_group_selector: Option<LabelSelector>,
}

fn default_queues() -> i32 {
    8
}

fn default_perm() -> i32 {
    6
}

/// RocketMQ 5's topic message types.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MessageType {
    /// Plain messages.
    #[default]
    Normal,
    /// Ordered messages.
    Fifo,
    /// Delayed and timer messages.
    Delay,
    /// Transactional messages.
    Transaction,
}

impl MessageType {
    /// The value of the `message.type` topic attribute.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Fifo => "FIFO",
            Self::Delay => "DELAY",
            Self::Transaction => "TRANSACTION",
        }
    }
}

/// Observed state of a topic.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The RocketMQ name in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// The topic on each selected broker group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broker_groups: Vec<TopicBrokerStatus>,
}

/// The topic on one broker group's master.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicBrokerStatus {
    /// The BrokerGroup.
    pub broker_group: String,
    /// The master's address.
    pub address: String,
    /// Whether the topic is there as specified.
    pub synced: bool,
    /// What went wrong, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
