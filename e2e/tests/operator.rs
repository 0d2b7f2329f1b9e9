//! The operator on a real control plane, installed with its Helm chart: one
//! cluster, the steps of a broker group's life in order (each logs what it
//! checks). Real processes throughout: nameservers, brokers and the operator
//! run as pods of the node agent; messages go through the Rust client.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod operator_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use skylark_client::admin::Admin;
use skylark_e2e::pods::{container_pid, is_ready, restart_count, wait_for_pod, wait_ready};
use skylark_e2e::{Cluster, ClusterOptions, helm, wait_for_object, wait_until};
use skylark_operator::crd::{BrokerGroup, ConsumerGroup, Topic};

use operator_support::messages::{self, Placement};
use operator_support::status::{
    commit_log_offset, holder, master_addr, roles, wait_list, wait_offset, wait_ready_resource,
};

const NS: &str = "skylark-e2e";
/// The release name; the chart's resources are then named `skylark-*`.
const RELEASE: &str = "skylark";
const BG: &str = "bg";
const TOPIC: &str = "e2e-orders";
const GROUP: &str = "e2e-billing";
const MESSAGES: usize = 10_000;
const LONG: Duration = Duration::from_secs(180);

fn step(text: &str) {
    eprintln!("\n=== {text}");
}

fn check(text: &str) {
    eprintln!("  ok: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_runs_a_broker_group_end_to_end() -> anyhow::Result<()> {
    if skylark_e2e::skip_requested() {
        return Ok(());
    }
    let mut options = ClusterOptions::default();
    options.images.push((
        "skylark-operator".into(),
        skylark_e2e::binaries::workspace_binary("skylark-operator", "skylark-operator")?,
    ));
    let cluster = Cluster::start_with(options).await?;
    let result = scenario(&cluster).await;
    if result.is_err() {
        eprintln!(
            "cluster folder: {} (SKYLARK_E2E_KEEP=1 keeps it; pod logs under node/pods/)",
            cluster.dir().display()
        );
        operator_support::diagnose(&cluster, NS).await;
    }
    result
}

async fn scenario(cluster: &Cluster) -> anyhow::Result<()> {
    let namesrv = install_chart(cluster)
        .await
        .context("step 1: helm install")?;
    let sent = create_resources_and_messages(cluster, &namesrv)
        .await
        .context("steps 2-3: resources, produce and consume")?;
    scale_up(cluster, &namesrv)
        .await
        .context("step 4: scale up")?;
    rolling_update(cluster, &namesrv)
        .await
        .context("step 5: rolling update")?;
    kill_broker(cluster, &namesrv, &sent)
        .await
        .context("step 8 (run before the topic goes): SIGKILL a broker")?;
    delete_topic(cluster, &namesrv)
        .await
        .context("step 6: delete the topic")?;
    invalid_spec(cluster).await.context("step 7: invalid spec")
}

// ---------------------------------------------------------------- step 1

/// Installs the chart; waits for the operator (2 replicas, one leader) and the
/// nameservers; returns the nameserver address list (pod IPs, `;`-separated).
async fn install_chart(cluster: &Cluster) -> anyhow::Result<String> {
    step("1. helm install the chart: CRDs, operator (2 replicas, leader election), 2 nameservers");
    cluster.create_namespace(NS).await?;
    let chart = helm::chart_dir("skylark");
    let out = helm::run(
        cluster.kubeconfig(),
        &[
            "install",
            RELEASE,
            chart.to_str().unwrap(),
            "--namespace",
            NS,
            "--set",
            "image.repository=skylark",
            "--set",
            "operator.image.repository=skylark-operator",
            "--set",
            "operator.replicas=2",
            "--set",
            "operator.leaderElection.enabled=true",
        ],
    )?;
    check(&format!(
        "helm install: {}",
        out.lines().find(|l| l.starts_with("STATUS")).unwrap_or("?")
    ));

    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let nameservers = [
        format!("{RELEASE}-nameserver-0"),
        format!("{RELEASE}-nameserver-1"),
    ];
    let mut addrs = Vec::new();
    for name in &nameservers {
        let pod = wait_ready(&pods, name, LONG).await?;
        let ip = pod.status.and_then(|s| s.pod_ip).context("no pod IP")?;
        addrs.push(format!("{ip}:9876"));
    }
    check(&format!("nameservers Ready at {addrs:?}"));

    let selector = "app.kubernetes.io/name=skylark-operator";
    let operators = wait_list(&pods, selector, "2 Ready operator pods", |ps| {
        ps.iter().filter(|p| is_ready(p)).count() == 2
    })
    .await?;
    let names: Vec<String> = operators
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    check(&format!("operator pods Ready: {names:?}"));

    let leases: Api<Lease> = Api::namespaced(cluster.client(), NS);
    let lease_name = format!("{RELEASE}-operator");
    let lease = wait_for_object(&leases, &lease_name, "a holder", LONG, |l| {
        holder(l).is_some_and(|h| names.contains(&h))
    })
    .await?;
    let leader = holder(&lease).unwrap_or_default();
    check(&format!(
        "Lease {lease_name} held by {leader} (the other replica waits)"
    ));

    // The leader goes (it gives the Lease up on SIGTERM): another replica —
    // the standby or the Deployment's replacement, whichever asks first —
    // takes it over, and the rest of the test runs under that one.
    pods.delete(&leader, &DeleteParams::default()).await?;
    let lease = wait_for_object(&leases, &lease_name, "another holder", LONG, |l| {
        holder(l).is_some_and(|h| !h.is_empty() && h != leader)
    })
    .await?;
    let new_leader = holder(&lease).unwrap_or_default();
    let pod = pods.get_opt(&new_leader).await?;
    ensure!(
        pod.is_some_and(|p| p.metadata.deletion_timestamp.is_none()),
        "the Lease went to {new_leader}, which is not a live operator pod"
    );
    check(&format!(
        "leader {leader} deleted; {new_leader} took the Lease over"
    ));
    wait_list(&pods, selector, "2 Ready operator pods again", |ps| {
        ps.iter()
            .filter(|p| is_ready(p) && p.metadata.deletion_timestamp.is_none())
            .count()
            == 2
    })
    .await?;
    check("the Deployment replaced it: 2 operator pods Ready");
    Ok(addrs.join(";"))
}

// ---------------------------------------------------------------- steps 2-3

async fn create_resources_and_messages(
    cluster: &Cluster,
    namesrv: &str,
) -> anyhow::Result<std::collections::HashMap<String, Placement>> {
    step("2. BrokerGroup (2 replicas), Topic and ConsumerGroup become Ready");
    let client = cluster.client();
    let bgs: Api<BrokerGroup> = Api::namespaced(client.clone(), NS);
    let bg: BrokerGroup = serde_json::from_value(json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "BrokerGroup",
        "metadata": {"name": BG},
        // 64 MiB CommitLog files: each broker reserves the disk of its
        // current file (and of the next once half written); 1 GiB ones
        // would put GBs on the test machine's disk.
        "spec": {"replicas": 2, "replicationMode": "async", "flushMode": "async",
                 "storage": {"size": "1Gi"},
                 "config": {"mappedFileSizeCommitLog": "67108864"}},
    }))?;
    bgs.create(&PostParams::default(), &bg).await?;
    let bg = wait_ready_resource(&bgs, BG, |b| b.status.as_ref().map(|s| &s.conditions)).await?;
    let status = bg.status.clone().unwrap_or_default();
    ensure!(
        status.master.as_deref() == Some("bg-0"),
        "master {:?}",
        status.master
    );
    ensure!(status.ready_replicas == 2, "{status:?}");
    check(&format!(
        "BrokerGroup Ready (generation {:?}), master {:?}, roles {:?}",
        bg.metadata.generation,
        status.master,
        roles(&bg)
    ));

    let topics: Api<Topic> = Api::namespaced(client.clone(), NS);
    let topic: Topic = serde_json::from_value(json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "Topic",
        "metadata": {"name": TOPIC},
        "spec": {"readQueueNums": 4, "writeQueueNums": 4},
    }))?;
    topics.create(&PostParams::default(), &topic).await?;
    let topic =
        wait_ready_resource(&topics, TOPIC, |t| t.status.as_ref().map(|s| &s.conditions)).await?;
    ensure!(
        topic
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "skylark.io/topic"),
        "no finalizer on {:?}",
        topic.metadata
    );
    check("Topic Ready, finalizer skylark.io/topic set");

    let groups: Api<ConsumerGroup> = Api::namespaced(client.clone(), NS);
    let group: ConsumerGroup = serde_json::from_value(json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "ConsumerGroup",
        "metadata": {"name": GROUP},
        "spec": {"retryMaxTimes": 3},
    }))?;
    groups.create(&PostParams::default(), &group).await?;
    wait_ready_resource(&groups, GROUP, |g| g.status.as_ref().map(|s| &s.conditions)).await?;
    check("ConsumerGroup Ready");

    let admin = Admin::start(messages::client(namesrv, "e2e-admin"))?;
    let master = master_addr(&bgs).await?;
    let configs = admin.all_topic_configs(&master).await?;
    let tc = configs
        .topic_config_table
        .get(TOPIC)
        .with_context(|| format!("{TOPIC} not on the master {master}"))?;
    ensure!(
        tc.read_queue_nums == 4 && tc.write_queue_nums == 4,
        "{tc:?}"
    );
    let groups_on_broker = admin.group_configs(&master).await?;
    ensure!(
        groups_on_broker
            .subscription_group_table
            .contains_key(GROUP),
        "{GROUP} not on the master"
    );
    check(&format!(
        "master {master} has the topic (4/4 queues) and the subscription group"
    ));
    wait_until("the topic's route at the nameservers", LONG, || async {
        Ok(admin
            .topic_route(TOPIC)
            .await
            .is_ok_and(|r| r.queue_datas.iter().any(|q| q.write_queue_nums == 4)))
    })
    .await?;
    admin.shutdown();

    step("3. produce 10,000 messages and consume them all, in order per queue");
    let started = std::time::Instant::now();
    let sent = messages::produce(namesrv, TOPIC, MESSAGES, 8).await?;
    check(&format!(
        "sent {} messages in {:.1?} over {} queues",
        sent.len(),
        started.elapsed(),
        sent.values()
            .map(|p| p.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    ));
    let started = std::time::Instant::now();
    let n = messages::consume_all(namesrv, GROUP, TOPIC, &sent, LONG).await?;
    check(&format!(
        "consumed {n} in {:.1?}: each key once, at the queue/offset its send returned, offsets strictly increasing per queue",
        started.elapsed()
    ));
    Ok(sent)
}

