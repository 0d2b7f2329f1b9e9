//! [`ClientError`]: every way a client call fails, carrying RocketMQ's
//! response code and remark when a server refused.

use std::time::Duration;

use skylark_protocol::body::BodyError;
use skylark_protocol::message::{DecodeError, EncodeError, MsgIdError};
use skylark_protocol::{HeaderError, RemotingCommand, ResponseCode};
use skylark_remoting::RemotingError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A server answered with a code other than success.
    #[error("{}: {remark} (from {addr})", code.name())]
    Server {
        /// The response code (its name is RocketMQ's, e.g. `TOPIC_NOT_EXIST`).
        code: ResponseCode,
        /// The server's remark, empty when it gave none.
        remark: String,
        /// The server that answered.
        addr: String,
    },
    /// The connection layer failed (connect, timeout, closed).
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// No nameserver address is configured.
    #[error("no nameserver address configured (set namesrv_addr, e.g. 127.0.0.1:9876)")]
    NoNameserver,
    /// The topic has no route, or no queue usable for the operation.
    #[error("no route for topic {topic}: {reason}")]
    NoRoute {
        /// The topic.
        topic: String,
        /// What was missing.
        reason: String,
    },
    /// A broker name is unknown to the route cache.
    #[error("broker {0} has no known address")]
    BrokerNotFound(String),
    /// A response header did not parse.
    #[error("malformed response header: {0}")]
    Header(#[from] HeaderError),
    /// A response body did not parse.
    #[error("malformed response body: {0}")]
    Body(#[from] BodyError),
    /// A message or batch could not be decoded.
    #[error("malformed message data: {0}")]
    Decode(#[from] DecodeError),
    /// A message or batch could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(#[from] EncodeError),
    /// A compressed body does not inflate.
    #[error("compressed body does not inflate: {0}")]
    Inflate(#[source] std::io::Error),
    /// A message id did not parse.
    #[error("bad message id: {0}")]
    MsgId(#[from] MsgIdError),
    /// A caller's argument was rejected before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Something asked for does not exist (a message id, a key).
    #[error("not found: {0}")]
    NotFound(String),
    /// A send did not succeed within its attempts or its timeout.
    #[error("send to {topic} failed after {attempts} attempt(s) in {elapsed:?}: {last}")]
    SendFailed {
        /// The topic.
        topic: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last attempt's error.
        last: Box<ClientError>,
    },
    /// A background task of the client ended without a result.
    #[error("client task failed: {0}")]
    TaskFailed(String),
    /// The client (or its instance) was shut down.
    #[error("client is shut down")]
    Shutdown,
    /// The operation is not implemented by this client.
    #[error("not supported by skylark-client: {0}")]
    Unsupported(&'static str),
}

impl ClientError {
    /// The error of a non-success `response` from `addr`.
    pub fn from_response(response: &RemotingCommand, addr: &str) -> Self {
        Self::Server {
            code: response.response_code(),
            remark: response.remark.clone().unwrap_or_default(),
            addr: addr.to_owned(),
        }
    }

    /// The RocketMQ response code behind this error, if a server sent one
    /// (looking through [`ClientError::SendFailed`]).
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            Self::Server { code, .. } => Some(*code),
            Self::SendFailed { last, .. } => last.response_code(),
            _ => None,
        }
    }

    /// The server's remark, if a server refused.
    pub fn remark(&self) -> Option<&str> {
        match self {
            Self::Server { remark, .. } => Some(remark),
            Self::SendFailed { last, .. } => last.remark(),
            _ => None,
        }
    }

    /// A short hint for people about what to do, where one is known.
    pub fn hint(&self) -> Option<&'static str> {
        if let Some(code) = self.response_code() {
            return response_hint(code);
        }
        if self.is_connection_error() {
            return Some("is the broker or nameserver running and reachable at that address?");
        }
        match self {
            Self::Remoting(RemotingError::Timeout { .. }) => {
                Some("the server did not answer in time; retry or raise the timeout")
            }
            Self::NoNameserver => Some("pass --namesrv or set NAMESRV_ADDR"),
            Self::NoRoute { .. } => {
                Some("create the topic first (skylark topic create), or check the nameserver")
            }
            _ => None,
        }
    }

    /// Whether the failure was the connection's rather than a server's answer.
    pub fn is_connection_error(&self) -> bool {
        match self {
            Self::Remoting(e) => e.is_connection_error(),
            Self::SendFailed { last, .. } => last.is_connection_error(),
            _ => false,
        }
    }
}

/// What to tell a person about a response code.
fn response_hint(code: ResponseCode) -> Option<&'static str> {
    Some(match code {
        ResponseCode::TOPIC_NOT_EXIST => "create the topic first (skylark topic create)",
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST => {
            "create the group first (skylark group create)"
        }
        ResponseCode::NO_PERMISSION => "the broker or topic does not allow this (check perm)",
        ResponseCode::SYSTEM_BUSY => "the broker is overloaded; retry later",
        ResponseCode::SERVICE_NOT_AVAILABLE => "the broker cannot serve now (disk full, stopping)",
        ResponseCode::MESSAGE_ILLEGAL => "the message is too large or its properties are invalid",
        ResponseCode::QUERY_NOT_FOUND => "nothing matched; check the key, id and time range",
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED => "the server does not implement this request",
        ResponseCode::CONSUMER_NOT_ONLINE => "no consumer of that group is connected",
        ResponseCode::INVALID_PARAMETER => "check the arguments",
        _ => return None,
    })
}
