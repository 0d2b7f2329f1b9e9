//! [`judge`]: what a check pass does with one unresolved half message
//! (the body of Java's `TransactionalMessageServiceImpl.check` loop:
//! `needDiscard`, `needSkip`, the freshness and immunity rules, `isNeedCheck`).

use skylark_protocol::message::StoredMessage;
use skylark_protocol::message::property::{
    TRANSACTION_CHECK_TIMES, TRANSACTION_PREPARED_QUEUE_OFFSET,
};

use super::half::check_immunity_ms;

/// The settings a check pass runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckLimits {
    /// `transactionTimeOut`: age in ms before a half is first checked.
    pub(crate) timeout_ms: i64,
    /// `transactionCheckMax`: checks before a half is discarded.
    pub(crate) check_max: i32,
    /// `fileReservedTime` in ms: a half older than the CommitLog keeps
    /// files is discarded.
    pub(crate) max_age_ms: i64,
}

/// What the pass does with one half that has no op record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Checked too often, or older than files are kept: moved to
    /// `TRANS_CHECK_MAX_TIME_TOPIC`, and the pass moves on.
    Discard,
    /// Too young to check, or stored during this pass: the pass stops at
    /// it until the next one.
    Wait,
    /// The half this copy stands for (`TRAN_PREPARED_QUEUE_OFFSET`) has an
    /// op record: the pass moves past it.
    Resolved,
    /// Within its `CHECK_IMMUNITY_TIME_IN_SECONDS`: stored again behind
    /// the queue's end, naming the half it stands for, so that it does not
    /// hold up the halves after it; the pass moves on.
    Defer {
        /// `TRANSACTION_CHECK_TIMES` of the copy (Java counts these too).
        check_times: i32,
    },
    /// Old enough and unresolved: stored again with `check_times`, and its
    /// producer asked about it.
    Check {
        /// `TRANSACTION_CHECK_TIMES` of the copy.
        check_times: i32,
    },
}

