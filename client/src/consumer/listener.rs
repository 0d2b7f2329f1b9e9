//! The listeners a push consumer calls, their contexts and answers
//! (Java's `MessageListenerConcurrently` / `MessageListenerOrderly`).
//!
//! Listeners are async: a listener that blocks should move its work to
//! `tokio::task::spawn_blocking`. [`concurrently_fn`] and [`orderly_fn`]
//! wrap plain closures.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use skylark_protocol::body::MessageQueue;

use super::message_ext::MessageExt;

/// A boxed, sendable future borrowing the listener's arguments.
pub type ListenerFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a concurrent listener says of a batch (`ConsumeConcurrentlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeConcurrentlyStatus {
    /// Consumed; the offset may move past the batch.
    ConsumeSuccess,
    /// Deliver again later: the messages go back to the broker's retry
    /// topic (clustering) with the context's delay level.
    ReconsumeLater,
}

/// Per-batch context of a concurrent listener (`ConsumeConcurrentlyContext`).
#[derive(Debug, Clone)]
pub struct ConsumeConcurrentlyContext {
    /// The queue the batch came from.
    pub message_queue: MessageQueue,
    /// Delay level of the redelivery: 0 lets the broker choose (3 + times
    /// reconsumed), below 0 sends the messages to the dead-letter queue.
    pub delay_level_when_next_consume: i32,
    /// With success, messages after this index are still sent back.
    pub ack_index: i32,
}

/// What an orderly listener says of a batch (`ConsumeOrderlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOrderlyStatus {
    /// Consumed; the queue moves on.
    Success,
    /// Stop the queue for a moment and deliver the same batch again.
    SuspendCurrentQueueAMoment,
}

/// Per-batch context of an orderly listener (`ConsumeOrderlyContext`).
#[derive(Debug, Clone)]
pub struct ConsumeOrderlyContext {
    /// The queue the batch came from.
    pub message_queue: MessageQueue,
    /// How long the queue pauses after a suspend (the consumer's default
    /// when left as it is).
    pub suspend_current_queue_time: Duration,
}

/// Consumes batches from many queues at once.
pub trait MessageListenerConcurrently: Send + Sync + 'static {
    /// Consumes `msgs`.
    fn consume_message<'a>(
        &'a self,
        msgs: &'a [MessageExt],
        context: &'a mut ConsumeConcurrentlyContext,
    ) -> ListenerFuture<'a, ConsumeConcurrentlyStatus>;
}

/// Consumes each queue's messages one batch at a time, in queue order.
pub trait MessageListenerOrderly: Send + Sync + 'static {
    /// Consumes `msgs`.
    fn consume_message<'a>(
        &'a self,
        msgs: &'a [MessageExt],
        context: &'a mut ConsumeOrderlyContext,
    ) -> ListenerFuture<'a, ConsumeOrderlyStatus>;
}

/// A concurrent listener from a synchronous closure.
pub fn concurrently_fn<F>(f: F) -> impl MessageListenerConcurrently
where
    F: Fn(&[MessageExt], &mut ConsumeConcurrentlyContext) -> ConsumeConcurrentlyStatus
        + Send
        + Sync
        + 'static,
{
    ConcurrentlyFn(f)
}

/// An orderly listener from a synchronous closure.
pub fn orderly_fn<F>(f: F) -> impl MessageListenerOrderly
where
    F: Fn(&[MessageExt], &mut ConsumeOrderlyContext) -> ConsumeOrderlyStatus
        + Send
        + Sync
        + 'static,
{
    OrderlyFn(f)
}

struct ConcurrentlyFn<F>(F);

impl<F> MessageListenerConcurrently for ConcurrentlyFn<F>
where
    F: Fn(&[MessageExt], &mut ConsumeConcurrentlyContext) -> ConsumeConcurrentlyStatus
        + Send
        + Sync
        + 'static,
{
    fn consume_message<'a>(
        &'a self,
        msgs: &'a [MessageExt],
        context: &'a mut ConsumeConcurrentlyContext,
    ) -> ListenerFuture<'a, ConsumeConcurrentlyStatus> {
        Box::pin(std::future::ready((self.0)(msgs, context)))
    }
}

struct OrderlyFn<F>(F);

impl<F> MessageListenerOrderly for OrderlyFn<F>
where
    F: Fn(&[MessageExt], &mut ConsumeOrderlyContext) -> ConsumeOrderlyStatus
        + Send
        + Sync
        + 'static,
{
    fn consume_message<'a>(
        &'a self,
        msgs: &'a [MessageExt],
        context: &'a mut ConsumeOrderlyContext,
    ) -> ListenerFuture<'a, ConsumeOrderlyStatus> {
        Box::pin(std::future::ready((self.0)(msgs, context)))
    }
}

/// Runs a listener's future, turning a panic (while creating or polling it)
/// into `None`, as Java turns a listener's exception into a retry.
pub(crate) async fn run_guarded<'a, T>(make: impl FnOnce() -> ListenerFuture<'a, T>) -> Option<T> {
    let mut fut = std::panic::catch_unwind(AssertUnwindSafe(make)).ok()?;
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Some(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_listener_is_caught() {
        let l = concurrently_fn(|msgs, _ctx| {
            if msgs.is_empty() {
                panic!("listener failed");
            }
            ConsumeConcurrentlyStatus::ConsumeSuccess
        });
        let mut ctx = ConsumeConcurrentlyContext {
            message_queue: MessageQueue::new("T", "b", 0),
            delay_level_when_next_consume: 0,
            ack_index: i32::MAX,
        };
        assert_eq!(run_guarded(|| l.consume_message(&[], &mut ctx)).await, None);
    }
}
