//! The request handler: routes each request code to its processor, as
//! Java's broker registers `SendMessageProcessor`, `PullMessageProcessor`,
//! `ConsumerManageProcessor`, `ClientManageProcessor` and
//! `AdminBrokerProcessor`.
//!
//! Each family lives in its own module and exposes `try_handle`, which
//! answers the codes it owns and returns `None` for the rest.

mod admin;
mod client;
mod end_transaction;
mod offset;
mod pull;
mod query;
mod send;
mod send_back;

use skylark_protocol::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};
use skylark_remoting::{ConnectionHandle, RequestHandler, not_supported, system_error};

use crate::broker::Broker;
use crate::error::RequestError;

/// What a processor returns: a response, or an error that becomes
/// SYSTEM_ERROR with the error's text as remark.
pub(crate) type Outcome = Result<RemotingCommand, RequestError>;

impl Broker {
    /// Answers one request; never panics on bad input. `None` means the
    /// request was oneway or its answer was already sent.
    pub async fn process(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let code = request.request_code();
        tracing::trace!(
            code = %code, remote = %conn.remote_addr(), opaque = request.opaque, "broker request"
        );
        let outcome = match code {
            RequestCode::SEND_MESSAGE
            | RequestCode::SEND_MESSAGE_V2
            | RequestCode::SEND_BATCH_MESSAGE => self.send_message(conn, &request).await.map(Some),
            // Pulls and queries with records answer themselves (the records go out uncopied).
            RequestCode::PULL_MESSAGE | RequestCode::LITE_PULL_MESSAGE => {
                self.pull_message(conn, &request).await
            }
            RequestCode::QUERY_MESSAGE => self.query_message(conn, &request).await,
            RequestCode::CONSUMER_SEND_MSG_BACK => {
                self.consumer_send_msg_back(&request).await.map(Some)
            }
            RequestCode::VIEW_MESSAGE_BY_ID => self.view_message_by_id(conn, &request).await,
            RequestCode::END_TRANSACTION => self.end_transaction(conn, &request).await,
            RequestCode::HA_PROMOTE | RequestCode::HA_FOLLOW | RequestCode::HA_STATUS => {
                self.handle_ha_role(&request).await.map(Some)
            }
            _ => self
                .try_handle_offset(conn, &request)
                .or_else(|| self.try_handle_client(conn, &request))
                .or_else(|| self.try_handle_admin(conn, &request))
                .unwrap_or_else(|| Ok(not_supported(&request)))
                .map(Some),
        };
        outcome.unwrap_or_else(|error| {
            tracing::warn!(
                code = %code, remote = %conn.remote_addr(), opaque = request.opaque, %error,
                "broker request failed"
            );
            Some(system_error(&request, error.to_string()))
        })
    }
}

impl RequestHandler for Broker {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        self.process(conn, request).await
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        self.on_channel_closed(conn);
    }
}

/// A SUCCESS response to `request`.
pub(crate) fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::SUCCESS)
}

/// A response with `code` and `remark`.
pub(crate) fn reply(
    request: &RemotingCommand,
    code: ResponseCode,
    remark: impl Into<String>,
) -> RemotingCommand {
    RemotingCommand::response_to(request, code).with_remark(remark)
}

/// The request's typed header.
pub(crate) fn header<H: CommandHeader>(request: &RemotingCommand) -> Result<H, RequestError> {
    Ok(request.read_header::<H>()?)
}
