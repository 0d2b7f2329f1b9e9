//! One TCP connection, either side: the shared state behind
//! [`ConnectionHandle`], the reader loop that dispatches frames, and the
//! pending map that matches responses to invokes by opaque.
//!
//! Both directions are symmetric: a server connection receives requests and
//! may invoke the client; a client connection invokes and may receive
//! requests. So server and client share this code and differ only in the
//! handler and options they pass to [`spawn`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use skylark_protocol::command::{FLAG_ONEWAY, FLAG_RESPONSE};
use skylark_protocol::{CodecError, RemotingCodec, RemotingCommand, RequestCode, ResponseCode};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::error::RemotingError;
use crate::handler::{RequestHandler, system_busy};
use crate::signal::Signal;
use crate::stats::{ServerStats, bump};
use crate::writer::{self, Outbound};

/// Ids unique across every connection of the process, server or client.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Read buffer size; grows for larger frames.
const READ_BUFFER: usize = 64 * 1024;
/// How long a drained connection waits for the peer to close after our FIN.
const LINGER: Duration = Duration::from_secs(1);
/// `MQVersion.Version.V5_3_1.ordinal()`: newer clients understand GO_AWAY.
const VERSION_5_3_1: i32 = 477;

type Reply = oneshot::Sender<Result<RemotingCommand, RemotingError>>;

/// Per-connection knobs, from the server or client config.
#[derive(Debug, Clone)]
pub(crate) struct ConnOptions {
    pub(crate) max_frame_len: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_in_flight: usize,
    pub(crate) write_queue_capacity: usize,
    pub(crate) stats: Option<Arc<ServerStats>>,
    /// Server-wide shutdown signal: refuse new two-way requests, finish those
    /// in flight, flush, close.
    pub(crate) drain: Option<Arc<Signal>>,
}

/// Invokes waiting for their responses.
#[derive(Debug, Default)]
struct Pending {
    map: HashMap<i32, Reply>,
    /// Set, under the lock, when the connection closes: no new entries.
    closed: bool,
}

/// State shared by the reader, the writer, request tasks and handles.
#[derive(Debug)]
pub(crate) struct Shared {
    id: u64,
    pub(crate) remote: SocketAddr,
    local: SocketAddr,
    tx: mpsc::Sender<Outbound>,
    pending: Mutex<Pending>,
    next_opaque: AtomicI32,
    /// Fired once when the connection is closed for good.
    pub(crate) closed: Signal,
    in_flight: AtomicUsize,
    /// Set by the reader when it drains; only then do finishing requests
    /// wake it (saves a lock per request otherwise).
    draining: AtomicBool,
    idle: Notify,
}

impl Shared {
    /// Closes the connection: fails every pending invoke and stops the
    /// reader and writer. Idempotent.
    pub(crate) fn close(&self) {
        let drained = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.closed = true;
            std::mem::take(&mut pending.map)
        };
        self.closed.fire();
        for (_, reply) in drained {
            let _ = reply.send(Err(self.closed_error()));
        }
    }

    /// Fails the invoke waiting for `cmd`, which could not be encoded.
    pub(crate) fn fail_pending(&self, cmd: &RemotingCommand, source: CodecError) {
        if let Some(reply) = self.take_pending(cmd.opaque) {
            let _ = reply.send(Err(RemotingError::Encode {
                addr: self.remote.to_string(),
                code: RequestCode::from(cmd.code),
                source,
            }));
        }
    }

    fn take_pending(&self, opaque: i32) -> Option<Reply> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.map.remove(&opaque)
    }

    fn closed_error(&self) -> RemotingError {
        RemotingError::ConnectionClosed {
            addr: self.remote.to_string(),
        }
    }

    /// Queues a frame for the writer, waiting for room unless the connection closes.
    async fn enqueue(&self, out: Outbound) -> Result<(), RemotingError> {
        let out = match self.tx.try_send(out) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(self.closed_error()),
            Err(mpsc::error::TrySendError::Full(out)) => out,
        };
        tokio::select! {
            biased;
            () = self.closed.fired() => Err(self.closed_error()),
            sent = self.tx.send(out) => sent.map_err(|_| self.closed_error()),
        }
    }

    /// Marks one request task done; wakes a drain waiting for zero.
    fn request_done(&self) {
        // SeqCst pairs with `wait_idle`: either we see `draining` and notify,
        // or its count check comes after our decrement.
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1
            && self.draining.load(Ordering::SeqCst)
        {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no request task runs, or the connection closes.
    async fn wait_idle(&self) {
        self.draining.store(true, Ordering::SeqCst);
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::select! {
                () = &mut notified => {}
                () = self.closed.fired() => return,
            }
        }
    }
}

