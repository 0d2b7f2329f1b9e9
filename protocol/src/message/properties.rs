//! [`Properties`]: a message's string map and its `name 0x01 value 0x02` encoding.
//!
//! Java keeps properties in a `HashMap` and writes them in its iteration order,
//! which we cannot know in general. So a decoded [`Properties`] keeps the exact
//! bytes it came from and writes them back unchanged until it is modified;
//! otherwise pairs are written in insertion order.

use std::collections::HashSet;

use bytes::{BufMut, Bytes};

use super::error::{EncodeError, ensure_room};
use crate::pair_pool;
use crate::text::Text;

/// Separates a property's name from its value.
pub const NAME_VALUE_SEPARATOR: u8 = 0x01;
/// Ends each property.
pub const PROPERTY_SEPARATOR: u8 = 0x02;
/// The most property bytes a record can hold (its length field is an i16).
pub const MAX_ENCODED_LEN: usize = i16::MAX as usize;

/// Below this many pairs a quadratic duplicate scan beats hashing.
const DEDUP_HASH_THRESHOLD: usize = 16;

/// An insertion-ordered string map that remembers its encoded bytes.
///
/// Decoded names and values are views of the decoded bytes (no copy each).
#[derive(Debug, Clone, Default)]
pub struct Properties {
    pairs: Vec<(Text, Text)>,
    /// The bytes this map was decoded from, cleared by any modification.
    raw: Option<Bytes>,
}

impl PartialEq for Properties {
    /// Compares the pairs in order; whether raw bytes are kept does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.pairs == other.pairs
    }
}

impl Eq for Properties {}

impl Properties {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a property string as `MessageDecoder.string2messageProperties`
    /// does, keeping `raw` so that [`encode_into`](Self::encode_into) repeats it
    /// byte for byte.
    ///
    /// Never fails: segments without a name or without a value are skipped
    /// (so `name 0x01 0x02` is dropped, as in Java), a duplicated name keeps its
    /// first position and its last value, and invalid UTF-8 becomes U+FFFD
    /// like Java's `new String(bytes, UTF_8)`.
    pub fn decode(raw: Bytes) -> Self {
        let pairs = parse_pairs(&raw);
        let raw = (!raw.is_empty()).then_some(raw);
        Self { pairs, raw }
    }

    /// Decodes a property string from a request header (see [`decode`](Self::decode)).
    pub fn parse(s: &str) -> Self {
        Self::decode(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.as_bytes() == name.as_bytes())
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, keeping its position if present, and returns
    /// the old value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.insert_text(Text::from(name.into()), Text::from(value.into()))
            .map(Text::into_string)
    }

    /// Like [`insert`](Self::insert), without allocating for literal, inline
    /// or shared texts (beyond room for one more pair).
    pub fn insert_text(&mut self, name: Text, value: Text) -> Option<Text> {
        self.raw = None;
        match self.pairs.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                if self.pairs.capacity() == 0 {
                    self.pairs = pair_pool::take(4);
                }
                self.pairs.push((name, value));
                None
            }
        }
    }

    /// Removes `name`, keeping the order of the rest, and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let at = self
            .pairs
            .iter()
            .position(|(k, _)| k.as_bytes() == name.as_bytes())?;
        self.raw = None;
        Some(self.pairs.remove(at).1.into_string())
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The bytes this map was decoded from, if it has not been modified since.
    pub fn raw(&self) -> Option<&Bytes> {
        self.raw.as_ref()
    }

    /// Forgets the decoded bytes so encoding writes the pairs, which drops
    /// skipped segments as Java's re-encoding from its map does.
    pub fn drop_raw(&mut self) {
        self.raw = None;
    }

    /// Length of the encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        match &self.raw {
            Some(raw) => raw.len(),
            None => self.pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum(),
        }
    }

    /// Writes the encoding; fails if it exceeds [`MAX_ENCODED_LEN`] or `out`.
    pub fn encode_into<B: BufMut + ?Sized>(&self, out: &mut B) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        if len > MAX_ENCODED_LEN {
            return Err(EncodeError::PropertiesTooLong { len });
        }
        ensure_room(out, len)?;
        self.write_unchecked(out);
        Ok(())
    }

    /// The encoding as bytes (shared with the decoded bytes when unmodified).
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let len = self.encoded_len();
        if len > MAX_ENCODED_LEN {
            return Err(EncodeError::PropertiesTooLong { len });
        }
        if let Some(raw) = &self.raw {
            return Ok(raw.clone());
        }
        let mut out = Vec::with_capacity(len);
        self.write_unchecked(&mut out);
        Ok(Bytes::from(out))
    }

    /// The encoding as a string, for the `properties` field of send headers
    /// (which has no length limit, so none is checked).
    pub fn to_property_string(&self) -> String {
        if let Some(s) = self
            .raw
            .as_deref()
            .and_then(|r| std::str::from_utf8(r).ok())
        {
            return s.to_owned();
        }
        let mut out = String::with_capacity(self.encoded_len());
        for (k, v) in &self.pairs {
            out.push_str(k);
            out.push(char::from(NAME_VALUE_SEPARATOR));
            out.push_str(v);
            out.push(char::from(PROPERTY_SEPARATOR));
        }
        out
    }

    /// Stably reorders the pairs by `key(name)`, forgetting the decoded bytes.
    pub(crate) fn sort_pairs_by_key<K: Ord>(&mut self, mut key: impl FnMut(&str) -> K) {
        self.raw = None;
        self.pairs.sort_by_cached_key(|(name, _)| key(name));
    }

    /// Writes the encoding without checks; callers checked length and room.
    pub(crate) fn write_unchecked<B: BufMut + ?Sized>(&self, out: &mut B) {
        if let Some(raw) = &self.raw {
            out.put_slice(raw);
            return;
        }
        for (k, v) in &self.pairs {
            out.put_slice(k.as_bytes());
            out.put_u8(NAME_VALUE_SEPARATOR);
            out.put_slice(v.as_bytes());
            out.put_u8(PROPERTY_SEPARATOR);
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    /// Collects pairs in order; a repeated name keeps its first position.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut out = Self::new();
        for (k, v) in iter {
            out.insert(k, v);
        }
        out
    }
}

