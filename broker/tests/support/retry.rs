//! Delayed sends, send-backs and waiting pulls for the retry and delay tests.

use std::time::Instant;

use skylark_protocol::headers::ConsumerSendMsgBackRequestHeader;
use skylark_protocol::message::{Properties, StoredMessage};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::{HANG_GUARD, TestBroker, records};

impl TestBroker {
    /// SEND_MESSAGE_V2 of one message with delay `level` (and `UNIQ_KEY` = `body`).
    pub(crate) async fn send_delayed(
        &self,
        topic: &str,
        queue_id: i32,
        level: i32,
        body: &str,
    ) -> RemotingCommand {
        let mut properties = Properties::new();
        properties.set_delay_time_level(level);
        properties.set_tags("TagA");
        properties.insert("UNIQ_KEY", body);
        self.send_with(topic, queue_id, properties, body.as_bytes())
            .await
    }

    /// CONSUMER_SEND_MSG_BACK of the record at commit-log `offset` for `group`.
    pub(crate) async fn send_back(
        &self,
        offset: i64,
        group: &str,
        delay_level: i32,
        max_reconsume_times: Option<i32>,
    ) -> RemotingCommand {
        let header = ConsumerSendMsgBackRequestHeader {
            offset,
            group: group.into(),
            delay_level,
            origin_msg_id: None,
            origin_topic: None,
            unit_mode: Some(false),
            max_reconsume_times,
            broker_name: None,
        };
        self.invoke(RemotingCommand::request(
            RequestCode::CONSUMER_SEND_MSG_BACK,
            &header,
        ))
        .await
    }

    /// The records of `topic`/`queue_id` from `offset`, pulling (long
    /// polling) until there are some; when they came. Panics after
    /// [`HANG_GUARD`].
    pub(crate) async fn pull_until_found(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> (Vec<StoredMessage>, Instant) {
        let give_up = Instant::now() + HANG_GUARD;
        while Instant::now() < give_up {
            let response = self.pull(group, topic, queue_id, offset, "*", 1000).await;
            if response.response_code() == ResponseCode::SUCCESS {
                return (records(&response), Instant::now());
            }
        }
        panic!("nothing arrived in {topic}/{queue_id} from {offset} within {HANG_GUARD:?}");
    }

    /// Whether `topic`/`queue_id` has nothing at `offset` right now.
    pub(crate) async fn nothing_at(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> bool {
        let response = self.pull(group, topic, queue_id, offset, "*", 0).await;
        response.response_code() != ResponseCode::SUCCESS
    }
}
