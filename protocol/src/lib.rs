//! The Apache RocketMQ remoting protocol and stored-message format.
//!
//! Everything that crosses a socket or lands on disk in RocketMQ's formats is
//! defined here, with no I/O of its own:
//!
//! - [`codec`]: the frame codec for tokio-util (`RemotingCodec`);
//! - [`command`]: [`RemotingCommand`], one decoded frame;
//! - [`code`]: request, response and language codes;
//! - [`headers`]: typed headers carried in `extFields`;
//! - [`body`]: JSON bodies, accepting fastjson's dialect;
//! - [`message`]: the message model, the stored record encoding, batch
//!   bodies, properties, flags and message ids.

pub mod body;
pub mod code;
pub mod codec;
pub mod command;
pub mod ext_fields;
mod header_codec;
pub mod headers;
pub mod message;
mod pair_pool;
pub mod text;

pub use code::{LanguageCode, RequestCode, ResponseCode, SerializeType};
pub use codec::{CodecError, DEFAULT_MAX_FRAME_LEN, RemotingCodec};
pub use command::RemotingCommand;
pub use ext_fields::ExtFields;
pub use header_codec::HeaderCodecError;
pub use headers::{CommandHeader, HeaderError};
pub use text::Text;
