//! Requests of clients and admin tools: routes, KV config, write
//! permissions, topic lists and the name server's own config.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use skylark_protocol::body::{Body, KeyStyle, TopicRouteData};
use skylark_protocol::headers::namesrv::{NAMESPACE_ORDER_TOPIC_CONFIG, ZONE_MODE, ZONE_NAME};
use skylark_protocol::headers::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader,
    DeleteKvConfigRequestHeader, DeleteTopicFromNamesrvRequestHeader, GetKvConfigRequestHeader,
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, RegisterTopicRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::ConnectionHandle;

use super::{NameServer, Outcome, header, success};
use crate::config::{LiveFlags, is_black_listed, parse_java_bool, parse_properties};
use crate::error::{NameServerError, RequestError};

/// `MQVersion.Version.V4_9_4.ordinal()`: from this client version on, routes
/// are sent as standard JSON (quoted integer keys).
const V4_9_4: i32 = 401;

/// Java's `ZoneRouteRPCHook`: keeps brokers of the client's zone, plus
/// master-less groups (their slaves still serve reads).
fn filter_by_zone(route: &mut TopicRouteData, zone: &str) {
    let (kept, removed): (Vec<_>, Vec<_>) = std::mem::take(&mut route.broker_datas)
        .into_iter()
        .partition(|g| {
            g.master_addr().is_none()
                || g.zone_name
                    .as_deref()
                    .is_some_and(|z| z.eq_ignore_ascii_case(zone))
        });
    route.broker_datas = kept;
    route
        .queue_datas
        .retain(|q| !removed.iter().any(|g| g.broker_name == q.broker_name));
    for group in &removed {
        for addr in group.broker_addrs.values() {
            route.filter_server_table.remove(addr);
        }
    }
}

/// The answer when a list request is switched off by config.
fn disabled(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::SYSTEM_ERROR).with_remark("disable")
}

