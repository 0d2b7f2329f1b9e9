//! A replica copying its master's config (RocketMQ's `SlaveSynchronize`):
//! every 10 s it asks the master's remoting port for the topics, consumer
//! offsets, delay offsets, subscription groups and (with the timer on) the
//! timer's checkpoint, and installs them (persisted, so a promoted replica
//! starts with them). The master's side of GET_ALL_DELAY_OFFSET and
//! GET_TIMER_CHECK_POINT is here too; the other codes are the admin
//! processor's.
//!
//! Delay offsets and the timer's read time say what the master has
//! delivered; the deliveries themselves come over the HA connection. So
//! they are installed only once this replica holds the master's CommitLog
//! up to its max offset read after them (Java installs them at once): a
//! promoted replica may deliver a message again, but never skips one whose
//! delivery it does not hold.

use std::sync::Weak;
use std::time::Duration;

use skylark_protocol::body::{
    Body, ConsumerOffsetSerializeWrapper, DelayOffsetSerializeWrapper, KVTable, KeyStyle,
    SubscriptionGroupWrapper, TopicConfigAndMappingSerializeWrapper,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ClientConfig, RemotingClient};
use tokio::sync::watch;

use super::HaError;
use crate::broker::Broker;
use crate::topic_config::now_ms;

/// Period of the copy (Java: every 10 s).
pub(crate) const SYNC_INTERVAL: Duration = Duration::from_secs(10);
/// Timeout of each request to the master.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for the replica to hold what the master held when it
/// answered with its delivery progress; longer, the round skips it.
const PROGRESS_FENCE: Duration = Duration::from_secs(5);
/// Bytes of Java's `TimerCheckpoint.encode`: seven longs.
const TIMER_CHECKPOINT_LEN: usize = 56;

