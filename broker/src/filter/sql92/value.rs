//! Values during evaluation and Java's rules for comparing them
//! (`ComparisonExpression.__compare` with string conversion on, as
//! `SelectorParser.parse` builds every comparison).

use std::borrow::Cow;
use std::cmp::Ordering;

/// A value as Java's evaluator sees it: a property is always a string; a
/// literal is an `Integer`, `Long`, `Double`, `String` or `Boolean`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Cow<'a, str>),
}

/// Java threw during evaluation (a string that is not a number compared
/// with a number, …): the broker logs it and the message does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Thrown;

/// `__compare(lv, rv, true)`: values of one type compare naturally; others
/// are converted towards the wider number, a string to the other side's
/// type (which throws when it does not parse); any other pair is "less".
pub(super) fn java_compare(lv: &Value<'_>, rv: &Value<'_>) -> Result<Ordering, Thrown> {
    use Value::{Bool, Double, Int, Long, Str};
    Ok(match (lv, rv) {
        (Bool(a), Bool(b)) => a.cmp(b),
        (Int(a), Int(b)) => a.cmp(b),
        (Long(a), Long(b)) => a.cmp(b),
        (Double(a), Double(b)) => double_cmp(*a, *b),
        (Str(a), Str(b)) => string_cmp(a, b),
        // Java casts the Boolean to String here: ClassCastException.
        (Bool(_), Str(_)) => return Err(Thrown),
        (Int(a), Long(b)) => i64::from(*a).cmp(b),
        (Int(a), Double(b)) => double_cmp(f64::from(*a), *b),
        (Int(a), Str(b)) => a.cmp(&parse_int(b).ok_or(Thrown)?),
        (Long(a), Int(b)) => a.cmp(&i64::from(*b)),
        (Long(a), Double(b)) => double_cmp(*a as f64, *b),
        (Long(a), Str(b)) => a.cmp(&parse_long(b).ok_or(Thrown)?),
        (Double(a), Int(b)) => double_cmp(*a, f64::from(*b)),
        (Double(a), Long(b)) => double_cmp(*a, *b as f64),
        (Double(a), Str(b)) => double_cmp(*a, parse_double(b).ok_or(Thrown)?),
        (Str(a), Bool(b)) => parse_bool(a).cmp(b),
        (Str(a), Int(b)) => parse_int(a).ok_or(Thrown)?.cmp(b),
        (Str(a), Long(b)) => parse_long(a).ok_or(Thrown)?.cmp(b),
        (Str(a), Double(b)) => double_cmp(parse_double(a).ok_or(Thrown)?, *b),
        // Callers rule out null; Java answers -1 for the rest.
        _ => Ordering::Less,
    })
}

/// `Double.compare`: -0.0 below 0.0, NaN equal to itself and above all.
pub(super) fn double_cmp(a: f64, b: f64) -> Ordering {
    if a < b {
        return Ordering::Less;
    }
    if a > b {
        return Ordering::Greater;
    }
    let bits = |x: f64| {
        if x.is_nan() {
            f64::NAN.to_bits() as i64
        } else {
            x.to_bits() as i64
        }
    };
    bits(a).cmp(&bits(b))
}

