use super::*;

#[test]
fn properties_text_reads_back_as_written() {
    let map = BTreeMap::from([
        ("a".to_owned(), "plain".to_owned()),
        ("b".to_owned(), r"C:\dir\file".to_owned()),
        ("c".to_owned(), " leading space, # not a comment".to_owned()),
        ("d".to_owned(), "two\nlines\tand tab".to_owned()),
        ("e".to_owned(), String::new()),
        ("k=y:z".to_owned(), "v".to_owned()),
    ]);
    let text = properties_text(&map);
    assert!(text.starts_with("a=plain\nb=C:\\\\dir\\\\file\n"));
    assert_eq!(BrokerConfig::parse_properties(&text).unwrap(), map);
}

#[test]
fn refusals_name_the_key_and_change_nothing() {
    let live = LiveConfig::new(&BrokerConfig::default());
    let change = |pairs: &[(&str, &str)]| {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        live.update(&map)
    };
    assert_eq!(
        change(&[("configBlackList", "")]),
        Err(Refusal::Blacklisted("configBlackList".into()))
    );
    assert_eq!(
        change(&[("nope", "1")]),
        Err(Refusal::Unknown("nope".into()))
    );
    assert_eq!(
        change(&[("brokerPermission", "4"), ("brokerName", "b")]),
        Err(Refusal::NotAtRunTime("brokerName".into()))
    );
    assert!(matches!(
        change(&[("brokerPermission", "x")]),
        Err(Refusal::Invalid(_))
    ));
    assert_eq!(live.broker_permission(), 6);
    assert_eq!(live.snapshot().1, DataVersion::default());

    let applied = change(&[("brokerPermission", "2"), ("slaveReadEnable", "TRUE")]).unwrap();
    assert_eq!(applied.broker_permission, 2);
    assert!(live.slave_read_enable());
    assert_eq!(live.broker_permission(), 2);
    assert_eq!(live.snapshot().0, applied);
    assert_eq!(live.snapshot().1.counter, 1);
}

#[test]
fn every_runtime_key_is_a_config_key() {
    for key in RUNTIME_KEYS {
        assert!(BrokerConfig::is_key(key), "{key}");
    }
    for key in [
        "storePathRootDir",
        "listenHost",
        "namesrvAddr",
        "brokerConfigPath",
    ] {
        assert!(BrokerConfig::is_key(key), "{key}");
    }
    assert!(!BrokerConfig::is_key("rocketmqHome"));
}
