//! A replica copying its master's config (RocketMQ's `SlaveSynchronize`):
//! every 10 s it asks the master's remoting port for the topics, consumer
//! offsets, delay offsets and subscription groups, and installs them
//! (persisted, so a promoted replica starts with them). The master's side
//! of GET_ALL_DELAY_OFFSET is here too; the other three codes are the
//! admin processor's.

use std::sync::Weak;
use std::time::Duration;

use skylark_protocol::body::{
    Body, ConsumerOffsetSerializeWrapper, DelayOffsetSerializeWrapper, KeyStyle,
    SubscriptionGroupWrapper, TopicConfigAndMappingSerializeWrapper,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ClientConfig, RemotingClient};
use tokio::sync::watch;

use super::HaError;
use crate::broker::Broker;

/// Period of the copy (Java: every 10 s).
pub(crate) const SYNC_INTERVAL: Duration = Duration::from_secs(10);
/// Timeout of each request to the master.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

impl Broker {
    /// GET_ALL_DELAY_OFFSET: `delayOffset.json`'s content, as Java answers.
    pub(crate) fn get_all_delay_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        RemotingCommand::response_to(request, ResponseCode::SUCCESS)
            .with_body(self.schedule.offsets_snapshot().encode(KeyStyle::Unquoted))
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
        let delays = async {
            let body = fetch(client, master, RequestCode::GET_ALL_DELAY_OFFSET).await?;
            let wrapper = DelayOffsetSerializeWrapper::decode(&body)
                .map_err(|e| HaError::Sync(format!("delay offset body: {e}")))?;
            self.schedule.replace_offsets(wrapper)?;
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
        let results = [topics.await, offsets.await, delays.await, groups.await];
        results
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    }
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
