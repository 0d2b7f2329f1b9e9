//! The clients connected to this broker: producer and consumer groups
//! learned from heartbeats, expiry of silent channels, and notifying a
//! group's consumers when its membership changes.

/// Consumer groups and their connected members.
#[derive(Debug, Default)]
pub struct ConsumerManager {}

/// Producer groups and their connections.
#[derive(Debug, Default)]
pub struct ProducerManager {}
