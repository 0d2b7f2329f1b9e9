//! Message lookups: by key or UNIQ_KEY (QUERY_MESSAGE, through the
//! brokers' IndexFiles) and by offset message id (VIEW_MESSAGE_BY_ID).

use skylark_protocol::headers::query::set_unique_key_query;
use skylark_protocol::headers::{QueryMessageRequestHeader, ViewMessageRequestHeader};
use skylark_protocol::message::{OffsetMsgId, record};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::Admin;
use crate::error::ClientError;
use crate::message::{StoredMessage, uncompress_stored};

impl Admin {
    /// Messages of `topic` whose KEYS hold `key`, stored between the two
    /// times (ms), up to `max_num` per broker, from every broker of the
    /// topic's route; empty when none matched.
    pub async fn query_message_by_key(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<StoredMessage>, ClientError> {
        let mut found = self
            .query(topic, key, max_num, begin_ms, end_ms, false)
            .await?;
        // The index matches hashes; keep the messages that really have the key.
        found.retain(|m| m.properties.key_list().any(|k| k == key));
        Ok(found)
    }

    /// Messages of `topic` with UNIQ_KEY `uniq_key` (the `msg_id` of a send
    /// result); several when the message was retried or redelivered.
    pub async fn query_message_by_uniq_key(
        &self,
        topic: &str,
        uniq_key: &str,
    ) -> Result<Vec<StoredMessage>, ClientError> {
        let mut found = self.query(topic, uniq_key, 32, 0, i64::MAX, true).await?;
        found.retain(|m| m.uniq_key() == Some(uniq_key));
        Ok(found)
    }

    /// The message at an offset message id (the `offset_msg_id` of a send
    /// result: the store host and CommitLog offset).
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<StoredMessage, ClientError> {
        let id = OffsetMsgId::parse(offset_msg_id)?;
        let header = ViewMessageRequestHeader {
            topic: None,
            offset: id.commit_log_offset,
        };
        let addr = id.store_host.to_string();
        let response = self
            .call(
                &addr,
                RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID, &header),
            )
            .await?;
        let (mut msg, _) = record::decode(&response.body)?;
        uncompress_stored(&mut msg)?;
        Ok(msg)
    }

    /// A message by either id, as `mqadmin queryMsgById` takes it: an
    /// offset message id is viewed directly; otherwise (or when that
    /// fails) `id` is looked up as a UNIQ_KEY of `topic`.
    pub async fn message_by_id(
        &self,
        topic: &str,
        id: &str,
    ) -> Result<Vec<StoredMessage>, ClientError> {
        if OffsetMsgId::parse(id).is_ok()
            && let Ok(msg) = self.view_message(id).await
        {
            return Ok(vec![msg]);
        }
        self.query_message_by_uniq_key(topic, id).await
    }

    async fn query(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
        unique: bool,
    ) -> Result<Vec<StoredMessage>, ClientError> {
        let route = self.topic_route(topic).await?;
        let header = QueryMessageRequestHeader {
            topic: topic.to_owned(),
            key: key.to_owned(),
            max_num,
            begin_timestamp: begin_ms,
            end_timestamp: end_ms,
            broker_name: None,
        };
        let mut found = Vec::new();
        for broker in &route.broker_datas {
            // The master, else the replica with the lowest id.
            let Some(addr) = broker.broker_addrs.values().next() else {
                continue;
            };
            let mut cmd = RemotingCommand::request(RequestCode::QUERY_MESSAGE, &header);
            if let Some(fields) = cmd.ext_fields.as_mut() {
                set_unique_key_query(fields, unique);
            }
            let response = self
                .instance
                .invoke(addr, cmd, self.instance.config().request_timeout)
                .await?;
            match response.response_code() {
                ResponseCode::SUCCESS => {
                    for msg in record::RecordIter::new(response.body.clone()) {
                        let mut msg = msg?;
                        uncompress_stored(&mut msg)?;
                        found.push(msg);
                    }
                }
                ResponseCode::QUERY_NOT_FOUND => {}
                _ => return Err(ClientError::from_response(&response, addr)),
            }
        }
        Ok(found)
    }
}
