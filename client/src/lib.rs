//! skylark-client: an async RocketMQ client — producer, push and lite pull
//! consumers with RocketMQ's load balancing, and the admin calls the CLI and
//! the operator use.

pub mod consumer;