// ---------------------------------------------------------------- step 4

async fn scale_up(cluster: &Cluster, namesrv: &str) -> anyhow::Result<()> {
    step("4. scale the BrokerGroup to 3 through /scale; bg-2 joins as a replica");
    let client = cluster.client();
    let bgs: Api<BrokerGroup> = Api::namespaced(client.clone(), NS);
    let scale = bgs
        .patch_scale(
            BG,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await?;
    check(&format!(
        "/scale accepted: spec.replicas {:?}",
        scale.spec.and_then(|s| s.replicas)
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let pod = wait_ready(&pods, "bg-2", LONG).await?;
    let ip = pod
        .status
        .and_then(|s| s.pod_ip)
        .context("bg-2 has no IP")?;
    check(&format!("pod bg-2 Ready at {ip}"));
    let bg = wait_for_object(
        &bgs,
        BG,
        "Ready at its generation with 3 ready replicas and bg-2 a replica",
        LONG,
        |b| {
            let s = b.status.clone().unwrap_or_default();
            s.ready_replicas == 3
                && s.replicas == 3
                && roles(b).get("bg-2").is_some_and(|r| r == "replica")
                && s.conditions.iter().any(|c| {
                    c.type_ == "Ready"
                        && c.status == "True"
                        && c.observed_generation == b.metadata.generation
                })
        },
    )
    .await?;
    check(&format!("BrokerGroup status roles {:?}", roles(&bg)));

    let admin = Admin::start(messages::client(namesrv, "e2e-admin-scale"))?;
    let want = format!("{ip}:10911");
    wait_until("bg-2 registered as brokerId 2", LONG, || async {
        // A nameserver that does not answer yet is retried, not fatal.
        let info = admin.cluster_info().await.ok();
        Ok(info.is_some_and(|i| {
            i.broker_addr_table
                .get(BG)
                .is_some_and(|b| b.broker_addrs.get(&2) == Some(&want))
        }))
    })
    .await?;
    admin.shutdown();
    check(&format!(
        "nameserver lists broker {BG} id 2 at {want} (a replica)"
    ));
    Ok(())
}

// ---------------------------------------------------------------- step 5

async fn rolling_update(cluster: &Cluster, namesrv: &str) -> anyhow::Result<()> {
    step("5. a broker config override rolls the pods one at a time, replicas first, master last");
    let client = cluster.client();
    let bgs: Api<BrokerGroup> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let offset_before = commit_log_offset(&bgs.get(BG).await?, "bg-0");
    let mut old_uids = BTreeMap::new();
    for name in ["bg-0", "bg-1", "bg-2"] {
        old_uids.insert(name.to_owned(), pods.get(name).await?.metadata.uid);
    }

    // Every transition of the broker pods, in the order the API server reports them.
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let watch = {
        let log = log.clone();
        let pods = pods.clone();
        tokio::spawn(async move {
            let mut terminating = std::collections::HashSet::new();
            let mut known = std::collections::HashSet::new();
            let mut stream = watcher(pods, watcher::Config::default()).boxed();
            while let Some(ev) = stream.next().await {
                let (pod, deleted) = match ev {
                    Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => (p, false),
                    Ok(watcher::Event::Delete(p)) => (p, true),
                    _ => continue,
                };
                let name = pod.metadata.name.clone().unwrap_or_default();
                if !name.starts_with("bg-") {
                    continue;
                }
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                let mut log = log.lock().unwrap();
                if known.insert(uid.clone()) {
                    log.push(format!("create {name}"));
                }
                if (deleted || pod.metadata.deletion_timestamp.is_some())
                    && terminating.insert(uid.clone())
                {
                    log.push(format!("delete {name}"));
                }
            }
        })
    };
    // Let the watch list what exists before anything changes.
    wait_until("the pod watch to start", LONG, || async {
        Ok(log.lock().unwrap().len() >= 3)
    })
    .await?;
    log.lock().unwrap().clear();

    let patched = bgs
        .patch(
            BG,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"config": {"fileReservedTime": "96"}}})),
        )
        .await?;
    let generation = patched.metadata.generation;
    check(&format!(
        "spec.config.fileReservedTime=96 (generation {generation:?})"
    ));

    let uids = old_uids.clone();
    wait_until(
        "every broker pod replaced and Ready",
        Duration::from_secs(420),
        || async {
            for (name, old) in &uids {
                match pods.get_opt(name).await? {
                    Some(p) if p.metadata.uid != *old && is_ready(&p) => {}
                    _ => return Ok(false),
                }
            }
            Ok(true)
        },
    )
    .await?;
    let bg = wait_ready_resource(&bgs, BG, |b| b.status.as_ref().map(|s| &s.conditions)).await?;
    watch.abort();
    let log = log.lock().unwrap().clone();
    check(&format!("pod events in order: {log:?}"));
    let deletions: Vec<&str> = log
        .iter()
        .filter_map(|l| l.strip_prefix("delete "))
        .collect();
    ensure!(
        deletions == ["bg-2", "bg-1", "bg-0"],
        "pods were replaced in the order {deletions:?}, not replicas first (bg-2, bg-1) then the master bg-0: {log:?}"
    );
    // One at a time: each pod is back before the next one goes.
    let pos = |l: &str| log.iter().position(|x| x == l).unwrap_or(usize::MAX);
    ensure!(
        pos("create bg-2") < pos("delete bg-1") && pos("create bg-1") < pos("delete bg-0"),
        "pods rolled concurrently: {log:?}"
    );
    check("replaced one at a time: bg-2, bg-1, then the master bg-0");
    ensure!(
        bg.status.as_ref().and_then(|s| s.master.as_deref()) == Some("bg-0"),
        "master after the roll: {:?}",
        bg.status
    );

    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let s = sts.get(BG).await?.status.context("no StatefulSet status")?;
    ensure!(
        s.updated_replicas == Some(3) && s.current_revision == s.update_revision,
        "StatefulSet not fully rolled: {s:?}"
    );
    let admin = Admin::start(messages::client(namesrv, "e2e-admin-roll"))?;
    let master = master_addr(&bgs).await?;
    let config = admin.broker_config(&master).await?;
    admin.shutdown();
    ensure!(
        config.get("fileReservedTime").map(String::as_str) == Some("96"),
        "the master runs fileReservedTime={:?}",
        config.get("fileReservedTime")
    );
    check(&format!("the new master {master} runs fileReservedTime=96"));
    let after = wait_offset(&bgs, "bg-0", offset_before).await?;
    check(&format!(
        "bg-0's CommitLog offset {after} >= {offset_before:?} before the roll (its volume was kept)"
    ));
    Ok(())
}

