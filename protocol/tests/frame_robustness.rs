//! Property tests for the frame codec: every command round-trips in both
//! serializations, and truncated or random bytes give errors, never panics.
#![allow(clippy::unwrap_used)]

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use proptest::prelude::*;
use skylark_protocol::{
    CodecError, ExtFields, LanguageCode, RemotingCodec, RemotingCommand, SerializeType,
};
use tokio_util::codec::{Decoder, Encoder, FramedRead};

fn arb_command() -> impl Strategy<Value = RemotingCommand> {
    (
        any::<i16>(),
        any::<u8>(),
        any::<i16>(),
        any::<i32>(),
        any::<i32>(),
        proptest::option::of("(?s).{0,40}"),
        proptest::option::of(proptest::collection::vec(
            ("[a-zA-Z]{1,12}", "(?s).{0,30}"),
            0..8,
        )),
        proptest::collection::vec(any::<u8>(), 0..256),
        prop_oneof![Just(SerializeType::Json), Just(SerializeType::RocketMq)],
    )
        .prop_map(
            |(code, lang, version, opaque, flag, remark, fields, body, ser)| {
                let ext_fields = fields.map(|f| f.into_iter().collect::<ExtFields>());
                let binary = ser == SerializeType::RocketMq;
                RemotingCommand {
                    code: code.into(),
                    // JSON carries languages by name: only known ones survive.
                    language: if binary {
                        LanguageCode::from_code(lang)
                    } else {
                        LanguageCode::from_code(lang % 14)
                    },
                    version: version.into(),
                    opaque,
                    flag,
                    // The binary form cannot tell an empty remark or map from none.
                    remark: remark.filter(|r| !(binary && r.is_empty())),
                    ext_fields: ext_fields.filter(|f| !(binary && f.is_empty())),
                    body: Bytes::from(body),
                    serialize_type: ser,
                }
            },
        )
}

fn encode(cmd: &RemotingCommand) -> BytesMut {
    let mut out = BytesMut::new();
    RemotingCodec::default().encode(cmd, &mut out).unwrap();
    out
}

proptest! {
    #[test]
    fn commands_round_trip(cmd in arb_command()) {
        let mut buf = encode(&cmd);
        let back = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        prop_assert_eq!(back, cmd);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn every_truncation_waits_for_more(cmd in arb_command()) {
        let full = encode(&cmd);
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            prop_assert!(RemotingCodec::default().decode(&mut buf).unwrap().is_none());
        }
    }

    #[test]
    fn random_frames_never_panic(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        kind in 0u8..4,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut buf = BytesMut::new();
        buf.put_u32((4 + header.len() + body.len()) as u32);
        buf.put_u32((u32::from(kind) << 24) | header.len() as u32);
        buf.put_slice(&header);
        buf.put_slice(&body);
        // Ok or Err are both fine; only a panic fails.
        let _ = RemotingCodec::default().decode(&mut buf);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut codec = RemotingCodec::new(1024);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }

    #[test]
    fn truncated_binary_headers_are_errors(cmd in arb_command(), cut_seed in any::<usize>()) {
        let mut cmd = cmd;
        cmd.serialize_type = SerializeType::RocketMq;
        let full = encode(&cmd);
        let header_len = (u32::from_be_bytes(full[4..8].try_into().unwrap()) & 0xFF_FFFF) as usize;
        prop_assume!(header_len > 0);
        // Cut the header short but keep the frame well delimited.
        let cut = cut_seed % header_len;
        let mut buf = BytesMut::new();
        buf.put_u32((4 + cut) as u32);
        buf.put_u32((1 << 24) | cut as u32);
        buf.put_slice(&full[8..8 + cut]);
        prop_assert!(RemotingCodec::default().decode(&mut buf).is_err());
    }
}

/// A stream of frames over an async reader stops at the first bad frame with
/// an error, after yielding every good frame before it.
#[tokio::test]
async fn framed_stream_stops_at_garbage() {
    let good = RemotingCommand::default().with_opaque(1);
    let mut bytes = encode(&good).to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 6, 9, 0, 0, 2, b'{', b'}']);
    bytes.extend_from_slice(&encode(&good.clone().with_opaque(2)));
    let mut frames = FramedRead::new(&bytes[..], RemotingCodec::default());
    assert_eq!(frames.next().await.unwrap().unwrap().opaque, 1);
    assert!(matches!(
        frames.next().await.unwrap(),
        Err(CodecError::UnknownSerializeType(9))
    ));
}

#[tokio::test]
async fn framed_stream_reports_eof_mid_frame() {
    let cmd = RemotingCommand::default().with_body(vec![7u8; 100]);
    let bytes = encode(&cmd);
    let mut frames = FramedRead::new(&bytes[..bytes.len() - 1], RemotingCodec::default());
    assert!(frames.next().await.unwrap().is_err());
}
