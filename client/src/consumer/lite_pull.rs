//! [`LitePullConsumer`]: RocketMQ's `DefaultLitePullConsumer` — subscribe
//! (the group shares queues by rebalance) or assign queues yourself, seek
//! to an offset or a time, `poll` with a timeout, commit (or auto-commit).
//!
//! Background tasks pull every held queue with LITE_PULL_MESSAGE into a
//! bounded buffer that `poll` drains; a queue's consumed offset is the one
//! after its last polled message, and commits persist those.

mod queues;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use skylark_protocol::body::{
    ConsumeFromWhere, ConsumeType, ConsumerData, MessageModel, MessageQueue, SubscriptionData,
};
use skylark_protocol::message::topic::validate_group;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::allocate::{AllocateMessageQueueAveragely, AllocateStrategy};
use super::broker_api;
use super::message_ext::MessageExt;
use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use super::registry;
use super::subscription::{MessageSelector, build_subscription, now_millis};
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;

/// Settings of a [`LitePullConsumer`], with Java's defaults.
#[derive(Debug, Clone)]
pub struct LitePullConsumerConfig {
    /// Consumer group.
    pub group: String,
    /// Nameservers, client id and timeouts shared with the instance.
    pub client: ClientConfig,
    /// Clustering (subscribed queues shared out) or broadcasting.
    pub message_model: MessageModel,
    /// Where a queue without a committed offset starts.
    pub consume_from_where: ConsumeFromWhere,
    /// Start time for [`ConsumeFromWhere::ConsumeFromTimestamp`], epoch ms.
    pub consume_timestamp_ms: i64,
    /// How subscribed queues are divided among the group.
    pub allocate_strategy: Arc<dyn AllocateStrategy>,
    /// Messages asked for per pull (`pullBatchSize`, 10).
    pub pull_batch_size: i32,
    /// Commit the polled offsets every `auto_commit_interval` (true).
    pub auto_commit: bool,
    /// How often polled offsets are committed (5 s).
    pub auto_commit_interval: Duration,
    /// Default wait of [`LitePullConsumer::poll`] (5 s).
    pub poll_timeout: Duration,
    /// Cached messages per queue above which pulling pauses (1000).
    pub pull_threshold_for_queue: usize,
    /// Pulled batches buffered for `poll` across queues (Java bounds
    /// messages, 10000; this bounds batches of up to `pull_batch_size`).
    pub buffered_batches: usize,
    /// Cached MiB per queue above which pulling pauses (100).
    pub pull_threshold_size_for_queue_mib: usize,
    /// How often subscribed topics are rebalanced (20 s).
    pub rebalance_interval: Duration,
    /// How long a broker holds a pull without news (20 s).
    pub broker_suspend_max_time: Duration,
    /// Client-side timeout of a held pull (30 s).
    pub consumer_timeout_when_suspend: Duration,
    /// Directory of broadcasting offsets; `LocalFileOffsetStore::default_dir()` when `None`.
    pub offset_store_dir: Option<PathBuf>,
}

impl LitePullConsumerConfig {
    /// Java's defaults for `group`, with `client`'s nameservers.
    pub fn new(group: impl Into<String>, client: ClientConfig) -> Self {
        Self {
            group: group.into(),
            client,
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
            consume_timestamp_ms: now_millis() - 30 * 60 * 1000,
            allocate_strategy: Arc::new(AllocateMessageQueueAveragely),
            pull_batch_size: 10,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(5),
            pull_threshold_for_queue: 1000,
            buffered_batches: 1000,
            pull_threshold_size_for_queue_mib: 100,
            rebalance_interval: Duration::from_secs(20),
            broker_suspend_max_time: Duration::from_secs(20),
            consumer_timeout_when_suspend: Duration::from_secs(30),
            offset_store_dir: None,
        }
    }
}

/// How queues are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unset,
    Subscribe,
    Assign,
}

/// One held queue.
#[derive(Debug)]
pub(crate) struct LiteQueue {
    pq: ProcessQueue,
    /// The offset after the last polled message; -1 before the first poll.
    consumed: AtomicI64,
}

/// A pulled batch waiting for `poll`.
#[derive(Debug)]
pub(crate) struct Batch {
    mq: MessageQueue,
    queue: Arc<LiteQueue>,
    msgs: Vec<MessageExt>,
}

