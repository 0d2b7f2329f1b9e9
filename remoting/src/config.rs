//! Server and client settings, with RocketMQ's defaults.

use std::time::Duration;

use skylark_protocol::DEFAULT_MAX_FRAME_LEN;

/// Settings of a [`RemotingServer`](crate::RemotingServer).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted frame; a longer one closes the connection
    /// (`com.rocketmq.remoting.frameMaxLength`, 16 MiB).
    pub max_frame_len: usize,
    /// Close connections that sent nothing for this long
    /// (`serverChannelMaxIdleTimeSeconds`, 120 s). `None` disables.
    pub idle_timeout: Option<Duration>,
    /// Requests one connection may have in flight; beyond it two-way
    /// requests are answered SYSTEM_BUSY as Java does when its executor
    /// rejects, so a flooding client cannot exhaust the broker.
    pub max_in_flight_per_connection: usize,
    /// Outbound frames queued per connection before senders wait.
    pub write_queue_capacity: usize,
    /// How long a graceful shutdown waits for in-flight requests before
    /// closing connections anyway.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            idle_timeout: Some(Duration::from_secs(120)),
            max_in_flight_per_connection: 8192,
            write_queue_capacity: 4096,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Settings of a [`RemotingClient`](crate::RemotingClient).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// TCP connect timeout (`connectTimeoutMillis`, 3 s).
    pub connect_timeout: Duration,
    /// Largest accepted frame.
    pub max_frame_len: usize,
    /// Close connections that received nothing for this long. `None`
    /// (default) keeps them; clients heartbeat anyway.
    pub idle_timeout: Option<Duration>,
    /// Server-initiated requests one connection may have in flight.
    pub max_in_flight_per_connection: usize,
    /// Outbound frames queued per connection before senders wait.
    pub write_queue_capacity: usize,
    /// Wait after a failed connect before the next attempt to that address;
    /// doubled on each further failure up to `max_reconnect_backoff`.
    pub reconnect_backoff: Duration,
    /// Upper bound of the reconnect backoff.
    pub max_reconnect_backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            idle_timeout: None,
            max_in_flight_per_connection: 1024,
            write_queue_capacity: 4096,
            reconnect_backoff: Duration::from_millis(100),
            max_reconnect_backoff: Duration::from_secs(3),
        }
    }
}
