//! The remoting frame codec for tokio-util's `Framed`.
//!
//! Frame: total length u32 (excluding itself) | serialize type u8 + header
//! length u24 | header | body. The length is checked against the maximum
//! before any buffer is reserved, so a hostile length cannot make us allocate.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::code::SerializeType;
use crate::command::RemotingCommand;
use crate::header_codec::{HeaderCodecError, binary, json};

/// RocketMQ's default `com.rocketmq.remoting.frameMaxLength`: 16 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Why a frame could not be decoded or encoded. Any decode error means the
/// byte stream can no longer be trusted: the connection should be closed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The announced frame length exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The frame is too short to hold its header-length word or header.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// The header's serialize type is neither JSON (0) nor ROCKETMQ (1).
    #[error("unknown header serialize type {0}")]
    UnknownSerializeType(u8),
    /// The header failed to decode or encode.
    #[error(transparent)]
    Header(#[from] HeaderCodecError),
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes and decodes [`RemotingCommand`] frames.
#[derive(Debug, Clone)]
pub struct RemotingCodec {
    max_frame_len: usize,
}

impl Default for RemotingCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl RemotingCodec {
    /// A codec refusing frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len }
    }

    /// The configured maximum frame length.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, CodecError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > self.max_frame_len {
            return Err(CodecError::FrameTooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        if len < 4 {
            return Err(CodecError::Malformed(
                "length shorter than the header-length word",
            ));
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        let mut frame = src.split_to(len);
        decode_frame(&mut frame).map(Some)
    }
}

/// Decodes one frame without its leading total-length word.
fn decode_frame(frame: &mut BytesMut) -> Result<RemotingCommand, CodecError> {
    let word = frame.get_u32();
    let kind = (word >> 24) as u8;
    let header_len = (word & 0x00FF_FFFF) as usize;
    if header_len > frame.len() {
        return Err(CodecError::Malformed("header length exceeds the frame"));
    }
    // Frozen, so that a binary header's strings are views of it, not copies.
    let header = frame.split_to(header_len).freeze();
    let mut cmd = match SerializeType::from_code(kind) {
        Some(SerializeType::Json) => json::decode(&header)?,
        Some(SerializeType::RocketMq) => binary::decode(&header)?,
        None => return Err(CodecError::UnknownSerializeType(kind)),
    };
    // The rest of the frame is the body: a view into the read buffer, no copy.
    cmd.body = std::mem::take(frame).freeze();
    Ok(cmd)
}

/// Writes the frame's length, header-length word and header for a body of
/// `body_len` bytes that the caller sends next (e.g. straight from a mapped
/// file). `dst` then holds everything but the body.
pub fn encode_prefix(
    cmd: &RemotingCommand,
    body_len: usize,
    dst: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = dst.len();
    dst.put_u64(0); // total length and header word, patched below
    match cmd.serialize_type {
        SerializeType::Json => json::encode(cmd, dst),
        SerializeType::RocketMq => binary::encode(cmd, dst)?,
    }
    let header_len = dst.len() - start - 8;
    if header_len > 0x00FF_FFFF {
        dst.truncate(start);
        return Err(CodecError::Malformed("header longer than 16 MiB"));
    }
    let Ok(total) = u32::try_from(4 + header_len + body_len) else {
        dst.truncate(start);
        return Err(CodecError::Malformed("frame longer than 4 GiB"));
    };
    let word = (u32::from(cmd.serialize_type.code()) << 24) | header_len as u32;
    dst[start..start + 4].copy_from_slice(&total.to_be_bytes());
    dst[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    Ok(())
}

impl Encoder<&RemotingCommand> for RemotingCodec {
    type Error = CodecError;

    fn encode(&mut self, cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.reserve(128 + cmd.body.len());
        encode_prefix(cmd, cmd.body.len(), dst)?;
        dst.put_slice(&cmd.body);
        Ok(())
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = CodecError;

    fn encode(&mut self, cmd: RemotingCommand, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&cmd, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::RequestCode;

    fn frame_of(cmd: &RemotingCommand) -> BytesMut {
        let mut out = BytesMut::new();
        RemotingCodec::default().encode(cmd, &mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_both_serializations() {
        for ser in [SerializeType::Json, SerializeType::RocketMq] {
            let mut cmd = RemotingCommand::bare_request(RequestCode::SEND_MESSAGE_V2)
                .with_opaque(9)
                .with_body(&b"hello"[..]);
            cmd.serialize_type = ser;
            cmd.set_ext("b", "topic");
            let mut buf = frame_of(&cmd);
            let got = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
            assert_eq!(got, cmd);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn binary_ext_fields_are_views_of_the_frame() {
        let mut cmd = RemotingCommand::bare_request(RequestCode::SEND_MESSAGE_V2);
        cmd.serialize_type = SerializeType::RocketMq;
        cmd.set_ext("b", "TopicA");
        let mut buf = frame_of(&cmd);
        let frame = buf.as_ptr_range();
        let (start, end) = (frame.start as usize, frame.end as usize);
        let got = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        let value = got
            .ext_fields
            .as_ref()
            .unwrap()
            .get_text("b")
            .unwrap()
            .to_bytes();
        assert_eq!(&value[..], b"TopicA");
        let at = value.as_ptr() as usize;
        assert!(
            start <= at && at + value.len() <= end,
            "copied out of the frame"
        );
    }

    #[test]
    fn waits_for_partial_frames_and_decodes_pipelined_ones() {
        let a = RemotingCommand::bare_request(RequestCode::HEART_BEAT).with_opaque(1);
        let b = RemotingCommand::bare_request(RequestCode::PULL_MESSAGE).with_opaque(2);
        let mut all = frame_of(&a);
        all.extend_from_slice(&frame_of(&b));
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in all {
            buf.put_u8(byte);
            if let Some(cmd) = codec.decode(&mut buf).unwrap() {
                got.push(cmd.opaque);
            }
        }
        assert_eq!(got, vec![1, 2]);
    }

    #[test]
    fn oversized_frames_are_refused_before_allocation() {
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        let err = RemotingCodec::default().decode(&mut buf).unwrap_err();
        assert!(matches!(err, CodecError::FrameTooLarge { .. }));
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let mut codec = RemotingCodec::default();
        for bytes in [
            &[0, 0, 0, 2, 0, 0][..],
            &[0, 0, 0, 4, 0, 0, 0, 9][..],
            &[0, 0, 0, 5, 7, 0, 0, 1, b'{'][..],
            &[0, 0, 0, 5, 0, 0, 0, 1, b'{'][..],
        ] {
            let mut buf = BytesMut::from(bytes);
            assert!(codec.decode(&mut buf).is_err(), "{bytes:?}");
        }
    }
}
