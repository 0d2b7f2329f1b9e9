//! The JSON lines the harness prints, and Skylark's view in the same shape.

use super::*;

/// One message line of the harness (README "Line format"); the same struct
/// is built from Skylark's view, so the two compare field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MsgLine {
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    pub(crate) queue_offset: i64,
    pub(crate) physical_offset: i64,
    pub(crate) store_size: i32,
    pub(crate) tags_code: i64,
    pub(crate) tags: Option<String>,
    pub(crate) keys: Option<String>,
    pub(crate) uniq_key: Option<String>,
    pub(crate) flag: i32,
    pub(crate) sys_flag: i32,
    pub(crate) born_timestamp: i64,
    pub(crate) store_timestamp: i64,
    pub(crate) born_host: String,
    pub(crate) store_host: String,
    pub(crate) reconsume_times: i32,
    pub(crate) prepared_transaction_offset: i64,
    pub(crate) body_len: usize,
    pub(crate) body_crc32: u32,
    pub(crate) body_crc: i32,
    pub(crate) properties: BTreeMap<String, String>,
}

/// One index query line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct IndexQuery {
    pub(crate) topic: String,
    pub(crate) key: String,
    pub(crate) physical_offsets: Vec<i64>,
}

/// Everything the harness printed.
#[derive(Debug, Default)]
pub(crate) struct Dump {
    pub(crate) messages: Vec<MsgLine>,
    pub(crate) queries: Vec<IndexQuery>,
}

pub(crate) fn parse_dump(stdout: &str) -> Dump {
    let mut dump = Dump::default();
    for (n, line) in stdout.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line {}: not JSON ({e}): {line}", n + 1));
        if let Some(q) = value.get("indexQuery") {
            dump.queries.push(
                serde_json::from_value(q.clone())
                    .unwrap_or_else(|e| panic!("stdout line {}: {e}: {line}", n + 1)),
            );
        } else {
            assert!(
                dump.queries.is_empty(),
                "stdout line {}: a message after the index queries",
                n + 1
            );
            dump.messages.push(
                serde_json::from_value(value)
                    .unwrap_or_else(|e| panic!("stdout line {}: {e}: {line}", n + 1)),
            );
        }
    }
    dump
}

