//! Status conditions as Kubernetes wants them: one per type, with
//! `lastTransitionTime` kept while the status does not change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The resource works as specified.
pub const READY: &str = "Ready";
/// The operator is moving the resource towards its spec.
pub const PROGRESSING: &str = "Progressing";
/// Part of the resource does not work (an unreachable broker, a failed call).
pub const DEGRADED: &str = "Degraded";
/// `spec.paused` is set; nothing is applied.
pub const RECONCILIATION_PAUSED: &str = "ReconciliationPaused";

/// One condition the reconciler wants, before it is merged with the old ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Condition type.
    pub type_: &'static str,
    /// True or false.
    pub status: bool,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

impl Wanted {
    /// A condition of `type_` with the given status, reason and message.
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// The new condition list: `wanted` in order, each keeping the old
/// `lastTransitionTime` when its status did not change.
pub fn merge(old: &[Condition], wanted: &[Wanted], generation: Option<i64>) -> Vec<Condition> {
    let now = Time(jiff::Timestamp::now());
    wanted
        .iter()
        .map(|w| {
            let status = if w.status { "True" } else { "False" }.to_owned();
            let since = old
                .iter()
                .find(|c| c.type_ == w.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: w.type_.to_owned(),
                status,
                reason: w.reason.clone(),
                message: w.message.clone(),
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect()
}

/// The status of condition `type_` in `conditions`, if present.
pub fn status_of<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_transition_time_while_status_is_unchanged() {
        let first = merge(&[], &[Wanted::new(READY, false, "Creating", "x")], Some(1));
        let since = first[0].last_transition_time.clone();
        let again = merge(
            &first,
            &[Wanted::new(READY, false, "Waiting", "y")],
            Some(2),
        );
        assert_eq!(again[0].last_transition_time, since);
        assert_eq!(again[0].observed_generation, Some(2));
        assert_eq!(again[0].reason, "Waiting");
        let flipped = merge(&again, &[Wanted::new(READY, true, "Ready", "z")], Some(2));
        assert_eq!(flipped[0].status, "True");
        assert_eq!(status_of(&flipped, READY), Some("True"));
    }
}
