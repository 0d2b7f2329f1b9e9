//! broker.conf of a BrokerGroup and the start script that adds what depends
//! on the pod's ordinal; and the spec checks that come before both.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::crd::{BrokerGroupSpec, FlushMode, ReplicationMode};

/// Remoting port of every broker pod (listenPort).
pub const LISTEN_PORT: i32 = 10911;
/// Fast (VIP) port, listenPort − 2 as RocketMQ derives it.
pub const FAST_PORT: i32 = 10909;
/// Replication port (haListenPort).
pub const HA_PORT: i32 = 10912;
/// /metrics, /healthz, /readyz (httpListenPort).
pub const HTTP_PORT: i32 = 8080;
/// Where the volume claim is mounted.
pub const DATA_DIR: &str = "/var/lib/skylark";
/// Where the ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/skylark";
/// Where the start script writes the pod's own broker.conf (an emptyDir).
pub const RUN_DIR: &str = "/run/skylark";

/// broker.conf keys the operator sets itself; an override of one is refused.
pub const OWNED_KEYS: &[&str] = &[
    "brokerClusterName",
    "brokerName",
    "brokerId",
    "brokerRole",
    "brokerIP1",
    "listenHost",
    "listenPort",
    "fastListenPort",
    "haListenPort",
    "httpListenPort",
    "haMasterAddress",
    "namesrvAddr",
    "storePathRootDir",
    "flushDiskType",
    "brokerConfigPath",
];

/// Checks what the CRD schema cannot; `Err` is the message for the status.
pub fn validate(spec: &BrokerGroupSpec, namesrv_addr: Option<&str>) -> Result<(), String> {
    if spec.replicas < 1 {
        return Err(format!(
            "replicas is {}; at least 1 is needed",
            spec.replicas
        ));
    }
    if namesrv_addr.is_none_or(|a| a.trim().is_empty()) {
        return Err(
            "no nameserver: set spec.nameServer.address or start the operator with --namesrv-addr"
                .to_owned(),
        );
    }
    if let Some(addr) = namesrv_addr
        && has_line_break(addr)
    {
        return Err("spec.nameServer.address has a line break".to_owned());
    }
    validate_quantity(&spec.storage.size)
        .map_err(|why| format!("storage.size {:?} {why}", spec.storage.size))?;
    for (key, value) in &spec.config {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err(format!("config key {key:?} is not a broker.conf key"));
        }
        if OWNED_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "config key {key} is set by the operator; use the BrokerGroup's fields instead"
            ));
        }
        if has_line_break(value) {
            return Err(format!("config value of {key} has a line break"));
        }
    }
    Ok(())
}

fn has_line_break(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

/// A Kubernetes quantity as a volume size: digits, an optional fraction, an
/// optional binary or decimal suffix, and more than zero.
fn validate_quantity(q: &str) -> Result<(), &'static str> {
    const SUFFIXES: &[&str] = &[
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
    ];
    let digits_end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(digits_end);
    if number.is_empty() || number.matches('.').count() > 1 || number == "." {
        return Err("is not a quantity such as 10Gi");
    }
    if !SUFFIXES.contains(&suffix) {
        return Err("has an unknown suffix (use Ki, Mi, Gi, Ti or k, M, G, T)");
    }
    if number.chars().all(|c| c == '0' || c == '.') {
        return Err("must be more than zero");
    }
    Ok(())
}

/// The shared broker.conf: everything but the per-ordinal keys.
pub fn broker_conf(name: &str, spec: &BrokerGroupSpec, namesrv_addr: &str) -> String {
    let flush = match spec.flush_mode {
        FlushMode::Sync => "SYNC_FLUSH",
        FlushMode::Async => "ASYNC_FLUSH",
    };
    let mut keys: BTreeMap<&str, String> = BTreeMap::new();
    keys.insert("brokerClusterName", spec.cluster_name.clone());
    keys.insert("brokerName", name.to_owned());
    keys.insert("namesrvAddr", namesrv_addr.trim().to_owned());
    keys.insert("listenHost", "0.0.0.0".to_owned());
    keys.insert("listenPort", LISTEN_PORT.to_string());
    keys.insert("fastListenPort", FAST_PORT.to_string());
    keys.insert("haListenPort", HA_PORT.to_string());
    keys.insert("httpListenPort", HTTP_PORT.to_string());
    keys.insert("flushDiskType", flush.to_owned());
    keys.insert("storePathRootDir", format!("{DATA_DIR}/store"));
    let mut out = String::from(
        "# Rendered by skylark-operator from the BrokerGroup; edits are overwritten.\n\
         # brokerId, brokerRole, brokerIP1 and haMasterAddress are added per pod by start.sh.\n",
    );
    for (key, value) in &keys {
        let _ = writeln!(out, "{key}={value}");
    }
    if !spec.config.is_empty() {
        out.push_str("# spec.config\n");
        for (key, value) in &spec.config {
            let _ = writeln!(out, "{key}={value}");
        }
    }
    out
}

/// The master's role for the replication mode.
pub fn master_role(mode: ReplicationMode) -> &'static str {
    match mode {
        ReplicationMode::Sync => "SYNC_MASTER",
        ReplicationMode::Async => "ASYNC_MASTER",
    }
}

