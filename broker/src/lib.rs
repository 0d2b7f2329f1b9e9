//! Skylark's broker: serves RocketMQ clients from a [`skylark_store::MessageStore`].
//!
//! - [`Broker`]: the broker's state and its request processors
//!   (send, pull with long polling, offsets, heartbeats, locks, admin);
//! - [`BrokerConfig`]: `broker.conf` keys and defaults;
//! - [`Broker::start`] / [`BrokerHandle`]: serving it, registering with
//!   nameservers, and stopping gracefully.

mod attributes;
mod broker;
pub mod client;
mod config;
pub mod consumer_offset;
mod error;
mod filter;
pub mod ha;
mod http;
mod live_config;
mod long_poll;
mod metrics;
mod persist;
mod persisted_table;
mod processor;
pub mod rebalance_lock;
mod registration;
mod schedule;
mod server;
pub mod subscription_group;
#[cfg(test)]
mod test_support;
mod timer;
pub mod topic_config;
mod transaction;

pub use broker::Broker;
pub use config::{BrokerConfig, DEFAULT_LISTEN_PORT};
pub use error::BrokerError;
/// SQL92 selectors (`MessageSelector.bySql`), public for the fuzz target.
pub use filter::sql92;
pub use server::{BrokerHandle, run};
