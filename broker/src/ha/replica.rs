//! The replica's side: the connection to the master's HA port (RocketMQ's
//! `DefaultHAClient`).
//!
//! It reports its CommitLog max offset on connecting, after every append and
//! every `haSendHeartbeatInterval`; it appends what the master streams with
//! the store's boundary-checked `append_raw` (whole records only: a torn
//! tail waits for the next transfer) and wakes the dispatcher, which builds
//! ConsumeQueues and the index. Any mismatch closes the connection; the next
//! one resumes from the replica's own end.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use super::wire::{RecordCutter, TRANSFER_HEADER_LEN, TransferHeader, WireError};
use super::{HaError, Shared};

/// Pause between connection attempts (Java waits 5 s; a replica that
/// catches up sooner loses less when its master dies).
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);
/// Longest wait for a TCP connection to the master.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest transfer accepted (a master sends `haTransferBatchSize`, 32 KiB).
const MAX_TRANSFER: usize = 16 << 20;

/// Follows the master whose HA address the shared state names, reconnecting
/// after failures, until `stop`.
pub(super) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(addr) = shared.master_ha_addr() {
            let session = async {
                // The epoch handshake (role.rs): may truncate first, or refuse the master.
                if let Some(broker) = shared.broker.get().and_then(std::sync::Weak::upgrade) {
                    broker.replica_handshake().await?;
                }
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
                    .await
                    .map_err(|_| HaError::Expired(CONNECT_TIMEOUT))??;
                tracing::info!(master = %addr, "connected to the master's HA port");
                shared.client.connected.store(true, Ordering::Release);
                follow(stream, &shared).await
            };
            let outcome = tokio::select! {
                _ = stop.wait_for(|s| *s) => Ok(()),
                outcome = session => outcome,
            };
            shared.client.connected.store(false, Ordering::Release);
            if let Err(error) = outcome {
                tracing::warn!(master = %addr, %error, "replication from the master stopped; reconnecting");
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(RECONNECT_PAUSE) => {}
        }
    }
}

/// One connection: receive and append, report progress.
async fn follow(stream: TcpStream, shared: &Shared) -> Result<(), HaError> {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let start = shared.store.commit_log_max_offset();
    let (progress_tx, progress_rx) = watch::channel(start);
    tokio::select! {
        r = receive(read, shared, progress_tx) => r,
        r = report(write, shared, progress_rx) => r,
    }
}

/// Writes the offset report at once, on progress, and every heartbeat interval.
async fn report(
    mut write: OwnedWriteHalf,
    shared: &Shared,
    mut progress: watch::Receiver<i64>,
) -> Result<(), HaError> {
    loop {
        let offset = *progress.borrow_and_update();
        write.write_all(&offset.to_be_bytes()).await?;
        shared.client.reported.store(offset, Ordering::Release);
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            () = tokio::time::sleep(shared.settings.heartbeat) => {}
        }
    }
}

/// Reads transfers and appends their whole records.
async fn receive(
    mut read: OwnedReadHalf,
    shared: &Shared,
    progress: watch::Sender<i64>,
) -> Result<(), HaError> {
    let commit_log = shared.store.commit_log().clone();
    let cutter = RecordCutter::new(commit_log.file_size());
    let mut pending = BytesMut::new();
    let mut header = [0u8; TRANSFER_HEADER_LEN];
    // CommitLog offset of `pending`'s first byte, while it holds a torn tail.
    let mut pending_start = 0;
    loop {
        tokio::time::timeout(shared.settings.housekeeping, read.read_exact(&mut header))
            .await
            .map_err(|_| HaError::Expired(shared.settings.housekeeping))??;
        let h = TransferHeader::decode(&header)?;
        let ours = commit_log.max_offset();
        if pending.is_empty() {
            // Java's check; an empty replica takes whatever the master starts at.
            if ours != 0 && h.offset != ours {
                return Err(HaError::OffsetMismatch {
                    master: h.offset,
                    replica: ours,
                });
            }
            pending_start = h.offset;
        } else if h.offset != pending_start + pending.len() as i64 {
            return Err(HaError::OffsetMismatch {
                master: h.offset,
                replica: pending_start + pending.len() as i64,
            });
        }
        shared
            .client
            .master_offset
            .store(h.offset + i64::from(h.size), Ordering::Release);
        if h.size == 0 {
            continue;
        }
        let size = usize::try_from(h.size).unwrap_or(usize::MAX);
        if size > MAX_TRANSFER {
            return Err(WireError::TooLarge {
                size: h.size,
                max: MAX_TRANSFER,
            }
            .into());
        }
        // Straight from the socket into the buffer's spare room (no zero
        // fill); the buffer is reused once the previous chunk is appended.
        // Its one copy is the append into the mapping: reading into the
        // mapping itself would need a store API that checks records after
        // they land.
        let filled = pending.len() + size;
        pending.reserve(size);
        let mut body = (&mut read).take(u64::from(h.size));
        let fill = async {
            while pending.len() < filled {
                if body.read_buf(&mut pending).await? == 0 {
                    return Err(HaError::Closed);
                }
            }
            Ok(())
        };
        tokio::time::timeout(shared.settings.housekeeping, fill)
            .await
            .map_err(|_| HaError::Expired(shared.settings.housekeeping))??;
        let start = pending_start;
        let whole = cutter.whole_prefix(start, &pending);
        if whole == 0 {
            continue;
        }
        let chunk = pending.split_to(whole).freeze();
        let log = commit_log.clone();
        // A memcpy into the mapping, perhaps a new file: off the async workers.
        let end = tokio::task::spawn_blocking(move || log.append_raw(start, &chunk))
            .await
            .map_err(|_| HaError::Closed)??;
        shared.store.wake_dispatcher();
        pending_start = end;
        let _ = progress.send(end);
    }
}
