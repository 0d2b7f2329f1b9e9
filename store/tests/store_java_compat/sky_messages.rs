//! The messages Skylark writes, and checks of what comes back.

use super::*;

pub(crate) const SKY_TOPICS: [(&str, usize); 3] = [
    ("SkylarkOrders", 4),
    ("SkylarkAudit", 3),
    ("SkylarkZeta", 1),
];

/// Topic and queue of message `i`.
pub(crate) fn route(i: usize) -> (&'static str, i32) {
    let (topic, queues) = SKY_TOPICS[match i % 7 {
        0..=3 => 0,
        4 | 5 => 1,
        _ => 2,
    }];
    (topic, i32::try_from(i / 7 % queues).unwrap())
}

pub(crate) fn has_keys(i: usize) -> bool {
    i % 10 != 3
}

pub(crate) fn uniq_key(i: usize) -> String {
    format!("7F0000011F3A{i:020X}")
}

/// Message `i` for `topic`/`queue_id`: tags (absent for every 8th), KEYS
/// `order-<i> user-<i%13> [bulk]` (absent for every 10th), UNIQ_KEY,
/// non-ASCII properties, empty / small / 6–9 KiB bodies, IPv6 born and store
/// hosts, flags, reconsume times and a few transaction COMMIT records.
pub(crate) fn sky_message(i: usize, (topic, queue_id): (&str, i32)) -> StoredMessage {
    let len = if i % 100 == 1 {
        0
    } else if i % 31 == 5 {
        6000 + i * 13 % 3000
    } else {
        1 + i * 53 % 1500
    };
    let body: Vec<u8> = (0..len).map(|j| ((i * 11 + j * 7) & 0xFF) as u8).collect();
    let mut m = Message::new(topic, body);
    m.flag = i32::try_from(i % 5 * 3).unwrap();
    if i % 8 != 7 {
        m = m.with_tags(&format!("Tag{}", char::from(b'A' + (i % 6) as u8)));
    }
    if has_keys(i) {
        let mut keys = vec![format!("order-{i}"), format!("user-{}", i % 13)];
        if i % 5 == 0 {
            keys.push("bulk".to_owned());
        }
        m = m.with_keys(keys.iter().map(String::as_str));
    }
    m = m
        .with_property(UNIQ_KEY, uniq_key(i))
        .with_property(WAIT_STORE_MSG_OK, "true")
        .with_property("seq", i.to_string());
    if i % 9 == 2 {
        m = m.with_property("note", format!("héllo ✓ 𝄞 #{i}"));
    }
    let port = u16::try_from(20_000 + i % 1000).unwrap();
    let born = if i % 11 == 4 {
        let low = u16::try_from(i & 0xFFFF).unwrap();
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x60, low)),
            port,
        )
    } else {
        let (hi, lo) = (((i >> 8) & 0xFF) as u8, (i & 0xFF) as u8);
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 2, hi, lo)), port)
    };
    let store_host = if i % 17 == 9 {
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0xa, 5)),
            10911,
        )
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 10911)
    };
    let mut s = StoredMessage::new(m, born, store_host);
    s.queue_id = queue_id;
    s.born_timestamp = 1_700_000_000_000 + 7 * i as i64;
    s.reconsume_times = if i % 7 == 6 { 3 } else { 0 };
    if i % 37 == 11 {
        s.sys_flag |= MessageSysFlag::TRANSACTION_COMMIT_TYPE;
        s.prepared_transaction_offset = 4096 + i as i64;
    }
    s
}

/// One stored message and where the store said it went.
#[derive(Debug)]
pub(crate) struct Put {
    pub(crate) seq: usize,
    pub(crate) msg: StoredMessage,
    pub(crate) phys: i64,
    pub(crate) queue_offset: i64,
    pub(crate) store_timestamp: i64,
}

/// Puts messages `range` routed by [`route`], every 97th starting a batch of
/// four for one queue.
pub(crate) fn put_range(store: &MessageStore, range: Range<usize>, out: &mut Vec<Put>) {
    put_routed(store, range, route, out);
}

