//! Tests of the record codec: hand-built bytes, every error, and round trips.

use std::net::{IpAddr, SocketAddr};

use bytes::{BufMut, Bytes};
use proptest::prelude::*;

use super::*;
use crate::message::error::EncodeError;
use crate::message::property;

const BODY: &[u8] = b"hello";
const TOPIC: &[u8] = b"TopicTest";
const PROPS: &[u8] = b"TAGS\x01TagA\x02UNIQ_KEY\x01ABC\x02";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A v1 record built field by field, independently of the encoder.
fn manual_v1() -> Vec<u8> {
    let total = 91 + BODY.len() + TOPIC.len() + PROPS.len();
    let mut v = Vec::new();
    v.put_i32(total as i32);
    v.put_i32(MAGIC_CODE_V1);
    v.put_i32(body_crc(BODY));
    v.put_i32(3); // queue id
    v.put_i32(7); // flag
    v.put_i64(42); // queue offset
    v.put_i64(1000); // physical offset
    v.put_i32(0); // sysflag
    v.put_i64(1_700_000_000_000); // born timestamp
    v.put_slice(&[10, 0, 0, 1]);
    v.put_i32(5555);
    v.put_i64(1_700_000_000_100); // store timestamp
    v.put_slice(&[192, 168, 0, 1]);
    v.put_i32(10911);
    v.put_i32(2); // reconsume times
    v.put_i64(0); // prepared transaction offset
    v.put_i32(BODY.len() as i32);
    v.put_slice(BODY);
    v.put_u8(TOPIC.len() as u8);
    v.put_slice(TOPIC);
    v.put_i16(PROPS.len() as i16);
    v.put_slice(PROPS);
    assert_eq!(v.len(), total);
    v
}

fn sample(version: MessageVersion, born: &str, store: &str, topic: &str) -> StoredMessage {
    let message = Message::new(topic, Bytes::from_static(b"body bytes")).with_tags("TagB");
    let mut m = StoredMessage::new(message, addr(born), addr(store));
    m.version = version;
    m.queue_id = 1;
    m.queue_offset = 9;
    m.physical_offset = 123_456;
    m.born_timestamp = 11;
    m.store_timestamp = 22;
    m.reconsume_times = 4;
    m
}

#[test]
fn decodes_a_hand_built_v1_record() {
    let bytes = Bytes::from(manual_v1());
    let (m, len) = decode(&bytes).unwrap();
    assert_eq!(len, bytes.len());
    assert_eq!(m.version, MessageVersion::V1);
    assert_eq!(m.body_crc, body_crc(BODY));
    assert_eq!(
        (m.queue_id, m.flag, m.queue_offset, m.physical_offset),
        (3, 7, 42, 1000)
    );
    assert_eq!(m.sys_flag, 0);
    assert_eq!(m.born_timestamp, 1_700_000_000_000);
    assert_eq!(m.born_host, addr("10.0.0.1:5555"));
    assert_eq!(m.store_timestamp, 1_700_000_000_100);
    assert_eq!(m.store_host, addr("192.168.0.1:10911"));
    assert_eq!(m.reconsume_times, 2);
    assert_eq!(m.prepared_transaction_offset, 0);
    assert_eq!(&m.body[..], BODY);
    assert_eq!(m.topic, "TopicTest");
    assert_eq!(m.tags(), Some("TagA"));
    assert_eq!(m.uniq_key(), Some("ABC"));
    assert_eq!(m.keys(), None);
    assert_eq!(m.tags_code(), 2_598_919);
    assert_eq!(m.transaction_type(), TransactionType::Not);
    assert_eq!(m.encoded_len(), bytes.len());
    assert_eq!(m.offset_msg_id(), "C0A8000100002A9F00000000000003E8");
    m.verify_body_crc().unwrap();
    assert_eq!(m.to_bytes().unwrap(), bytes);
}

#[test]
fn body_and_properties_are_not_copied() {
    let bytes = Bytes::from(manual_v1());
    let (m, _) = decode(&bytes).unwrap();
    let range = bytes.as_ptr_range();
    assert!(range.contains(&m.body.as_ptr()));
    let raw = m.properties.raw().unwrap();
    assert!(range.contains(&raw.as_ptr()));
}

