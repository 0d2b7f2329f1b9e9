//! Consumer offsets and queue offset queries (codes 14, 15, 29, 30, 31, 32).

use crate::headers::ExtValue;

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) request (`QueryConsumerOffsetRequestHeader`).
    ///
    /// Java clients leave `setZeroIfNotFound` null; the broker treats an
    /// absent value as true.
    pub struct QueryConsumerOffsetRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt set_zero_if_not_found: bool = "setZeroIfNotFound",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) response (`QueryConsumerOffsetResponseHeader`).
    pub struct QueryConsumerOffsetResponseHeader {
        req offset: i64 = "offset",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request (`UpdateConsumerOffsetRequestHeader`);
    /// the response has no header.
    pub struct UpdateConsumerOffsetRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req commit_offset: i64 = "commitOffset",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30) request (`GetMaxOffsetRequestHeader`).
    ///
    /// `committed` is a Java primitive defaulting to true when absent; see
    /// [`GetMaxOffsetRequestHeader::committed_or_default`].
    pub struct GetMaxOffsetRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt committed: bool = "committed",
        opt broker_name: String = "bname",
    }
}

impl GetMaxOffsetRequestHeader {
    /// `committed`, true when absent (Java's default).
    pub fn committed_or_default(&self) -> bool {
        self.committed.unwrap_or(true)
    }
}

command_header! {
    /// GET_MAX_OFFSET (30) response (`GetMaxOffsetResponseHeader`).
    pub struct GetMaxOffsetResponseHeader {
        req offset: i64 = "offset",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31) request (`GetMinOffsetRequestHeader`).
    pub struct GetMinOffsetRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31) response (`GetMinOffsetResponseHeader`).
    pub struct GetMinOffsetResponseHeader {
        req offset: i64 = "offset",
    }
}

/// Which end of a run of equal store times SEARCH_OFFSET_BY_TIMESTAMP returns
/// (Java's `BoundaryType`).
///
/// Written as the enum name (`LOWER`/`UPPER`, Java's `toString`); read as
/// Java's `BoundaryType.getType`: `upper` in any case is [`BoundaryType::Upper`],
/// anything else [`BoundaryType::Lower`], so reading never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BoundaryType {
    /// The first matching offset (`LOWER`, the default).
    #[default]
    Lower,
    /// The last matching offset (`UPPER`).
    Upper,
}

impl ExtValue for BoundaryType {
    const EXPECTED: &'static str = "boundary type";
    fn parse_ext(s: &str) -> Option<Self> {
        Some(if s.eq_ignore_ascii_case("upper") {
            Self::Upper
        } else {
            Self::Lower
        })
    }
    fn to_ext(&self) -> String {
        match self {
            Self::Lower => "LOWER",
            Self::Upper => "UPPER",
        }
        .to_owned()
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request (`SearchOffsetRequestHeader`);
    /// `timestamp` in ms, absent `boundaryType` means [`BoundaryType::Lower`].
    pub struct SearchOffsetRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req timestamp: i64 = "timestamp",
        opt boundary_type: BoundaryType = "boundaryType",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) response (`SearchOffsetResponseHeader`).
    pub struct SearchOffsetResponseHeader {
        req offset: i64 = "offset",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request (`GetEarliestMsgStoretimeRequestHeader`).
    pub struct GetEarliestMsgStoretimeRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) response (`GetEarliestMsgStoretimeResponseHeader`);
    /// `timestamp` in ms.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        req timestamp: i64 = "timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext_fields::ExtFields;
    use crate::headers::{CommandHeader, HeaderError};

    #[test]
    fn round_trip_and_missing_field() {
        let h = QueryConsumerOffsetRequestHeader {
            consumer_group: "CG".into(),
            topic: "T".into(),
            queue_id: 3,
            set_zero_if_not_found: None,
            broker_name: Some("broker-a".into()),
        };
        let f = h.to_ext_fields();
        assert_eq!(f.get("queueId"), Some("3"));
        assert_eq!(f.get("setZeroIfNotFound"), None);
        assert_eq!(QueryConsumerOffsetRequestHeader::read_from(&f).unwrap(), h);
        let mut f = f;
        f.remove("topic");
        assert_eq!(
            QueryConsumerOffsetRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("topic")
        );
    }

