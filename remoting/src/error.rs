//! Errors of the remoting layer.

use std::io;
use std::time::Duration;

use skylark_protocol::{CodecError, RequestCode};

/// Why a remoting operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    /// The server could not bind its listening socket.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A TCP connect failed (refused, unreachable, unresolvable name...).
    #[error("cannot connect to {addr}: {source}")]
    ConnectFailed {
        /// The peer address.
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A TCP connect did not complete in time.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The peer address.
        addr: String,
        /// The configured connect timeout.
        timeout: Duration,
    },
    /// A recent connect to the address failed; the client waits before trying again.
    #[error("{addr} is unreachable (last connect failed), next attempt in {retry_in:?}")]
    Unreachable {
        /// The peer address.
        addr: String,
        /// Time left before the next connect attempt is allowed.
        retry_in: Duration,
    },
    /// No response arrived in time; the pending entry has been dropped.
    #[error("request {code} to {addr} timed out after {elapsed:?}")]
    Timeout {
        /// The peer address.
        addr: String,
        /// The request's code.
        code: RequestCode,
        /// Time spent waiting.
        elapsed: Duration,
    },
    /// The connection closed before the request was sent or answered.
    #[error("connection to {addr} closed")]
    ConnectionClosed {
        /// The peer address.
        addr: String,
    },
    /// The command could not be encoded (e.g. a code that does not fit the binary header).
    #[error("cannot encode request {code} for {addr}: {source}")]
    Encode {
        /// The peer address.
        addr: String,
        /// The request's code.
        code: RequestCode,
        /// The codec's reason.
        #[source]
        source: CodecError,
    },
    /// The client has been shut down.
    #[error("remoting client is shut down")]
    Shutdown,
    /// Any other socket error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl RemotingError {
    /// Whether the failure is the connection's (connect failed, or it closed),
    /// the cue for a producer to mark the broker unhealthy. Note that a
    /// request already written before a close may still have been executed.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Self::ConnectFailed { .. }
                | Self::ConnectTimeout { .. }
                | Self::Unreachable { .. }
                | Self::ConnectionClosed { .. }
        )
    }
}
