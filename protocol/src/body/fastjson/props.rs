//! Property tests: writing then normalizing and reading gives back the value,
//! and no input makes the normalizer panic.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::body::{Body, MessageQueue, ResetOffsetBody, TopicOffset, TopicStatsTable};

fn mq() -> impl Strategy<Value = MessageQueue> {
    (any::<String>(), any::<String>(), any::<i32>())
        .prop_map(|(t, b, q)| MessageQueue::new(t, b, q))
}

/// Doubles of at most 14 significant digits. serde_json without its
/// `float_roundtrip` feature reads longer ones up to an ulp off (our text is
/// the shortest exact one; see `java_number`).
fn float() -> impl Strategy<Value = f64> {
    any::<i32>().prop_map(|m| f64::from(m) / 16.0)
}

/// Standard JSON values with arbitrary strings and nesting.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        float().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn integer_keyed_maps_round_trip(
        m in prop::collection::btree_map(
            any::<i64>(),
            prop::collection::btree_map(any::<i32>(), any::<String>(), 0..4),
            0..6,
        )
    ) {
        for style in [KeyStyle::Unquoted, KeyStyle::Quoted] {
            let out = to_vec(&m, style).unwrap();
            let normalized = normalize(&out).unwrap();
            // The normalized text is standard JSON.
            prop_assert!(serde_json::from_str::<serde_json::Value>(&normalized).is_ok());
            let back: BTreeMap<i64, BTreeMap<i32, String>> = from_slice(&out).unwrap();
            prop_assert_eq!(&back, &m);
        }
    }

    #[test]
    fn queue_keyed_maps_round_trip(
        m in prop::collection::btree_map(mq(), any::<i64>(), 0..5),
        t in prop::collection::btree_map(mq(), (any::<i64>(), any::<i64>(), any::<i64>()), 0..5),
        tps in float(),
    ) {
        let reset = ResetOffsetBody { offset_table: m };
        let stats = TopicStatsTable {
            offset_table: t
                .into_iter()
                .map(|(k, (a, b, c))| (k, TopicOffset { last_update_timestamp: a, max_offset: b, min_offset: c }))
                .collect(),
            topic_put_tps: tps,
        };
        for style in [KeyStyle::Unquoted, KeyStyle::Quoted] {
            prop_assert_eq!(&ResetOffsetBody::decode(&reset.encode(style)).unwrap(), &reset);
            prop_assert_eq!(&TopicStatsTable::decode(&stats.encode(style)).unwrap(), &stats);
        }
    }

    #[test]
    fn standard_json_passes_through_borrowed(v in json()) {
        let text = serde_json::to_string(&v).unwrap();
        let out = normalize(text.as_bytes()).unwrap();
        prop_assert!(matches!(out, std::borrow::Cow::Borrowed(_)));
        prop_assert_eq!(out.as_ref(), text.as_str());
        // Our writer's output of the same value reads back equal.
        let ours = to_vec(&v, KeyStyle::Unquoted).unwrap();
        let back: serde_json::Value = from_slice(&ours).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = normalize(&bytes);
        let _ = ResetOffsetBody::decode(&bytes);
    }

    #[test]
    fn mutated_fastjson_never_panics(
        m in prop::collection::btree_map(mq(), any::<i64>(), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = ResetOffsetBody { offset_table: m }.encode(KeyStyle::Unquoted);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        // Whatever normalizes is standard JSON syntax (IgnoredAny checks
        // syntax only: an edit may make a number too big for an f64).
        if let Ok(text) = normalize(&bytes) {
            prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok());
        }
    }
}
