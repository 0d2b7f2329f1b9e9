//! [`ClientInstance`]: what all producers, consumers and admin clients of one
//! client id share (Java's `MQClientInstance`): the connection pool, the
//! nameserver list, the topic route cache, heartbeats and the hook for
//! requests brokers send to clients.
//!
//! Background work (route refresh every `poll_name_server_interval`,
//! heartbeats every `heartbeat_broker_interval`) runs in one tokio task that
//! holds only a weak reference, so it ends when the last clone is dropped or
//! [`ClientInstance::shutdown`] is called.

mod router;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use skylark_protocol::body::{Body, TopicRouteData};
use skylark_protocol::headers::GetRouteInfoRequestHeader;
use skylark_protocol::message::UniqIdGenerator;
use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{DynRequestHandler, RemotingClient};
use tokio::sync::watch;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::heartbeat::HeartbeatRegistry;
use crate::route::{BrokerAddrTable, TopicRoute};

use router::Router;

/// The shared client of one client id. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientInstance {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) client_id: String,
    pub(crate) remoting: RemotingClient,
    namesrv_index: AtomicUsize,
    routes: RwLock<HashMap<String, Arc<TopicRoute>>>,
    broker_addrs: RwLock<BrokerAddrTable>,
    pub(crate) heartbeat: Mutex<HeartbeatRegistry>,
    router: Arc<Router>,
    uniq: &'static UniqIdGenerator,
    pub(crate) transaction_checks:
        std::sync::OnceLock<Arc<crate::producer::transaction::CheckHandler>>,
    shut_down: AtomicBool,
    stop: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.remoting.shutdown();
    }
}

/// The process's UNIQ_KEY generator, one for all instances as Java has one
/// per JVM: ids of two instances must not collide within a millisecond. It
/// takes the IP of the first instance made.
fn uniq_generator(ip: std::net::IpAddr) -> &'static UniqIdGenerator {
    static UNIQ: std::sync::OnceLock<UniqIdGenerator> = std::sync::OnceLock::new();
    UNIQ.get_or_init(|| UniqIdGenerator::new(ip))
}

/// Instances by client id and nameserver list; weak, so dropping the last
/// user of an instance ends it.
static INSTANCES: Mutex<Option<HashMap<String, Weak<Inner>>>> = Mutex::new(None);

impl ClientInstance {
    /// The instance of `config`'s client id and nameservers, created (and
    /// its background task started) on first use. Must be called inside a
    /// tokio runtime.
    pub fn get_or_create(config: ClientConfig) -> Result<Self, ClientError> {
        let key = format!("{}|{}", config.client_id(), config.namesrv_addrs.join(";"));
        let mut instances = INSTANCES.lock().unwrap_or_else(PoisonError::into_inner);
        let map = instances.get_or_insert_with(HashMap::new);
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(inner) = map.get(&key).and_then(Weak::upgrade)
            && !inner.shut_down.load(Ordering::Acquire)
        {
            return Ok(Self { inner });
        }
        let instance = Self::new(config)?;
        map.insert(key, Arc::downgrade(&instance.inner));
        Ok(instance)
    }

