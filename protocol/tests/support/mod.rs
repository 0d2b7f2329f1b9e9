//! Shared helpers for the tests that read the Java-made vectors in
//! `tests/vectors/` (see `protocol/vectors/README.md`).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::Value;

/// The vectors folder.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The bytes of a vector file, by its path relative to the vectors folder.
pub fn read_vector(file: &str) -> Vec<u8> {
    let path = vectors_dir().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A JSON file of the vectors folder.
pub fn read_json(file: &str) -> Value {
    serde_json::from_slice(&read_vector(file)).unwrap()
}

/// `manifest.json`.
pub fn manifest() -> Value {
    read_json("manifest.json")
}

/// The entries of one manifest section (`frames`, `messages`, `batches`, `bodies`).
pub fn section(name: &str) -> Vec<Value> {
    manifest()[name].as_array().unwrap().clone()
}

/// Decodes lowercase or uppercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
