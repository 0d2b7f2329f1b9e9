//! Uppercase hexadecimal, as Java's `UtilAll.bytes2string` writes it.

/// The uppercase hex digit for the low nibble of `n`.
pub(crate) fn hex_digit(n: u8) -> char {
    let n = n & 0x0F;
    char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 })
}

/// Appends `bytes` to `out` as uppercase hex, two digits a byte.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b));
    }
}

/// The value of one hex digit, either case.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Fills `out` from `hex`, which must hold exactly `2 * out.len()` hex digits.
pub(crate) fn decode_hex(hex: &str, out: &mut [u8]) -> Option<()> {
    let hex = hex.as_bytes();
    if hex.len() != out.len().checked_mul(2)? {
        return None;
    }
    for (pair, slot) in hex.chunks_exact(2).zip(out.iter_mut()) {
        let [hi, lo] = pair else { return None };
        *slot = (hex_value(*hi)? << 4) | hex_value(*lo)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut s = String::new();
        push_hex(&mut s, &bytes);
        assert!(s.starts_with("000102"));
        assert!(s.ends_with("FDFEFF"));
        let mut back = vec![0; 256];
        assert_eq!(decode_hex(&s, &mut back), Some(()));
        assert_eq!(back, bytes);
        assert_eq!(decode_hex(&s.to_lowercase(), &mut back), Some(()));
        assert_eq!(back, bytes);
    }

    #[test]
    fn rejects_bad_digits_and_lengths() {
        let mut out = [0u8; 2];
        assert_eq!(decode_hex("0A0", &mut out), None);
        assert_eq!(decode_hex("0A0G", &mut out), None);
        assert_eq!(decode_hex("0A0B0C", &mut out), None);
        assert_eq!(decode_hex("é0", &mut out[..1]), None);
        assert_eq!(decode_hex("0a0b", &mut out), Some(()));
        assert_eq!(out, [0x0A, 0x0B]);
    }
}
