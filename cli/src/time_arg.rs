//! TIME arguments (`--from`, `--to-time`) and DURATION arguments (`--duration`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a TIME argument accepts, for `--help`.
pub(crate) const TIME_HELP: &str = "TIME is milliseconds since the epoch (1795791600000), a UTC \
     date-time (2026-11-27T15:00:00Z, `2026-11-27 15:00:00`, 2026-11-27), `now`, or a duration \
     ago (`10m`, `1h30m`, `2d`)";

/// A point in time, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpochMillis(pub(crate) i64);

/// Parses a TIME argument (see [`TIME_HELP`]) relative to `now`.
pub(crate) fn parse_time_at(text: &str, now: SystemTime) -> Result<EpochMillis, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(millis_of(now));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map(EpochMillis)
            .map_err(|e| format!("{text:?}: {e}"));
    }
    let date_only = text.len() == 10 && text.as_bytes().get(4) == Some(&b'-');
    let stamp = if date_only {
        humantime::parse_rfc3339_weak(&format!("{text} 00:00:00"))
    } else {
        humantime::parse_rfc3339_weak(text.trim_end_matches(['Z', 'z']))
    };
    if let Ok(time) = stamp {
        return Ok(millis_of(time));
    }
    let ago = text.trim_end_matches(" ago").trim_start_matches('-');
    match humantime::parse_duration(ago) {
        Ok(duration) => Ok(millis_of(now.checked_sub(duration).unwrap_or(UNIX_EPOCH))),
        Err(_) => Err(format!("{text:?} is not a TIME: {TIME_HELP}")),
    }
}

/// clap's parser for TIME arguments.
pub(crate) fn parse_time(text: &str) -> Result<EpochMillis, String> {
    parse_time_at(text, SystemTime::now())
}

/// clap's parser for DURATION arguments (`30s`, `2m`, `500ms`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 30s, 2m or 500ms: {e}"))
}

/// `time` in milliseconds since the epoch (0 before it).
pub(crate) fn millis_of(time: SystemTime) -> EpochMillis {
    EpochMillis(
        time.duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    )
}

/// A table cell for a time that may never have happened: the date-time,
/// or `-` when `millis` is 0 or less (RocketMQ's "never").
pub(crate) fn format_millis_or_dash(millis: i64) -> String {
    if millis > 0 {
        format_millis(millis)
    } else {
        "-".to_owned()
    }
}

/// Milliseconds since the epoch as a UTC date-time with milliseconds.
pub(crate) fn format_millis(millis: i64) -> String {
    let Ok(millis) = u64::try_from(millis) else {
        return millis.to_string();
    };
    let time = UNIX_EPOCH + Duration::from_millis(millis);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Result<i64, String> {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_791_600);
        parse_time_at(text, now).map(|t| t.0)
    }

    #[test]
    fn every_documented_form_parses() {
        assert_eq!(at("1795791600000"), Ok(1_795_791_600_000));
        assert_eq!(at("2026-11-27T15:00:00Z"), Ok(1_795_791_600_000));
        assert_eq!(at("2026-11-27 15:00:00"), Ok(1_795_791_600_000));
        assert_eq!(at("2026-11-27"), Ok(1_795_737_600_000));
        assert_eq!(at("now"), Ok(1_795_791_600_000));
        assert_eq!(at("10m"), Ok(1_795_791_000_000));
        assert_eq!(at("-10m"), Ok(1_795_791_000_000));
        assert_eq!(at("1h30m ago"), Ok(1_795_786_200_000));
    }

    #[test]
    fn garbage_is_refused_with_the_accepted_forms() {
        let error = at("yesterday-ish").unwrap_err();
        assert!(error.contains("milliseconds since the epoch"), "{error}");
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn millis_format_as_utc() {
        assert_eq!(format_millis(1_795_791_600_123), "2026-11-27T15:00:00.123Z");
        assert_eq!(format_millis(-5), "-5");
        assert_eq!(format_millis_or_dash(0), "-");
        assert_eq!(
            format_millis_or_dash(1_795_791_600_123),
            "2026-11-27T15:00:00.123Z"
        );
    }
}
