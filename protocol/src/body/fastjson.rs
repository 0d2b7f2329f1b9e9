//! fastjson's JSON dialect: reading it through serde, and writing it.
//!
//! RocketMQ's Java side serializes bodies with fastjson 1.x, which writes
//! non-`String` map keys as their own JSON (`{0:"a"}`, `{{"topic":"T"}:1}`),
//! sorts bean fields by name and omits nulls. Reading normalizes that into
//! standard JSON first ([`normalize`]); writing goes through a serde_json
//! formatter that reproduces fastjson's bytes ([`to_vec`]), except that maps
//! and sets come out sorted where Java writes them in hash order.

mod formatter;
mod java_number;
mod normalize;
#[cfg(test)]
mod props;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use normalize::{MAX_DEPTH, normalize};

use super::BodyError;
use formatter::FastjsonFormatter;

/// How non-string map keys are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyStyle {
    /// fastjson's default: integer keys bare (`{0:"a"}`) and `MessageQueue`
    /// keys as objects. What Java clients, the Go client and Java's own config
    /// files expect.
    #[default]
    Unquoted,
    /// fastjson's `BrowserCompatible`: every key a JSON string, plus that
    /// feature's extra escapes. What the name server sends for route requests
    /// of version ≥ 401 (V4_9_4) or with `acceptStandardJsonOnly`.
    Quoted,
}

/// Decodes a fastjson body (either key style) into `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let text = normalize(bytes)?;
    Ok(serde_json::from_str(&text)?)
}

/// Encodes `value` as compact fastjson JSON in `style`.
///
/// Maps keyed by `MessageQueue` come out as quoted JSON-text keys here; use
/// [`to_vec_with_object_keys`] for fastjson's object-key form.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, style: KeyStyle) -> Result<Vec<u8>, BodyError> {
    to_vec_with_object_keys(value, style, &[])
}

/// Like [`to_vec`], writing the keys of the named top-level map fields (which
/// must use `mq_key_map`) as JSON objects when `style` is `Unquoted`.
pub fn to_vec_with_object_keys<T: Serialize + ?Sized>(
    value: &T,
    style: KeyStyle,
    object_key_fields: &[&str],
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        FastjsonFormatter::new(style, object_key_fields),
    );
    value.serialize(&mut ser)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn unquoted<T: Serialize>(v: &T) -> String {
        String::from_utf8(to_vec(v, KeyStyle::Unquoted).unwrap()).unwrap()
    }

    fn quoted<T: Serialize>(v: &T) -> String {
        String::from_utf8(to_vec(v, KeyStyle::Quoted).unwrap()).unwrap()
    }

    #[test]
    fn integer_keys_follow_the_style() {
        let m: BTreeMap<i64, BTreeMap<i32, String>> = [
            (-1, BTreeMap::from([(0, "a".to_owned())])),
            (7, BTreeMap::new()),
        ]
        .into();
        assert_eq!(unquoted(&m), r#"{-1:{0:"a"},7:{}}"#);
        assert_eq!(quoted(&m), r#"{"-1":{"0":"a"},"7":{}}"#);
        let back: BTreeMap<i64, BTreeMap<i32, String>> =
            from_slice(unquoted(&m).as_bytes()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn string_keys_stay_quoted_including_empty_and_numeric_text() {
        let m: BTreeMap<String, u8> = [
            ("".to_owned(), 1),
            ("0".to_owned(), 2),
            ("a\"b".to_owned(), 3),
        ]
        .into();
        assert_eq!(unquoted(&m), r#"{"":1,"0":2,"a\"b":3}"#);
    }

    #[test]
    fn bool_keys_are_bare_when_unquoted() {
        let m: BTreeMap<bool, u8> = [(false, 0), (true, 1)].into();
        assert_eq!(unquoted(&m), "{false:0,true:1}");
        assert_eq!(quoted(&m), r#"{"false":0,"true":1}"#);
    }

    #[test]
    fn strings_escape_like_fastjson() {
        let s = "a/\u{1}\u{b}\u{1f}\u{7f}\u{85}\u{a0}é\u{2028}😀\t\"\\";
        assert_eq!(
            unquoted(&s),
            "\"a/\\u0001\\u000B\\u001F\\u007F\\u0085\u{a0}é\\u2028😀\\t\\\"\\\\\""
        );
        assert_eq!(
            quoted(&s),
            "\"a\\/\\u0001\\u000B\\u001F\\u007F\\u0085\\u00A0\\u00E9\\u2028\\uD83D\\uDE00\\t\\\"\\\\\""
        );
        // Map keys escape the same way, and the escapes read back.
        let m: BTreeMap<String, String> = [(s.to_owned(), s.to_owned())].into();
        for style in [KeyStyle::Unquoted, KeyStyle::Quoted] {
            let back: BTreeMap<String, String> = from_slice(&to_vec(&m, style).unwrap()).unwrap();
            assert_eq!(back, m);
        }
    }

    #[test]
    fn numbers_print_like_fastjson() {
        #[derive(Serialize)]
        struct N {
            a: f64,
            b: f64,
            c: f64,
            d: i64,
            e: i64,
            f: i32,
        }
        let n = N {
            a: 0.0,
            b: 1e7,
            c: f64::NAN,
            d: 9_007_199_254_740_992,
            e: -9_007_199_254_740_991,
            f: i32::MIN,
        };
        assert_eq!(
            unquoted(&n),
            r#"{"a":0.0,"b":1.0E7,"c":null,"d":9007199254740992,"e":-9007199254740991,"f":-2147483648}"#
        );
        // Unlike BrowserCompatible, Quoted keeps big longs numbers.
        assert_eq!(quoted(&n), unquoted(&n));
    }

    #[test]
    fn object_keys_only_for_listed_top_level_fields() {
        #[derive(Serialize)]
        struct Body {
            #[serde(rename = "offsetTable")]
            offset_table: BTreeMap<String, u8>,
            other: BTreeMap<String, BTreeMap<String, u8>>,
        }
        let key = r#"{"queueId":0}"#.to_owned();
        let body = Body {
            offset_table: [(key.clone(), 1)].into(),
            other: [("offsetTable".to_owned(), [(key.clone(), 2)].into())].into(),
        };
        let fields = ["offsetTable"];
        let out = to_vec_with_object_keys(&body, KeyStyle::Unquoted, &fields).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"offsetTable":{{"queueId":0}:1},"other":{"offsetTable":{"{\"queueId\":0}":2}}}"#
        );
        let out = to_vec_with_object_keys(&body, KeyStyle::Quoted, &fields).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"offsetTable":{"{\"queueId\":0}":1},"other":{"offsetTable":{"{\"queueId\":0}":2}}}"#
        );
    }
}