/// Splits on 0x02, then each segment at its first 0x01, keeping segments with
/// a non-empty name and value (Java's `newIndex - index >= 3` check is implied
/// by those two).
fn parse_pairs(raw: &Bytes) -> Vec<(Text, Text)> {
    // Room for the pairs and one more (the broker adds CLUSTER): one allocation.
    let count = raw.iter().filter(|&&b| b == PROPERTY_SEPARATOR).count() + 1;
    let mut pairs = if raw.is_empty() {
        Vec::new()
    } else {
        pair_pool::take(count + 1)
    };
    for segment in raw.split(|&b| b == PROPERTY_SEPARATOR) {
        let Some(sep) = segment.iter().position(|&b| b == NAME_VALUE_SEPARATOR) else {
            continue;
        };
        let (Some(name), Some(value)) = (segment.get(..sep), segment.get(sep + 1..)) else {
            continue;
        };
        if name.is_empty() || value.is_empty() {
            continue;
        }
        pairs.push((text_of(raw, name), text_of(raw, value)));
    }
    if has_duplicate_names(&pairs) {
        pairs = merge_duplicates(pairs);
    }
    pairs
}

/// A view of `part` of `raw`, or, if it is not UTF-8, a copy with U+FFFD
/// as Java's `new String(bytes, UTF_8)` makes.
fn text_of(raw: &Bytes, part: &[u8]) -> Text {
    Text::shared(raw.slice_ref(part))
        .unwrap_or_else(|| Text::from(String::from_utf8_lossy(part).into_owned()))
}

