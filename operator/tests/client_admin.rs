//! ClientAdmin (the operator's broker calls over skylark-client) against a
//! real `skylark standalone`: topics and groups created, read back, changed
//! and deleted; lag, members and CommitLog offset read; an unreachable
//! broker reported with its address.

use std::collections::BTreeMap;

use skylark_operator::admin::{AdminError, BrokerAdmin, ClientAdmin, GroupSettings, TopicSettings};
use skylark_testkit::binary::skylark_binary;
use skylark_testkit::skylark::{
    Skylark, SkylarkCommand, free_ports, free_standalone_ports, start_retrying,
};

struct Broker {
    addr: String,
    _dir: tempfile::TempDir,
    _process: Skylark,
}

fn standalone() -> Broker {
    let bin = skylark_binary();
    let dir = tempfile::Builder::new()
        .prefix("skylark-operator-")
        .tempdir()
        .expect("tempdir");
    let log = dir.path().join("standalone.log");
    let data = dir.path().join("data");
    let (_, process) = start_retrying(|| {
        // The HA port too: its default (10912) would collide between tests.
        let [ha] = free_ports::<1>();
        SkylarkCommand::standalone(&bin, &data, free_standalone_ports(), &log)
            .conf([format!("haListenPort={ha}")])
    });
    Broker {
        addr: process.addr("broker"),
        _dir: dir,
        _process: process,
    }
}

fn topic(name: &str, queues: i32, perm: i32) -> TopicSettings {
    TopicSettings {
        name: name.to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm,
        order: false,
        attributes: BTreeMap::from([("message.type".to_owned(), "NORMAL".to_owned())]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_round_trip_through_a_real_broker() {
    let broker = standalone();
    let admin = ClientAdmin::start().expect("admin");
    let addr = broker.addr.as_str();

    assert_eq!(admin.topic(addr, "OperatorTopic").await, Ok(None));
    let want = topic("OperatorTopic", 4, 6);
    admin.put_topic(addr, &want).await.expect("create");
    assert_eq!(admin.topic(addr, "OperatorTopic").await, Ok(Some(want)));

    let changed = topic("OperatorTopic", 8, 4);
    admin.put_topic(addr, &changed).await.expect("update");
    assert_eq!(admin.topic(addr, "OperatorTopic").await, Ok(Some(changed)));

    admin
        .delete_topic(addr, "OperatorTopic")
        .await
        .expect("delete");
    assert_eq!(admin.topic(addr, "OperatorTopic").await, Ok(None));
    admin
        .delete_topic(addr, "OperatorTopic")
        .await
        .expect("deleting an absent topic is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_lag_members_and_offsets_from_a_real_broker() {
    let broker = standalone();
    let admin = ClientAdmin::start().expect("admin");
    let addr = broker.addr.as_str();

    let group = GroupSettings {
        name: "OperatorGroup".to_owned(),
        consume_broadcast: true,
        retry_max_times: 3,
    };
    admin.put_group(addr, &group).await.expect("create group");
    admin
        .put_group(addr, &group)
        .await
        .expect("unchanged group is fine");
    assert_eq!(admin.group_members(addr, "OperatorGroup").await, Ok(0));
    assert_eq!(admin.group_lag(addr, "OperatorGroup").await, Ok(Vec::new()));
    admin
        .delete_group(addr, "OperatorGroup")
        .await
        .expect("delete group");
    admin
        .delete_group(addr, "OperatorGroup")
        .await
        .expect("deleting an absent group is fine");

    let state = admin.broker_state(addr).await.expect("HA status");
    assert_eq!(state.role, "MASTER");
    assert!(state.commit_log_max_offset >= 0, "{state:?}");
    assert_eq!(state.in_sync_replicas, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_reported_with_its_address() {
    let [port] = free_ports::<1>();
    let addr = format!("127.0.0.1:{port}");
    let admin = ClientAdmin::start().expect("admin");
    let error = admin
        .broker_state(&addr)
        .await
        .expect_err("nothing listens");
    assert_eq!(error.unreachable_addr(), Some(addr.as_str()), "{error}");
    assert!(matches!(
        admin.put_topic(&addr, &topic("T", 1, 6)).await,
        Err(AdminError::Unreachable { .. })
    ));
}
