//! Where each field of a stored record sits, record sizes, and in-place
//! patching of the fields the store fills in under its append lock.

use bytes::BufMut;

use super::super::error::{DecodeError, EncodeError, ensure_room};
use super::super::host::host_len;
use super::super::sysflag::MessageSysFlag;

/// Magic code of v1 records (1-byte topic length): `0xDAA320A7`.
pub const MAGIC_CODE_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of v2 records (2-byte topic length): `0xDAA320AB`.
pub const MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic code of the BLANK record padding the end of a CommitLog file.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;
/// Length of a BLANK record, and the room every append leaves for one.
pub const BLANK_LEN: usize = 8;
/// The smallest record: v1, IPv4 hosts, empty body, topic and properties.
pub const MIN_RECORD_LEN: usize = 91;

/// Offset of TOTALSIZE.
pub const TOTAL_SIZE_POS: usize = 0;
/// Offset of MAGICCODE.
pub const MAGIC_CODE_POS: usize = 4;
/// Offset of BODYCRC.
pub const BODY_CRC_POS: usize = 8;
/// Offset of QUEUEID.
pub const QUEUE_ID_POS: usize = 12;
/// Offset of FLAG.
pub const FLAG_POS: usize = 16;
/// Offset of QUEUEOFFSET.
pub const QUEUE_OFFSET_POS: usize = 20;
/// Offset of PHYSICALOFFSET.
pub const PHYSICAL_OFFSET_POS: usize = 28;
/// Offset of SYSFLAG.
pub const SYS_FLAG_POS: usize = 36;
/// Offset of BORNTIMESTAMP.
pub const BORN_TIMESTAMP_POS: usize = 40;
/// Offset of BORNHOST.
pub const BORN_HOST_POS: usize = 48;

/// The record version, chosen by topic length (`MessageVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageVersion {
    /// 1-byte topic length; what clients can decode.
    #[default]
    V1,
    /// 2-byte topic length, for topics longer than 127 bytes.
    V2,
}

impl MessageVersion {
    /// The version's magic code.
    pub const fn magic_code(self) -> i32 {
        match self {
            Self::V1 => MAGIC_CODE_V1,
            Self::V2 => MAGIC_CODE_V2,
        }
    }

    /// The version with `magic`, if any (BLANK is not a version).
    pub const fn from_magic_code(magic: i32) -> Option<Self> {
        match magic {
            MAGIC_CODE_V1 => Some(Self::V1),
            MAGIC_CODE_V2 => Some(Self::V2),
            _ => None,
        }
    }

    /// Bytes of the topic length field.
    pub const fn topic_len_size(self) -> usize {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// Longest topic the version can hold (Java reads the length signed).
    pub const fn max_topic_len(self) -> usize {
        match self {
            Self::V1 => i8::MAX as usize,
            Self::V2 => i16::MAX as usize,
        }
    }

    /// The version the broker picks for a topic of `topic_len` bytes
    /// (`autoMessageVersionOnTopicLen`, on by default).
    pub const fn for_topic_len(topic_len: usize) -> Self {
        if topic_len > i8::MAX as usize {
            Self::V2
        } else {
            Self::V1
        }
    }
}

/// Offsets of the fields that follow the born host, whose size depends on the
/// sysflag's IPv6 bits; the fields before it are at the fixed `*_POS` consts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLayout {
    /// Offset of STORETIMESTAMP.
    pub store_timestamp: usize,
    /// Offset of STOREHOSTADDRESS.
    pub store_host: usize,
    /// Offset of RECONSUMETIMES.
    pub reconsume_times: usize,
    /// Offset of PREPARED_TRANSACTION_OFFSET.
    pub prepared_transaction_offset: usize,
    /// Offset of the body length (the body follows it).
    pub body_len: usize,
}

