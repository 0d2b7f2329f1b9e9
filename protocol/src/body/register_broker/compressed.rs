//! The zlib form of `RegisterBrokerBody` (`encode(true)` / `decode(data, true, version)`).
//!
//! Inside a zlib stream, each part length-prefixed by a big-endian `i32`:
//! the `DataVersion` JSON; a topic count, then each topic as `TopicConfig`'s
//! space-separated text (`name read write perm filterType attributesJson`,
//! which drops `topicSysFlag` and `order`); the filter-server list as JSON;
//! and, from brokers of version ≥ V5_0_0 only, a count of
//! `TopicQueueMappingInfo` JSON documents. 5.x brokers send plain JSON unless
//! `compressedRegister` is set; 4.x brokers set it from their config.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use super::RegisterBrokerBody;
use crate::body::fastjson::{self, KeyStyle};
use crate::body::lenient::JavaEnum;
use crate::body::{BodyError, DataVersion, TopicConfig, TopicFilterType, TopicQueueMappingInfo};

/// First broker version (`MQVersion.Version.V5_0_0.ordinal()`) whose
/// compressed registrations carry queue mappings.
pub const MAPPING_SINCE_VERSION: i32 = 413;

/// Cap on a compressed body's inflated size; zlib expands up to ~1000×, so
/// a 16 MiB frame could otherwise inflate to gigabytes. 100 000 topics take
/// about 8 MiB.
pub const MAX_DECOMPRESSED_LEN: usize = 64 << 20;

impl RegisterBrokerBody {
    /// Encodes the zlib form, as Java's `encode(true)`.
    pub fn encode_compressed(&self) -> Result<Vec<u8>, BodyError> {
        let w = &self.topic_config_serialize_wrapper;
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        put(
            &mut z,
            &fastjson::to_vec(&w.data_version, KeyStyle::Unquoted)?,
        )?;
        put_len(&mut z, w.topic_config_table.len())?;
        for topic in w.topic_config_table.values() {
            put(&mut z, topic_config_text(topic)?.as_bytes())?;
        }
        put(
            &mut z,
            &fastjson::to_vec(&self.filter_server_list, KeyStyle::Unquoted)?,
        )?;
        put_len(&mut z, w.topic_queue_mapping_info_map.len())?;
        for info in w.topic_queue_mapping_info_map.values() {
            put(&mut z, &fastjson::to_vec(info, KeyStyle::Unquoted)?)?;
        }
        z.finish().map_err(BodyError::Inflate)
    }

    /// Decodes the zlib form, as Java's `decode(data, true, brokerVersion)`;
    /// `broker_version` is the registering request's `version`.
    pub fn decode_compressed(data: &[u8], broker_version: i32) -> Result<Self, BodyError> {
        let mut r = Sections {
            inner: ZlibDecoder::new(data).take(MAX_DECOMPRESSED_LEN as u64),
        };
        let mut body = RegisterBrokerBody::default();
        let w = &mut body.topic_config_serialize_wrapper;
        w.data_version = fastjson::from_slice::<DataVersion>(&r.part()?)?;
        for _ in 0..r.count()? {
            let topic = parse_topic_config(&r.part()?)?;
            w.topic_config_table.insert(topic.topic_name.clone(), topic);
        }
        // Java logs and drops an unparsable filter-server list.
        body.filter_server_list = fastjson::from_slice(&r.part()?).unwrap_or_default();
        if broker_version >= MAPPING_SINCE_VERSION {
            let w = &mut body.topic_config_serialize_wrapper;
            for _ in 0..r.count()? {
                let info: TopicQueueMappingInfo = fastjson::from_slice(&r.part()?)?;
                w.topic_queue_mapping_info_map
                    .insert(info.topic.clone(), info);
            }
        }
        Ok(body)
    }
}

/// `TopicConfig.encode()`: five space-separated fields, a separator, then
/// the attributes JSON.
fn topic_config_text(t: &TopicConfig) -> Result<String, BodyError> {
    let attributes = String::from_utf8(fastjson::to_vec(&t.attributes, KeyStyle::Unquoted)?)
        .map_err(|_| BodyError::Compressed("attributes are not UTF-8"))?;
    Ok(format!(
        "{} {} {} {} {} {}",
        t.topic_name,
        t.read_queue_nums,
        t.write_queue_nums,
        t.perm,
        t.topic_filter_type.name(),
        attributes
    ))
}

