//! [`NameServer`]: the request handler that answers brokers, clients and
//! admin tools, as Java's `DefaultRequestProcessor` and
//! `ClientRequestProcessor` do.

mod admin;
mod broker;

use std::sync::Arc;

use skylark_protocol::body::{Body, KeyStyle};
use skylark_protocol::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ConnectionHandle, RequestHandler, not_supported, system_error};

use crate::clock::{Clock, SystemClock};
use crate::config::{LiveFlags, NameServerConfig};
use crate::error::{NameServerError, RequestError};
use crate::kv::KvConfigManager;
use crate::route::{RouteInfoManager, RouteOptions};

/// What a request handler returns: a response, or an error that becomes
/// SYSTEM_ERROR with the error's text as remark.
type Outcome = Result<RemotingCommand, RequestError>;

/// One name server's state and request handling; hand it to a
/// [`skylark_remoting::RemotingServer`] (or use [`crate::NameServer::start`]).
#[derive(Debug)]
pub struct NameServer {
    config: NameServerConfig,
    flags: LiveFlags,
    routes: RouteInfoManager,
    kv: Arc<KvConfigManager>,
}

impl NameServer {
    /// A name server with `config`, loading its KV file if configured.
    pub fn new(config: NameServerConfig) -> Result<Self, NameServerError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`new`](Self::new), reading time from `clock` (tests age
    /// brokers with a [`crate::ManualClock`]).
    pub fn with_clock(
        config: NameServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, NameServerError> {
        let kv = match &config.kv_config_path {
            Some(path) => KvConfigManager::load(path)?,
            None => KvConfigManager::in_memory(),
        };
        let options = RouteOptions {
            default_heartbeat_timeout_millis: i64::try_from(config.broker_timeout.as_millis())
                .unwrap_or(i64::MAX),
            delete_topic_with_broker_registration: config.delete_topic_with_broker_registration,
            support_acting_master: config.support_acting_master,
        };
        Ok(Self {
            flags: LiveFlags::new(&config),
            routes: RouteInfoManager::new(clock, options),
            kv: Arc::new(kv),
            config,
        })
    }

    /// The routing state.
    pub fn routes(&self) -> &RouteInfoManager {
        &self.routes
    }

    /// The KV config.
    pub fn kv(&self) -> &KvConfigManager {
        &self.kv
    }

    /// The settings it started with.
    pub fn config(&self) -> &NameServerConfig {
        &self.config
    }

    /// Answers one request; never panics on bad input.
    pub async fn process(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> RemotingCommand {
        let code = request.request_code();
        tracing::debug!(
            code = %code, remote = %conn.remote_addr(), opaque = request.opaque,
            version = request.version, "name server request"
        );
        let outcome =
            match code {
                RequestCode::PUT_KV_CONFIG => self.put_kv_config(request).await,
                RequestCode::GET_KV_CONFIG => self.get_kv_config(request),
                RequestCode::DELETE_KV_CONFIG => self.delete_kv_config(request).await,
                RequestCode::GET_KVLIST_BY_NAMESPACE => self.get_kv_list_by_namespace(request),
                RequestCode::QUERY_DATA_VERSION => self.query_data_version(request),
                RequestCode::REGISTER_BROKER => self.register_broker(conn, request),
                RequestCode::UNREGISTER_BROKER => self.unregister_broker(request),
                RequestCode::BROKER_HEARTBEAT => self.broker_heartbeat(request),
                RequestCode::GET_BROKER_MEMBER_GROUP => self.get_broker_member_group(request),
                RequestCode::GET_ROUTEINFO_BY_TOPIC => self.get_route_info_by_topic(request),
                RequestCode::GET_BROKER_CLUSTER_INFO => Ok(success(request)
                    .with_body(self.routes.cluster_info().encode(KeyStyle::Unquoted))),
                RequestCode::WIPE_WRITE_PERM_OF_BROKER => self.wipe_write_perm(conn, request),
                RequestCode::ADD_WRITE_PERM_OF_BROKER => self.add_write_perm(conn, request),
                RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => self.get_all_topic_list(request),
                RequestCode::DELETE_TOPIC_IN_NAMESRV => self.delete_topic(request),
                RequestCode::REGISTER_TOPIC_IN_NAMESRV => self.register_topic(request),
                RequestCode::GET_TOPICS_BY_CLUSTER => self.get_topics_by_cluster(request),
                RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS => Ok(success(request)
                    .with_body(self.routes.system_topic_list().encode(KeyStyle::Unquoted))),
                RequestCode::GET_UNIT_TOPIC_LIST
                | RequestCode::GET_HAS_UNIT_SUB_TOPIC_LIST
                | RequestCode::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => {
                    self.get_unit_topics(request, code)
                }
                RequestCode::UPDATE_NAMESRV_CONFIG => self.update_config(conn, request),
                RequestCode::GET_NAMESRV_CONFIG => Ok(self.get_config(request)),
                _ => Ok(not_supported(request)),
            };
        outcome.unwrap_or_else(|error| {
            tracing::warn!(
                code = %code, remote = %conn.remote_addr(), opaque = request.opaque, %error,
                "name server request failed"
            );
            system_error(request, error.to_string())
        })
    }
}

impl RequestHandler for NameServer {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(self.process(conn, &request).await)
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        // Java's BrokerHousekeepingService: a broker whose connection is gone
        // is unregistered at once rather than after its timeout.
        let gone = self.routes.on_channel_destroy(conn.id());
        if !gone.is_empty() {
            tracing::info!(
                remote = %conn.remote_addr(), channel = conn.id(), brokers = gone.len(),
                "connection closed, its brokers unregistered"
            );
        }
    }
}

/// A SUCCESS response to `request`.
fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::SUCCESS)
}

/// The request's typed header.
fn header<H: CommandHeader>(request: &RemotingCommand) -> Result<H, RequestError> {
    Ok(request.read_header::<H>()?)
}
