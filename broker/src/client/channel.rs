//! [`ClientChannelInfo`]: one client connection as a producer or consumer
//! group member (Java's `ClientChannelInfo`).

use std::time::Instant;

use skylark_protocol::LanguageCode;
use skylark_protocol::body::Connection;
use skylark_remoting::ConnectionHandle;

/// A client's connection, who is on it, and when it last sent a heartbeat.
#[derive(Debug, Clone)]
pub struct ClientChannelInfo {
    conn: ConnectionHandle,
    client_id: String,
    language: LanguageCode,
    version: i32,
    last_update: Instant,
}

impl ClientChannelInfo {
    /// The member `client_id` speaking `language`/`version` on `conn`, seen now.
    pub fn new(
        conn: ConnectionHandle,
        client_id: impl Into<String>,
        language: LanguageCode,
        version: i32,
    ) -> Self {
        Self {
            conn,
            client_id: client_id.into(),
            language,
            version,
            last_update: Instant::now(),
        }
    }

    /// The connection, to send requests to the client on.
    pub fn conn(&self) -> &ConnectionHandle {
        &self.conn
    }

    /// The connection's process-unique id (the key of every client table).
    pub fn channel_id(&self) -> u64 {
        self.conn.id()
    }

    /// `clientIP@instanceName[@unitName]`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client's implementation language.
    pub fn language(&self) -> LanguageCode {
        self.language
    }

    /// The client's `MQVersion` ordinal.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// When the client last registered on this connection.
    pub fn last_update(&self) -> Instant {
        self.last_update
    }

    /// Marks the member seen at `at`.
    pub(crate) fn touch(&mut self, at: Instant) {
        self.last_update = at;
    }

    /// This member as if its heartbeat arrived at `at`.
    #[cfg(test)]
    pub(crate) fn seen_at(mut self, at: Instant) -> Self {
        self.last_update = at;
        self
    }

    /// Whether the member has been silent for longer than `expiry` at `now`.
    pub(crate) fn is_expired(&self, now: Instant, expiry: std::time::Duration) -> bool {
        now.saturating_duration_since(self.last_update) > expiry
    }

    /// The admin view of this member (`Connection` of 203/204).
    pub fn connection(&self) -> Connection {
        Connection {
            client_addr: self.conn.remote_addr().to_string(),
            client_id: self.client_id.clone(),
            language: Some(self.language),
            version: self.version,
        }
    }
}
