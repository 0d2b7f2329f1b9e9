//! A scripted Kubernetes API server for the reconcilers' unit tests: kube's
//! `Client` over a tower-test mock service, every request recorded and
//! answered by a function of the test's choosing.

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request the reconciler sent.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// HTTP method.
    pub(crate) method: String,
    /// Path and query.
    pub(crate) uri: String,
    /// JSON body (Null when empty).
    pub(crate) body: Value,
}

impl Recorded {
    /// The path without the query.
    pub(crate) fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or(&self.uri)
    }
}

/// The requests seen so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<Recorded>>>);

impl Log {
    /// Every request, in order.
    pub(crate) fn all(&self) -> Vec<Recorded> {
        self.0.lock().expect("log lock").clone()
    }

    /// Requests with `method` whose path ends with `suffix`.
    pub(crate) fn find(&self, method: &str, suffix: &str) -> Vec<Recorded> {
        self.all()
            .into_iter()
            .filter(|r| r.method == method && r.path().ends_with(suffix))
            .collect()
    }

    /// Methods and paths, for assertion messages.
    pub(crate) fn summary(&self) -> String {
        self.all()
            .iter()
            .map(|r| format!("{} {}", r.method, r.uri))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The answer to one request: status code and JSON body.
pub(crate) type Answer = (u16, Value);

/// A client whose API server answers with `respond` (falling back to
/// [`default_answer`] when it returns `None`).
pub(crate) fn mock_client(
    respond: impl Fn(&Recorded) -> Option<Answer> + Send + Sync + 'static,
) -> (Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().to_string();
            let uri = request
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .expect("request body");
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("request body is JSON")
            };
            let recorded = Recorded { method, uri, body };
            let (status, answer) = respond(&recorded).unwrap_or_else(|| default_answer(&recorded));
            seen.0.lock().expect("log lock").push(recorded);
            let response = Response::builder()
                .status(status)
                .body(Body::from(
                    serde_json::to_vec(&answer).expect("answer JSON"),
                ))
                .expect("response");
            send.send_response(response);
        }
    });
    (Client::new(service, "default"), log)
}

/// What a quiet API server answers: patches and creates echo their body
/// (with a resourceVersion), lists are empty, gets are 404.
pub(crate) fn default_answer(request: &Recorded) -> Answer {
    match request.method.as_str() {
        "PATCH" | "POST" | "PUT" if request.body.is_object() => {
            let mut body = request.body.clone();
            body["metadata"]["resourceVersion"] = json!("2");
            // A status patch carries no spec; every spec here defaults from `{}`.
            if body.get("spec").is_none() && request.path().ends_with("/status") {
                body["spec"] = json!({});
            }
            (200, body)
        }
        "GET" if request.path().ends_with('s') => (
            200,
            json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}),
        ),
        _ => (
            404,
            json!({
                "apiVersion": "v1", "kind": "Status", "status": "Failure",
                "reason": "NotFound", "code": 404, "message": "not found", "metadata": {}
            }),
        ),
    }
}

/// A context over `client` and fake brokers, with test settings.
pub(crate) fn context(
    client: Client,
    admin: crate::admin::fake::FakeBrokers,
) -> std::sync::Arc<crate::controller::Context<crate::admin::fake::FakeBrokers>> {
    std::sync::Arc::new(crate::controller::Context::new(
        client,
        admin,
        crate::controller::Settings {
            broker_image: "skylark:test".to_owned(),
            namesrv_addr: Some("ns-0:9876;ns-1:9876".to_owned()),
        },
        crate::metrics::Metrics::new().expect("metrics"),
        Some("test".to_owned()),
    ))
}

/// The `status` of the last status patch sent.
pub(crate) fn last_status(log: &Log) -> Value {
    let patches = log.find("PATCH", "/status");
    let last = patches
        .last()
        .unwrap_or_else(|| panic!("no status patch in\n{}", log.summary()));
    last.body["status"].clone()
}

/// The condition of `type_` in a status JSON.
pub(crate) fn condition(status: &Value, type_: &str) -> Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or_else(|| panic!("no {type_} condition in {status}"))
}

/// Asserts that `status` is Degraded with a message naming `addr` (the
/// broker that did not answer).
pub(crate) fn assert_degraded_by(status: &Value, addr: &str) {
    let degraded = condition(status, "Degraded");
    assert_eq!(degraded["status"], "True", "{degraded}");
    assert!(
        degraded["message"]
            .as_str()
            .expect("message")
            .contains(addr),
        "{degraded}"
    );
}

/// Event reasons published, in order.
pub(crate) fn event_reasons(log: &Log) -> Vec<String> {
    log.find("POST", "/events")
        .iter()
        .map(|r| r.body["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A BrokerGroup list item whose master `<name>-0` answers at `addr`.
pub(crate) fn broker_group_with_master(name: &str, addr: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "BrokerGroup",
        "metadata": {"name": name, "namespace": "mq", "labels": labels},
        "spec": {},
        "status": {
            "master": format!("{name}-0"),
            "brokers": [{"pod": format!("{name}-0"), "role": "master", "ready": true, "address": addr}]
        }
    })
}

/// Answers the BrokerGroup list of namespace `mq` with `items`, and a JSON
/// patch (the finalizer's) of `object_path` with `object` as patched.
pub(crate) fn with_groups(
    items: Vec<Value>,
    object_path: &'static str,
    object: Value,
) -> impl Fn(&Recorded) -> Option<Answer> + Send + Sync + 'static {
    move |r: &Recorded| {
        if r.method == "GET" && r.path() == "/apis/skylark.io/v1alpha1/namespaces/mq/brokergroups" {
            return Some((
                200,
                json!({"apiVersion": "skylark.io/v1alpha1", "kind": "BrokerGroupList", "metadata": {}, "items": items}),
            ));
        }
        if r.method == "PATCH" && r.path() == object_path && r.body.is_array() {
            let mut patched = object.clone();
            for op in r.body.as_array().into_iter().flatten() {
                if op["op"] == "add" && op["path"] == "/metadata/finalizers" {
                    patched["metadata"]["finalizers"] = op["value"].clone();
                }
                if op["op"] == "remove" {
                    patched["metadata"]["finalizers"] = json!([]);
                }
            }
            return Some((200, patched));
        }
        None
    }
}
