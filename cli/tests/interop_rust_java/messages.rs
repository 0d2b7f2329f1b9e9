//! The messages of the Rust/Java scenarios, defined identically on the Java
//! side (interop/java/.../CrossLanguageMessages.java): message `i` from
//! `origin` ("rust" or "java") has
//! - body `"<origin> message <i> ✓ "` and `pad` bytes `x`, where pad is 5000
//!   for every tenth message (i % 10 == 9: over both clients' 4 KiB
//!   compression threshold) and (i % 7) * 13 otherwise;
//! - tag `TagA` for even i, `TagB` for odd;
//! - keys `"<origin>-key-<i> <origin>-k2-<i>"`;
//! - user properties `seq=<i>`, `origin=<origin>`, `note="héllo wörld ✓ <i>"`.

use skylark_client::Message;
use skylark_client::consumer::MessageExt;

fn pad(i: usize) -> usize {
    if i % 10 == 9 { 5000 } else { (i % 7) * 13 }
}

/// Message `i`'s body.
pub(crate) fn body(origin: &str, i: usize) -> Vec<u8> {
    format!("{origin} message {i} ✓ {}", "x".repeat(pad(i))).into_bytes()
}

/// Message `i`'s tag.
pub(crate) fn tag(i: usize) -> &'static str {
    if i % 2 == 0 { "TagA" } else { "TagB" }
}

/// Message `i`'s keys, space separated.
pub(crate) fn keys(origin: &str, i: usize) -> String {
    format!("{origin}-key-{i} {origin}-k2-{i}")
}

/// Message `i`'s user properties.
pub(crate) fn properties(origin: &str, i: usize) -> [(&'static str, String); 3] {
    [
        ("seq", i.to_string()),
        ("origin", origin.to_owned()),
        ("note", format!("héllo wörld ✓ {i}")),
    ]
}

/// Message `i` to `topic`.
pub(crate) fn make(topic: &str, origin: &str, i: usize) -> Message {
    let keys = keys(origin, i);
    let mut message = Message::new(topic, body(origin, i))
        .with_tags(tag(i))
        .with_keys(keys.split(' '));
    for (name, value) in properties(origin, i) {
        message = message.with_property(name, value);
    }
    message
}

/// What is wrong with `message` as message `i` from `origin`, if anything.
pub(crate) fn mismatch(message: &MessageExt, origin: &str, i: usize) -> Option<String> {
    let mut wrong = Vec::new();
    if message.body()[..] != body(origin, i)[..] {
        wrong.push(format!(
            "body {:?}… ({} bytes)",
            String::from_utf8_lossy(&message.body()[..message.body().len().min(40)]),
            message.body().len()
        ));
    }
    if message.tags() != Some(tag(i)) {
        wrong.push(format!("tag {:?}", message.tags()));
    }
    if message.keys() != Some(keys(origin, i).as_str()) {
        wrong.push(format!("keys {:?}", message.keys()));
    }
    for (name, value) in properties(origin, i) {
        if message.property(name) != Some(value.as_str()) {
            wrong.push(format!("property {name}={:?}", message.property(name)));
        }
    }
    (!wrong.is_empty()).then(|| format!("message {i}: {}", wrong.join(", ")))
}
