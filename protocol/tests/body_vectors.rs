//! Java-made body vectors (`tests/vectors/manifest.json`, "bodies"): each is
//! decoded into its Rust type, re-encoded in the same key style, and must
//! match the original field for field.
//!
//! Java writes `HashMap`/`HashSet` contents in hash order and we write them
//! sorted, so the comparison is order-insensitive: as JSON values with arrays
//! sorted, and as the sorted list of raw scalar tokens, which also pins
//! escapes and number spelling (`\t`, `\u4E1C`, `12.5`) byte for byte.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use skylark_protocol::body::fastjson::normalize;
use skylark_protocol::body::*;

/// Decodes as `T` and re-encodes in `style`.
fn round_trip<T: Body>(bytes: &[u8], style: KeyStyle) -> Result<Vec<u8>, BodyError> {
    Ok(T::decode(bytes)?.encode(style))
}

/// Re-encodes a vector of the Java class `class`; `None` if unsupported.
fn reencode(class: &str, bytes: &[u8], style: KeyStyle) -> Option<Result<Vec<u8>, BodyError>> {
    Some(match class {
        "TopicRouteData" => round_trip::<TopicRouteData>(bytes, style),
        "ClusterInfo" => round_trip::<ClusterInfo>(bytes, style),
        "HeartbeatData" => round_trip::<HeartbeatData>(bytes, style),
        "LockBatchRequestBody" => round_trip::<LockBatchRequestBody>(bytes, style),
        "LockBatchResponseBody" => round_trip::<LockBatchResponseBody>(bytes, style),
        "UnlockBatchRequestBody" => round_trip::<UnlockBatchRequestBody>(bytes, style),
        "TopicConfig" => round_trip::<TopicConfig>(bytes, style),
        "DataVersion" => round_trip::<DataVersion>(bytes, style),
        "TopicConfigSerializeWrapper" => round_trip::<TopicConfigSerializeWrapper>(bytes, style),
        "TopicConfigAndMappingSerializeWrapper" => {
            round_trip::<TopicConfigAndMappingSerializeWrapper>(bytes, style)
        }
        "RegisterBrokerBody" => round_trip::<RegisterBrokerBody>(bytes, style),
        "KVTable" => round_trip::<KVTable>(bytes, style),
        "SubscriptionGroupConfig" => round_trip::<SubscriptionGroupConfig>(bytes, style),
        "SubscriptionGroupWrapper" => round_trip::<SubscriptionGroupWrapper>(bytes, style),
        "ConsumeStats" => round_trip::<ConsumeStats>(bytes, style),
        "TopicStatsTable" => round_trip::<TopicStatsTable>(bytes, style),
        "ResetOffsetBody" => round_trip::<ResetOffsetBody>(bytes, style),
        "OffsetSerializeWrapper" => round_trip::<OffsetSerializeWrapper>(bytes, style),
        "ConsumerConnection" => round_trip::<ConsumerConnection>(bytes, style),
        "ProducerConnection" => round_trip::<ProducerConnection>(bytes, style),
        "GetConsumerListByGroupResponseBody" => {
            round_trip::<GetConsumerListByGroupResponseBody>(bytes, style)
        }
        "TopicList" => round_trip::<TopicList>(bytes, style),
        "GroupList" => round_trip::<GroupList>(bytes, style),
        "ConsumerOffsetSerializeWrapper" => {
            round_trip::<ConsumerOffsetSerializeWrapper>(bytes, style)
        }
        "TopicQueueMappingInfo" => round_trip::<TopicQueueMappingInfo>(bytes, style),
        "TopicQueueMappingDetail" => round_trip::<TopicQueueMappingDetail>(bytes, style),
        _ => return None,
    })
}

/// The value with every array sorted (Java sets come in hash order).
fn canonical(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
            items.sort_by_cached_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        other => other,
    }
}

/// Raw text of every string, number and literal token, sorted.
fn scalar_tokens(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                tokens.push(&text[start..i]);
            }
            c if c.is_ascii_alphanumeric() || c == b'-' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b"+-.".contains(&b[i])) {
                    i += 1;
                }
                tokens.push(&text[start..i]);
            }
            _ => i += 1,
        }
    }
    tokens.sort_unstable();
    tokens
}

#[test]
fn java_body_vectors_round_trip() {
    let bodies = support::section("bodies");
    assert!(!bodies.is_empty(), "manifest lists no bodies");
    let (mut unsupported, mut identical) = (Vec::new(), 0);
    for entry in &bodies {
        let name = entry["name"].as_str().unwrap();
        let class = entry["class"].as_str().unwrap();
        let class = class.rsplit('.').next().unwrap();
        let encoded_with = entry["encodedWith"].as_str().unwrap_or("");
        let style = if encoded_with.contains("BrowserCompatible") {
            KeyStyle::Quoted
        } else {
            KeyStyle::Unquoted
        };
        let original = support::read_vector(entry["file"].as_str().unwrap());
        let Some(ours) = reencode(class, &original, style) else {
            unsupported.push(format!("{name} ({class})"));
            continue;
        };
        let ours = ours.unwrap_or_else(|e| panic!("{name}: decoding as {class} failed: {e}"));
        if ours == original {
            identical += 1;
        }
        let theirs_text = normalize(&original).unwrap();
        let ours_text = normalize(&ours).unwrap();
        let theirs_value: Value = serde_json::from_str(&theirs_text).unwrap();
        let ours_value: Value = serde_json::from_str(&ours_text).unwrap();
        assert_eq!(
            canonical(ours_value),
            canonical(theirs_value),
            "{name}: fields differ\n java: {}\n ours: {}",
            String::from_utf8_lossy(&original),
            String::from_utf8_lossy(&ours)
        );
        assert_eq!(
            scalar_tokens(&ours_text),
            scalar_tokens(&theirs_text),
            "{name}: escapes or number text differ\n java: {}\n ours: {}",
            String::from_utf8_lossy(&original),
            String::from_utf8_lossy(&ours)
        );
    }
    assert!(unsupported.is_empty(), "no Rust type for: {unsupported:?}");
    println!(
        "{} body vectors match; {identical} byte-identical",
        bodies.len()
    );
}

#[test]
fn java_body_vectors_reject_truncation() {
    for entry in &support::section("bodies") {
        let original = support::read_vector(entry["file"].as_str().unwrap());
        let end = original
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap();
        for cut in 0..=end {
            assert!(
                normalize(&original[..cut]).is_err(),
                "{}: accepted {cut}-byte prefix",
                entry["name"]
            );
        }
    }
}