#[test]
fn truncation_at_every_cut_point_is_incomplete() {
    let bytes = manual_v1();
    for cut in 0..bytes.len() {
        let err = decode(&Bytes::copy_from_slice(&bytes[..cut])).unwrap_err();
        let needed = if cut < 8 { 8 } else { bytes.len() };
        assert_eq!(
            err,
            DecodeError::Incomplete {
                needed,
                available: cut
            },
            "cut {cut}"
        );
    }
}

#[test]
fn trailing_bytes_are_left_alone() {
    let mut bytes = manual_v1();
    let len = bytes.len();
    bytes.extend_from_slice(b"next record");
    let (_, consumed) = decode(&Bytes::from(bytes)).unwrap();
    assert_eq!(consumed, len);
}

#[test]
fn blank_record_is_end_of_file() {
    let mut out = Vec::new();
    write_blank(&mut out, 4096).unwrap();
    assert_eq!(
        decode(&Bytes::from(out)),
        Err(DecodeError::EndOfFile { total_size: 4096 })
    );
}

/// `manual_v1` with `edit` applied.
fn corrupt(edit: impl FnOnce(&mut Vec<u8>)) -> Result<(StoredMessage, usize), DecodeError> {
    let mut bytes = manual_v1();
    edit(&mut bytes);
    decode(&Bytes::from(bytes))
}

fn set_i32(v: &mut [u8], pos: usize, x: i32) {
    v[pos..pos + 4].copy_from_slice(&x.to_be_bytes());
}

#[test]
fn rejects_bad_headers() {
    assert_eq!(
        corrupt(|v| set_i32(v, MAGIC_CODE_POS, 0x1234)),
        Err(DecodeError::BadMagic(0x1234))
    );
    assert_eq!(
        corrupt(|v| set_i32(v, 0, -5)),
        Err(DecodeError::BadTotalSize(-5))
    );
    assert_eq!(
        corrupt(|v| set_i32(v, 0, 90)),
        Err(DecodeError::BadTotalSize(90))
    );
    // A zeroed tail of a CommitLog file reads as a bad magic code.
    assert_eq!(
        decode(&Bytes::from(vec![0u8; 200])),
        Err(DecodeError::BadMagic(0))
    );
}

#[test]
fn rejects_inconsistent_lengths() {
    let total = manual_v1().len();
    let body_len_pos = RecordLayout::for_sys_flag(0).body_len;
    // Total size larger than the fields (padded so the bytes are there).
    assert_eq!(
        corrupt(|v| {
            v.push(0);
            set_i32(v, 0, total as i32 + 1);
        }),
        Err(DecodeError::SizeMismatch {
            total_size: total + 1,
            computed: total
        })
    );
    // Total size smaller than the fields.
    assert_eq!(
        corrupt(|v| set_i32(v, 0, total as i32 - 1)),
        Err(DecodeError::Overrun {
            field: "properties"
        })
    );
    assert_eq!(
        corrupt(|v| set_i32(v, body_len_pos, 1000)),
        Err(DecodeError::Overrun { field: "body" })
    );
    assert_eq!(
        corrupt(|v| set_i32(v, body_len_pos, -1)),
        Err(DecodeError::NegativeLength {
            field: "body",
            len: -1
        })
    );
    let topic_len_pos = body_len_pos + 4 + BODY.len();
    assert_eq!(
        corrupt(|v| v[topic_len_pos] = 0x80),
        Err(DecodeError::NegativeLength {
            field: "topic",
            len: -128
        })
    );
    assert_eq!(
        corrupt(|v| v[topic_len_pos] = 100),
        Err(DecodeError::Overrun { field: "topic" })
    );
    let props_len_pos = topic_len_pos + 1 + TOPIC.len();
    assert_eq!(
        corrupt(|v| v[props_len_pos] = 0xFF),
        Err(DecodeError::NegativeLength {
            field: "properties",
            len: -(256 - PROPS.len() as i32)
        })
    );
    // The born host claims IPv6, which shifts every later field.
    assert!(corrupt(|v| v[SYS_FLAG_POS + 3] = 0x10).is_err());
}

