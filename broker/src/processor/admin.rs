//! Topic, group and broker administration (`AdminBrokerProcessor`)

use skylark_protocol::RemotingCommand;
use skylark_remoting::ConnectionHandle;

use super::Outcome;
use crate::broker::Broker;

impl Broker {
    /// Answers the admin codes; `None` for any other.
    pub(super) fn try_handle_admin(
        &self,
        _conn: &ConnectionHandle,
        _request: &RemotingCommand,
    ) -> Option<Outcome> {
        None
    }
}
