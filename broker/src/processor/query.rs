//! QUERY_MESSAGE and VIEW_MESSAGE_BY_ID (`QueryMessageProcessor`): messages
//! by key or UNIQ_KEY through the IndexFile, and one record by its CommitLog
//! offset (the offset message id). Records go out as slices of the mapping.

use bytes::Bytes;
use skylark_protocol::headers::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
    is_unique_key_query,
};
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_remoting::ConnectionHandle;

use super::{header, reply, success};
use crate::broker::Broker;
use crate::error::RequestError;

impl Broker {
    /// QUERY_MESSAGE: up to `maxNum` messages of the topic with the key in
    /// the time range; a UNIQ_KEY query returns up to `defaultQueryMaxNum`.
    pub(super) async fn query_message(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Result<Option<RemotingCommand>, RequestError> {
        let header: QueryMessageRequestHeader = header(request)?;
        let max_num = if request.ext_fields.as_ref().is_some_and(is_unique_key_query) {
            self.store.config().default_query_max_num
        } else {
            usize::try_from(header.max_num).unwrap_or(0)
        };
        let found = self.store.query_by_key(
            &header.topic,
            &header.key,
            max_num,
            header.begin_timestamp,
            header.end_timestamp,
        );
        if found.messages.is_empty() {
            return Ok(Some(reply(
                request,
                ResponseCode::QUERY_NOT_FOUND,
                "can not find message, maybe time range not correct",
            )));
        }
        let response = success(request).with_header(&QueryMessageResponseHeader {
            index_last_update_timestamp: found.index_last_update_timestamp,
            index_last_update_phyoffset: found.index_last_update_phy_offset,
        });
        Ok(send_parts(conn, response, found.messages).await)
    }

    /// VIEW_MESSAGE_BY_ID: the record at a CommitLog offset.
    pub(super) async fn view_message_by_id(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Result<Option<RemotingCommand>, RequestError> {
        let header: ViewMessageRequestHeader = header(request)?;
        match self.store.message_by_phys_offset(header.offset) {
            Some(record) => Ok(send_parts(conn, success(request), vec![record]).await),
            None => Ok(Some(reply(
                request,
                ResponseCode::SYSTEM_ERROR,
                format!("can not find message by the offset, {}", header.offset),
            ))),
        }
    }
}

/// Sends `response` with `records` as its body, uncopied.
async fn send_parts(
    conn: &ConnectionHandle,
    response: RemotingCommand,
    records: Vec<Bytes>,
) -> Option<RemotingCommand> {
    if let Err(error) = conn.send_response_parts(response, records).await {
        tracing::debug!(remote = %conn.remote_addr(), %error, "query response not sent");
    }
    None
}