impl Broker {
    /// GET_ALL_DELAY_OFFSET: `delayOffset.json`'s content, as Java answers.
    pub(crate) fn get_all_delay_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        RemotingCommand::response_to(request, ResponseCode::SUCCESS)
            .with_body(self.schedule.offsets_snapshot().encode(KeyStyle::Unquoted))
    }

    /// GET_TIMER_CHECK_POINT: the timer's progress in Java's
    /// `TimerCheckpoint` bytes — last read time, timer-log flush position
    /// (0: the wheel's log is Skylark's own), the timer queue offset twice
    /// (last and master's), and a data version (0, now, 0).
    pub(crate) fn get_timer_check_point(&self, request: &RemotingCommand) -> RemotingCommand {
        if !self.timer.enabled() {
            return RemotingCommand::response_to(request, ResponseCode::SYSTEM_ERROR)
                .with_remark("The checkpoint is null: timerWheelEnable is false");
        }
        let (read_time, queue_offset) = self.timer.progress();
        let mut body = Vec::with_capacity(TIMER_CHECKPOINT_LEN);
        for long in [read_time, 0, queue_offset, queue_offset, 0, now_ms(), 0] {
            body.extend_from_slice(&long.to_be_bytes());
        }
        RemotingCommand::response_to(request, ResponseCode::SUCCESS).with_body(body)
    }

    /// Installs the master's delay offsets and timer read time once this
    /// replica holds the master's CommitLog up to its max offset read after
    /// them (see the module's doc); false when it did not within
    /// [`PROGRESS_FENCE`] (nothing installed this round).
    async fn install_progress(
        &self,
        client: &RemotingClient,
        master: &str,
    ) -> Result<bool, HaError> {
        let body = fetch(client, master, RequestCode::GET_ALL_DELAY_OFFSET).await?;
        let delays = DelayOffsetSerializeWrapper::decode(&body)
            .map_err(|e| HaError::Sync(format!("delay offset body: {e}")))?;
        // A master without the timer does not fail the delay offsets' copy.
        let timer_read = if self.timer.enabled() {
            let read = fetch(client, master, RequestCode::GET_TIMER_CHECK_POINT)
                .await
                .and_then(|body| timer_read_time(&body));
            read.inspect_err(|error| {
                tracing::warn!(%master, %error, "cannot copy the master's timer progress");
            })
            .ok()
        } else {
            None
        };
        let body = fetch(client, master, RequestCode::GET_BROKER_RUNTIME_INFO).await?;
        let master_end = KVTable::decode(&body)
            .ok()
            .and_then(|kv| kv.table.get("commitLogMaxOffset")?.parse::<i64>().ok())
            .ok_or_else(|| HaError::Sync("runtime info without commitLogMaxOffset".into()))?;
        let give_up = tokio::time::Instant::now() + PROGRESS_FENCE;
        while self.store.commit_log_max_offset() < master_end {
            if tokio::time::Instant::now() >= give_up {
                tracing::debug!(
                    %master, master_end, ours = self.store.commit_log_max_offset(),
                    "replica behind its master: delivery progress not copied this round"
                );
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.schedule.replace_offsets(delays)?;
        if let Some(read_time) = timer_read {
            self.timer.follow_read_time(read_time);
        }
        Ok(true)
    }

    /// One round of the copy from the master at `master` (its remoting
    /// address). Each table is tried even when another fails; the first
    /// error is returned.
    pub(crate) async fn sync_config_from(
        &self,
        client: &RemotingClient,
        master: &str,
    ) -> Result<(), HaError> {
        let topics = async {
            let body = fetch(client, master, RequestCode::GET_ALL_TOPIC_CONFIG).await?;
            let wrapper = TopicConfigAndMappingSerializeWrapper::decode(&body)
                .map_err(|e| HaError::Sync(format!("topic config body: {e}")))?;
            let replaced = self
                .topics
                .replace_all(wrapper.data_version, wrapper.topic_config_table)?;
            if replaced {
                tracing::info!(%master, "copied the master's topic config");
            }
            Ok::<_, HaError>(())
        };
        let offsets = async {
            let body = fetch(client, master, RequestCode::GET_ALL_CONSUMER_OFFSET).await?;
            let wrapper = ConsumerOffsetSerializeWrapper::decode(&body)
                .map_err(|e| HaError::Sync(format!("consumer offset body: {e}")))?;
            self.offsets.merge_from_master(wrapper)?;
            Ok::<_, HaError>(())
        };
        let progress = async {
            self.install_progress(client, master).await?;
            Ok::<_, HaError>(())
        };
        let groups = async {
            let body = fetch(
                client,
                master,
                RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
            )
            .await?;
            let wrapper = SubscriptionGroupWrapper::decode(&body)
                .map_err(|e| HaError::Sync(format!("subscription group body: {e}")))?;
            if self.groups.replace_all(wrapper)? {
                tracing::info!(%master, "copied the master's subscription groups");
            }
            Ok::<_, HaError>(())
        };
        // The installs write files: small, and Java does them on its timer thread too.
        let results = [topics.await, offsets.await, progress.await, groups.await];
        results
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    }
}

/// The last read time of Java's `TimerCheckpoint` bytes (its first long).
fn timer_read_time(body: &[u8]) -> Result<i64, HaError> {
    body.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| HaError::Sync(format!("timer checkpoint body of {} bytes", body.len())))
}

/// One request; its body, or why there is none.
async fn fetch(
    client: &RemotingClient,
    master: &str,
    code: RequestCode,
) -> Result<Vec<u8>, HaError> {
    let response = client
        .invoke(master, RemotingCommand::bare_request(code), REQUEST_TIMEOUT)
        .await
        .map_err(|e| HaError::Sync(format!("{code} to {master}: {e}")))?;
    match response.response_code() {
        ResponseCode::SUCCESS => Ok(response.body.to_vec()),
        other => Err(HaError::Sync(format!(
            "{code} to {master}: {other} {}",
            response.remark.as_deref().unwrap_or_default()
        ))),
    }
}

/// Copies the config every [`SYNC_INTERVAL`] (the first round at once)
/// while the broker is a replica that knows its master, until `stop`.
pub(super) async fn run(broker: Weak<Broker>, mut stop: watch::Receiver<bool>) {
    let client = RemotingClient::new(ClientConfig::default());
    loop {
        let Some(b) = broker.upgrade() else {
            break;
        };
        if let Some(master) = b.ha.master_addr() {
            if let Err(error) = b.sync_config_from(&client, &master).await {
                tracing::warn!(%master, %error, "copying the master's config failed");
            }
        }
        drop(b);
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            () = tokio::time::sleep(SYNC_INTERVAL) => {}
        }
    }
    client.shutdown();
}
