//! `extFields`: the string map that carries a command's typed header.

use crate::pair_pool;
use crate::text::Text;

/// The `extFields` map of a remoting header.
///
/// Entries keep the order in which they were decoded or inserted, so that a
/// frame decoded from a Java peer re-encodes byte for byte (Java writes a
/// `HashMap` in its own iteration order). Lookups are linear: headers hold a
/// handful of entries, where a scan beats hashing. Keys and values are
/// [`Text`]: a decoded binary header's are views of the frame, and headers
/// written with [`insert_text`](Self::insert_text) need no allocation per
/// entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtFields {
    entries: Vec<(Text, Text)>,
}

impl ExtFields {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries (a recycled vector where this
    /// thread has one: see [`pair_pool`]).
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: pair_pool::take(n),
        }
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_bytes() == key.as_bytes())
            .map(|(_, v)| v.as_str())
    }

    /// The value under `key` as a [`Text`] (a view of the frame when decoded
    /// from a binary header, so [`Text::to_bytes`] shares it).
    pub fn get_text(&self, key: &str) -> Option<&Text> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_bytes() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.insert_text(Text::from(key.into()), Text::from(value.into()));
    }

    /// Like [`insert`](Self::insert), without allocating for literal, inline
    /// or shared texts.
    pub fn insert_text(&mut self, key: Text, value: Text) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.push(key, value),
        }
    }

    /// Appends an entry without checking for an existing key (decoders use it).
    pub(crate) fn push(&mut self, key: Text, value: Text) {
        if self.entries.capacity() == 0 {
            self.entries = pair_pool::take(8);
        }
        self.entries.push((key, value));
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.as_bytes() == key.as_bytes())?;
        Some(self.entries.remove(i).1.into_string())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Merges `other` into `self`, its values winning.
    pub fn extend(&mut self, mut other: ExtFields) {
        for (k, v) in other.entries.drain(..) {
            self.insert_text(k, v);
        }
    }
}

impl Drop for ExtFields {
    fn drop(&mut self) {
        pair_pool::give_back(std::mem::take(&mut self.entries));
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut fields = ExtFields::new();
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_in_place_and_keeps_order() {
        let mut f = ExtFields::new();
        f.insert("b", "1");
        f.insert("a", "2");
        f.insert("b", "3");
        let got: Vec<_> = f.iter().collect();
        assert_eq!(got, vec![("b", "3"), ("a", "2")]);
        assert_eq!(f.remove("b").as_deref(), Some("3"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.len(), 1);
    }
}
