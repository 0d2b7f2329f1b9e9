//! Decoding stored records from untrusted bytes.

use bytes::Bytes;

use super::super::cursor::Cursor;
use super::super::error::DecodeError;
use super::super::host::read_host;
use super::super::properties::Properties;
use super::super::sysflag::MessageSysFlag;
use super::StoredMessage;
use super::layout::{BLANK_MAGIC_CODE, MIN_RECORD_LEN, MessageVersion};

/// Decodes the record at the start of `buf`, returning it and its length.
///
/// The whole record must be present: a shorter buffer gives
/// [`DecodeError::Incomplete`] (with the length needed), a BLANK record gives
/// [`DecodeError::EndOfFile`], and the field lengths must add up to the stored
/// total size. The body CRC is not checked; see
/// [`StoredMessage::verify_body_crc`]. Body and properties share `buf`'s memory.
pub fn decode(buf: &Bytes) -> Result<(StoredMessage, usize), DecodeError> {
    let available = buf.len();
    let mut head = Cursor::new(buf);
    let (Some(total_size), Some(magic)) = (head.i32(), head.i32()) else {
        return Err(DecodeError::Incomplete {
            needed: 8,
            available,
        });
    };
    if magic == BLANK_MAGIC_CODE {
        return Err(DecodeError::EndOfFile { total_size });
    }
    let version =
        MessageVersion::from_magic_code(magic).ok_or(DecodeError::BadMagic(magic as u32))?;
    let total = usize::try_from(total_size)
        .ok()
        .filter(|&t| t >= MIN_RECORD_LEN)
        .ok_or(DecodeError::BadTotalSize(total_size))?;
    let record = buf.get(..total).ok_or(DecodeError::Incomplete {
        needed: total,
        available,
    })?;

    let mut c = Cursor::new(record);
    let overrun = |field| move || DecodeError::Overrun { field };
    c.take(8).ok_or_else(overrun("header"))?;
    let body_crc = c.i32().ok_or_else(overrun("body CRC"))?;
    let queue_id = c.i32().ok_or_else(overrun("queue id"))?;
    let flag = c.i32().ok_or_else(overrun("flag"))?;
    let queue_offset = c.i64().ok_or_else(overrun("queue offset"))?;
    let physical_offset = c.i64().ok_or_else(overrun("physical offset"))?;
    let sys_flag = c.i32().ok_or_else(overrun("sysflag"))?;
    let born_timestamp = c.i64().ok_or_else(overrun("born timestamp"))?;
    let born_host = read_host(
        &mut c,
        MessageSysFlag::is_born_host_v6(sys_flag),
        "born host",
    )?;
    let store_timestamp = c.i64().ok_or_else(overrun("store timestamp"))?;
    let store_host = read_host(
        &mut c,
        MessageSysFlag::is_store_host_v6(sys_flag),
        "store host",
    )?;
    let reconsume_times = c.i32().ok_or_else(overrun("reconsume times"))?;
    let prepared_transaction_offset = c.i64().ok_or_else(overrun("prepared transaction offset"))?;

    let body_len = c.i32().ok_or_else(overrun("body length"))?;
    let body = take_slice(buf, &mut c, body_len, "body")?;

    // Java reads the topic length signed, so v1 tops out at 127.
    let topic_len = match version {
        MessageVersion::V1 => c.i8().map(i32::from),
        MessageVersion::V2 => c.i16().map(i32::from),
    }
    .ok_or_else(overrun("topic length"))?;
    let topic = take_slice(buf, &mut c, topic_len, "topic")?;
    let topic = String::from_utf8(topic.to_vec()).map_err(|_| DecodeError::TopicNotUtf8)?;

    let properties_len = c.i16().ok_or_else(overrun("properties length"))?;
    let properties = take_slice(buf, &mut c, i32::from(properties_len), "properties")?;

    if c.pos() != total {
        return Err(DecodeError::SizeMismatch {
            total_size: total,
            computed: c.pos(),
        });
    }
    let message = StoredMessage {
        version,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties: Properties::decode(properties),
    };
    Ok((message, total))
}

/// Takes a `len`-byte field from `c` as a zero-copy slice of `buf`.
fn take_slice(
    buf: &Bytes,
    c: &mut Cursor<'_>,
    len: i32,
    field: &'static str,
) -> Result<Bytes, DecodeError> {
    let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength { field, len })?;
    let start = c.pos();
    c.take(len).ok_or(DecodeError::Overrun { field })?;
    Ok(buf.slice(start..start + len))
}

/// Decodes every record of a pull, query or view body.
pub fn decode_all(buf: &Bytes) -> Result<Vec<StoredMessage>, DecodeError> {
    RecordIter::new(buf.clone()).collect()
}

/// Iterates over concatenated records, as in a pull body.
///
/// Yields each record, or the first error and then nothing more: after a bad
/// record the framing of the rest is unknown.
#[derive(Debug, Clone)]
pub struct RecordIter {
    buf: Bytes,
    pos: usize,
    failed: bool,
}

impl RecordIter {
    /// An iterator over the records in `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Offset in the buffer of the next record (after an error: of the bad one).
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for RecordIter {
    type Item = Result<StoredMessage, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match decode(&self.buf.slice(self.pos..)) {
            Ok((message, len)) => {
                self.pos += len;
                Some(Ok(message))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for RecordIter {}
