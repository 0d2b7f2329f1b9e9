//! Batch bodies of SEND_BATCH_MESSAGE (`MessageDecoder.encodeMessages`,
//! protocol doc §6.2): per message TOTALSIZE 4 | MAGICCODE 4 (0) |
//! BODYCRC 4 (0) | FLAG 4 | body length 4 + body | properties length 2 +
//! properties, concatenated.
//!
//! Like Java's broker, the decoder frames elements by their body and property
//! lengths and ignores TOTALSIZE, MAGICCODE and BODYCRC, so it accepts every
//! body Java accepts.

use bytes::{BufMut, Bytes};

use super::Message;
use super::cursor::Cursor;
use super::error::{DecodeError, EncodeError, ensure_room};
use super::properties::{MAX_ENCODED_LEN, Properties};

/// Bytes of an element besides its body and properties.
pub const BATCH_ENTRY_OVERHEAD: usize = 22;

/// One message of a batch: everything but the topic, which the header carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchEntry {
    /// The producer's flag word.
    pub flag: i32,
    /// The body (a slice of the batch when decoded).
    pub body: Bytes,
    /// The properties, with the element's own UNIQ_KEY.
    pub properties: Properties,
}

impl BatchEntry {
    /// The element's encoded size: 22 + body + properties.
    pub fn encoded_len(&self) -> usize {
        entry_len(&self.body, &self.properties)
    }

    /// Writes the element and returns its length; on error nothing is written.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) -> Result<usize, EncodeError> {
        let len = check_entry(&self.body, &self.properties)?;
        ensure_room(out, len)?;
        write_entry(out, len, self.flag, &self.body, &self.properties);
        Ok(len)
    }

    /// The element as a message of `topic`.
    pub fn into_message(self, topic: impl Into<String>) -> Message {
        Message {
            topic: topic.into(),
            flag: self.flag,
            properties: self.properties,
            body: self.body,
        }
    }
}

impl From<Message> for BatchEntry {
    /// Drops the topic, which batch elements do not carry.
    fn from(m: Message) -> Self {
        Self {
            flag: m.flag,
            body: m.body,
            properties: m.properties,
        }
    }
}

/// Saturating size of one element.
fn entry_len(body: &[u8], properties: &Properties) -> usize {
    BATCH_ENTRY_OVERHEAD
        .saturating_add(body.len())
        .saturating_add(properties.encoded_len())
}

/// Checks one element's sizes and returns its length.
fn check_entry(body: &[u8], properties: &Properties) -> Result<usize, EncodeError> {
    let properties_len = properties.encoded_len();
    if properties_len > MAX_ENCODED_LEN {
        return Err(EncodeError::PropertiesTooLong {
            len: properties_len,
        });
    }
    let len = entry_len(body, properties);
    i32::try_from(len).map_err(|_| EncodeError::TooLarge { len })?;
    Ok(len)
}

/// Writes one element whose sizes [`check_entry`] accepted.
fn write_entry<B: BufMut + ?Sized>(
    out: &mut B,
    len: usize,
    flag: i32,
    body: &[u8],
    properties: &Properties,
) {
    // The casts cannot truncate: check_entry bounded the total and properties.
    out.put_i32(len as i32);
    out.put_i32(0);
    out.put_i32(0);
    out.put_i32(flag);
    out.put_i32(body.len() as i32);
    out.put_slice(body);
    out.put_u16(properties.encoded_len() as u16);
    properties.write_unchecked(out);
}

/// Size of the batch body for `messages`.
pub fn encoded_batch_len(messages: &[Message]) -> usize {
    messages.iter().fold(0usize, |n, m| {
        n.saturating_add(entry_len(&m.body, &m.properties))
    })
}

