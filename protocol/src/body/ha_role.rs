//! HA_STATUS (47003)'s answer: a broker's role, epoch history, offsets and
//! replicas (Skylark's own JSON, not a RocketMQ body).

use serde::{Deserialize, Serialize};

/// One master term: epoch `epoch` wrote the CommitLog from `startOffset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaEpochEntry {
    /// The term.
    pub epoch: i32,
    /// CommitLog offset of its first byte.
    pub start_offset: i64,
}

/// One replica connected to a master.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaReplicaInfo {
    /// The replica's address (its HA connection's peer).
    pub addr: String,
    /// The CommitLog offset it last acknowledged.
    pub ack_offset: i64,
    /// How many bytes it is behind the master's CommitLog end.
    pub lag_bytes: i64,
    /// Whether its lag is under `haMaxGapNotInSync`.
    pub in_sync: bool,
}

/// A broker's role and replication state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaStatus {
    /// `brokerName`.
    pub broker_name: String,
    /// The id it registers with: 0 as master.
    pub broker_id: i64,
    /// Its remoting address.
    pub broker_addr: String,
    /// Its HA port's address (`ip:haListenPort`).
    pub ha_addr: String,
    /// `MASTER`, `SLAVE`, or `FENCED` (a master that learned of a newer
    /// epoch and refuses writes).
    pub role: String,
    /// The newest epoch it knows of.
    pub epoch: i32,
    /// Whether it accepts sends now.
    pub writable: bool,
    /// The master it follows (remoting address), as a replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_addr: Option<String>,
    /// Its epoch history, oldest first.
    pub epochs: Vec<HaEpochEntry>,
    /// CommitLog min offset.
    pub commit_log_min_offset: i64,
    /// CommitLog max offset (where the next byte goes).
    pub commit_log_max_offset: i64,
    /// As master: the highest offset a replica acknowledged; as replica:
    /// the offset it last reported to its master.
    pub confirm_offset: i64,
    /// CommitLog offset up to which ConsumeQueues and index are built.
    pub dispatched_offset: i64,
    /// Replicas connected to it, as master.
    pub replicas: Vec<HaReplicaInfo>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::body::{Body, KeyStyle};

    #[test]
    fn round_trips_and_tolerates_missing_fields() {
        let status = HaStatus {
            broker_name: "broker-a".into(),
            role: "MASTER".into(),
            epoch: 3,
            writable: true,
            epochs: vec![
                HaEpochEntry {
                    epoch: 1,
                    start_offset: 0,
                },
                HaEpochEntry {
                    epoch: 3,
                    start_offset: 4096,
                },
            ],
            replicas: vec![HaReplicaInfo {
                addr: "127.0.0.1:5000".into(),
                ack_offset: 4000,
                lag_bytes: 96,
                in_sync: true,
            }],
            ..HaStatus::default()
        };
        let bytes = status.encode(KeyStyle::Unquoted);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"startOffset\":4096"), "{text}");
        assert_eq!(HaStatus::decode(&bytes).unwrap(), status);
        let sparse = HaStatus::decode(br#"{"role":"SLAVE","epoch":2}"#).unwrap();
        assert_eq!((sparse.role.as_str(), sparse.epoch), ("SLAVE", 2));
        assert!(HaStatus::decode(b"[]").is_err());
    }
}
