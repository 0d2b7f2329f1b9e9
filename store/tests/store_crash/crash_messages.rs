//! The messages the crashing writer puts, derived from their sequence numbers.

use super::*;

pub(crate) fn crash_config(dir: &Path) -> MessageStoreConfig {
    let mut c = store_support::config(dir);
    c.mapped_file_size_commit_log = CL_FILE;
    c.mapped_file_size_consume_queue = CQ_PER_FILE * 20;
    c.flush_disk_type = FlushDiskType::SyncFlush;
    // Index files roll every 1000 messages (KEYS and UNIQ_KEY each take an
    // entry), so a crash finds finished index files and a live one.
    c.max_hash_slot_num = 512;
    c.max_index_num = 2_000;
    c
}

/// splitmix64: spreads sequence numbers over routes and sizes.
pub(crate) fn mix(seq: u64) -> u64 {
    let mut x = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The topic and queue of message `seq`.
pub(crate) fn route(seq: u64) -> (&'static str, i32) {
    let h = mix(seq);
    (TOPICS[(h % 3) as usize], ((h >> 8) % QUEUES as u64) as i32)
}

/// Body length of message `seq`: 16 to 1515 bytes.
pub(crate) fn body_len(seq: u64) -> usize {
    16 + ((mix(seq) >> 16) % 1500) as usize
}

pub(crate) fn uniq_key(seq: u64) -> String {
    format!("0A000001{seq:024X}")
}

pub(crate) fn crash_msg(seq: u64) -> StoredMessage {
    let (topic, queue_id) = route(seq);
    let tag = if seq % 2 == 0 { "TagA" } else { "TagB" };
    let key = format!("seq-{seq}");
    let mut m = store_support::msg(topic, queue_id, &seq_body(seq, body_len(seq)), tag, &[&key]);
    m.properties.set_uniq_key(&uniq_key(seq));
    m.born_timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    m
}

/// Checks that a stored record is message `seq` as the child built it, and
/// returns `seq`.
pub(crate) fn check_record(m: &StoredMessage) -> u64 {
    let at = m.physical_offset;
    let seq = check_seq_body(&m.body).unwrap_or_else(|| panic!("garbage body at {at}"));
    assert_eq!(m.body.len(), body_len(seq), "body length at {at}");
    let (topic, queue_id) = route(seq);
    assert_eq!(
        (m.topic.as_str(), m.queue_id),
        (topic, queue_id),
        "route of seq {seq} at {at}"
    );
    assert_eq!(
        m.keys(),
        Some(format!("seq-{seq}").as_str()),
        "KEYS at {at}"
    );
    assert_eq!(
        m.uniq_key(),
        Some(uniq_key(seq).as_str()),
        "UNIQ_KEY at {at}"
    );
    seq
}

/// Writes one line to stdout in a single write (a pipe write below 4 KiB is atomic).
pub(crate) fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}
