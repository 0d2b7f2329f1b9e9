//! Checks the message codecs against vectors written by Apache RocketMQ's own
//! Java code (see `protocol/vectors/`): stored records, batch bodies, tag
//! hashes, property strings, message ids and CRCs. Every vector is decoded,
//! compared field by field with what RocketMQ's decoders read from it, and
//! re-encoded byte for byte.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use serde_json::Value;
use skylark_protocol::message::java_order::{JAVA_DEFAULT_MAP_CAPACITY, JAVA_PARSED_MAP_CAPACITY};
use skylark_protocol::message::property;
use skylark_protocol::message::record::{
    self, body_crc, patch_physical_offset, patch_queue_offset, patch_store_timestamp,
};
use skylark_protocol::message::{
    BatchEntry, DecodeError, Message, MessageVersion, OffsetMsgId, Properties, RecordIter, UniqKey,
    decode_batch, encode_batch, java_string_hash, tags_code,
};

mod support;

use support::{hex as unhex, read_json};

fn read_bin(rel: &str) -> Bytes {
    Bytes::from(support::read_vector(rel))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn i64_of(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn i32_of(v: &Value, key: &str) -> i32 {
    i32::try_from(i64_of(v, key)).unwrap()
}

/// A host as the manifest writes it: `a.b.c.d:port`, or Java's
/// `getHostAddress()` (eight uncompressed groups) in brackets for IPv6.
fn java_host(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => {
            let groups: Vec<String> = ip.segments().iter().map(|g| format!("{g:x}")).collect();
            format!("[{}]:{}", groups.join(":"), addr.port())
        }
    }
}

/// `MessageClientIDSetter.getIPStrFromID`: dotted IPv4, or sixteen zero-padded
/// bytes in colon-separated pairs for IPv6.
fn java_uniq_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => {
            let groups: Vec<String> = ip.segments().iter().map(|g| format!("{g:04x}")).collect();
            groups.join(":")
        }
    }
}

