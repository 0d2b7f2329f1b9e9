//! UNIQ_KEY ids as `MessageClientIDSetter` makes them: uppercase hex of
//! IP (4 or 16 bytes) + PID (2) + class-loader hash (4) + milliseconds since
//! the start of the current month (4) + counter (2).
//!
//! Java takes "the current month" in the JVM's default time zone; we use UTC,
//! so ids made or read here may place the month boundary up to a day apart
//! from a Java client in another zone. The time part is only ever used as an
//! approximation (`getNearlyTimeFromID`), so this does not affect matching.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::hex::{decode_hex, push_hex};
use super::msg_id::{MsgIdError, split_hex};

/// Hex length of a UNIQ_KEY made on an IPv4 host (16 bytes).
pub const UNIQ_KEY_V4_LEN: usize = 32;
/// Hex length of a UNIQ_KEY made on an IPv6 host (28 bytes).
pub const UNIQ_KEY_V6_LEN: usize = 56;

const MS_PER_DAY: i64 = 86_400_000;

/// Makes UNIQ_KEY ids; cheap to share between threads.
#[derive(Debug)]
pub struct UniqIdGenerator {
    /// Hex of IP + PID + class-loader hash, the same for every id.
    prefix: String,
    /// Only its low 16 bits are written, as Java writes its int counter.
    counter: AtomicU32,
    /// Start of the month ids are measured from (UTC, epoch ms).
    month_start_ms: AtomicI64,
    /// Start of the next month, when `month_start_ms` must move on.
    next_month_start_ms: AtomicI64,
}

impl UniqIdGenerator {
    /// A generator for this process on `ip`: the PID's low 16 bits and a
    /// per-process random number standing in for Java's class-loader hash.
    pub fn new(ip: IpAddr) -> Self {
        // Java writes `(short) pid`: the truncation is the format.
        let pid = (std::process::id() & 0xFFFF) as u16;
        Self::with_parts(ip, pid, process_hash())
    }

    /// A generator with every fixed part given, for tests and replays.
    pub fn with_parts(ip: IpAddr, pid: u16, class_loader_hash: i32) -> Self {
        let mut prefix = String::with_capacity(UNIQ_KEY_V6_LEN);
        match ip {
            IpAddr::V4(ip) => push_hex(&mut prefix, &ip.octets()),
            IpAddr::V6(ip) => push_hex(&mut prefix, &ip.octets()),
        }
        push_hex(&mut prefix, &pid.to_be_bytes());
        push_hex(&mut prefix, &class_loader_hash.to_be_bytes());
        Self {
            prefix,
            counter: AtomicU32::new(0),
            // Forces the first id to compute the month bounds.
            month_start_ms: AtomicI64::new(0),
            next_month_start_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// A new id for the current time.
    pub fn next_id(&self) -> String {
        self.next_id_at(now_ms())
    }

    /// A new id as if made at `now_ms` (epoch milliseconds).
    pub fn next_id_at(&self, now_ms: i64) -> String {
        if now_ms >= self.next_month_start_ms.load(Ordering::Acquire) {
            // Racing threads compute the same bounds, so a lost race is harmless.
            let start = month_start_utc(now_ms);
            self.month_start_ms.store(start, Ordering::Release);
            self.next_month_start_ms
                .store(next_month_start_utc(start), Ordering::Release);
        }
        let start = self.month_start_ms.load(Ordering::Acquire);
        // Java's `(int)` cast keeps the low 32 bits.
        let mut diff = now_ms.wrapping_sub(start) as i32;
        if diff < 0 && diff > -1_000_000 {
            // A small step back (NTP) reads as the month's start, as in Java.
            diff = 0;
        }
        let counter = self.counter.fetch_add(1, Ordering::Relaxed) as u16;
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        push_hex(&mut id, &diff.to_be_bytes());
        push_hex(&mut id, &counter.to_be_bytes());
        id
    }
}

/// A per-process random i32, fixed for the process's life like a JVM's
/// class-loader identity hash.
fn process_hash() -> i32 {
    static HASH: OnceLock<i32> = OnceLock::new();
    *HASH.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        // Any 32 bits of the random hash will do.
        h.finish() as i32
    })
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A decoded UNIQ_KEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UniqKey {
    /// IP of the client that made it.
    pub ip: IpAddr,
    /// Low 16 bits of its process id.
    pub pid: u16,
    /// Its class-loader hash (any per-process number).
    pub class_loader_hash: i32,
    /// Milliseconds since the start of the month it was made in.
    pub ms_since_month_start: u32,
    /// Low 16 bits of its process-wide counter.
    pub counter: u16,
}

impl UniqKey {
    /// Parses an id of 32 (IPv4) or 56 (IPv6) hex digits, either case.
    pub fn parse(id: &str) -> Result<Self, MsgIdError> {
        let (ip, tail_hex) = match id.len() {
            UNIQ_KEY_V4_LEN => {
                let (ip_hex, tail) = split_hex(id, 8)?;
                let mut ip = [0u8; 4];
                decode_hex(ip_hex, &mut ip).ok_or(MsgIdError::NotHex)?;
                (IpAddr::V4(Ipv4Addr::from(ip)), tail)
            }
            UNIQ_KEY_V6_LEN => {
                let (ip_hex, tail) = split_hex(id, 32)?;
                let mut ip = [0u8; 16];
                decode_hex(ip_hex, &mut ip).ok_or(MsgIdError::NotHex)?;
                (IpAddr::V6(Ipv6Addr::from(ip)), tail)
            }
            n => return Err(MsgIdError::BadLength(n)),
        };
        let mut tail = [0u8; 12];
        decode_hex(tail_hex, &mut tail).ok_or(MsgIdError::NotHex)?;
        let [p0, p1, h0, h1, h2, h3, t0, t1, t2, t3, c0, c1] = tail;
        Ok(Self {
            ip,
            pid: u16::from_be_bytes([p0, p1]),
            class_loader_hash: i32::from_be_bytes([h0, h1, h2, h3]),
            ms_since_month_start: u32::from_be_bytes([t0, t1, t2, t3]),
            counter: u16::from_be_bytes([c0, c1]),
        })
    }