    #[test]
    fn update_offset_round_trip_and_malformed() {
        let h = UpdateConsumerOffsetRequestHeader {
            consumer_group: "CG".into(),
            topic: "T".into(),
            queue_id: 0,
            commit_offset: 1234,
            broker_name: None,
        };
        let mut f = h.to_ext_fields();
        assert_eq!(f.get("commitOffset"), Some("1234"));
        assert_eq!(UpdateConsumerOffsetRequestHeader::read_from(&f).unwrap(), h);
        f.insert("commitOffset", "1.5");
        assert_eq!(
            UpdateConsumerOffsetRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Malformed {
                field: "commitOffset",
                value: "1.5".into(),
                expected: "64-bit integer"
            }
        );
        f.remove("consumerGroup");
        assert_eq!(
            UpdateConsumerOffsetRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("consumerGroup")
        );
    }

    #[test]
    fn max_min_offsets() {
        let h = GetMaxOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 7,
            committed: None,
            broker_name: None,
        };
        assert!(h.committed_or_default());
        let f = h.to_ext_fields();
        assert_eq!(f.len(), 2);
        assert_eq!(GetMaxOffsetRequestHeader::read_from(&f).unwrap(), h);
        // Java always writes the primitive.
        let f: ExtFields = [("topic", "T"), ("queueId", "7"), ("committed", "false")]
            .into_iter()
            .collect();
        assert!(
            !GetMaxOffsetRequestHeader::read_from(&f)
                .unwrap()
                .committed_or_default()
        );
        let min = GetMinOffsetRequestHeader::read_from(&f).unwrap();
        assert_eq!(min.queue_id, 7);
        let f: ExtFields = [("topic", "T"), ("queueId", " 7")].into_iter().collect();
        assert!(matches!(
            GetMinOffsetRequestHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "queueId",
                ..
            })
        ));
        for h in [5, -1] {
            let r = GetMaxOffsetResponseHeader { offset: h };
            assert_eq!(
                GetMaxOffsetResponseHeader::read_from(&r.to_ext_fields()).unwrap(),
                r
            );
            let r = GetMinOffsetResponseHeader { offset: h };
            assert_eq!(
                GetMinOffsetResponseHeader::read_from(&r.to_ext_fields()).unwrap(),
                r
            );
        }
        assert_eq!(
            GetMaxOffsetResponseHeader::read_from(&ExtFields::new()).unwrap_err(),
            HeaderError::Missing("offset")
        );
    }

    #[test]
    fn search_offset_and_boundary_type() {
        let h = SearchOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 1,
            timestamp: 1_700_000_000_000,
            boundary_type: Some(BoundaryType::Upper),
            broker_name: Some("b".into()),
        };
        let mut f = h.to_ext_fields();
        assert_eq!(f.get("boundaryType"), Some("UPPER"));
        assert_eq!(SearchOffsetRequestHeader::read_from(&f).unwrap(), h);
        for (text, want) in [
            ("upper", BoundaryType::Upper),
            ("UpPeR", BoundaryType::Upper),
            ("lower", BoundaryType::Lower),
            ("sideways", BoundaryType::Lower),
        ] {
            f.insert("boundaryType", text);
            let got = SearchOffsetRequestHeader::read_from(&f).unwrap();
            assert_eq!(got.boundary_type, Some(want));
        }
        f.remove("timestamp");
        assert_eq!(
            SearchOffsetRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("timestamp")
        );
        let r = SearchOffsetResponseHeader { offset: 9 };
        assert_eq!(
            SearchOffsetResponseHeader::read_from(&r.to_ext_fields()).unwrap(),
            r
        );
    }

    #[test]
    fn earliest_store_time() {
        let h = GetEarliestMsgStoretimeRequestHeader {
            topic: "T".into(),
            queue_id: 2,
            broker_name: None,
        };
        assert_eq!(
            GetEarliestMsgStoretimeRequestHeader::read_from(&h.to_ext_fields()).unwrap(),
            h
        );
        let r = GetEarliestMsgStoretimeResponseHeader {
            timestamp: 1_700_000_000_000,
        };
        let mut f = r.to_ext_fields();
        assert_eq!(
            GetEarliestMsgStoretimeResponseHeader::read_from(&f).unwrap(),
            r
        );
        f.insert("timestamp", "9223372036854775808");
        assert!(matches!(
            GetEarliestMsgStoretimeResponseHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "timestamp",
                ..
            })
        ));
    }
}
