//! Consumers: the push consumer (clustering or broadcasting, concurrent or
//! orderly listeners) and the lite pull consumer, with RocketMQ's queue
//! allocation strategies, offset stores and per-queue flow control.

pub mod allocate;

pub use allocate::{
    AllocateError, AllocateMessageQueueAveragely, AllocateMessageQueueAveragelyByCircle,
    AllocateMessageQueueByConfig, AllocateMessageQueueConsistentHash, AllocateStrategy,
    allocate_sorted,
};
