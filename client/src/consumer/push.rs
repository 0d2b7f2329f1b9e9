//! [`PushConsumer`]: RocketMQ's `DefaultMQPushConsumer` — subscribe, register
//! a listener, start; the consumer rebalances the group's queues, pulls them
//! with long polling and calls the listener, committing offsets as it goes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use skylark_protocol::body::{
    ConsumeFromWhere, ConsumeType, ConsumerData, MessageModel, MessageQueue, SubscriptionData,
};
use skylark_protocol::message::topic::{retry_topic, validate_group};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use super::allocate::{AllocateMessageQueueAveragely, AllocateStrategy};
use super::listener::{MessageListenerConcurrently, MessageListenerOrderly};
use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use super::subscription::{MessageSelector, build_subscription, now_millis};
use super::{rebalance, registry};
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::producer::{Producer, ProducerConfig};

/// The producer group of fallback resends, as Java names it.
const INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";

/// Settings of a [`PushConsumer`], with Java's defaults.
#[derive(Debug, Clone)]
pub struct PushConsumerConfig {
    /// Consumer group.
    pub group: String,
    /// Nameservers, client id and timeouts shared with the instance.
    pub client: ClientConfig,
    /// Clustering (queues shared out) or broadcasting (every member gets all).
    pub message_model: MessageModel,
    /// Where a queue without a committed offset starts.
    pub consume_from_where: ConsumeFromWhere,
    /// Start time for [`ConsumeFromWhere::ConsumeFromTimestamp`], epoch ms
    /// (Java: half an hour before start).
    pub consume_timestamp_ms: i64,
    /// How queues are divided among the group.
    pub allocate_strategy: Arc<dyn AllocateStrategy>,
    /// Messages asked for per pull (`pullBatchSize`, 32).
    pub pull_batch_size: i32,
    /// Messages per listener call (`consumeMessageBatchMaxSize`, 1).
    pub consume_message_batch_max_size: usize,
    /// Cached messages per queue above which pulling pauses (1000).
    pub pull_threshold_for_queue: usize,
    /// Cached MiB per queue above which pulling pauses (100).
    pub pull_threshold_size_for_queue_mib: usize,
    /// Offset span per queue above which concurrent pulling pauses (2000).
    pub consume_concurrently_max_span: i64,
    /// Listener calls running at once (`consumeThreadMax`, 20).
    pub consume_thread_max: usize,
    /// Redeliveries before the dead-letter queue; -1 means 16 for
    /// concurrent and unlimited for orderly listeners (Java's default).
    pub max_reconsume_times: i32,
    /// Pause of an orderly queue after a suspend (1 s).
    pub suspend_current_queue_time: Duration,
    /// How often offsets are committed (`persistConsumerOffsetInterval`, 5 s).
    pub persist_consumer_offset_interval: Duration,
    /// How often the group is rebalanced (20 s).
    pub rebalance_interval: Duration,
    /// Pause between pulls of a queue (0).
    pub pull_interval: Duration,
    /// How long a broker holds a pull without news (15 s).
    pub broker_suspend_max_time: Duration,
    /// Client-side timeout of a held pull (30 s).
    pub consumer_timeout_when_suspend: Duration,
    /// Directory of broadcasting offsets; `LocalFileOffsetStore::default_dir()` when `None`.
    pub offset_store_dir: Option<PathBuf>,
    /// How long shutdown waits for running listener calls.
    pub await_termination: Duration,
}

impl PushConsumerConfig {
    /// Java's defaults for `group`, with `client`'s nameservers.
    pub fn new(group: impl Into<String>, client: ClientConfig) -> Self {
        Self {
            group: group.into(),
            client,
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
            consume_timestamp_ms: now_millis() - 30 * 60 * 1000,
            allocate_strategy: Arc::new(AllocateMessageQueueAveragely),
            pull_batch_size: 32,
            consume_message_batch_max_size: 1,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue_mib: 100,
            consume_concurrently_max_span: 2000,
            consume_thread_max: 20,
            max_reconsume_times: -1,
            suspend_current_queue_time: Duration::from_secs(1),
            persist_consumer_offset_interval: Duration::from_secs(5),
            rebalance_interval: Duration::from_secs(20),
            pull_interval: Duration::ZERO,
            broker_suspend_max_time: Duration::from_secs(15),
            consumer_timeout_when_suspend: Duration::from_secs(30),
            offset_store_dir: None,
            await_termination: Duration::from_secs(30),
        }
    }
}

