//! Consumers: the push consumer (clustering or broadcasting, concurrent or
//! orderly listeners) and the lite pull consumer, with RocketMQ's queue
//! allocation strategies, offset stores and per-queue flow control.
//!
//! ```no_run
//! use skylark_client::ClientConfig;
//! use skylark_client::consumer::{
//!     ConsumeConcurrentlyStatus, PushConsumer, PushConsumerConfig, concurrently_fn,
//! };
//!
//! # async fn run() -> Result<(), skylark_client::ClientError> {
//! let config = PushConsumerConfig::new("OrderGroup", ClientConfig::with_namesrv("127.0.0.1:9876"));
//! let mut consumer = PushConsumer::new(config);
//! consumer.subscribe("Orders", "Created || Paid")?;
//! consumer.register_concurrently(concurrently_fn(|msgs, _ctx| {
//!     for m in msgs {
//!         tracing::info!(id = %m.msg_id(), len = m.body().len(), "order event");
//!     }
//!     ConsumeConcurrentlyStatus::ConsumeSuccess
//! }));
//! consumer.start().await?;
//! // … until the application stops:
//! consumer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! - [`PushConsumer`]: rebalances the group's queues (every 20 s and when a
//!   broker says the group changed), long-polls them, calls the listener and
//!   commits offsets every 5 s and at shutdown; "reconsume later" goes back
//!   to the broker's retry topic; orderly listeners hold broker locks; an
//!   offset reset on the broker while it runs (RESET_CONSUMER_CLIENT_OFFSET)
//!   drops those queues, commits the new offsets and takes them again.
//! - [`LitePullConsumer`]: subscribe or assign, seek, poll, commit.
//! - [`allocate`]: the allocation strategies, same results as Java's.
//! - [`offset_store`]: offsets on the broker (clustering) or in a local
//!   `offsets.json` (broadcasting).

pub mod allocate;
mod broker_api;
mod concurrent;
pub mod listener;
pub mod lite_pull;
pub mod message_ext;
pub mod offset_store;
mod orderly;
pub mod process_queue;
mod pull_service;
pub mod push;
mod rebalance;
mod registry;
pub mod subscription;

pub use allocate::{
    AllocateError, AllocateMessageQueueAveragely, AllocateMessageQueueAveragelyByCircle,
    AllocateMessageQueueByConfig, AllocateMessageQueueConsistentHash, AllocateStrategy,
    allocate_sorted,
};
pub use broker_api::{PullResult, PullStatus};
pub use listener::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, ConsumeOrderlyContext,
    ConsumeOrderlyStatus, ListenerFuture, MessageListenerConcurrently, MessageListenerOrderly,
    concurrently_fn, orderly_fn,
};
pub use lite_pull::{LitePullConsumer, LitePullConsumerConfig};
pub use message_ext::MessageExt;
pub use offset_store::{
    LocalFileOffsetStore, OffsetStore, ReadOffsetType, RemoteBrokerOffsetStore,
};
pub use process_queue::ProcessQueue;
pub use push::{PushConsumer, PushConsumerConfig};
pub use skylark_protocol::body::{ConsumeFromWhere, MessageModel};
pub use subscription::{MessageSelector, build_subscription};
