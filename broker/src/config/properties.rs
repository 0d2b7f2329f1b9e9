//! `broker.conf` as Java properties: the text into a string map (with the
//! `java-properties` crate: comments, `=`/`:`/space separators, escapes,
//! continuation lines), and that map into the serde config structs.
//!
//! Every value is text, so the structs are deserialized through
//! [`MapDeserializer`], which parses each value as the field's type wants:
//! integers and `true`/`false` (any case) after trimming, strings trimmed
//! as Java's `MixAll.properties2Object` trims them, an empty value as an
//! absent optional, enums by their constant names. Unlike Java, which skips
//! a value it cannot parse and keeps the default, a malformed value is an
//! error naming its key.

use std::collections::BTreeMap;

use serde::de::value::{Error as DeError, StrDeserializer};
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, Error as _, IntoDeserializer, MapAccess,
    Unexpected, Visitor,
};
use serde::{Serialize, forward_to_deserialize_any};

use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// Parses properties text; later keys win, as in `java.util.Properties`.
pub(super) fn parse(text: &str) -> Result<BTreeMap<String, String>, BrokerError> {
    let mut map = BTreeMap::new();
    // The text is already UTF-8; Java would read ISO-8859-1, mangling
    // non-ASCII paths that a UTF-8 editor wrote.
    java_properties::PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8)
        .read_into(|key, value| {
            map.insert(key, value);
        })
        .map_err(|e| match e.line_number() {
            Some(line) => BrokerError::Config(format!("line {line}: {e}")),
            None => BrokerError::Config(e.to_string()),
        })?;
    Ok(map)
}

/// Deserializes one config struct from the string map.
pub(super) fn from_map<T: DeserializeOwned>(
    map: &BTreeMap<String, String>,
) -> Result<T, BrokerError> {
    T::deserialize(MapDeserializer { map }).map_err(|e| BrokerError::Config(e.to_string()))
}

/// Both structs' keys and values as text; `None` values are `""` when
/// `with_unset`, else left out.
pub(super) fn to_map(
    config: &BrokerConfig,
    with_unset: bool,
) -> Result<BTreeMap<String, String>, BrokerError> {
    let mut map = BTreeMap::new();
    add_fields(&mut map, config, with_unset)?;
    add_fields(&mut map, &config.store, with_unset)?;
    Ok(map)
}

fn add_fields(
    map: &mut BTreeMap<String, String>,
    value: &impl Serialize,
    with_unset: bool,
) -> Result<(), BrokerError> {
    let json = serde_json::to_value(value)
        .map_err(|e| BrokerError::Config(format!("cannot write the config as text: {e}")))?;
    let serde_json::Value::Object(fields) = json else {
        return Err(BrokerError::Config("the config is not a struct".to_owned()));
    };
    for (key, value) in fields {
        let text = match value {
            serde_json::Value::Null if with_unset => String::new(),
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        map.insert(key, text);
    }
    Ok(())
}

/// A struct read from `key → text`.
struct MapDeserializer<'a> {
    map: &'a BTreeMap<String, String>,
}

impl<'de> Deserializer<'de> for MapDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(Entries {
            iter: self.map.iter(),
            value: None,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Entries<'a, I> {
    iter: I,
    value: Option<(&'a str, &'a str)>,
}

impl<'de, 'a, I: Iterator<Item = (&'a String, &'a String)>> MapAccess<'de> for Entries<'a, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        let key: StrDeserializer<'_, DeError> = key.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(DeError::custom("value without a key"));
        };
        seed.deserialize(Text(value))
            .map_err(|e| DeError::custom(format_args!("{key}={value:?}: {e}")))
    }
}

/// One value's text.
struct Text<'a>(&'a str);

impl Text<'_> {
    fn parse<T: std::str::FromStr>(&self, expected: &'static str) -> Result<T, DeError> {
        self.0
            .trim()
            .parse()
            .map_err(|_| DeError::invalid_value(Unexpected::Str(self.0), &expected))
    }
}

/// The integer and float deserializers: parse the trimmed text.
macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty, $expected:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                visitor.$visit(self.parse::<$ty>($expected)?)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Text<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.0.trim())
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.0.trim();
        if text.eq_ignore_ascii_case("true") {
            visitor.visit_bool(true)
        } else if text.eq_ignore_ascii_case("false") {
            visitor.visit_bool(false)
        } else {
            Err(DeError::invalid_value(
                Unexpected::Str(self.0),
                &"true or false",
            ))
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "a 32-bit integer";
        deserialize_i64 => visit_i64: i64, "a 64-bit integer";
        deserialize_u8 => visit_u8: u8, "a non-negative integer below 256";
        deserialize_u16 => visit_u16: u16, "an integer from 0 to 65535";
        deserialize_u32 => visit_u32: u32, "a non-negative 32-bit integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.trim().is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let name: StrDeserializer<'_, DeError> = self.0.trim().into_deserializer();
        visitor.visit_enum(name)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier
    }
}