/// The registered listener.
#[derive(Clone)]
pub(crate) enum Listener {
    Concurrently(Arc<dyn MessageListenerConcurrently>),
    Orderly(Arc<dyn MessageListenerOrderly>),
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Concurrently(_) => "Concurrently",
            Self::Orderly(_) => "Orderly",
        })
    }
}

/// What a running consumer's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: PushConsumerConfig,
    pub(crate) instance: ClientInstance,
    pub(crate) listener: Listener,
    pub(crate) offsets: OffsetStore,
    /// Topic → subscription (the `%RETRY%group` one included in clustering).
    pub(crate) subscriptions: Mutex<HashMap<String, Arc<SubscriptionData>>>,
    /// Assigned queues and their state.
    pub(crate) queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    /// Bounds the listener calls running at once.
    pub(crate) permits: Arc<Semaphore>,
    /// Wakes the rebalance loop early (NOTIFY_CONSUMER_IDS_CHANGED).
    pub(crate) rebalance_now: Arc<Notify>,
    /// The producer of fallback resends to `%RETRY%group`, made on first use.
    inner_producer: OnceLock<Producer>,
    stopping: AtomicBool,
    stop: Notify,
}

impl Shared {
    pub(crate) fn queues(&self) -> MutexGuard<'_, HashMap<MessageQueue, Arc<ProcessQueue>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscription(&self, topic: &str) -> Option<Arc<SubscriptionData>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .cloned()
    }

    pub(crate) fn subscriptions_snapshot(&self) -> Vec<SubscriptionData> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|s| SubscriptionData::clone(s))
            .collect()
    }

    pub(crate) fn is_clustering(&self) -> bool {
        self.config.message_model == MessageModel::Clustering
    }

    pub(crate) fn is_orderly(&self) -> bool {
        matches!(self.listener, Listener::Orderly(_))
    }

    /// `%RETRY%group`.
    pub(crate) fn retry_topic(&self) -> String {
        retry_topic(&self.config.group)
    }

    /// The effective maximum of redeliveries.
    pub(crate) fn max_reconsume_times(&self) -> i32 {
        match (self.config.max_reconsume_times, self.is_orderly()) {
            (-1, true) => i32::MAX,
            (-1, false) => 16,
            (n, _) => n,
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sleeps `d`, returning early (false) when the consumer stops.
    pub(crate) async fn sleep(&self, d: Duration) -> bool {
        let stop = self.stop.notified();
        if self.is_stopping() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = stop => false,
        }
    }

    /// The producer of fallback resends (Java's `CLIENT_INNER_PRODUCER`).
    pub(crate) fn inner_producer(&self) -> Result<&Producer, ClientError> {
        if let Some(p) = self.inner_producer.get() {
            return Ok(p);
        }
        let config = ProducerConfig::with_client(INNER_PRODUCER_GROUP, self.config.client.clone());
        let producer = Producer::start_on(self.instance.clone(), config)?;
        Ok(self.inner_producer.get_or_init(|| producer))
    }

    /// The heartbeat data of this group.
    fn consumer_data(&self) -> ConsumerData {
        let mut subs = self.subscriptions_snapshot();
        subs.sort_by(|a, b| a.topic.cmp(&b.topic));
        ConsumerData {
            consume_from_where: Some(self.config.consume_from_where),
            consume_type: Some(ConsumeType::ConsumePassively),
            group_name: self.config.group.clone(),
            message_model: Some(self.config.message_model),
            subscription_data_set: subs,
            unit_mode: false,
        }
    }
}

