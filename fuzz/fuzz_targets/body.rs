//! Arbitrary bytes through the fastjson normalizer and every JSON body decoder
//! a broker or nameserver reads from the network: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylark_protocol::body::*;

fn try_body<T: Body>(data: &[u8]) {
    if let Ok(body) = T::decode(data) {
        // Whatever decodes must encode and decode again.
        let again = body.encode(KeyStyle::Unquoted);
        assert!(T::decode(&again).is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = fastjson::normalize(data);
    try_body::<HeartbeatData>(data);
    try_body::<TopicRouteData>(data);
    try_body::<ClusterInfo>(data);
    try_body::<RegisterBrokerBody>(data);
    try_body::<TopicConfigSerializeWrapper>(data);
    try_body::<LockBatchRequestBody>(data);
    try_body::<UnlockBatchRequestBody>(data);
    try_body::<ConsumeStats>(data);
    try_body::<ResetOffsetBody>(data);
    try_body::<SubscriptionGroupConfig>(data);
    try_body::<KVTable>(data);
    let _ = RegisterBrokerBody::decode_compressed(data, 479);
});
