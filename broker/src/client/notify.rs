//! NOTIFY_CONSUMER_IDS_CHANGED: telling a group's consumers to rebalance now
//! rather than at their next 20 s tick (Java's `DefaultConsumerIdsChangeListener`
//! with `realTimeNotifyConsumerChange`, and `Broker2Client.notifyConsumerIdsChanged`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use skylark_protocol::headers::NotifyConsumerIdsChangedRequestHeader;
use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::ConnectionHandle;

/// How long one member's oneway may wait for room in its write queue; a
/// stuck client must not hold up the rest of its group.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A group's notification round counter: a newer round supersedes an older
/// one still sending (Java's `NotifyTaskControl`), since the newer list is
/// the group's whole current membership.
#[derive(Debug, Default)]
pub(super) struct NotifyRounds(Arc<AtomicU64>);

/// One round of notifications, numbered when the membership it sends to
/// was read, so that rounds supersede each other in membership order.
#[derive(Debug)]
pub(super) struct Round {
    counter: Arc<AtomicU64>,
    round: u64,
}

impl NotifyRounds {
    /// Starts a round; call it under the lock the membership is read under.
    pub(super) fn next_round(&self) -> Round {
        Round {
            counter: self.0.clone(),
            round: self.0.fetch_add(1, Ordering::AcqRel) + 1,
        }
    }
}

impl Round {
    /// Sends NOTIFY_CONSUMER_IDS_CHANGED for `group` to every one of
    /// `members` on a spawned task; never blocks the caller.
    pub(super) fn notify(self, group: &str, members: Vec<ConnectionHandle>) {
        if members.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                group,
                "no runtime to notify consumers of a membership change"
            );
            return;
        };
        let Self { counter, round } = self;
        let request = RemotingCommand::request(
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
            &NotifyConsumerIdsChangedRequestHeader {
                consumer_group: group.to_owned(),
                broker_name: None,
            },
        );
        let group = group.to_owned();
        runtime.spawn(async move {
            for conn in members {
                if counter.load(Ordering::Acquire) != round {
                    tracing::debug!(group, "consumer ids notification superseded");
                    return;
                }
                if conn.is_closed() {
                    continue;
                }
                match tokio::time::timeout(SEND_TIMEOUT, conn.send_oneway(request.clone())).await {
                    Ok(Ok(())) => {
                        tracing::debug!(group, remote = %conn.remote_addr(), "notified consumer ids changed");
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(group, remote = %conn.remote_addr(), %error, "notifyConsumerIdsChanged failed");
                    }
                    Err(_) => {
                        tracing::warn!(group, remote = %conn.remote_addr(), "notifyConsumerIdsChanged timed out");
                    }
                }
            }
        });
    }
}
