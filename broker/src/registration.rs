//! Registration with every configured nameserver (`BrokerOuterAPI.registerBrokerAll`).