    /// When the id was made, approximately (`getNearlyTimeFromID`): the
    /// offset is taken from the current month's start (UTC), or the previous
    /// month's when that would not be before `now_ms`.
    pub fn nearly_timestamp_ms(&self, now_ms: i64) -> i64 {
        let span = i64::from(self.ms_since_month_start);
        let mut start = month_start_utc(now_ms);
        if start.saturating_add(span) >= now_ms {
            start = month_start_utc(start.saturating_sub(1));
        }
        start.saturating_add(span)
    }
}

impl fmt::Display for UniqKey {
    /// The uppercase hex id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(UNIQ_KEY_V6_LEN);
        match self.ip {
            IpAddr::V4(ip) => push_hex(&mut s, &ip.octets()),
            IpAddr::V6(ip) => push_hex(&mut s, &ip.octets()),
        }
        push_hex(&mut s, &self.pid.to_be_bytes());
        push_hex(&mut s, &self.class_loader_hash.to_be_bytes());
        push_hex(&mut s, &self.ms_since_month_start.to_be_bytes());
        push_hex(&mut s, &self.counter.to_be_bytes());
        f.write_str(&s)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Howard Hinnant's algorithm: years start in March so leap days come last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month 1–12) containing a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// Start of the UTC month containing `ms` (epoch milliseconds).
pub fn month_start_utc(ms: i64) -> i64 {
    let (year, month) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    days_from_civil(year, month, 1).saturating_mul(MS_PER_DAY)
}

/// Start of the UTC month after the one containing `ms`.
pub fn next_month_start_utc(ms: i64) -> i64 {
    let (year, month) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let (year, month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    days_from_civil(year, month, 1).saturating_mul(MS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2024-02-29T12:00:00Z and the month bounds around it.
    const LEAP_NOON: i64 = 1_709_208_000_000;
    const FEB_2024: i64 = 1_706_745_600_000;
    const MAR_2024: i64 = 1_709_251_200_000;
    const JAN_2024: i64 = 1_704_067_200_000;

    #[test]
    fn month_bounds_in_utc() {
        assert_eq!(month_start_utc(LEAP_NOON), FEB_2024);
        assert_eq!(next_month_start_utc(LEAP_NOON), MAR_2024);
        assert_eq!(month_start_utc(MAR_2024), MAR_2024);
        assert_eq!(month_start_utc(MAR_2024 - 1), FEB_2024);
        assert_eq!(month_start_utc(0), 0);
        assert_eq!(next_month_start_utc(0), 31 * MS_PER_DAY);
        // 2023-12-15 rolls into the next year.
        assert_eq!(next_month_start_utc(1_702_598_400_000), JAN_2024);
        // Before the epoch: 1969-12-31 belongs to December 1969.
        assert_eq!(month_start_utc(-1), -31 * MS_PER_DAY);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3));
    }

    #[test]
    fn generates_java_layout() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let g = UniqIdGenerator::with_parts(ip, 0x1234, -2);
        let a = g.next_id_at(FEB_2024 + 0x0102_0304);
        let b = g.next_id_at(FEB_2024 + 0x0102_0304);
        assert_eq!(a, "0A0102031234FFFFFFFE010203040000");
        assert_eq!(b, "0A0102031234FFFFFFFE010203040001");
        let key = UniqKey::parse(&a).unwrap();
        assert_eq!(key.ip, ip);
        assert_eq!(key.pid, 0x1234);
        assert_eq!(key.class_loader_hash, -2);
        assert_eq!(key.ms_since_month_start, 0x0102_0304);
        assert_eq!(key.counter, 0);
        assert_eq!(key.to_string(), a);
    }

