//! Every frame the Java library wrote (both serializations) decodes to the
//! fields it recorded, reads its typed header, and re-encodes byte for byte.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::BytesMut;
use serde_json::Value;
use skylark_protocol::headers::*;
use skylark_protocol::{
    CommandHeader, ExtFields, LanguageCode, RemotingCodec, RemotingCommand, SerializeType,
};
use tokio_util::codec::{Decoder, Encoder};

/// Keys Java writes that a typed header does not own: the broker's
/// `addExtField` extras on send responses.
const EXTRA_KEYS: &[&str] = &["MSG_REGION", "TRACE_ON"];

fn retyped<H: CommandHeader>(fields: &ExtFields) -> ExtFields {
    H::read_from(fields)
        .unwrap_or_else(|e| panic!("{}: {e}", std::any::type_name::<H>()))
        .to_ext_fields()
}

/// Reads the named Java header class as our typed header and writes it back.
fn typed_round_trip(class: &str, fields: &ExtFields) -> Option<ExtFields> {
    Some(match class {
        "SendMessageRequestHeaderV2" => retyped::<SendMessageRequestHeaderV2>(fields),
        "SendMessageRequestHeader" => retyped::<SendMessageRequestHeader>(fields),
        "SendMessageResponseHeader" => retyped::<SendMessageResponseHeader>(fields),
        "PullMessageRequestHeader" => retyped::<PullMessageRequestHeader>(fields),
        "PullMessageResponseHeader" => retyped::<PullMessageResponseHeader>(fields),
        "QueryConsumerOffsetRequestHeader" => retyped::<QueryConsumerOffsetRequestHeader>(fields),
        "QueryConsumerOffsetResponseHeader" => retyped::<QueryConsumerOffsetResponseHeader>(fields),
        "UpdateConsumerOffsetRequestHeader" => retyped::<UpdateConsumerOffsetRequestHeader>(fields),
        "EndTransactionRequestHeader" => retyped::<EndTransactionRequestHeader>(fields),
        "ConsumerSendMsgBackRequestHeader" => retyped::<ConsumerSendMsgBackRequestHeader>(fields),
        "SearchOffsetRequestHeader" => retyped::<SearchOffsetRequestHeader>(fields),
        "SearchOffsetResponseHeader" => retyped::<SearchOffsetResponseHeader>(fields),
        "GetMaxOffsetRequestHeader" => retyped::<GetMaxOffsetRequestHeader>(fields),
        "GetMaxOffsetResponseHeader" => retyped::<GetMaxOffsetResponseHeader>(fields),
        "RegisterBrokerRequestHeader" => retyped::<RegisterBrokerRequestHeader>(fields),
        "RegisterBrokerResponseHeader" => retyped::<RegisterBrokerResponseHeader>(fields),
        "GetRouteInfoRequestHeader" => retyped::<GetRouteInfoRequestHeader>(fields),
        // Java classes with no fields of their own: nothing to type.
        "HeartbeatRequestHeader" | "LockBatchMqRequestHeader" => return None,
        other => panic!("no typed header mapped for Java class {other}"),
    })
}

fn decode_whole(bytes: &[u8]) -> RemotingCommand {
    let mut buf = BytesMut::from(bytes);
    let cmd = RemotingCodec::default()
        .decode(&mut buf)
        .unwrap()
        .expect("a whole frame");
    assert!(buf.is_empty(), "bytes left after the frame");
    cmd
}

fn check_frame(v: &Value) {
    let name = format!("{} ({})", v["name"], v["serialize"]);
    let bytes = support::read_vector(v["file"].as_str().unwrap());
    let cmd = decode_whole(&bytes);

    let ser = match v["serialize"].as_str().unwrap() {
        "JSON" => SerializeType::Json,
        "ROCKETMQ" => SerializeType::RocketMq,
        other => panic!("unknown serialize type {other}"),
    };
    assert_eq!(cmd.serialize_type, ser, "{name}");
    assert_eq!(i64::from(cmd.code), v["code"].as_i64().unwrap(), "{name}");
    assert_eq!(
        cmd.language,
        LanguageCode::from_name(v["language"].as_str().unwrap()),
        "{name}"
    );
    assert_eq!(
        i64::from(cmd.version),
        v["version"].as_i64().unwrap(),
        "{name}"
    );
    assert_eq!(
        i64::from(cmd.opaque),
        v["opaque"].as_i64().unwrap(),
        "{name}"
    );
    assert_eq!(i64::from(cmd.flag), v["flag"].as_i64().unwrap(), "{name}");
    assert_eq!(cmd.remark.as_deref(), v["remark"].as_str(), "{name}");
    let body = match (&v["bodyHex"], &v["bodyRef"]) {
        (Value::String(hex), _) => support::hex(hex),
        // A body that is another vector (a record, a JSON body) names its file.
        (_, Value::String(file)) => support::read_vector(file),
        _ => Vec::new(),
    };
    assert_eq!(cmd.body.as_ref(), body, "{name}");

    // extFields: same entries in the same (wire) order.
    let got: Vec<(&str, &str)> = cmd.ext_fields.iter().flat_map(|f| f.iter()).collect();
    let want: Vec<(&str, &str)> = match (&v["extFieldsOrder"], &v["extFields"]) {
        (Value::Array(order), Value::Object(map)) => order
            .iter()
            .map(|k| {
                let k = k.as_str().unwrap();
                (k, map[k].as_str().unwrap())
            })
            .collect(),
        _ => Vec::new(),
    };
    assert_eq!(got, want, "{name}");

    if let (Some(class), Some(fields)) = (v["header"].as_str(), &cmd.ext_fields)
        && let Some(back) = typed_round_trip(class, fields)
    {
        // Every key Java wrote survives the typed round trip with its value.
        for (k, val) in fields.iter() {
            if EXTRA_KEYS.contains(&k) {
                continue;
            }
            assert_eq!(back.get(k), Some(val), "{name}: typed {class} lost `{k}`");
        }
        assert!(
            back.len() <= fields.len(),
            "{name}: typed {class} invented keys"
        );
    }

    // Byte-for-byte re-encoding.
    let mut out = BytesMut::new();
    RemotingCodec::default().encode(&cmd, &mut out).unwrap();
    assert!(out[..] == bytes[..], "{name}: re-encoding differs");
}

#[test]
fn java_frames_decode_and_re_encode_identically() {
    let frames = support::section("frames");
    assert!(
        frames.len() >= 16,
        "expected at least 8 kinds in two serializations"
    );
    for v in &frames {
        check_frame(v);
    }
}

#[test]
fn frames_cover_both_serializations_of_every_kind() {
    let frames = support::section("frames");
    for v in &frames {
        let other = if v["serialize"] == "JSON" {
            "ROCKETMQ"
        } else {
            "JSON"
        };
        assert!(
            frames
                .iter()
                .any(|w| w["name"] == v["name"] && w["serialize"] == other),
            "{} has no {other} twin",
            v["name"]
        );
    }
}

/// A reply goes back in the serialization of its request.
#[test]
fn replies_use_the_request_serialization() {
    for v in support::section("frames") {
        let cmd = decode_whole(&support::read_vector(v["file"].as_str().unwrap()));
        if cmd.is_response() {
            continue;
        }
        let reply = RemotingCommand::response_to(&cmd, skylark_protocol::ResponseCode::SUCCESS);
        let mut out = BytesMut::new();
        RemotingCodec::default().encode(&reply, &mut out).unwrap();
        assert_eq!(out[4], cmd.serialize_type.code(), "{}", v["name"]);
        assert_eq!(decode_whole(&out).opaque, cmd.opaque);
    }
}
