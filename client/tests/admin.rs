//! The admin client against a real `skylark standalone`: topics, groups,
//! consume progress, offset resets, message queries, cluster info and the
//! errors it reports.

mod support;

use skylark_client::producer::Producer;
use skylark_client::{ClientError, Message, MessageQueue};
use skylark_protocol::ResponseCode;
use skylark_protocol::body::SubscriptionGroupConfig;
use support::{create_topic, eventually, eventually_some, now_ms, standalone, unique, wait_stored};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_described_and_deleted() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("adm");
    create_topic(&admin, &topic, 8).await;
    assert!(admin.topic_list().await.unwrap().contains(&topic));
    let configs = admin.all_topic_configs(&s.broker).await.unwrap();
    assert_eq!(configs.topic_config_table[&topic].write_queue_nums, 8);

    let d = admin.describe_topic(&topic).await.unwrap();
    assert_eq!(d.queues.len(), 8);
    assert_eq!(d.route.queue_datas[0].read_queue_nums, 8);
    assert!(
        d.queues
            .iter()
            .all(|q| q.min_offset == 0 && q.max_offset == 0)
    );

    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();
    for i in 0..5 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    producer.shutdown().await;
    let d = wait_stored(&admin, &topic, 5).await;
    assert!(
        d.queues
            .iter()
            .filter(|q| q.max_offset > 0)
            .all(|q| q.last_update_timestamp > 0)
    );

    // Updating changes the queue count.
    let mut config = support::topic_config(&topic, 4);
    config.perm = 6;
    admin.create_topic(&s.broker, &config).await.unwrap();
    let configs = admin.all_topic_configs(&s.broker).await.unwrap();
    assert_eq!(configs.topic_config_table[&topic].write_queue_nums, 4);

    admin
        .delete_topic(&topic, Some("DefaultCluster"))
        .await
        .unwrap();
    assert!(!admin.topic_list().await.unwrap().contains(&topic));
    let err = admin.topic_route(&topic).await.unwrap_err();
    assert_eq!(err.response_code(), Some(ResponseCode::TOPIC_NOT_EXIST));
    assert!(err.to_string().starts_with("TOPIC_NOT_EXIST: "), "{err}");
    assert!(err.hint().is_some());
    let configs = admin.all_topic_configs(&s.broker).await.unwrap();
    assert!(!configs.topic_config_table.contains_key(&topic));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_created_listed_and_deleted() {
    let s = standalone();
    let admin = s.admin();
    let group = unique("cg");
    let config = SubscriptionGroupConfig {
        group_name: group.clone(),
        retry_max_times: 3,
        consume_message_orderly: true,
        ..Default::default()
    };
    let masters = admin.create_group_in_cluster(None, &config).await.unwrap();
    assert_eq!(masters.len(), 1);
    assert_eq!(masters[0].addr, s.broker);
    let groups = admin.list_groups(None).await.unwrap();
    assert_eq!(groups[&group].retry_max_times, 3);
    assert!(groups[&group].consume_message_orderly);
    // The built-in groups are there too.
    assert!(groups.contains_key("TOOLS_CONSUMER"));
    let one = admin.group_config(&s.broker, &group).await.unwrap();
    assert_eq!(one.retry_max_times, 3);

    admin
        .delete_group_in_cluster(None, &group, true)
        .await
        .unwrap();
    assert!(!admin.list_groups(None).await.unwrap().contains_key(&group));
    // Nobody consumes: the broker says so.
    let err = admin.consumer_connections(&group).await.unwrap_err();
    assert!(
        err.response_code().is_some() || matches!(err, ClientError::NotFound(_)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_progress_and_offset_resets() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("prog");
    let group = unique("cg");
    create_topic(&admin, &topic, 1).await;
    admin
        .create_group_in_cluster(
            None,
            &SubscriptionGroupConfig {
                group_name: group.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();
    let before = now_ms();
    for i in 0..10 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    producer.shutdown().await;
    let queue = MessageQueue::new(&topic, "broker-a", 0);
    wait_stored(&admin, &topic, 10).await;
    assert_eq!(admin.max_offset(&queue).await.unwrap(), 10);
    assert_eq!(admin.min_offset(&queue).await.unwrap(), 0);
    assert_eq!(
        admin.search_offset(&queue, before - 60_000).await.unwrap(),
        0
    );
    assert_eq!(
        admin.query_consumer_offset(&group, &queue).await.unwrap(),
        None
    );

    admin
        .update_consumer_offset(&group, &queue, 4)
        .await
        .unwrap();
    assert_eq!(
        admin.query_consumer_offset(&group, &queue).await.unwrap(),
        Some(4)
    );
    let progress = admin.consume_progress(&group, Some(&topic)).await.unwrap();
    assert_eq!(progress.queues.len(), 1, "{progress:?}");
    let q = &progress.queues[0];
    assert_eq!((q.broker_offset, q.consumer_offset, q.lag), (10, 4, 6));
    assert_eq!(progress.total_lag(), 6);

    // To an offset.
    let moved = admin.reset_offset_to(&group, &queue, 2).await.unwrap();
    assert_eq!(moved.get(&queue), Some(&2));
    assert_eq!(
        admin.query_consumer_offset(&group, &queue).await.unwrap(),
        Some(2)
    );
    // Out of range: the broker refuses with its remark.
    let err = admin.reset_offset_to(&group, &queue, 99).await.unwrap_err();
    assert!(err.response_code().is_some(), "{err}");
    // By time: to the end (-1), then back to the start (a time before the sends).
    let moved = admin
        .reset_offset_by_time(&group, &topic, -1, true)
        .await
        .unwrap();
    assert_eq!(moved.get(&queue), Some(&10));
    let moved = admin
        .reset_offset_by_time(&group, &topic, before - 60_000, true)
        .await
        .unwrap();
    assert_eq!(moved.get(&queue), Some(&0));
    let progress = admin.consume_progress(&group, Some(&topic)).await.unwrap();
    assert_eq!(progress.total_lag(), 10);

    // Unknown group: the broker's code comes through.
    let err = admin
        .reset_offset_by_time(&unique("nogroup"), &topic, -1, true)
        .await
        .unwrap_err();
    assert_eq!(
        err.response_code(),
        Some(ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_found_by_key_and_by_id() {
    let s = standalone();
    let admin = s.admin();
    let topic = unique("query");
    create_topic(&admin, &topic, 2).await;
    let producer = Producer::start(s.producer_config(&unique("pg"))).unwrap();
    let r = producer
        .send(Message::new(&topic, "find me").with_keys(["order-7", "customer-3"]))
        .await
        .unwrap();
    producer
        .send(Message::new(&topic, "not me").with_keys(["order-8"]))
        .await
        .unwrap();
    producer.shutdown().await;

    // By key, once the index has it.
    let found = eventually_some("message by key", || async {
        let found = admin
            .query_message_by_key(&topic, "customer-3", 32, 0, i64::MAX)
            .await?;
        Ok((!found.is_empty()).then_some(found))
    })
    .await;
    assert_eq!(found.len(), 1);
    assert_eq!(&found[0].body[..], b"find me");
    // By offset id, at once.
    let by_offset = admin.message_by_id(&topic, &r.offset_msg_id).await.unwrap();
    assert_eq!(by_offset.len(), 1);
    assert_eq!(by_offset[0].uniq_key(), Some(r.msg_id.as_str()));
    // By UNIQ_KEY.
    let by_uniq = eventually_some("message by UNIQ_KEY", || async {
        let found = admin.message_by_id(&topic, &r.msg_id).await?;
        Ok((!found.is_empty()).then_some(found))
    })
    .await;
    assert_eq!(&by_uniq[0].body[..], b"find me");
    // A key nobody has.
    eventually("the index caught up", || async {
        !admin
            .query_message_by_key(&topic, "order-8", 32, 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(
        admin
            .query_message_by_key(&topic, "order-9", 32, 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    // A malformed id.
    assert!(matches!(
        admin.view_message("zz").await,
        Err(ClientError::MsgId(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_and_broker_info() {
    let s = standalone();
    let admin = s.admin();
    let info = admin.cluster_info().await.unwrap();
    assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    let masters = admin.masters(Some("DefaultCluster")).await.unwrap();
    assert_eq!(masters.len(), 1);
    assert_eq!(masters[0].broker_name, "broker-a");
    assert!(matches!(
        admin.masters(Some("NoSuchCluster")).await,
        Err(ClientError::NotFound(_))
    ));
    let runtime = admin.broker_runtime_info(&s.broker).await.unwrap();
    assert!(!runtime.is_empty());
    let config = admin.broker_config(&s.broker).await.unwrap();
    assert_eq!(
        config.get("brokerName").map(String::as_str),
        Some("broker-a")
    );
    // An unreachable nameserver is a connection error with a hint.
    let dead = skylark_client::admin::Admin::start({
        let mut c = s.client_config();
        c.namesrv_addrs = vec!["127.0.0.1:1".into()];
        c
    })
    .unwrap();
    let err = dead.cluster_info().await.unwrap_err();
    assert!(err.is_connection_error(), "{err}");
    assert!(err.hint().is_some());
}
