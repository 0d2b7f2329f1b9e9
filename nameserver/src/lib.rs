//! Skylark's name server: the RocketMQ-compatible routing service.
//!
//! Brokers register with every name server every 30 s (REGISTER_BROKER),
//! sending their topic configs; clients ask for a topic's route
//! (GET_ROUTEINFO_BY_TOPIC) and admin tools for cluster info, topic lists and
//! KV config. Name servers do not talk to each other: each one learns the
//! whole cluster from the brokers, so several run side by side with no
//! shared state.
//!
//! - [`RouteInfoManager`]: the routing tables and their operations, with
//!   expiry driven by an injectable [`Clock`];
//! - [`KvConfigManager`]: namespaced settings persisted to `kvConfig.json`;
//! - [`NameServer`]: the request handler, and [`NameServer::start`] /
//!   [`run`] to serve it on a socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), skylark_nameserver::NameServerError> {
//! use skylark_nameserver::{NameServer, NameServerConfig};
//! let config = NameServerConfig { listen_addr: "127.0.0.1:0".into(), ..Default::default() };
//! let handle = NameServer::start(config).await?;
//! println!("listening on {}", handle.local_addr());
//! handle.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod clock;
mod config;
mod error;
mod kv;
mod processor;
pub mod route;
mod server;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    DEFAULT_BROKER_TIMEOUT, DEFAULT_LISTEN_ADDR, DEFAULT_SCAN_INTERVAL, NameServerConfig,
};
pub use error::NameServerError;
pub use kv::KvConfigManager;
pub use processor::NameServer;
pub use route::{
    BrokerAddrInfo, BrokerLiveInfo, BrokerRegistration, ExpiredBroker, RegisterBrokerResult,
    RouteInfoManager, RouteOptions, UnregisterRequest,
};
pub use server::{NameServerHandle, run};