#[test]
fn rejects_bad_ports_and_topics() {
    assert_eq!(
        corrupt(|v| set_i32(v, BORN_HOST_POS + 4, 70_000)),
        Err(DecodeError::BadPort(70_000))
    );
    assert_eq!(
        corrupt(|v| set_i32(v, 68, -1)),
        Err(DecodeError::BadPort(-1))
    );
    let topic_pos = RecordLayout::for_sys_flag(0).body_len + 4 + BODY.len() + 1;
    assert_eq!(
        corrupt(|v| v[topic_pos] = 0xFF),
        Err(DecodeError::TopicNotUtf8)
    );
}

#[test]
fn verifies_body_crc() {
    let (mut m, _) = corrupt(|v| set_i32(v, BODY_CRC_POS, 1)).unwrap();
    assert_eq!(
        m.verify_body_crc(),
        Err(DecodeError::BodyCrcMismatch {
            stored: 1,
            computed: body_crc(BODY)
        })
    );
    m.update_body_crc();
    assert_eq!(m.verify_body_crc(), Ok(()));
    m.body = Bytes::new();
    m.body_crc = 99;
    assert_eq!(m.verify_body_crc(), Ok(()), "empty bodies are not checked");
}

#[test]
fn round_trips_v2_and_ipv6() {
    for (version, born, store, topic) in [
        (MessageVersion::V1, "1.2.3.4:1", "5.6.7.8:2", "T"),
        (
            MessageVersion::V2,
            "1.2.3.4:1",
            "5.6.7.8:2",
            &"t".repeat(200)[..],
        ),
        (MessageVersion::V1, "[::1]:1", "5.6.7.8:2", "T"),
        (MessageVersion::V1, "1.2.3.4:1", "[fe80::2]:2", "T"),
        (MessageVersion::V2, "[::ffff:1.2.3.4]:1", "[::2]:65535", "T"),
    ] {
        let m = sample(version, born, store, topic);
        let bytes = m.to_bytes().unwrap();
        assert_eq!(bytes.len(), m.encoded_len());
        let (back, len) = decode(&bytes).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(back, m);
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }
}

#[test]
fn new_sets_version_crc_and_ipv6_bits() {
    let m = sample(MessageVersion::V1, "[::1]:1", "[::2]:2", "T");
    assert_eq!(m.sys_flag & 0x30, 0x30);
    assert_eq!(m.body_crc, body_crc(b"body bytes"));
    let long = StoredMessage::new(
        Message::new("x".repeat(128), Bytes::new()),
        addr("1.1.1.1:1"),
        addr("2.2.2.2:2"),
    );
    assert_eq!(long.version, MessageVersion::V2);
    assert_eq!(long.sys_flag, 0);
    let mut stale = m.clone();
    stale.born_host = addr("1.1.1.1:1");
    assert_eq!(stale.normalized_sys_flag() & 0x30, 0x20);
    let (back, _) = decode(&stale.to_bytes().unwrap()).unwrap();
    assert_eq!(back.sys_flag & 0x30, 0x20);
    let message = back.into_message();
    assert_eq!(message.topic, "T");
    assert_eq!(message.tags(), Some("TagB"));
}

#[test]
fn encode_checks_sizes_before_writing() {
    let mut m = sample(
        MessageVersion::V1,
        "1.1.1.1:1",
        "2.2.2.2:2",
        &"t".repeat(128),
    );
    assert_eq!(
        m.to_bytes(),
        Err(EncodeError::TopicTooLong { len: 128, max: 127 })
    );
    m.version = MessageVersion::V2;
    assert!(m.to_bytes().is_ok());
    m.properties.insert("big", "v".repeat(40_000));
    assert!(matches!(
        m.to_bytes(),
        Err(EncodeError::PropertiesTooLong { .. })
    ));
    let m = sample(MessageVersion::V1, "1.1.1.1:1", "2.2.2.2:2", "T");
    let mut small = vec![0u8; m.encoded_len() - 1];
    let mut out = &mut small[..];
    assert!(matches!(
        m.encode(&mut out),
        Err(EncodeError::BufferTooSmall { .. })
    ));
    assert!(small.iter().all(|&b| b == 0), "nothing written");
}

