//! The whole-record CRC a broker with `enabledAppendPropCRC` stores as the
//! last property: `__CRC32#` 0x01, ten digits, 0x02 (20 bytes).
//!
//! The digits are written least significant first (`MessageDecoder.createCrc32`),
//! and the CRC covers every byte of the record before the trailer, after the
//! store has filled in the physical offset and store timestamp.

use super::super::error::DecodeError;
use super::super::property::{CRC32, CRC32_RESERVED_LEN};
use super::layout::body_crc;

/// Bytes before the digits: `__CRC32#` and 0x01.
const PREFIX_LEN: usize = CRC32.len() + 1;

/// The CRC stored in a `__CRC32#` value, or `None` unless it is ten digits
/// holding a non-negative i32.
pub fn parse_prop_crc(value: &str) -> Option<i32> {
    let digits = value.as_bytes();
    if digits.len() != 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let crc = digits
        .iter()
        .rev()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    i32::try_from(crc).ok()
}

/// Writes the trailer into the last 20 bytes of an encoded record, whose
/// properties must end with a `__CRC32#` placeholder of ten digits, and
/// returns the CRC. Call it after the last in-place patch.
pub fn seal_prop_crc(record: &mut [u8]) -> Result<i32, DecodeError> {
    let split = trailer_start(record)?;
    let (covered, trailer) = record.split_at_mut(split);
    let crc = body_crc(covered);
    let mut rest = crc;
    for slot in trailer.iter_mut().skip(PREFIX_LEN).take(10) {
        // Least significant digit first, as Java writes them.
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    Ok(crc)
}

/// Checks a record's `__CRC32#` trailer against the bytes before it, as
/// `checkMessageAndReturnSize` does with `forceVerifyPropCRC`.
pub fn verify_prop_crc(record: &[u8]) -> Result<(), DecodeError> {
    let split = trailer_start(record)?;
    let (covered, trailer) = record.split_at(split);
    let digits = trailer
        .get(PREFIX_LEN..PREFIX_LEN + 10)
        .and_then(|d| std::str::from_utf8(d).ok())
        .ok_or(DecodeError::MissingPropCrc)?;
    let stored = parse_prop_crc(digits).ok_or(DecodeError::MissingPropCrc)?;
    let computed = body_crc(covered);
    if stored != computed {
        return Err(DecodeError::PropCrcMismatch { stored, computed });
    }
    Ok(())
}

/// Where the trailer starts, after checking its name and separators.
fn trailer_start(record: &[u8]) -> Result<usize, DecodeError> {
    let split = record
        .len()
        .checked_sub(CRC32_RESERVED_LEN)
        .ok_or(DecodeError::MissingPropCrc)?;
    let trailer = record.get(split..).ok_or(DecodeError::MissingPropCrc)?;
    let well_formed = trailer.starts_with(CRC32.as_bytes())
        && trailer.get(PREFIX_LEN - 1) == Some(&0x01)
        && trailer.last() == Some(&0x02);
    if !well_formed {
        return Err(DecodeError::MissingPropCrc);
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::super::super::Message;
    use super::super::StoredMessage;
    use super::*;

    fn sealed_record() -> Vec<u8> {
        let message = Message::new("T", &b"body"[..])
            .with_tags("A")
            .with_property(CRC32, "0000000000");
        let addr = "1.2.3.4:5".parse().unwrap();
        let mut bytes = StoredMessage::new(message, addr, addr)
            .to_bytes()
            .unwrap()
            .to_vec();
        seal_prop_crc(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn parses_reversed_digits() {
        assert_eq!(parse_prop_crc("9259768591"), Some(1_958_679_529));
        assert_eq!(parse_prop_crc("0000000000"), Some(0));
        assert_eq!(parse_prop_crc("925976859"), None);
        assert_eq!(parse_prop_crc("925976859x"), None);
        assert_eq!(parse_prop_crc("9999999999"), None, "above i32::MAX");
    }

    #[test]
    fn seals_and_verifies() {
        let mut bytes = sealed_record();
        assert_eq!(verify_prop_crc(&bytes), Ok(()));
        let crc = body_crc(&bytes[..bytes.len() - CRC32_RESERVED_LEN]);
        let tail = &bytes[bytes.len() - 11..bytes.len() - 1];
        assert_eq!(
            parse_prop_crc(std::str::from_utf8(tail).unwrap()),
            Some(crc)
        );
        bytes[20] ^= 1;
        assert!(matches!(
            verify_prop_crc(&bytes),
            Err(DecodeError::PropCrcMismatch { .. })
        ));
    }

    #[test]
    fn requires_a_trailer() {
        assert_eq!(verify_prop_crc(&[]), Err(DecodeError::MissingPropCrc));
        assert_eq!(
            seal_prop_crc(&mut [0; 19]),
            Err(DecodeError::MissingPropCrc)
        );
        let mut bytes = sealed_record();
        let n = bytes.len();
        bytes[n - 1] = b'x';
        assert_eq!(verify_prop_crc(&bytes), Err(DecodeError::MissingPropCrc));
        bytes[n - 1] = 0x02;
        bytes[n - 5] = b'x';
        assert_eq!(verify_prop_crc(&bytes), Err(DecodeError::MissingPropCrc));
        bytes[n - 12] = b'#' + 1;
        assert_eq!(seal_prop_crc(&mut bytes), Err(DecodeError::MissingPropCrc));
    }
}
