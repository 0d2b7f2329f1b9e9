//! The per-connection writer task: drains the outbound queue in batches and
//! writes each batch with vectored writes.
//!
//! Frames with small bodies are encoded back to back into one reusable
//! buffer (one copy, and one iovec for a whole burst of pipelined replies).
//! A body of [`INLINE_BODY_MAX`] bytes or more — typically a pull response
//! built from slices of the mapped CommitLog — is never copied: its header
//! goes into the buffer and the body `Bytes` is handed to `writev` as its own
//! iovec, so it moves from the page cache to the socket in one kernel copy.

use std::io::IoSlice;
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use skylark_protocol::codec::encode_prefix;
use skylark_protocol::{CodecError, RemotingCommand};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connection::Shared;

/// Bodies at least this long are written from their own buffer, not copied.
pub(crate) const INLINE_BODY_MAX: usize = 16 * 1024;
/// Stop pulling more frames into a batch past this many buffered bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// iovecs per `writev` call (well under every OS's IOV_MAX).
const MAX_IOVECS: usize = 64;

/// One frame for the writer: a command whose body is `cmd.body` followed by
/// `parts` (e.g. the messages of a pull response, each a slice of a mapped
/// file, sent without concatenating them).
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) cmd: RemotingCommand,
    pub(crate) parts: Vec<Bytes>,
}

impl From<RemotingCommand> for Outbound {
    fn from(cmd: RemotingCommand) -> Self {
        Self {
            cmd,
            parts: Vec::new(),
        }
    }
}

/// One contiguous piece of a batch.
#[derive(Debug)]
enum Segment {
    /// A range of the batch's encode buffer.
    Inline(Range<usize>),
    /// A body written from its own buffer.
    Body(Bytes),
}

/// Frames waiting to be written, with a cursor for partial writes. Its
/// buffers are kept between batches, so steady-state writes do not allocate.
#[derive(Debug, Default)]
struct Batch {
    buf: BytesMut,
    segments: Vec<Segment>,
    /// Bytes of the batch, buffered or referenced.
    len: usize,
    /// Index of the first segment not fully written, and bytes of it written.
    cursor: (usize, usize),
}

impl Batch {
    /// Appends one frame; on an encode error the batch is unchanged.
    fn push(&mut self, out: &Outbound) -> Result<(), CodecError> {
        let start = self.buf.len();
        let body_len = out.cmd.body.len() + out.parts.iter().map(Bytes::len).sum::<usize>();
        if let Err(error) = encode_prefix(&out.cmd, body_len, &mut self.buf) {
            // The codec may leave a partial header behind.
            self.buf.truncate(start);
            return Err(error);
        }
        self.extend_inline(start);
        for body in std::iter::once(&out.cmd.body).chain(&out.parts) {
            if body.len() < INLINE_BODY_MAX {
                let start = self.buf.len();
                self.buf.extend_from_slice(body);
                self.extend_inline(start);
            } else {
                self.segments.push(Segment::Body(body.clone()));
                self.len += body.len();
            }
        }
        Ok(())
    }

    /// Records `buf[start..]` as data to write, merging with an inline tail.
    fn extend_inline(&mut self, start: usize) {
        let end = self.buf.len();
        if end == start {
            return;
        }
        self.len += end - start;
        match self.segments.last_mut() {
            Some(Segment::Inline(range)) if range.end == start => range.end = end,
            _ => self.segments.push(Segment::Inline(start..end)),
        }
    }

    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Writes everything with vectored writes, then resets for reuse.
    async fn write_to<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> std::io::Result<()> {
        while self.cursor.0 < self.segments.len() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            let mut skip = self.cursor.1;
            for segment in self.segments[self.cursor.0..].iter().take(MAX_IOVECS) {
                let bytes: &[u8] = match segment {
                    Segment::Inline(range) => &self.buf[range.clone()],
                    Segment::Body(body) => body,
                };
                slices[count] = IoSlice::new(&bytes[skip..]);
                skip = 0;
                count += 1;
            }
            let written = out.write_vectored(&slices[..count]).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.advance(written);
        }
        self.buf.clear();
        self.segments.clear();
        self.len = 0;
        self.cursor = (0, 0);
        Ok(())
    }

    /// Moves the cursor `n` bytes forward.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let (index, offset) = self.cursor;
            let seg_len = match &self.segments[index] {
                Segment::Inline(range) => range.len(),
                Segment::Body(body) => body.len(),
            };
            let left = seg_len - offset;
            if n < left {
                self.cursor.1 += n;
                return;
            }
            n -= left;
            self.cursor = (index + 1, 0);
        }
    }
}

