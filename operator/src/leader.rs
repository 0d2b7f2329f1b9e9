//! Leader election on a coordination.k8s.io Lease, so two operator replicas
//! never reconcile at once: the holder renews the Lease; another replica
//! takes it only once it has not been renewed for its whole duration.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};

/// One replica's view of the Lease.
#[derive(Debug, Clone)]
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaseLock {
    /// A lock on Lease `name` in `namespace`, held as `identity` for `duration`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            duration,
        }
    }

    /// How often the holder renews: a third of the duration.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }

    /// Takes or renews the Lease; `Ok(true)` when this replica holds it.
    /// A lost race (409 Conflict) is `Ok(false)`.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = jiff::Timestamp::now();
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let existing = self.api.get_opt(&self.name).await?;
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return conflict_is_false(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        let held_for = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(seconds)).unwrap_or(0),
        );
        let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
            let age = now.duration_since(renewed.0);
            age.is_positive() && age.unsigned_abs() > held_for
        });
        if !ours && !holder.is_empty() && !expired {
            return Ok(false);
        }
        if !ours {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(previous = %holder, "taking over the lease");
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(seconds);
        // replace carries the resourceVersion we read: a concurrent writer makes it fail with 409.
        conflict_is_false(
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await,
        )
    }
}

impl LeaseLock {
    /// Gives the Lease up if this replica holds it (holder cleared, as
    /// client-go's ReleaseOnCancel does), so another replica takes it at its
    /// next try instead of after the whole duration.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        conflict_is_false(
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await,
        )
        .map(drop)
    }
}

/// Acquires, then keeps renewing the Lease, publishing `true` on `leading`
/// once held; publishes `false` and returns when another replica took it or
/// renewal has failed for longer than the Lease lasts.
pub async fn hold(lock: LeaseLock, leading: tokio::sync::watch::Sender<bool>) {
    let mut last_renewal: Option<tokio::time::Instant> = None;
    loop {
        match lock.try_acquire_or_renew().await {
            Ok(true) => {
                last_renewal = Some(tokio::time::Instant::now());
                leading.send_replace(true);
            }
            Ok(false) if *leading.borrow() => {
                tracing::warn!("another replica holds the lease");
                leading.send_replace(false);
                return;
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "cannot renew the leader lease"),
        }
        if last_renewal.is_some_and(|t| t.elapsed() > lock.duration) {
            tracing::warn!("lease not renewed for its whole duration");
            leading.send_replace(false);
            return;
        }
        tokio::time::sleep(lock.renew_every()).await;
    }
}

fn conflict_is_false(result: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{Recorded, mock_client};

    fn lease(holder: &str, renewed: jiff::Timestamp) -> serde_json::Value {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "skylark-operator", "namespace": "ops", "resourceVersion": "7"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "renewTime": MicroTime(renewed), "leaseTransitions": 2}
        })
    }

    fn lock(client: Client) -> LeaseLock {
        LeaseLock::new(
            client,
            "ops",
            "skylark-operator",
            "me",
            Duration::from_secs(15),
        )
    }

    #[tokio::test]
    async fn creates_a_missing_lease() {
        let (client, log) = mock_client(|_: &Recorded| None);
        assert!(lock(client).try_acquire_or_renew().await.expect("lease"));
        let created = log.find("POST", "/namespaces/ops/leases");
        assert_eq!(created[0].body["spec"]["holderIdentity"], "me");
    }

    #[tokio::test]
    async fn a_fresh_lease_of_another_is_left_alone() {
        let held = lease("other", jiff::Timestamp::now());
        let (client, log) =
            mock_client(move |r: &Recorded| (r.method == "GET").then(|| (200, held.clone())));
        assert!(!lock(client).try_acquire_or_renew().await.expect("lease"));
        assert!(log.find("PUT", "/leases/skylark-operator").is_empty());
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over() {
        let stale = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
        let held = lease("other", stale);
        let (client, log) =
            mock_client(move |r: &Recorded| (r.method == "GET").then(|| (200, held.clone())));
        assert!(lock(client).try_acquire_or_renew().await.expect("lease"));
        let put = &log.find("PUT", "/leases/skylark-operator")[0];
        assert_eq!(put.body["spec"]["holderIdentity"], "me");
        assert_eq!(put.body["spec"]["leaseTransitions"], 3);
        assert_eq!(put.body["metadata"]["resourceVersion"], "7");
    }

    /// Leads once the Lease is created, and gives up when renewals keep
    /// failing for longer than the Lease lasts.
    #[tokio::test(start_paused = true)]
    async fn hold_leads_then_gives_up_when_renewal_fails() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let fresh = lease("me", jiff::Timestamp::now());
        let (client, _log) = mock_client(move |r: &Recorded| {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n >= 2 {
                // The API server goes away after the first renewal.
                return Some((
                    503,
                    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 503, "reason": "ServiceUnavailable", "message": "down", "metadata": {}}),
                ));
            }
            (r.method == "GET").then(|| (200, fresh.clone()))
        });
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(hold(lock(client), tx));
        rx.wait_for(|l| *l).await.expect("leads");
        rx.wait_for(|l| !*l).await.expect("gives up");
        task.await.expect("hold returns");
        assert!(calls.load(std::sync::atomic::Ordering::SeqCst) >= 4);
    }

    #[tokio::test]
    async fn release_clears_our_holder_only() {
        let ours = lease("me", jiff::Timestamp::now());
        let (client, log) =
            mock_client(move |r: &Recorded| (r.method == "GET").then(|| (200, ours.clone())));
        lock(client).release().await.expect("release");
        let put = &log.find("PUT", "/leases/skylark-operator")[0];
        assert!(put.body["spec"]["holderIdentity"].is_null(), "{}", put.body);
        assert_eq!(put.body["spec"]["leaseDurationSeconds"], 1);

        let theirs = lease("other", jiff::Timestamp::now());
        let (client, log) =
            mock_client(move |r: &Recorded| (r.method == "GET").then(|| (200, theirs.clone())));
        lock(client).release().await.expect("release");
        assert!(
            log.find("PUT", "").is_empty(),
            "another's lease is left alone"
        );
    }

    #[tokio::test]
    async fn a_lost_race_is_not_leadership() {
        let stale = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
        let held = lease("other", stale);
        let (client, _log) = mock_client(move |r: &Recorded| match r.method.as_str() {
            "GET" => Some((200, held.clone())),
            _ => Some((
                409,
                json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 409, "reason": "Conflict", "message": "conflict", "metadata": {}}),
            )),
        });
        assert!(!lock(client).try_acquire_or_renew().await.expect("lease"));
    }
}
