//! Consumers: the push consumer (clustering or broadcasting, concurrent or
//! orderly listeners) and the lite pull consumer, with RocketMQ's queue
//! allocation strategies, offset stores and per-queue flow control.

pub mod allocate;
mod broker_api;
pub mod message_ext;
pub mod offset_store;
pub mod process_queue;
pub mod subscription;

pub use allocate::{
    AllocateError, AllocateMessageQueueAveragely, AllocateMessageQueueAveragelyByCircle,
    AllocateMessageQueueByConfig, AllocateMessageQueueConsistentHash, AllocateStrategy,
    allocate_sorted,
};
pub use broker_api::{PullResult, PullStatus};
pub use message_ext::MessageExt;
pub use offset_store::{
    LocalFileOffsetStore, OffsetStore, ReadOffsetType, RemoteBrokerOffsetStore,
};
pub use process_queue::ProcessQueue;
pub use subscription::{MessageSelector, build_subscription};
