//! Delay levels (`messageDelayLevel`): level n waits the n-th delay of the
//! list, and its messages wait in queue n − 1 of `SCHEDULE_TOPIC_XXXX`.

use std::fmt;

/// The delay of each level, level 1 first (`ScheduleMessageService.delayLevelTable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DelayLevels {
    delays_ms: Vec<i64>,
}

/// Why `messageDelayLevel` is not a list of delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadDelayLevel {
    /// The entry that did not parse (empty when the list is).
    pub(crate) entry: String,
}

impl fmt::Display for BadDelayLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entry.is_empty() {
            f.write_str("messageDelayLevel lists no delay")
        } else {
            write!(
                f,
                "messageDelayLevel entry {:?} is not a number followed by s, m, h or d",
                self.entry
            )
        }
    }
}

impl DelayLevels {
    /// Reads `"1s 5s 10s … 2h"`. Like Java's `parseDelayLevel`, any entry
    /// that is not a whole number with a unit (s, m, h, d) fails the whole
    /// list — Java then refuses to start the broker, and so do we.
    pub(crate) fn parse(text: &str) -> Result<Self, BadDelayLevel> {
        let delays_ms = text
            .split_whitespace()
            .map(|entry| {
                let bad = || BadDelayLevel {
                    entry: entry.to_owned(),
                };
                let at = entry.char_indices().last().map_or(0, |(at, _)| at);
                let (number, unit) = entry.split_at(at);
                let unit_ms: i64 = match unit {
                    "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return Err(bad()),
                };
                if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                number
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| n.checked_mul(unit_ms))
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays_ms.is_empty() {
            return Err(BadDelayLevel {
                entry: String::new(),
            });
        }
        Ok(Self { delays_ms })
    }

    /// The highest level (`maxDelayLevel`).
    pub(crate) fn max_level(&self) -> i32 {
        i32::try_from(self.delays_ms.len()).unwrap_or(i32::MAX)
    }

    /// Every level with its delay in ms, level 1 first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        (1..).zip(self.delays_ms.iter().copied())
    }

    /// The delay of `level`, if it is one.
    pub(crate) fn delay_ms(&self, level: i32) -> Option<i64> {
        let index = usize::try_from(level.checked_sub(1)?).ok()?;
        self.delays_ms.get(index).copied()
    }

    /// A requested level above the highest becomes the highest, as Java's
    /// `transformDelayLevelMessage` clamps it. `level` must be > 0.
    pub(crate) fn clamp(&self, level: i32) -> i32 {
        level.min(self.max_level())
    }

    /// Java's `correctDeliverTimestamp`: a due time further away than the
    /// level's whole delay (the clock went back, or the level was shortened)
    /// means now.
    pub(crate) fn correct_deliver_timestamp(&self, level: i32, now: i64, deliver_at: i64) -> i64 {
        let latest = now.saturating_add(self.delay_ms(level).unwrap_or(0));
        if deliver_at > latest { now } else { deliver_at }
    }
}

/// The `SCHEDULE_TOPIC_XXXX` queue of `level` (`delayLevel2QueueId`).
pub(crate) fn queue_id(level: i32) -> i32 {
    level - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAVA_DEFAULT: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

    #[test]
    fn parses_javas_default_levels() {
        let levels = DelayLevels::parse(JAVA_DEFAULT).unwrap();
        assert_eq!(levels.max_level(), 18);
        assert_eq!(levels.delay_ms(1), Some(1000));
        assert_eq!(levels.delay_ms(2), Some(5000));
        assert_eq!(levels.delay_ms(3), Some(10_000));
        assert_eq!(levels.delay_ms(5), Some(60_000));
        assert_eq!(levels.delay_ms(18), Some(7_200_000));
        assert_eq!((levels.delay_ms(0), levels.delay_ms(19)), (None, None));
        assert_eq!(levels.delay_ms(-1), None);
        let all: Vec<_> = levels.iter().collect();
        assert_eq!((all[0], all[17]), ((1, 1000), (18, 7_200_000)));
        // Days, and extra whitespace.
        let levels = DelayLevels::parse("  2d\t0s  ").unwrap();
        assert_eq!(
            levels.iter().collect::<Vec<_>>(),
            [(1, 172_800_000), (2, 0)]
        );
    }

    #[test]
    fn a_bad_entry_fails_the_list() {
        for (text, entry) in [
            ("1s 5x 10s", "5x"),
            ("1s s", "s"),
            ("1s -5s", "-5s"),
            ("1s +5s", "+5s"),
            ("1.5s", "1.5s"),
            ("99999999999999999999d", "99999999999999999999d"),
            ("3000000000000000d", "3000000000000000d"),
            ("1é", "1é"),
        ] {
            let error = DelayLevels::parse(text).unwrap_err();
            assert_eq!(error.entry, entry, "{text}");
            assert!(error.to_string().contains(entry), "{error}");
        }
        let error = DelayLevels::parse(" ").unwrap_err();
        assert_eq!(error.to_string(), "messageDelayLevel lists no delay");
    }

    #[test]
    fn levels_above_the_highest_are_clamped() {
        let levels = DelayLevels::parse(JAVA_DEFAULT).unwrap();
        assert_eq!(levels.clamp(1), 1);
        assert_eq!(levels.clamp(18), 18);
        assert_eq!(levels.clamp(19), 18);
        assert_eq!(levels.clamp(i32::MAX), 18);
        assert_eq!((queue_id(1), queue_id(18)), (0, 17));
    }

    #[test]
    fn a_due_time_beyond_the_whole_delay_means_now() {
        let levels = DelayLevels::parse(JAVA_DEFAULT).unwrap();
        let now = 5_000_000;
        // Within the level's delay: kept.
        assert_eq!(
            levels.correct_deliver_timestamp(2, now, now + 5000),
            now + 5000
        );
        assert_eq!(levels.correct_deliver_timestamp(2, now, now - 7), now - 7);
        // Further than 5 s for a 5 s level: the clock went back; deliver now.
        assert_eq!(levels.correct_deliver_timestamp(2, now, now + 5001), now);
    }
}