/// The line for one record Skylark returned, with its ConsumeQueue tags code.
pub(crate) fn skylark_line(rec: &Bytes, tags_code: i64) -> MsgLine {
    let (m, len) = record::decode(rec).unwrap();
    assert_eq!(len, rec.len(), "record length at {}", m.physical_offset);
    m.verify_body_crc().unwrap();
    MsgLine {
        topic: m.topic.clone(),
        queue_id: m.queue_id,
        queue_offset: m.queue_offset,
        physical_offset: m.physical_offset,
        store_size: i32::try_from(rec.len()).unwrap(),
        tags_code,
        tags: m.tags().map(str::to_owned),
        keys: m.keys().map(str::to_owned),
        uniq_key: m.uniq_key().map(str::to_owned),
        flag: m.flag,
        sys_flag: m.sys_flag,
        born_timestamp: m.born_timestamp,
        store_timestamp: m.store_timestamp,
        born_host: m.born_host.to_string(),
        store_host: m.store_host.to_string(),
        reconsume_times: m.reconsume_times,
        prepared_transaction_offset: m.prepared_transaction_offset,
        body_len: m.body.len(),
        body_crc32: crc32fast::hash(&m.body),
        body_crc: m.body_crc,
        properties: m
            .properties
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

/// Every message of every queue, as the harness orders them (topic, queue
/// id, queue offset), pulled through `get_messages` in batches; each
/// ConsumeQueue entry is checked against its record.
pub(crate) fn skylark_dump(store: &MessageStore) -> Vec<MsgLine> {
    let mut queues = store.consume_queues().queues();
    queues.sort_by(|a, b| (a.topic(), a.queue_id()).cmp(&(b.topic(), b.queue_id())));
    let mut out = Vec::new();
    for cq in queues {
        let (topic, qid) = (cq.topic().to_owned(), cq.queue_id());
        let (min, max) = (store.min_offset(&topic, qid), store.max_offset(&topic, qid));
        let mut offset = min;
        while offset < max {
            let r = store.get_messages(&topic, qid, offset, 32, 4 << 20, &|_| true);
            assert_eq!(
                r.status,
                GetMessageStatus::Found,
                "Skylark: {topic}/{qid} @{offset} (min {min}, max {max})"
            );
            assert_eq!(r.messages.len(), r.queue_offsets.len());
            for (rec, &qo) in r.messages.iter().zip(&r.queue_offsets) {
                let e = cq.get(qo).unwrap().unwrap_or_else(|| {
                    panic!("Skylark: no ConsumeQueue entry {topic}/{qid} @{qo}")
                });
                let line = skylark_line(rec, e.tags_code);
                let at = format!("Skylark: {topic}/{qid} @{qo}");
                assert_eq!(
                    (e.phys_offset, e.size),
                    (line.physical_offset, line.store_size),
                    "{at}: ConsumeQueue entry vs record"
                );
                assert_eq!(
                    (line.topic.as_str(), line.queue_id, line.queue_offset),
                    (topic.as_str(), qid, qo),
                    "{at}: record header"
                );
                out.push(line);
            }
            assert!(
                r.next_begin_offset > offset,
                "Skylark: {topic}/{qid} @{offset}: no progress"
            );
            offset = r.next_begin_offset;
        }
    }
    out
}

/// Physical offsets of Skylark's answer to `queryMessage(topic, key, 64, 0, MAX)`.
pub(crate) fn skylark_query(store: &MessageStore, topic: &str, key: &str) -> Vec<i64> {
    let r = store.query_by_key(topic, key, QUERY_MAX, 0, i64::MAX);
    let mut offsets: Vec<i64> = r
        .messages
        .iter()
        .map(|b| record::decode(b).unwrap().0.physical_offset)
        .collect();
    offsets.sort_unstable();
    offsets
}

/// Every message's UNIQ_KEY and KEYS tokens find it through Skylark's
/// `query_by_key` (for a key with more than 64 messages: the 64 newest, as
/// RocketMQ answers).
pub(crate) fn assert_every_key_indexed(what: &str, store: &MessageStore, lines: &[MsgLine]) {
    let mut by_key: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for l in lines {
        let tokens = l.keys.iter().flat_map(|k| k.split(' '));
        for key in l.uniq_key.as_deref().into_iter().chain(tokens) {
            if !key.is_empty() {
                by_key
                    .entry((l.topic.as_str(), key))
                    .or_default()
                    .push(l.physical_offset);
            }
        }
    }
    let mut wrong = Vec::new();
    for (&(topic, key), offsets) in &mut by_key {
        offsets.sort_unstable();
        offsets.dedup();
        let want = &offsets[offsets.len().saturating_sub(QUERY_MAX)..];
        let got = skylark_query(store, topic, key);
        if got != want {
            let lost: Vec<i64> = want.iter().copied().filter(|o| !got.contains(o)).collect();
            wrong.push(format!(
                "{topic}#{key}: lost {lost:?}, got {} of {}",
                got.len(),
                want.len()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} keys are answered wrongly by the index:\n{}",
        wrong.len(),
        by_key.len(),
        wrong.join("\n")
    );
}

/// Fails with the first few differing messages, field by field.
pub(crate) fn assert_same_messages(what: &str, expected: &[MsgLine], actual: &[MsgLine]) {
    let differing: Vec<usize> = (0..expected.len().min(actual.len()))
        .filter(|&i| expected[i] != actual[i])
        .collect();
    if differing.is_empty() && expected.len() == actual.len() {
        return;
    }
    let mut report = format!(
        "{what}: expected {} messages, got {}; {} of the common prefix differ",
        expected.len(),
        actual.len(),
        differing.len()
    );
    for &i in differing.iter().take(5) {
        let (e, a) = (
            serde_json::to_value(&expected[i]).unwrap(),
            serde_json::to_value(&actual[i]).unwrap(),
        );
        let fields: Vec<String> = e
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| a.get(k.as_str()) != Some(v))
            .map(|(k, v)| format!("{k}: expected {v}, got {}", a[k.as_str()]))
            .collect();
        report += &format!(
            "\n#{i} {}/{} @{} (phys {}): {}",
            expected[i].topic,
            expected[i].queue_id,
            expected[i].queue_offset,
            expected[i].physical_offset,
            fields.join("; ")
        );
    }
    if expected.len() != actual.len() {
        let key = |m: &MsgLine| (m.topic.clone(), m.queue_id, m.queue_offset);
        let have: std::collections::HashSet<_> = actual.iter().map(key).collect();
        let want: std::collections::HashSet<_> = expected.iter().map(key).collect();
        let missing: Vec<_> = expected
            .iter()
            .map(key)
            .filter(|k| !have.contains(k))
            .take(10)
            .collect();
        let extra: Vec<_> = actual
            .iter()
            .map(key)
            .filter(|k| !want.contains(k))
            .take(10)
            .collect();
        report += &format!("\nmissing (first 10): {missing:?}\nunexpected (first 10): {extra:?}");
    }
    panic!("{report}");
}