// ---------------------------------------------------------------- step 8

async fn kill_broker(
    cluster: &Cluster,
    namesrv: &str,
    sent: &std::collections::HashMap<String, Placement>,
) -> anyhow::Result<()> {
    step("8. SIGKILL the master broker; the container restarts with its data");
    let client = cluster.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let bgs: Api<BrokerGroup> = Api::namespaced(client.clone(), NS);
    let offset_before = commit_log_offset(&bgs.get(BG).await?, "bg-0");
    let pod = pods.get("bg-0").await?;
    let restarts = restart_count(&pod, "broker");
    let pid = container_pid(&pod, "broker").context("bg-0's broker is not running")?;
    // SAFETY: kill(2) on a process id the node agent reported; no memory is touched.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    ensure!(rc == 0, "kill {pid}: {}", std::io::Error::last_os_error());
    check(&format!(
        "SIGKILL to pid {pid} (restartCount {restarts}, CommitLog offset {offset_before:?})"
    ));
    let uid = pod.metadata.uid.clone();
    let pod = wait_for_pod(&pods, "bg-0", "restarted and Ready", LONG, |p| {
        restart_count(p, "broker") == restarts + 1 && is_ready(p)
    })
    .await?;
    ensure!(
        pod.metadata.uid == uid,
        "the pod was replaced, not restarted"
    );
    check(&format!(
        "same pod, restartCount {}, Ready again",
        restart_count(&pod, "broker")
    ));
    let after = wait_offset(&bgs, "bg-0", offset_before).await?;
    check(&format!(
        "CommitLog offset {after} >= {offset_before:?} before the kill (not reset)"
    ));
    let n = messages::consume_all(namesrv, "e2e-after-kill", TOPIC, sent, LONG).await?;
    check(&format!(
        "a new group consumed all {n} messages sent before the kill, each once, in order per queue"
    ));
    Ok(())
}

