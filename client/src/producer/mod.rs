//! The producer (Java's `DefaultMQProducer`): sync, async, oneway, batch
//! and ordered sends with retries on another broker and latency fault
//! tolerance; [`TransactionProducer`] adds half messages, the local
//! transaction callback and the broker's transaction check.
//!
//! ```no_run
//! # async fn demo() -> Result<(), skylark_client::ClientError> {
//! use skylark_client::producer::{Producer, ProducerConfig};
//! use skylark_client::Message;
//!
//! let producer = Producer::start(ProducerConfig::new("my-group", "127.0.0.1:9876"))?;
//! let result = producer.send(Message::new("TopicTest", "hello").with_tags("TagA")).await?;
//! println!("stored as {} at offset {}", result.msg_id, result.queue_offset);
//! producer.shutdown().await;
//! # Ok(()) }
//! ```

pub mod fault;
pub mod selector;
mod send;
pub mod transaction;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use skylark_protocol::message::batch::encoded_batch_len;
use skylark_protocol::message::topic::{self, AUTO_CREATE_TOPIC_KEY_TOPIC};
use skylark_protocol::message::{MessageSysFlag, encode_batch};

pub use fault::{FaultConfig, LatencyFaultTolerance};
pub use selector::{MessageQueueSelector, SelectByHash};
pub use transaction::{LocalTransactionState, TransactionListener, TransactionProducer};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::message::{
    DEFAULT_COMPRESS_LEVEL, DEFAULT_COMPRESS_OVER, Message, MessageQueue, SendResult, SendStatus,
    compress_body,
};
use crate::route::TopicRoute;
use send::{Prepared, millis, read_response, retry_fields, retryable};

/// Settings of a [`Producer`], with `DefaultMQProducer`'s defaults.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Producer group (`producerGroup`).
    pub group: String,
    /// The shared client settings (nameservers, identity, timeouts).
    pub client: ClientConfig,
    /// Time budget of one send, retries included (`sendMsgTimeout`, 3 s).
    pub send_timeout: Duration,
    /// Extra attempts of a failed sync send (`retryTimesWhenSendFailed`, 2).
    pub retry_times_when_send_failed: u32,
    /// Retry a send that was stored but not flushed/replicated in time
    /// (`retryAnotherBrokerWhenNotStoreOK`, false).
    pub retry_another_broker_when_not_store_ok: bool,
    /// Bodies larger than this are zlib-compressed (`compressMsgBodyOverHowmuch`, 4 KiB).
    pub compress_over: usize,
    /// zlib level of compressed bodies (5).
    pub compress_level: u32,
    /// Largest body accepted (`maxMessageSize`, 4 MiB).
    pub max_message_size: usize,
    /// The topic new topics are created from (`createTopicKey`, `TBW102`).
    pub create_topic_key: String,
    /// Queues per broker of a topic created on send (`defaultTopicQueueNums`, 4).
    pub default_topic_queue_nums: i32,
    /// Latency fault tolerance.
    pub fault: FaultConfig,
}

impl ProducerConfig {
    /// Defaults for `group`, with the nameservers of `namesrv` (`a:9876;b:9876`).
    pub fn new(group: &str, namesrv: &str) -> Self {
        Self::with_client(group, ClientConfig::with_namesrv(namesrv))
    }

    /// Defaults for `group` with `client`'s settings.
    pub fn with_client(group: &str, client: ClientConfig) -> Self {
        Self {
            group: group.to_owned(),
            client,
            send_timeout: Duration::from_secs(3),
            retry_times_when_send_failed: 2,
            retry_another_broker_when_not_store_ok: false,
            compress_over: DEFAULT_COMPRESS_OVER,
            compress_level: DEFAULT_COMPRESS_LEVEL,
            max_message_size: 4 * 1024 * 1024,
            create_topic_key: AUTO_CREATE_TOPIC_KEY_TOPIC.to_owned(),
            default_topic_queue_nums: 4,
            fault: FaultConfig::default(),
        }
    }
}