/// What the consumer's tasks share.
#[derive(Debug)]
pub(crate) struct Lite {
    config: LitePullConsumerConfig,
    instance: ClientInstance,
    offsets: OffsetStore,
    mode: Mutex<Mode>,
    subscriptions: Mutex<HashMap<String, Arc<SubscriptionData>>>,
    queues: Mutex<HashMap<MessageQueue, Arc<LiteQueue>>>,
    tx: mpsc::Sender<Batch>,
    rebalance_now: Arc<Notify>,
    stopping: AtomicBool,
    stop: Notify,
}

impl Lite {
    fn queues(&self) -> MutexGuard<'_, HashMap<MessageQueue, Arc<LiteQueue>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_mode(&self, want: Mode) -> Result<(), ClientError> {
        let mut mode = self.mode.lock().unwrap_or_else(PoisonError::into_inner);
        if *mode != Mode::Unset && *mode != want {
            return Err(ClientError::InvalidArgument(
                "a lite pull consumer either subscribes or assigns, not both".to_owned(),
            ));
        }
        *mode = want;
        Ok(())
    }

    fn subscription(&self, topic: &str) -> Option<Arc<SubscriptionData>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .cloned()
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sleeps `d`, returning early (false) when the consumer stops.
    async fn sleep(&self, d: Duration) -> bool {
        let stop = self.stop.notified();
        if self.is_stopping() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = stop => false,
        }
    }

    fn consumer_data(&self) -> ConsumerData {
        let mut subs: Vec<SubscriptionData> = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|s| SubscriptionData::clone(s))
            .collect();
        subs.sort_by(|a, b| a.topic.cmp(&b.topic));
        ConsumerData {
            consume_from_where: Some(self.config.consume_from_where),
            consume_type: Some(ConsumeType::ConsumeActively),
            group_name: self.config.group.clone(),
            message_model: Some(self.config.message_model),
            subscription_data_set: subs,
            unit_mode: false,
        }
    }

    /// Moves the polled offsets into the offset store.
    fn commit_to_memory(&self) {
        for (mq, q) in self.queues().iter() {
            let consumed = q.consumed.load(Ordering::Acquire);
            if consumed >= 0 {
                self.offsets.update(mq, consumed, false);
            }
        }
    }
}

/// A lite pull consumer (`DefaultLitePullConsumer`).
#[derive(Debug)]
pub struct LitePullConsumer {
    config: LitePullConsumerConfig,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    lite: Arc<Lite>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Batch>>,
    last_commit: Mutex<Instant>,
    tasks: Vec<JoinHandle<()>>,
}

impl LitePullConsumer {
    /// A consumer with `config`; start it, then subscribe or assign.
    pub fn new(config: LitePullConsumerConfig) -> Self {
        Self {
            config,
            running: None,
        }
    }

    fn running(&self) -> Result<&Running, ClientError> {
        self.running.as_ref().ok_or_else(|| {
            ClientError::InvalidArgument("start the lite pull consumer first".to_owned())
        })
    }

    /// Starts the consumer's client; queues come with
    /// [`subscribe`](Self::subscribe) or [`assign`](Self::assign).
    pub async fn start(&mut self) -> Result<(), ClientError> {
        if self.running.is_some() {
            return Err(ClientError::InvalidArgument(
                "consumer already started".to_owned(),
            ));
        }
        validate_group(&self.config.group)
            .map_err(|e| ClientError::InvalidArgument(format!("consumer group: {e}")))?;
        let instance = ClientInstance::get_or_create(self.config.client.clone())?;
        if instance.consumer_data(&self.config.group).is_some() {
            return Err(ClientError::InvalidArgument(format!(
                "consumer group {} is already started on client {}",
                self.config.group,
                instance.client_id()
            )));
        }
        let offsets = OffsetStore::for_model(
            self.config.message_model,
            &instance,
            &self.config.group,
            self.config.offset_store_dir.as_deref(),
        )
        .await?;
        let (tx, rx) = mpsc::channel(self.config.buffered_batches.max(1));
        let lite = Arc::new(Lite {
            config: self.config.clone(),
            instance: instance.clone(),
            offsets,
            mode: Mutex::new(Mode::Unset),
            subscriptions: Mutex::default(),
            queues: Mutex::default(),
            tx,
            rebalance_now: Arc::new(Notify::new()),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
        });
        instance.register_consumer(lite.consumer_data());
        registry::register(
            &instance,
            registry::Member::rebalancing(&lite.rebalance_now),
        );
        let tasks = vec![
            tokio::spawn(queues::rebalance_loop(lite.clone())),
            tokio::spawn(queues::persist_loop(lite.clone())),
        ];
        self.running = Some(Running {
            lite,
            rx: tokio::sync::Mutex::new(rx),
            last_commit: Mutex::new(Instant::now()),
            tasks,
        });
        Ok(())
    }

