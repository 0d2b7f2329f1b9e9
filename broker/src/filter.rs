//! Tag filtering on the broker (`FilterAPI` and `ExpressionMessageFilter`
//! at the ConsumeQueue level): a subscription matches an entry when it is
//! `*` or its code set holds the entry's tags code.

use std::collections::BTreeSet;

use skylark_protocol::body::SubscriptionData;
use skylark_protocol::message::java_string_hash;

/// Why a subscription expression cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FilterError {
    /// An expression type other than TAG while property filtering is off.
    #[error("The broker does not support consumer to filter message by {0}")]
    Unsupported(String),
    /// SQL92 with property filtering on: evaluation is not built yet.
    #[error("SQL92 filtering is not implemented by this broker yet")]
    Sql92NotImplemented,
}

/// `FilterAPI.build`: the subscription of `topic` to a TAG expression
/// (`*`, empty, or tags joined by `||`).
pub(crate) fn build_subscription(
    topic: &str,
    expression: &str,
    expression_type: Option<&str>,
    property_filter_enabled: bool,
) -> Result<SubscriptionData, FilterError> {
    let expression_type = expression_type.unwrap_or(SubscriptionData::EXPRESSION_TAG);
    if expression_type != SubscriptionData::EXPRESSION_TAG {
        return Err(if property_filter_enabled {
            FilterError::Sql92NotImplemented
        } else {
            FilterError::Unsupported(expression_type.to_owned())
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
/// client re-checks the tag string).
pub(crate) fn matches(subscription: &SubscriptionData, tags_code: i64) -> bool {
    subscription.sub_string == SubscriptionData::SUB_ALL
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
    fn sql92_refused_with_reason() {
        assert_eq!(
            build_subscription("T", "a > 1", Some("SQL92"), false),
            Err(FilterError::Unsupported("SQL92".into()))
        );
        assert_eq!(
            build_subscription("T", "a > 1", Some("SQL92"), true),
            Err(FilterError::Sql92NotImplemented)
        );
    }
}
