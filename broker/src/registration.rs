//! Registration with every configured nameserver (`BrokerOuterAPI.registerBrokerAll`
//! and `unregisterBrokerAll`): all nameservers in parallel, each with its
//! own timeout, so one that is down delays nobody.

use std::time::Duration;

use futures::future::join_all;
use skylark_protocol::body::{
    Body, KeyStyle, RegisterBrokerBody, TopicConfigAndMappingSerializeWrapper,
};
use skylark_protocol::headers::namesrv::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnRegisterBrokerRequestHeader,
};
use skylark_protocol::message::PermName;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::RemotingClient;

use crate::broker::Broker;

/// How one registration round went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegisterOutcome {
    /// Nameservers that accepted the registration.
    pub(crate) registered: usize,
    /// Nameservers configured.
    pub(crate) configured: usize,
}

impl Broker {
    /// The REGISTER_BROKER request for the current topic table: topics'
    /// permissions are narrowed to the broker's, as Java does when the
    /// broker's write or read permission has been wiped.
    fn register_request(&self) -> Option<RemotingCommand> {
        let snapshot = self.topics.snapshot();
        let broker_perm = self.live.broker_permission();
        let mut wrapper = TopicConfigAndMappingSerializeWrapper {
            data_version: snapshot.data_version,
            topic_config_table: snapshot.topic_config_table,
            ..TopicConfigAndMappingSerializeWrapper::default()
        };
        if !PermName::is_writeable(broker_perm) || !PermName::is_readable(broker_perm) {
            for topic in wrapper.topic_config_table.values_mut() {
                topic.perm &= broker_perm;
            }
        }
        let body = RegisterBrokerBody {
            filter_server_list: Vec::new(),
            topic_config_serialize_wrapper: wrapper,
        };
        let compressed = self.config.compressed_register;
        let bytes = if compressed {
            body.encode_compressed()
        } else {
            Ok(body.encode(KeyStyle::Unquoted))
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%error, "cannot encode the registration body");
                return None;
            }
        };
        let crc = i32::try_from(crc32fast::hash(&bytes) & 0x7FFF_FFFF).unwrap_or(0);
        let header = RegisterBrokerRequestHeader {
            broker_name: self.config.broker_name.clone(),
            broker_addr: self.config.broker_addr(),
            cluster_name: self.config.broker_cluster_name.clone(),
            ha_server_addr: format!(
                "{}:{}",
                self.config.broker_ip1,
                self.ha
                    .ha_addr()
                    .map_or(self.config.store.ha_listen_port, |a| a.port())
            ),
            broker_id: self.ha.broker_id(),
            heartbeat_timeout_millis: None,
            enable_acting_master: Some(false),
            compressed: Some(compressed),
            body_crc32: Some(crc),
        };
        Some(RemotingCommand::request(RequestCode::REGISTER_BROKER, &header).with_body(bytes))
    }

    /// Registers with every nameserver in parallel.
    pub(crate) async fn register_all(&self, client: &RemotingClient) -> RegisterOutcome {
        if self.ha_role.is_fenced() {
            // A fenced master stays out of the routes (ha/role.rs); ready all the same.
            return RegisterOutcome {
                registered: 0,
                configured: 0,
            };
        }
        let addrs = self.config.namesrv_addrs();
        let configured = addrs.len();
        let Some(request) = self.register_request() else {
            return RegisterOutcome {
                registered: 0,
                configured,
            };
        };
        let timeout = self.config.register_timeout();
        let results = join_all(addrs.iter().map(|addr| {
            let request = request.clone();
            async move { (addr, invoke(client, addr, request, timeout).await) }
        }))
        .await;
        let mut registered = 0;
        for (addr, result) in results {
            match result {
                Ok(response) => {
                    registered += 1;
                    // A replica learns its master's addresses here, as Java's does.
                    if let Ok(answer) = response.read_header::<RegisterBrokerResponseHeader>() {
                        self.ha
                            .on_registered(answer.master_addr, answer.ha_server_addr);
                    }
                }
                Err(error) => tracing::warn!(namesrv = %addr, %error, "registration failed"),
            }
        }
        tracing::debug!(registered, configured, "registered with nameservers");
        RegisterOutcome {
            registered,
            configured,
        }
    }

    /// Tells every nameserver this broker is leaving.
    pub(crate) async fn unregister_all(&self, client: &RemotingClient) {
        let header = UnRegisterBrokerRequestHeader {
            broker_name: self.config.broker_name.clone(),
            broker_addr: self.config.broker_addr(),
            cluster_name: self.config.broker_cluster_name.clone(),
            broker_id: self.ha.broker_id(),
        };
        let request = RemotingCommand::request(RequestCode::UNREGISTER_BROKER, &header);
        let timeout = self.config.register_timeout().min(Duration::from_secs(3));
        let addrs = self.config.namesrv_addrs();
        let results = join_all(addrs.iter().map(|addr| {
            let request = request.clone();
            async move { (addr, invoke(client, addr, request, timeout).await) }
        }))
        .await;
        for (addr, result) in results {
            match result {
                Ok(_) => tracing::info!(namesrv = %addr, "unregistered"),
                Err(error) => tracing::warn!(namesrv = %addr, %error, "unregistration failed"),
            }
        }
    }
}

/// One request to one nameserver; its answer, anything but SUCCESS an error.
async fn invoke(
    client: &RemotingClient,
    addr: &str,
    request: RemotingCommand,
    timeout: Duration,
) -> Result<RemotingCommand, String> {
    let response = client
        .invoke(addr, request, timeout)
        .await
        .map_err(|error| error.to_string())?;
    match response.response_code() {
        ResponseCode::SUCCESS => Ok(response),
        code => Err(format!(
            "{code}: {}",
            response.remark.as_deref().unwrap_or_default()
        )),
    }
}