/// A cheap, clonable handle to a live (or closed) connection: its identity,
/// and the means to send requests and responses on it.
#[derive(Clone)]
pub struct ConnectionHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("id", &self.shared.id)
            .field("remote", &self.shared.remote)
            .field("local", &self.shared.local)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ConnectionHandle {
    /// Process-unique id of the connection (the broker's "channel id").
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.shared.remote
    }

    /// Our side's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_fired()
    }

    /// Resolves once the connection has closed.
    pub async fn closed(&self) {
        self.shared.closed.fired().await;
    }

    /// Closes the connection now; pending invokes fail, queued frames are dropped.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Requests being handled on this connection right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    fn next_opaque(&self) -> i32 {
        self.shared.next_opaque.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a oneway request (flag and opaque set here); nothing comes back.
    pub async fn send_oneway(&self, mut cmd: RemotingCommand) -> Result<(), RemotingError> {
        cmd.opaque = self.next_opaque();
        cmd.flag = (cmd.flag & !FLAG_RESPONSE) | FLAG_ONEWAY;
        self.shared.enqueue(cmd.into()).await
    }

    /// Sends a response built elsewhere (e.g. a long-polling pull answered
    /// after its handler returned `None`). The caller sets its opaque to the
    /// request's; the RESPONSE flag is set here.
    pub async fn send_response(&self, mut response: RemotingCommand) -> Result<(), RemotingError> {
        response.flag = (response.flag | FLAG_RESPONSE) & !FLAG_ONEWAY;
        self.shared.enqueue(response.into()).await
    }

    /// Like [`send_response`](Self::send_response), with `parts` sent after
    /// `response.body` as one body. Large parts (a pull response's message
    /// slices of the mapped CommitLog) go to the socket without being copied
    /// or concatenated first.
    pub async fn send_response_parts(
        &self,
        mut response: RemotingCommand,
        parts: Vec<Bytes>,
    ) -> Result<(), RemotingError> {
        response.flag = (response.flag | FLAG_RESPONSE) & !FLAG_ONEWAY;
        self.shared
            .enqueue(Outbound {
                cmd: response,
                parts,
            })
            .await
    }

    /// Sends a request and waits up to `timeout` for its response. On
    /// timeout the pending entry is dropped, so a late answer is ignored.
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let start = Instant::now();
        let opaque = self.next_opaque();
        let code = cmd.code;
        cmd.opaque = opaque;
        cmd.flag &= !(FLAG_RESPONSE | FLAG_ONEWAY);
        let (reply, response) = oneshot::channel();
        {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pending.closed {
                return Err(self.shared.closed_error());
            }
            pending.map.insert(opaque, reply);
        }
        // Removes the entry however this future ends: timeout, error or drop.
        let mut guard = PendingGuard {
            shared: &self.shared,
            opaque,
            armed: true,
        };
        let exchange = async {
            self.shared.enqueue(cmd.into()).await?;
            Ok(response.await)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(answered)) => {
                // Whoever answered took the entry already; skip the lock.
                guard.armed = false;
                answered.unwrap_or_else(|_| Err(self.shared.closed_error()))
            }
            Ok(Err(error)) => Err(error),
            Err(_) => {
                tracing::debug!(remote = %self.shared.remote, opaque, code, "invoke timed out");
                Err(RemotingError::Timeout {
                    addr: self.shared.remote.to_string(),
                    code: RequestCode::from(code),
                    elapsed: start.elapsed(),
                })
            }
        }
    }
}

/// Drops an invoke's pending entry when the invoke ends.
struct PendingGuard<'a> {
    shared: &'a Shared,
    opaque: i32,
    armed: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.take_pending(self.opaque);
        }
    }
}

