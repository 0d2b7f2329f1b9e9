//! skylark-client: an async RocketMQ client — producer, push and lite pull
//! consumers with RocketMQ's load balancing, and the admin calls the CLI and
//! the operator use.
//!
//! - [`ClientInstance`]: one per client id, shared by everything below: the
//!   connection pool, nameservers, topic route cache (refreshed every 30 s),
//!   heartbeats and the hook for requests brokers send to clients.
//! - [`producer`]: `Producer` (sync, async, oneway, batch, ordered sends,
//!   retries, latency fault tolerance) and `TransactionProducer`.
//! - [`admin`]: `Admin`, topics, groups, offsets, cluster and message queries.
//! - [`consumer`]: push and lite pull consumers.
//! - [`ClientError`]: every failure, with RocketMQ's response code and remark.

pub mod admin;
pub mod config;
pub mod consumer;
pub mod error;
pub mod heartbeat;
pub mod instance;
pub mod message;
pub mod producer;
pub mod route;

pub use config::ClientConfig;
pub use error::ClientError;
pub use instance::ClientInstance;
pub use message::{Message, MessageQueue, SendResult, SendStatus, StoredMessage};
pub use route::TopicRoute;
