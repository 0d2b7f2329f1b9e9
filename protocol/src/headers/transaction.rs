//! Transactional messages: END_TRANSACTION (37), CHECK_TRANSACTION_STATE (39) and RESUME_CHECK_HALF_MESSAGE (323).

use crate::headers::HeaderError;

/// `commitOrRollback` for "unknown, check again later"
/// (`MessageSysFlag.TRANSACTION_NOT_TYPE`).
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// `commitOrRollback` for commit (`MessageSysFlag.TRANSACTION_COMMIT_TYPE`).
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
/// `commitOrRollback` for rollback (`MessageSysFlag.TRANSACTION_ROLLBACK_TYPE`).
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;

command_header! {
    /// END_TRANSACTION (37) request, oneway (`EndTransactionRequestHeader`).
    ///
    /// `tranStateTableOffset` is the half message's queue offset,
    /// `commitLogOffset` its commit-log offset, `msgId` its UNIQ_KEY and
    /// `commitOrRollback` one of [`TRANSACTION_NOT_TYPE`],
    /// [`TRANSACTION_COMMIT_TYPE`] and [`TRANSACTION_ROLLBACK_TYPE`] (see
    /// [`EndTransactionRequestHeader::validate`]). `fromTransactionCheck`
    /// is false when absent.
    pub struct EndTransactionRequestHeader {
        opt topic: String = "topic",
        req producer_group: String = "producerGroup",
        req tran_state_table_offset: i64 = "tranStateTableOffset",
        req commit_log_offset: i64 = "commitLogOffset",
        req commit_or_rollback: i32 = "commitOrRollback",
        opt from_transaction_check: bool = "fromTransactionCheck",
        req msg_id: String = "msgId",
        opt transaction_id: String = "transactionId",
        opt broker_name: String = "bname",
    }
}

impl EndTransactionRequestHeader {
    /// Java's `checkFields`: `commitOrRollback` must be 0, 8 or 12.
    pub fn validate(&self) -> Result<(), HeaderError> {
        match self.commit_or_rollback {
            TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE | TRANSACTION_ROLLBACK_TYPE => Ok(()),
            other => Err(HeaderError::Malformed {
                field: "commitOrRollback",
                value: other.to_string(),
                expected: "transaction type (0, 8 or 12)",
            }),
        }
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39) request, broker to producer, oneway
    /// (`CheckTransactionStateRequestHeader`). The body is the half message
    /// (`MessageDecoder.encode`) with its real topic and queue restored; the
    /// producer answers with END_TRANSACTION.
    pub struct CheckTransactionStateRequestHeader {
        opt topic: String = "topic",
        req tran_state_table_offset: i64 = "tranStateTableOffset",
        req commit_log_offset: i64 = "commitLogOffset",
        opt msg_id: String = "msgId",
        opt transaction_id: String = "transactionId",
        opt offset_msg_id: String = "offsetMsgId",
        opt broker_name: String = "bname",
    }
}

command_header! {
    /// `CheckTransactionStateResponseHeader`: defined by Java for answers to
    /// CHECK_TRANSACTION_STATE (39), though clients answer with
    /// END_TRANSACTION instead. `commitOrRollback` must be 8 or 12 (see
    /// [`CheckTransactionStateResponseHeader::validate`]).
    pub struct CheckTransactionStateResponseHeader {
        req producer_group: String = "producerGroup",
        req tran_state_table_offset: i64 = "tranStateTableOffset",
        req commit_log_offset: i64 = "commitLogOffset",
        req commit_or_rollback: i32 = "commitOrRollback",
    }
}

impl CheckTransactionStateResponseHeader {
    /// Java's `checkFields`: `commitOrRollback` must be 8 or 12.
    pub fn validate(&self) -> Result<(), HeaderError> {
        match self.commit_or_rollback {
            TRANSACTION_COMMIT_TYPE | TRANSACTION_ROLLBACK_TYPE => Ok(()),
            other => Err(HeaderError::Malformed {
                field: "commitOrRollback",
                value: other.to_string(),
                expected: "transaction type (8 or 12)",
            }),
        }
    }
}

