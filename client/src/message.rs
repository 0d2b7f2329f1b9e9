//! Messages as this client sends and receives them: the protocol's
//! [`Message`] and [`StoredMessage`], send results, and body
//! (de)compression as Java's client does it.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
pub use skylark_protocol::body::MessageQueue;
use skylark_protocol::message::{CompressionType, MessageSysFlag};
pub use skylark_protocol::message::{Message, StoredMessage};

use crate::error::ClientError;

/// Java's default `compressMsgBodyOverHowmuch`: bodies larger are compressed.
pub const DEFAULT_COMPRESS_OVER: usize = 4 * 1024;
/// Java's default zlib level (`rocketmq.message.compressLevel`).
pub const DEFAULT_COMPRESS_LEVEL: u32 = 5;
/// Largest body a compressed message may inflate to (Java's default
/// `maxMessageSize` is 4 MiB; a bit of headroom for larger broker limits).
pub const MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;

/// How a send ended on the broker (`SendStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed / replicated as the broker is configured).
    SendOk,
    /// Stored, but the sync flush did not finish in time.
    FlushDiskTimeout,
    /// Stored, but the replica did not acknowledge in time.
    FlushSlaveTimeout,
    /// Stored, but no replica is available for a SYNC_MASTER.
    SlaveNotAvailable,
}

/// The answer to a send (`SendResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How it ended.
    pub status: SendStatus,
    /// The client-made id (UNIQ_KEY); for a batch, the ids joined by `,`.
    pub msg_id: String,
    /// The broker's offset message id (store host + CommitLog offset).
    pub offset_msg_id: String,
    /// The queue it went to.
    pub queue: MessageQueue,
    /// Its offset in that queue (a batch: the first message's).
    pub queue_offset: i64,
    /// The transaction id of a half message.
    pub transaction_id: Option<String>,
    /// The broker's region (`MSG_REGION`).
    pub region_id: Option<String>,
}

/// The zlib form of `body` at `level` (Java's `UtilAll.compress`).
pub fn compress_body(body: &[u8], level: u32) -> Result<Bytes, ClientError> {
    let mut enc = ZlibEncoder::new(
        Vec::with_capacity(body.len() / 2 + 64),
        Compression::new(level.min(9)),
    );
    enc.write_all(body)
        .and_then(|()| enc.finish())
        .map(Bytes::from)
        .map_err(|e| ClientError::InvalidArgument(format!("cannot compress body: {e}")))
}

/// Inflates a zlib body, refusing one that grows past [`MAX_INFLATED_BODY`].
pub fn decompress_body(body: &[u8]) -> Result<Bytes, ClientError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_INFLATED_BODY));
    let mut dec = ZlibDecoder::new(body).take(MAX_INFLATED_BODY as u64 + 1);
    dec.read_to_end(&mut out).map_err(ClientError::Inflate)?;
    if out.len() > MAX_INFLATED_BODY {
        return Err(ClientError::InvalidArgument(format!(
            "compressed body inflates past {MAX_INFLATED_BODY} bytes"
        )));
    }
    Ok(Bytes::from(out))
}

/// Inflates `msg`'s body in place when its sysflag says it is compressed,
/// and clears the flag, as Java's `MessageDecoder` does on the consumer side.
pub fn uncompress_stored(msg: &mut StoredMessage) -> Result<(), ClientError> {
    if MessageSysFlag::is_compressed(msg.sys_flag) {
        match MessageSysFlag::compression_type(msg.sys_flag) {
            Some(CompressionType::Zlib) => {}
            Some(_) => return Err(ClientError::Unsupported("LZ4 or ZSTD compressed bodies")),
            None => return Err(ClientError::Unsupported("unknown body compression type")),
        }
        msg.body = decompress_body(&msg.body)?;
        msg.sys_flag = MessageSysFlag::clear_compressed_flag(msg.sys_flag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_round_trip() {
        let body = vec![b'x'; 10_000];
        let z = compress_body(&body, DEFAULT_COMPRESS_LEVEL).unwrap();
        assert!(z.len() < 200);
        assert_eq!(&decompress_body(&z).unwrap()[..], &body[..]);
        assert!(decompress_body(b"not zlib").is_err());
    }
}
