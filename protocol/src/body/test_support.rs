//! Checks shared by the body tests.

use std::fmt::Debug;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::{Body, KeyStyle};

/// Asserts the exact fastjson output of `value`, and that it decodes back
/// from both key styles while every truncation of it is rejected.
pub(crate) fn check_body<T: Body + PartialEq + Debug>(value: &T, expected: &str) {
    let out = value.encode(KeyStyle::Unquoted);
    assert_eq!(String::from_utf8_lossy(&out), expected);
    assert_eq!(&T::decode(&out).unwrap(), value, "decoding {expected}");
    let quoted = value.encode(KeyStyle::Quoted);
    let text = String::from_utf8(quoted.clone()).unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_ok(),
        "quoted output is not standard JSON: {text}"
    );
    assert_eq!(&T::decode(&quoted).unwrap(), value, "decoding {text}");
    for end in 0..out.len() {
        assert!(
            T::decode(&out[..end]).is_err(),
            "accepted prefix {end} of {expected}"
        );
    }
}

/// Asserts that `T`'s fields are declared in fastjson's order (Java
/// `String.compareTo`, i.e. UTF-16 code units), which serde writes them in.
pub(crate) fn assert_fields_sorted<T: for<'de> Deserialize<'de>>() {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldGrab(&mut fields));
    assert!(
        !fields.is_empty(),
        "{} is not a struct",
        std::any::type_name::<T>()
    );
    for pair in fields.windows(2) {
        assert!(
            pair[0].encode_utf16().cmp(pair[1].encode_utf16()).is_lt(),
            "{}: {:?} must come after {:?}",
            std::any::type_name::<T>(),
            pair[0],
            pair[1]
        );
    }
}

/// A deserializer that only records the field list serde asks for.
struct FieldGrab<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldGrab<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
