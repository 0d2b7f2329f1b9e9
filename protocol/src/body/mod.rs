//! JSON bodies in fastjson's shapes.
//!
//! [`fastjson`] reads fastjson's dialect (bare integer keys, object keys) and
//! writes it byte for byte; the other modules are the body types, one file
//! per family. Every body implements [`Body`]: `decode` accepts both key
//! styles, `encode` writes compact JSON with fields in fastjson's
//! alphabetical order and nulls omitted.
//!
//! Decoding follows fastjson's leniency: unknown fields are ignored, missing
//! fields take the Java initializer's value, `null` reads as that default and
//! unknown enum constants as `None` (see `lenient`). Java `Set`s of strings,
//! integers and queues are `BTreeSet`s and Java maps `BTreeMap`s, so output
//! is deterministic (Java writes them in hash order; readers do not care).

pub mod fastjson;
mod lenient;

mod admin;
mod connection;
mod consume_queue;
mod consumer_offset;
mod ha_role;
mod heartbeat;
mod kv_table;
mod list;
mod lock;
mod message_queue;
mod register_broker;
mod route;
mod static_topic;
mod subscription_group;
mod topic_config;

pub use admin::{ConsumeStats, OffsetWrapper, ResetOffsetBody, TopicOffset, TopicStatsTable};
pub use connection::{Connection, ConsumerConnection, ProducerConnection};
pub use consume_queue::{ConsumeQueueData, QueryConsumeQueueResponseBody};
pub use consumer_offset::{
    ConsumerOffsetSerializeWrapper, DelayOffsetSerializeWrapper, OffsetSerializeWrapper,
};
pub use fastjson::KeyStyle;
pub use ha_role::{HaEpochEntry, HaReplicaInfo, HaStatus};
pub use heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel, ProducerData,
    SubscriptionData,
};
pub use kv_table::KVTable;
pub use list::{GetConsumerListByGroupResponseBody, GroupList, TopicList};
pub use lock::{LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody};
pub use message_queue::{MessageQueue, mq_key_map};
pub use register_broker::{
    MAPPING_SINCE_VERSION, MAX_DECOMPRESSED_LEN, RegisterBrokerBody,
    TopicConfigAndMappingSerializeWrapper,
};
pub use route::{BrokerData, ClusterInfo, QueueData, TopicRouteData};
pub use static_topic::{LogicQueueMappingItem, TopicQueueMappingDetail, TopicQueueMappingInfo};
pub use subscription_group::{
    CustomizedRetryPolicy, ExponentialRetryPolicy, GroupRetryPolicy, GroupRetryPolicyType,
    SimpleSubscriptionData, SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
pub use topic_config::{DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a body could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is not UTF-8.
    #[error("body is not UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Length of the valid prefix.
        offset: usize,
    },
    /// The body is not JSON, even in fastjson's dialect.
    #[error("malformed JSON body at byte {offset}: expected {expected}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What the parser wanted there.
        expected: &'static str,
    },
    /// Containers nest deeper than [`fastjson::MAX_DEPTH`].
    #[error("JSON body nests too deep at byte {offset}")]
    TooDeep {
        /// Byte offset of the container that went too deep.
        offset: usize,
    },
    /// The JSON does not have the body's shape.
    #[error("JSON body has the wrong shape: {0}")]
    Json(#[from] serde_json::Error),
    /// A body must be a JSON object.
    #[error("JSON body is not an object")]
    NotAnObject,
    /// The zlib stream of a compressed body is corrupt.
    #[error("compressed body does not inflate: {0}")]
    Inflate(#[source] std::io::Error),
    /// A compressed body inflates past [`MAX_DECOMPRESSED_LEN`].
    #[error("compressed body inflates past {MAX_DECOMPRESSED_LEN} bytes")]
    TooLarge,
    /// A compressed body's binary layout is wrong.
    #[error("malformed compressed body: {0}")]
    Compressed(&'static str),
}

/// A request or response body in fastjson's JSON.
pub trait Body: Serialize + DeserializeOwned + sealed::Sealed {
    /// Top-level fields holding `MessageQueue`-keyed maps, written with
    /// object keys in [`KeyStyle::Unquoted`].
    const OBJECT_KEY_FIELDS: &'static [&'static str] = &[];

    /// Encodes the body as compact fastjson JSON.
    fn encode(&self, style: KeyStyle) -> Vec<u8> {
        // Serializing these types cannot fail: every map key is a string or
        // an integer and the sink is a Vec. The seal keeps it that way.
        fastjson::to_vec_with_object_keys(self, style, Self::OBJECT_KEY_FIELDS).unwrap_or_default()
    }

    /// Decodes the body from fastjson JSON (either key style).
    fn decode(bytes: &[u8]) -> Result<Self, BodyError> {
        // serde would also read a struct from a JSON array; fastjson would not.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(BodyError::NotAnObject);
        }
        fastjson::from_slice(bytes)
    }
}

mod sealed {
    /// Only this module's types are bodies (their encoding is infallible).
    pub trait Sealed {}
}

/// Implements [`Body`] (and its seal) for body types.
macro_rules! impl_body {
    ($($ty:ty $([$($field:literal),+])?),+ $(,)?) => {
        $(
            impl sealed::Sealed for $ty {}
            impl Body for $ty {
                $(const OBJECT_KEY_FIELDS: &'static [&'static str] = &[$($field),+];)?
            }
        )+
    };
}

impl_body!(
    TopicRouteData,
    QueryConsumeQueueResponseBody,
    ClusterInfo,
    HeartbeatData,
    LockBatchRequestBody,
    LockBatchResponseBody,
    UnlockBatchRequestBody,
    TopicConfig,
    DataVersion,
    TopicConfigSerializeWrapper,
    TopicConfigAndMappingSerializeWrapper,
    RegisterBrokerBody,
    KVTable,
    SubscriptionGroupConfig,
    SubscriptionGroupWrapper,
    ConsumeStats["offsetTable"],
    TopicStatsTable["offsetTable"],
    ResetOffsetBody["offsetTable"],
    OffsetSerializeWrapper["offsetTable"],
    ConsumerConnection,
    ProducerConnection,
    GetConsumerListByGroupResponseBody,
    TopicList,
    GroupList,
    ConsumerOffsetSerializeWrapper,
    DelayOffsetSerializeWrapper,
    TopicQueueMappingInfo,
    TopicQueueMappingDetail,
    HaStatus,
);

#[cfg(test)]
pub(crate) mod test_support;
