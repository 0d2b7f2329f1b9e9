//! Java `HashMap` iteration order for properties.
//!
//! Java writes a property string by iterating a `HashMap`: buckets in index
//! order, entries of one bucket in insertion order. Reordering our pairs the
//! same way lets us write the very bytes a Java producer or broker would, e.g.
//! when the broker re-encodes a producer's properties after adding `CLUSTER`.

use super::properties::Properties;
use super::tag_hash::java_string_hash;

/// Buckets of `new HashMap<>()`, the map of a producer's `Message`.
pub const JAVA_DEFAULT_MAP_CAPACITY: usize = 16;
/// Buckets of the map `string2messageProperties` fills (`new HashMap<>(128)`),
/// which a Java broker re-encodes stored properties from.
pub const JAVA_PARSED_MAP_CAPACITY: usize = 128;
/// Java's `HashMap.MAXIMUM_CAPACITY`.
const MAX_CAPACITY: usize = 1 << 30;

/// Buckets of a Java map created with `initial_capacity` once `len` entries
/// have been inserted: it doubles whenever its size exceeds 3/4 of its buckets.
pub fn java_map_capacity(initial_capacity: usize, len: usize) -> usize {
    // `tableSizeFor`: the next power of two, at least 1.
    let mut capacity = initial_capacity.clamp(1, MAX_CAPACITY).next_power_of_two();
    while len > capacity * 3 / 4 && capacity < MAX_CAPACITY {
        capacity *= 2;
    }
    capacity
}

/// The bucket of `key` among `capacity` (a power of two) buckets: Java's
/// `hash()` folds the high half of `hashCode` into the low half.
fn bucket(key: &str, capacity: usize) -> usize {
    let h = java_string_hash(key) as u32;
    ((h ^ (h >> 16)) as usize) & (capacity - 1)
}

impl Properties {
    /// Reorders the pairs as a Java `HashMap` created with `initial_capacity`
    /// would iterate them if the pairs had been inserted in their current
    /// order (and none removed), and forgets the decoded bytes.
    ///
    /// Exact except when nine or more names share a bucket of a map with at
    /// least 64 buckets, where Java turns the bucket into a tree and moves its
    /// root first.
    pub fn sort_as_java_hash_map(&mut self, initial_capacity: usize) {
        let capacity = java_map_capacity(initial_capacity, self.len());
        // A stable sort keeps insertion order within a bucket.
        self.sort_pairs_by_key(|name| bucket(name, capacity));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_follow_hash_map_resizing() {
        assert_eq!(java_map_capacity(JAVA_DEFAULT_MAP_CAPACITY, 0), 16);
        assert_eq!(java_map_capacity(JAVA_DEFAULT_MAP_CAPACITY, 12), 16);
        assert_eq!(java_map_capacity(JAVA_DEFAULT_MAP_CAPACITY, 13), 32);
        assert_eq!(java_map_capacity(JAVA_DEFAULT_MAP_CAPACITY, 25), 64);
        assert_eq!(java_map_capacity(JAVA_PARSED_MAP_CAPACITY, 96), 128);
        assert_eq!(java_map_capacity(JAVA_PARSED_MAP_CAPACITY, 97), 256);
        assert_eq!(java_map_capacity(100, 0), 128);
        assert_eq!(java_map_capacity(0, 1), 2);
        assert_eq!(java_map_capacity(0, 0), 1);
    }

    #[test]
    fn orders_by_bucket_then_insertion() {
        // "Aa" and "BB" share hashCode 2112 (bucket 0); "q" and "a" share bucket 1.
        let mut p: Properties = [("b", "1"), ("q", "2"), ("a", "3"), ("Aa", "4"), ("BB", "5")]
            .into_iter()
            .collect();
        p.sort_as_java_hash_map(JAVA_DEFAULT_MAP_CAPACITY);
        let names: Vec<_> = p.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["Aa", "BB", "q", "a", "b"]);
    }

    #[test]
    fn high_hash_bits_are_folded_in() {
        // "polygenelubricants" hashes to 0x80000000: bucket (0x8000_0000 ^ 0x8000) & 15 = 0,
        // and with 2^16 buckets its folded bit 15 lands in bucket 0x8000.
        assert_eq!(bucket("polygenelubricants", 16), 0);
        assert_eq!(bucket("polygenelubricants", 1 << 16), 0x8000);
    }

    #[test]
    fn forgets_raw_bytes() {
        let mut p = Properties::parse("b\u{1}1\u{2}a\u{1}2\u{2}");
        p.sort_as_java_hash_map(JAVA_PARSED_MAP_CAPACITY);
        assert_eq!(p.raw(), None);
        assert_eq!(p.to_property_string(), "a\u{1}2\u{2}b\u{1}1\u{2}");
    }
}
