//! Reading record headers in place: enough of a stored record to append,
//! verify and index it without decoding (or allocating) anything.

use std::ops::Range;

use skylark_protocol::message::record::{
    BLANK_LEN, BLANK_MAGIC_CODE, BODY_CRC_POS, MIN_RECORD_LEN, MessageVersion, PHYSICAL_OFFSET_POS,
    QUEUE_ID_POS, QUEUE_OFFSET_POS, RecordLayout, SYS_FLAG_POS, body_crc,
};
use skylark_protocol::message::sysflag::TransactionType;

use crate::error::RecordFault;

/// What sits at a record position: a record or the end-of-file BLANK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A message record.
    Record(RecordInfo),
    /// The BLANK record: the rest of the file (`total_size` bytes from here) is padding.
    Blank {
        /// TOTALSIZE: bytes from the BLANK to the end of its file.
        total_size: i32,
    },
}

/// The fields of one record the store needs, with positions relative to the record start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// TOTALSIZE.
    pub total_size: usize,
    /// Record version (magic code).
    pub version: MessageVersion,
    /// QUEUEID.
    pub queue_id: i32,
    /// QUEUEOFFSET.
    pub queue_offset: i64,
    /// PHYSICALOFFSET.
    pub physical_offset: i64,
    /// SYSFLAG.
    pub sys_flag: i32,
    /// STORETIMESTAMP.
    pub store_timestamp: i64,
    /// BODYCRC as stored.
    pub body_crc: i32,
    /// Where the body lies.
    pub body: Range<usize>,
    /// Where the topic lies.
    pub topic: Range<usize>,
}

impl RecordInfo {
    /// Whether the record takes a ConsumeQueue slot (not PREPARED or ROLLBACK).
    pub fn takes_queue_offset(&self) -> bool {
        takes_queue_offset(self.sys_flag)
    }
}

/// Whether records with `sys_flag` get (and advance) a queue offset.
pub(crate) fn takes_queue_offset(sys_flag: i32) -> bool {
    matches!(
        TransactionType::from_sys_flag(sys_flag),
        TransactionType::Not | TransactionType::Commit
    )
}

pub(crate) fn i32_at(buf: &[u8], pos: usize) -> Option<i32> {
    buf.get(pos..pos + 4)?
        .try_into()
        .ok()
        .map(i32::from_be_bytes)
}

pub(crate) fn i64_at(buf: &[u8], pos: usize) -> Option<i64> {
    buf.get(pos..pos + 8)?
        .try_into()
        .ok()
        .map(i64::from_be_bytes)
}

fn i16_at(buf: &[u8], pos: usize) -> Option<i16> {
    buf.get(pos..pos + 2)?
        .try_into()
        .ok()
        .map(i16::from_be_bytes)
}

/// Reads the record (or BLANK) at the start of `buf`, checking magic, size
/// bounds (`MIN_RECORD_LEN..=max_size`), that the whole record is present and
/// that its field lengths add up to TOTALSIZE, as `checkMessageAndReturnSize` does.
pub fn parse_entry(buf: &[u8], max_size: usize) -> Result<Entry, RecordFault> {
    let (Some(total_size), Some(magic)) = (i32_at(buf, 0), i32_at(buf, 4)) else {
        return Err(RecordFault::Truncated {
            needed: BLANK_LEN,
            available: buf.len(),
        });
    };
    if magic == BLANK_MAGIC_CODE {
        return Ok(Entry::Blank { total_size });
    }
    let version =
        MessageVersion::from_magic_code(magic).ok_or(RecordFault::BadMagic(magic as u32))?;
    let total = usize::try_from(total_size)
        .ok()
        .filter(|t| (MIN_RECORD_LEN..=max_size).contains(t))
        .ok_or(RecordFault::BadTotalSize(total_size))?;
    let rec = buf.get(..total).ok_or(RecordFault::Truncated {
        needed: total,
        available: buf.len(),
    })?;
    let mismatch = RecordFault::SizeMismatch(total_size);
    // MIN_RECORD_LEN covers every fixed field up to the IPv4 body length.
    let sys_flag = i32_at(rec, SYS_FLAG_POS).ok_or(mismatch)?;
    let layout = RecordLayout::for_sys_flag(sys_flag);
    let body_len = i32_at(rec, layout.body_len).ok_or(mismatch)?;
    let body_start = layout.body_len + 4;
    let body_end = usize::try_from(body_len)
        .ok()
        .and_then(|l| body_start.checked_add(l))
        .ok_or(mismatch)?;
    let topic_len = match version {
        MessageVersion::V1 => rec.get(body_end).map(|&b| i32::from(b as i8)),
        MessageVersion::V2 => i16_at(rec, body_end).map(i32::from),
    }
    .ok_or(mismatch)?;
    let topic_start = body_end + version.topic_len_size();
    let topic_end = usize::try_from(topic_len)
        .ok()
        .map(|l| topic_start + l)
        .ok_or(mismatch)?;
    let props_len = i16_at(rec, topic_end).ok_or(mismatch)?;
    let end = usize::try_from(props_len)
        .ok()
        .map(|l| topic_end + 2 + l)
        .ok_or(mismatch)?;
    if end != total {
        return Err(mismatch);
    }
    Ok(Entry::Record(RecordInfo {
        total_size: total,
        version,
        queue_id: i32_at(rec, QUEUE_ID_POS).ok_or(mismatch)?,
        queue_offset: i64_at(rec, QUEUE_OFFSET_POS).ok_or(mismatch)?,
        physical_offset: i64_at(rec, PHYSICAL_OFFSET_POS).ok_or(mismatch)?,
        sys_flag,
        store_timestamp: i64_at(rec, layout.store_timestamp).ok_or(mismatch)?,
        body_crc: i32_at(rec, BODY_CRC_POS).ok_or(mismatch)?,
        body: body_start..body_end,
        topic: topic_start..topic_end,
    }))
}

