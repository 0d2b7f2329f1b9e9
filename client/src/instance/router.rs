//! The hook for requests brokers send to clients: one handler per request
//! code, registered by the producer (CHECK_TRANSACTION_STATE) and the
//! consumers (NOTIFY_CONSUMER_IDS_CHANGED, GET_CONSUMER_RUNNING_INFO,
//! RESET_CONSUMER_CLIENT_OFFSET…).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::{ConnectionHandle, DynRequestHandler, RequestHandler, not_supported};

/// Routes each server-initiated request to the handler of its code;
/// unknown codes get REQUEST_CODE_NOT_SUPPORTED (oneways get nothing).
#[derive(Default)]
pub(crate) struct Router {
    handlers: RwLock<HashMap<i32, Arc<dyn DynRequestHandler>>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes: Vec<i32> = self.read().keys().copied().collect();
        f.debug_struct("Router").field("codes", &codes).finish()
    }
}

impl Router {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<i32, Arc<dyn DynRequestHandler>>> {
        self.handlers.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the handler of `code`, returning the one it replaces.
    pub(crate) fn register(
        &self,
        code: RequestCode,
        handler: Arc<dyn DynRequestHandler>,
    ) -> Option<Arc<dyn DynRequestHandler>> {
        self.handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(code.value(), handler)
    }

    /// Removes the handler of `code`.
    pub(crate) fn remove(&self, code: RequestCode) -> Option<Arc<dyn DynRequestHandler>> {
        self.handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&code.value())
    }

    /// Whether `code` has a handler.
    pub(crate) fn has(&self, code: RequestCode) -> bool {
        self.read().contains_key(&code.value())
    }
}

impl RequestHandler for Router {
    async fn handle(
        &self,
        conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let handler = self.read().get(&request.code).cloned();
        match handler {
            Some(handler) => handler.handle_boxed(conn, request).await,
            None => {
                tracing::debug!(code = request.code, remote = %conn.remote_addr(), "no client handler for server request");
                Some(not_supported(&request))
            }
        }
    }
}
