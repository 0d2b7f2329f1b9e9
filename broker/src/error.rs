//! Errors of the broker.

use std::io;
use std::path::PathBuf;

use skylark_protocol::HeaderError;
use skylark_protocol::body::BodyError;
use skylark_remoting::RemotingError;
use skylark_store::error::StoreError;

/// Why the broker could not start, persist its state or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Binding or serving a port failed.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// The message store failed to open or recover.
    #[error("message store: {0}")]
    Store(#[from] StoreError),
    /// A config file (topics.json, consumerOffset.json, …) could not be read or written.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A persisted config file is not the JSON document it should be;
    /// refusing to start keeps the next save from overwriting it with less.
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why it did not parse.
        #[source]
        source: BodyError,
    },
    /// The broker configuration is invalid.
    #[error("invalid broker config: {0}")]
    Config(String),
}

impl BrokerError {
    /// An I/O error while doing `op` on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Why one request failed; its text becomes the SYSTEM_ERROR remark.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// A typed header could not be read (names the field).
    #[error("{0}")]
    Header(#[from] HeaderError),
    /// A body did not decode.
    #[error("cannot decode {what}: {source}")]
    Body {
        /// Which body.
        what: &'static str,
        /// Why.
        #[source]
        source: BodyError,
    },
    /// A body that is required is absent.
    #[error("{0} body is missing")]
    MissingBody(&'static str),
    /// Persisting a change failed (the change stands in memory).
    #[error(transparent)]
    Broker(#[from] BrokerError),
}
