//! Errors shared by the record, batch and property codecs.

/// Why bytes could not be decoded as a stored record or a batch body.
///
/// Decoders never panic on hostile input: every inconsistency is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ends before the record (or its fixed header) does; more
    /// bytes may complete it.
    #[error("incomplete: need {needed} bytes, {available} available")]
    Incomplete {
        /// Bytes the record needs from its start.
        needed: usize,
        /// Bytes there are from its start.
        available: usize,
    },
    /// A BLANK record (`0xCBD43194`): the rest of this CommitLog file is
    /// padding and reading continues at the start of the next file.
    #[error("end-of-file BLANK record covering {total_size} bytes")]
    EndOfFile {
        /// Bytes from the BLANK record to the end of its file.
        total_size: i32,
    },
    /// The magic code is neither v1, v2 nor BLANK.
    #[error("bad magic code {0:#010x}")]
    BadMagic(u32),
    /// The total size is negative or smaller than any record can be.
    #[error("bad total size {0}")]
    BadTotalSize(i32),
    /// A length field is negative.
    #[error("negative {field} length {len}")]
    NegativeLength {
        /// The field whose length is negative.
        field: &'static str,
        /// The length as stored.
        len: i32,
    },
    /// A field runs past the end announced by the record's total size.
    #[error("{field} runs past the end of the record")]
    Overrun {
        /// The field that does not fit.
        field: &'static str,
    },
    /// The fields end before the announced total size.
    #[error("total size {total_size} disagrees with the field lengths, which sum to {computed}")]
    SizeMismatch {
        /// The stored total size.
        total_size: usize,
        /// The size the field lengths add up to.
        computed: usize,
    },
    /// A host's port is outside `0..=65535`.
    #[error("port {0} is out of range")]
    BadPort(i32),
    /// The topic bytes are not UTF-8.
    #[error("topic is not valid UTF-8")]
    TopicNotUtf8,
    /// The record does not end with a `__CRC32#` property of ten digits.
    #[error("record has no __CRC32# trailer")]
    MissingPropCrc,
    /// The whole-record CRC in `__CRC32#` does not match the record.
    #[error("record CRC {computed} does not match the {stored} in __CRC32#")]
    PropCrcMismatch {
        /// The CRC the trailer holds.
        stored: i32,
        /// The CRC of the record before the trailer.
        computed: i32,
    },
    /// The body does not match its stored CRC.
    #[error("body CRC {computed} does not match the stored {stored}")]
    BodyCrcMismatch {
        /// The stored BODYCRC.
        stored: i32,
        /// `CRC32(body) & 0x7FFFFFFF`.
        computed: i32,
    },
}

/// Why a record, batch or property string could not be encoded.
///
/// Encoders check everything before writing, so on error nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The property string exceeds the i16 length field (32767 bytes).
    #[error("properties take {len} bytes, more than the 32767 a record can hold")]
    PropertiesTooLong {
        /// Encoded length.
        len: usize,
    },
    /// The topic is too long for the record version's length field.
    #[error("topic of {len} bytes exceeds the {max} its version allows")]
    TopicTooLong {
        /// Topic length in bytes.
        len: usize,
        /// The version's maximum.
        max: usize,
    },
    /// The encoding exceeds the i32 size or length field that frames it.
    #[error("encoding of {len} bytes does not fit its i32 length field")]
    TooLarge {
        /// Encoded length.
        len: usize,
    },
    /// The output buffer cannot take the whole encoding.
    #[error("output buffer has room for {remaining} bytes, {needed} needed")]
    BufferTooSmall {
        /// Encoded length.
        needed: usize,
        /// `BufMut::remaining_mut` of the output.
        remaining: usize,
    },
}

/// Fails unless `out` can take `needed` more bytes, so `BufMut`'s panicking
/// `put_*` calls are never reached with too little room.
pub(crate) fn ensure_room<B: bytes::BufMut + ?Sized>(
    out: &B,
    needed: usize,
) -> Result<(), EncodeError> {
    let remaining = out.remaining_mut();
    if remaining < needed {
        return Err(EncodeError::BufferTooSmall { needed, remaining });
    }
    Ok(())
}
