//! Encoding a [`StoredMessage`] straight into the CommitLog mapping.
//!
//! [`Prepared::new`] does, before the append lock, everything that does not
//! depend on where the record goes: the sysflag, the record length, BODYCRC,
//! and the property bytes (into a scratch buffer). [`Prepared::write`] then
//! runs under the lock and only copies: fixed-size header fields, the body
//! (its one copy on the way to the disk), the topic and the property bytes.
//! The bytes are those of [`StoredMessage::encode`] with BODYCRC computed from
//! the body; the CommitLog patches QUEUEOFFSET, PHYSICALOFFSET and
//! STORETIMESTAMP afterwards.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use bytes::BufMut;
use skylark_protocol::message::StoredMessage;
use skylark_protocol::message::record::{MessageVersion, body_crc, encoded_len};

use crate::error::{Result, StoreError};

/// A message ready to be written under the append lock.
#[derive(Debug)]
pub(super) struct Prepared<'m> {
    msg: &'m StoredMessage,
    /// TOTALSIZE.
    pub(super) len: usize,
    /// SYSFLAG as written (IPv6 bits from the hosts).
    pub(super) sys_flag: i32,
    body_crc: i32,
    /// The record version written: the message's, or v2 when the topic needs it.
    version: MessageVersion,
    /// The property bytes, in the scratch buffer.
    props: Range<usize>,
}

impl<'m> Prepared<'m> {
    /// Computes what the record needs, appending its property bytes to `scratch`.
    ///
    /// With `auto_version` (`autoMessageVersionOnTopicLen`, on by default) a
    /// topic longer than v1 allows is written as v2 whatever the message says,
    /// as Java does for messages re-addressed to long retry topics.
    pub(super) fn new(
        msg: &'m StoredMessage,
        scratch: &mut Vec<u8>,
        auto_version: bool,
    ) -> Result<Self> {
        let version = if auto_version && msg.topic.len() > msg.version.max_topic_len() {
            MessageVersion::V2
        } else {
            msg.version
        };
        if msg.topic.len() > version.max_topic_len() {
            return Err(StoreError::MessageIllegal(
                "topic too long for the record version",
            ));
        }
        let start = scratch.len();
        msg.properties
            .encode_into(scratch)
            .map_err(|_| StoreError::PropertiesTooLong {
                len: msg.properties.encoded_len(),
            })?;
        let props = start..scratch.len();
        let sys_flag = msg.normalized_sys_flag();
        let len = encoded_len(
            version,
            sys_flag,
            msg.body.len(),
            msg.topic.len(),
            props.len(),
        );
        if i32::try_from(len).is_err() {
            return Err(StoreError::MessageTooLarge {
                len,
                max: i32::MAX as usize,
            });
        }
        Ok(Self {
            msg,
            len,
            sys_flag,
            body_crc: body_crc(&msg.body),
            version,
            props,
        })
    }

    /// Writes the record into `dst` (exactly [`len`](Self::len) bytes), with
    /// the property bytes taken from `scratch`.
    pub(super) fn write(&self, dst: &mut [u8], scratch: &[u8]) -> Result<()> {
        let props = scratch
            .get(self.props.clone())
            .ok_or(StoreError::MessageIllegal("property bytes missing"))?;
        if dst.len() != self.len {
            return Err(StoreError::MessageIllegal(
                "reserved room differs from the record's length",
            ));
        }
        let m = self.msg;
        // Every write below fits: `len` is the sum of exactly these fields
        // (`encoded_len` with the same sysflag, so the same host sizes), and
        // every length fits its field because the total fits an i32 and the
        // topic its version's limit (checked in `new`).
        let mut out = dst;
        out.put_i32(self.len as i32);
        out.put_i32(self.version.magic_code());
        out.put_i32(self.body_crc);
        out.put_i32(m.queue_id);
        out.put_i32(m.flag);
        out.put_i64(m.queue_offset);
        out.put_i64(m.physical_offset);
        out.put_i32(self.sys_flag);
        out.put_i64(m.born_timestamp);
        put_host(&mut out, &m.born_host);
        out.put_i64(m.store_timestamp);
        put_host(&mut out, &m.store_host);
        out.put_i32(m.reconsume_times);
        out.put_i64(m.prepared_transaction_offset);
        out.put_i32(m.body.len() as i32);
        out.put_slice(&m.body);
        match self.version {
            MessageVersion::V1 => out.put_u8(m.topic.len() as u8),
            MessageVersion::V2 => out.put_u16(m.topic.len() as u16),
        }
        out.put_slice(m.topic.as_bytes());
        out.put_u16(props.len() as u16);
        out.put_slice(props);
        debug_assert!(out.is_empty(), "record length disagrees with its fields");
        Ok(())
    }
}