/// The JSON properties map as sorted pairs (JSON object order is not kept).
fn json_pairs(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn our_pairs(p: &Properties) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Names in the order a property string lists them, empty values included.
fn wire_pairs(encoded: &str) -> Vec<(String, String)> {
    encoded
        .split('\u{2}')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (k, v) = s.split_once('\u{1}').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn version_name(v: MessageVersion) -> &'static str {
    match v {
        MessageVersion::V1 => "MESSAGE_VERSION_V1",
        MessageVersion::V2 => "MESSAGE_VERSION_V2",
    }
}

#[test]
fn stored_messages_decode_and_reencode() {
    let manifest = read_json("manifest.json");
    let vectors = manifest["messages"].as_array().unwrap();
    assert!(
        vectors.len() >= 10,
        "expected every message vector, got {}",
        vectors.len()
    );
    for v in vectors {
        let name = str_of(v, "name");
        let bytes = read_bin(str_of(v, "file"));
        let magic = i32_of(v, "magic");
        assert_eq!(
            i32::from_be_bytes(bytes[4..8].try_into().unwrap()),
            magic,
            "{name}"
        );

        if v["messageVersion"].is_null() {
            // The BLANK end-of-file marker.
            assert_eq!(magic, record::BLANK_MAGIC_CODE, "{name}");
            assert_eq!(bytes.len(), record::BLANK_LEN, "{name}");
            assert_eq!(
                record::decode(&bytes).unwrap_err(),
                DecodeError::EndOfFile {
                    total_size: i32_of(v, "totalSize")
                },
                "{name}"
            );
            let mut again = Vec::new();
            record::write_blank(&mut again, usize::try_from(i64_of(v, "totalSize")).unwrap())
                .unwrap();
            assert_eq!(again, bytes, "{name}");
            continue;
        }

        let (m, len) = record::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(len, bytes.len(), "{name}");
        assert_eq!(
            len,
            usize::try_from(i64_of(v, "totalSize")).unwrap(),
            "{name}"
        );
        assert_eq!(m.version.magic_code(), magic, "{name}");
        assert_eq!(
            version_name(m.version),
            str_of(v, "messageVersion"),
            "{name}"
        );
        assert_eq!(m.body_crc, i32_of(v, "bodyCrc"), "{name}");
        assert_eq!(m.queue_id, i32_of(v, "queueId"), "{name}");
        assert_eq!(m.flag, i32_of(v, "flag"), "{name}");
        assert_eq!(m.queue_offset, i64_of(v, "queueOffset"), "{name}");
        assert_eq!(m.physical_offset, i64_of(v, "physicalOffset"), "{name}");
        assert_eq!(m.sys_flag, i32_of(v, "sysFlag"), "{name}");
        assert_eq!(m.born_timestamp, i64_of(v, "bornTimestamp"), "{name}");
        assert_eq!(java_host(m.born_host), str_of(v, "bornHost"), "{name}");
        assert_eq!(m.store_timestamp, i64_of(v, "storeTimestamp"), "{name}");
        assert_eq!(java_host(m.store_host), str_of(v, "storeHost"), "{name}");
        assert_eq!(m.reconsume_times, i32_of(v, "reconsumeTimes"), "{name}");
        assert_eq!(
            m.prepared_transaction_offset,
            i64_of(v, "preparedTransactionOffset"),
            "{name}"
        );
        assert_eq!(hex(&m.body), str_of(v, "bodyHex"), "{name}");
        assert_eq!(m.topic, str_of(v, "topic"), "{name}");
        assert_eq!(
            our_pairs(&m.properties),
            json_pairs(&v["properties"]),
            "{name}"
        );
        let properties_string = str_of(v, "propertiesString");
        let raw = m
            .properties
            .raw()
            .map(|r| std::str::from_utf8(r).unwrap())
            .unwrap_or("");
        assert_eq!(raw, properties_string, "{name}");
        assert_eq!(m.offset_msg_id(), str_of(v, "offsetMsgId"), "{name}");
        assert_eq!(m.tags_code(), i64_of(v, "tagsCode"), "{name}");
        assert_eq!(
            record::encoded_len(
                m.version,
                m.sys_flag,
                m.body.len(),
                m.topic.len(),
                m.properties.encoded_len()
            ),
            len,
            "{name}"
        );
        m.verify_body_crc().unwrap();
        assert_eq!(body_crc(&m.body), m.body_crc, "{name}");

        // Byte for byte, from the kept property bytes ...
        assert_eq!(m.to_bytes().unwrap(), bytes, "{name}");
        // ... and from the parsed pairs, which keep the wire order.
        let mut fresh = m.clone();
        fresh.properties.drop_raw();
        assert_eq!(
            fresh.properties.to_property_string(),
            properties_string,
            "{name}"
        );
        assert_eq!(fresh.to_bytes().unwrap(), bytes, "{name}");
        // The broker wrote the properties in the order of a 128-bucket HashMap,
        // then appended `__CRC32#` when enabledAppendPropCRC is on.
        let mut java = m.properties.clone();
        let crc = java.remove(property::CRC32);
        java.sort_as_java_hash_map(JAVA_PARSED_MAP_CAPACITY);
        if let Some(crc) = crc {
            java.insert(property::CRC32, crc);
        }
        assert_eq!(java.to_property_string(), properties_string, "{name}");

        // Patching fields in place with their own values changes nothing.
        let mut patched = bytes.to_vec();
        patch_queue_offset(&mut patched, m.queue_offset).unwrap();
        patch_physical_offset(&mut patched, m.physical_offset).unwrap();
        patch_store_timestamp(&mut patched, m.store_timestamp).unwrap();
        assert_eq!(patched, bytes, "{name}");

        // A broker with enabledAppendPropCRC sealed the record with its CRC.
        if m.properties.contains(property::CRC32) {
            record::verify_prop_crc(&bytes).unwrap();
            let mut resealed = bytes.to_vec();
            let n = resealed.len();
            resealed[n - 11..n - 1].fill(b'0');
            record::seal_prop_crc(&mut resealed).unwrap();
            assert_eq!(resealed, bytes, "{name}");
        } else {
            assert_eq!(
                record::verify_prop_crc(&bytes),
                Err(DecodeError::MissingPropCrc),
                "{name}"
            );
        }

        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(
                record::decode(&bytes.slice(..cut)).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn pull_body_of_two_records_iterates() {
    let a = read_bin("messages/v1_ipv4.bin");
    let b = read_bin("messages/v1_ipv4_next.bin");
    let mut body = a.to_vec();
    body.extend_from_slice(&b);
    let all: Vec<_> = RecordIter::new(Bytes::from(body))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], record::decode(&a).unwrap().0);
    assert_eq!(all[1], record::decode(&b).unwrap().0);
    assert_eq!(all[1].queue_offset, all[0].queue_offset + 1);
    assert_eq!(
        all[1].physical_offset,
        all[0].physical_offset + i64::try_from(a.len()).unwrap()
    );
}

#[test]
fn batch_bodies_decode_and_reencode() {
    let manifest = read_json("manifest.json");
    let batches = manifest["batches"].as_array().unwrap();
    assert!(!batches.is_empty());
    for v in batches {
        let name = str_of(v, "name");
        let bytes = read_bin(str_of(v, "file"));
        let entries = decode_batch(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = v["messages"].as_array().unwrap();
        assert_eq!(entries.len(), expected.len(), "{name}");
        let mut again = Vec::new();
        let mut messages = Vec::new();
        for (e, x) in entries.iter().zip(expected) {
            assert_eq!(e.flag, i32_of(x, "flag"), "{name}");
            assert_eq!(hex(&e.body), str_of(x, "bodyHex"), "{name}");
            assert_eq!(
                our_pairs(&e.properties),
                json_pairs(&x["properties"]),
                "{name}"
            );
            let raw = std::str::from_utf8(e.properties.raw().unwrap()).unwrap();
            assert_eq!(raw, str_of(x, "propertiesString"), "{name}");
            e.encode(&mut again).unwrap();
            // Rebuilt from the manifest alone: flag, body and the property string.
            let mut m = Message::new("ignored", unhex(str_of(x, "bodyHex")));
            m.flag = i32_of(x, "flag");
            m.properties = Properties::parse(str_of(x, "propertiesString"));
            messages.push(m);
        }
        assert_eq!(again, bytes, "{name}");
        let mut rebuilt = Vec::new();
        encode_batch(&messages, &mut rebuilt).unwrap();
        assert_eq!(rebuilt, bytes, "{name}");
        // The producer built each element's properties in a default HashMap.
        for (m, e) in messages.iter().zip(&entries) {
            let mut p: Properties = e.properties.iter().collect();
            p.sort_as_java_hash_map(JAVA_DEFAULT_MAP_CAPACITY);
            assert_eq!(
                p.to_property_string(),
                m.properties.to_property_string(),
                "{name}"
            );
            assert_eq!(BatchEntry::from(m.clone()), *e, "{name}");
        }
        for cut in 1..bytes.len() {
            let _ = decode_batch(&bytes.slice(..cut));
        }
    }
}

#[test]
fn tag_hashes_match_java() {
    let misc = read_json("misc.json");
    let cases = misc["tagHashes"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let s = str_of(c, "s");
        assert_eq!(hex(s.as_bytes()), str_of(c, "utf8Hex"));
        assert_eq!(java_string_hash(s), i32_of(c, "hash"), "{s:?}");
        assert_eq!(tags_code(Some(s)), i64_of(c, "tagsCode"), "{s:?}");
    }
}

#[test]
fn property_strings_match_java() {
    let misc = read_json("misc.json");
    let cases = misc["properties"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let what = str_of(c, "what");
        let encoded = str_of(c, "encoded");
        assert_eq!(hex(encoded.as_bytes()), str_of(c, "encoded_hex"), "{what}");

        // string2messageProperties: what survives decoding.
        let parsed = Properties::parse(encoded);
        assert_eq!(our_pairs(&parsed), json_pairs(&c["decoded"]), "{what}");
        assert_eq!(
            parsed.to_property_string(),
            encoded,
            "{what}: raw bytes kept"
        );

        // messageProperties2String over the producer's map (empty values included).
        let producer: Properties = wire_pairs(encoded).into_iter().collect();
        assert_eq!(our_pairs(&producer), json_pairs(&c["map"]), "{what}");
        let mut reordered = producer.clone();
        reordered.sort_as_java_hash_map(JAVA_DEFAULT_MAP_CAPACITY);
        assert_eq!(
            reordered.to_property_string(),
            encoded,
            "{what}: producer HashMap order"
        );

        // The broker re-encodes from the 128-bucket map string2messageProperties fills.
        let mut broker = parsed.clone();
        broker.sort_as_java_hash_map(JAVA_PARSED_MAP_CAPACITY);
        let expected = str_of(c, "brokerReencoded");
        assert_eq!(
            broker.to_property_string(),
            expected,
            "{what}: broker HashMap order"
        );
        assert_eq!(
            hex(&broker.to_bytes().unwrap()),
            str_of(c, "brokerReencoded_hex"),
            "{what}"
        );
    }
}

#[test]
fn offset_msg_ids_match_java() {
    let misc = read_json("misc.json");
    let cases = misc["offsetMsgIds"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let ip: IpAddr = str_of(c, "host").parse().unwrap();
        let port = u16::try_from(i64_of(c, "port")).unwrap();
        let id = OffsetMsgId::new(SocketAddr::new(ip, port), i64_of(c, "offset"));
        assert_eq!(id.to_string(), str_of(c, "id"));
        assert_eq!(OffsetMsgId::parse(str_of(c, "id")), Ok(id));
    }
}

#[test]
fn uniq_keys_decode_like_java() {
    let misc = read_json("misc.json");
    let cases = misc["uniqKeyDecode"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let key = UniqKey::parse(str_of(c, "id")).unwrap();
        assert_eq!(java_uniq_ip(key.ip), str_of(c, "ip"));
        assert_eq!(i64::from(key.pid), i64_of(c, "pid"));
        assert_eq!(key.to_string(), str_of(c, "id"));
    }

    // createUniqID samples; their times are exact only when Java ran in UTC.
    let live = read_json("uniq_keys.json");
    let utc = live["note"].as_str().unwrap().trim_end().ends_with("UTC");
    for c in live["samples"].as_array().unwrap() {
        let key = UniqKey::parse(str_of(c, "id")).unwrap();
        assert_eq!(java_uniq_ip(key.ip), str_of(c, "ip"));
        assert_eq!(i64::from(key.pid), i64_of(c, "pid"));
        if utc {
            let made = i64_of(c, "nearlyTimeMillis");
            assert_eq!(key.nearly_timestamp_ms(made + 1_000), made);
        }
    }
}

#[test]
fn crc32_matches_java() {
    let misc = read_json("misc.json");
    let cases = misc["crc32"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let data = unhex(str_of(c, "hex"));
        assert_eq!(body_crc(&data), i32_of(c, "crc"));
        assert_eq!(i64::from(crc32fast::hash(&data)), i64_of(c, "unmasked"));
    }
}
