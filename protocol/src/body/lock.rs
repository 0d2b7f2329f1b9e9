//! Queue locks for orderly consumers (LOCK_BATCH_MQ 41, UNLOCK_BATCH_MQ 42).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::MessageQueue;
use super::lenient::nullable;

/// Request to lock queues for one client of a group (`LockBatchRequestBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// The requesting client's id.
    #[serde(deserialize_with = "nullable")]
    pub client_id: String,
    /// Consumer group.
    #[serde(deserialize_with = "nullable")]
    pub consumer_group: String,
    /// Queues to lock.
    #[serde(deserialize_with = "nullable")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// Lock on this broker only (the proxy sets it; brokers otherwise fan out).
    pub only_this_broker: bool,
}

/// The queues that were locked (`LockBatchResponseBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// Queues now locked by the requester.
    #[serde(rename = "lockOKMQSet", deserialize_with = "nullable")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

/// Request to release queue locks (`UnlockBatchRequestBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnlockBatchRequestBody {
    /// The requesting client's id.
    #[serde(deserialize_with = "nullable")]
    pub client_id: String,
    /// Consumer group.
    #[serde(deserialize_with = "nullable")]
    pub consumer_group: String,
    /// Queues to unlock.
    #[serde(deserialize_with = "nullable")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// Unlock on this broker only.
    pub only_this_broker: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<LockBatchRequestBody>();
        assert_fields_sorted::<LockBatchResponseBody>();
        assert_fields_sorted::<UnlockBatchRequestBody>();
        assert_fields_sorted::<MessageQueue>();
    }

    #[test]
    fn lock_request_exact_output() {
        let body = LockBatchRequestBody {
            client_id: "10.0.0.5@1".into(),
            consumer_group: "CG".into(),
            mq_set: [
                MessageQueue::new("T", "b", 1),
                MessageQueue::new("T", "b", 0),
            ]
            .into(),
            only_this_broker: false,
        };
        check_body(
            &body,
            r#"{"clientId":"10.0.0.5@1","consumerGroup":"CG","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"},{"brokerName":"b","queueId":1,"topic":"T"}],"onlyThisBroker":false}"#,
        );
        let doc = br#"{"consumerGroup":"CG","clientId":"10.0.0.5@1","onlyThisBroker":false,"mqSet":[{"topic":"T","brokerName":"b","queueId":1},{"topic":"T","brokerName":"b","queueId":0}]}"#;
        assert_eq!(LockBatchRequestBody::decode(doc).unwrap(), body);
    }

    #[test]
    fn lock_response_and_unlock_exact_output() {
        check_body(
            &LockBatchResponseBody {
                lock_ok_mq_set: [MessageQueue::new("T", "b", 2)].into(),
            },
            r#"{"lockOKMQSet":[{"brokerName":"b","queueId":2,"topic":"T"}]}"#,
        );
        check_body(&LockBatchResponseBody::default(), r#"{"lockOKMQSet":[]}"#);
        check_body(
            &UnlockBatchRequestBody {
                client_id: "c".into(),
                consumer_group: "g".into(),
                mq_set: BTreeSet::new(),
                only_this_broker: true,
            },
            r#"{"clientId":"c","consumerGroup":"g","mqSet":[],"onlyThisBroker":true}"#,
        );
    }
}