    /// A new instance of its own, not shared with other callers. Must be
    /// called inside a tokio runtime.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ClientError::InvalidArgument("a client must be created inside a tokio runtime".into())
        })?;
        let remoting = RemotingClient::new(config.remoting.clone());
        let router = Arc::new(Router::default());
        remoting.set_request_handler(router.clone());
        let (stop, stopped) = watch::channel(false);
        let inner = Arc::new(Inner {
            client_id: config.client_id(),
            uniq: uniq_generator(config.client_ip),
            config,
            remoting,
            namesrv_index: AtomicUsize::new(0),
            routes: RwLock::default(),
            broker_addrs: RwLock::default(),
            heartbeat: Mutex::default(),
            router,
            transaction_checks: std::sync::OnceLock::new(),
            shut_down: AtomicBool::new(false),
            stop,
        });
        runtime.spawn(background(Arc::downgrade(&inner), stopped));
        tracing::debug!(client_id = %inner.client_id, namesrv = ?inner.config.namesrv_addrs, "client instance started");
        Ok(Self { inner })
    }

    /// This client's id (`ip@instance`).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The settings it was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The connection pool, for calls this crate has no method for.
    pub fn remoting(&self) -> &RemotingClient {
        &self.inner.remoting
    }

    /// A fresh UNIQ_KEY (`MessageClientIDSetter.createUniqID`).
    pub fn next_uniq_id(&self) -> String {
        self.inner.uniq.next_id()
    }

    /// Whether [`ClientInstance::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    fn check_running(&self) -> Result<(), ClientError> {
        if self.is_shut_down() {
            Err(ClientError::Shutdown)
        } else {
            Ok(())
        }
    }

    // ----- invoking -----------------------------------------------------

    /// Sends `cmd` to `addr` and returns the response, whatever its code.
    pub async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        self.check_running()?;
        Ok(self.inner.remoting.invoke(addr, cmd, timeout).await?)
    }

    /// Sends `cmd` to `addr` with the default timeout; a non-SUCCESS answer
    /// is a [`ClientError::Server`].
    pub async fn invoke_ok(
        &self,
        addr: &str,
        cmd: RemotingCommand,
    ) -> Result<RemotingCommand, ClientError> {
        let response = self
            .invoke(addr, cmd, self.inner.config.request_timeout)
            .await?;
        if response.response_code() == ResponseCode::SUCCESS {
            Ok(response)
        } else {
            Err(ClientError::from_response(&response, addr))
        }
    }

    /// Sends a oneway `cmd` to `addr`.
    pub async fn invoke_oneway(&self, addr: &str, cmd: RemotingCommand) -> Result<(), ClientError> {
        self.check_running()?;
        Ok(self.inner.remoting.invoke_oneway(addr, cmd).await?)
    }

    /// Sends `cmd` to a nameserver, trying the next one when a connection
    /// fails; returns the response (whatever its code) and who answered.
    pub async fn invoke_namesrv(
        &self,
        cmd: RemotingCommand,
    ) -> Result<(RemotingCommand, String), ClientError> {
        self.check_running()?;
        let addrs = &self.inner.config.namesrv_addrs;
        if addrs.is_empty() {
            return Err(ClientError::NoNameserver);
        }
        let start = self.inner.namesrv_index.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..addrs.len() {
            let idx = (start + i) % addrs.len();
            let addr = &addrs[idx];
            let attempt = cmd.clone();
            match self
                .inner
                .remoting
                .invoke(addr, attempt, self.inner.config.request_timeout)
                .await
            {
                Ok(response) => {
                    self.inner.namesrv_index.store(idx, Ordering::Relaxed);
                    return Ok((response, addr.clone()));
                }
                Err(e) => {
                    tracing::warn!(namesrv = %addr, error = %e, "nameserver request failed, trying the next");
                    last = Some(e.into());
                }
            }
        }
        Err(last.unwrap_or(ClientError::NoNameserver))
    }

    /// Like [`ClientInstance::invoke_namesrv`]; a non-SUCCESS answer is an error.
    pub async fn invoke_namesrv_ok(
        &self,
        cmd: RemotingCommand,
    ) -> Result<RemotingCommand, ClientError> {
        let (response, addr) = self.invoke_namesrv(cmd).await?;
        if response.response_code() == ResponseCode::SUCCESS {
            Ok(response)
        } else {
            Err(ClientError::from_response(&response, &addr))
        }
    }

    // ----- routes -------------------------------------------------------

    /// The nameserver's route data of `topic` (GET_ROUTEINFO_BY_TOPIC),
    /// uncached. TOPIC_NOT_EXIST is a [`ClientError::Server`] with that code.
    pub async fn fetch_route_data(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            ..Default::default()
        };
        let response = self
            .invoke_namesrv_ok(RemotingCommand::request(
                RequestCode::GET_ROUTEINFO_BY_TOPIC,
                &header,
            ))
            .await?;
        Ok(TopicRouteData::decode(&response.body)?)
    }

    /// The cached route of `topic`, fetched when not cached yet. The topic
    /// is refreshed in the background from then on.
    pub async fn topic_route(&self, topic: &str) -> Result<Arc<TopicRoute>, ClientError> {
        if let Some(route) = self.cached_route(topic) {
            return Ok(route);
        }
        self.refresh_topic_route(topic).await
    }

    /// Fetches `topic`'s route now and caches it (keeping the cached one,
    /// and its send position, when nothing changed).
    pub async fn refresh_topic_route(&self, topic: &str) -> Result<Arc<TopicRoute>, ClientError> {
        let data = self.fetch_route_data(topic).await?;
        Ok(self.store_route(topic, data, None))
    }

    /// The route a producer sends `topic` with: the topic's own, or — when
    /// the nameserver does not know it — a stand-in from `default_topic`'s
    /// inheritable queues (at most `queue_nums` per broker), so that a broker
    /// with `autoCreateTopicEnable` creates the topic on the first send.
    pub async fn publish_route(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
    ) -> Result<Arc<TopicRoute>, ClientError> {
        if let Some(route) = self.cached_route(topic) {
            return Ok(route);
        }
        match self.refresh_topic_route(topic).await {
            // A topic that exists but takes no writes is not sent through
            // the default topic either (Java: "No route info of this topic").
            Ok(route) if route.write_queues.is_empty() => {
                return Err(ClientError::NoRoute {
                    topic: topic.to_owned(),
                    reason: "no writable queue (check the topic's and brokers' perm)".into(),
                });
            }
            Ok(route) => return Ok(route),
            Err(e) if e.response_code() == Some(ResponseCode::TOPIC_NOT_EXIST) => {}
            Err(e) => return Err(e),
        }
        let default = match self.fetch_route_data(default_topic).await {
            Ok(data) => data,
            Err(e) if e.response_code() == Some(ResponseCode::TOPIC_NOT_EXIST) => {
                return Err(ClientError::NoRoute {
                    topic: topic.to_owned(),
                    reason: "the nameserver knows neither the topic nor the default topic \
                             (is autoCreateTopicEnable off?)"
                        .into(),
                });
            }
            Err(e) => return Err(e),
        };
        let route = self.store_route(topic, default, Some((default_topic, queue_nums)));
        if route.write_queues.is_empty() {
            return Err(ClientError::NoRoute {
                topic: topic.to_owned(),
                reason: "no writable queue".into(),
            });
        }
        Ok(route)
    }

    /// The cached route of `topic`, if any.
    pub fn cached_route(&self, topic: &str) -> Option<Arc<TopicRoute>> {
        self.inner
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .cloned()
    }

    /// Topics with a cached route.
    pub fn cached_topics(&self) -> Vec<String> {
        self.inner
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Drops `topic` from the cache (and from background refresh).
    pub fn forget_route(&self, topic: &str) {
        self.inner
            .routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic);
        self.rebuild_broker_addrs();
    }

    /// Caches `data` as `topic`'s route (a stand-in from a default topic
    /// when `default` is given) and returns the cached route.
    fn store_route(
        &self,
        topic: &str,
        data: TopicRouteData,
        default: Option<(&str, i32)>,
    ) -> Arc<TopicRoute> {
        let route = {
            let mut routes = self
                .inner
                .routes
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(old) = routes.get(topic)
                && old.from_default_topic == default.is_some()
                && old.same_data(&data)
            {
                return old.clone();
            }
            let route = Arc::new(match default {
                Some((_, queue_nums)) => TopicRoute::from_default(topic, data, queue_nums),
                None => TopicRoute::new(topic, data),
            });
            routes.insert(topic.to_owned(), route.clone());
            route
        };
        tracing::debug!(
            topic,
            write_queues = route.write_queues.len(),
            read_queues = route.read_queues.len(),
            "topic route updated"
        );
        if self.rebuild_broker_addrs() {
            // A broker we never told about our groups: tell it now rather
            // than at the next period (transaction checks and rebalancing
            // need the broker to know this client).
            let instance = self.clone();
            tokio::spawn(async move {
                instance.send_heartbeat_to_all_brokers().await;
            });
        }
        route
    }

    /// Rebuilds the broker address table from every cached route; true
    /// when it gained an address.
    fn rebuild_broker_addrs(&self) -> bool {
        let mut table = BrokerAddrTable::new();
        for route in self
            .inner
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            for b in &route.data.broker_datas {
                table
                    .entry(b.broker_name.clone())
                    .or_default()
                    .extend(b.broker_addrs.iter().map(|(id, a)| (*id, a.clone())));
            }
        }
        let mut current = self
            .inner
            .broker_addrs
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let gained = table.iter().any(|(name, ids)| {
            ids.iter()
                .any(|(id, addr)| current.get(name).and_then(|c| c.get(id)) != Some(addr))
        });
        *current = table;
        gained
    }

    /// The master address of `broker_name` (broker id 0).
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.inner
            .broker_addrs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(broker_name)
            .and_then(|ids| ids.get(&0))
            .cloned()
    }

    /// The master address of `broker_name`, else any replica's (lowest id),
    /// as Java's `findBrokerAddressInSubscribe` falls back.
    pub fn any_addr(&self, broker_name: &str) -> Option<String> {
        self.inner
            .broker_addrs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(broker_name)
            .and_then(|ids| ids.values().next())
            .cloned()
    }

    /// The whole broker name → id → address table.
    pub fn broker_addr_table(&self) -> BrokerAddrTable {
        self.inner
            .broker_addrs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    // ----- server requests ----------------------------------------------

    /// Sets the handler for requests of `code` that brokers send to this
    /// client (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE,
    /// GET_CONSUMER_RUNNING_INFO, RESET_CONSUMER_CLIENT_OFFSET…), replacing
    /// and returning any previous one. One handler per code serves every
    /// group of the instance, so it dispatches by the group in the request.
    pub fn register_request_handler(
        &self,
        code: RequestCode,
        handler: Arc<dyn DynRequestHandler>,
    ) -> Option<Arc<dyn DynRequestHandler>> {
        self.inner.router.register(code, handler)
    }

    /// Removes the handler of `code`.
    pub fn remove_request_handler(&self, code: RequestCode) -> Option<Arc<dyn DynRequestHandler>> {
        self.inner.router.remove(code)
    }

    /// Whether a handler for `code` is registered.
    pub fn has_request_handler(&self, code: RequestCode) -> bool {
        self.inner.router.has(code)
    }

    // ----- lifecycle ----------------------------------------------------

    /// Stops background work and closes every connection; later calls fail
    /// with [`ClientError::Shutdown`]. Other users of the same instance are
    /// shut down too: producers and consumers call it only through their
    /// own shutdown when they are its last user.
    pub fn shutdown(&self) {
        if !self.inner.shut_down.swap(true, Ordering::AcqRel) {
            self.inner.stop.send_replace(true);
            self.inner.remoting.shutdown();
            tracing::debug!(client_id = %self.inner.client_id, "client instance shut down");
        }
    }

    /// How many handles (producers, consumers, admins, clones) share this instance.
    pub fn users(&self) -> usize {
        Arc::strong_count(&self.inner)
    }
}

