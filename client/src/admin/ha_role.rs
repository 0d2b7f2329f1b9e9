//! Skylark's role changes inside a broker group (HA_PROMOTE, HA_FOLLOW,
//! HA_STATUS, codes 47001–47003): what `skylark broker promote|follow|status`
//! and the operator's failover send to one broker.

use skylark_protocol::RemotingCommand;
use skylark_protocol::RequestCode;
use skylark_protocol::body::HaStatus;
use skylark_protocol::headers::ha_role::{
    HaFollowRequestHeader, HaPromoteRequestHeader, HaStatusRequestHeader,
};

use super::Admin;
use crate::error::ClientError;

impl Admin {
    /// The role, epoch history, offsets and replicas of the broker at
    /// `addr`. With `epoch`, a master of an older epoch learns of it and
    /// stops accepting writes.
    pub async fn ha_status(&self, addr: &str, epoch: Option<i32>) -> Result<HaStatus, ClientError> {
        let cmd =
            RemotingCommand::request(RequestCode::HA_STATUS, &HaStatusRequestHeader { epoch });
        self.call_body(addr, cmd).await
    }

    /// Makes the broker at `addr` the master of its group at `epoch`,
    /// which must be newer than every epoch it knows (else
    /// CONTROLLER_FENCED_MASTER_EPOCH). Answers its status afterwards.
    pub async fn ha_promote(&self, addr: &str, epoch: i32) -> Result<HaStatus, ClientError> {
        let cmd =
            RemotingCommand::request(RequestCode::HA_PROMOTE, &HaPromoteRequestHeader { epoch });
        self.call_body(addr, cmd).await
    }

    /// Makes the broker at `addr` a replica (id `broker_id`, or its own
    /// choice) of `master`, the master of `epoch`; it first truncates what
    /// that master does not have. Answers its status afterwards.
    pub async fn ha_follow(
        &self,
        addr: &str,
        master: &str,
        epoch: i32,
        broker_id: Option<i64>,
    ) -> Result<HaStatus, ClientError> {
        let cmd = RemotingCommand::request(
            RequestCode::HA_FOLLOW,
            &HaFollowRequestHeader {
                epoch,
                master_addr: master.to_owned(),
                broker_id,
            },
        );
        self.call_body(addr, cmd).await
    }
}
