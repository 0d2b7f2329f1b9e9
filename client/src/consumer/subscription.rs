//! Subscriptions: building `SubscriptionData` from a tag or SQL92
//! expression as Java's `FilterAPI` does.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use skylark_protocol::body::SubscriptionData;
use skylark_protocol::message::java_string_hash;

use crate::error::ClientError;

/// What a consumer selects from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSelector {
    /// A tag expression: `*` (everything) or `TagA || TagB`. The broker
    /// filters by tag hash, the client by the tag string.
    Tag(String),
    /// A SQL92 expression over message properties; the broker filters
    /// (it needs `enablePropertyFilter=true`).
    Sql92(String),
}

impl MessageSelector {
    /// Everything (`*`).
    pub fn all() -> Self {
        Self::Tag(SubscriptionData::SUB_ALL.to_owned())
    }
}

/// The subscription of `topic` for `selector`, versioned now.
pub fn build_subscription(
    topic: &str,
    selector: &MessageSelector,
) -> Result<SubscriptionData, ClientError> {
    let mut data = SubscriptionData {
        topic: topic.to_owned(),
        sub_version: now_millis(),
        ..SubscriptionData::default()
    };
    match selector {
        MessageSelector::Tag(expr) => {
            let expr = expr.trim();
            if expr.is_empty() || expr == SubscriptionData::SUB_ALL {
                data.sub_string = SubscriptionData::SUB_ALL.to_owned();
                return Ok(data);
            }
            data.sub_string = expr.to_owned();
            for tag in expr.split("||").map(str::trim).filter(|t| !t.is_empty()) {
                data.tags_set.insert(tag.to_owned());
                data.code_set.insert(java_string_hash(tag));
            }
            if data.tags_set.is_empty() {
                return Err(ClientError::InvalidArgument(format!(
                    "tag expression `{expr}` names no tag"
                )));
            }
        }
        MessageSelector::Sql92(expr) => {
            if expr.trim().is_empty() {
                return Err(ClientError::InvalidArgument(
                    "empty SQL92 expression".to_owned(),
                ));
            }
            data.expression_type = SubscriptionData::EXPRESSION_SQL92.to_owned();
            data.sub_string = expr.clone();
        }
    }
    Ok(data)
}

/// The tags a client keeps of a subscription (empty: all).
pub(crate) fn client_tags(data: &SubscriptionData) -> &BTreeSet<String> {
    static ALL: BTreeSet<String> = BTreeSet::new();
    if data.expression_type == SubscriptionData::EXPRESSION_TAG && !data.class_filter_mode {
        &data.tags_set
    } else {
        &ALL
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_expressions() {
        let all = build_subscription("T", &MessageSelector::Tag(String::new())).unwrap();
        assert_eq!(all.sub_string, "*");
        assert!(all.tags_set.is_empty() && all.code_set.is_empty());
        let two =
            build_subscription("T", &MessageSelector::Tag(" TagA || TagB ||".into())).unwrap();
        assert_eq!(two.sub_string, "TagA || TagB ||");
        assert_eq!(two.tags_set.len(), 2);
        assert!(two.code_set.contains(&java_string_hash("TagA")));
        assert_eq!(two.expression_type, "TAG");
        assert!(two.sub_version > 0);
        assert_eq!(client_tags(&two).len(), 2);
        assert!(build_subscription("T", &MessageSelector::Tag("||".into())).is_err());
    }

    #[test]
    fn sql_expressions() {
        let s = build_subscription("T", &MessageSelector::Sql92("a > 5".into())).unwrap();
        assert_eq!(s.expression_type, "SQL92");
        assert_eq!(s.sub_string, "a > 5");
        assert!(client_tags(&s).is_empty());
        assert!(build_subscription("T", &MessageSelector::Sql92(" ".into())).is_err());
    }
}