impl RecordLayout {
    /// The layout of records with `sys_flag`.
    pub const fn for_sys_flag(sys_flag: i32) -> Self {
        let store_timestamp = BORN_HOST_POS + host_len(MessageSysFlag::is_born_host_v6(sys_flag));
        let store_host = store_timestamp + 8;
        let reconsume_times = store_host + host_len(MessageSysFlag::is_store_host_v6(sys_flag));
        let prepared_transaction_offset = reconsume_times + 4;
        Self {
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body_len: prepared_transaction_offset + 8,
        }
    }
}

/// Size of a record (`MessageExtEncoder.calMsgLength`): 91 + body + topic +
/// properties for v1 with IPv4 hosts, +1 for v2, +12 per IPv6 host.
/// Saturates instead of overflowing, so absurd inputs fail later size checks.
pub const fn encoded_len(
    version: MessageVersion,
    sys_flag: i32,
    body_len: usize,
    topic_len: usize,
    properties_len: usize,
) -> usize {
    let fixed = RecordLayout::for_sys_flag(sys_flag).body_len + 4 + version.topic_len_size() + 2;
    fixed
        .saturating_add(body_len)
        .saturating_add(topic_len)
        .saturating_add(properties_len)
}

/// `CRC32(body) & 0x7FFFFFFF`, the BODYCRC the broker stores.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// Writes a BLANK record announcing the `bytes_left` bytes to the end of the file.
pub fn write_blank<B: BufMut + ?Sized>(out: &mut B, bytes_left: usize) -> Result<(), EncodeError> {
    let total = i32::try_from(bytes_left).map_err(|_| EncodeError::TooLarge { len: bytes_left })?;
    ensure_room(out, BLANK_LEN)?;
    out.put_i32(total);
    out.put_i32(BLANK_MAGIC_CODE);
    Ok(())
}

/// Overwrites 8 bytes at `pos` of an encoded record.
fn patch_i64(record: &mut [u8], pos: usize, value: i64) -> Result<(), DecodeError> {
    let available = record.len();
    let slot = record
        .get_mut(pos..pos + 8)
        .ok_or(DecodeError::Incomplete {
            needed: pos + 8,
            available,
        })?;
    slot.copy_from_slice(&value.to_be_bytes());
    Ok(())
}

/// Sets QUEUEOFFSET in an encoded record.
pub fn patch_queue_offset(record: &mut [u8], queue_offset: i64) -> Result<(), DecodeError> {
    patch_i64(record, QUEUE_OFFSET_POS, queue_offset)
}

/// Sets PHYSICALOFFSET in an encoded record.
pub fn patch_physical_offset(record: &mut [u8], physical_offset: i64) -> Result<(), DecodeError> {
    patch_i64(record, PHYSICAL_OFFSET_POS, physical_offset)
}

