//! Role-change requests for the failover tests (HA_STATUS, HA_PROMOTE,
//! HA_FOLLOW), sends that report instead of panicking when the broker is
//! gone, and pulled records by queue offset.

use std::collections::BTreeMap;
use std::time::Duration;

use skylark_protocol::body::{Body, HaStatus};
use skylark_protocol::headers::ha_role::{
    HaFollowRequestHeader, HaPromoteRequestHeader, HaStatusRequestHeader,
};
use skylark_protocol::headers::send::SendMessageResponseHeader;
use skylark_protocol::message::{Properties, record};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::RemotingClient;

use super::ha::{create_topic, eventually, has_topic, invoke, invoke_ok, pull};
use super::send_request;

/// HA_STATUS of `addr`; with `epoch`, telling it that epoch.
pub(crate) async fn status(client: &RemotingClient, addr: &str, epoch: Option<i32>) -> HaStatus {
    let request =
        RemotingCommand::request(RequestCode::HA_STATUS, &HaStatusRequestHeader { epoch });
    let response = invoke_ok(client, addr, request).await;
    HaStatus::decode(&response.body).unwrap()
}

/// Creates `topic` with `queues` queues on `master` and waits until `replica`
/// has copied it and the master counts a replica in sync.
pub(crate) async fn create_topic_in_sync(
    client: &RemotingClient,
    master: &str,
    replica: &str,
    topic: &str,
    queues: i32,
) {
    create_topic(client, master, topic, queues).await;
    eventually("the replica copied the topic", || {
        has_topic(client, replica, topic)
    })
    .await;
    eventually("the master has an in-sync replica", || async {
        status(client, master, None)
            .await
            .replicas
            .iter()
            .any(|r| r.in_sync)
    })
    .await;
}

/// HA_PROMOTE of `addr` at `epoch`; the answer.
pub(crate) async fn promote(client: &RemotingClient, addr: &str, epoch: i32) -> RemotingCommand {
    let request =
        RemotingCommand::request(RequestCode::HA_PROMOTE, &HaPromoteRequestHeader { epoch });
    invoke(client, addr, request).await
}

/// HA_FOLLOW: `addr` follows `master` at `epoch`; the answer.
pub(crate) async fn follow(
    client: &RemotingClient,
    addr: &str,
    master: &str,
    epoch: i32,
) -> RemotingCommand {
    let header = HaFollowRequestHeader {
        epoch,
        master_addr: master.to_owned(),
        broker_id: Some(1),
    };
    invoke(
        client,
        addr,
        RemotingCommand::request(RequestCode::HA_FOLLOW, &header),
    )
    .await
}

/// One send's outcome: `Ok((code, queue offset on success))`, or the
/// transport error when the broker is gone.
pub(crate) async fn try_send(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    body: &[u8],
) -> Result<(ResponseCode, Option<i64>, String), String> {
    let request = send_request(topic, queue_id, Properties::new(), body);
    let response = client
        .invoke(addr, request, Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    let offset = (response.response_code() == ResponseCode::SUCCESS).then(|| {
        response
            .read_header::<SendMessageResponseHeader>()
            .unwrap()
            .queue_offset
    });
    Ok((
        response.response_code(),
        offset,
        response.remark.clone().unwrap_or_default(),
    ))
}

/// Queue offset → body of every record of `topic`/`queue_id` at `addr`
/// (pulled until a pull finds nothing more).
pub(crate) async fn queue_bodies(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
) -> BTreeMap<i64, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut offset = 0;
    loop {
        let response = pull(client, addr, topic, queue_id, offset).await;
        if response.response_code() != ResponseCode::SUCCESS {
            return out;
        }
        let records = record::decode_all(&response.body).unwrap();
        if records.is_empty() {
            return out;
        }
        for r in records {
            offset = offset.max(r.queue_offset + 1);
            out.insert(r.queue_offset, r.body.to_vec());
        }
    }
}