/// Writes `addr` as the record does: IP octets, then the port as an i32.
fn put_host(out: &mut &mut [u8], addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.put_slice(&ip.octets()),
        IpAddr::V6(ip) => out.put_slice(&ip.octets()),
    }
    out.put_i32(i32::from(addr.port()));
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use proptest::prelude::*;
    use skylark_protocol::message::record::{BODY_CRC_POS, decode};
    use skylark_protocol::message::sysflag::MessageSysFlag;
    use skylark_protocol::message::{Message, Properties};

    use super::*;

    /// What the old two-copy path stored: protocol's encode, then BODYCRC patched.
    fn two_copy(msg: &StoredMessage) -> Vec<u8> {
        let mut v = Vec::new();
        msg.encode(&mut v).unwrap();
        let crc = body_crc(&msg.body).to_be_bytes();
        v[BODY_CRC_POS..BODY_CRC_POS + 4].copy_from_slice(&crc);
        v
    }

    fn direct(msg: &StoredMessage) -> Vec<u8> {
        let mut scratch = vec![0xEE; 3];
        let p = Prepared::new(msg, &mut scratch, true).unwrap();
        let mut dst = vec![0xAA; p.len];
        p.write(&mut dst, &scratch).unwrap();
        dst
    }

    fn sample(topic: &str, body: &[u8], born: &str, store: &str) -> StoredMessage {
        let m = Message::new(topic, body.to_vec())
            .with_tags("TagA")
            .with_keys(["k1", "k2"]);
        let mut s = StoredMessage::new(m, born.parse().unwrap(), store.parse().unwrap());
        s.queue_id = 3;
        s.flag = 9;
        s.born_timestamp = 1_700_000_000_123;
        s.reconsume_times = 2;
        s.prepared_transaction_offset = 77;
        s.queue_offset = 5;
        s.physical_offset = 6;
        s.store_timestamp = 8;
        s
    }

    #[test]
    fn matches_the_protocol_encoding() {
        let long_topic = "T".repeat(200);
        let cases = [
            sample("TopicA", b"hello", "10.0.0.2:1", "10.0.0.1:10911"),
            sample("TopicA", b"", "[fe80::1]:2", "10.0.0.1:10911"),
            sample("TopicA", &[7; 4096], "10.0.0.2:1", "[::1]:10911"),
            sample(&long_topic, b"v2", "[fe80::1]:2", "[::1]:10911"),
        ];
        for msg in &cases {
            assert_eq!(direct(msg), two_copy(msg), "{}", msg.topic);
        }
        // A stale BODYCRC is replaced; a wrong IPv6 sysflag bit is normalised.
        let mut stale = cases[0].clone();
        stale.body_crc = 1;
        stale.sys_flag |= MessageSysFlag::BORNHOST_V6_FLAG;
        assert_eq!(direct(&stale), two_copy(&stale));
        let (back, _) = decode(&bytes::Bytes::from(direct(&stale))).unwrap();
        back.verify_body_crc().unwrap();
    }

    #[test]
    fn raw_and_empty_properties_are_written_as_held() {
        let mut msg = sample("TopicA", b"x", "10.0.0.2:1", "10.0.0.1:10911");
        let (decoded, _) = decode(&bytes::Bytes::from(two_copy(&msg))).unwrap();
        assert_eq!(direct(&decoded), two_copy(&decoded));
        msg.properties = Properties::new();
        assert_eq!(direct(&msg), two_copy(&msg));
    }

    #[test]
    fn refuses_what_cannot_be_encoded() {
        let mut msg = sample("TopicA", b"x", "10.0.0.2:1", "10.0.0.1:10911");
        let mut scratch = Vec::new();
        let p = Prepared::new(&msg, &mut scratch, true).unwrap();
        let mut short = vec![0; p.len - 1];
        assert!(p.write(&mut short, &scratch).is_err());
        assert!(p.write(&mut vec![0; p.len], &[]).is_err());
        // A v1 message with a topic too long for v1: refused unless the
        // version may follow the topic length.
        msg.topic = "T".repeat(128);
        assert!(matches!(
            Prepared::new(&msg, &mut scratch, false),
            Err(StoreError::MessageIllegal(_))
        ));
        let p = Prepared::new(&msg, &mut scratch, true).unwrap();
        assert_eq!(p.version, MessageVersion::V2);
    }

    proptest! {
        #[test]
        fn any_message_matches_the_protocol_encoding(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            topic in "[A-Za-z0-9_-]{1,140}",
            v6 in any::<(bool, bool)>(),
            sys_flag in any::<i32>(),
            fields in any::<(i32, i32, i64, i32, i64)>(),
            props in proptest::collection::vec(("[a-zA-Z]{1,8}", "[a-z0-9]{0,12}"), 0..5),
        ) {
            let host = |v6: bool, port| -> SocketAddr {
                if v6 { SocketAddr::new("fe80::7".parse().unwrap(), port) }
                else { SocketAddr::new("10.1.2.3".parse().unwrap(), port) }
            };
            let mut m = Message::new(topic, body);
            m.properties = props.into_iter().collect();
            let mut msg = StoredMessage::new(m, host(v6.0, 4000), host(v6.1, 10911));
            msg.sys_flag = sys_flag;
            (msg.queue_id, msg.flag, msg.born_timestamp, msg.reconsume_times,
                msg.prepared_transaction_offset) = fields;
            prop_assert_eq!(direct(&msg), two_copy(&msg));
        }
    }
}
