//! skylark-operator: CRD types and controllers that turn `Topic`,
//! `BrokerGroup` and `ConsumerGroup` resources into running brokers.

pub mod admin;
pub mod conditions;
pub mod controller;
pub mod crd;
pub mod http;
pub mod leader;
pub mod metrics;

#[cfg(test)]
pub(crate) mod testing;