#[test]
fn patches_an_encoded_record() {
    for born in ["1.1.1.1:1", "[::1]:1"] {
        let m = sample(MessageVersion::V1, born, "2.2.2.2:2", "T");
        let mut bytes = m.to_bytes().unwrap().to_vec();
        patch_queue_offset(&mut bytes, 77).unwrap();
        patch_physical_offset(&mut bytes, 88).unwrap();
        patch_store_timestamp(&mut bytes, 99).unwrap();
        let (back, _) = decode(&Bytes::from(bytes)).unwrap();
        assert_eq!(
            (
                back.queue_offset,
                back.physical_offset,
                back.store_timestamp
            ),
            (77, 88, 99)
        );
        assert_eq!(
            back.born_timestamp, m.born_timestamp,
            "neighbours untouched"
        );
        assert_eq!(back.store_host, m.store_host);
    }
}

#[test]
fn iterates_concatenated_records() {
    let a = sample(MessageVersion::V1, "1.1.1.1:1", "2.2.2.2:2", "A");
    let mut b = sample(MessageVersion::V2, "[::1]:1", "2.2.2.2:2", "B");
    b.properties.insert(property::KEYS, "k");
    let mut buf = Vec::new();
    a.encode(&mut buf).unwrap();
    b.encode(&mut buf).unwrap();
    let all = decode_all(&Bytes::from(buf.clone())).unwrap();
    assert_eq!(all, [a.clone(), b]);
    assert!(decode_all(&Bytes::new()).unwrap().is_empty());

    // A truncated second record: first record, then the error, then nothing.
    let cut = Bytes::from(buf[..buf.len() - 1].to_vec());
    let mut it = RecordIter::new(cut);
    assert_eq!(it.next(), Some(Ok(a.clone())));
    let first_len = a.encoded_len();
    assert_eq!(it.position(), first_len);
    assert!(matches!(
        it.next(),
        Some(Err(DecodeError::Incomplete { .. }))
    ));
    assert_eq!(it.position(), first_len);
    assert_eq!(it.next(), None);
}

fn arb_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        any::<([u8; 4], u16)>().prop_map(|(ip, port)| SocketAddr::new(IpAddr::from(ip), port)),
        any::<([u8; 16], u16)>().prop_map(|(ip, port)| SocketAddr::new(IpAddr::from(ip), port)),
    ]
}

prop_compose! {
    fn arb_record()(
        v2 in any::<bool>(),
        topic in "[%|a-zA-Z0-9_-]{1,127}",
        long_topic in "[a-z]{128,300}",
        ints in any::<(i32, i32, i32, i32, i32)>(),
        longs in any::<(i64, i64, i64, i64, i64)>(),
        sys_flag in any::<i32>(),
        born_host in arb_addr(),
        store_host in arb_addr(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        props in proptest::collection::vec(("[^\u{1}\u{2}]{1,10}", "[^\u{1}\u{2}]{1,20}"), 0..6),
    ) -> StoredMessage {
        let (body_crc, queue_id, flag, reconsume_times, _) = ints;
        let (queue_offset, physical_offset, born_timestamp, store_timestamp, prepared_transaction_offset) = longs;
        let mut m = StoredMessage {
            version: if v2 { MessageVersion::V2 } else { MessageVersion::V1 },
            body_crc, queue_id, flag, queue_offset, physical_offset, sys_flag, born_timestamp,
            born_host, store_timestamp, store_host, reconsume_times, prepared_transaction_offset,
            body: Bytes::from(body),
            topic: if v2 { long_topic } else { topic },
            properties: props.into_iter().collect(),
        };
        m.sys_flag = m.normalized_sys_flag();
        m
    }
}

proptest! {
    #[test]
    fn record_round_trips(m in arb_record()) {
        let bytes = m.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        let (back, len) = decode(&bytes).unwrap();
        prop_assert_eq!(len, bytes.len());
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn corrupted_records_never_panic(m in arb_record(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = m.to_bytes().unwrap().to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = decode_all(&Bytes::from(bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_all(&Bytes::from(bytes));
    }
}
