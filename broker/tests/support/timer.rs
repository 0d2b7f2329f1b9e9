//! Timer-message sends and draining a queue for the timer tests.

use std::time::Instant;

use skylark_protocol::message::{Properties, StoredMessage};
use skylark_protocol::{RemotingCommand, ResponseCode};

use super::{HANG_GUARD, TestBroker, records};

impl TestBroker {
    /// SEND_MESSAGE_V2 of one message with the timer property `name` =
    /// `value` (and `UNIQ_KEY` = `body`).
    pub(crate) async fn send_timer(
        &self,
        topic: &str,
        queue_id: i32,
        name: &str,
        value: i64,
        body: &str,
    ) -> RemotingCommand {
        let mut properties = Properties::new();
        properties.insert(name, itoa::Buffer::new().format(value));
        properties.set_tags("TagT");
        properties.insert("UNIQ_KEY", body);
        self.send_with(topic, queue_id, properties, body.as_bytes())
            .await
    }

    /// Pulls `topic`/`queue_id` from offset 0 until `count` records came
    /// (or [`HANG_GUARD`] × `guards` passed, then panics); the records in
    /// queue order.
    pub(crate) async fn drain(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        count: usize,
        guards: u32,
    ) -> Vec<StoredMessage> {
        let give_up = Instant::now() + HANG_GUARD * guards;
        let mut got = Vec::with_capacity(count);
        while got.len() < count && Instant::now() < give_up {
            let offset = i64::try_from(got.len()).unwrap();
            let response = self.pull(group, topic, queue_id, offset, "*", 1000).await;
            if response.response_code() == ResponseCode::SUCCESS {
                got.extend(records(&response));
            }
        }
        assert_eq!(
            got.len(),
            count,
            "{topic}/{queue_id} within {:?}",
            HANG_GUARD * guards
        );
        got
    }
}
