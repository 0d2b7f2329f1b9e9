//! [`Resolved`]: what a check pass has read of one op queue — which half
//! offsets are committed or rolled back, and how far the op queue's check
//! offset may move (Java's `removeMap`, `opMsgMap`, `doneOpOffset` and
//! `calculateOpOffset`).

use std::collections::{BTreeMap, HashMap};

use super::op::{REMOVE_TAG, decode_body};

/// The op records read so far, from the op queue's check offset on.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// Half offset → the op record that resolved it.
    halves: HashMap<i64, i64>,
    /// Op offset → the largest half offset it names (-1 for none).
    ops: BTreeMap<i64, i64>,
    /// Op offset ranges `[from, to)` skipped as unreadable: done.
    skipped: Vec<(i64, i64)>,
    /// The op offset the pass started from.
    start: i64,
    /// The next op offset to read.
    next: i64,
}

impl Resolved {
    /// Nothing read yet; reading starts at op offset `start`.
    pub(crate) fn new(start: i64) -> Self {
        Self {
            halves: HashMap::new(),
            ops: BTreeMap::new(),
            skipped: Vec::new(),
            start,
            next: start,
        }
    }

    /// The next op offset to read.
    pub(crate) fn next(&self) -> i64 {
        self.next
    }

    /// Adds the op record at `op_offset`. One with another tag or naming
    /// nothing is done at once (Java logs it and moves past it).
    pub(crate) fn add(&mut self, op_offset: i64, tags: Option<&str>, body: &[u8]) {
        let mut highest = -1;
        if tags == Some(REMOVE_TAG) {
            for half in decode_body(body).filter(|&half| half >= 0) {
                self.halves.insert(half, op_offset);
                highest = highest.max(half);
            }
        } else {
            tracing::warn!(
                op_offset,
                ?tags,
                "transaction op record with a foreign tag; skipped"
            );
        }
        self.ops.insert(op_offset, highest);
        self.next = self.next.max(op_offset + 1);
    }

    /// Moves the read position to `to`, the op offsets before it that
    /// were not read being unreadable (deleted or damaged).
    pub(crate) fn skip_to(&mut self, to: i64) {
        if to > self.next {
            self.skipped.push((self.next, to));
            self.next = to;
        }
    }

    /// Whether the half at `half_offset` has an op record.
    pub(crate) fn contains(&self, half_offset: i64) -> bool {
        self.halves.contains_key(&half_offset)
    }

    /// How many halves in `[from, to)` have an op record.
    pub(crate) fn count_between(&self, from: i64, to: i64) -> i64 {
        let count = self
            .halves
            .keys()
            .filter(|&&half| from <= half && half < to)
            .count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// Where the op queue's check offset may move once every half below
    /// `half_offset` is behind the half queue's: past each op record, in
    /// order from the start, all of whose halves are below it.
    pub(crate) fn done_until(&self, half_offset: i64) -> i64 {
        let mut at = self.start;
        while at < self.next {
            if let Some(&highest) = self.ops.get(&at) {
                if highest >= half_offset {
                    break;
                }
                at += 1;
            } else if let Some(&(_, to)) = self
                .skipped
                .iter()
                .find(|&&(from, to)| from <= at && at < to)
            {
                at = to;
            } else {
                break;
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_records_mark_their_halves_resolved() {
        let mut r = Resolved::new(10);
        r.add(10, Some("d"), b"3,");
        r.add(11, Some("d"), b"5,4,");
        r.add(12, Some("d"), b"9");
        assert!(r.contains(3) && r.contains(4) && r.contains(5) && r.contains(9));
        assert!(!r.contains(6));
        assert_eq!(r.next(), 13);
        assert_eq!(r.count_between(4, 9), 2);
        assert_eq!(r.count_between(0, 100), 4);
    }

    #[test]
    fn the_op_offset_moves_past_ops_whose_halves_are_all_behind() {
        let mut r = Resolved::new(10);
        r.add(10, Some("d"), b"3,");
        r.add(11, Some("d"), b"5,4,");
        r.add(12, Some("d"), b"2,");
        assert_eq!(r.done_until(0), 10, "nothing behind yet");
        assert_eq!(r.done_until(4), 11, "op 11 still names 4 and 5");
        assert_eq!(r.done_until(6), 13);
    }

    #[test]
    fn foreign_tags_empty_bodies_and_skipped_ranges_are_done() {
        let mut r = Resolved::new(0);
        r.add(0, Some("x"), b"1,");
        r.add(1, Some("d"), b"");
        r.skip_to(50);
        r.add(50, Some("d"), b"100,");
        assert!(!r.contains(1));
        assert_eq!(r.done_until(0), 50);
        assert_eq!(r.done_until(101), 51);
        r.skip_to(40);
        assert_eq!(r.next(), 51, "skipping backwards does nothing");
    }
}