command_header! {
    /// RESUME_CHECK_HALF_MESSAGE (323) request
    /// (`ResumeCheckHalfMessageRequestHeader`): `msgId` is the offset
    /// message id of a half message, which the broker stores again with its
    /// check count reset to 0.
    pub struct ResumeCheckHalfMessageRequestHeader {
        opt topic: String = "topic",
        opt msg_id: String = "msgId",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext_fields::ExtFields;
    use crate::headers::CommandHeader;

    fn end() -> EndTransactionRequestHeader {
        EndTransactionRequestHeader {
            topic: Some("T".into()),
            producer_group: "PG".into(),
            tran_state_table_offset: 17,
            commit_log_offset: 4096,
            commit_or_rollback: TRANSACTION_COMMIT_TYPE,
            from_transaction_check: Some(true),
            msg_id: "7F00000100002A9F0000000000000010".into(),
            transaction_id: Some("tx-1".into()),
            broker_name: Some("broker-a".into()),
        }
    }

    #[test]
    fn end_transaction_round_trip_and_validate() {
        assert_eq!(TRANSACTION_COMMIT_TYPE, 8);
        assert_eq!(TRANSACTION_ROLLBACK_TYPE, 12);
        let h = end();
        let mut f = h.to_ext_fields();
        assert_eq!(f.get("commitOrRollback"), Some("8"));
        let got = EndTransactionRequestHeader::read_from(&f).unwrap();
        assert_eq!(got, h);
        assert_eq!(got.validate(), Ok(()));
        f.insert("commitOrRollback", "4");
        let got = EndTransactionRequestHeader::read_from(&f).unwrap();
        assert!(matches!(
            got.validate(),
            Err(HeaderError::Malformed {
                field: "commitOrRollback",
                ..
            })
        ));
        f.insert("commitOrRollback", "commit");
        assert!(matches!(
            EndTransactionRequestHeader::read_from(&f),
            Err(HeaderError::Malformed {
                field: "commitOrRollback",
                ..
            })
        ));
        f.remove("msgId");
        f.insert("commitOrRollback", "0");
        assert_eq!(
            EndTransactionRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("msgId")
        );
    }

    #[test]
    fn check_transaction_state() {
        let h = CheckTransactionStateRequestHeader {
            topic: Some("T".into()),
            tran_state_table_offset: 17,
            commit_log_offset: 4096,
            msg_id: Some("uniq".into()),
            transaction_id: Some("tx-1".into()),
            offset_msg_id: Some("0A00000100002A9F0000000000001000".into()),
            broker_name: None,
        };
        let mut f = h.to_ext_fields();
        assert_eq!(
            CheckTransactionStateRequestHeader::read_from(&f).unwrap(),
            h
        );
        f.remove("commitLogOffset");
        assert_eq!(
            CheckTransactionStateRequestHeader::read_from(&f).unwrap_err(),
            HeaderError::Missing("commitLogOffset")
        );

        let r = CheckTransactionStateResponseHeader {
            producer_group: "PG".into(),
            tran_state_table_offset: 1,
            commit_log_offset: 2,
            commit_or_rollback: TRANSACTION_ROLLBACK_TYPE,
        };
        let got = CheckTransactionStateResponseHeader::read_from(&r.to_ext_fields()).unwrap();
        assert_eq!(got, r);
        assert_eq!(got.validate(), Ok(()));
        let unknown = CheckTransactionStateResponseHeader {
            commit_or_rollback: TRANSACTION_NOT_TYPE,
            ..r
        };
        assert!(unknown.validate().is_err());
    }

    #[test]
    fn resume_check_half() {
        let h = ResumeCheckHalfMessageRequestHeader {
            topic: None,
            msg_id: Some("uniq".into()),
        };
        assert_eq!(
            ResumeCheckHalfMessageRequestHeader::read_from(&h.to_ext_fields()).unwrap(),
            h
        );
        assert_eq!(
            ResumeCheckHalfMessageRequestHeader::read_from(&ExtFields::new()).unwrap(),
            ResumeCheckHalfMessageRequestHeader::default()
        );
    }
}
