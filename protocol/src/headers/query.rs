//! Message lookups by key and by commit-log offset: QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33).

use crate::ext_fields::ExtFields;

/// QUERY_MESSAGE (12) request extField marking a lookup by UNIQ_KEY rather
/// than by KEYS (`MixAll.UNIQUE_MSG_QUERY_FLAG`). It is not a field of
/// [`QueryMessageRequestHeader`]; use [`set_unique_key_query`] and
/// [`is_unique_key_query`].
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

/// Whether a QUERY_MESSAGE request's extFields ask for a UNIQ_KEY lookup.
///
/// Like the Java broker, only the exact text `"true"` counts (it compares
/// with `equals`, not `Boolean.parseBoolean`).
pub fn is_unique_key_query(fields: &ExtFields) -> bool {
    fields.get(UNIQUE_KEY_QUERY) == Some("true")
}

/// Writes the [`UNIQUE_KEY_QUERY`] extField as the Java client does
/// (`"true"` or `"false"`).
pub fn set_unique_key_query(fields: &mut ExtFields, unique: bool) {
    fields.insert(UNIQUE_KEY_QUERY, if unique { "true" } else { "false" });
}

command_header! {
    /// QUERY_MESSAGE (12) request (`QueryMessageRequestHeader`): messages of
    /// `topic` whose key (or UNIQ_KEY, see [`UNIQUE_KEY_QUERY`]) is `key`,
    /// stored between the two timestamps (ms).
    pub struct QueryMessageRequestHeader {
        req topic: String = "topic",
        req key: String = "key",
        req max_num: i32 = "maxNum",
        req begin_timestamp: i64 = "beginTimestamp",
        req end_timestamp: i64 = "endTimestamp",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_MESSAGE (12) response (`QueryMessageResponseHeader`); the body
    /// is the matching stored records, nothing found is QUERY_NOT_FOUND.
    pub struct QueryMessageResponseHeader {
        req index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        req index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID (33) request (`ViewMessageRequestHeader`): the
    /// record at commit-log `offset`; the response has no header and the
    /// record as body.
    pub struct ViewMessageRequestHeader {
        opt topic: String = "topic",
        req offset: i64 = "offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{CommandHeader, HeaderError};

    #[test]
    fn query_message_round_trip_and_flag() {
        let h = QueryMessageRequestHeader {
            topic: "T".into(),
            key: "order-1".into(),
            max_num: 32,
            begin_timestamp: 0,
            end_timestamp: i64::MAX,
            broker_name: None,
        };
        let mut f = h.to_ext_fields();
        assert!(!is_unique_key_query(&f));
        set_unique_key_query(&mut f, true);
        assert_eq!(f.get("_UNIQUE_KEY_QUERY"), Some("true"));
        assert!(is_unique_key_query(&f));
        assert_eq!(QueryMessageRequestHeader::read_from(&f).unwrap(), h);
        f.insert(UNIQUE_KEY_QUERY, "TRUE");
        assert!(!is_unique_key_query(&f));
        set_unique_key_query(&mut f, false);
        assert!(!is_unique_key_query(&f));

        f.insert("maxNum", "64 ");
        assert!(matches!(
            QueryMessageRequestHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "maxNum",
                ..
            })
        ));
        f.remove("key");
        assert_eq!(
            QueryMessageRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("key")
        );
    }

    #[test]
    fn query_message_response() {
        let r = QueryMessageResponseHeader {
            index_last_update_timestamp: 1_700_000_000_000,
            index_last_update_phyoffset: 1 << 33,
        };
        let mut f = r.to_ext_fields();
        assert_eq!(QueryMessageResponseHeader::read_from(&f).unwrap(), r);
        f.remove("indexLastUpdatePhyoffset");
        assert_eq!(
            QueryMessageResponseHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("indexLastUpdatePhyoffset")
        );
    }

    #[test]
    fn view_message() {
        let h = ViewMessageRequestHeader {
            topic: None,
            offset: 123_456,
        };
        let mut f = h.to_ext_fields();
        assert_eq!(f.len(), 1);
        assert_eq!(ViewMessageRequestHeader::read_from(&f).unwrap(), h);
        f.insert("offset", "0x10");
        assert_eq!(
            ViewMessageRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "offset",
                value: "0x10".into(),
                expected: "64-bit integer"
            }
        );
    }
}
