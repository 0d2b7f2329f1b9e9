//! Parsing and formatting of single `extFields` values, Java style.

use crate::ext_fields::ExtFields;
use crate::text::Text;

/// Why a typed header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A required field is absent.
    #[error("missing required header field `{0}`")]
    Missing(&'static str),
    /// A field is present but does not parse as its type.
    #[error("malformed header field `{field}`: {value:?} is not a valid {expected}")]
    Malformed {
        /// The field's key.
        field: &'static str,
        /// The text that failed to parse.
        value: String,
        /// The type that was expected.
        expected: &'static str,
    },
}

/// A value type that can live in `extFields`.
pub trait ExtValue: Sized {
    /// The type's name in error messages.
    const EXPECTED: &'static str;

    /// Parses the text form.
    fn parse_ext(s: &str) -> Option<Self>;

    /// Formats the text form.
    fn to_ext(&self) -> String;

    /// The text form as a [`Text`]: inline for numbers and short strings, so
    /// writing a header does not allocate per field.
    fn to_text(&self) -> Text {
        Text::from(self.to_ext())
    }

    /// Reads a required field.
    fn required(fields: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        Self::optional(fields, key)?.ok_or(HeaderError::Missing(key))
    }

    /// Reads an optional field; present but unparsable is still an error.
    fn optional(fields: &ExtFields, key: &'static str) -> Result<Option<Self>, HeaderError> {
        match fields.get(key) {
            None => Ok(None),
            Some(s) => Self::parse_ext(s)
                .map(Some)
                .ok_or_else(|| HeaderError::Malformed {
                    field: key,
                    value: s.to_owned(),
                    expected: Self::EXPECTED,
                }),
        }
    }
}

impl ExtValue for String {
    const EXPECTED: &'static str = "string";
    fn parse_ext(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
    fn to_ext(&self) -> String {
        self.clone()
    }
    fn to_text(&self) -> Text {
        Text::copy_of(self)
    }
}

macro_rules! int_ext_value {
    ($($t:ty => $name:literal),*) => {$(
        impl ExtValue for $t {
            const EXPECTED: &'static str = $name;
            // Java's parseInt/parseLong: optional sign, decimal digits, no spaces.
            fn parse_ext(s: &str) -> Option<Self> {
                s.parse().ok()
            }
            fn to_ext(&self) -> String {
                self.to_string()
            }
            fn to_text(&self) -> Text {
                Text::int(i64::from(*self))
            }
        }
    )*};
}

int_ext_value!(i32 => "32-bit integer", i64 => "64-bit integer");

impl ExtValue for bool {
    const EXPECTED: &'static str = "boolean";
    // Java's Boolean.parseBoolean: "true" in any case is true, anything else false.
    fn parse_ext(s: &str) -> Option<Self> {
        Some(s.eq_ignore_ascii_case("true"))
    }
    fn to_ext(&self) -> String {
        self.to_string()
    }
    fn to_text(&self) -> Text {
        Text::from_static(if *self { "true" } else { "false" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_style_parsing() {
        assert_eq!(i32::parse_ext("-12"), Some(-12));
        assert_eq!(i32::parse_ext("+7"), Some(7));
        assert_eq!(i32::parse_ext(" 7"), None);
        assert_eq!(i32::parse_ext("2147483648"), None);
        assert_eq!(i64::parse_ext("9223372036854775807"), Some(i64::MAX));
        assert_eq!(bool::parse_ext("TRUE"), Some(true));
        assert_eq!(bool::parse_ext("yes"), Some(false));
    }

    #[test]
    fn errors_name_the_field() {
        let fields: ExtFields = [("queueId", "x")].into_iter().collect();
        let err = i32::required(&fields, "queueId").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed header field `queueId`: \"x\" is not a valid 32-bit integer"
        );
        let err = i32::required(&fields, "topic").unwrap_err();
        assert_eq!(err, HeaderError::Missing("topic"));
    }
}
