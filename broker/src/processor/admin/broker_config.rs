//! The broker's own config: GET_BROKER_CONFIG (26) and UPDATE_BROKER_CONFIG
//! (25), `mqadmin getBrokerConfig` / `updateBrokerConfig`.

use std::net::SocketAddr;

use skylark_protocol::body::{Body, KeyStyle};
use skylark_protocol::headers::GetBrokerConfigResponseHeader;
use skylark_protocol::{RemotingCommand, ResponseCode};

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::live_config::{Refusal, properties_text};
use crate::processor::{Outcome, reply, success};

impl Broker {
    /// The config as it now stands as properties text (`key=value` lines,
    /// sorted, as Java's `MixAll.properties2String` writes them), with the
    /// config's version, which each update moves on.
    pub(super) fn get_broker_config(&self, request: &RemotingCommand) -> Outcome {
        let (config, version) = self.live.snapshot();
        let body = properties_text(&config.to_properties()?);
        let version = String::from_utf8_lossy(&version.encode(KeyStyle::Unquoted)).into_owned();
        Ok(success(request)
            .with_header(&GetBrokerConfigResponseHeader { version })
            .with_body(body))
    }

    /// Applies the properties in the body, all or none: a key on the black
    /// list is NO_PERMISSION, as in Java; an unknown key, one that cannot
    /// change while the broker runs, or a bad value is INVALID_PARAMETER
    /// (Java ignores unknown keys and sets the rest, to little effect until
    /// a restart). The new config is saved to `brokerConfigPath` when the
    /// broker was started from a file; a new `brokerPermission` is
    /// registered with the nameservers at once.
    pub(super) fn update_broker_config(
        &self,
        remote: SocketAddr,
        request: &RemotingCommand,
    ) -> Outcome {
        if request.body.is_empty() {
            // Java answers an update without a body with SUCCESS.
            return Ok(success(request));
        }
        let text = String::from_utf8_lossy(&request.body);
        let changes = match BrokerConfig::parse_properties(&text) {
            Ok(changes) => changes,
            Err(error) => {
                return Ok(reply(
                    request,
                    ResponseCode::INVALID_PARAMETER,
                    error.to_string(),
                ));
            }
        };
        tracing::info!(?changes, %remote, "update broker config");
        let config = match self.live.update(&changes) {
            Ok(config) => config,
            Err(refusal) => {
                tracing::warn!(%refusal, %remote, "broker config update refused");
                let code = match refusal {
                    Refusal::Blacklisted(_) => ResponseCode::NO_PERMISSION,
                    _ => ResponseCode::INVALID_PARAMETER,
                };
                return Ok(reply(request, code, refusal.to_string()));
            }
        };
        self.topics
            .set_auto_create_topic_enable(config.auto_create_topic_enable);
        self.groups
            .set_auto_create(config.auto_create_subscription_group);
        if changes.contains_key("brokerPermission") {
            tracing::info!(
                perm = config.broker_permission,
                "broker permission changed; registering"
            );
            self.topics.next_version()?;
        }
        self.live.persist()?;
        if let Some(path) = self.live.file_path() {
            tracing::info!(path = %path.display(), "broker config saved");
        }
        Ok(success(request))
    }
}

#[cfg(test)]
mod tests;