// ---------------------------------------------------------------- step 6

async fn delete_topic(cluster: &Cluster, namesrv: &str) -> anyhow::Result<()> {
    step("6. delete the Topic: gone from the brokers and the nameservers, finalizer released");
    let client = cluster.client();
    let topics: Api<Topic> = Api::namespaced(client.clone(), NS);
    let bgs: Api<BrokerGroup> = Api::namespaced(client.clone(), NS);
    topics.delete(TOPIC, &DeleteParams::default()).await?;
    wait_until("the Topic object to be gone", LONG, || async {
        Ok(topics.get_opt(TOPIC).await?.is_none())
    })
    .await?;
    check("Topic object deleted (the operator released its finalizer)");
    let admin = Admin::start(messages::client(namesrv, "e2e-admin-delete"))?;
    let master = master_addr(&bgs).await?;
    let configs = admin.all_topic_configs(&master).await?;
    ensure!(
        !configs.topic_config_table.contains_key(TOPIC),
        "{TOPIC} still on the master {master}"
    );
    check(&format!(
        "{TOPIC} absent from the master {master}'s topic configs"
    ));
    // Replicas copy the master's topic table; they drop it too.
    let replicas: Vec<String> = bgs
        .get(BG)
        .await?
        .status
        .iter()
        .flat_map(|s| &s.brokers)
        .filter(|b| b.role == "replica")
        .filter_map(|b| b.address.clone())
        .collect();
    ensure!(replicas.len() == 2, "replica addresses {replicas:?}");
    for addr in &replicas {
        wait_until(
            &format!("{TOPIC} gone from replica {addr}"),
            LONG,
            || async {
                Ok(admin
                    .all_topic_configs(addr)
                    .await
                    .is_ok_and(|c| !c.topic_config_table.contains_key(TOPIC)))
            },
        )
        .await?;
    }
    check(&format!("absent from the replicas {replicas:?} too"));
    wait_until("the topic gone from the nameservers", LONG, || async {
        let listed = admin.topic_list().await.map_or(true, |l| l.contains(TOPIC));
        Ok(!listed && admin.topic_route(TOPIC).await.is_err())
    })
    .await?;
    admin.shutdown();
    check("absent from the nameservers' topic list; its route is refused");
    Ok(())
}