/// A started producer. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ProducerConfig,
    instance: ClientInstance,
    fault: LatencyFaultTolerance,
    shut_down: AtomicBool,
}

impl Producer {
    /// Starts a producer of `config.group` on the shared instance of its
    /// client id. Must be called inside a tokio runtime.
    pub fn start(config: ProducerConfig) -> Result<Self, ClientError> {
        let instance = ClientInstance::get_or_create(config.client.clone())?;
        Self::start_on(instance, config)
    }

    /// Starts a producer on a given instance (`config.client` is ignored).
    pub fn start_on(instance: ClientInstance, config: ProducerConfig) -> Result<Self, ClientError> {
        topic::validate_group(&config.group).map_err(|e| {
            ClientError::InvalidArgument(format!("producer group {:?}: {e}", config.group))
        })?;
        instance.register_producer(&config.group)?;
        Ok(Self {
            inner: Arc::new(Inner {
                fault: LatencyFaultTolerance::new(config.fault.clone()),
                config,
                instance,
                shut_down: AtomicBool::new(false),
            }),
        })
    }

    /// Its settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// The client instance it runs on.
    pub fn instance(&self) -> &ClientInstance {
        &self.inner.instance
    }

    /// The fault tolerance state (which brokers are backing off).
    pub fn fault_tolerance(&self) -> &LatencyFaultTolerance {
        &self.inner.fault
    }

    /// Unregisters the group from the brokers; further sends fail. The
    /// instance shuts down with its last user.
    pub async fn shutdown(&self) {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner
            .instance
            .unregister_producer(&self.inner.config.group)
            .await;
        // Ours and the clone in `self`: nobody else uses the instance.
        if self.inner.instance.users() <= 1 {
            self.inner.instance.shutdown();
        }
    }

    fn check_running(&self) -> Result<(), ClientError> {
        if self.inner.shut_down.load(Ordering::Acquire) {
            Err(ClientError::Shutdown)
        } else {
            Ok(())
        }
    }