/// A push consumer (`DefaultMQPushConsumer`).
#[derive(Debug)]
pub struct PushConsumer {
    config: PushConsumerConfig,
    subscriptions: Vec<(String, MessageSelector)>,
    listener: Option<Listener>,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl PushConsumer {
    /// A consumer with `config`; subscribe and register a listener, then start.
    pub fn new(config: PushConsumerConfig) -> Self {
        Self {
            config,
            subscriptions: Vec::new(),
            listener: None,
            running: None,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &PushConsumerConfig {
        &self.config
    }

    /// Subscribes to `topic` with a tag expression (`*`, `TagA || TagB`).
    pub fn subscribe(&mut self, topic: &str, tags: &str) -> Result<(), ClientError> {
        self.subscribe_with(topic, MessageSelector::Tag(tags.to_owned()))
    }

    /// Subscribes to `topic` with any selector (tags or SQL92).
    pub fn subscribe_with(
        &mut self,
        topic: &str,
        selector: MessageSelector,
    ) -> Result<(), ClientError> {
        if self.running.is_some() {
            return Err(ClientError::InvalidArgument(
                "subscribe before start".to_owned(),
            ));
        }
        build_subscription(topic, &selector)?;
        self.subscriptions.retain(|(t, _)| t != topic);
        self.subscriptions.push((topic.to_owned(), selector));
        Ok(())
    }

    /// Registers a listener that consumes queues concurrently.
    pub fn register_concurrently(&mut self, listener: impl MessageListenerConcurrently) {
        self.listener = Some(Listener::Concurrently(Arc::new(listener)));
    }

    /// Registers a listener that consumes each queue in order.
    pub fn register_orderly(&mut self, listener: impl MessageListenerOrderly) {
        self.listener = Some(Listener::Orderly(Arc::new(listener)));
    }

    /// Starts: joins the group on the brokers (heartbeat), rebalances, and
    /// begins pulling. Fails without a listener, subscription or route.
    pub async fn start(&mut self) -> Result<(), ClientError> {
        if self.running.is_some() {
            return Err(ClientError::InvalidArgument(
                "consumer already started".to_owned(),
            ));
        }
        validate_group(&self.config.group)
            .map_err(|e| ClientError::InvalidArgument(format!("consumer group: {e}")))?;
        let listener = self.listener.clone().ok_or_else(|| {
            ClientError::InvalidArgument("register a listener before start".to_owned())
        })?;
        if self.subscriptions.is_empty() {
            return Err(ClientError::InvalidArgument(
                "subscribe to a topic before start".to_owned(),
            ));
        }
        if self.config.consume_thread_max == 0 || self.config.consume_message_batch_max_size == 0 {
            return Err(ClientError::InvalidArgument(
                "consume_thread_max and consume_message_batch_max_size must be at least 1"
                    .to_owned(),
            ));
        }
        let instance = ClientInstance::get_or_create(self.config.client.clone())?;
        if instance.consumer_data(&self.config.group).is_some() {
            return Err(ClientError::InvalidArgument(format!(
                "consumer group {} is already started on client {} (give each consumer \
                 of a group in one process its own instance_name)",
                self.config.group,
                instance.client_id()
            )));
        }
        let mut subscriptions = HashMap::new();
        for (topic, selector) in &self.subscriptions {
            subscriptions.insert(
                topic.clone(),
                Arc::new(build_subscription(topic, selector)?),
            );
        }
        if self.config.message_model == MessageModel::Clustering {
            // Redeliveries come through the group's retry topic.
            let retry = retry_topic(&self.config.group);
            subscriptions.insert(
                retry.clone(),
                Arc::new(build_subscription(&retry, &MessageSelector::all())?),
            );
        }
        let offsets = OffsetStore::for_model(
            self.config.message_model,
            &instance,
            &self.config.group,
            self.config.offset_store_dir.as_deref(),
        )
        .await?;
        let shared = Arc::new(Shared {
            permits: Arc::new(Semaphore::new(self.config.consume_thread_max)),
            config: self.config.clone(),
            instance: instance.clone(),
            listener,
            offsets,
            subscriptions: Mutex::new(subscriptions),
            queues: Mutex::default(),
            rebalance_now: Arc::new(Notify::new()),
            inner_producer: OnceLock::new(),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
        });
        // Routes first, so the heartbeat reaches the topics' brokers.
        for sub in shared.subscriptions_snapshot() {
            if let Err(error) = instance.topic_route(&sub.topic).await {
                if sub.topic == shared.retry_topic() {
                    tracing::debug!(topic = %sub.topic, %error, "no route for the retry topic yet");
                } else {
                    return Err(error);
                }
            }
        }
        instance.register_consumer(shared.consumer_data());
        registry::register(&instance, registry::Member::push(&shared));
        let accepted = instance.send_heartbeat_to_all_brokers().await;
        tracing::info!(group = %shared.config.group, client_id = %instance.client_id(), brokers = accepted, "push consumer started");

        let mut tasks = vec![
            tokio::spawn(rebalance::rebalance_loop(shared.clone())),
            tokio::spawn(persist_loop(shared.clone())),
        ];
        if shared.is_orderly() && shared.is_clustering() {
            tasks.push(tokio::spawn(rebalance::lock_loop(shared.clone())));
        }
        self.running = Some(Running { shared, tasks });
        Ok(())
    }

    /// The queues this member holds now.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut qs: Vec<MessageQueue> = self
            .running
            .as_ref()
            .map(|r| r.shared.queues().keys().cloned().collect())
            .unwrap_or_default();
        qs.sort();
        qs
    }

    /// The state of a held queue (cached messages, lock), for monitoring.
    pub fn process_queue(&self, mq: &MessageQueue) -> Option<Arc<ProcessQueue>> {
        self.running
            .as_ref()
            .and_then(|r| r.shared.queues().get(mq).cloned())
    }

    /// Rebalances now rather than at the next period.
    pub fn rebalance_now(&self) {
        if let Some(r) = &self.running {
            r.shared.rebalance_now.notify_one();
        }
    }

    /// Whether it is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Stops: pulling ends, running listener calls finish (up to
    /// `await_termination`), offsets are committed, orderly locks released,
    /// and the group leaves the brokers.
    pub async fn shutdown(&mut self) {
        let Some(Running { shared, tasks }) = self.running.take() else {
            return;
        };
        shared.stopping.store(true, Ordering::Release);
        shared.stop.notify_waiters();
        for t in tasks {
            let _ = t.await;
        }
        let queues: Vec<(MessageQueue, Arc<ProcessQueue>)> = shared.queues().drain().collect();
        for (_, pq) in &queues {
            pq.set_dropped();
        }
        // Running listener calls hold permits: wait until all are back.
        let all = u32::try_from(shared.config.consume_thread_max).unwrap_or(u32::MAX);
        if tokio::time::timeout(
            shared.config.await_termination,
            shared.permits.acquire_many(all),
        )
        .await
        .is_err()
        {
            tracing::warn!(group = %shared.config.group, "listener calls still running at shutdown");
        }
        let mqs: Vec<MessageQueue> = queues.iter().map(|(mq, _)| mq.clone()).collect();
        if let Err(error) = shared.offsets.persist_all(&mqs).await {
            tracing::warn!(group = %shared.config.group, %error, "offsets not all committed at shutdown");
        }
        if shared.is_orderly() && shared.is_clustering() {
            rebalance::unlock_all(&shared, &mqs).await;
        }
        registry::unregister(&shared.instance, &registry::Member::push(&shared));
        if let Some(p) = shared.inner_producer.get() {
            p.shutdown().await;
        }
        let instance = shared.instance.clone();
        instance.unregister_consumer(&shared.config.group).await;
        drop(queues);
        drop(shared);
        tracing::info!(group = %self.config.group, "push consumer shut down");
        // The instance, its offset store's handle and this one: the last user.
        if instance.users() <= 1 {
            instance.shutdown();
        }
    }
}

impl Drop for PushConsumer {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            // No async drop: stop the tasks; offsets since the last commit
            // are not committed (call shutdown for that).
            r.shared.stopping.store(true, Ordering::Release);
            r.shared.stop.notify_waiters();
            for pq in r.shared.queues().values() {
                pq.set_dropped();
            }
            registry::unregister(&r.shared.instance, &registry::Member::push(&r.shared));
            // Leave the group in the background when a runtime is there, so
            // the group can be started again on this instance.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let instance = r.shared.instance.clone();
                let group = r.shared.config.group.clone();
                rt.spawn(async move { instance.unregister_consumer(&group).await });
            }
        }
    }
}

/// Commits offsets every `persist_consumer_offset_interval`.
async fn persist_loop(shared: Arc<Shared>) {
    while shared
        .sleep(shared.config.persist_consumer_offset_interval)
        .await
    {
        let mqs: Vec<MessageQueue> = shared.queues().keys().cloned().collect();
        if let Err(error) = shared.offsets.persist_all(&mqs).await {
            tracing::debug!(group = %shared.config.group, %error, "periodic offset commit incomplete");
        }
    }
}
