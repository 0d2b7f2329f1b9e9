//! Encoding stored records into a `BufMut`.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::error::{EncodeError, ensure_room};
use super::super::host::put_host;
use super::super::properties::MAX_ENCODED_LEN;
use super::StoredMessage;
use super::layout::{MessageVersion, encoded_len};

impl StoredMessage {
    /// Writes the record and returns its length.
    ///
    /// Every field is written as held, BODYCRC included (call
    /// [`update_body_crc`](Self::update_body_crc) after changing the body), so a
    /// decoded record re-encodes byte for byte; only the sysflag's IPv6 bits
    /// are taken from the hosts ([`normalized_sys_flag`](Self::normalized_sys_flag)).
    /// Sizes are checked before anything is written.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) -> Result<usize, EncodeError> {
        let topic_len = self.topic.len();
        let max = self.version.max_topic_len();
        if topic_len > max {
            return Err(EncodeError::TopicTooLong {
                len: topic_len,
                max,
            });
        }
        let properties_len = self.properties.encoded_len();
        if properties_len > MAX_ENCODED_LEN {
            return Err(EncodeError::PropertiesTooLong {
                len: properties_len,
            });
        }
        let sys_flag = self.normalized_sys_flag();
        let len = encoded_len(
            self.version,
            sys_flag,
            self.body.len(),
            topic_len,
            properties_len,
        );
        let total = i32::try_from(len).map_err(|_| EncodeError::TooLarge { len })?;
        ensure_room(out, len)?;

        out.put_i32(total);
        out.put_i32(self.version.magic_code());
        out.put_i32(self.body_crc);
        out.put_i32(self.queue_id);
        out.put_i32(self.flag);
        out.put_i64(self.queue_offset);
        out.put_i64(self.physical_offset);
        out.put_i32(sys_flag);
        out.put_i64(self.born_timestamp);
        put_host(out, &self.born_host);
        out.put_i64(self.store_timestamp);
        put_host(out, &self.store_host);
        out.put_i32(self.reconsume_times);
        out.put_i64(self.prepared_transaction_offset);
        // Both lengths fit: the total, which includes them, fits an i32.
        out.put_i32(self.body.len() as i32);
        out.put_slice(&self.body);
        match self.version {
            MessageVersion::V1 => out.put_u8(topic_len as u8),
            MessageVersion::V2 => out.put_u16(topic_len as u16),
        }
        out.put_slice(self.topic.as_bytes());
        out.put_u16(properties_len as u16);
        self.properties.write_unchecked(out);
        Ok(len)
    }

    /// The encoded record as bytes.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let len = self.encoded_len();
        // Checked before allocating: a saturated length must not reach `with_capacity`.
        if i32::try_from(len).is_err() {
            return Err(EncodeError::TooLarge { len });
        }
        let mut out = BytesMut::with_capacity(len);
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}
