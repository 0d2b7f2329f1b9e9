//! Tag hash codes, as stored in ConsumeQueue entries and used for filtering.

/// Java's `String.hashCode`: `h = 31 * h + c` over UTF-16 code units, wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    java_string_hash_from(0, s)
}

/// Continues [`java_string_hash`] from the hash `h` of a prefix: the hash of
/// the concatenation, without building it (`"a" + "b"` hashes as
/// `java_string_hash_from(java_string_hash("a"), "b")`).
pub fn java_string_hash_from(h: i32, s: &str) -> i32 {
    s.encode_utf16().fold(h, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The ConsumeQueue tags code of a message (`tagsString2tagsCode`): the tag's
/// hash widened to i64 with its sign, 0 when there is no tag or it is empty.
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => i64::from(java_string_hash(t)),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_string_hash_code() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // Wraps: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // Non-BMP characters hash as two surrogate units.
        assert_eq!(java_string_hash("😀"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_string_hash("é"), 0xE9);
    }

    #[test]
    fn continuing_a_hash_equals_hashing_the_concatenation() {
        for (a, b) in [
            ("TopicTest", "#KEY1"),
            ("", "x"),
            ("标签", "😀#k"),
            ("a", ""),
        ] {
            assert_eq!(
                java_string_hash_from(java_string_hash(a), b),
                java_string_hash(&format!("{a}{b}"))
            );
        }
    }

    #[test]
    fn tags_code_sign_extends() {
        assert_eq!(tags_code(None), 0);
        assert_eq!(tags_code(Some("")), 0);
        assert_eq!(tags_code(Some("TagA")), 2_598_919);
        assert_eq!(tags_code(Some("polygenelubricants")), -2_147_483_648);
    }
}
