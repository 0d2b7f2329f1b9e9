//! The clients connected to this broker: producer and consumer groups
//! learned from heartbeats, expiry of silent channels, and notifying a
//! group's consumers when its membership changes.
//!
//! - [`ConsumerManager`]: consumer groups, their members, settings and
//!   subscriptions (what pulls without a subscription filter by);
//! - [`ProducerManager`]: producer groups and their members (where
//!   transaction checks go);
//! - [`ClientChannelInfo`]: one member — its connection, client id,
//!   language, version and last heartbeat.
//!
//! Both managers keep one table behind a short lock and never send under
//! it: notifications go out on spawned tasks.

mod channel;
mod consumer;
mod notify;
mod producer;
#[cfg(test)]
pub(crate) mod test_support;

use std::time::Duration;

pub use channel::ClientChannelInfo;
pub use consumer::{ConsumerGroupInfo, ConsumerManager, ConsumerRegistration, Registered};
pub use producer::ProducerManager;

/// How long a member may stay silent before it is expired
/// (`channelExpiredTimeout`, 120 s; clients heartbeat every 30 s).
pub const CHANNEL_EXPIRED_TIMEOUT: Duration = Duration::from_secs(120);