/// `TopicConfig.decode(String)`: Java's `split(" ")` (trailing empty parts
/// dropped); fields beyond the filter type keep Java's defaults.
fn parse_topic_config(bytes: &[u8]) -> Result<TopicConfig, BodyError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| BodyError::Compressed("topic config is not UTF-8"))?;
    let mut parts: Vec<&str> = text.split(' ').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    let [name, read, write, perm, filter, rest @ ..] = parts.as_slice() else {
        return Err(BodyError::Compressed(
            "topic config has fewer than 5 fields",
        ));
    };
    let int = |s: &str| {
        s.parse::<i32>()
            .map_err(|_| BodyError::Compressed("topic config queue count or perm is not an int"))
    };
    Ok(TopicConfig {
        topic_name: (*name).to_owned(),
        read_queue_nums: int(read)?,
        write_queue_nums: int(write)?,
        perm: int(perm)?,
        topic_filter_type: TopicFilterType::from_name(filter)
            .ok_or(BodyError::Compressed("unknown topic filter type"))?,
        // Java ignores attributes it cannot parse (a value with a space
        // splits the JSON apart).
        attributes: rest
            .first()
            .and_then(|json| fastjson::from_slice::<BTreeMap<String, String>>(json.as_bytes()).ok())
            .unwrap_or_default(),
        ..TopicConfig::default()
    })
}

fn put_len(w: &mut impl Write, len: usize) -> Result<(), BodyError> {
    let len = i32::try_from(len).map_err(|_| BodyError::Compressed("part longer than i32::MAX"))?;
    w.write_all(&len.to_be_bytes()).map_err(BodyError::Inflate)
}

fn put(w: &mut impl Write, part: &[u8]) -> Result<(), BodyError> {
    put_len(w, part.len())?;
    w.write_all(part).map_err(BodyError::Inflate)
}

/// Reads length-prefixed parts from the inflated stream.
struct Sections<R> {
    inner: io::Take<R>,
}

impl<R: Read> Sections<R> {
    fn count(&mut self) -> Result<usize, BodyError> {
        let mut b = [0u8; 4];
        self.inner.read_exact(&mut b).map_err(|e| self.error(e))?;
        usize::try_from(i32::from_be_bytes(b)).map_err(|_| BodyError::Compressed("negative length"))
    }