/// Writes queued frames until `finish` (flush what is queued, then FIN) or
/// the connection closes (stop at once). A write error closes the connection.
pub(crate) async fn run<W: AsyncWrite + Unpin>(
    mut out: W,
    mut rx: mpsc::Receiver<Outbound>,
    shared: Arc<Shared>,
    finish: CancellationToken,
) {
    let mut batch = Batch::default();
    // Polled only when the queue or the socket is not ready (see `Signal`).
    let closed = shared.closed.fired();
    tokio::pin!(closed);
    let finished = finish.cancelled();
    tokio::pin!(finished);
    loop {
        if shared.closed.is_fired() {
            return;
        }
        // Queue first, so frames queued before `finish` still go out.
        let first = tokio::select! {
            biased;
            cmd = rx.recv() => cmd,
            () = &mut closed => return,
            () = &mut finished => None,
        };
        let finishing = first.is_none();
        if let Some(cmd) = first {
            add(&mut batch, &cmd, &shared);
        }
        while finishing || batch.len < BATCH_BYTES {
            match rx.try_recv() {
                Ok(cmd) => add(&mut batch, &cmd, &shared),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let result = tokio::select! {
                biased;
                r = batch.write_to(&mut out) => r,
                () = &mut closed => return,
            };
            if let Err(error) = result {
                tracing::debug!(remote = %shared.remote, %error, "write failed, closing connection");
                shared.close();
                return;
            }
        }
        if finishing {
            // Best effort FIN; the peer may already be gone.
            let _ = out.shutdown().await;
            return;
        }
    }
}

/// Adds one frame; one that cannot be encoded is dropped, failing its invoke.
fn add(batch: &mut Batch, out: &Outbound, shared: &Shared) {
    if let Err(error) = batch.push(out) {
        let cmd = &out.cmd;
        tracing::warn!(
            remote = %shared.remote, opaque = cmd.opaque, code = cmd.code, %error,
            "dropping a command that cannot be encoded"
        );
        if !cmd.is_response() {
            shared.fail_pending(cmd, error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylark_protocol::{RemotingCodec, RequestCode};
    use tokio_util::codec::Decoder;

    /// A sink accepting at most `chunk` bytes per write, to exercise partial writes.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            std::task::Poll::Ready(Ok(n))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn mixed_batches_survive_partial_writes() {
        let cmds: Vec<RemotingCommand> = [10usize, 0, 70_000, 5, 20_000, 3]
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                RemotingCommand::bare_request(RequestCode::PULL_MESSAGE)
                    .with_opaque(i as i32)
                    .with_body(vec![i as u8; len])
            })
            .collect();
        for chunk in [1, 7, 4096, usize::MAX] {
            let mut batch = Batch::default();
            for cmd in &cmds {
                batch.push(&Outbound::from(cmd.clone())).unwrap();
            }
            // Large bodies are separate segments, the small frames between merge.
            assert_eq!(batch.segments.len(), 5);
            let mut sink = Trickle {
                out: Vec::new(),
                chunk,
            };
            batch.write_to(&mut sink).await.unwrap();
            assert!(batch.is_empty());
            let mut buf = BytesMut::from(&sink.out[..]);
            let mut codec = RemotingCodec::default();
            for cmd in &cmds {
                assert_eq!(&codec.decode(&mut buf).unwrap().unwrap(), cmd);
            }
            assert!(buf.is_empty());
        }
    }

    #[tokio::test]
    async fn body_parts_follow_the_body_without_concatenation() {
        let big = Bytes::from(vec![1u8; INLINE_BODY_MAX]);
        let out = Outbound {
            cmd: RemotingCommand::bare_request(RequestCode::PULL_MESSAGE)
                .with_opaque(3)
                .with_body(&b"head-"[..]),
            parts: vec![Bytes::from_static(b"small-"), big.clone(), Bytes::new()],
        };
        let mut batch = Batch::default();
        batch.push(&out).unwrap();
        assert_eq!(batch.segments.len(), 2);
        assert!(matches!(&batch.segments[1], Segment::Body(b) if b.as_ptr() == big.as_ptr()));
        let mut sink = Trickle {
            out: Vec::new(),
            chunk: 1000,
        };
        batch.write_to(&mut sink).await.unwrap();
        let got = RemotingCodec::default()
            .decode(&mut BytesMut::from(&sink.out[..]))
            .unwrap()
            .unwrap();
        let mut want = b"head-small-".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(got.body, want);
        assert_eq!(got.opaque, 3);
    }

    #[test]
    fn encode_errors_leave_the_batch_unchanged() {
        let mut batch = Batch::default();
        batch
            .push(&Outbound::from(RemotingCommand::bare_request(
                RequestCode::HEART_BEAT,
            )))
            .unwrap();
        let before = (batch.buf.len(), batch.segments.len(), batch.len);
        // POP codes do not fit the binary header's i16.
        let mut pop = RemotingCommand::bare_request(RequestCode::POP_MESSAGE);
        pop.serialize_type = skylark_protocol::SerializeType::RocketMq;
        assert!(batch.push(&Outbound::from(pop)).is_err());
        assert_eq!(before, (batch.buf.len(), batch.segments.len(), batch.len));
    }
}
