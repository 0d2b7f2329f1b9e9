//! PULL_MESSAGE and LITE_PULL_MESSAGE with long polling (`PullMessageProcessor`).

use skylark_protocol::RemotingCommand;
use skylark_remoting::{ConnectionHandle, not_supported};

use crate::broker::Broker;
use crate::error::RequestError;

impl Broker {
    pub(super) async fn pull_message(
        &self,
        _conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Result<Option<RemotingCommand>, RequestError> {
        Ok(Some(not_supported(request)))
    }
}
