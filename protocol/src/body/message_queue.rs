//! `MessageQueue` and the fastjson form of maps keyed by it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fastjson::{self, KeyStyle};
use super::lenient::nullable;

/// One queue of a topic on one broker (`org.apache.rocketmq.common.message.MessageQueue`).
///
/// Ordered like Java's `compareTo`: topic, broker name, queue id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    /// Broker (group) name.
    #[serde(deserialize_with = "nullable")]
    pub broker_name: String,
    /// Queue id within the topic on that broker.
    pub queue_id: i32,
    /// Topic.
    #[serde(deserialize_with = "nullable")]
    pub topic: String,
}

impl MessageQueue {
    /// A queue from its parts.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        Self {
            broker_name: broker_name.into(),
            queue_id,
            topic: topic.into(),
        }
    }

    /// The queue's compact fastjson text, as a map key carries it.
    fn key_json(&self) -> Result<String, crate::body::BodyError> {
        let bytes = fastjson::to_vec(self, KeyStyle::Unquoted)?;
        String::from_utf8(bytes).map_err(|e| crate::body::BodyError::NotUtf8 {
            offset: e.utf8_error().valid_up_to(),
        })
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.topic
            .cmp(&other.topic)
            .then_with(|| self.broker_name.cmp(&other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Java's MessageQueue.toString, which logs and admin tools show.
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// serde `with` module for `BTreeMap<MessageQueue, V>` fields.
///
/// Serializing writes each key as a string holding the queue's compact JSON
/// (the normalized form); the body's encoder lists the field so the
/// formatter writes that text raw, as fastjson's object key. Deserializing
/// parses each key string (what `normalize` makes of an object key) back
/// into a queue; `null` reads as an empty map.
pub mod mq_key_map {
    use super::*;

    /// Writes the map with JSON-text keys.
    pub fn serialize<S, V>(map: &BTreeMap<MessageQueue, V>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        V: Serialize,
    {
        let mut m = s.serialize_map(Some(map.len()))?;
        for (mq, v) in map {
            let key = mq.key_json().map_err(serde::ser::Error::custom)?;
            m.serialize_entry(&key, v)?;
        }
        m.end()
    }

    /// Reads a map whose keys are `MessageQueue` JSON text.
    pub fn deserialize<'de, D, V>(d: D) -> Result<BTreeMap<MessageQueue, V>, D::Error>
    where
        D: Deserializer<'de>,
        V: Deserialize<'de>,
    {
        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = BTreeMap<MessageQueue, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map keyed by MessageQueue")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = BTreeMap::new();
                while let Some(key) = access.next_key::<String>()? {
                    let mq: MessageQueue = serde_json::from_str(&key).map_err(|e| {
                        de::Error::custom(format_args!("map key is not a MessageQueue: {e}"))
                    })?;
                    map.insert(mq, access.next_value()?);
                }
                Ok(map)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BTreeMap::new())
            }
        }

        d.deserialize_any(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_java() {
        let mut v = vec![
            MessageQueue::new("b", "a", 0),
            MessageQueue::new("a", "z", 1),
            MessageQueue::new("a", "z", 0),
            MessageQueue::new("a", "b", 9),
        ];
        v.sort();
        assert_eq!(
            v,
            [
                MessageQueue::new("a", "b", 9),
                MessageQueue::new("a", "z", 0),
                MessageQueue::new("a", "z", 1),
                MessageQueue::new("b", "a", 0),
            ]
        );
    }

    #[test]
    fn writes_alphabetical_fields() {
        let mq = MessageQueue::new("T", "broker-a", 3);
        assert_eq!(
            mq.key_json().unwrap(),
            r#"{"brokerName":"broker-a","queueId":3,"topic":"T"}"#
        );
        assert_eq!(
            mq.to_string(),
            "MessageQueue [topic=T, brokerName=broker-a, queueId=3]"
        );
    }

    #[test]
    fn bad_keys_are_errors() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[serde(with = "mq_key_map")]
            #[allow(dead_code)]
            m: BTreeMap<MessageQueue, i64>,
        }
        for s in [
            r#"{"m":{"x":1}}"#,
            r#"{"m":{7:1}}"#,
            r#"{"m":{[1]:1}}"#,
            r#"{"m":[]}"#,
            r#"{"m":{{"queueId":"x"}:1}}"#,
        ] {
            assert!(fastjson::from_slice::<Body>(s.as_bytes()).is_err(), "{s}");
        }
        let ok: Body = fastjson::from_slice(br#"{"m":null}"#).unwrap();
        assert!(ok.m.is_empty());
    }
}