    fn part(&mut self) -> Result<Vec<u8>, BodyError> {
        let len = self.count()?;
        // Grows with the data actually inflated, never with the claimed length.
        let mut buf = Vec::new();
        let read = (&mut self.inner).take(len as u64).read_to_end(&mut buf);
        read.map_err(|e| self.error(e))?;
        if buf.len() < len {
            return Err(self.error(io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(buf)
    }

    fn error(&self, e: io::Error) -> BodyError {
        match e.kind() {
            io::ErrorKind::UnexpectedEof if self.inner.limit() == 0 => BodyError::TooLarge,
            io::ErrorKind::UnexpectedEof => BodyError::Compressed("truncated"),
            _ => BodyError::Inflate(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::TopicConfigAndMappingSerializeWrapper;

    fn sample() -> RegisterBrokerBody {
        let mut t = TopicConfig::new("T");
        t.read_queue_nums = 8;
        t.write_queue_nums = 4;
        t.attributes.insert("+message.type".into(), "FIFO".into());
        RegisterBrokerBody {
            filter_server_list: vec!["f:1".into()],
            topic_config_serialize_wrapper: TopicConfigAndMappingSerializeWrapper {
                data_version: DataVersion {
                    counter: 4,
                    state_version: 0,
                    timestamp: 99,
                },
                topic_config_table: [("T".to_owned(), t), ("U".to_owned(), TopicConfig::new("U"))]
                    .into(),
                topic_queue_mapping_info_map: [(
                    "T".to_owned(),
                    TopicQueueMappingInfo {
                        topic: "T".into(),
                        bname: "b".into(),
                        total_queues: 8,
                        ..Default::default()
                    },
                )]
                .into(),
                ..Default::default()
            },
        }
    }

    /// Builds an inflated payload by hand, as Java lays it out.
    fn java_payload(parts: &[&[u8]]) -> Vec<u8> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        for p in parts {
            z.write_all(p).unwrap();
        }
        z.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let body = sample();
        let bytes = body.encode_compressed().unwrap();
        assert_eq!(
            RegisterBrokerBody::decode_compressed(&bytes, 479).unwrap(),
            body
        );
        // A 4.x broker's body has no mapping section.
        let old = RegisterBrokerBody::decode_compressed(&bytes, 412).unwrap();
        assert!(
            old.topic_config_serialize_wrapper
                .topic_queue_mapping_info_map
                .is_empty()
        );
        assert_eq!(
            old.topic_config_serialize_wrapper.topic_config_table.len(),
            2
        );
    }

    #[test]
    fn layout_matches_java() {
        let mut inflated = Vec::new();
        ZlibDecoder::new(sample().encode_compressed().unwrap().as_slice())
            .read_to_end(&mut inflated)
            .unwrap();
        fn int(v: &mut Vec<u8>, n: usize) {
            v.extend_from_slice(&(n as i32).to_be_bytes());
        }
        fn part(v: &mut Vec<u8>, bytes: &[u8]) {
            int(v, bytes.len());
            v.extend_from_slice(bytes);
        }
        let mut expect = Vec::new();
        part(
            &mut expect,
            br#"{"counter":4,"stateVersion":0,"timestamp":99}"#,
        );
        int(&mut expect, 2);
        part(
            &mut expect,
            br#"T 8 4 6 SINGLE_TAG {"+message.type":"FIFO"}"#,
        );
        part(&mut expect, br#"U 16 16 6 SINGLE_TAG {}"#);
        part(&mut expect, br#"["f:1"]"#);
        int(&mut expect, 1);
        part(
            &mut expect,
            br#"{"bname":"b","currIdMap":{},"dirty":false,"epoch":0,"scope":"__global__","topic":"T","totalQueues":8}"#,
        );
        assert_eq!(
            String::from_utf8_lossy(&inflated),
            String::from_utf8_lossy(&expect)
        );
    }

    #[test]
    fn java_topic_text_quirks() {
        // Java keeps sysFlag/order out of this form, ignores bad attributes
        // and tolerates a trailing separator.
        let t = parse_topic_config(br#"T 1 2 6 MULTI_TAG {"k":"a b"}"#).unwrap();
        assert_eq!((t.read_queue_nums, t.write_queue_nums), (1, 2));
        assert_eq!(t.topic_filter_type, TopicFilterType::MultiTag);
        assert!(t.attributes.is_empty());
        assert!(
            parse_topic_config(b"T 1 2 6 SINGLE_TAG ")
                .unwrap()
                .attributes
                .is_empty()
        );
        for bad in [
            &b"T 1 2 6"[..],
            b"T x 2 6 SINGLE_TAG",
            b"T 1 2 6 OTHER",
            b"\xff 1 2 6 SINGLE_TAG",
        ] {
            assert!(parse_topic_config(bad).is_err());
        }
    }

    #[test]
    fn bad_filter_server_json_is_dropped_like_java() {
        let dv = br#"{"counter":1}"#;
        let parts: Vec<Vec<u8>> = vec![
            (dv.len() as i32).to_be_bytes().to_vec(),
            dv.to_vec(),
            0i32.to_be_bytes().to_vec(),
            3i32.to_be_bytes().to_vec(),
            b"[1,".to_vec(),
        ];
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let body = RegisterBrokerBody::decode_compressed(&java_payload(&refs), 100).unwrap();
        assert!(body.filter_server_list.is_empty());
        // The 5.x reader wants the mapping count that follows.
        assert!(matches!(
            RegisterBrokerBody::decode_compressed(&java_payload(&refs), 413),
            Err(BodyError::Compressed("truncated"))
        ));
    }

    #[test]
    fn hostile_input_is_an_error() {
        let body = sample();
        let good = body.encode_compressed().unwrap();
        for end in 0..good.len() {
            // Like Java, the reader stops after the last part, so a stream
            // cut after its data (in the end-of-block code or the checksum)
            // still decodes; any other cut is an error, never another body.
            if let Ok(b) = RegisterBrokerBody::decode_compressed(&good[..end], 479) {
                assert!(b == body && end + 8 >= good.len(), "{end}");
            }
        }
        assert!(matches!(
            RegisterBrokerBody::decode_compressed(b"not zlib", 479),
            Err(BodyError::Inflate(_))
        ));
        let negative = java_payload(&[&(-1i32).to_be_bytes()]);
        assert!(matches!(
            RegisterBrokerBody::decode_compressed(&negative, 479),
            Err(BodyError::Compressed("negative length"))
        ));
        // A huge claimed length allocates nothing up front.
        let huge = java_payload(&[&i32::MAX.to_be_bytes(), b"{}"]);
        assert!(RegisterBrokerBody::decode_compressed(&huge, 479).is_err());
    }

    #[test]
    fn bombs_stop_at_the_cap() {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        z.write_all(&i32::MAX.to_be_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_DECOMPRESSED_LEN >> 20) + 1 {
            z.write_all(&zeros).unwrap();
        }
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 200_000);
        assert!(matches!(
            RegisterBrokerBody::decode_compressed(&bomb, 479),
            Err(BodyError::TooLarge)
        ));
    }
}
