//! Arbitrary bytes as a JSON header and as a ROCKETMQ binary header, then the
//! typed headers read from whatever decodes: errors are fine, panics are not.
#![no_main]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use skylark_protocol::RemotingCodec;
use skylark_protocol::headers::pull::PullMessageRequestHeader;
use skylark_protocol::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    for kind in [0u32, 1] {
        let mut frame = BytesMut::with_capacity(data.len() + 8);
        frame.put_u32(4 + data.len() as u32);
        frame.put_u32((kind << 24) | data.len() as u32);
        frame.put_slice(data);
        if let Ok(Some(cmd)) = RemotingCodec::default().decode(&mut frame) {
            let _ = cmd.read_header::<SendMessageRequestHeader>();
            let _ = cmd.read_header::<SendMessageRequestHeaderV2>();
            let _ = cmd.read_header::<PullMessageRequestHeader>();
        }
    }
});
