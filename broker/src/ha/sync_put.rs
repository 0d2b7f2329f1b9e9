//! SYNC_MASTER's wait after a put (RocketMQ's `handleHA`): the put is
//! acknowledged to its client only once an in-sync replica holds its bytes,
//! or answered FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE. Sends, send-backs
//! and committed transactional messages all come through here.

use skylark_store::config::BrokerRole;
use skylark_store::error::PutMessageStatus;
use skylark_store::message_store::PutMessageResult;

use super::HaService;

impl HaService {
    /// For a SYNC_MASTER put whose bytes end at `end`: waits for a replica
    /// to hold them (`slaveTimeout`), as RocketMQ 4's `submitReplicaRequest`.
    pub(crate) async fn wait_replicated(&self, end: i64) -> PutMessageStatus {
        self.notify_appended();
        let settings = &self.shared.settings;
        self.shared
            .in_sync
            .wait_replicated(end, settings.max_gap, settings.slave_timeout)
            .await
    }

    /// Wakes the replicas' streams after `result`'s put and, on a
    /// SYNC_MASTER when the put stored something, waits for a replica to
    /// hold it, turning the status into FLUSH_SLAVE_TIMEOUT or
    /// SLAVE_NOT_AVAILABLE when none does (the bytes stay stored either
    /// way). Other roles, and failed puts, answer at once.
    pub(crate) async fn replicate(&self, result: &mut PutMessageResult) {
        self.notify_appended();
        if result.status != PutMessageStatus::PutOk || self.role() != BrokerRole::SyncMaster {
            return;
        }
        if let Some(append) = result.append {
            result.status = self.wait_replicated(append.end_offset()).await;
        }
    }
}
