//! INVOKE_BROKER_TO_RESET_OFFSET (222): `mqadmin resetOffsetByTime` and
//! `resetOffsetByQueueId`.
//!
//! Skylark combines RocketMQ's two ways: like Java 5's server-side reset
//! (`useServerSideResetOffset`, its default) it rewrites the group's
//! committed offsets whether or not the group is online and answers with
//! the new offsets; like Java 4.9's `Broker2Client.resetOffset` it tells each
//! online member with RESET_CONSUMER_CLIENT_OFFSET (220), which makes a push
//! consumer drop the queues, take the new offsets and commit them. Java 5
//! instead answers the group's next pull on each queue with
//! PULL_OFFSET_MOVED; the 220 push reaches 4.9 and 5.x clients alike.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use skylark_protocol::body::{Body, KeyStyle, MessageQueue, ResetOffsetBody};
use skylark_protocol::headers::ResetOffsetRequestHeader;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::ConnectionHandle;

use crate::broker::Broker;
use crate::processor::{Outcome, header, reply, success};

/// How long the 220 to one member may wait for room in its write queue
/// (Java's oneway timeout).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

impl Broker {
    /// Moves a group's offsets on a topic to those at `timestamp` (-1: the
    /// queues' ends), or one queue to an explicit `offset`, and answers with
    /// the offsets set.
    pub(super) fn reset_offset(&self, remote: SocketAddr, request: &RemotingCommand) -> Outcome {
        let h: ResetOffsetRequestHeader = header(request)?;
        let (topic, group) = (h.topic.as_str(), h.group.as_str());
        tracing::info!(
            topic, group, timestamp = h.timestamp, force = h.is_force, queue_id = h.queue_id,
            offset = h.offset, %remote, "reset offset"
        );
        if !self.ha.is_master() {
            return Ok(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                "Can not reset offset in slave broker",
            ));
        }
        let Some(config) = self.topics.get(topic) else {
            return Ok(reply(
                request,
                ResponseCode::TOPIC_NOT_EXIST,
                format!("Topic {topic} does not exist"),
            ));
        };
        if !self.groups.contains(group) {
            return Ok(reply(
                request,
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("Group {group} does not exist"),
            ));
        }
        let targets = match self.reset_targets(&h, config.read_queue_nums) {
            Ok(targets) => targets,
            Err(remark) => return Ok(reply(request, ResponseCode::SYSTEM_ERROR, remark)),
        };
        if targets.is_empty() {
            return Ok(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                "No queues to reset.",
            ));
        }
        let mut body = ResetOffsetBody::default();
        for (&queue_id, &offset) in &targets {
            self.offsets.commit(group, topic, queue_id, offset);
            body.offset_table.insert(
                MessageQueue::new(topic, self.config.broker_name.as_str(), queue_id),
                offset,
            );
        }
        tracing::info!(topic, group, queues = ?targets, "offsets reset");
        let body = body.encode(KeyStyle::Unquoted);
        self.tell_consumers_to_reset(&h, body.clone());
        Ok(success(request).with_body(body))
    }

    /// Queue → new offset. By time, every readable queue unless `queueId`
    /// names one; without `isForce` a queue only moves back, as Java 4.9
    /// does (Java 5 ignores the flag). An explicit offset must lie in
    /// `[min, max + 1]`, Java's bound.
    fn reset_targets(
        &self,
        h: &ResetOffsetRequestHeader,
        read_queue_nums: i32,
    ) -> Result<BTreeMap<i32, i64>, String> {
        let topic = h.topic.as_str();
        let queue_id = h.queue_id_or_default();
        // Java's reset-by-time sends -1 for "no offset".
        if let Some(offset) = h.offset.filter(|&o| o != -1)
            && queue_id >= 0
        {
            let min = self.store.min_offset(topic, queue_id);
            let max = self.store.max_offset(topic, queue_id);
            if offset < min || offset > max + 1 {
                return Err(format!(
                    "Target offset {offset} not in consume queue range [{min}-{max}]"
                ));
            }
            return Ok(BTreeMap::from([(queue_id, offset)]));
        }
        let queues = if queue_id >= 0 {
            queue_id..queue_id + 1
        } else {
            0..read_queue_nums
        };
        Ok(queues
            .map(|queue_id| {
                let at_time = if h.timestamp < 0 {
                    self.store.max_offset(topic, queue_id)
                } else {
                    self.store.offset_by_time(topic, queue_id, h.timestamp)
                }
                .max(0);
                let target = match self.offsets.query(&h.group, topic, queue_id) {
                    Some(current) if !h.is_force && at_time >= current => current,
                    _ => at_time,
                };
                (queue_id, target)
            })
            .collect())
    }

    /// Sends RESET_CONSUMER_CLIENT_OFFSET with the new offsets to every
    /// online member of the group, oneway, on a spawned task.
    fn tell_consumers_to_reset(&self, h: &ResetOffsetRequestHeader, body: Vec<u8>) {
        let members: Vec<ConnectionHandle> = self
            .consumers
            .channels(&h.group)
            .into_iter()
            .map(|member| member.conn().clone())
            .collect();
        if members.is_empty() {
            tracing::info!(group = %h.group, "group not online: only the broker's offsets were reset");
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(group = %h.group, "no runtime to tell consumers of an offset reset");
            return;
        };
        let notice = RemotingCommand::request(
            RequestCode::RESET_CONSUMER_CLIENT_OFFSET,
            &ResetOffsetRequestHeader {
                group: h.group.clone(),
                topic: h.topic.clone(),
                queue_id: None,
                offset: None,
                timestamp: h.timestamp,
                is_force: h.is_force,
                broker_name: None,
            },
        )
        .with_body(body);
        let group = h.group.clone();
        runtime.spawn(async move {
            for conn in members {
                let remote = conn.remote_addr();
                match tokio::time::timeout(NOTIFY_TIMEOUT, conn.send_oneway(notice.clone())).await
                {
                    Ok(Ok(())) => tracing::info!(%group, %remote, "told consumer to reset offsets"),
                    Ok(Err(error)) => {
                        tracing::warn!(%group, %remote, %error, "cannot tell consumer to reset offsets");
                    }
                    Err(_) => {
                        tracing::warn!(%group, %remote, "telling consumer to reset offsets timed out");
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;