// ---------------------------------------------------------------- step 7

async fn invalid_spec(cluster: &Cluster) -> anyhow::Result<()> {
    step(
        "7. a BrokerGroup overriding brokerRole (the operator's key): Ready=False InvalidSpec, a Warning event",
    );
    let client = cluster.client();
    let bgs: Api<BrokerGroup> = Api::namespaced(client.clone(), NS);
    let bad: BrokerGroup = serde_json::from_value(json!({
        "apiVersion": "skylark.io/v1alpha1", "kind": "BrokerGroup",
        "metadata": {"name": "bad"},
        "spec": {"replicas": 1, "config": {"brokerRole": "SLAVE"}},
    }))?;
    bgs.create(&PostParams::default(), &bad).await?;
    check("accepted at admission (the schema cannot know the operator's keys)");
    let bad = wait_for_object(&bgs, "bad", "Ready=False reason InvalidSpec", LONG, |b| {
        b.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Ready"
                    && c.status == "False"
                    && c.reason == "InvalidSpec"
                    && c.observed_generation == b.metadata.generation
            })
        })
    })
    .await?;
    let message = bad
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    ensure!(message.contains("brokerRole"), "message {message:?}");
    check(&format!("Ready=False, InvalidSpec: {message}"));

    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().fields("involvedObject.name=bad");
    wait_until("a Warning InvalidSpec event about bad", LONG, || async {
        Ok(events.list(&lp).await?.items.iter().any(|e| {
            e.reason.as_deref() == Some("InvalidSpec")
                && e.type_.as_deref() == Some("Warning")
                && e.involved_object.kind.as_deref() == Some("BrokerGroup")
        }))
    })
    .await?;
    check("Event: Warning InvalidSpec on BrokerGroup bad");
    let sts: Api<StatefulSet> = Api::namespaced(client, NS);
    ensure!(
        sts.get_opt("bad").await?.is_none(),
        "a StatefulSet was made for an invalid spec"
    );
    check("no StatefulSet made for it");
    Ok(())
}
