use std::path::PathBuf;

use skylark_store::config::{BrokerRole, FlushDiskType};

use super::*;

/// A two-group cluster's first master, in the shape of the broker.conf files
/// RocketMQ ships: comments of both kinds, `=` and `:` separators, spaces
/// around them, a Windows line end and a continued line.
const BROKER_A: &str = "\
# Cluster membership
brokerClusterName = ProdCluster
brokerName=broker-a
brokerId=0
! where clients reach it
brokerIP1=10.0.0.5
listenPort: 20911
namesrvAddr=10.0.0.1:9876;\\
            10.0.0.2:9876
deleteWhen=04
fileReservedTime=48\r
brokerRole=SYNC_MASTER
flushDiskType=SYNC_FLUSH
storePathRootDir=/data/rocketmq/store
storePathCommitLog=/data/rocketmq/store/commitlog
autoCreateTopicEnable=false
mappedFileSizeCommitLog=1073741824
checkCRCOnRecover=false
# keys Skylark does not read are ignored
sendMessageThreadPoolNums=16
transientStorePoolEnable=true
";

#[test]
fn parses_a_real_broker_conf() {
    let c = BrokerConfig::from_properties(BROKER_A).unwrap();
    assert_eq!(c.broker_cluster_name, "ProdCluster");
    assert_eq!(c.broker_name, "broker-a");
    assert_eq!(c.broker_id, 0);
    assert_eq!(c.broker_ip1, "10.0.0.5");
    assert_eq!(c.listen_port, 20911);
    assert_eq!(c.fast_port(), 20909);
    assert_eq!(c.namesrv_addrs(), ["10.0.0.1:9876", "10.0.0.2:9876"]);
    assert!(!c.auto_create_topic_enable);
    // Untouched keys keep RocketMQ's defaults.
    assert_eq!(c.default_topic_queue_nums, 8);
    assert!(c.long_polling_enable);
    let s = &c.store;
    assert_eq!(s.delete_when, "04");
    assert_eq!(s.file_reserved_time, 48);
    assert_eq!(s.broker_role, BrokerRole::SyncMaster);
    assert_eq!(s.flush_disk_type, FlushDiskType::SyncFlush);
    assert_eq!(s.store_path_root_dir, PathBuf::from("/data/rocketmq/store"));
    assert_eq!(
        s.commit_log_dir(),
        PathBuf::from("/data/rocketmq/store/commitlog")
    );
    assert_eq!(s.mapped_file_size_commit_log, 1 << 30);
    assert_eq!(s.max_message_size, 4 * 1024 * 1024);
    assert!(!s.check_crc_on_recover);
}

#[test]
fn escapes_trimming_and_case() {
    let c = BrokerConfig::from_properties(
        "brokerName = broker\\u002db  \nlongPollingEnable=FALSE\nregionId:  east\\ 1 \nlistenPort = 10921 \n",
    )
    .unwrap();
    assert_eq!(c.broker_name, "broker-b");
    assert!(!c.long_polling_enable);
    assert_eq!(c.region_id, "east 1");
    assert_eq!(c.listen_port, 10921);
}

#[test]
fn empty_text_is_all_defaults() {
    let c = BrokerConfig::from_properties("# nothing\n\n").unwrap();
    assert_eq!(c, BrokerConfig::default());
    assert_eq!(c.fast_port(), DEFAULT_LISTEN_PORT - 2);
    assert_eq!(c.flush_consumer_offset_period(), Duration::from_secs(5));
}

#[test]
fn malformed_values_name_their_key() {
    for (text, key) in [
        ("listenPort=70000", "listenPort"),
        ("brokerId=one", "brokerId"),
        ("autoCreateTopicEnable=yes", "autoCreateTopicEnable"),
        ("flushDiskType=SOMETIMES", "flushDiskType"),
        ("mappedFileSizeCommitLog=-1", "mappedFileSizeCommitLog"),
    ] {
        let err = BrokerConfig::from_properties(text).unwrap_err();
        assert!(
            matches!(&err, BrokerError::Config(msg) if msg.contains(key)),
            "{text}: {err}"
        );
    }
}

#[test]
fn empty_optional_values_are_unset() {
    let c =
        BrokerConfig::from_properties("namesrvAddr=\nlistenHost=  \nstorePathCommitLog=").unwrap();
    assert_eq!((c.namesrv_addr, c.listen_host), (None, None));
    assert_eq!(c.store.store_path_commit_log, None);
}

#[test]
fn set_overrides_one_key_of_either_struct() {
    let mut c = BrokerConfig::from_properties(BROKER_A).unwrap();
    c.set("listenPort", "30911").unwrap();
    c.set("storePathRootDir", "/tmp/s").unwrap();
    c.set("namesrvAddr", "127.0.0.1:9876").unwrap();
    c.set("fastListenPort", "30000").unwrap();
    assert_eq!(c.listen_port, 30911);
    assert_eq!(c.fast_port(), 30000);
    assert_eq!(c.store.store_path_root_dir, PathBuf::from("/tmp/s"));
    assert_eq!(c.namesrv_addr.as_deref(), Some("127.0.0.1:9876"));
    // Everything else is untouched.
    assert_eq!(c.store.broker_role, BrokerRole::SyncMaster);
    assert_eq!(c.broker_name, "broker-a");
    assert!(matches!(
        c.set("noSuchKey", "1"),
        Err(BrokerError::Config(_))
    ));
    assert!(matches!(
        c.set("brokerId", "x"),
        Err(BrokerError::Config(_))
    ));
    // An unset optional key can be set too.
    let mut d = BrokerConfig::default();
    d.set("listenHost", "0.0.0.0").unwrap();
    assert_eq!(d.listen_host.as_deref(), Some("0.0.0.0"));
}

#[test]
fn properties_round_trip() {
    let c = BrokerConfig::from_properties(BROKER_A).unwrap();
    let map = c.to_properties().unwrap();
    assert_eq!(map["brokerIP1"], "10.0.0.5");
    assert_eq!(map["flushDiskType"], "SYNC_FLUSH");
    assert_eq!(map["storePathRootDir"], "/data/rocketmq/store");
    assert!(!map.contains_key("listenHost"));
    let text: String = map.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    assert_eq!(BrokerConfig::from_properties(&text).unwrap(), c);
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broker.conf");
    std::fs::write(&path, BROKER_A).unwrap();
    assert_eq!(BrokerConfig::load(&path).unwrap().listen_port, 20911);
    std::fs::write(&path, "brokerId=x\n").unwrap();
    let err = BrokerConfig::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("broker.conf") && err.contains("brokerId"),
        "{err}"
    );
    assert!(matches!(
        BrokerConfig::load(&dir.path().join("missing.conf")),
        Err(BrokerError::Io { .. })
    ));
}