/// Writes the batch body for `messages` (topics are ignored) and returns its
/// length. Every size is checked before anything is written.
pub fn encode_batch<B: BufMut + ?Sized>(
    messages: &[Message],
    out: &mut B,
) -> Result<usize, EncodeError> {
    let mut total = 0usize;
    for m in messages {
        total = total.saturating_add(check_entry(&m.body, &m.properties)?);
    }
    // The whole body travels as one frame body, whose length is an i32.
    i32::try_from(total).map_err(|_| EncodeError::TooLarge { len: total })?;
    ensure_room(out, total)?;
    for m in messages {
        write_entry(
            out,
            entry_len(&m.body, &m.properties),
            m.flag,
            &m.body,
            &m.properties,
        );
    }
    Ok(total)
}

/// Decodes every element of a batch body.
pub fn decode_batch(buf: &Bytes) -> Result<Vec<BatchEntry>, DecodeError> {
    BatchIter::new(buf.clone()).collect()
}

/// Iterates over the elements of a batch body, yielding the first error and
/// then nothing more.
#[derive(Debug, Clone)]
pub struct BatchIter {
    buf: Bytes,
    pos: usize,
    failed: bool,
}

impl BatchIter {
    /// An iterator over the elements of `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Offset of the next element (after an error: of the bad one).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Decodes the element at `self.pos`, returning it and its length.
    fn decode_one(&self) -> Result<(BatchEntry, usize), DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut c = Cursor::new(rest);
        let overrun = |field| move || DecodeError::Overrun { field };
        // TOTALSIZE, MAGICCODE and BODYCRC are ignored, as Java ignores them.
        c.take(12).ok_or_else(overrun("batch element header"))?;
        let flag = c.i32().ok_or_else(overrun("flag"))?;
        let body_len = c.i32().ok_or_else(overrun("body length"))?;
        let body = self.slice(&mut c, body_len, "body")?;
        let properties_len = c.i16().ok_or_else(overrun("properties length"))?;
        let properties = self.slice(&mut c, i32::from(properties_len), "properties")?;
        let entry = BatchEntry {
            flag,
            body,
            properties: Properties::decode(properties),
        };
        Ok((entry, c.pos()))
    }

    /// Takes a `len`-byte field as a zero-copy slice of the batch.
    fn slice(
        &self,
        c: &mut Cursor<'_>,
        len: i32,
        field: &'static str,
    ) -> Result<Bytes, DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength { field, len })?;
        let start = self.pos + c.pos();
        c.take(len).ok_or(DecodeError::Overrun { field })?;
        Ok(self.buf.slice(start..start + len))
    }
}

impl Iterator for BatchIter {
    type Item = Result<BatchEntry, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match self.decode_one() {
            Ok((entry, len)) => {
                self.pos += len;
                Some(Ok(entry))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for BatchIter {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Java's `encodeMessage` output for flag 5, body "ab", properties k=v.
    const ONE: &[u8] = &[
        0, 0, 0, 28, // total 22 + 2 + 4
        0, 0, 0, 0, // magic
        0, 0, 0, 0, // crc
        0, 0, 0, 5, // flag
        0, 0, 0, 2, b'a', b'b', // body
        0, 4, b'k', 1, b'v', 2, // properties
    ];

    fn one() -> Bytes {
        Bytes::from_static(ONE)
    }

    #[test]
    fn decodes_java_layout() {
        let entries = decode_batch(&one()).unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.flag, 5);
        assert_eq!(&e.body[..], b"ab");
        assert_eq!(e.properties.get("k"), Some("v"));
        assert_eq!(e.encoded_len(), 28);
        let mut out = Vec::new();
        assert_eq!(e.encode(&mut out), Ok(28));
        assert_eq!(out, ONE);
        assert!(decode_batch(&Bytes::new()).unwrap().is_empty());
    }

    #[test]
    fn bodies_are_slices_of_the_batch() {
        let buf = one();
        let entries = decode_batch(&buf).unwrap();
        assert_eq!(entries[0].body.as_ptr(), buf[20..].as_ptr());
    }

    #[test]
    fn encodes_messages() {
        let msgs = [
            Message::new("ignored", &b"ab"[..]).with_property("k", "v"),
            Message::new("ignored", Bytes::new()),
        ];
        let mut msgs = msgs;
        msgs[0].flag = 5;
        let mut out = Vec::new();
        assert_eq!(encode_batch(&msgs, &mut out), Ok(28 + 22));
        assert_eq!(encoded_batch_len(&msgs), 50);
        assert_eq!(&out[..28], ONE);
        let back = decode_batch(&Bytes::from(out)).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1], BatchEntry::default());
        assert_eq!(back[0].clone().into_message("T").topic, "T");
        assert_eq!(BatchEntry::from(msgs[0].clone()), back[0]);
    }

