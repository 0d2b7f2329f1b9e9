//! JSON headers as Java's fastjson writes them.
//!
//! Decoding is lenient (any key order, missing keys take Java's defaults,
//! unknown keys ignored). Encoding reproduces fastjson byte for byte: keys in
//! alphabetical order, nulls omitted, `extFields` in insertion order.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::HeaderCodecError;
use crate::code::{LanguageCode, SerializeType};
use crate::command::RemotingCommand;
use crate::ext_fields::ExtFields;
use crate::text::Text;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeader {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    language: Option<Scalar>,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    ext_fields: Option<LenientExtFields>,
}

/// `extFields` accepting string, number and boolean values (all kept as text).
struct LenientExtFields(ExtFields);

impl<'de> Deserialize<'de> for LenientExtFields {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientExtFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = ExtFields::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Scalar, Scalar>()? {
                    if let (Some(k), Some(v)) = (k.0, v.0) {
                        fields.push(k, v);
                    }
                }
                Ok(LenientExtFields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

/// A scalar JSON value as text (`null` as `None`), without building a
/// `Value`; short strings and numbers are held inline (no allocation).
struct Scalar(Option<Text>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(Text::copy_of(v))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(Text::from(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Text::int(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Text::copy_of(itoa::Buffer::new().format(v)))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Text::from(v.to_string()))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(Text::from_static(if v {
                    "true"
                } else {
                    "false"
                }))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Decodes a JSON header; the body is attached by the caller.
pub(crate) fn decode(header: &[u8]) -> Result<RemotingCommand, HeaderCodecError> {
    // serde would also accept a JSON array for a struct; a header is an object.
    if header.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(HeaderCodecError::NotAnObject);
    }
    let h: JsonHeader = serde_json::from_slice(header)?;
    Ok(RemotingCommand {
        code: h.code,
        language: h
            .language
            .and_then(|l| l.0)
            .map_or(LanguageCode::Java, |l| LanguageCode::from_name(&l)),
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: h.ext_fields.map(|f| f.0),
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

/// Appends `cmd`'s header as fastjson would write it.
pub(crate) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let out = dst;
    out.put_slice(b"{\"code\":");
    put_int(out, cmd.code.into());
    if let Some(fields) = &cmd.ext_fields {
        out.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            put_str(out, k);
            out.put_u8(b':');
            put_str(out, v);
        }
        out.put_u8(b'}');
    }
    out.put_slice(b",\"flag\":");
    put_int(out, cmd.flag.into());
    out.put_slice(b",\"language\":");
    put_str(out, cmd.language.name());
    out.put_slice(b",\"opaque\":");
    put_int(out, cmd.opaque.into());
    if let Some(remark) = &cmd.remark {
        out.put_slice(b",\"remark\":");
        put_str(out, remark);
    }
    out.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(out, cmd.version.into());
    out.put_u8(b'}');
}

fn put_int(out: &mut BytesMut, v: i64) {
    out.put_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes a JSON string with fastjson's escaping: `"` `\` and control
/// characters are escaped, everything else (including non-ASCII) is raw UTF-8.
fn put_str(out: &mut BytesMut, s: &str) {
    out.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.put_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.put_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.put_slice(b"\\u00");
                out.put_u8(HEX[(b >> 4) as usize]);
                out.put_u8(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.put_slice(&bytes[start..]);
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_fastjson() {
        let mut cmd = RemotingCommand {
            code: 0,
            flag: 1,
            opaque: 7,
            language: LanguageCode::Java,
            ..RemotingCommand::default()
        };
        cmd.set_ext("queueId", "3");
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"code":0,"extFields":{"queueId":"3"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#
        );
        let back = decode(&out).unwrap();
        assert_eq!(back, cmd);
    }

    #[test]
    fn escapes_and_round_trips_odd_strings() {
        let s = "a\"b\\c\u{1}\u{2}\n\t\u{7f}不存在";
        let mut out = BytesMut::new();
        put_str(&mut out, s);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn lenient_decoding() {
        let cmd = decode(
            br#"{"extFields":{"a":1,"b":true,"c":null},"code":10,"language":"GO","extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(cmd.code, 10);
        assert_eq!(cmd.language, LanguageCode::Go);
        assert_eq!(cmd.ext("a"), Some("1"));
        assert_eq!(cmd.ext("b"), Some("true"));
        assert_eq!(cmd.ext("c"), None);
        assert!(decode(b"{\"code\":\"x\"}").is_err());
        assert!(decode(b"[]").is_err());
    }

    #[test]
    fn integers_format_like_display() {
        for v in [0, -1, 9, 10, i64::MIN, i64::MAX, 479, -626843481] {
            let mut out = BytesMut::new();
            put_int(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
    }
}
