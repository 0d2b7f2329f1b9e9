//! Consumer-group configuration (`subscriptionGroup.json`,
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200, GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DataVersion;
use super::lenient::{java_enum, java_enum_or_default, nullable};

/// One consumer group's settings (`SubscriptionGroupConfig`), defaults as Java's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// Extra attributes.
    #[serde(deserialize_with = "nullable")]
    pub attributes: BTreeMap<String, String>,
    /// Broker id consumers should pull from (0 = master).
    pub broker_id: i64,
    /// Broadcasting consumption allowed (default true).
    pub consume_broadcast_enable: bool,
    /// Consumption allowed at all (default true).
    pub consume_enable: bool,
    /// A new group starts at the minimum offset (default true).
    pub consume_from_min_enable: bool,
    /// Orderly consumption.
    pub consume_message_orderly: bool,
    /// Pop/consume timeout in minutes (default 15).
    pub consume_timeout_minute: i32,
    /// Group name.
    #[serde(deserialize_with = "nullable")]
    pub group_name: String,
    /// Retry back-off policy.
    #[serde(deserialize_with = "nullable")]
    pub group_retry_policy: GroupRetryPolicy,
    /// Group system flags.
    pub group_sys_flag: i32,
    /// Notify consumers when the group's membership changes (default true).
    pub notify_consumer_ids_changed_enable: bool,
    /// Retries before a message goes to the DLQ (default 16).
    pub retry_max_times: i32,
    /// Queues of the group's `%RETRY%` topic (default 1).
    pub retry_queue_nums: i32,
    /// Subscriptions declared by the group (5.x; absent by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<Vec<SimpleSubscriptionData>>,
    /// Broker id to suggest when the master is slow (default 1).
    pub which_broker_when_consume_slowly: i64,
}

impl SubscriptionGroupConfig {
    /// A group with Java's defaults.
    pub fn new(group_name: impl Into<String>) -> Self {
        Self {
            group_name: group_name.into(),
            ..Self::default()
        }
    }
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_retry_policy: GroupRetryPolicy::default(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

/// Which retry back-off a group uses (`GroupRetryPolicyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupRetryPolicyType {
    /// `EXPONENTIAL`.
    Exponential,
    /// `CUSTOMIZED` (the default: the delay-level table).
    #[default]
    Customized,
}

java_enum!(GroupRetryPolicyType {
    Exponential = "EXPONENTIAL",
    Customized = "CUSTOMIZED",
});

/// A group's retry policy (`GroupRetryPolicy`); Java writes only `type` by default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupRetryPolicy {
    /// Delay table, when customized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customized_retry_policy: Option<CustomizedRetryPolicy>,
    /// Exponential parameters, when exponential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_retry_policy: Option<ExponentialRetryPolicy>,
    /// Which policy applies.
    #[serde(rename = "type", deserialize_with = "java_enum_or_default")]
    pub policy_type: GroupRetryPolicyType,
}

/// Retry delays by attempt (`CustomizedRetryPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomizedRetryPolicy {
    /// Delay in ms per level; attempt `n` uses index `n + 2`.
    #[serde(deserialize_with = "nullable")]
    pub next: Vec<i64>,
}

impl Default for CustomizedRetryPolicy {
    fn default() -> Self {
        const S: i64 = 1000;
        const M: i64 = 60 * S;
        // 1s 5s 10s 30s 1m … 10m 20m 30m 1h 2h: the 18 delay levels.
        Self {
            next: vec![
                S,
                5 * S,
                10 * S,
                30 * S,
                M,
                2 * M,
                3 * M,
                4 * M,
                5 * M,
                6 * M,
                7 * M,
                8 * M,
                9 * M,
                10 * M,
                20 * M,
                30 * M,
                60 * M,
                120 * M,
            ],
        }
    }
}

/// Exponential back-off parameters (`ExponentialRetryPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExponentialRetryPolicy {
    /// First delay, ms (default 5 s).
    pub initial: i64,
    /// Cap, ms (default 2 h).
    pub max: i64,
    /// Growth factor (default 2).
    pub multiplier: i64,
}