    /// The writable queues of `topic` (Java's `fetchPublishMessageQueues`).
    pub async fn publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        Ok(self.route(topic).await?.write_queues.clone())
    }

    async fn route(&self, topic: &str) -> Result<Arc<TopicRoute>, ClientError> {
        let c = &self.inner.config;
        self.inner
            .instance
            .publish_route(topic, &c.create_topic_key, c.default_topic_queue_nums)
            .await
    }

    // ----- sends ---------------------------------------------------------

    /// Sends `msg` and waits for the broker, retrying a failed attempt on
    /// another broker up to `retry_times_when_send_failed` times within
    /// `send_timeout`.
    pub async fn send(&self, msg: Message) -> Result<SendResult, ClientError> {
        let prepared = self.prepare(msg)?;
        self.send_with_retries(
            &prepared,
            1 + self.inner.config.retry_times_when_send_failed,
        )
        .await
    }

    /// Starts sending `msg` in a task of its own and returns at once; await
    /// the handle for the result (Java's `send(msg, SendCallback)`). Async
    /// sends retry as sync ones do.
    pub fn send_async(&self, msg: Message) -> SendHandle {
        let producer = self.clone();
        SendHandle(tokio::spawn(async move { producer.send(msg).await }))
    }

    /// Sends `msg` without waiting for an answer (no retries, no result).
    pub async fn send_oneway(&self, msg: Message) -> Result<(), ClientError> {
        let prepared = self.prepare(msg)?;
        let route = self.route(&prepared.topic).await?;
        let mq = self
            .inner
            .fault
            .select(&route, None)
            .cloned()
            .ok_or_else(|| no_queue(&prepared.topic))?;
        let addr = self.broker_addr(&route, &mq.broker_name)?;
        let cmd = self.request(&prepared, &mq).into_oneway();
        self.inner.instance.invoke_oneway(&addr, cmd).await
    }

    /// Sends `msgs` as one batch (SEND_BATCH_MESSAGE) to one queue: all of
    /// one topic, none delayed or to a retry topic. Retries like [`Producer::send`].
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult, ClientError> {
        let prepared = self.prepare_batch(msgs)?;
        self.send_with_retries(
            &prepared,
            1 + self.inner.config.retry_times_when_send_failed,
        )
        .await
    }

    /// Sends `msg` to the queue `selector` picks among the topic's writable
    /// queues (ordered messages); one attempt, since another queue would
    /// break the order.
    pub async fn send_with_selector(
        &self,
        msg: Message,
        selector: &dyn MessageQueueSelector,
    ) -> Result<SendResult, ClientError> {
        let route = self.route(&msg.topic).await?;
        let queues = &route.write_queues;
        if queues.is_empty() {
            return Err(no_queue(&msg.topic));
        }
        let index = selector.select(queues, &msg);
        let mq = queues.get(index).cloned().ok_or_else(|| {
            ClientError::InvalidArgument(format!(
                "selector chose queue index {index} of {}",
                queues.len()
            ))
        })?;
        self.send_to_queue(msg, &mq).await
    }

    /// Sends `msg` to the queue of `sharding_key`'s hash (Java's
    /// `SelectMessageQueueByHash`): one key's messages stay in order.
    pub async fn send_orderly(
        &self,
        msg: Message,
        sharding_key: &str,
    ) -> Result<SendResult, ClientError> {
        self.send_with_selector(msg, &SelectByHash::new(sharding_key))
            .await
    }

    /// Sends `msg` to `mq`, one attempt.
    pub async fn send_to_queue(
        &self,
        msg: Message,
        mq: &MessageQueue,
    ) -> Result<SendResult, ClientError> {
        if msg.topic != mq.topic {
            return Err(ClientError::InvalidArgument(format!(
                "message topic {} is not the queue's topic {}",
                msg.topic, mq.topic
            )));
        }
        let prepared = self.prepare(msg)?;
        let route = self.route(&prepared.topic).await?;
        let addr = self.broker_addr(&route, &mq.broker_name)?;
        let start = Instant::now();
        let result = self
            .attempt(&prepared, &addr, mq, self.inner.config.send_timeout)
            .await;
        self.inner
            .fault
            .update(&mq.broker_name, millis(start.elapsed()), result.is_err());
        result
    }

    /// The sync send loop of [`Producer::send`] and [`Producer::send_batch`].
    async fn send_with_retries(
        &self,
        prepared: &Prepared,
        attempts: u32,
    ) -> Result<SendResult, ClientError> {
        let start = Instant::now();
        let timeout = self.inner.config.send_timeout;
        let route = self.route(&prepared.topic).await?;
        let mut last_broker: Option<String> = None;
        let mut last_error = None;
        // A result stored but not flushed/replicated, kept while retrying.
        let mut not_ok: Option<SendResult> = None;
        let mut made = 0;
        for _ in 0..attempts {
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                break;
            }
            let Some(mq) = self
                .inner
                .fault
                .select(&route, last_broker.as_deref())
                .cloned()
            else {
                return Err(no_queue(&prepared.topic));
            };
            made += 1;
            let begin = Instant::now();
            let result = match self.broker_addr(&route, &mq.broker_name) {
                Ok(addr) => self.attempt(prepared, &addr, &mq, timeout - elapsed).await,
                Err(e) => Err(e),
            };
            let latency = millis(begin.elapsed());
            match result {
                Ok(r) => {
                    self.inner.fault.update(&mq.broker_name, latency, false);
                    if r.status != SendStatus::SendOk
                        && self.inner.config.retry_another_broker_when_not_store_ok
                    {
                        last_broker = Some(mq.broker_name.clone());
                        not_ok = Some(r);
                        continue;
                    }
                    return Ok(r);
                }
                Err(e) => {
                    let retry = retryable(&e);
                    // A refusal of this message (MESSAGE_ILLEGAL…) says nothing
                    // about the broker's health: no back-off for it.
                    self.inner.fault.update(&mq.broker_name, latency, retry);
                    tracing::warn!(topic = %prepared.topic, broker = %mq.broker_name, queue = mq.queue_id, error = %e, "send attempt failed");
                    if !retry {
                        return match not_ok {
                            Some(r) => Ok(r),
                            None => Err(e),
                        };
                    }
                    last_broker = Some(mq.broker_name.clone());
                    last_error = Some(e);
                }
            }
        }
        if let Some(r) = not_ok {
            // Stored after all, as Java returns it.
            return Ok(r);
        }
        // The route may be stale (a broker gone): refresh it for the next send.
        let instance = self.inner.instance.clone();
        let topic = prepared.topic.clone();
        tokio::spawn(async move {
            if let Err(error) = instance.refresh_topic_route(&topic).await {
                tracing::debug!(topic, %error, "route refresh after a failed send");
            }
        });
        let last = last_error.unwrap_or(ClientError::Remoting(
            skylark_remoting::RemotingError::Timeout {
                addr: String::new(),
                code: skylark_protocol::RequestCode::SEND_MESSAGE_V2,
                elapsed: start.elapsed(),
            },
        ));
        Err(ClientError::SendFailed {
            topic: prepared.topic.clone(),
            attempts: made,
            elapsed: start.elapsed(),
            last: Box::new(last),
        })
    }

    /// One request to `addr` and its response.
    async fn attempt(
        &self,
        prepared: &Prepared,
        addr: &str,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult, ClientError> {
        let cmd = self.request(prepared, mq);
        let response = self.inner.instance.invoke(addr, cmd, timeout).await?;
        read_response(&response, addr, mq, &prepared.uniq_ids)
    }

    fn request(&self, prepared: &Prepared, mq: &MessageQueue) -> skylark_protocol::RemotingCommand {
        let c = &self.inner.config;
        prepared.request(
            &c.group,
            &c.create_topic_key,
            c.default_topic_queue_nums,
            mq,
        )
    }

    fn broker_addr(&self, route: &TopicRoute, broker: &str) -> Result<String, ClientError> {
        route
            .master_addr(broker)
            .map(str::to_owned)
            .or_else(|| self.inner.instance.master_addr(broker))
            .ok_or_else(|| ClientError::BrokerNotFound(broker.to_owned()))
    }

    // ----- preparing -----------------------------------------------------

    /// Checks `msg`, gives it a UNIQ_KEY when it has none, and compresses a
    /// large body (Java's `Validators.checkMessage`, `setUniqID`,
    /// `tryToCompressMessage`).
    fn prepare(&self, mut msg: Message) -> Result<Prepared, ClientError> {
        self.check_running()?;
        self.check_message(&msg)?;
        if msg.properties.uniq_key().is_none() {
            let id = self.inner.instance.next_uniq_id();
            msg.properties.set_uniq_key(&id);
        }
        let mut sys_flag = 0;
        let c = &self.inner.config;
        let body = if msg.body.len() > c.compress_over {
            sys_flag |= MessageSysFlag::COMPRESSED_FLAG | MessageSysFlag::COMPRESSION_ZLIB_TYPE;
            compress_body(&msg.body, c.compress_level)?
        } else {
            msg.body
        };
        if msg.properties.is_transaction_prepared() {
            sys_flag |= MessageSysFlag::TRANSACTION_PREPARED_TYPE;
        }
        let uniq_ids = msg.properties.uniq_key().unwrap_or_default().to_owned();
        let reconsume = retry_fields(&msg.topic, &msg.properties);
        if reconsume.is_some() {
            // They travel in the header instead, as Java's sendKernelImpl does.
            msg.properties
                .remove(skylark_protocol::message::property::RECONSUME_TIME);
            msg.properties
                .remove(skylark_protocol::message::property::MAX_RECONSUME_TIMES);
        }
        Ok(Prepared {
            reconsume,
            properties: msg.properties.to_property_string(),
            topic: msg.topic,
            body,
            flag: msg.flag,
            sys_flag,
            batch: false,
            uniq_ids,
        })
    }

    /// Checks and encodes a batch (Java's `batch()`): every message gets
    /// its UNIQ_KEY; the batch's own properties carry only `WAIT` of the
    /// first message. Batches are not compressed (as in Java).
    fn prepare_batch(&self, mut msgs: Vec<Message>) -> Result<Prepared, ClientError> {
        self.check_running()?;
        let Some(first) = msgs.first() else {
            return Err(ClientError::InvalidArgument("empty batch".into()));
        };
        let topic = first.topic.clone();
        let wait = first.wait_store_msg_ok();
        let mut uniq_ids = String::new();
        for m in &mut msgs {
            if m.topic != topic {
                return Err(ClientError::InvalidArgument(format!(
                    "a batch holds one topic; {} and {} differ",
                    topic, m.topic
                )));
            }
            if m.delay_time_level().is_some_and(|l| l > 0) {
                return Err(ClientError::InvalidArgument(
                    "a batch cannot hold delayed messages".into(),
                ));
            }
            if m.topic.starts_with(topic::RETRY_GROUP_TOPIC_PREFIX) {
                return Err(ClientError::InvalidArgument(
                    "a batch cannot go to a retry topic".into(),
                ));
            }
            self.check_message(m)?;
            if m.properties.uniq_key().is_none() {
                let id = self.inner.instance.next_uniq_id();
                m.properties.set_uniq_key(&id);
            }
            if !uniq_ids.is_empty() {
                uniq_ids.push(',');
            }
            uniq_ids.push_str(m.properties.uniq_key().unwrap_or_default());
        }
        let mut body = BytesMut::with_capacity(encoded_batch_len(&msgs));
        encode_batch(&msgs, &mut body)?;
        if body.len() > self.inner.config.max_message_size {
            return Err(ClientError::InvalidArgument(format!(
                "batch body is {} bytes, more than max_message_size {}",
                body.len(),
                self.inner.config.max_message_size
            )));
        }
        let mut props = skylark_protocol::message::Properties::new();
        props.set_wait_store_msg_ok(wait);
        Ok(Prepared {
            topic,
            body: body.freeze(),
            properties: props.to_property_string(),
            flag: 0,
            sys_flag: 0,
            batch: true,
            uniq_ids,
            reconsume: None,
        })
    }

    fn check_message(&self, msg: &Message) -> Result<(), ClientError> {
        topic::validate_topic(&msg.topic)
            .map_err(|e| ClientError::InvalidArgument(format!("topic {:?}: {e}", msg.topic)))?;
        if topic::is_not_allowed_send_topic(&msg.topic) {
            return Err(ClientError::InvalidArgument(format!(
                "sending to the system topic {} is not allowed",
                msg.topic
            )));
        }
        if msg.body.is_empty() {
            return Err(ClientError::InvalidArgument(
                "the message body is empty".into(),
            ));
        }
        let max = self.inner.config.max_message_size;
        if msg.body.len() > max {
            return Err(ClientError::InvalidArgument(format!(
                "the message body is {} bytes, more than max_message_size {max}",
                msg.body.len()
            )));
        }
        Ok(())
    }
}

fn no_queue(topic: &str) -> ClientError {
    ClientError::NoRoute {
        topic: topic.to_owned(),
        reason: "no writable queue".into(),
    }
}

/// The pending result of [`Producer::send_async`].
#[derive(Debug)]
pub struct SendHandle(tokio::task::JoinHandle<Result<SendResult, ClientError>>);

impl Future for SendHandle {
    type Output = Result<SendResult, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            Ok(result) => result,
            // The task was cancelled (runtime shutting down) or panicked.
            Err(e) => Err(ClientError::TaskFailed(e.to_string())),
        })
    }
}
