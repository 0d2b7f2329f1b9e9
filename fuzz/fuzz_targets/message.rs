//! Arbitrary bytes as stored records (a pull body), a batch body, a property
//! string and message ids: errors are fine, panics are not. Whatever decodes
//! as a record must re-encode to the same bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use skylark_protocol::message::record;
use skylark_protocol::message::{OffsetMsgId, Properties, UniqKey, decode_batch};

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    let mut at = 0;
    while at < buf.len() {
        let Ok((msg, used)) = record::decode(&buf.slice(at..)) else {
            break;
        };
        let again = msg.to_bytes().expect("a decoded record re-encodes");
        assert_eq!(&again[..], &buf[at..at + used]);
        at += used;
    }
    let _ = decode_batch(&buf);
    let props = Properties::decode(buf.clone());
    let _ = props.iter().count();
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = OffsetMsgId::parse(s);
        let _ = UniqKey::parse(s);
        let _ = Properties::parse(s);
    }
});
