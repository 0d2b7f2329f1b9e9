//! Consumer offsets and queue offsets (`ConsumerManageProcessor` and the
//! offset codes of `AdminBrokerProcessor`): QUERY_CONSUMER_OFFSET,
//! UPDATE_CONSUMER_OFFSET, GET_MAX_OFFSET, GET_MIN_OFFSET,
//! SEARCH_OFFSET_BY_TIMESTAMP and GET_EARLIEST_MSG_STORETIME.
//!
//! Like Java, the queue queries do not check that the topic exists: an
//! unknown queue answers 0 (or -1 for a store time).

use std::net::SocketAddr;

use skylark_protocol::headers::{
    BoundaryType, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::ConnectionHandle;

use super::{Outcome, header, reply, success};
use crate::broker::Broker;

impl Broker {
    /// Answers the offset codes; `None` for any other.
    pub(super) fn try_handle_offset(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Option<Outcome> {
        self.handle_offset(conn.remote_addr(), request)
    }

    /// [`Broker::try_handle_offset`] without the connection, which only
    /// names the caller in logs.
    pub(super) fn handle_offset(
        &self,
        remote: SocketAddr,
        request: &RemotingCommand,
    ) -> Option<Outcome> {
        Some(match request.request_code() {
            RequestCode::QUERY_CONSUMER_OFFSET => self.query_consumer_offset(request),
            RequestCode::UPDATE_CONSUMER_OFFSET => self.update_consumer_offset(remote, request),
            RequestCode::GET_MAX_OFFSET => self.get_max_offset(request),
            RequestCode::GET_MIN_OFFSET => self.get_min_offset(request),
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => self.search_offset_by_timestamp(request),
            RequestCode::GET_EARLIEST_MSG_STORETIME => self.get_earliest_msg_storetime(request),
            _ => return None,
        })
    }

    /// The group's committed offset; without one, 0 when the queue still
    /// starts at 0 and that message is in memory (a new group reads a young
    /// queue from its start), else QUERY_NOT_FOUND so the client applies its
    /// `ConsumeFromWhere`. Java 5's logic; 4.9 answered 0 also for a queue
    /// that had no message yet and ignored `setZeroIfNotFound`.
    fn query_consumer_offset(&self, request: &RemotingCommand) -> Outcome {
        let h: QueryConsumerOffsetRequestHeader = header(request)?;
        if let Some(offset) = self.offsets.query(&h.consumer_group, &h.topic, h.queue_id) {
            return Ok(success(request).with_header(&QueryConsumerOffsetResponseHeader { offset }));
        }
        if h.set_zero_if_not_found == Some(false) {
            return Ok(reply(
                request,
                ResponseCode::QUERY_NOT_FOUND,
                "Not found, do not set to zero, maybe this group boot first",
            ));
        }
        let min = self.store.min_offset(&h.topic, h.queue_id);
        if min <= 0
            && self
                .store
                .check_in_mem_by_consume_offset(&h.topic, h.queue_id, 0)
        {
            return Ok(
                success(request).with_header(&QueryConsumerOffsetResponseHeader { offset: 0 })
            );
        }
        Ok(reply(
            request,
            ResponseCode::QUERY_NOT_FOUND,
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
        ))
    }

    /// Commits an offset of a known group on a known topic (Java 5 checks
    /// both; 4.9 took anything).
    fn update_consumer_offset(&self, remote: SocketAddr, request: &RemotingCommand) -> Outcome {
        let h: UpdateConsumerOffsetRequestHeader = header(request)?;
        if !self.groups.contains(&h.consumer_group) {
            return Ok(reply(
                request,
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("Group {} not exist!", h.consumer_group),
            ));
        }
        if !self.topics.contains(&h.topic) {
            return Ok(reply(
                request,
                ResponseCode::TOPIC_NOT_EXIST,
                format!("Topic {} not exist!", h.topic),
            ));
        }
        tracing::trace!(
            group = %h.consumer_group, topic = %h.topic, queue_id = h.queue_id,
            offset = h.commit_offset, %remote, "commit consumer offset"
        );
        self.offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
        Ok(success(request))
    }

    fn get_max_offset(&self, request: &RemotingCommand) -> Outcome {
        let h: GetMaxOffsetRequestHeader = header(request)?;
        let offset = self.store.max_offset(&h.topic, h.queue_id);
        Ok(success(request).with_header(&GetMaxOffsetResponseHeader { offset }))
    }

    fn get_min_offset(&self, request: &RemotingCommand) -> Outcome {
        let h: GetMinOffsetRequestHeader = header(request)?;
        let offset = self.store.min_offset(&h.topic, h.queue_id);
        Ok(success(request).with_header(&GetMinOffsetResponseHeader { offset }))
    }

    /// The lower boundary is the first offset stored at or after the time;
    /// the upper one the last offset stored at or before it (the one before
    /// the lower boundary of the next millisecond), as Java's binary search
    /// answers.
    fn search_offset_by_timestamp(&self, request: &RemotingCommand) -> Outcome {
        let h: SearchOffsetRequestHeader = header(request)?;
        let offset = match h.boundary_type.unwrap_or_default() {
            BoundaryType::Lower => self.store.offset_by_time(&h.topic, h.queue_id, h.timestamp),
            BoundaryType::Upper => {
                let after =
                    self.store
                        .offset_by_time(&h.topic, h.queue_id, h.timestamp.saturating_add(1));
                (after - 1).max(self.store.min_offset(&h.topic, h.queue_id))
            }
        };
        Ok(success(request).with_header(&SearchOffsetResponseHeader { offset }))
    }

    fn get_earliest_msg_storetime(&self, request: &RemotingCommand) -> Outcome {
        let h: GetEarliestMsgStoretimeRequestHeader = header(request)?;
        let timestamp = self.store.earliest_store_time(&h.topic, h.queue_id);
        Ok(success(request).with_header(&GetEarliestMsgStoretimeResponseHeader { timestamp }))
    }
}

#[cfg(test)]
mod tests;
