//! Arbitrary bytes through the frame codec: decode errors are fine, panics are not.
//! Whatever decodes must re-encode and decode to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use skylark_protocol::RemotingCodec;
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    // A small maximum so the fuzzer also explores the too-large path.
    let mut codec = RemotingCodec::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(cmd)) = codec.decode(&mut buf) {
        let mut out = BytesMut::new();
        if codec.encode(&cmd, &mut out).is_ok() {
            let again = codec.decode(&mut out).ok().flatten();
            assert_eq!(again.as_ref(), Some(&cmd));
        }
    }
});
