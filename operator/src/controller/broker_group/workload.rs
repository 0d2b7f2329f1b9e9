//! The Kubernetes objects of a BrokerGroup: ConfigMap, headless and client
//! Services, StatefulSet and PodDisruptionBudget.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{
    self, CONFIG_DIR, DATA_DIR, FAST_PORT, HA_PORT, HTTP_PORT, LISTEN_PORT, RUN_DIR,
};
use crate::crd::BrokerGroupSpec;

/// Seconds a broker gets to flush and deregister before SIGKILL.
pub const TERMINATION_GRACE_SECONDS: i64 = 120;
/// The user the broker image runs as (see the Dockerfile).
pub const BROKER_UID: i64 = 10001;
/// Label naming the BrokerGroup of a pod.
pub const GROUP_LABEL: &str = "skylark.io/broker-group";
/// Annotation carrying a checksum of broker.conf, so a config change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "skylark.io/config-hash";

/// Name of the headless Service giving each pod a stable DNS name.
pub fn headless_name(group: &str) -> String {
    format!("{group}-headless")
}

/// Name of the ConfigMap.
pub fn config_map_name(group: &str) -> String {
    format!("{group}-config")
}

/// The labels of every object, and the pods' selector.
pub fn selector_labels(group: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "skylark-broker".to_owned(),
        ),
        ("app.kubernetes.io/instance".to_owned(), group.to_owned()),
        (GROUP_LABEL.to_owned(), group.to_owned()),
    ])
}

/// `selector_labels` as a label selector string (the scale subresource's).
pub fn selector_string(group: &str) -> String {
    selector_labels(group)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn labels(group: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(group);
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        "skylark-operator".to_owned(),
    );
    labels
}

/// What every object of one BrokerGroup shares.
#[derive(Debug, Clone)]
pub struct Owner {
    /// BrokerGroup name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Controller reference to it.
    pub reference: OwnerReference,
}

impl Owner {
    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels(&self.name)),
            owner_references: Some(vec![self.reference.clone()]),
            ..ObjectMeta::default()
        }
    }
}

/// The ConfigMap: broker.conf and start.sh.
pub fn config_map(owner: &Owner, spec: &BrokerGroupSpec, namesrv_addr: &str) -> ConfigMap {
    ConfigMap {
        metadata: owner.meta(config_map_name(&owner.name)),
        data: Some(BTreeMap::from([
            (
                "broker.conf".to_owned(),
                config::broker_conf(&owner.name, spec, namesrv_addr),
            ),
            (
                "start.sh".to_owned(),
                config::start_script(&owner.name, &owner.namespace, spec),
            ),
        ])),
        ..ConfigMap::default()
    }
}

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::String(name.to_owned())),
        ..ServicePort::default()
    }
}

