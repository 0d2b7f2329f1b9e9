//! [`Broker`]: one broker's state — its store, topics, groups, offsets,
//! clients and waiting pulls — shared by every request processor.

use std::net::SocketAddr;
use std::sync::Arc;

use skylark_store::MessageStore;
use skylark_store::config::BrokerRole;

use crate::client::{ConsumerManager, ProducerManager};
use crate::config::BrokerConfig;
use crate::consumer_offset::ConsumerOffsetManager;
use crate::error::BrokerError;
use crate::filter::ConsumerFilters;
use crate::ha::HaService;
use crate::live_config::LiveConfig;
use crate::long_poll::PullHoldService;
use crate::metrics::BrokerMetrics;
use crate::rebalance_lock::RebalanceLockManager;
use crate::schedule::ScheduleMessageService;
use crate::subscription_group::SubscriptionGroupManager;
use crate::timer::TimerMessageService;
use crate::topic_config::TopicConfigManager;

/// One broker's state and request handling; [`Broker::start`](crate::Broker::start)
/// serves it.
#[derive(Debug)]
pub struct Broker {
    pub(crate) config: BrokerConfig,
    /// The keys that can change while the broker runs (UPDATE_BROKER_CONFIG),
    /// and the config as it now stands.
    pub(crate) live: LiveConfig,
    pub(crate) store: Arc<MessageStore>,
    pub(crate) topics: TopicConfigManager,
    pub(crate) groups: SubscriptionGroupManager,
    pub(crate) offsets: ConsumerOffsetManager,
    pub(crate) producers: ProducerManager,
    pub(crate) consumers: ConsumerManager,
    pub(crate) locks: RebalanceLockManager,
    pub(crate) pull_holds: PullHoldService,
    /// Compiled SQL92 subscriptions, by topic and group.
    pub(crate) filters: ConsumerFilters,
    /// Delay levels and their delivery progress.
    pub(crate) schedule: ScheduleMessageService,
    /// Timer messages (`TIMER_DELIVER_MS` …) and their timing wheel.
    pub(crate) timer: TimerMessageService,
    /// Prometheus metrics, served by the HTTP endpoint.
    pub(crate) metrics: BrokerMetrics,
    /// Written into every stored record as STOREHOST.
    pub(crate) store_host: SocketAddr,
    /// Replication: role, master addresses, the HA port, the in-sync set.
    pub(crate) ha: HaService,
    /// The role's epoch fence and epoch file (`ha::role`).
    pub(crate) ha_role: crate::ha::role::HaRole,
}

impl Broker {
    /// Opens (and recovers) the store and loads the broker's config files.
    pub fn open(config: BrokerConfig) -> Result<Self, BrokerError> {
        let store_host: SocketAddr = config.broker_addr().parse().map_err(|_| {
            BrokerError::Config(format!(
                "brokerIP1:listenPort {} is not an IP address and port",
                config.broker_addr()
            ))
        })?;
        if config.store.broker_role == BrokerRole::Slave && config.broker_id <= 0 {
            // Java's BrokerStartup refuses this too: a replica registered with
            // id 0 would take its master's place in the routes.
            return Err(BrokerError::Config(format!(
                "a SLAVE's brokerId must be > 0, not {}",
                config.broker_id
            )));
        }
        let store = Arc::new(MessageStore::open(config.store.clone())?);
        let broker = Self {
            topics: TopicConfigManager::load(&config)?,
            groups: SubscriptionGroupManager::load(&config)?,
            offsets: ConsumerOffsetManager::load(&config)?,
            producers: ProducerManager::default(),
            consumers: ConsumerManager::default(),
            locks: RebalanceLockManager::default(),
            pull_holds: PullHoldService::new(),
            filters: ConsumerFilters::default(),
            schedule: ScheduleMessageService::load(&config, &store)?,
            timer: TimerMessageService::load(&config, &store)?,
            metrics: BrokerMetrics::new(),
            ha: HaService::new(&config, store.clone()),
            ha_role: crate::ha::role::HaRole::open_for(&config, store.commit_log_max_offset())?,
            store,
            store_host,
            live: LiveConfig::new(&config),
            config,
        };
        broker.apply_saved_role();
        Ok(broker)
    }

    /// The settings it runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The message store.
    pub fn store(&self) -> &Arc<MessageStore> {
        &self.store
    }

    /// The topics.
    pub fn topics(&self) -> &TopicConfigManager {
        &self.topics
    }

    /// Replication and the broker's role (changeable at run time).
    pub fn ha(&self) -> &HaService {
        &self.ha
    }

    /// The committed consumer offsets.
    pub fn offsets(&self) -> &ConsumerOffsetManager {
        &self.offsets
    }
}
