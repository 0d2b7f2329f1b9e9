//! Requests brokers send: REGISTER_BROKER, UNREGISTER_BROKER,
//! QUERY_DATA_VERSION and BROKER_HEARTBEAT.

use std::collections::BTreeMap;

use serde::Serialize;
use skylark_protocol::body::{Body, DataVersion, KeyStyle, RegisterBrokerBody, fastjson};
use skylark_protocol::headers::namesrv::{NAMESPACE_ORDER_TOPIC_CONFIG, ZONE_NAME};
use skylark_protocol::headers::{
    BrokerHeartbeatRequestHeader, GetBrokerMemberGroupRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnRegisterBrokerRequestHeader,
};
use skylark_protocol::{RemotingCommand, ResponseCode};
use skylark_remoting::ConnectionHandle;

use super::{NameServer, Outcome, header, success};
use crate::config::LiveFlags;
use crate::error::RequestError;
use crate::route::{BrokerRegistration, UnregisterRequest};

/// GET_BROKER_MEMBER_GROUP's body (`GetBrokerMemberGroupResponseBody`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberGroupBody {
    broker_member_group: MemberGroup,
}

/// One broker group's members (`BrokerMemberGroup`), fields in fastjson's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberGroup {
    broker_addrs: BTreeMap<i64, String>,
    broker_name: String,
    cluster: String,
}

impl NameServer {
    /// REGISTER_BROKER (103).
    pub(super) fn register_broker(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Outcome {
        let h: RegisterBrokerRequestHeader = header(request)?;
        if let Some(expected) = h.body_crc32.filter(|crc| *crc != 0) {
            // Java's UtilAll.crc32: CRC32 masked to a non-negative int.
            let actual = (crc32fast::hash(&request.body) & 0x7FFF_FFFF) as i32;
            if actual != expected {
                tracing::warn!(
                    remote = %conn.remote_addr(), broker = %h.broker_name, expected, actual,
                    "register broker body crc32 mismatch"
                );
                return Ok(
                    RemotingCommand::response_to(request, ResponseCode::SYSTEM_ERROR)
                        .with_remark("crc32 not match"),
                );
            }
        }
        let body = if request.body.is_empty() {
            RegisterBrokerBody::default()
        } else if h.compressed.unwrap_or(false) {
            RegisterBrokerBody::decode_compressed(&request.body, request.version).map_err(
                |source| RequestError::Body {
                    what: "compressed RegisterBrokerBody",
                    source,
                },
            )?
        } else {
            RegisterBrokerBody::decode(&request.body).map_err(|source| RequestError::Body {
                what: "RegisterBrokerBody",
                source,
            })?
        };
        let registration = BrokerRegistration {
            cluster_name: h.cluster_name,
            broker_addr: h.broker_addr,
            broker_name: h.broker_name,
            broker_id: h.broker_id,
            ha_server_addr: h.ha_server_addr,
            zone_name: request.ext(ZONE_NAME).map(str::to_owned),
            heartbeat_timeout_millis: h.heartbeat_timeout_millis,
            enable_acting_master: h.enable_acting_master,
            topic_config: body.topic_config_serialize_wrapper,
            filter_server_list: Some(body.filter_server_list),
            channel_id: Some(conn.id()),
        };
        let Some(result) = self.routes.register_broker(registration) else {
            // A single-topic registration must follow a full one.
            return Ok(
                RemotingCommand::response_to(request, ResponseCode::SYSTEM_ERROR)
                    .with_remark("register broker failed"),
            );
        };
        let mut response = success(request).with_header(&RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        });
        if LiveFlags::get(&self.flags.return_order_topic_config_to_broker) {
            if let Some(table) = self.kv.namespace(NAMESPACE_ORDER_TOPIC_CONFIG) {
                response.body = table.encode(KeyStyle::Unquoted).into();
            }
        }
        Ok(response)
    }

    /// UNREGISTER_BROKER (104); done at once rather than queued as Java does.
    pub(super) fn unregister_broker(&self, request: &RemotingCommand) -> Outcome {
        let h: UnRegisterBrokerRequestHeader = header(request)?;
        self.routes.unregister_broker(&UnregisterRequest {
            cluster_name: h.cluster_name,
            broker_addr: h.broker_addr,
            broker_name: h.broker_name,
            broker_id: h.broker_id,
        });
        Ok(success(request))
    }

    /// QUERY_DATA_VERSION (322): whether the broker's topic config changed
    /// since its last registration; also counts as a heartbeat.
    pub(super) fn query_data_version(&self, request: &RemotingCommand) -> Outcome {
        let h: QueryDataVersionRequestHeader = header(request)?;
        if request.body.is_empty() {
            return Err(RequestError::MissingBody("DataVersion"));
        }
        let version = DataVersion::decode(&request.body).map_err(|source| RequestError::Body {
            what: "DataVersion",
            source,
        })?;
        let changed =
            self.routes
                .is_broker_topic_config_changed(&h.cluster_name, &h.broker_addr, &version);
        self.routes
            .update_broker_info_update_timestamp(&h.cluster_name, &h.broker_addr);
        let mut response =
            success(request).with_header(&QueryDataVersionResponseHeader { changed });
        if let Some(ours) = self
            .routes
            .query_broker_topic_config(&h.cluster_name, &h.broker_addr)
        {
            response.body = ours.encode(KeyStyle::Unquoted).into();
        }
        Ok(response)
    }

    /// BROKER_HEARTBEAT (904): refreshes the broker's liveness.
    pub(super) fn broker_heartbeat(&self, request: &RemotingCommand) -> Outcome {
        let h: BrokerHeartbeatRequestHeader = header(request)?;
        self.routes
            .update_broker_info_update_timestamp(&h.cluster_name, &h.broker_addr);
        Ok(success(request))
    }
}

impl NameServer {
    /// GET_BROKER_MEMBER_GROUP (901): the members of one broker group, which
    /// slave-acting-master brokers sync.
    pub(super) fn get_broker_member_group(&self, request: &RemotingCommand) -> Outcome {
        let h: GetBrokerMemberGroupRequestHeader = header(request)?;
        let body = MemberGroupBody {
            broker_member_group: MemberGroup {
                broker_addrs: self.routes.broker_addrs(&h.broker_name),
                broker_name: h.broker_name,
                cluster: h.cluster_name,
            },
        };
        // Integer keys unquoted, as fastjson writes them; cannot fail for
        // string and integer keys.
        let bytes = fastjson::to_vec(&body, KeyStyle::Unquoted).unwrap_or_default();
        Ok(success(request).with_body(bytes))
    }
}
