//! Online clients of a group: GET_CONSUMER_CONNECTION_LIST (203) and
//! GET_PRODUCER_CONNECTION_LIST (204).

use std::collections::BTreeMap;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::lenient::{java_enum_opt, nullable};
use super::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use crate::code::LanguageCode;

/// One connected client (`Connection`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// The client's remote `host:port`.
    #[serde(deserialize_with = "nullable")]
    pub client_addr: String,
    /// The client id.
    #[serde(deserialize_with = "nullable")]
    pub client_id: String,
    /// The client's implementation language (`None` when absent).
    #[serde(with = "language_name", skip_serializing_if = "Option::is_none")]
    pub language: Option<LanguageCode>,
    /// The client's protocol version.
    pub version: i32,
}

/// A consumer group's clients and subscriptions (`ConsumerConnection`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// The online clients.
    #[serde(deserialize_with = "nullable")]
    pub connection_set: Vec<Connection>,
    /// Where new queues start.
    #[serde(
        deserialize_with = "java_enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// Pull, push or pop.
    #[serde(
        deserialize_with = "java_enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_type: Option<ConsumeType>,
    /// Clustering or broadcasting.
    #[serde(
        deserialize_with = "java_enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
    /// Topic → subscription.
    #[serde(deserialize_with = "nullable")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

/// A producer group's clients (`ProducerConnection`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    /// The online clients.
    #[serde(deserialize_with = "nullable")]
    pub connection_set: Vec<Connection>,
}

/// `LanguageCode` by name, as Java's enum; unknown names read as `OTHER`
/// (the header codec's rule) and ordinals as the binary header's codes.
mod language_name {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        v: &Option<LanguageCode>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(l) => s.serialize_str(l.name()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<LanguageCode>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Code(u8),
        }
        Ok(Option::<Raw>::deserialize(d)?.map(|raw| match raw {
            Raw::Name(n) => LanguageCode::from_name(&n),
            Raw::Code(c) => LanguageCode::from_code(c),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::body::test_support::{assert_fields_sorted, check_body};

    fn conn() -> Connection {
        Connection {
            client_addr: "10.0.0.5:53000".into(),
            client_id: "10.0.0.5@1".into(),
            language: Some(LanguageCode::Java),
            version: 479,
        }
    }

    #[test]
    fn field_order() {
        assert_fields_sorted::<Connection>();
        assert_fields_sorted::<ConsumerConnection>();
        assert_fields_sorted::<ProducerConnection>();
    }

    #[test]
    fn consumer_connection_exact_output() {
        let cc = ConsumerConnection {
            connection_set: vec![conn()],
            consume_from_where: Some(ConsumeFromWhere::ConsumeFromFirstOffset),
            consume_type: Some(ConsumeType::ConsumePassively),
            message_model: Some(MessageModel::Clustering),
            subscription_table: [(
                "T".to_owned(),
                SubscriptionData {
                    topic: "T".into(),
                    sub_string: "*".into(),
                    sub_version: 1,
                    ..Default::default()
                },
            )]
            .into(),
        };
        check_body(
            &cc,
            r#"{"connectionSet":[{"clientAddr":"10.0.0.5:53000","clientId":"10.0.0.5@1","language":"JAVA","version":479}],"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"T":{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1,"tagsSet":[],"topic":"T"}}}"#,
        );
        check_body(
            &ConsumerConnection::default(),
            r#"{"connectionSet":[],"subscriptionTable":{}}"#,
        );
    }

    #[test]
    fn producer_connection_exact_output() {
        let mut c = conn();
        c.language = Some(LanguageCode::Go);
        check_body(
            &ProducerConnection {
                connection_set: vec![c],
            },
            r#"{"connectionSet":[{"clientAddr":"10.0.0.5:53000","clientId":"10.0.0.5@1","language":"GO","version":479}]}"#,
        );
    }

    #[test]
    fn language_is_lenient() {
        let p = ProducerConnection::decode(
            br#"{"connectionSet":[{"language":"KOTLIN"},{"language":9},{"language":null},{}]}"#,
        )
        .unwrap();
        let langs: Vec<_> = p.connection_set.iter().map(|c| c.language).collect();
        assert_eq!(
            langs,
            [
                Some(LanguageCode::Other),
                Some(LanguageCode::Go),
                None,
                None
            ]
        );
    }
}