impl NameServer {
    /// GET_ROUTEINFO_BY_TOPIC (105).
    pub(super) fn get_route_info_by_topic(&self, request: &RemotingCommand) -> Outcome {
        let h: GetRouteInfoRequestHeader = header(request)?;
        let Some(mut route) = self.routes.pickup_topic_route_data(&h.topic) else {
            return Ok(
                RemotingCommand::response_to(request, ResponseCode::TOPIC_NOT_EXIST).with_remark(
                    format!(
                        "No topic route info in name server for the topic: {}",
                        h.topic
                    ),
                ),
            );
        };
        if LiveFlags::get(&self.flags.order_message_enable) {
            route.order_topic_conf = self.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic);
        }
        // Older clients (the Go v2 client sends 317) parse fastjson's bare
        // integer keys and break on quoted ones; newer ones want standard JSON.
        let mut style = if request.version >= V4_9_4 || h.accept_standard_json_only == Some(true) {
            KeyStyle::Quoted
        } else {
            KeyStyle::Unquoted
        };
        let zone = request.ext(ZONE_NAME).filter(|z| !z.trim().is_empty());
        if let (true, Some(zone)) = (request.ext(ZONE_MODE).is_some_and(parse_java_bool), zone) {
            filter_by_zone(&mut route, zone);
            // Java's ZoneRouteRPCHook re-encodes the filtered route with
            // plain `encode()`, i.e. unquoted keys whatever the version.
            style = KeyStyle::Unquoted;
        }
        Ok(success(request).with_body(route.encode(style)))
    }

    /// PUT_KV_CONFIG (100).
    pub(super) async fn put_kv_config(&self, request: &RemotingCommand) -> Outcome {
        let h: PutKvConfigRequestHeader = header(request)?;
        let kv = self.kv.clone();
        let persisted =
            tokio::task::spawn_blocking(move || kv.put(&h.namespace, &h.key, &h.value)).await;
        log_persist_failure(persisted);
        Ok(success(request))
    }

    /// GET_KV_CONFIG (101).
    pub(super) fn get_kv_config(&self, request: &RemotingCommand) -> Outcome {
        let h: GetKvConfigRequestHeader = header(request)?;
        Ok(match self.kv.get(&h.namespace, &h.key) {
            Some(value) => {
                success(request).with_header(&GetKvConfigResponseHeader { value: Some(value) })
            }
            None => {
                RemotingCommand::response_to(request, ResponseCode::QUERY_NOT_FOUND).with_remark(
                    format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
                )
            }
        })
    }

    /// DELETE_KV_CONFIG (102).
    pub(super) async fn delete_kv_config(&self, request: &RemotingCommand) -> Outcome {
        let h: DeleteKvConfigRequestHeader = header(request)?;
        let kv = self.kv.clone();
        let persisted = tokio::task::spawn_blocking(move || kv.delete(&h.namespace, &h.key)).await;
        log_persist_failure(persisted);
        Ok(success(request))
    }

    /// GET_KVLIST_BY_NAMESPACE (219).
    pub(super) fn get_kv_list_by_namespace(&self, request: &RemotingCommand) -> Outcome {
        let h: GetKvListByNamespaceRequestHeader = header(request)?;
        Ok(match self.kv.namespace(&h.namespace) {
            Some(table) => success(request).with_body(table.encode(KeyStyle::Unquoted)),
            None => RemotingCommand::response_to(request, ResponseCode::QUERY_NOT_FOUND)
                .with_remark(format!("No config item, Namespace: {}", h.namespace)),
        })
    }

    /// WIPE_WRITE_PERM_OF_BROKER (205).
    pub(super) fn wipe_write_perm(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Outcome {
        let h: WipeWritePermOfBrokerRequestHeader = header(request)?;
        let count = self.routes.wipe_write_perm_of_broker(&h.broker_name);
        tracing::info!(broker = %h.broker_name, remote = %conn.remote_addr(), topics = count, "wiped write perm of broker");
        Ok(
            success(request).with_header(&WipeWritePermOfBrokerResponseHeader {
                wipe_topic_count: count,
            }),
        )
    }

    /// ADD_WRITE_PERM_OF_BROKER (327).
    pub(super) fn add_write_perm(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Outcome {
        let h: AddWritePermOfBrokerRequestHeader = header(request)?;
        let count = self.routes.add_write_perm_of_broker(&h.broker_name);
        tracing::info!(broker = %h.broker_name, remote = %conn.remote_addr(), topics = count, "added write perm of broker");
        Ok(
            success(request).with_header(&AddWritePermOfBrokerResponseHeader {
                add_topic_count: count,
            }),
        )
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206).
    pub(super) fn get_all_topic_list(&self, request: &RemotingCommand) -> Outcome {
        if !LiveFlags::get(&self.flags.enable_all_topic_list) {
            return Ok(disabled(request));
        }
        Ok(success(request).with_body(self.routes.all_topic_list().encode(KeyStyle::Unquoted)))
    }

    /// DELETE_TOPIC_IN_NAMESRV (216).
    pub(super) fn delete_topic(&self, request: &RemotingCommand) -> Outcome {
        let h: DeleteTopicFromNamesrvRequestHeader = header(request)?;
        let cluster = h.cluster_name.as_deref().filter(|c| !c.is_empty());
        self.routes.delete_topic(&h.topic, cluster);
        tracing::info!(topic = %h.topic, cluster = ?cluster, "topic deleted from name server");
        Ok(success(request))
    }

    /// REGISTER_TOPIC_IN_NAMESRV (217): body is a TopicRouteData whose
    /// queue datas are added to the topic.
    pub(super) fn register_topic(&self, request: &RemotingCommand) -> Outcome {
        let h: RegisterTopicRequestHeader = header(request)?;
        if !request.body.is_empty() {
            let route =
                TopicRouteData::decode(&request.body).map_err(|source| RequestError::Body {
                    what: "TopicRouteData",
                    source,
                })?;
            self.routes.register_topic(&h.topic, &route.queue_datas);
        }
        Ok(success(request))
    }

    /// GET_TOPICS_BY_CLUSTER (224).
    pub(super) fn get_topics_by_cluster(&self, request: &RemotingCommand) -> Outcome {
        if !LiveFlags::get(&self.flags.enable_topic_list) {
            return Ok(disabled(request));
        }
        let h: GetTopicsByClusterRequestHeader = header(request)?;
        let list = self.routes.topics_by_cluster(&h.cluster);
        Ok(success(request).with_body(list.encode(KeyStyle::Unquoted)))
    }

    /// GET_UNIT_TOPIC_LIST (311), GET_HAS_UNIT_SUB_TOPIC_LIST (312),
    /// GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST (313).
    pub(super) fn get_unit_topics(&self, request: &RemotingCommand, code: RequestCode) -> Outcome {
        if !LiveFlags::get(&self.flags.enable_topic_list) {
            return Ok(disabled(request));
        }
        let list = match code {
            RequestCode::GET_UNIT_TOPIC_LIST => self.routes.unit_topics(),
            RequestCode::GET_HAS_UNIT_SUB_TOPIC_LIST => self.routes.has_unit_sub_topics(),
            _ => self.routes.has_unit_sub_non_unit_topics(),
        };
        Ok(success(request).with_body(list.encode(KeyStyle::Unquoted)))
    }

    /// UPDATE_NAMESRV_CONFIG (318): body is `key=value` properties. Only the
    /// switches that can change at run time are applied; unknown keys are
    /// ignored, black-listed ones refused.
    pub(super) fn update_config(
        &self,
        conn: &ConnectionHandle,
        request: &RemotingCommand,
    ) -> Outcome {
        if request.body.is_empty() {
            return Ok(success(request));
        }
        let text =
            std::str::from_utf8(&request.body).map_err(|_| RequestError::NotUtf8("config"))?;
        let props = parse_properties(text);
        if props.keys().any(|k| is_black_listed(k)) {
            return Ok(
                RemotingCommand::response_to(request, ResponseCode::NO_PERMISSION)
                    .with_remark("Can not update config in black list."),
            );
        }
        for (key, value) in &props {
            let on = parse_java_bool(value);
            if let Some(flag) = self.flags.by_name(key) {
                flag.store(on, Ordering::Relaxed);
            } else if key == "deleteTopicWithBrokerRegistration" {
                self.routes.set_delete_topic_with_broker_registration(on);
            } else if key == "supportActingMaster" {
                self.routes.set_support_acting_master(on);
            } else {
                tracing::debug!(key = %key, "ignoring unknown or fixed name server config key");
                continue;
            }
            tracing::info!(key = %key, value = on, remote = %conn.remote_addr(), "name server config updated");
        }
        Ok(success(request))
    }

    /// GET_NAMESRV_CONFIG (319): the config as `key=value` lines.
    pub(super) fn get_config(&self, request: &RemotingCommand) -> RemotingCommand {
        let c = &self.config;
        let f = &self.flags;
        let kv_path = c
            .kv_config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let entries: [(&str, String); 10] = [
            (
                "deleteTopicWithBrokerRegistration",
                self.routes
                    .delete_topic_with_broker_registration()
                    .to_string(),
            ),
            (
                "enableAllTopicList",
                LiveFlags::get(&f.enable_all_topic_list).to_string(),
            ),
            (
                "enableTopicList",
                LiveFlags::get(&f.enable_topic_list).to_string(),
            ),
            ("kvConfigPath", kv_path),
            ("listenAddr", c.listen_addr.clone()),
            (
                "orderMessageEnable",
                LiveFlags::get(&f.order_message_enable).to_string(),
            ),
            (
                "returnOrderTopicConfigToBroker",
                LiveFlags::get(&f.return_order_topic_config_to_broker).to_string(),
            ),
            (
                "scanNotActiveBrokerInterval",
                c.scan_interval.as_millis().to_string(),
            ),
            (
                "brokerChannelExpiredTime",
                c.broker_timeout.as_millis().to_string(),
            ),
            (
                "supportActingMaster",
                self.routes.support_acting_master().to_string(),
            ),
        ];
        let mut text = String::new();
        for (key, value) in entries {
            let _ = writeln!(text, "{key}={value}");
        }
        success(request).with_body(text.into_bytes())
    }
}

/// Java answers SUCCESS even when persisting fails (the value is in effect
/// until restart); we do the same and make the failure loud in the log.
fn log_persist_failure(result: Result<Result<(), NameServerError>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "KV config change not persisted"),
        Err(error) => tracing::error!(%error, "KV config persist task failed"),
    }
}
