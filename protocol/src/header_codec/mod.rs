//! The two header serializations: fastjson-compatible JSON and ROCKETMQ binary.

pub(crate) mod binary;
pub(crate) mod json;

/// Why a header could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum HeaderCodecError {
    /// The JSON header is not valid JSON of the expected shape.
    #[error("malformed JSON header: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON header is not a JSON object.
    #[error("JSON header is not an object")]
    NotAnObject,
    /// The binary header ends before a field it announces.
    #[error("binary header truncated reading {0}")]
    Truncated(&'static str),
    /// A length field in the binary header is negative.
    #[error("binary header has a negative length for {0}")]
    NegativeLength(&'static str),
    /// A string in the binary header is not UTF-8.
    #[error("binary header field {0} is not UTF-8")]
    NotUtf8(&'static str),
    /// Bytes remain after the binary header's last field.
    #[error("binary header has {0} trailing bytes")]
    TrailingBytes(usize),
    /// A value does not fit the binary header's field.
    #[error("{field} value {value} does not fit the ROCKETMQ binary header")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: i64,
    },
}
