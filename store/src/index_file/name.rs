//! IndexFile names: the creation time as `yyyyMMddHHmmssSSS`
//! (`UtilAll.timeMillisToHumanString`).
//!
//! Java formats in the JVM's local time zone; we always use UTC so names do
//! not depend on the host's `TZ`. Names only order the files (loading sorts
//! them), so a store written by Java in another zone still loads; files
//! created within the same millisecond as the previous one are bumped to
//! keep the order strict.

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;

/// `yyyyMMddHHmmssSSS` of `ms` since the epoch, in UTC. Years outside
/// 0..=9999 are clamped to keep 17 digits.
pub(super) fn format_name(ms: i64) -> String {
    let min = days_from_civil(0, 1, 1) * DAY_MS;
    let max = days_from_civil(10_000, 1, 1) * DAY_MS - 1;
    let ms = ms.clamp(min, max);
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (mi, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1_000, rem % 1_000);
    format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}{milli:03}")
}

/// The time a name stands for, if it is 17 digits forming a valid UTC time.
pub(super) fn parse_name(name: &str) -> Option<i64> {
    if name.len() != 17 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| name.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s, ms) = (num(8..10)?, num(10..12)?, num(12..14)?, num(14..17)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    // Reject days like Feb 30 that `days_from_civil` would roll over.
    if civil_from_days(days) != (y, mo, d) {
        return None;
    }
    Some(days * DAY_MS + h * 3_600_000 + mi * 60_000 + s * 1_000 + ms)
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_name(0), "19700101000000000");
        // 2021-03-04T05:06:07.089Z
        assert_eq!(format_name(1_614_834_367_089), "20210304050607089");
        // A leap day.
        assert_eq!(format_name(951_782_400_000), "20000229000000000");
        assert_eq!(format_name(i64::MAX), "99991231235959999");
    }

    #[test]
    fn parse_inverts_format() {
        for ms in [
            0,
            1,
            951_782_400_000,
            1_614_834_367_089,
            4_102_444_800_000,
            -1,
        ] {
            assert_eq!(parse_name(&format_name(ms)), Some(ms), "{ms}");
        }
        assert_eq!(parse_name("20210230000000000"), None);
        assert_eq!(parse_name("2021030405060708"), None);
        assert_eq!(parse_name("2021030405606070x"), None);
        assert_eq!(parse_name("20211304050607089"), None);
    }

    #[test]
    fn names_sort_like_times() {
        let a = format_name(1_614_834_367_089);
        let b = format_name(1_614_834_367_090);
        let c = format_name(1_714_834_367_000);
        assert!(a < b && b < c);
    }
}
