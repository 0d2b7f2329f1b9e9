//! Message filtering on the broker. Tags filter at the ConsumeQueue level
//! (`ExpressionMessageFilter.isMatchedByConsumeQueue`): a subscription
//! matches an entry when it is `*` or its code set holds the entry's tags
//! code. SQL92 expressions filter on each record's properties
//! (`isMatchedByCommitLog`, see [`sql92`]), compiled once per
//! subscription ([`ConsumerFilters`]).

mod consumer_filters;
pub mod sql92;

use std::collections::BTreeSet;

use skylark_protocol::body::SubscriptionData;
use skylark_protocol::message::java_string_hash;

pub(crate) use consumer_filters::ConsumerFilters;

/// Why a subscription expression cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FilterError {
    /// An expression type other than TAG while property filtering is off.
    #[error("The broker does not support consumer to filter message by {0}")]
    Unsupported(String),
    /// A type other than TAG and SQL92 (Java's `FilterFactory` knows no other).
    #[error("unknown expression type {0}")]
    UnknownType(String),
    /// An SQL92 subscription without an expression (`FilterAPI.build`).
    #[error("Expression can't be null! {0}")]
    EmptyExpression(String),
}

/// `ExpressionType.isTagType`: absent, empty and `TAG` mean tags.
pub(crate) fn is_tag_type(expression_type: &str) -> bool {
    expression_type.is_empty() || expression_type == SubscriptionData::EXPRESSION_TAG
}

/// `FilterAPI.build`: the subscription of `topic` to a TAG expression
/// (`*`, empty, or tags joined by `||`), or to an SQL92 expression (which
/// the caller compiles) when property filtering is on.
pub(crate) fn build_subscription(
    topic: &str,
    expression: &str,
    expression_type: Option<&str>,
    property_filter_enabled: bool,
) -> Result<SubscriptionData, FilterError> {
    let expression_type = expression_type.unwrap_or(SubscriptionData::EXPRESSION_TAG);
    if !is_tag_type(expression_type) {
        if !property_filter_enabled {
            return Err(FilterError::Unsupported(expression_type.to_owned()));
        }
        if expression_type != SubscriptionData::EXPRESSION_SQL92 {
            return Err(FilterError::UnknownType(expression_type.to_owned()));
        }
        if expression.is_empty() {
            return Err(FilterError::EmptyExpression(expression_type.to_owned()));
        }
        return Ok(SubscriptionData {
            topic: topic.to_owned(),
            sub_string: expression.to_owned(),
            expression_type: expression_type.to_owned(),
            ..SubscriptionData::default()
        });
    }
    let mut data = SubscriptionData {
        topic: topic.to_owned(),
        ..SubscriptionData::default()
    };
    let expression = expression.trim();
    if expression.is_empty() || expression == SubscriptionData::SUB_ALL {
        data.sub_string = SubscriptionData::SUB_ALL.to_owned();
        return Ok(data);
    }
    data.sub_string = expression.to_owned();
    let tags: BTreeSet<String> = expression
        .split("||")
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect();
    data.code_set = tags.iter().map(|tag| java_string_hash(tag)).collect();
    data.tags_set = tags;
    Ok(data)
}

/// Whether an entry with `tags_code` passes `subscription` (by hash; the
/// client re-checks the tag string). Any entry passes an SQL92
/// subscription here: its records are filtered by their properties.
pub(crate) fn matches(subscription: &SubscriptionData, tags_code: i64) -> bool {
    !is_tag_type(&subscription.expression_type)
        || subscription.sub_string == SubscriptionData::SUB_ALL
        || subscription.sub_string.is_empty()
        // Java compares the int value of the long tags code.
        || subscription.code_set.contains(&(tags_code as i32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylark_protocol::message::tags_code;

    #[test]
    fn star_and_empty_match_everything() {
        for expression in ["*", "", "  "] {
            let s = build_subscription("T", expression, None, false).unwrap();
            assert_eq!(s.sub_string, "*");
            assert!(matches(&s, 12345));
        }
    }

    #[test]
    fn tags_match_by_java_hash() {
        let s = build_subscription("T", "TagA || TagB", Some("TAG"), false).unwrap();
        assert_eq!(s.tags_set.len(), 2);
        assert!(matches(&s, tags_code(Some("TagA"))));
        assert!(matches(&s, tags_code(Some("TagB"))));
        assert!(!matches(&s, tags_code(Some("TagC"))));
    }

    #[test]
    fn sql92_needs_property_filtering() {
        assert_eq!(
            build_subscription("T", "a > 1", Some("SQL92"), false),
            Err(FilterError::Unsupported("SQL92".into()))
        );
        let s = build_subscription("T", "a > 1", Some("SQL92"), true).unwrap();
        assert_eq!(
            (
                s.topic.as_str(),
                s.sub_string.as_str(),
                s.expression_type.as_str()
            ),
            ("T", "a > 1", "SQL92")
        );
        assert!(s.code_set.is_empty());
        assert!(matches(&s, 12345), "SQL92 filters records, not tags codes");
        assert_eq!(
            build_subscription("T", "", Some("SQL92"), true),
            Err(FilterError::EmptyExpression("SQL92".into()))
        );
        assert_eq!(
            build_subscription("T", "a > 1", Some("SQL"), true),
            Err(FilterError::UnknownType("SQL".into()))
        );
        assert!(build_subscription("T", "*", Some(""), false).is_ok());
    }
}
