//! Running a broker: binding its ports, background tasks, registration,
//! graceful shutdown.

/// A running broker.
#[derive(Debug)]
pub struct BrokerHandle {}