    /// Subscribes to `topic` with a tag expression; the group's members
    /// share its queues.
    pub async fn subscribe(&self, topic: &str, tags: &str) -> Result<(), ClientError> {
        self.subscribe_with(topic, MessageSelector::Tag(tags.to_owned()))
            .await
    }

    /// Subscribes to `topic` with any selector (tags or SQL92).
    pub async fn subscribe_with(
        &self,
        topic: &str,
        selector: MessageSelector,
    ) -> Result<(), ClientError> {
        let r = self.running()?;
        let data = build_subscription(topic, &selector)?;
        r.lite.set_mode(Mode::Subscribe)?;
        r.lite.instance.topic_route(topic).await?;
        r.lite
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned(), Arc::new(data));
        r.lite.instance.register_consumer(r.lite.consumer_data());
        r.lite.instance.send_heartbeat_to_all_brokers().await;
        r.lite.rebalance_now.notify_one();
        Ok(())
    }

    /// Takes exactly `mqs` (no rebalance), each from its committed offset
    /// or the consume-from-where position.
    pub async fn assign(&self, mqs: &[MessageQueue]) -> Result<(), ClientError> {
        let r = self.running()?;
        r.lite.set_mode(Mode::Assign)?;
        let mut topics = HashSet::new();
        for mq in mqs {
            if topics.insert(mq.topic.clone()) {
                r.lite.instance.topic_route(&mq.topic).await?;
                let all = build_subscription(&mq.topic, &MessageSelector::all())?;
                r.lite
                    .subscriptions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(mq.topic.clone())
                    .or_insert_with(|| Arc::new(all));
            }
        }
        // Join the group on the queues' brokers before committing there.
        r.lite.instance.register_consumer(r.lite.consumer_data());
        r.lite.instance.send_heartbeat_to_all_brokers().await;
        queues::set_queues(
            &r.lite,
            mqs.iter().map(|mq| mq.topic.as_str()).collect(),
            mqs,
        )
        .await;
        Ok(())
    }

    /// The readable queues of `topic` (`fetchMessageQueues`).
    pub async fn fetch_message_queues(
        &self,
        topic: &str,
    ) -> Result<Vec<MessageQueue>, ClientError> {
        let r = self.running()?;
        Ok(r.lite
            .instance
            .topic_route(topic)
            .await?
            .read_queues
            .clone())
    }

    /// The queues held now.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        let mut qs: Vec<MessageQueue> = self
            .running
            .as_ref()
            .map(|r| r.lite.queues().keys().cloned().collect())
            .unwrap_or_default();
        qs.sort();
        qs
    }

    /// Waits up to the configured `poll_timeout` for messages.
    pub async fn poll(&self) -> Result<Vec<MessageExt>, ClientError> {
        self.poll_timeout(self.config.poll_timeout).await
    }

    /// Waits up to `timeout` for the next pulled batch; empty when none came.
    pub async fn poll_timeout(&self, timeout: Duration) -> Result<Vec<MessageExt>, ClientError> {
        let r = self.running()?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = r.rx.lock().await;
        let out = loop {
            let batch = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(batch)) => batch,
                Ok(None) | Err(_) => break Vec::new(),
            };
            // Batches of a queue since dropped or sought are stale.
            let current = r
                .lite
                .queues()
                .get(&batch.mq)
                .is_some_and(|q| Arc::ptr_eq(q, &batch.queue));
            if batch.queue.pq.is_dropped() || !current {
                continue;
            }
            let offset = batch
                .queue
                .pq
                .remove(batch.msgs.iter().map(MessageExt::queue_offset));
            if offset >= 0 {
                batch.queue.consumed.store(offset, Ordering::Release);
            }
            break batch.msgs;
        };
        drop(rx);
        if self.config.auto_commit {
            let due = {
                let mut last = r.last_commit.lock().unwrap_or_else(PoisonError::into_inner);
                let due = last.elapsed() >= self.config.auto_commit_interval;
                if due {
                    *last = Instant::now();
                }
                due
            };
            if due {
                r.lite.commit_to_memory();
            }
        }
        Ok(out)
    }

    /// Commits the polled offsets of every held queue to the broker (or the
    /// local file) now.
    pub async fn commit_sync(&self) -> Result<(), ClientError> {
        let r = self.running()?;
        r.lite.commit_to_memory();
        let held: Vec<MessageQueue> = r.lite.queues().keys().cloned().collect();
        r.lite.offsets.persist_all(&held).await
    }

    /// Commits `offsets` (queue → next offset to consume) now.
    pub async fn commit(&self, offsets: &[(MessageQueue, i64)]) -> Result<(), ClientError> {
        let r = self.running()?;
        for (mq, offset) in offsets {
            r.lite.offsets.update(mq, *offset, false);
            r.lite.offsets.persist(mq).await?;
        }
        Ok(())
    }

    /// The committed offset of `mq` as the store has it (`None`: never committed).
    pub async fn committed(&self, mq: &MessageQueue) -> Result<Option<i64>, ClientError> {
        let r = self.running()?;
        r.lite
            .offsets
            .read(mq, super::offset_store::ReadOffsetType::Store)
            .await
    }

    /// Moves a held queue to `offset` (between its min and max offsets);
    /// what was buffered of it is discarded.
    pub async fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        let r = self.running()?;
        if !r.lite.queues().contains_key(mq) {
            return Err(ClientError::InvalidArgument(format!(
                "seek: {mq} is not held by this consumer (assign or subscribe first)"
            )));
        }
        let min = broker_api::min_offset(&r.lite.instance, mq).await?;
        let max = broker_api::max_offset(&r.lite.instance, mq).await?;
        if offset < min || offset > max {
            return Err(ClientError::InvalidArgument(format!(
                "seek offset {offset} of {mq} is outside [{min}, {max}]"
            )));
        }
        queues::restart_queue(&r.lite, mq, Some(offset));
        Ok(())
    }

    /// Moves a held queue to its first offset.
    pub async fn seek_to_begin(&self, mq: &MessageQueue) -> Result<(), ClientError> {
        let min = broker_api::min_offset(&self.running()?.lite.instance, mq).await?;
        self.seek(mq, min).await
    }

    /// Moves a held queue past its last message.
    pub async fn seek_to_end(&self, mq: &MessageQueue) -> Result<(), ClientError> {
        let max = broker_api::max_offset(&self.running()?.lite.instance, mq).await?;
        self.seek(mq, max).await
    }

    /// The first offset of `mq` stored at or after `timestamp_ms`
    /// (`offsetForTimestamp`).
    pub async fn offset_for_timestamp(
        &self,
        mq: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<i64, ClientError> {
        broker_api::search_offset(&self.running()?.lite.instance, mq, timestamp_ms).await
    }

    /// Moves a held queue to the first message stored at or after `timestamp_ms`.
    pub async fn seek_to_timestamp(
        &self,
        mq: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<(), ClientError> {
        let offset = self.offset_for_timestamp(mq, timestamp_ms).await?;
        self.seek(mq, offset).await
    }

    /// Stops pulling, commits (with auto-commit) and leaves the group.
    pub async fn shutdown(&mut self) {
        let Some(mut r) = self.running.take() else {
            return;
        };
        r.lite.stopping.store(true, Ordering::Release);
        r.lite.stop.notify_waiters();
        for t in std::mem::take(&mut r.tasks) {
            let _ = t.await;
        }
        if self.config.auto_commit {
            r.lite.commit_to_memory();
        }
        let held: Vec<MessageQueue> = r.lite.queues().keys().cloned().collect();
        for q in r.lite.queues().values() {
            q.pq.set_dropped();
        }
        if let Err(error) = r.lite.offsets.persist_all(&held).await {
            tracing::warn!(group = %self.config.group, %error, "offsets not all committed at shutdown");
        }
        registry::unregister(
            &r.lite.instance,
            &registry::Member::rebalancing(&r.lite.rebalance_now),
        );
        let instance = r.lite.instance.clone();
        instance.unregister_consumer(&self.config.group).await;
        drop(r);
        if instance.users() <= 1 {
            instance.shutdown();
        }
    }
}

impl Drop for LitePullConsumer {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.lite.stopping.store(true, Ordering::Release);
            r.lite.stop.notify_waiters();
            for q in r.lite.queues().values() {
                q.pq.set_dropped();
            }
            registry::unregister(
                &r.lite.instance,
                &registry::Member::rebalancing(&r.lite.rebalance_now),
            );
            // Leave the group in the background when a runtime is there, so
            // the group can be started again on this instance.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let instance = r.lite.instance.clone();
                let group = r.lite.config.group.clone();
                rt.spawn(async move { instance.unregister_consumer(&group).await });
            }
        }
    }
}