/// The pod's start script: copies broker.conf, adds brokerId (the ordinal),
/// brokerIP1 (the pod IP), brokerRole and, on replicas, haMasterAddress
/// (ordinal 0 through the headless Service), then execs the broker.
pub fn start_script(name: &str, namespace: &str, spec: &BrokerGroupSpec) -> String {
    let master = format!(
        "{name}-0.{}.{namespace}.svc:{HA_PORT}",
        super::workload::headless_name(name)
    );
    let role = master_role(spec.replication_mode);
    format!(
        r#"#!/bin/sh
# Rendered by skylark-operator. Ordinal 0 starts as master, the others as its replicas.
set -eu
ordinal="${{POD_NAME##*-}}"
conf={RUN_DIR}/broker.conf
cp {CONFIG_DIR}/broker.conf "$conf"
{{
  echo "brokerId=$ordinal"
  echo "brokerIP1=$POD_IP"
  if [ "$ordinal" = 0 ]; then
    echo "brokerRole={role}"
  else
    echo "brokerRole=SLAVE"
    echo "haMasterAddress={master}"
  fi
}} >> "$conf"
exec skylark broker -c "$conf"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> BrokerGroupSpec {
        serde_json::from_value(json).expect("spec")
    }

    #[test]
    fn renders_broker_conf_from_the_spec() {
        let s = spec(serde_json::json!({
            "replicas": 3, "flushMode": "sync", "clusterName": "prod",
            "config": {"deleteWhen": "04", "fileReservedTime": "48"}
        }));
        let conf = broker_conf("orders", &s, "ns-0:9876;ns-1:9876");
        let lines: Vec<&str> = conf.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "brokerClusterName=prod",
                "brokerName=orders",
                "fastListenPort=10909",
                "flushDiskType=SYNC_FLUSH",
                "haListenPort=10912",
                "httpListenPort=8080",
                "listenHost=0.0.0.0",
                "listenPort=10911",
                "namesrvAddr=ns-0:9876;ns-1:9876",
                "storePathRootDir=/var/lib/skylark/store",
                "deleteWhen=04",
                "fileReservedTime=48",
            ]
        );
    }

    #[test]
    fn start_script_sets_roles_by_ordinal() {
        let s = spec(serde_json::json!({"replicationMode": "sync"}));
        let script = start_script("orders", "mq", &s);
        assert!(script.contains(r#"ordinal="${POD_NAME##*-}""#), "{script}");
        assert!(script.contains("echo \"brokerRole=SYNC_MASTER\""));
        assert!(script.contains("echo \"brokerRole=SLAVE\""));
        assert!(script.contains("haMasterAddress=orders-0.orders-headless.mq.svc:10912"));
        assert!(script.contains("exec skylark broker -c \"$conf\""));
        let async_script = start_script("orders", "mq", &spec(serde_json::json!({})));
        assert!(async_script.contains("brokerRole=ASYNC_MASTER"));
    }

    /// The script runs under a real shell and writes the per-ordinal keys.
    #[test]
    fn start_script_runs_under_sh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = start_script("orders", "mq", &spec(serde_json::json!({})))
            .replace(CONFIG_DIR, &dir.path().join("etc").display().to_string())
            .replace(RUN_DIR, &dir.path().join("run").display().to_string())
            .replace("exec skylark broker -c \"$conf\"", "cat \"$conf\"");
        std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
        std::fs::create_dir_all(dir.path().join("run")).expect("run");
        std::fs::write(dir.path().join("etc/broker.conf"), "brokerName=orders\n").expect("conf");
        for (pod, expected) in [
            (
                "orders-0",
                "brokerName=orders\nbrokerId=0\nbrokerIP1=10.1.2.3\nbrokerRole=ASYNC_MASTER\n",
            ),
            (
                "orders-2",
                "brokerName=orders\nbrokerId=2\nbrokerIP1=10.1.2.3\nbrokerRole=SLAVE\nhaMasterAddress=orders-0.orders-headless.mq.svc:10912\n",
            ),
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("POD_NAME", pod)
                .env("POD_IP", "10.1.2.3")
                .output()
                .expect("sh runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        }
    }

    #[test]
    fn refuses_owned_keys_bad_sizes_and_missing_nameserver() {
        let ok = spec(serde_json::json!({}));
        assert_eq!(validate(&ok, Some("ns:9876")), Ok(()));
        let err = validate(&ok, None).expect_err("no nameserver");
        assert!(err.contains("no nameserver"), "{err}");
        let owned = spec(serde_json::json!({"config": {"brokerRole": "SLAVE"}}));
        let err = validate(&owned, Some("ns:9876")).expect_err("owned key");
        assert!(err.contains("brokerRole is set by the operator"), "{err}");
        let newline = spec(serde_json::json!({"config": {"deleteWhen": "04\nbrokerId=3"}}));
        assert!(validate(&newline, Some("ns:9876")).is_err());
        for bad in ["ten", "10Qi", "0Gi", ""] {
            let s = spec(serde_json::json!({"storage": {"size": bad}}));
            assert!(validate(&s, Some("ns:9876")).is_err(), "{bad} accepted");
        }
        for good in ["10Gi", "500Mi", "1.5T", "1000"] {
            let s = spec(serde_json::json!({"storage": {"size": good}}));
            assert_eq!(validate(&s, Some("ns:9876")), Ok(()), "{good}");
        }
        let zero = spec(serde_json::json!({"replicas": 0}));
        assert!(validate(&zero, Some("ns:9876")).is_err());
    }
}
