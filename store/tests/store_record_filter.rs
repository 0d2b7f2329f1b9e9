#![allow(clippy::unwrap_used)]
//! `get_messages_with`'s record filter (Java's `isMatchedByCommitLog`):
//! it sees each candidate record's raw property bytes after the tags-code
//! filter, rejected records still advance the next offset, and a read with
//! no match is `NoMatchedMessage`.

mod store_support;

use std::cell::RefCell;

use skylark_protocol::message::tag_hash::tags_code;
use skylark_store::message_store::GetMessageStatus;
use store_support::{all, bodies, msg, open, put_ok, settle};
use tempfile::TempDir;

#[test]
fn record_filter_sees_properties_and_rejected_records_advance_the_offset() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    for i in 0..12 {
        let tag = if i % 2 == 0 { "Even" } else { "Odd" };
        let mut m = msg("Rec", 0, format!("{i}").as_bytes(), tag, &[]);
        m.properties.insert("n", i.to_string());
        put_ok(&store, &m);
    }
    settle(&store);

    // Properties arrive raw: "name\x01value" pairs joined by "\x02".
    let seen = RefCell::new(Vec::new());
    let div3 = |props: &[u8]| {
        seen.borrow_mut().push(props.to_vec());
        let n = props
            .split(|&b| b == 2)
            .find_map(|pair| pair.strip_prefix(b"n\x01"))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i32>().ok())
            .unwrap();
        n % 3 == 0
    };
    let even = tags_code(Some("Even"));
    let only_even = move |code: i64| code == even;
    let r = store.get_messages_with("Rec", 0, 0, 32, 1 << 20, &only_even, Some(&div3));
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(
        bodies(&r.messages),
        ["0", "6"].map(|s| s.as_bytes().to_vec())
    );
    assert_eq!(r.queue_offsets, [0, 6]);
    assert_eq!(r.next_begin_offset, 12);
    // Only records that passed the tags code reach the record filter.
    assert_eq!(seen.borrow().len(), 6);
    assert!(
        seen.borrow()
            .iter()
            .all(|p| p.windows(9).any(|w| w == b"TAGS\x01Even"))
    );

    // Rejected records do not count against max_count.
    let r = store.get_messages_with("Rec", 0, 1, 1, 1 << 20, &all, Some(&div3));
    assert_eq!(
        (r.queue_offsets.as_slice(), r.next_begin_offset),
        (&[3][..], 4)
    );

    // Nothing matches: NoMatchedMessage, past every scanned entry.
    let none = |_: &[u8]| false;
    let r = store.get_messages_with("Rec", 0, 2, 32, 1 << 20, &all, Some(&none));
    assert_eq!(r.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 12);
    assert!(r.messages.is_empty() && r.buffer_total_size == 0);

    // Without a record filter it is get_messages.
    let with = store.get_messages_with("Rec", 0, 0, 32, 1 << 20, &all, None);
    let plain = store.get_messages("Rec", 0, 0, 32, 1 << 20, &all);
    assert_eq!(with, plain);
    assert_eq!(plain.messages.len(), 12);
}
