//! The master's side: the HA port and one connection per replica
//! (RocketMQ's `AcceptSocketService` and `DefaultHAConnection`).
//!
//! Per connection, a reader takes the replica's 8-byte offset reports (the
//! first decides where streaming starts; each one acknowledges bytes for
//! SYNC_MASTER sends) and a writer streams CommitLog bytes from there as
//! zero-copy views of the mapped files, at most `haTransferBatchSize` per
//! transfer, with empty transfers as heartbeats when idle.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Buf;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::wire::{REPORT_LEN, TransferHeader};
use super::{HaError, Shared};

/// Longest wait for new data before looking again: puts not made through
/// the send path (delayed, timer and transaction messages) wake nobody.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Accepts replicas until `stop`; a broker that is not a master closes
/// them at once (it has nothing it may stream).
pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if !shared.is_master() {
                    tracing::warn!(%peer, "HA connection refused: this broker is not a master");
                    continue;
                }
                tracing::info!(%peer, "replica connected");
                tokio::spawn(connection(stream, peer, shared.clone(), stop.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "HA accept failed");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// Serves one replica until it goes, the broker stops, or the role changes.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let id = shared.in_sync.register(peer);
    let (first_tx, first_rx) = watch::channel(None);
    let mut generation = shared.generation.subscribe();
    let started = *generation.borrow_and_update();
    let outcome = tokio::select! {
        r = read_reports(read, id, &shared, first_tx) => r,
        r = write_transfers(write, peer, &shared, first_rx) => r,
        _ = stop.wait_for(|s| *s) => Ok(()),
        _ = generation.wait_for(|g| *g != started) => Ok(()),
    };
    shared.in_sync.unregister(id);
    match outcome {
        Ok(()) => tracing::info!(%peer, "replica connection closed"),
        Err(error) => tracing::warn!(%peer, %error, "replica connection closed"),
    }
}

/// Reads offset reports; a replica silent for `haHousekeepingInterval` is dropped.
async fn read_reports(
    read: OwnedReadHalf,
    id: u64,
    shared: &Shared,
    first: watch::Sender<Option<i64>>,
) -> Result<(), HaError> {
    let mut read = BufReader::new(read);
    let mut report = [0u8; REPORT_LEN];
    loop {
        match tokio::time::timeout(shared.settings.housekeeping, read.read_exact(&mut report)).await
        {
            Err(_) => return Err(HaError::Expired(shared.settings.housekeeping)),
            Ok(Err(error)) => return Err(HaError::Io(error)),
            Ok(Ok(_)) => {}
        }
        let offset = i64::from_be_bytes(report);
        if first.borrow().is_none() {
            tracing::info!(offset, "replica's first offset report");
            let _ = first.send(Some(offset));
        }
        shared.in_sync.ack(id, offset);
    }
}

/// Streams CommitLog bytes from where the replica asked.
async fn write_transfers(
    mut write: OwnedWriteHalf,
    peer: SocketAddr,
    shared: &Shared,
    mut first: watch::Receiver<Option<i64>>,
) -> Result<(), HaError> {
    let requested = match *first
        .wait_for(Option::is_some)
        .await
        .map_err(|_| HaError::Closed)?
    {
        Some(offset) => offset,
        None => return Err(HaError::Closed),
    };
    let commit_log = shared.store.commit_log().clone();
    let file_size = commit_log.file_size() as i64;
    // An empty replica starts at the master's newest file, as Java's does.
    let mut next = if requested == 0 {
        let max = commit_log.max_offset();
        (max - max.rem_euclid(file_size)).max(0)
    } else {
        requested
    };
    tracing::info!(%peer, requested, from = next, "streaming to replica");
    if next > commit_log.max_offset() {
        tracing::warn!(
            %peer, requested, master_max = commit_log.max_offset(),
            "replica is ahead of this master; nothing is sent until the master passes its offset"
        );
    }
    if next < commit_log.min_offset() {
        tracing::error!(
            %peer, requested, master_min = commit_log.min_offset(),
            "replica asks for bytes this master no longer has"
        );
    }
    let batch = shared.settings.transfer_batch.max(1);
    let mut last_write = Instant::now();
    loop {
        let mut appended = pin!(shared.appended.notified());
        appended.as_mut().enable();
        if let Some(data) = commit_log.get_data(next).filter(|d| !d.is_empty()) {
            let n = data.len().min(batch);
            let header = TransferHeader {
                offset: next,
                size: u32::try_from(n).map_err(|_| HaError::Closed)?,
            }
            .encode();
            let mut out = Buf::chain(&header[..], data.slice(..n));
            write.write_all_buf(&mut out).await?;
            next += n as i64;
            last_write = Instant::now();
            continue;
        }
        if last_write.elapsed() >= shared.settings.heartbeat {
            let header = TransferHeader {
                offset: next,
                size: 0,
            }
            .encode();
            write.write_all(&header).await?;
            last_write = Instant::now();
        }
        tokio::select! {
            () = appended => {}
            () = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}
