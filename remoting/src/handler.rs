//! The request-handler traits and helpers for common answers.

use std::future::Future;
use std::pin::Pin;

use skylark_protocol::{RemotingCommand, ResponseCode};

use crate::connection::ConnectionHandle;

/// A boxed, sendable future (what [`DynRequestHandler`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Answers requests arriving on a connection.
///
/// Each request runs in its own task, so `handle` may take as long as it
/// needs (a long-polling pull) without holding up other requests on the same
/// connection. Returning `None` for a two-way request sends nothing: the
/// handler may answer later with [`ConnectionHandle::send_response`] (but a
/// draining server closes the connection once no handler runs, so such
/// deferred answers must be sent before shutdown).
/// Whatever response is returned gets the request's opaque and serialize
/// type and the RESPONSE flag; oneway requests are never answered.
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request received on `conn`.
    fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + Send;

    /// Called once a connection is established, before its first request.
    fn on_connect(&self, _conn: &ConnectionHandle) {}

    /// Called once a connection has closed, after its pending invokes failed.
    fn on_close(&self, _conn: &ConnectionHandle) {}
}

/// The object-safe form of [`RequestHandler`], for `Arc<dyn ...>` slots such
/// as [`RemotingClient::set_request_handler`](crate::RemotingClient::set_request_handler).
/// Every `RequestHandler` implements it.
pub trait DynRequestHandler: Send + Sync + 'static {
    /// [`RequestHandler::handle`], boxed.
    fn handle_boxed<'a>(
        &'a self,
        conn: &'a ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<'a, Option<RemotingCommand>>;

    /// [`RequestHandler::on_connect`].
    fn on_connect_dyn(&self, conn: &ConnectionHandle);

    /// [`RequestHandler::on_close`].
    fn on_close_dyn(&self, conn: &ConnectionHandle);
}

impl<H: RequestHandler> DynRequestHandler for H {
    fn handle_boxed<'a>(
        &'a self,
        conn: &'a ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<'a, Option<RemotingCommand>> {
        Box::pin(self.handle(conn, request))
    }

    fn on_connect_dyn(&self, conn: &ConnectionHandle) {
        self.on_connect(conn);
    }

    fn on_close_dyn(&self, conn: &ConnectionHandle) {
        self.on_close(conn);
    }
}

/// The answer to a request code nobody handles: REQUEST_CODE_NOT_SUPPORTED
/// with Java's remark.
pub fn not_supported(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::REQUEST_CODE_NOT_SUPPORTED)
        .with_remark(format!(" request type {} not supported", request.code))
}

/// The answer when a connection has too many requests in flight: Java's
/// SYSTEM_BUSY with its `[OVERLOAD]` remark, which producers retry elsewhere.
pub fn system_busy(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::SYSTEM_BUSY)
        .with_remark("[OVERLOAD]system busy, start flow control for a while")
}

/// The answer when the handler failed (panicked): SYSTEM_ERROR.
pub fn system_error(request: &RemotingCommand, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::SYSTEM_ERROR).with_remark(remark)
}
