use std::collections::BTreeMap;

use skylark_protocol::RequestCode;
use skylark_protocol::body::DataVersion;

use super::*;
use crate::test_support::{config_in, remote};

fn call(broker: &Broker, request: &RemotingCommand) -> RemotingCommand {
    broker
        .handle_admin(remote(), request)
        .expect("an admin code")
        .expect("a response")
}

fn update(body: &str) -> RemotingCommand {
    RemotingCommand::bare_request(RequestCode::UPDATE_BROKER_CONFIG).with_body(body.to_owned())
}

/// GET_BROKER_CONFIG's properties and version.
fn get(broker: &Broker) -> (BTreeMap<String, String>, DataVersion) {
    let out = call(
        broker,
        &RemotingCommand::bare_request(RequestCode::GET_BROKER_CONFIG),
    );
    assert_eq!(out.response_code(), ResponseCode::SUCCESS);
    let h: GetBrokerConfigResponseHeader = out.read_header().unwrap();
    let version = DataVersion::decode(h.version.as_bytes()).unwrap();
    let text = String::from_utf8(out.body.to_vec()).unwrap();
    (BrokerConfig::parse_properties(&text).unwrap(), version)
}

#[test]
fn an_update_shows_in_get_and_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(config_in(dir.path())).unwrap();
    let (before, v0) = get(&broker);
    assert_eq!(before["longPollingEnable"], "true");
    assert_eq!(before["storePathRootDir"], dir.path().to_string_lossy());

    let out = call(
        &broker,
        &update("longPollingEnable=false\nshortPollingTimeMills = 250\n"),
    );
    assert_eq!(out.response_code(), ResponseCode::SUCCESS, "{out:?}");
    let (after, v1) = get(&broker);
    assert_eq!(after["longPollingEnable"], "false");
    assert_eq!(after["shortPollingTimeMills"], "250");
    assert!(v1.counter > v0.counter);
    assert!(!broker.live.long_polling_enable());
    assert_eq!(
        broker.live.short_polling_time(),
        std::time::Duration::from_millis(250)
    );
    // Everything else is as it was.
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed, ["longPollingEnable", "shortPollingTimeMills"]);
    // An empty body changes nothing and succeeds, as in Java.
    let empty = RemotingCommand::bare_request(RequestCode::UPDATE_BROKER_CONFIG);
    assert_eq!(call(&broker, &empty).response_code(), ResponseCode::SUCCESS);
}

#[test]
fn refusals_apply_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(config_in(dir.path())).unwrap();
    let (before, v0) = get(&broker);
    let cases = [
        (
            "brokerConfigPath=/tmp/x",
            ResponseCode::NO_PERMISSION,
            "black list",
        ),
        (
            "rocketmqHome=/opt",
            ResponseCode::NO_PERMISSION,
            "black list",
        ),
        (
            "longPollingEnable=false\nconfigBlackList=",
            ResponseCode::NO_PERMISSION,
            "black list",
        ),
        (
            "longPollingEnable=false\nnoSuchKey=1",
            ResponseCode::INVALID_PARAMETER,
            "unknown broker config key \"noSuchKey\"",
        ),
        (
            "longPollingEnable=false\nlistenPort=1",
            ResponseCode::INVALID_PARAMETER,
            "listenPort cannot change while the broker runs",
        ),
        (
            "fileReservedTime=1",
            ResponseCode::INVALID_PARAMETER,
            "fileReservedTime cannot change",
        ),
        (
            "longPollingEnable=maybe",
            ResponseCode::INVALID_PARAMETER,
            "longPollingEnable",
        ),
        (
            "brokerPermission=rw",
            ResponseCode::INVALID_PARAMETER,
            "brokerPermission",
        ),
    ];
    for (body, code, remark) in cases {
        let out = call(&broker, &update(body));
        assert_eq!(out.response_code(), code, "{body}: {out:?}");
        let text = out.remark.unwrap_or_default();
        assert!(text.contains(remark), "{body}: {text}");
    }
    assert_eq!(get(&broker), (before, v0));
    assert!(broker.live.long_polling_enable());
}

#[test]
fn the_configured_black_list_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.config_black_list = "slaveReadEnable".to_owned();
    let broker = Broker::open(config).unwrap();
    let out = call(&broker, &update("slaveReadEnable=true"));
    assert_eq!(out.response_code(), ResponseCode::NO_PERMISSION);
    // The fixed part of the list still holds.
    let out = call(&broker, &update("brokerConfigPath=/x"));
    assert_eq!(out.response_code(), ResponseCode::NO_PERMISSION);
}

#[test]
fn broker_permission_moves_the_topic_version_for_registration() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(config_in(dir.path())).unwrap();
    let before = broker.topics.data_version();
    let out = call(&broker, &update("brokerPermission=4"));
    assert_eq!(out.response_code(), ResponseCode::SUCCESS);
    assert_eq!(broker.live.broker_permission(), 4);
    assert!(broker.topics.data_version().counter > before.counter);
    assert_eq!(get(&broker).0["brokerPermission"], "4");
}

#[test]
fn auto_creation_switches_apply_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(config_in(dir.path())).unwrap();
    let out = call(
        &broker,
        &update("autoCreateTopicEnable=false\nautoCreateSubscriptionGroup=false"),
    );
    assert_eq!(out.response_code(), ResponseCode::SUCCESS);
    let created = broker
        .topics
        .create_in_send("NewTopic", "TBW102", remote(), 4, 0)
        .unwrap();
    assert!(created.is_none());
    assert!(broker.groups.find_or_create("NewGroup").is_none());

    call(
        &broker,
        &update("autoCreateTopicEnable=true\nautoCreateSubscriptionGroup=true"),
    );
    assert!(
        broker
            .topics
            .create_in_send("NewTopic", "TBW102", remote(), 4, 0)
            .unwrap()
            .is_some()
    );
    assert!(broker.groups.find_or_create("NewGroup").is_some());
}

#[test]
fn updates_are_saved_to_the_config_file_the_broker_started_from() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("broker.conf");
    let store = dir.path().join("store");
    std::fs::write(
        &conf,
        format!(
            "# mine\nbrokerName=broker-x\nstorePathRootDir={}\n",
            store.display()
        ),
    )
    .unwrap();
    let broker = Broker::open(BrokerConfig::load(&conf).unwrap()).unwrap();
    let out = call(&broker, &update("slaveReadEnable=true"));
    assert_eq!(out.response_code(), ResponseCode::SUCCESS, "{out:?}");

    // The whole config, as Java writes it; the old file kept as .bak.
    let saved = BrokerConfig::load(&conf).unwrap();
    assert!(saved.slave_read_enable);
    assert_eq!(saved.broker_name, "broker-x");
    assert_eq!(saved.store.store_path_root_dir, store);
    assert_eq!(
        saved.broker_config_path.as_deref(),
        Some(conf.to_str().unwrap())
    );
    let backup = std::fs::read_to_string(dir.path().join("broker.conf.bak")).unwrap();
    assert!(backup.starts_with("# mine\n"));
}

#[test]
fn without_a_config_file_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(config_in(dir.path())).unwrap();
    assert_eq!(broker.live.file_path(), None);
    let out = call(&broker, &update("slaveReadEnable=true"));
    assert_eq!(out.response_code(), ResponseCode::SUCCESS);
    assert!(get(&broker).0["slaveReadEnable"] == "true");
}