/// Marks a request task finished even if its handler panics.
struct InFlightGuard(Arc<Shared>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// Why the reader stopped.
enum ReadEnd {
    /// The server drained the connection and no request is in flight:
    /// flush, then close.
    Drained,
    /// Anything else: close now.
    Close,
}

/// Type of the read side's frame stream.
type Frames = FramedRead<OwnedReadHalf, RemotingCodec>;

/// Starts the reader and writer of an accepted or connected stream. Returns
/// the handle at once; the future completes when the connection is closed
/// and `on_close` has run.
pub(crate) fn spawn<H: RequestHandler>(
    stream: TcpStream,
    handler: Arc<H>,
    opts: Arc<ConnOptions>,
) -> std::io::Result<(ConnectionHandle, impl Future<Output = ()> + Send + 'static)> {
    // RocketMQ frames are small and latency-bound, as Java's TCP_NODELAY says.
    stream.set_nodelay(true)?;
    let remote = stream.peer_addr()?;
    let local = stream.local_addr()?;
    let (tx, rx) = mpsc::channel(opts.write_queue_capacity.max(1));
    let shared = Arc::new(Shared {
        id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
        remote,
        local,
        tx,
        pending: Mutex::default(),
        next_opaque: AtomicI32::new(0),
        closed: Signal::default(),
        in_flight: AtomicUsize::new(0),
        draining: AtomicBool::new(false),
        idle: Notify::new(),
    });
    let conn = ConnectionHandle { shared };
    let handle = conn.clone();
    let run = async move {
        let (rd, wr) = stream.into_split();
        let mut frames =
            FramedRead::with_capacity(rd, RemotingCodec::new(opts.max_frame_len), READ_BUFFER);
        let finish = CancellationToken::new();
        let writer = tokio::spawn(writer::run(wr, rx, conn.shared.clone(), finish.clone()));
        handler.on_connect(&conn);
        let drained = matches!(
            read_loop(&mut frames, &conn, &handler, &opts).await,
            ReadEnd::Drained
        );
        if drained {
            // The writer flushes what the finished requests queued, then FIN.
            finish.cancel();
        } else {
            // The writer stops at once.
            conn.shared.close();
        }
        let _ = writer.await;
        if drained {
            linger(&mut frames, &conn.shared).await;
            conn.shared.close();
        }
        drop(frames);
        tracing::debug!(remote = %conn.shared.remote, id = conn.shared.id, "connection closed");
        handler.on_close(&conn);
    };
    Ok((handle, run))
}

/// Reads frames until the peer leaves, a frame is bad, the connection idles
/// out or closes, or a server drain has no request left in flight.
async fn read_loop<H: RequestHandler>(
    frames: &mut Frames,
    conn: &ConnectionHandle,
    handler: &Arc<H>,
    opts: &ConnOptions,
) -> ReadEnd {
    let shared = &conn.shared;
    let stats = opts.stats.as_deref();
    let drain_signal = opts.drain.as_deref();
    // Futures made once, and polled only when no frame is ready: re-polling
    // them takes a lock, so the hot path tests the flags instead.
    let closed = shared.closed.fired();
    tokio::pin!(closed);
    let drain = async {
        match drain_signal {
            Some(signal) => signal.fired().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(drain);
    // Draining keeps reading: responses to our invokes still arrive, and new
    // requests get a definite refusal instead of a reset connection.
    let mut draining = false;
    let idle_timeout = opts.idle_timeout.unwrap_or(Duration::MAX);
    let mut last_read = Instant::now();
    let idle = tokio::time::sleep(opts.idle_timeout.unwrap_or(Duration::from_secs(3600)));
    tokio::pin!(idle);
    loop {
        if shared.closed.is_fired() {
            return ReadEnd::Close;
        }
        if !draining && drain_signal.is_some_and(Signal::is_fired) {
            draining = true;
        }
        let frame = tokio::select! {
            biased;
            frame = frames.next() => frame,
            () = &mut closed => return ReadEnd::Close,
            () = &mut drain, if !draining => {
                draining = true;
                continue;
            }
            () = shared.wait_idle(), if draining => return ReadEnd::Drained,
            () = &mut idle, if opts.idle_timeout.is_some() => {
                // One timer re-armed lazily, rather than reset on every frame.
                let since = last_read.elapsed();
                if since >= idle_timeout {
                    tracing::info!(remote = %shared.remote, idle = ?since, "closing idle connection");
                    bump(stats, |s| &s.idle_closed);
                    return ReadEnd::Close;
                }
                idle.as_mut().reset((last_read + idle_timeout).into());
                continue;
            }
        };
        let cmd = match frame {
            Some(Ok(cmd)) => cmd,
            None => return ReadEnd::Close,
            Some(Err(CodecError::Io(error))) => {
                tracing::debug!(remote = %shared.remote, %error, "read failed");
                return ReadEnd::Close;
            }
            Some(Err(error)) => {
                tracing::warn!(remote = %shared.remote, %error, "undecodable frame, closing connection");
                bump(stats, |s| &s.decode_errors);
                return ReadEnd::Close;
            }
        };
        if opts.idle_timeout.is_some() {
            last_read = Instant::now();
        }
        if cmd.is_response() {
            bump(stats, |s| &s.responses_received);
            complete(shared, cmd);
        } else if draining && !cmd.is_oneway() {
            refuse_while_draining(shared, stats, &cmd);
        } else {
            // Oneways still run while draining: they are offset commits and
            // unregistrations a client sends on its way out.
            dispatch(conn, handler, opts, cmd);
        }
    }
}

/// After the FIN, reads until the peer closes too (briefly), so closing with
/// unread bytes does not reset the connection before the peer has read our
/// last responses.
async fn linger(frames: &mut Frames, shared: &Shared) {
    let until_eof = async {
        while let Some(Ok(cmd)) = frames.next().await {
            if cmd.is_response() {
                complete(shared, cmd);
            }
        }
    };
    tokio::select! {
        () = until_eof => {}
        () = shared.closed.fired() => {}
        () = tokio::time::sleep(LINGER) => {}
    }
}

/// Answers a two-way request arriving during shutdown like Java does:
/// GO_AWAY to clients that understand it (they reconnect elsewhere), SYSTEM_BUSY
/// to older ones (producers retry another broker).
fn refuse_while_draining(shared: &Shared, stats: Option<&ServerStats>, request: &RemotingCommand) {
    bump(stats, |s| &s.requests);
    let response = if request.version > VERSION_5_3_1 {
        RemotingCommand::response_to(request, ResponseCode::GO_AWAY).with_remark("please go away")
    } else {
        RemotingCommand::response_to(request, ResponseCode::SYSTEM_BUSY)
            .with_remark("[REJECTREQUEST]system busy, start flow control for a while")
    };
    tracing::debug!(
        remote = %shared.remote, opaque = request.opaque, code = request.code,
        "refusing a request while shutting down"
    );
    // Never wait in the reader; a full queue means the peer is not reading.
    let _ = shared.tx.try_send(response.into());
}

/// Hands a response to the invoke waiting for its opaque.
fn complete(shared: &Shared, cmd: RemotingCommand) {
    match shared.take_pending(cmd.opaque) {
        Some(reply) => {
            let _ = reply.send(Ok(cmd));
        }
        None => tracing::debug!(
            remote = %shared.remote, opaque = cmd.opaque, code = cmd.code,
            "response to no pending request (timed out?)"
        ),
    }
}

/// Runs a request's handler in its own task, answering unless oneway.
fn dispatch<H: RequestHandler>(
    conn: &ConnectionHandle,
    handler: &Arc<H>,
    opts: &ConnOptions,
    request: RemotingCommand,
) {
    let shared = &conn.shared;
    let stats = opts.stats.as_deref();
    bump(stats, |s| &s.requests);
    let oneway = request.is_oneway();
    if oneway {
        bump(stats, |s| &s.oneway_requests);
    }
    if shared.in_flight.fetch_add(1, Ordering::AcqRel) >= opts.max_in_flight {
        shared.request_done();
        bump(stats, |s| &s.busy_rejections);
        // Debug, not warn: under overload this fires per request; the
        // `busy_rejections` counter is what operators watch.
        tracing::debug!(
            remote = %shared.remote, opaque = request.opaque, code = request.code,
            "too many requests in flight on one connection, rejecting"
        );
        // Never wait here: the reader must keep reading responses.
        if !oneway {
            let _ = shared.tx.try_send(system_busy(&request).into());
        }
        return;
    }
    let guard = InFlightGuard(shared.clone());
    let conn = conn.clone();
    let handler = handler.clone();
    let stats = opts.stats.clone();
    let mut task = Box::pin(async move {
        let _guard = guard;
        let opaque = request.opaque;
        let code = request.code;
        let serialize_type = request.serialize_type;
        let outcome = AssertUnwindSafe(handler.handle(&conn, request))
            .catch_unwind()
            .await;
        let response = match outcome {
            Ok(response) => response,
            Err(_) => {
                bump(stats.as_deref(), |s| &s.handler_panics);
                tracing::error!(remote = %conn.shared.remote, opaque, code, "request handler panicked");
                Some(RemotingCommand {
                    code: ResponseCode::SYSTEM_ERROR.value(),
                    remark: Some(format!("request {code} failed: handler panicked")),
                    ..RemotingCommand::default()
                })
            }
        };
        let Some(mut response) = response else {
            return;
        };
        if oneway {
            tracing::debug!(remote = %conn.shared.remote, opaque, code, "dropping a response to a oneway request");
            return;
        }
        response.opaque = opaque;
        response.serialize_type = serialize_type;
        if let Err(error) = conn.send_response(response).await {
            tracing::debug!(remote = %conn.shared.remote, opaque, code, %error, "response not sent");
        }
    });
    // Most requests finish at once (an ASYNC_FLUSH send, offsets, routes):
    // poll once here and answer from the reader, saving a task and a hop
    // between tasks per request. The rest (a SYNC_FLUSH send waiting for its
    // flush, a suspended pull) moves to a task of its own, whose first poll
    // registers the real waker; the no-op waker of this poll may be lost.
    let mut cx = Context::from_waker(Waker::noop());
    match std::panic::catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            tokio::spawn(task);
        }
        Err(_) => {
            // The handler's own panics are answered inside; this is the
            // rest of the task (enqueueing the answer) failing.
            tracing::error!(remote = %shared.remote, "answering a request panicked");
        }
    }
}
