//! Errors of the name server.

use std::io;
use std::path::PathBuf;

use skylark_protocol::HeaderError;
use skylark_protocol::body::BodyError;
use skylark_remoting::RemotingError;

/// Why the name server could not start or persist its state.
#[derive(Debug, thiserror::Error)]
pub enum NameServerError {
    /// Binding or serving the remoting port failed.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// The KV config file exists but could not be read.
    #[error("cannot read KV config {path}: {source}")]
    KvRead {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The KV config file is not a `KVConfigSerializeWrapper` JSON document.
    /// Refusing to start keeps the next put from overwriting it with less.
    #[error("KV config {path} is corrupt: {source}")]
    KvCorrupt {
        /// The file.
        path: PathBuf,
        /// Why it did not parse.
        #[source]
        source: BodyError,
    },
    /// Writing the KV config file failed (the in-memory change stands).
    #[error("cannot write KV config {path}: {source}")]
    KvWrite {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
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
    /// A body is not UTF-8 text.
    #[error("{0} body is not UTF-8")]
    NotUtf8(&'static str),
}
