//! SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE (`SendMessageProcessor`).

use skylark_protocol::RemotingCommand;
use skylark_remoting::{ConnectionHandle, not_supported};

use super::Outcome;
use crate::broker::Broker;

impl Broker {
    pub(super) async fn send_message(
        &self,
        _conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Outcome {
        Ok(not_supported(request))
    }
}
