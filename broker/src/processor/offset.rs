//! Consumer offsets and queue offsets (`ConsumerManageProcessor` and the
//! offset codes of `AdminBrokerProcessor`).

use skylark_protocol::RemotingCommand;
use skylark_remoting::ConnectionHandle;

use super::Outcome;
use crate::broker::Broker;

impl Broker {
    /// Answers the offset codes; `None` for any other.
    pub(super) fn try_handle_offset(
        &self,
        _conn: &ConnectionHandle,
        _request: &RemotingCommand,
    ) -> Option<Outcome> {
        None
    }
}
