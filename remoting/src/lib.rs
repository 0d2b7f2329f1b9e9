//! Async TCP remoting for Skylark: the connection layer under the name
//! server, the broker and the Rust client.
//!
//! - [`RemotingServer`] accepts connections and hands each request to a
//!   [`RequestHandler`] in its own task, so requests on one connection run
//!   concurrently (a long-polling pull does not hold up a send behind it) and
//!   responses go out as they finish, matched by opaque on the other side.
//! - [`RemotingClient`] keeps one lazily opened connection per address,
//!   shared by all callers, and matches responses to
//!   [`invoke`](RemotingClient::invoke)s by opaque.
//! - [`ConnectionHandle`] is either end of one connection. The broker uses it
//!   to send requests to a client (NOTIFY_CONSUMER_IDS_CHANGED,
//!   GET_CONSUMER_RUNNING_INFO), finding it through the server's
//!   [`ConnectionRegistry`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use skylark_protocol::{RemotingCommand, RequestCode, ResponseCode};
//! use skylark_remoting::{
//!     ConnectionHandle, RemotingClient, RemotingServer, RequestHandler, ServerConfig,
//!     not_supported,
//! };
//!
//! struct Echo;
//!
//! impl RequestHandler for Echo {
//!     async fn handle(&self, _conn: &ConnectionHandle, req: RemotingCommand) -> Option<RemotingCommand> {
//!         Some(match req.request_code() {
//!             RequestCode::HEART_BEAT => {
//!                 RemotingCommand::response_to(&req, ResponseCode::SUCCESS).with_body(req.body.clone())
//!             }
//!             _ => not_supported(&req),
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), skylark_remoting::RemotingError> {
//! let server = RemotingServer::bind("127.0.0.1:0", Arc::new(Echo), ServerConfig::default()).await?;
//! let addr = server.local_addr().to_string();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let serving = tokio::spawn(server.serve(async { stopped.await.ok(); }));
//!
//! let client = RemotingClient::default();
//! let request = RemotingCommand::bare_request(RequestCode::HEART_BEAT).with_body(&b"hi"[..]);
//! let response = client.invoke(&addr, request, Duration::from_secs(3)).await?;
//! assert_eq!(&response.body[..], b"hi");
//!
//! stop.send(()).ok();
//! serving.await.ok();
//! # Ok(())
//! # }
//! ```
//!
//! # Per connection
//!
//! One reader task decodes frames (`skylark_protocol::RemotingCodec`):
//! responses complete pending invokes, requests are spawned, up to a
//! per-connection limit beyond which they are answered SYSTEM_BUSY (the
//! reader never waits, so responses keep flowing). One writer task drains a
//! bounded queue in batches and writes them with vectored writes: small
//! frames coalesced into one reused buffer, and bodies of 16 KiB or more —
//! mmap slices of the CommitLog, also several per response with
//! [`ConnectionHandle::send_response_parts`] — handed to `writev` as their own
//! iovecs, so the kernel's copy into the socket is the only one. A frame that
//! cannot be decoded closes its connection only.
//!
//! # Shutdown
//!
//! [`RemotingServer::serve`] stops accepting when its signal fires; each
//! connection then answers new two-way requests GO_AWAY (or SYSTEM_BUSY to
//! clients older than 5.3.1), still runs oneways, waits for its in-flight
//! requests, flushes, sends FIN and waits briefly for the peer to close. What
//! is still running after `shutdown_timeout` is closed.

mod client;
mod config;
mod connection;
mod error;
mod handler;
mod server;
mod signal;
mod stats;
mod writer;

pub use client::RemotingClient;
pub use config::{ClientConfig, ServerConfig};
pub use connection::ConnectionHandle;
pub use error::RemotingError;
pub use handler::{
    BoxFuture, DynRequestHandler, RequestHandler, not_supported, system_busy, system_error,
};
pub use server::{ConnectionRegistry, RemotingServer};
pub use stats::{ServerStats, StatsSnapshot};
