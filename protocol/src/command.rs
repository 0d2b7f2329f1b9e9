//! `RemotingCommand`: one request or response frame, decoded.

use bytes::Bytes;

use crate::code::{LanguageCode, RequestCode, ResponseCode, SerializeType};
use crate::ext_fields::ExtFields;
use crate::headers::{CommandHeader, HeaderError};

/// `MQVersion.Version.V5_3_3.ordinal()`: the version Skylark advertises.
pub const SKYLARK_VERSION: i32 = 479;

/// Flag bit 0: the command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: the request is oneway and must not be answered.
pub const FLAG_ONEWAY: i32 = 1 << 1;

/// A remoting command: header fields, `extFields` and an opaque body.
///
/// `code` is kept as the raw integer because its meaning depends on the
/// direction; use [`RemotingCommand::request_code`] or
/// [`RemotingCommand::response_code`] to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code, or response code in responses.
    pub code: i32,
    /// The sender's implementation language.
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id; a response copies its request's.
    pub opaque: i32,
    /// Bit 0 response, bit 1 oneway.
    pub flag: i32,
    /// Error text, if any.
    pub remark: Option<String>,
    /// The typed header's fields; `None` when the sender had none.
    pub ext_fields: Option<ExtFields>,
    /// The body; a slice of the received frame, never copied by the codec.
    pub body: Bytes,
    /// The serialization this command's header arrived in, or will be sent in.
    pub serialize_type: SerializeType,
}

impl Default for RemotingCommand {
    fn default() -> Self {
        Self {
            code: 0,
            language: LanguageCode::Rust,
            version: SKYLARK_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: None,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }
}

impl RemotingCommand {
    /// A request with `code` and the given header.
    pub fn request(code: RequestCode, header: &impl CommandHeader) -> Self {
        Self {
            code: code.value(),
            ext_fields: Some(header.to_ext_fields()),
            ..Self::default()
        }
    }

    /// A request with `code` and no header.
    pub fn bare_request(code: RequestCode) -> Self {
        Self {
            code: code.value(),
            ..Self::default()
        }
    }

    /// A response to `request` with `code`: same opaque and serialization.
    pub fn response_to(request: &RemotingCommand, code: ResponseCode) -> Self {
        Self {
            code: code.value(),
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            serialize_type: request.serialize_type,
            ..Self::default()
        }
    }

    /// Sets the remark.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Writes `header` into `extFields`, keeping entries already there.
    pub fn with_header(mut self, header: &impl CommandHeader) -> Self {
        header.write_to(self.ext_fields.get_or_insert_with(ExtFields::new));
        self
    }

    /// Sets the opaque.
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    /// Marks the request oneway.
    pub fn into_oneway(mut self) -> Self {
        self.flag |= FLAG_ONEWAY;
        self
    }

    /// Reads the typed header from `extFields` (empty when absent).
    pub fn read_header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        match &self.ext_fields {
            Some(fields) => H::read_from(fields),
            None => H::read_from(&ExtFields::new()),
        }
    }

    /// The value of one `extFields` entry.
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.as_ref().and_then(|f| f.get(key))
    }

    /// Sets one `extFields` entry.
    pub fn set_ext(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.ext_fields
            .get_or_insert_with(ExtFields::new)
            .insert(key, value);
    }

    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether this is a oneway request (never answered).
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// The code read as a request code.
    pub fn request_code(&self) -> RequestCode {
        RequestCode::from(self.code)
    }

    /// The code read as a response code.
    pub fn response_code(&self) -> ResponseCode {
        ResponseCode::from(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_copies_opaque_and_serialization() {
        let mut req = RemotingCommand::bare_request(RequestCode::HEART_BEAT).with_opaque(77);
        req.serialize_type = SerializeType::RocketMq;
        let resp = RemotingCommand::response_to(&req, ResponseCode::SUCCESS);
        assert_eq!(resp.opaque, 77);
        assert!(resp.is_response());
        assert!(!resp.is_oneway());
        assert_eq!(resp.serialize_type, SerializeType::RocketMq);
        assert!(req.clone().into_oneway().is_oneway());
    }
}
