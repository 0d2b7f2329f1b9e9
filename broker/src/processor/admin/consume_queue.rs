//! QUERY_CONSUME_QUEUE (321): `mqadmin queryCq`, a dump of a queue's
//! ConsumeQueue entries and, for a group, its subscription.

use serde::Serialize;
use skylark_protocol::body::{
    Body, ConsumeQueueData, KeyStyle, QueryConsumeQueueResponseBody, SubscriptionData,
};
use skylark_protocol::headers::QueryConsumeQueueRequestHeader;
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_store::consume_queue::ConsumeQueueError;
use skylark_store::error::StoreError;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::{Outcome, header, reply, success};

impl Broker {
    /// Up to `count` entries of `topic`/`queueId` from `index` (at most one
    /// ConsumeQueue file's worth, as Java's iterator), with the queue's
    /// offset range. An index outside `[min, max)` is SUCCESS without a
    /// body, and a queue that does not exist SYSTEM_ERROR, as in Java.
    pub(super) fn query_consume_queue(&self, request: &RemotingCommand) -> Outcome {
        let h: QueryConsumeQueueRequestHeader = header(request)?;
        let topic = h.topic.as_deref().unwrap_or_default();
        let queue_id = h.queue_id.unwrap_or(0);
        let index = h.index.unwrap_or(0);
        let count = h.count.unwrap_or(0);
        let Some(queue) = self.store.consume_queues().queue(topic, queue_id) else {
            return Ok(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!("{queue_id}@{topic} is not exist!"),
            ));
        };
        let mut body = QueryConsumeQueueResponseBody {
            max_queue_index: queue.max_offset(),
            min_queue_index: queue.min_offset(),
            ..QueryConsumeQueueResponseBody::default()
        };
        if let Some(group) = h.consumer_group.as_deref() {
            match self.consumers.subscription(group, topic) {
                Some(subscription) => {
                    body.filter_data = Some(filter_data(group, &subscription));
                    body.subscription_data = Some(SubscriptionData::clone(&subscription));
                }
                None => body.filter_data = Some(format!("{group}@{topic} is not online!")),
            }
        }
        if index < body.min_queue_index || index >= body.max_queue_index {
            return Ok(success(request)
                .with_remark(format!("Index {index} of {queue_id}@{topic} is not exist!")));
        }
        let wanted = usize::try_from(count).unwrap_or(0);
        let entries = match queue.read(index, wanted) {
            Ok(entries) => entries,
            // Expired between the range check and the read.
            Err(ConsumeQueueError::BelowMin { .. }) => {
                return Ok(success(request)
                    .with_remark(format!("Index {index} of {queue_id}@{topic} is not exist!")));
            }
            Err(error) => return Err(BrokerError::Store(StoreError::from(error)).into()),
        };
        body.queue_data = Some(
            entries
                .iter()
                .map(|entry| ConsumeQueueData {
                    physic_offset: entry.phys_offset,
                    physic_size: entry.size,
                    tags_code: entry.tags_code,
                    // eval, bitMap and the extension JSON come from
                    // ConsumeQueue extensions, which Skylark does not keep.
                    ..ConsumeQueueData::default()
                })
                .collect(),
        );
        Ok(success(request).with_body(body.encode(KeyStyle::Unquoted)))
    }
}

/// Java's `ConsumerFilterData` of the subscription as JSON: `null` for a tag
/// subscription (Java keeps filter data for SQL92 ones only).
fn filter_data(group: &str, subscription: &SubscriptionData) -> String {
    /// The fields of Java's `ConsumerFilterData` that the subscription gives.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct FilterData<'a> {
        client_version: i64,
        consumer_group: &'a str,
        expression: &'a str,
        expression_type: &'a str,
        topic: &'a str,
    }
    if subscription.expression_type != SubscriptionData::EXPRESSION_SQL92 {
        return "null".to_owned();
    }
    let data = FilterData {
        client_version: subscription.sub_version,
        consumer_group: group,
        expression: &subscription.sub_string,
        expression_type: &subscription.expression_type,
        topic: &subscription.topic,
    };
    serde_json::to_string_pretty(&data).unwrap_or_else(|_| "null".to_owned())
}

#[cfg(test)]
mod tests;
