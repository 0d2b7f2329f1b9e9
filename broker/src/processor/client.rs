//! Heartbeats, client registration and queue locks (`ClientManageProcessor`,
//! lock codes of `AdminBrokerProcessor`).

use skylark_protocol::RemotingCommand;
use skylark_remoting::ConnectionHandle;

use super::Outcome;
use crate::broker::Broker;

impl Broker {
    /// Answers the client codes; `None` for any other.
    pub(super) fn try_handle_client(
        &self,
        _conn: &ConnectionHandle,
        _request: &RemotingCommand,
    ) -> Option<Outcome> {
        None
    }
}

impl Broker {
    /// Forgets a closed connection's producers, consumers and locks.
    pub(crate) fn on_channel_closed(&self, _conn: &ConnectionHandle) {}
}
