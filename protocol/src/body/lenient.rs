//! Field deserializers that accept what fastjson accepts.
//!
//! fastjson leaves a field at its Java default when the JSON has `null`, maps
//! an unknown enum name to `null`, and reads enums from their ordinal too.
//! Java never writes nulls, but other clients do (a Go nil slice is `null`),
//! and a newer client may send an enum constant we do not know; neither
//! should make a whole heartbeat undecodable.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// `null` reads as the field's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A `Set<Integer>` as fastjson reads it: `null` is empty, and each element
/// is a number or a string holding one (the Go client writes a
/// subscription's `codeSet` as strings). Anything else is an error.
pub(crate) fn int_set<'de, D>(d: D) -> Result<std::collections::BTreeSet<i32>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i32),
        Text(String),
    }
    let items = Option::<Vec<Int>>::deserialize(d)?.unwrap_or_default();
    items
        .into_iter()
        .map(|item| match item {
            Int::Number(n) => Ok(n),
            Int::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| de::Error::custom(format!("{s:?} is not an integer"))),
        })
        .collect()
}

/// A Java enum: constants in ordinal order, written by name.
pub(crate) trait JavaEnum: Sized + Copy + 'static {
    /// Every constant with its Java name, in declaration (ordinal) order.
    const CONSTANTS: &'static [(Self, &'static str)];

    /// The constant named `name`.
    fn from_name(name: &str) -> Option<Self> {
        Self::CONSTANTS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(c, _)| *c)
    }

    /// The constant with ordinal `ordinal`.
    fn from_ordinal(ordinal: u64) -> Option<Self> {
        let i = usize::try_from(ordinal).ok()?;
        Self::CONSTANTS.get(i).map(|(c, _)| *c)
    }
}

/// Implements a [`JavaEnum`] plus `Serialize` (by name) and `Deserialize`
/// (name or ordinal; anything else is an error, which `java_enum_opt` /
/// `java_enum_or_default` soften).
macro_rules! java_enum {
    ($ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $crate::body::lenient::JavaEnum for $ty {
            const CONSTANTS: &'static [(Self, &'static str)] = &[$(($ty::$variant, $name)),+];
        }

        impl $ty {
            /// The Java constant's name.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::body::lenient::java_enum_strict(d)
            }
        }
    };
}
pub(crate) use java_enum;

/// What an enum field held: a known constant, or something fastjson reads as null.
enum Raw<T> {
    Known(T),
    Unknown(String),
}

struct EnumVisitor<T>(PhantomData<T>);

impl<'de, T: JavaEnum> Visitor<'de> for EnumVisitor<T> {
    type Value = Option<Raw<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an enum name or ordinal")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(match T::from_name(v) {
            Some(c) => Raw::Known(c),
            None => Raw::Unknown(v.to_owned()),
        }))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(match T::from_ordinal(v) {
            Some(c) => Raw::Known(c),
            None => Raw::Unknown(v.to_string()),
        }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Ok(Some(Raw::Unknown(v.to_string()))),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn raw<'de, D: Deserializer<'de>, T: JavaEnum>(d: D) -> Result<Option<Raw<T>>, D::Error> {
    d.deserialize_any(EnumVisitor(PhantomData))
}

/// A required enum: a known name or ordinal.
pub(crate) fn java_enum_strict<'de, D: Deserializer<'de>, T: JavaEnum>(
    d: D,
) -> Result<T, D::Error> {
    match raw(d)? {
        Some(Raw::Known(c)) => Ok(c),
        Some(Raw::Unknown(v)) => Err(de::Error::custom(format_args!("unknown enum constant {v}"))),
        None => Err(de::Error::custom("null enum constant")),
    }
}

/// A nullable enum field: unknown constants and `null` read as `None`.
pub(crate) fn java_enum_opt<'de, D: Deserializer<'de>, T: JavaEnum>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(match raw(d)? {
        Some(Raw::Known(c)) => Some(c),
        _ => None,
    })
}

/// An enum field with a Java initializer: unknown constants and `null` keep it.
pub(crate) fn java_enum_or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: JavaEnum + Default,
{
    Ok(java_enum_opt(d)?.unwrap_or_default())
}