/// Sets STORETIMESTAMP in an encoded record, locating it from the record's
/// own SYSFLAG.
pub fn patch_store_timestamp(record: &mut [u8], store_timestamp: i64) -> Result<(), DecodeError> {
    let available = record.len();
    let sys_flag = record
        .get(SYS_FLAG_POS..SYS_FLAG_POS + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or(DecodeError::Incomplete {
            needed: SYS_FLAG_POS + 4,
            available,
        })?;
    let pos = RecordLayout::for_sys_flag(sys_flag).store_timestamp;
    patch_i64(record, pos, store_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_codes_match_java() {
        assert_eq!(MAGIC_CODE_V1, -626_843_481);
        assert_eq!(MAGIC_CODE_V2, -626_843_477);
        assert_eq!(BLANK_MAGIC_CODE, -875_286_124);
        assert_eq!(
            MessageVersion::from_magic_code(MAGIC_CODE_V2),
            Some(MessageVersion::V2)
        );
        assert_eq!(MessageVersion::from_magic_code(BLANK_MAGIC_CODE), None);
        assert_eq!(MessageVersion::V1.magic_code(), MAGIC_CODE_V1);
        assert_eq!(MessageVersion::V2.magic_code(), MAGIC_CODE_V2);
    }

    #[test]
    fn version_by_topic_length() {
        assert_eq!(MessageVersion::for_topic_len(127), MessageVersion::V1);
        assert_eq!(MessageVersion::for_topic_len(128), MessageVersion::V2);
        assert_eq!(MessageVersion::V1.max_topic_len(), 127);
        assert_eq!(MessageVersion::V2.max_topic_len(), 32_767);
    }

    #[test]
    fn lengths_follow_cal_msg_length() {
        assert_eq!(encoded_len(MessageVersion::V1, 0, 0, 0, 0), MIN_RECORD_LEN);
        assert_eq!(encoded_len(MessageVersion::V1, 0, 10, 5, 20), 91 + 35);
        assert_eq!(encoded_len(MessageVersion::V2, 0, 10, 5, 20), 92 + 35);
        assert_eq!(encoded_len(MessageVersion::V1, 0x10, 0, 0, 0), 103);
        assert_eq!(encoded_len(MessageVersion::V1, 0x30, 0, 0, 0), 115);
        assert_eq!(
            encoded_len(MessageVersion::V1, 0, usize::MAX, 1, 1),
            usize::MAX
        );
    }

    #[test]
    fn layouts_shift_with_ipv6_hosts() {
        let v4 = RecordLayout::for_sys_flag(0);
        assert_eq!(
            (
                v4.store_timestamp,
                v4.store_host,
                v4.reconsume_times,
                v4.prepared_transaction_offset,
                v4.body_len
            ),
            (56, 64, 72, 76, 84)
        );
        let born6 = RecordLayout::for_sys_flag(MessageSysFlag::BORNHOST_V6_FLAG);
        assert_eq!((born6.store_timestamp, born6.body_len), (68, 96));
        let both6 = RecordLayout::for_sys_flag(0x30);
        assert_eq!((both6.reconsume_times, both6.body_len), (96, 108));
    }

    #[test]
    fn crc_masks_the_sign_bit() {
        assert_eq!(body_crc(b""), 0);
        // CRC32("123456789") = 0xCBF43926.
        assert_eq!(body_crc(b"123456789"), 0x4BF4_3926);
    }

    #[test]
    fn blank_record() {
        let mut out = Vec::new();
        write_blank(&mut out, 1234).unwrap();
        assert_eq!(out, [0, 0, 4, 210, 0xCB, 0xD4, 0x31, 0x94]);
        assert_eq!(
            write_blank(&mut out, usize::MAX),
            Err(EncodeError::TooLarge { len: usize::MAX })
        );
        let mut small = [0u8; 7];
        assert!(matches!(
            write_blank(&mut &mut small[..], 8),
            Err(EncodeError::BufferTooSmall {
                needed: 8,
                remaining: 7
            })
        ));
    }

    #[test]
    fn patches_fields_in_place() {
        let mut rec = vec![0u8; MIN_RECORD_LEN + 12];
        patch_queue_offset(&mut rec, 7).unwrap();
        patch_physical_offset(&mut rec, -2).unwrap();
        patch_store_timestamp(&mut rec, 0x0102).unwrap();
        assert_eq!(rec[QUEUE_OFFSET_POS + 7], 7);
        assert_eq!(
            rec[PHYSICAL_OFFSET_POS..PHYSICAL_OFFSET_POS + 8],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]
        );
        assert_eq!(rec[56 + 6..56 + 8], [1, 2]);
        rec[SYS_FLAG_POS + 3] = 0x10;
        patch_store_timestamp(&mut rec, 0x0304).unwrap();
        assert_eq!(rec[68 + 6..68 + 8], [3, 4]);
        assert_eq!(
            patch_store_timestamp(&mut rec[..39], 0),
            Err(DecodeError::Incomplete {
                needed: 40,
                available: 39
            })
        );
        assert_eq!(
            patch_store_timestamp(&mut rec[..70], 0),
            Err(DecodeError::Incomplete {
                needed: 76,
                available: 70
            })
        );
        assert_eq!(
            patch_queue_offset(&mut rec[..27], 0),
            Err(DecodeError::Incomplete {
                needed: 28,
                available: 27
            })
        );
        assert!(patch_physical_offset(&mut [], 0).is_err());
    }
}