/// Checks BODYCRC against the body of `rec` (empty bodies pass, as in Java).
pub fn verify_crc(rec: &[u8], info: &RecordInfo) -> Result<(), RecordFault> {
    let body = &rec[info.body.clone()];
    if body.is_empty() {
        return Ok(());
    }
    let computed = body_crc(body);
    if computed != info.body_crc {
        return Err(RecordFault::BodyCrc {
            stored: info.body_crc,
            computed,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddr;

    use skylark_protocol::message::{Message, StoredMessage};

    use super::*;

    /// An encoded record for `topic` and queue 1 with `body`.
    pub(crate) fn record(topic: &str, body: &[u8]) -> Vec<u8> {
        let host: SocketAddr = "10.0.0.1:10911".parse().unwrap();
        let mut msg = StoredMessage::new(
            Message::new(topic, body.to_vec()).with_tags("t"),
            host,
            host,
        );
        msg.queue_id = 1;
        msg.to_bytes().unwrap().to_vec()
    }

    #[test]
    fn parses_what_the_protocol_encodes() {
        let rec = record("TopicA", b"hello");
        let Entry::Record(info) = parse_entry(&rec, 1 << 20).unwrap() else {
            panic!("not a record")
        };
        assert_eq!(info.total_size, rec.len());
        assert_eq!(&rec[info.topic.clone()], b"TopicA");
        assert_eq!(&rec[info.body.clone()], b"hello");
        assert_eq!(info.queue_id, 1);
        assert!(info.takes_queue_offset());
        verify_crc(&rec, &info).unwrap();
        let mut bad = rec.clone();
        bad[info.body.start] ^= 1;
        assert!(matches!(
            verify_crc(&bad, &info),
            Err(RecordFault::BodyCrc { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_entry(&bytes, 1 << 20);
        }

        #[test]
        fn never_panics_on_damaged_records(at in 0usize..160, byte in proptest::num::u8::ANY, cut in 0usize..160) {
            let mut rec = record("Fuzz", b"some body bytes");
            let at = at % rec.len();
            rec[at] = byte;
            rec.truncate(rec.len() - cut % rec.len());
            if let Ok(Entry::Record(info)) = parse_entry(&rec, 1 << 20) {
                proptest::prop_assert!(info.total_size <= rec.len());
                proptest::prop_assert!(info.body.end <= info.topic.start && info.topic.end <= info.total_size);
                let _ = verify_crc(&rec, &info);
            }
        }
    }

    #[test]
    fn rejects_damage() {
        let rec = record("T", b"x");
        assert_eq!(
            parse_entry(&rec[..6], 1 << 20),
            Err(RecordFault::Truncated {
                needed: 8,
                available: 6
            })
        );
        assert!(matches!(
            parse_entry(&rec[..50], 1 << 20),
            Err(RecordFault::Truncated { .. })
        ));
        assert!(matches!(
            parse_entry(&rec, 50),
            Err(RecordFault::BadTotalSize(_))
        ));
        assert_eq!(
            parse_entry(&[0; 16], 1 << 20),
            Err(RecordFault::BadMagic(0))
        );
        let mut longer = rec.clone();
        longer[3] += 1;
        longer.push(0);
        assert!(matches!(
            parse_entry(&longer, 1 << 20),
            Err(RecordFault::SizeMismatch(_))
        ));
        let blank = [0, 0, 0, 100, 0xCB, 0xD4, 0x31, 0x94];
        assert_eq!(
            parse_entry(&blank, 1 << 20),
            Ok(Entry::Blank { total_size: 100 })
        );
    }
}
