//! Consumers: the push consumer (clustering or broadcasting, concurrent or
//! orderly listeners) and the lite pull consumer, with RocketMQ's queue
//! allocation strategies, offset stores and per-queue flow control.

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