/// [`put_range`] with topics and queues from `route`.
pub(crate) fn put_routed(
    store: &MessageStore,
    range: Range<usize>,
    route: fn(usize) -> (&'static str, i32),
    out: &mut Vec<Put>,
) {
    let mut i = range.start;
    while i < range.end {
        let n = if i % 97 == 13 {
            4.min(range.end - i)
        } else {
            1
        };
        let to = route(i);
        let batch: Vec<StoredMessage> = (i..i + n).map(|j| sky_message(j, to)).collect();
        let r = if n == 1 {
            store.put_message(&batch[0]).wait_blocking()
        } else {
            store.put_messages(&batch).wait_blocking()
        };
        assert!(r.is_stored(), "put #{i}: {r:?}");
        let a = r.append.unwrap();
        assert_eq!(a.msg_num, n, "put #{i}");
        let mut phys = a.wrote_offset;
        for (k, msg) in batch.into_iter().enumerate() {
            let len = msg.encoded_len() as i64;
            out.push(Put {
                seq: i + k,
                msg,
                phys,
                queue_offset: a.queue_offset + k as i64,
                store_timestamp: a.store_timestamp,
            });
            phys += len;
        }
        assert_eq!(phys, a.end_offset(), "put #{i}: records are back to back");
        i += n;
    }
}

/// Checks a dump (Skylark's or Java's) against what was put: same messages,
/// each with every field as put and where the store said it went.
pub(crate) fn assert_matches_puts(what: &str, lines: &[MsgLine], puts: &[Put]) {
    assert_eq!(lines.len(), puts.len(), "{what}: message count");
    let by_phys: HashMap<i64, &MsgLine> = lines.iter().map(|l| (l.physical_offset, l)).collect();
    assert_eq!(
        by_phys.len(),
        lines.len(),
        "{what}: two messages at one offset"
    );
    for p in puts {
        let l = by_phys
            .get(&p.phys)
            .unwrap_or_else(|| panic!("{what}: seq {} at {} missing", p.seq, p.phys));
        let m = &p.msg;
        let props: BTreeMap<String, String> = m
            .properties
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let expected = MsgLine {
            topic: m.topic.clone(),
            queue_id: m.queue_id,
            queue_offset: p.queue_offset,
            physical_offset: p.phys,
            store_size: i32::try_from(m.encoded_len()).unwrap(),
            tags_code: tags_code(m.tags()),
            tags: m.tags().map(str::to_owned),
            keys: m.keys().map(str::to_owned),
            uniq_key: m.uniq_key().map(str::to_owned),
            flag: m.flag,
            sys_flag: m.normalized_sys_flag(),
            born_timestamp: m.born_timestamp,
            store_timestamp: p.store_timestamp,
            born_host: m.born_host.to_string(),
            store_host: m.store_host.to_string(),
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
            body_len: m.body.len(),
            body_crc32: crc32fast::hash(&m.body),
            body_crc: m.computed_body_crc(),
            properties: props,
        };
        if **l != expected {
            assert_same_messages(
                &format!("{what}: seq {}", p.seq),
                &[expected],
                &[(*l).clone()],
            );
        }
    }
}

/// Index queries to run on a Skylark-written store and the answers they
/// must get (the newest 64 matches, sorted).
pub(crate) fn chosen_queries(puts: &[Put]) -> Vec<IndexQuery> {
    let mut queries: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |topic: &str, key: String| {
        if seen.insert((topic.to_owned(), key.clone())) {
            queries.push((topic.to_owned(), key));
        }
    };
    let last = puts.len() - 1;
    for p in [0, 1, 2, 3, 4, 13, 14, 500, 1013, last / 2, last].map(|k| &puts[k.min(last)]) {
        add(&p.msg.topic, uniq_key(p.seq));
        add(&p.msg.topic, format!("order-{}", p.seq));
    }
    add("SkylarkOrders", "user-5".to_owned());
    add("SkylarkAudit", "user-12".to_owned());
    add("SkylarkZeta", "bulk".to_owned());
    add("SkylarkZeta", "user-0".to_owned());
    add("SkylarkOrders", "no-such-key".to_owned());
    queries
        .into_iter()
        .map(|(topic, key)| {
            let mut offsets: Vec<i64> = puts
                .iter()
                .filter(|p| p.msg.topic == topic)
                .filter(|p| {
                    p.msg.uniq_key() == Some(key.as_str())
                        || p.msg.keys().is_some_and(|k| k.split(' ').any(|t| t == key))
                })
                .map(|p| p.phys)
                .collect();
            offsets.sort_unstable();
            let newest = offsets.len().saturating_sub(QUERY_MAX);
            IndexQuery {
                topic,
                key,
                physical_offsets: offsets.split_off(newest),
            }
        })
        .collect()
}

/// One query for every UNIQ_KEY and KEYS token put (and a missing key),
/// with the answer RocketMQ must give: the newest 64 matches, sorted.
pub(crate) fn every_key_query(puts: &[Put]) -> Vec<IndexQuery> {
    let mut by_key: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for p in puts {
        let tokens = p.msg.keys().into_iter().flat_map(|k| k.split(' '));
        for key in p.msg.uniq_key().into_iter().chain(tokens) {
            by_key
                .entry((p.msg.topic.clone(), key.to_owned()))
                .or_default()
                .push(p.phys);
        }
    }
    by_key.insert(
        ("SkylarkOrders".to_owned(), "no-such-key".to_owned()),
        Vec::new(),
    );
    by_key
        .into_iter()
        .map(|((topic, key), mut offsets)| {
            offsets.sort_unstable();
            let newest = offsets.len().saturating_sub(QUERY_MAX);
            IndexQuery {
                topic,
                key,
                physical_offsets: offsets.split_off(newest),
            }
        })
        .collect()
}

/// Fails listing the queries whose answers differ.
pub(crate) fn assert_same_queries(what: &str, expected: &[IndexQuery], actual: &[IndexQuery]) {
    assert_eq!(
        expected.len(),
        actual.len(),
        "{what}: number of index queries"
    );
    let wrong: Vec<String> = expected
        .iter()
        .zip(actual)
        .filter(|(e, a)| e != a)
        .map(|(e, a)| {
            format!(
                "{}#{}: expected {:?}, got {}#{} {:?}",
                e.topic, e.key, e.physical_offsets, a.topic, a.key, a.physical_offsets
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} index queries differ:\n{}",
        wrong.len(),
        expected.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

pub(crate) fn query_args(queries: &[IndexQuery]) -> Vec<OsString> {
    queries
        .iter()
        .flat_map(|q| [os("--query"), os(format!("{}:{}", q.topic, q.key))])
        .collect()
}

pub(crate) fn open_and_settle(config: &MessageStoreConfig) -> MessageStore {
    let t = Instant::now();
    let store = MessageStore::open(config.clone()).unwrap();
    assert!(
        store.wait_dispatched_all(DISPATCH_WAIT),
        "dispatch did not catch up: {} bytes behind",
        store.dispatch_behind_bytes()
    );
    eprintln!(
        "Skylark opened {} in {:.1?}: {:?}",
        config.store_path_root_dir.display(),
        t.elapsed(),
        store.recovery_report()
    );
    store
}