/// The headless Service: stable pod DNS names, published before pods are
/// ready so replicas can find the master while it starts.
pub fn headless_service(owner: &Owner) -> Service {
    Service {
        metadata: owner.meta(headless_name(&owner.name)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(&owner.name)),
            ports: Some(vec![
                port("remoting", LISTEN_PORT),
                port("ha", HA_PORT),
                port("http", HTTP_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The client Service: ready brokers of the group on the remoting port.
pub fn client_service(owner: &Owner) -> Service {
    Service {
        metadata: owner.meta(owner.name.clone()),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&owner.name)),
            ports: Some(vec![port("remoting", LISTEN_PORT), port("http", HTTP_PORT)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// At most one broker of the group voluntarily down at a time.
pub fn disruption_budget(owner: &Owner) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: owner.meta(owner.name.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&owner.name)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
        ..ContainerPort::default()
    }
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// Spread the group's pods over nodes when the spec sets no affinity.
fn default_affinity(group: &str) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector_labels(group)),
                            ..LabelSelector::default()
                        }),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// The StatefulSet. Ordinal 0 is created first (OrderedReady) and starts as
/// master; RollingUpdate replaces pods one at a time from the highest ordinal
/// down, waiting for each to be ready, so replicas roll before the master.
pub fn stateful_set(
    owner: &Owner,
    spec: &BrokerGroupSpec,
    image: &str,
    config_hash: &str,
) -> StatefulSet {
    let group = &owner.name;
    let pod = spec.pod.clone().unwrap_or_default();
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        ..VolumeMount::default()
    };
    let container = Container {
        name: "broker".to_owned(),
        image: Some(image.to_owned()),
        command: Some(vec!["/bin/sh".to_owned(), format!("{CONFIG_DIR}/start.sh")]),
        env: Some(vec![
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_IP", "status.podIP"),
            EnvVar {
                name: "RUST_LOG".to_owned(),
                value: Some("info".to_owned()),
                ..EnvVar::default()
            },
        ]),
        ports: Some(vec![
            container_port("remoting", LISTEN_PORT),
            container_port("fast", FAST_PORT),
            container_port("ha", HA_PORT),
            container_port("http", HTTP_PORT),
        ]),
        readiness_probe: Some(http_probe("/readyz", 5, 3)),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            ..http_probe("/healthz", 10, 6)
        }),
        resources: spec.resources.clone(),
        volume_mounts: Some(vec![
            mount("data", DATA_DIR),
            mount("config", CONFIG_DIR),
            mount("run", RUN_DIR),
        ]),
        ..Container::default()
    };
    let mut claim_spec = PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_owned(),
                Quantity(spec.storage.size.clone()),
            )])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    };
    claim_spec.storage_class_name = spec.storage.storage_class_name.clone();
    let mut template_meta = ObjectMeta {
        labels: Some(labels(group)),
        annotations: Some(BTreeMap::from([(
            CONFIG_HASH_ANNOTATION.to_owned(),
            config_hash.to_owned(),
        )])),
        ..ObjectMeta::default()
    };
    template_meta.name = None;
    StatefulSet {
        metadata: owner.meta(group.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(spec.replicas),
            service_name: Some(headless_name(group)),
            pod_management_policy: Some("OrderedReady".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    ..RollingUpdateStatefulSetStrategy::default()
                }),
            }),
            selector: LabelSelector {
                match_labels: Some(selector_labels(group)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(PodSpec {
                    containers: vec![container],
                    termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(BROKER_UID),
                        run_as_group: Some(BROKER_UID),
                        fs_group: Some(BROKER_UID),
                        ..PodSecurityContext::default()
                    }),
                    affinity: Some(pod.affinity.unwrap_or_else(|| default_affinity(group))),
                    tolerations: (!pod.tolerations.is_empty()).then_some(pod.tolerations),
                    node_selector: (!pod.node_selector.is_empty()).then_some(pod.node_selector),
                    volumes: Some(vec![
                        Volume {
                            name: "config".to_owned(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: config_map_name(group),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "run".to_owned(),
                            empty_dir: Some(Default::default()),
                            ..Volume::default()
                        },
                    ]),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".to_owned()),
                    labels: Some(selector_labels(group)),
                    ..ObjectMeta::default()
                },
                spec: Some(claim_spec),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// A checksum of the ConfigMap's data: when it changes the pod template
/// changes, and the StatefulSet rolls.
pub fn config_hash(config_map: &ConfigMap) -> String {
    let mut hasher = crc32fast::Hasher::new();
    for (key, value) in config_map.data.iter().flatten() {
        hasher.update(key.as_bytes());
        hasher.update(&[0]);
        hasher.update(value.as_bytes());
        hasher.update(&[0]);
    }
    format!("{:08x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn owner() -> Owner {
        Owner {
            name: "orders".to_owned(),
            namespace: "mq".to_owned(),
            reference: OwnerReference {
                api_version: "skylark.io/v1alpha1".to_owned(),
                kind: "BrokerGroup".to_owned(),
                name: "orders".to_owned(),
                uid: "uid-1".to_owned(),
                controller: Some(true),
                ..OwnerReference::default()
            },
        }
    }

    fn render(spec: Value) -> Value {
        let spec: BrokerGroupSpec = serde_json::from_value(spec).expect("spec");
        serde_json::to_value(stateful_set(&owner(), &spec, "skylark:1", "abcd")).expect("json")
    }

    #[test]
    fn pod_overrides_replace_the_defaults() {
        let sts = render(json!({
            "pod": {
                "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "mq", "effect": "NoSchedule"}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
            },
            "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
        }));
        let pod = &sts["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
        assert_eq!(pod["tolerations"][0]["key"], "dedicated");
        assert!(pod["affinity"]["nodeAffinity"].is_object());
        assert!(
            pod["affinity"]["podAntiAffinity"].is_null(),
            "the spec's affinity replaces the default"
        );
        assert_eq!(
            pod["containers"][0]["resources"]["requests"]["memory"],
            "4Gi"
        );
    }

    #[test]
    fn defaults_spread_pods_and_run_as_the_image_user() {
        let sts = render(json!({}));
        let pod = &sts["spec"]["template"]["spec"];
        let term = &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            [0];
        assert_eq!(
            term["podAffinityTerm"]["topologyKey"],
            "kubernetes.io/hostname"
        );
        assert_eq!(
            term["podAffinityTerm"]["labelSelector"]["matchLabels"][GROUP_LABEL],
            "orders"
        );
        assert!(pod["tolerations"].is_null() && pod["nodeSelector"].is_null());
        assert_eq!(pod["securityContext"]["fsGroup"], BROKER_UID);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let claim = &sts["spec"]["volumeClaimTemplates"][0]["spec"];
        assert_eq!(claim["resources"]["requests"]["storage"], "10Gi");
        assert!(claim["storageClassName"].is_null());
    }

    #[test]
    fn container_wiring() {
        let sts = render(json!({}));
        let spec = &sts["spec"];
        assert_eq!(
            spec["selector"]["matchLabels"],
            json!(selector_labels("orders"))
        );
        assert_eq!(
            spec["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "skylark-operator"
        );
        assert_eq!(
            spec["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION],
            "abcd"
        );
        let c = &spec["template"]["spec"]["containers"][0];
        let ports: Vec<(&str, i64)> = c["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().expect("name"),
                    p["containerPort"].as_i64().expect("port"),
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                ("remoting", 10911),
                ("fast", 10909),
                ("ha", 10912),
                ("http", 8080)
            ]
        );
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(
            c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.name"
        );
        assert_eq!(
            c["env"][1]["valueFrom"]["fieldRef"]["fieldPath"],
            "status.podIP"
        );
        let mounts: Vec<&str> = c["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .map(|m| m["mountPath"].as_str().expect("path"))
            .collect();
        assert_eq!(mounts, [DATA_DIR, CONFIG_DIR, RUN_DIR]);
        let volumes = &spec["template"]["spec"]["volumes"];
        assert_eq!(volumes[0]["configMap"]["name"], "orders-config");
        assert!(volumes[1]["emptyDir"].is_object());
    }

    #[test]
    fn services_and_budget_select_the_group() {
        let headless = serde_json::to_value(headless_service(&owner())).expect("json");
        assert_eq!(headless["spec"]["publishNotReadyAddresses"], true);
        assert_eq!(
            headless["spec"]["selector"],
            json!(selector_labels("orders"))
        );
        let client = serde_json::to_value(client_service(&owner())).expect("json");
        assert!(client["spec"]["clusterIP"].is_null());
        assert_eq!(client["spec"]["ports"][0]["port"], 10911);
        let pdb = serde_json::to_value(disruption_budget(&owner())).expect("json");
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"],
            json!(selector_labels("orders"))
        );
        assert_eq!(
            selector_string("orders"),
            "app.kubernetes.io/instance=orders,app.kubernetes.io/name=skylark-broker,skylark.io/broker-group=orders"
        );
    }

    #[test]
    fn config_hash_follows_the_data() {
        let spec: BrokerGroupSpec = serde_json::from_value(json!({})).expect("spec");
        let a = config_map(&owner(), &spec, "ns:9876");
        let b = config_map(&owner(), &spec, "ns:9877");
        assert_eq!(config_hash(&a), config_hash(&a.clone()));
        assert_ne!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 8);
    }
}