    #[test]
    fn encode_checks_before_writing() {
        let big = Message::new("t", Bytes::new()).with_property("k", "v".repeat(40_000));
        let ok = Message::new("t", &b"x"[..]);
        let mut out = Vec::new();
        assert!(matches!(
            encode_batch(&[ok.clone(), big.clone()], &mut out),
            Err(EncodeError::PropertiesTooLong { .. })
        ));
        assert!(out.is_empty());
        assert!(matches!(
            BatchEntry::from(big).encode(&mut out),
            Err(EncodeError::PropertiesTooLong { .. })
        ));
        let mut small = [0u8; 22];
        assert!(matches!(
            encode_batch(&[ok], &mut &mut small[..]),
            Err(EncodeError::BufferTooSmall {
                needed: 23,
                remaining: 22
            })
        ));
    }

    #[test]
    fn ignores_total_magic_and_crc_like_java() {
        let mut bytes = ONE.to_vec();
        bytes[..12].copy_from_slice(&[0xFF; 12]);
        let entries = decode_batch(&Bytes::from(bytes)).unwrap();
        assert_eq!(&entries[0].body[..], b"ab");
    }

    #[test]
    fn truncation_at_every_cut_point_fails() {
        let mut two = ONE.to_vec();
        two.extend_from_slice(ONE);
        for cut in 1..two.len() {
            if cut == 28 {
                continue;
            }
            let result = decode_batch(&Bytes::copy_from_slice(&two[..cut]));
            assert!(
                matches!(result, Err(DecodeError::Overrun { .. })),
                "cut {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn rejects_negative_lengths_and_stops_after_an_error() {
        let mut bytes = ONE.to_vec();
        bytes[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            decode_batch(&Bytes::from(bytes)),
            Err(DecodeError::NegativeLength {
                field: "body",
                len: -1
            })
        );
        let mut bytes = ONE.to_vec();
        bytes[22] = 0x80;
        assert!(matches!(
            decode_batch(&Bytes::from(bytes)),
            Err(DecodeError::NegativeLength {
                field: "properties",
                ..
            })
        ));
        let mut bytes = ONE.to_vec();
        bytes.push(0);
        let mut it = BatchIter::new(Bytes::from(bytes));
        assert!(matches!(it.next(), Some(Ok(_))));
        assert_eq!(it.position(), 28);
        assert!(matches!(it.next(), Some(Err(_))));
        assert_eq!(it.next(), None);
    }

    fn arb_entry() -> impl Strategy<Value = Message> {
        (
            any::<i32>(),
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(("[^\u{1}\u{2}]{1,10}", "[^\u{1}\u{2}]{1,20}"), 0..5),
        )
            .prop_map(|(flag, body, props)| Message {
                topic: String::new(),
                flag,
                properties: props.into_iter().collect(),
                body: Bytes::from(body),
            })
    }

    proptest! {
        #[test]
        fn batch_round_trips(msgs in proptest::collection::vec(arb_entry(), 0..8)) {
            let mut out = Vec::new();
            let len = encode_batch(&msgs, &mut out).unwrap();
            prop_assert_eq!(len, out.len());
            prop_assert_eq!(len, encoded_batch_len(&msgs));
            let back = decode_batch(&Bytes::from(out.clone())).unwrap();
            let expected: Vec<BatchEntry> = msgs.into_iter().map(BatchEntry::from).collect();
            prop_assert_eq!(&back, &expected);
            let mut again = Vec::new();
            for e in &back {
                e.encode(&mut again).unwrap();
            }
            prop_assert_eq!(again, out);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_batch(&Bytes::from(bytes));
        }
    }
}
