//! skylark-operator: CRD types and controllers that turn `Topic`,
//! `BrokerGroup` and `ConsumerGroup` resources into running brokers.

pub mod crd;
