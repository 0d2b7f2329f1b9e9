//! Storing messages: refuse when not writable, validate, prepare each record
//! (length, BODYCRC, property bytes) before the append lock, encode it
//! straight into the CommitLog mapping under the lock — the body's only
//! copy — and hand back a future that completes once the flush the config
//! asks for is done (`SYNC_FLUSH` with `WAIT` ≠ false), or at once.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use skylark_protocol::message::StoredMessage;
use skylark_protocol::message::msg_id::offset_msg_id;
use skylark_protocol::message::properties::MAX_ENCODED_LEN;
use skylark_protocol::message::topic::validate_topic;

use super::MessageStore;
use super::encode::Prepared;
use crate::commitlog::{AppendResult, PutResult};
use crate::error::{PutMessageStatus, Result, StoreError};
use crate::flush::FlushWait;

/// Buffers above this capacity are given back after use, so one huge
/// batch does not pin memory in every sending thread.
const KEEP_BUFFER: usize = 1 << 20;

thread_local! {
    /// The property bytes of this thread's current put, reused by every put it makes.
    static PROPS_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The outcome of a put (`PutMessageResult`).
#[derive(Debug)]
pub struct PutMessageResult {
    /// RocketMQ's status; [`PutMessageStatus::is_stored`] tells whether the
    /// message is in the CommitLog.
    pub status: PutMessageStatus,
    /// Where the records went (physical offset, queue offset, store
    /// timestamp, bytes, count), when stored.
    pub append: Option<AppendResult>,
    /// Why the put was refused or failed.
    pub error: Option<StoreError>,
    /// The store host written into the record(s).
    store_host: Option<SocketAddr>,
}

impl PutMessageResult {
    fn failed(error: StoreError) -> Self {
        Self {
            status: error.put_status(),
            append: None,
            error: Some(error),
            store_host: None,
        }
    }

    /// Whether the message is stored (`PUT_OK` or a flush/replica timeout).
    pub fn is_stored(&self) -> bool {
        self.status.is_stored()
    }

    /// The offset message id (store host + physical offset) of the first record.
    pub fn offset_msg_id(&self) -> Option<String> {
        Some(offset_msg_id(self.store_host?, self.append?.wrote_offset))
    }
}

/// Completes with the [`PutMessageResult`] once the put's flush is done.
#[derive(Debug)]
#[must_use = "the result says whether the message was stored"]
pub struct PutMessageFuture {
    result: Option<PutMessageResult>,
    flush: Option<FlushWait>,
}

impl PutMessageFuture {
    fn ready(result: PutMessageResult) -> Self {
        Self {
            result: Some(result),
            flush: None,
        }
    }

    /// Blocks the calling thread until the put is complete.
    pub fn wait_blocking(mut self) -> PutMessageResult {
        let status = self.flush.take().map(FlushWait::wait_blocking);
        finish(self.result.take(), status)
    }
}

fn finish(result: Option<PutMessageResult>, flush: Option<PutMessageStatus>) -> PutMessageResult {
    let mut result = result.unwrap_or_else(|| {
        PutMessageResult::failed(StoreError::MessageIllegal("put polled after completion"))
    });
    if let Some(status) = flush {
        if result.status == PutMessageStatus::PutOk {
            result.status = status;
        }
    }
    result
}

impl Future for PutMessageFuture {
    type Output = PutMessageResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PutMessageResult> {
        let this = self.get_mut();
        let status = match this.flush.as_mut() {
            Some(wait) => match Pin::new(wait).poll(cx) {
                Poll::Ready(status) => Some(status),
                Poll::Pending => return Poll::Pending,
            },
            None => None,
        };
        this.flush = None;
        Poll::Ready(finish(this.result.take(), status))
    }
}

impl MessageStore {
    /// Stores one message. The store writes BODYCRC, the physical offset,
    /// the queue offset and the store timestamp; every other field is
    /// written as held (the caller sets queue id, hosts, born time, sysflag).
    pub fn put_message(&self, msg: &StoredMessage) -> PutMessageFuture {
        self.put(std::slice::from_ref(msg), false)
    }

    /// Stores a batch for one topic and queue with consecutive queue offsets,
    /// all in one CommitLog file (`putMessages`). `WAIT` is the first message's.
    pub fn put_messages(&self, msgs: &[StoredMessage]) -> PutMessageFuture {
        self.put(msgs, true)
    }

    fn put(&self, msgs: &[StoredMessage], batch: bool) -> PutMessageFuture {
        if let Err(e) = self.check_put(msgs) {
            return PutMessageFuture::ready(PutMessageResult::failed(e));
        }
        let wait = msgs
            .first()
            .is_some_and(|m| m.properties.wait_store_msg_ok());
        let put = PROPS_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            let out = if batch {
                self.put_encoded_batch(msgs, &mut buf, wait)
            } else {
                self.put_encoded(msgs, &mut buf, wait)
            };
            if buf.capacity() > KEEP_BUFFER {
                *buf = Vec::new();
            }
            out
        });
        match put {
            Ok(PutResult { append, flush }) => {
                self.dispatcher.shared().wake();
                PutMessageFuture {
                    result: Some(PutMessageResult {
                        status: PutMessageStatus::PutOk,
                        append: Some(append),
                        error: None,
                        store_host: msgs.first().map(|m| m.store_host),
                    }),
                    flush: Some(flush),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "put failed");
                PutMessageFuture::ready(PutMessageResult::failed(e))
            }
        }
    }

    /// Appends the one message of `msgs`, encoded straight into the CommitLog.
    fn put_encoded(
        &self,
        msgs: &[StoredMessage],
        scratch: &mut Vec<u8>,
        wait: bool,
    ) -> Result<PutResult> {
        let [msg] = msgs else {
            return Err(StoreError::MessageIllegal("expected one message"));
        };
        let auto_version = self.config.auto_message_version_on_topic_len;
        let p = Prepared::new(msg, scratch, auto_version)?;
        let scratch = &*scratch;
        self.commit_log
            .put_with(p.len, &msg.topic, msg.queue_id, p.sys_flag, wait, |dst| {
                p.write(dst, scratch)
            })
    }

    /// Appends `msgs` as one batch, each encoded straight into the CommitLog.
    fn put_encoded_batch(
        &self,
        msgs: &[StoredMessage],
        scratch: &mut Vec<u8>,
        wait: bool,
    ) -> Result<PutResult> {
        let Some(first) = msgs.first() else {
            return Err(StoreError::MessageIllegal("empty batch"));
        };
        let auto_version = self.config.auto_message_version_on_topic_len;
        let prepared = msgs
            .iter()
            .map(|m| Prepared::new(m, scratch, auto_version))
            .collect::<Result<Vec<_>>>()?;
        let total = prepared.iter().map(|p| p.len).sum();
        let scratch = &*scratch;
        self.commit_log
            .put_batch_with(total, &first.topic, first.queue_id, wait, |dst| {
                let mut at = 0;
                for p in &prepared {
                    let rec = dst
                        .get_mut(at..at + p.len)
                        .ok_or(StoreError::MessageIllegal("batch longer than reserved"))?;
                    p.write(rec, scratch)?;
                    at += p.len;
                }
                Ok(())
            })
    }

    /// Refuses puts the store cannot take, and messages it must not store,
    /// before anything is written.
    fn check_put(&self, msgs: &[StoredMessage]) -> Result<()> {
        self.disk.check_writable()?;
        if !self.is_writable() || self.is_slave() {
            return Err(StoreError::NotWritable);
        }
        let Some(first) = msgs.first() else {
            return Err(StoreError::MessageIllegal("empty batch"));
        };
        for msg in msgs {
            if msg.topic != first.topic || msg.queue_id != first.queue_id {
                return Err(StoreError::MessageIllegal(
                    "a batch must hold one topic and queue",
                ));
            }
            self.check_message(msg)?;
        }
        Ok(())
    }

    fn check_message(&self, msg: &StoredMessage) -> Result<()> {
        let max = self.config.max_message_size;
        if msg.body.len() > max {
            return Err(StoreError::MessageTooLarge {
                len: msg.body.len(),
                max,
            });
        }
        if let Err(reason) = validate_topic(&msg.topic) {
            return Err(StoreError::InvalidTopic {
                topic: msg.topic.clone(),
                reason,
            });
        }
        if !self.config.auto_message_version_on_topic_len
            && msg.topic.len() > msg.version.max_topic_len()
        {
            return Err(StoreError::MessageIllegal(
                "topic too long for record version 1; use version 2",
            ));
        }
        let len = msg.properties.encoded_len();
        if len > MAX_ENCODED_LEN {
            return Err(StoreError::PropertiesTooLong { len });
        }
        if msg.queue_id < 0 {
            return Err(StoreError::MessageIllegal("negative queue id"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