/// Whether two pairs share a name; rare, so this only has to be cheap.
fn has_duplicate_names(pairs: &[(Text, Text)]) -> bool {
    if pairs.len() <= DEDUP_HASH_THRESHOLD {
        return pairs
            .iter()
            .enumerate()
            .any(|(i, (k, _))| pairs.iter().skip(i + 1).any(|(k2, _)| k == k2));
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    !pairs.iter().all(|(k, _)| seen.insert(k.as_str()))
}

impl Drop for Properties {
    fn drop(&mut self) {
        pair_pool::give_back(std::mem::take(&mut self.pairs));
    }
}

/// Keeps each name at its first position with its last value, as a Java map
/// filled in order would hold it.
fn merge_duplicates(pairs: Vec<(Text, Text)>) -> Vec<(Text, Text)> {
    let mut out: Vec<(Text, Text)> = Vec::with_capacity(pairs.len());
    let mut index: std::collections::HashMap<Text, usize> =
        std::collections::HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        match index.get(&k) {
            Some(&at) => {
                if let Some(slot) = out.get_mut(at) {
                    slot.1 = v;
                }
            }
            None => {
                index.insert(k.clone(), out.len());
                out.push((k, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(p: &Properties) -> Vec<(&str, &str)> {
        p.iter().collect()
    }

    #[test]
    fn encodes_in_insertion_order() {
        let mut p = Properties::new();
        assert!(p.is_empty());
        p.insert("TAGS", "a");
        p.insert("KEYS", "k1 k2");
        assert_eq!(p.insert("TAGS", "b"), Some("a".to_owned()));
        assert_eq!(p.len(), 2);
        assert_eq!(p.to_property_string(), "TAGS\u{1}b\u{2}KEYS\u{1}k1 k2\u{2}");
        assert_eq!(p.encoded_len(), 18);
        assert_eq!(
            &p.to_bytes().unwrap()[..],
            b"TAGS\x01b\x02KEYS\x01k1 k2\x02"
        );
        assert_eq!(p.remove("TAGS"), Some("b".to_owned()));
        assert_eq!(p.remove("TAGS"), None);
        assert!(!p.contains("TAGS"));
        assert_eq!(p.get("KEYS"), Some("k1 k2"));
    }

    #[test]
    fn decodes_like_string2message_properties() {
        // Empty name, empty value, no separator, short segment and a final
        // segment without its 0x02 terminator.
        let raw = b"\x01v\x02k\x01\x02ab\x02x\x02\x02a\x01b\x02c\x01d\x01e\x02last\x01z";
        let p = Properties::decode(Bytes::from_static(raw));
        assert_eq!(pairs(&p), [("a", "b"), ("c", "d\u{1}e"), ("last", "z")]);
        assert_eq!(p.raw().map(|r| &r[..]), Some(&raw[..]));
    }

    #[test]
    fn decodes_empty_and_degenerate_input() {
        for raw in [
            &b""[..],
            b"\x02",
            b"\x01",
            b"\x01\x02",
            b"a\x01",
            b"\x02\x02\x02",
        ] {
            let p = Properties::decode(Bytes::copy_from_slice(raw));
            assert!(p.is_empty(), "{raw:?}");
            assert_eq!(p.encoded_len(), raw.len());
        }
        assert_eq!(Properties::decode(Bytes::new()).raw(), None);
    }

    #[test]
    fn duplicate_names_keep_first_position_and_last_value() {
        let p = Properties::parse("a\u{1}1\u{2}b\u{1}2\u{2}a\u{1}3\u{2}");
        assert_eq!(pairs(&p), [("a", "3"), ("b", "2")]);
        let many: String = (0..40)
            .map(|i| format!("k{}\u{1}{i}\u{2}", i % 20))
            .collect();
        let p = Properties::parse(&many);
        assert_eq!(p.len(), 20);
        assert_eq!(p.get("k0"), Some("20"));
        assert_eq!(p.iter().next(), Some(("k0", "20")));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let p = Properties::decode(Bytes::from_static(b"k\x01\xff\xfe\x02"));
        assert_eq!(p.get("k"), Some("\u{FFFD}\u{FFFD}"));
        // The original bytes still come back unchanged.
        assert_eq!(&p.to_bytes().unwrap()[..], b"k\x01\xff\xfe\x02");
    }

    #[test]
    fn raw_bytes_survive_until_modified() {
        let raw = Bytes::from_static(b"b\x011\x02a\x012\x02junk\x02");
        let mut p = Properties::decode(raw.clone());
        assert_eq!(p.to_bytes().unwrap(), raw);
        assert_eq!(p.to_property_string(), "b\u{1}1\u{2}a\u{1}2\u{2}junk\u{2}");
        p.insert("c", "3");
        assert_eq!(p.raw(), None);
        assert_eq!(
            p.to_property_string(),
            "b\u{1}1\u{2}a\u{1}2\u{2}c\u{1}3\u{2}"
        );
        let mut q = Properties::decode(raw);
        q.drop_raw();
        assert_eq!(&q.to_bytes().unwrap()[..], b"b\x011\x02a\x012\x02");
        assert_eq!(q, Properties::from_iter([("b", "1"), ("a", "2")]));
    }

    #[test]
    fn empty_values_are_written_as_java_does() {
        let p: Properties = [("k", "")].into_iter().collect();
        assert_eq!(p.to_property_string(), "k\u{1}\u{2}");
        assert!(Properties::parse(&p.to_property_string()).is_empty());
    }

    #[test]
    fn rejects_encodings_over_i16() {
        let mut p = Properties::new();
        p.insert("k", "v".repeat(MAX_ENCODED_LEN - 3));
        assert_eq!(p.encoded_len(), MAX_ENCODED_LEN);
        assert!(p.to_bytes().is_ok());
        p.insert("k", "v".repeat(MAX_ENCODED_LEN - 2));
        assert_eq!(
            p.to_bytes(),
            Err(EncodeError::PropertiesTooLong {
                len: MAX_ENCODED_LEN + 1
            })
        );
        let long = Properties::decode(p.to_property_string().into_bytes().into());
        assert!(matches!(
            long.to_bytes(),
            Err(EncodeError::PropertiesTooLong { .. })
        ));
    }

    #[test]
    fn refuses_a_too_small_buffer_without_writing() {
        let p: Properties = [("ab", "cd")].into_iter().collect();
        let mut buf = [0u8; 5];
        let mut out = &mut buf[..];
        assert_eq!(
            p.encode_into(&mut out),
            Err(EncodeError::BufferTooSmall {
                needed: 6,
                remaining: 5
            })
        );
        assert_eq!(buf, [0; 5]);
    }

    fn arb_text() -> impl Strategy<Value = String> {
        // Any text without the two separators, including non-ASCII.
        "[^\u{1}\u{2}]{1,12}"
    }

    proptest! {
        #[test]
        fn round_trips(pairs in proptest::collection::vec((arb_text(), arb_text()), 0..12)) {
            let p: Properties = pairs.into_iter().collect();
            let bytes = p.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), p.encoded_len());
            let back = Properties::decode(bytes.clone());
            prop_assert_eq!(&back, &p);
            prop_assert_eq!(back.to_bytes().unwrap(), bytes);
            prop_assert_eq!(Properties::parse(&p.to_property_string()), p);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let p = Properties::decode(Bytes::from(raw.clone()));
            prop_assert_eq!(&p.to_bytes().unwrap()[..], &raw[..]);
        }
    }
}
