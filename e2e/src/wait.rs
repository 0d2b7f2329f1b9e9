//! Polling with a deadline, for conditions a test awaits.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Calls `check` every 200 ms until it returns `Ok(true)`; an error from it
/// ends the wait at once, `timeout` ends it with [`Error::Timeout`].
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until object `name` exists and satisfies `pred`; returns it. The
/// timeout's error names `what` and, for diagnosis, shows the last state seen.
pub async fn wait_for_object<K>(
    api: &kube::Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        let seen = api.get_opt(name).await?;
        if let Some(obj) = &seen
            && pred(obj)
        {
            return Ok(obj.clone());
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!("{name}: {what} (last seen: {seen:?})"),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
