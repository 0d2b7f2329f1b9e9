//! Floating-point text as Java (and fastjson's `RyuDouble`) prints it.
//!
//! Java writes the shortest round-tripping digits, in plain notation for
//! magnitudes in `[1e-3, 1e7)` and as `d.dddE±n` outside, always with at least
//! one fractional digit: `0.0`, `12.5`, `1.0E7`, `1.0E-4`. serde_json would
//! write `10000000.0` and `1e-4`.

use std::fmt::Write as _;

/// Formats a finite `f64` as Java's `Double.toString`.
pub(super) fn format_f64(v: f64) -> String {
    // `{:e}` yields the shortest round-tripping digits, like Ryu.
    java_layout(v.is_sign_negative(), &format!("{:e}", v.abs()))
}

/// Formats a finite `f32` as Java's `Float.toString`.
pub(super) fn format_f32(v: f32) -> String {
    java_layout(v.is_sign_negative(), &format!("{:e}", v.abs()))
}

/// Lays out `d[.ddd]e<exp>` (Rust's `{:e}`) the way Java does.
fn java_layout(negative: bool, sci: &str) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if digits.bytes().all(|d| d == b'0') {
        out.push_str("0.0");
        return out;
    }
    if (-3..7).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            } else {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            }
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        // Writing to a String cannot fail.
        let _ = write!(out, "E{exp}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        for (v, java) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (12.5, "12.5"),
            (-3.25, "-3.25"),
            (0.001, "0.001"),
            (0.000_1, "1.0E-4"),
            (1_234_567.0, "1234567.0"),
            (9_999_999.0, "9999999.0"),
            (10_000_000.0, "1.0E7"),
            (12_345_678.9, "1.23456789E7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e300, "1.0E300"),
            (-1.5e-300, "-1.5E-300"),
            (100.0, "100.0"),
            (f64::MAX, "1.7976931348623157E308"),
        ] {
            assert_eq!(format_f64(v), java, "{v}");
        }
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(format_f32(0.1), "0.1");
        assert_eq!(format_f32(1.0e10), "1.0E10");
        assert_eq!(format_f32(3.0), "3.0");
    }
}
