//! Property lookup in a record's raw property bytes, read in place:
//! `name \x01 value` pairs separated by `\x02`, as Java's
//! `string2messageProperties` reads them (a pair needs a non-empty name
//! and value; a later pair of the same name wins).

use std::borrow::Cow;

const NAME_VALUE_SEPARATOR: u8 = 0x01;
const PROPERTY_SEPARATOR: u8 = 0x02;

/// The value of property `name`, if the record has it. Invalid UTF-8 is
/// replaced as Java's decoder does (the only case that allocates).
pub(super) fn property<'a>(props: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    let name = name.as_bytes();
    props
        .rsplit(|&b| b == PROPERTY_SEPARATOR)
        .find_map(|pair| {
            let sep = pair.iter().position(|&b| b == NAME_VALUE_SEPARATOR)?;
            let value = &pair[sep + 1..];
            (sep > 0 && !value.is_empty() && &pair[..sep] == name).then_some(value)
        })
        .map(String::from_utf8_lossy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_as_java_decodes_them() {
        let props = b"a\x013\x02TAGS\x01x\x02b\x01\x02\x01v\x02c\x01p\x01q\x02a\x014";
        assert_eq!(property(props, "a").as_deref(), Some("4"), "the last wins");
        assert_eq!(property(props, "TAGS").as_deref(), Some("x"));
        assert_eq!(property(props, "b"), None, "an empty value is no property");
        assert_eq!(property(props, ""), None, "nor is an empty name");
        assert_eq!(property(props, "c").as_deref(), Some("p\x01q"));
        assert_eq!(property(props, "A"), None, "names are case-sensitive");
        assert_eq!(property(b"", "a"), None);
        assert_eq!(property(b"a\x01\xffz", "a").as_deref(), Some("\u{fffd}z"));
        assert!(matches!(
            property(b"a\x01ok", "a"),
            Some(Cow::Borrowed("ok"))
        ));
    }
}
