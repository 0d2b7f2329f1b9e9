//! Consumer offsets and queue offset queries (codes 14, 15, 29, 30, 31, 32).

use super::command_header;

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) request.
    pub struct QueryConsumerOffsetRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt set_zero_if_not_found: bool = "setZeroIfNotFound",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) response.
    pub struct QueryConsumerOffsetResponseHeader {
        req offset: i64 = "offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
