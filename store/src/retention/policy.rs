//! The pure part of retention: when to delete, how hard, and whether the
//! disk counts as full (`CleanCommitLogService.isSpaceToDelete` and
//! `UtilAll.isItTimeToDo`), free of clocks, files and probes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::HourClock;

/// The disk-usage thresholds of one store, as fractions of the partition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Thresholds {
    /// Above this, expired files are deleted at any hour (`diskMaxUsedSpaceRatio`).
    pub(crate) max_used: f64,
    /// Above this, unexpired files are deleted too (`diskSpaceCleanForciblyRatio`).
    pub(crate) clean_forcibly: f64,
    /// Above this, the store refuses writes (`diskSpaceWarningLevelRatio`).
    pub(crate) warning: f64,
}

/// What the measured usage asks of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Assessment {
    /// Delete expired files now, whatever the hour (`isUsageExceedsThreshold`).
    pub(crate) space_to_delete: bool,
    /// Delete unexpired files too (`cleanImmediately`).
    pub(crate) clean_immediately: bool,
    /// The disk-full flag to set: `Some(true)` full, `Some(false)` fine,
    /// `None` leave as it is.
    pub(crate) disk_full: Option<bool>,
}

/// Judges the usage of the CommitLog's and the ConsumeQueues' partitions
/// (`None` where the probe failed).
///
/// As in Java, a failed probe asks for the deletion of *expired* files (Java
/// reads it as -1, which its `ratio < 0` check turns into "reclaim space"),
/// but it neither forces deletion nor moves the disk-full flag.
///
/// The flag is set above the warning ratio and cleared only at or below the
/// clean-forcibly ratio; in between it stays as it was. Java behaves so for
/// the CommitLog's partition (its check returns early between the two
/// ratios); here both partitions get the same hysteresis, so a disk hovering
/// around 90 % does not flap between refusing and accepting writes.
pub(crate) fn assess(usage: [Option<f64>; 2], t: &Thresholds) -> Assessment {
    let known = usage.iter().flatten().copied();
    let worst = known
        .clone()
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let clean_immediately = worst.is_some_and(|w| w > t.clean_forcibly);
    let probe_failed = usage.iter().any(Option::is_none);
    let space_to_delete =
        clean_immediately || probe_failed || worst.is_some_and(|w| w > t.max_used);
    let disk_full = worst.and_then(|w| {
        if w > t.warning {
            Some(true)
        } else if w <= t.clean_forcibly {
            Some(false)
        } else {
            None
        }
    });
    Assessment {
        space_to_delete,
        clean_immediately,
        disk_full,
    }
}

/// The hour of the day (0–23) at `now` on `clock`, if the time is representable.
pub(crate) fn hour_of(now: SystemTime, clock: HourClock) -> Option<u32> {
    let secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    match clock {
        HourClock::Utc => u32::try_from(secs % 86_400 / 3_600).ok(),
        HourClock::Local => local_hour(secs),
    }
}

/// The local hour via `localtime_r`, which reads `TZ` / `/etc/localtime`.
fn local_hour(secs: u64) -> Option<u32> {
    let t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `tm` is plain data for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `localtime_r` writes only
    // `tm` and keeps no reference to either. (It reads `TZ`, which only an
    // `unsafe` `set_var` elsewhere could race with.)
    let out = unsafe { libc::localtime_r(&t, &mut tm) };
    if out.is_null() {
        return None;
    }
    u32::try_from(tm.tm_hour).ok()
}

/// Whether `now` falls in one of `hours` (`isItTimeToDo` on `deleteWhen`).
pub(crate) fn is_time_up(now: SystemTime, hours: &[u32], clock: HourClock) -> bool {
    hour_of(now, clock).is_some_and(|h| hours.contains(&h))
}

/// Whether a file last modified at `mtime` has outlived `reserved` at `now`
/// (`now >= lastModified + fileReservedTime`); a file modified in the future
/// (a clock step back) is not expired.
pub(crate) fn is_expired(mtime: SystemTime, now: SystemTime, reserved: Duration) -> bool {
    now.duration_since(mtime).is_ok_and(|age| age >= reserved)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        max_used: 0.75,
        clean_forcibly: 0.85,
        warning: 0.90,
    };

    #[test]
    fn usage_levels() {
        let calm = assess([Some(0.5), Some(0.4)], &T);
        assert_eq!(
            calm,
            Assessment {
                space_to_delete: false,
                clean_immediately: false,
                disk_full: Some(false)
            }
        );
        let busy = assess([Some(0.76), Some(0.1)], &T);
        assert!(busy.space_to_delete && !busy.clean_immediately);
        assert_eq!(busy.disk_full, Some(false));
        // The ConsumeQueue partition counts as much as the CommitLog's.
        let forced = assess([Some(0.2), Some(0.86)], &T);
        assert!(forced.space_to_delete && forced.clean_immediately);
        assert_eq!(
            forced.disk_full, None,
            "between 85 % and 90 % the flag stays"
        );
        let full = assess([Some(0.91), Some(0.2)], &T);
        assert!(full.clean_immediately);
        assert_eq!(full.disk_full, Some(true));
        // Exactly at a threshold is not above it.
        assert_eq!(assess([Some(0.90), None], &T).disk_full, None);
        assert!(!assess([Some(0.75), Some(0.75)], &T).space_to_delete);
    }

    #[test]
    fn failed_probes_reclaim_expired_files_only() {
        let a = assess([None, Some(0.3)], &T);
        assert!(a.space_to_delete && !a.clean_immediately);
        assert_eq!(a.disk_full, Some(false));
        let blind = assess([None, None], &T);
        assert!(blind.space_to_delete && !blind.clean_immediately);
        assert_eq!(blind.disk_full, None, "no measurement, no flag change");
    }

    #[test]
    fn hours_in_utc() {
        // 2023-11-14T22:13:20Z.
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(hour_of(t, HourClock::Utc), Some(22));
        assert!(is_time_up(t, &[4, 22], HourClock::Utc));
        assert!(!is_time_up(t, &[4], HourClock::Utc));
        assert!(!is_time_up(t, &[], HourClock::Utc));
        let four = UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 4 * 3_600 + 59 * 60);
        assert!(is_time_up(four, &[4], HourClock::Utc));
        assert!(hour_of(t, HourClock::Local).is_some_and(|h| h < 24));
    }

    #[test]
    fn expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        assert!(is_expired(now - day, now, day));
        assert!(!is_expired(now - day + Duration::from_secs(1), now, day));
        assert!(!is_expired(now + day, now, Duration::ZERO));
    }
}