/// Judges `half` at `now` in a pass that started at `pass_started` (epoch
/// ms); `resolved` says whether a half offset has an op record.
pub(crate) fn judge(
    half: &StoredMessage,
    now: i64,
    pass_started: i64,
    limits: &CheckLimits,
    resolved: impl Fn(i64) -> bool,
) -> Verdict {
    let check_times = match half.properties.get(TRANSACTION_CHECK_TIMES) {
        None => 1,
        Some(text) => {
            // Java's getInt reads junk as -1.
            let times = text.parse::<i32>().unwrap_or(-1);
            if times >= limits.check_max {
                return Verdict::Discard;
            }
            times + 1
        }
    };
    let age = now.saturating_sub(half.born_timestamp);
    if age > limits.max_age_ms {
        return Verdict::Discard;
    }
    if half.store_timestamp >= pass_started {
        return Verdict::Wait;
    }
    let immunity = match check_immunity_ms(half, limits.timeout_ms) {
        Some(immunity) => {
            if age < immunity {
                let prepared = half
                    .properties
                    .get(TRANSACTION_PREPARED_QUEUE_OFFSET)
                    .map(|text| text.parse::<i64>().unwrap_or(-1));
                match prepared {
                    None => return Verdict::Defer { check_times },
                    Some(-1) => {}
                    Some(offset) if resolved(offset) => return Verdict::Resolved,
                    Some(_) => return Verdict::Defer { check_times },
                }
            }
            immunity
        }
        None => {
            if (0..limits.timeout_ms).contains(&age) {
                return Verdict::Wait;
            }
            limits.timeout_ms
        }
    };
    // A born time in the future (a producer's clock ahead) is checked at once.
    if age > immunity || age <= -1 {
        Verdict::Check { check_times }
    } else {
        Verdict::Wait
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;
    use skylark_protocol::message::property::CHECK_IMMUNITY_TIME_IN_SECONDS;
    use skylark_protocol::message::{Message, Properties};

    use super::*;

    const LIMITS: CheckLimits = CheckLimits {
        timeout_ms: 6_000,
        check_max: 15,
        max_age_ms: 72 * 3_600_000,
    };
    /// When the pass started; `NOW` is a little later.
    const START: i64 = 1_700_000_000_000;
    const NOW: i64 = START + 5;

    /// A half born `age_ms` before `NOW` and stored just after.
    fn half(age_ms: i64, props: &[(&str, &str)]) -> StoredMessage {
        let mut properties = Properties::new();
        for (name, value) in props {
            properties.insert(*name, *value);
        }
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let mut m = StoredMessage::new(
            Message {
                topic: "RMQ_SYS_TRANS_HALF_TOPIC".into(),
                flag: 0,
                properties,
                body: Bytes::from_static(b"x"),
            },
            host,
            host,
        );
        m.born_timestamp = NOW - age_ms;
        m.store_timestamp = (m.born_timestamp + 1).min(START - 1);
        m
    }

    fn judged(m: &StoredMessage) -> Verdict {
        judge(m, NOW, START, &LIMITS, |_| false)
    }

    #[test]
    fn young_halves_wait_old_ones_are_checked_with_a_count() {
        assert_eq!(judged(&half(0, &[])), Verdict::Wait);
        assert_eq!(judged(&half(5_999, &[])), Verdict::Wait);
        assert_eq!(
            judged(&half(6_000, &[])),
            Verdict::Wait,
            "Java checks only past it"
        );
        assert_eq!(judged(&half(6_001, &[])), Verdict::Check { check_times: 1 });
        assert_eq!(
            judged(&half(60_000, &[(TRANSACTION_CHECK_TIMES, "4")])),
            Verdict::Check { check_times: 5 }
        );
    }

    #[test]
    fn a_half_checked_check_max_times_is_discarded() {
        assert_eq!(
            judged(&half(60_000, &[(TRANSACTION_CHECK_TIMES, "14")])),
            Verdict::Check { check_times: 15 }
        );
        // Discarded even while young: the count is looked at first.
        assert_eq!(
            judged(&half(0, &[(TRANSACTION_CHECK_TIMES, "15")])),
            Verdict::Discard
        );
        assert_eq!(
            judged(&half(60_000, &[(TRANSACTION_CHECK_TIMES, "junk")])),
            Verdict::Check { check_times: 0 },
            "Java reads junk as -1"
        );
        let once = CheckLimits {
            check_max: 0,
            ..LIMITS
        };
        assert_eq!(
            judge(&half(60_000, &[]), NOW, START, &once, |_| false),
            Verdict::Check { check_times: 1 },
            "the first check always happens"
        );
        assert_eq!(
            judge(
                &half(60_000, &[(TRANSACTION_CHECK_TIMES, "1")]),
                NOW,
                START,
                &once,
                |_| false
            ),
            Verdict::Discard
        );
    }

    #[test]
    fn halves_older_than_the_files_are_discarded() {
        assert_eq!(judged(&half(LIMITS.max_age_ms + 1, &[])), Verdict::Discard);
    }

    #[test]
    fn halves_stored_during_the_pass_wait() {
        let mut m = half(60_000, &[]);
        m.store_timestamp = START;
        assert_eq!(judged(&m), Verdict::Wait);
    }

    #[test]
    fn a_future_born_time_is_checked_at_once() {
        assert_eq!(
            judged(&half(-5_000, &[])),
            Verdict::Check { check_times: 1 }
        );
    }

    #[test]
    fn immunity_defers_then_checks() {
        let immune = [(CHECK_IMMUNITY_TIME_IN_SECONDS, "60")];
        assert_eq!(
            judged(&half(10_000, &immune)),
            Verdict::Defer { check_times: 1 }
        );
        assert_eq!(
            judged(&half(61_000, &immune)),
            Verdict::Check { check_times: 1 }
        );
        // A shorter immunity than the timeout checks sooner.
        let short = [(CHECK_IMMUNITY_TIME_IN_SECONDS, "2")];
        assert_eq!(
            judged(&half(3_000, &short)),
            Verdict::Check { check_times: 1 }
        );
    }

    #[test]
    fn a_deferred_copy_is_resolved_through_the_half_it_stands_for() {
        let copy = half(
            10_000,
            &[
                (CHECK_IMMUNITY_TIME_IN_SECONDS, "60"),
                (TRANSACTION_PREPARED_QUEUE_OFFSET, "7"),
                (TRANSACTION_CHECK_TIMES, "1"),
            ],
        );
        assert_eq!(
            judge(&copy, NOW, START, &LIMITS, |offset| offset == 7),
            Verdict::Resolved
        );
        assert_eq!(judged(&copy), Verdict::Defer { check_times: 2 });
        let unknown = half(
            10_000,
            &[
                (CHECK_IMMUNITY_TIME_IN_SECONDS, "60"),
                (TRANSACTION_PREPARED_QUEUE_OFFSET, "-1"),
            ],
        );
        assert_eq!(judged(&unknown), Verdict::Wait);
    }
}