/// The background task: route refresh and heartbeats on their periods,
/// until shutdown or until the instance is dropped (the sender with it).
async fn background(weak: Weak<Inner>, mut stopped: watch::Receiver<bool>) {
    let (poll, beat) = match weak.upgrade() {
        Some(inner) => (
            inner.config.poll_name_server_interval,
            inner.config.heartbeat_broker_interval,
        ),
        None => return,
    };
    let mut poll_tick = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
    let mut beat_tick = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
    poll_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let is_poll = tokio::select! {
            _ = poll_tick.tick() => true,
            _ = beat_tick.tick() => false,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let Some(inner) = weak.upgrade() else { return };
        let instance = ClientInstance { inner };
        if instance.is_shut_down() {
            return;
        }
        if is_poll {
            instance.refresh_all_routes().await;
        } else {
            instance.send_heartbeat_to_all_brokers().await;
        }
    }
}

impl ClientInstance {
    /// Refreshes every cached route; failures keep the old route.
    pub async fn refresh_all_routes(&self) {
        for topic in self.cached_topics() {
            let Some(old) = self.cached_route(&topic) else {
                continue;
            };
            let result = if old.from_default_topic {
                // Try the topic itself: once the broker created it, use it.
                match self.fetch_route_data(&topic).await {
                    Ok(data) => Ok(self.store_route(&topic, data, None)),
                    Err(e) => Err(e),
                }
            } else {
                self.refresh_topic_route(&topic).await
            };
            if let Err(error) = result
                && !old.from_default_topic
            {
                tracing::warn!(topic, %error, "topic route refresh failed, keeping the cached route");
            }
        }
    }
}

#[cfg(test)]
mod tests;
