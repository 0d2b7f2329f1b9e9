//! Queue locks for orderly consumption (`RebalanceLockManager`): one
//! client per group holds a queue, for 60 s unless renewed.

/// The locks of every group.
#[derive(Debug, Default)]
pub struct RebalanceLockManager {}