impl Default for ExponentialRetryPolicy {
    fn default() -> Self {
        Self {
            initial: 5_000,
            max: 7_200_000,
            multiplier: 2,
        }
    }
}

/// A subscription declared in a group's config (`SimpleSubscriptionData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimpleSubscriptionData {
    /// The filter expression.
    #[serde(deserialize_with = "nullable")]
    pub expression: String,
    /// `TAG` or `SQL92`.
    #[serde(deserialize_with = "nullable")]
    pub expression_type: String,
    /// Topic.
    #[serde(deserialize_with = "nullable")]
    pub topic: String,
    /// Version.
    pub version: i64,
}

/// Every group of a broker (`SubscriptionGroupWrapper`; also the shape of
/// `subscriptionGroup.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    /// Version of the table.
    #[serde(deserialize_with = "nullable")]
    pub data_version: DataVersion,
    /// Group → topic → forbidden permission bits.
    #[serde(deserialize_with = "nullable")]
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    /// Group name → config.
    #[serde(deserialize_with = "nullable")]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    #[test]
    fn field_order() {
        assert_fields_sorted::<SubscriptionGroupConfig>();
        assert_fields_sorted::<GroupRetryPolicy>();
        assert_fields_sorted::<CustomizedRetryPolicy>();
        assert_fields_sorted::<ExponentialRetryPolicy>();
        assert_fields_sorted::<SimpleSubscriptionData>();
        assert_fields_sorted::<SubscriptionGroupWrapper>();
    }

    const DEFAULT_CG: &str = r#"{"attributes":{},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"CG","groupRetryPolicy":{"type":"CUSTOMIZED"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#;

    #[test]
    fn default_group_exact_output() {
        check_body(&SubscriptionGroupConfig::new("CG"), DEFAULT_CG);
        // A bare name reads with every Java default.
        assert_eq!(
            SubscriptionGroupConfig::decode(br#"{"groupName":"CG"}"#).unwrap(),
            SubscriptionGroupConfig::new("CG")
        );
    }

    #[test]
    fn full_group_exact_output() {
        let mut g = SubscriptionGroupConfig::new("G");
        g.group_retry_policy = GroupRetryPolicy {
            customized_retry_policy: Some(CustomizedRetryPolicy { next: vec![1, 2] }),
            exponential_retry_policy: Some(ExponentialRetryPolicy::default()),
            policy_type: GroupRetryPolicyType::Exponential,
        };
        g.subscription_data_set = Some(vec![SimpleSubscriptionData {
            expression: "*".into(),
            expression_type: "TAG".into(),
            topic: "T".into(),
            version: 1,
        }]);
        g.consume_enable = false;
        check_body(
            &g,
            r#"{"attributes":{},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":false,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"G","groupRetryPolicy":{"customizedRetryPolicy":{"next":[1,2]},"exponentialRetryPolicy":{"initial":5000,"max":7200000,"multiplier":2},"type":"EXPONENTIAL"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"subscriptionDataSet":[{"expression":"*","expressionType":"TAG","topic":"T","version":1}],"whichBrokerWhenConsumeSlowly":1}"#,
        );
        assert_eq!(CustomizedRetryPolicy::default().next.len(), 18);
    }

    #[test]
    fn wrapper_exact_output() {
        let w = SubscriptionGroupWrapper {
            data_version: DataVersion::new(5),
            forbidden_table: [("CG".to_owned(), [("T".to_owned(), 2)].into())].into(),
            subscription_group_table: [("CG".to_owned(), SubscriptionGroupConfig::new("CG"))]
                .into(),
        };
        check_body(
            &w,
            &format!(
                r#"{{"dataVersion":{{"counter":0,"stateVersion":0,"timestamp":5}},"forbiddenTable":{{"CG":{{"T":2}}}},"subscriptionGroupTable":{{"CG":{DEFAULT_CG}}}}}"#
            ),
        );
    }
}