/// `String.compareTo`: by UTF-16 code units.
fn string_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Boolean.valueOf(String)`.
fn parse_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true")
}

/// `Integer.valueOf(String)`: an optional sign and ASCII digits, in range.
pub(super) fn parse_int(s: &str) -> Option<i32> {
    s.parse().ok()
}

/// `Long.valueOf(String)`.
pub(super) fn parse_long(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// `Double.valueOf(String)`: blanks trimmed, an optional sign, then `NaN`,
/// `Infinity`, or digits with an optional point and exponent and an
/// optional `f`/`d` suffix. (Java's hexadecimal form is not accepted here.)
pub(super) fn parse_double(s: &str) -> Option<f64> {
    let s = s.trim_matches(|c: char| c <= ' ');
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = match unsigned {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let digits = unsigned
                .strip_suffix(['f', 'F', 'd', 'D'])
                .unwrap_or(unsigned);
            if !is_java_decimal(digits) {
                return None;
            }
            digits.parse().ok()?
        }
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Digits with an optional point (at least one digit in all), then an
/// optional exponent.
fn is_java_decimal(s: &str) -> bool {
    let bytes = s.as_bytes();
    let int = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = int;
    let mut frac = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += frac;
    }
    if int + frac == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::{Bool, Double, Int, Long, Null, Str};

    fn s(v: &str) -> Value<'_> {
        Str(Cow::Borrowed(v))
    }

    #[test]
    fn java_number_parsing() {
        assert_eq!(parse_int("+12"), Some(12));
        assert_eq!(parse_int("-2147483648"), Some(i32::MIN));
        for bad in ["", "+", " 1", "1 ", "2147483648", "1.0", "0x1", "1L"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
        assert_eq!(parse_long("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_long("9223372036854775808"), None);
        assert_eq!(parse_double(" 3.5 "), Some(3.5));
        assert_eq!(parse_double("\t-1e3d"), Some(-1000.0));
        assert_eq!(parse_double("5."), Some(5.0));
        assert_eq!(parse_double(".5F"), Some(0.5));
        assert_eq!(parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_double("NaN").is_some_and(f64::is_nan));
        for bad in [
            "", ".", "e5", "1e", "inf", "nan", "1_0", "1.5x", "--1", "0x1p3",
        ] {
            assert_eq!(parse_double(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn same_types_compare_naturally() {
        assert_eq!(java_compare(&Int(1), &Int(2)), Ok(Ordering::Less));
        assert_eq!(
            java_compare(&Bool(true), &Bool(false)),
            Ok(Ordering::Greater)
        );
        assert_eq!(java_compare(&s("b"), &s("a")), Ok(Ordering::Greater));
        assert_eq!(java_compare(&s("a"), &s("ab")), Ok(Ordering::Less));
        // UTF-16 order: a supplementary character sorts below U+FFFD.
        assert_eq!(java_compare(&s("😀"), &s("\u{fffd}")), Ok(Ordering::Less));
        assert_eq!(
            java_compare(&Double(-0.0), &Double(0.0)),
            Ok(Ordering::Less)
        );
        assert_eq!(
            java_compare(&Double(f64::NAN), &Double(f64::NAN)),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            java_compare(&Double(f64::NAN), &Double(f64::INFINITY)),
            Ok(Ordering::Greater)
        );
    }

    #[test]
    fn numbers_widen() {
        assert_eq!(java_compare(&Int(3), &Long(3)), Ok(Ordering::Equal));
        assert_eq!(java_compare(&Long(3), &Double(3.5)), Ok(Ordering::Less));
        assert_eq!(java_compare(&Double(3.0), &Int(3)), Ok(Ordering::Equal));
        // Long to double rounds, as Java's conversion does.
        assert_eq!(
            java_compare(
                &Long(9_007_199_254_740_993),
                &Double(9_007_199_254_740_992.0)
            ),
            Ok(Ordering::Equal)
        );
    }

    #[test]
    fn strings_convert_to_the_other_side() {
        assert_eq!(java_compare(&s("3"), &Int(3)), Ok(Ordering::Equal));
        assert_eq!(java_compare(&Int(3), &s("4")), Ok(Ordering::Less));
        // Integer.valueOf: no decimals, no blanks, int range only.
        assert_eq!(java_compare(&s("3.0"), &Int(3)), Err(Thrown));
        assert_eq!(java_compare(&s(" 3"), &Int(3)), Err(Thrown));
        assert_eq!(java_compare(&s("10000000000"), &Int(3)), Err(Thrown));
        assert_eq!(
            java_compare(&s("10000000000"), &Long(1 << 40)),
            Ok(Ordering::Less)
        );
        assert_eq!(java_compare(&s(" 3 "), &Double(3.0)), Ok(Ordering::Equal));
        assert_eq!(java_compare(&s("abc"), &Double(3.0)), Err(Thrown));
        assert_eq!(java_compare(&s("TRUE"), &Bool(true)), Ok(Ordering::Equal));
        assert_eq!(java_compare(&s("yes"), &Bool(true)), Ok(Ordering::Less));
        assert_eq!(java_compare(&Bool(true), &s("true")), Err(Thrown));
    }

    #[test]
    fn unrelated_types_are_less() {
        assert_eq!(java_compare(&Int(1), &Bool(true)), Ok(Ordering::Less));
        assert_eq!(java_compare(&Bool(true), &Int(1)), Ok(Ordering::Less));
        assert_eq!(java_compare(&Double(1.0), &Bool(false)), Ok(Ordering::Less));
        assert_eq!(java_compare(&Null, &Int(1)), Ok(Ordering::Less));
    }
}