    #[test]
    fn rolls_the_month_and_tolerates_small_clock_steps_back() {
        let g = UniqIdGenerator::with_parts(IpAddr::from([127, 0, 0, 1]), 1, 1);
        let in_feb = UniqKey::parse(&g.next_id_at(MAR_2024 - 10)).unwrap();
        assert_eq!(
            in_feb.ms_since_month_start,
            u32::try_from(MAR_2024 - 10 - FEB_2024).unwrap()
        );
        let in_mar = UniqKey::parse(&g.next_id_at(MAR_2024 + 5)).unwrap();
        assert_eq!(in_mar.ms_since_month_start, 5);
        let stepped_back = UniqKey::parse(&g.next_id_at(MAR_2024 - 999)).unwrap();
        assert_eq!(stepped_back.ms_since_month_start, 0);
        let far_back = UniqKey::parse(&g.next_id_at(MAR_2024 - 2_000_000)).unwrap();
        assert_eq!(far_back.ms_since_month_start, (-2_000_000i32) as u32);
    }

    #[test]
    fn counter_wraps_at_16_bits() {
        let g = UniqIdGenerator::with_parts(IpAddr::from([1, 2, 3, 4]), 0, 0);
        g.counter.store(0xFFFF, Ordering::Relaxed);
        assert!(g.next_id_at(0).ends_with("FFFF"));
        assert!(g.next_id_at(0).ends_with("0000"));
    }

    #[test]
    fn ipv6_ids_are_56_chars() {
        let ip: IpAddr = "fe80::1".parse().unwrap();
        let id = UniqIdGenerator::with_parts(ip, 7, 7).next_id_at(LEAP_NOON);
        assert_eq!(id.len(), UNIQ_KEY_V6_LEN);
        assert_eq!(UniqKey::parse(&id).unwrap().ip, ip);
    }

    #[test]
    fn real_generator_uses_this_process() {
        let g = UniqIdGenerator::new(IpAddr::from([192, 168, 1, 9]));
        let a = UniqKey::parse(&g.next_id()).unwrap();
        let b = UniqKey::parse(&g.next_id()).unwrap();
        assert_eq!(a.pid, (std::process::id() & 0xFFFF) as u16);
        assert_eq!(a.class_loader_hash, b.class_loader_hash);
        assert_eq!(b.counter, a.counter.wrapping_add(1));
        // An id from this very millisecond would read as last month's, as in
        // Java (`>=`), so look from a little later.
        let now = now_ms() + 5;
        let made = a.nearly_timestamp_ms(now);
        assert!((now - made).abs() < 60_000, "{now} vs {made}");
    }

    #[test]
    fn nearly_time_picks_current_or_previous_month() {
        let key = UniqKey {
            ip: IpAddr::from([1, 1, 1, 1]),
            pid: 0,
            class_loader_hash: 0,
            ms_since_month_start: 1_000,
            counter: 0,
        };
        assert_eq!(key.nearly_timestamp_ms(MAR_2024 + 5_000), MAR_2024 + 1_000);
        // Made "1 s into the month" but it is only 0.5 s into March: February.
        assert_eq!(key.nearly_timestamp_ms(MAR_2024 + 500), FEB_2024 + 1_000);
    }

    #[test]
    fn rejects_malformed_keys() {
        assert_eq!(UniqKey::parse("ABC"), Err(MsgIdError::BadLength(3)));
        assert_eq!(UniqKey::parse(&"Z".repeat(32)), Err(MsgIdError::NotHex));
        assert_eq!(UniqKey::parse(&"Z".repeat(56)), Err(MsgIdError::NotHex));
        let mut s = "0".repeat(30);
        s.push('é');
        assert_eq!(UniqKey::parse(&s), Err(MsgIdError::NotHex));
    }

    proptest! {
        #[test]
        fn round_trips(v6 in any::<bool>(), ip4 in any::<[u8; 4]>(), ip6 in any::<[u8; 16]>(),
                       pid in any::<u16>(), hash in any::<i32>(), ms in any::<u32>(), counter in any::<u16>()) {
            let ip = if v6 { IpAddr::from(ip6) } else { IpAddr::from(ip4) };
            let key = UniqKey { ip, pid, class_loader_hash: hash, ms_since_month_start: ms, counter };
            prop_assert_eq!(UniqKey::parse(&key.to_string()), Ok(key));
        }

        #[test]
        fn month_start_is_a_day_one_midnight(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            let start = month_start_utc(ms);
            let next = next_month_start_utc(ms);
            prop_assert!(start <= ms && ms < next);
            prop_assert_eq!(start.rem_euclid(MS_PER_DAY), 0);
            let days = (next - start) / MS_PER_DAY;
            prop_assert!((28..=31).contains(&days));
            prop_assert_eq!(month_start_utc(next), next);
        }
    }
}
