use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn queues(spec: &[(&str, i32)]) -> Vec<MessageQueue> {
    spec.iter()
        .flat_map(|(broker, n)| (0..*n).map(move |i| MessageQueue::new("TopicTest", *broker, i)))
        .collect()
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// `broker/id` of each queue, for compact assertions.
fn short(qs: &[MessageQueue]) -> Vec<String> {
    qs.iter()
        .map(|q| format!("{}/{}", q.broker_name, q.queue_id))
        .collect()
}

/// Every member's share, in member order.
fn shares(
    strategy: &dyn AllocateStrategy,
    qs: &[MessageQueue],
    members: &[String],
) -> Vec<Vec<MessageQueue>> {
    members
        .iter()
        .map(|id| allocate_sorted(strategy, "G", id, qs, members).unwrap())
        .collect()
}

#[test]
fn averagely_with_a_remainder() {
    // 8 queues over 3: 3, 3, 2 as contiguous ranges.
    let qs = queues(&[("broker-a", 8)]);
    let members = ids(&["c1", "c2", "c3"]);
    let got = shares(&AllocateMessageQueueAveragely, &qs, &members);
    assert_eq!(short(&got[0]), ["broker-a/0", "broker-a/1", "broker-a/2"]);
    assert_eq!(short(&got[1]), ["broker-a/3", "broker-a/4", "broker-a/5"]);
    assert_eq!(short(&got[2]), ["broker-a/6", "broker-a/7"]);
}

#[test]
fn averagely_evenly_divided() {
    let qs = queues(&[("broker-a", 4), ("broker-b", 4)]);
    let members = ids(&["c1", "c2"]);
    let got = shares(&AllocateMessageQueueAveragely, &qs, &members);
    assert_eq!(
        short(&got[0]),
        ["broker-a/0", "broker-a/1", "broker-a/2", "broker-a/3"]
    );
    assert_eq!(
        short(&got[1]),
        ["broker-b/0", "broker-b/1", "broker-b/2", "broker-b/3"]
    );
}

#[test]
fn averagely_fewer_queues_than_consumers() {
    // 2 queues, 4 members: the first two (in sorted order) take one each.
    let qs = queues(&[("broker-a", 2)]);
    let members = ids(&["c1", "c2", "c3", "c4"]);
    let got = shares(&AllocateMessageQueueAveragely, &qs, &members);
    assert_eq!(short(&got[0]), ["broker-a/0"]);
    assert_eq!(short(&got[1]), ["broker-a/1"]);
    assert!(got[2].is_empty());
    assert!(got[3].is_empty());
    // As many queues as members: one each.
    let members = ids(&["c1", "c2"]);
    let got = shares(&AllocateMessageQueueAveragely, &qs, &members);
    assert_eq!(short(&got[0]), ["broker-a/0"]);
    assert_eq!(short(&got[1]), ["broker-a/1"]);
}

#[test]
fn unsorted_input_is_sorted_first() {
    // Same answer whatever order the broker lists members and the route
    // lists queues in.
    let mut qs = queues(&[("broker-b", 2), ("broker-a", 3)]);
    qs.reverse();
    let members = ids(&["c3", "c1", "c2"]);
    let got = allocate_sorted(&AllocateMessageQueueAveragely, "G", "c1", &qs, &members).unwrap();
    assert_eq!(short(&got), ["broker-a/0", "broker-a/1"]);
    let got = allocate_sorted(&AllocateMessageQueueAveragely, "G", "c3", &qs, &members).unwrap();
    assert_eq!(short(&got), ["broker-b/1"]);
    let got = allocate_sorted(
        &AllocateMessageQueueAveragelyByCircle,
        "G",
        "c2",
        &qs,
        &members,
    )
    .unwrap();
    assert_eq!(short(&got), ["broker-a/1", "broker-b/1"]);
}

#[test]
fn a_stranger_gets_nothing_and_bad_input_is_refused() {
    let qs = queues(&[("broker-a", 4)]);
    let members = ids(&["c1", "c2"]);
    let strategies: [&dyn AllocateStrategy; 3] = [
        &AllocateMessageQueueAveragely,
        &AllocateMessageQueueAveragelyByCircle,
        &AllocateMessageQueueConsistentHash::default(),
    ];
    for s in strategies {
        assert_eq!(
            s.allocate("G", "c9", &qs, &members),
            Ok(vec![]),
            "{}",
            s.name()
        );
        assert_eq!(
            s.allocate("G", "", &qs, &members),
            Err(AllocateError::EmptyConsumerId)
        );
        assert_eq!(
            s.allocate("G", "c1", &[], &members),
            Err(AllocateError::NoQueues)
        );
        assert_eq!(
            s.allocate("G", "c1", &qs, &[]),
            Err(AllocateError::NoConsumers)
        );
    }
}

#[test]
fn by_circle_deals_round_robin() {
    let qs = queues(&[("broker-a", 7)]);
    let members = ids(&["c1", "c2", "c3"]);
    let got = shares(&AllocateMessageQueueAveragelyByCircle, &qs, &members);
    assert_eq!(short(&got[0]), ["broker-a/0", "broker-a/3", "broker-a/6"]);
    assert_eq!(short(&got[1]), ["broker-a/1", "broker-a/4"]);
    assert_eq!(short(&got[2]), ["broker-a/2", "broker-a/5"]);
    // Fewer queues than members.
    let qs = queues(&[("broker-a", 2)]);
    let got = shares(&AllocateMessageQueueAveragelyByCircle, &qs, &members);
    assert_eq!(short(&got[1]), ["broker-a/1"]);
    assert!(got[2].is_empty());
}

#[test]
fn ring_hash_is_md5_prefix() {
    // MD5("") = d41d8cd9…, MD5("abc") = 90015098…
    assert_eq!(
        AllocateMessageQueueConsistentHash::ring_hash(""),
        0xd41d_8cd9
    );
    assert_eq!(
        AllocateMessageQueueConsistentHash::ring_hash("abc"),
        0x9001_5098
    );
}

#[test]
fn consistent_hash_matches_java() {
    // Expected shares printed by RocketMQ 5.3.3's own
    // AllocateMessageQueueConsistentHash for the same input.
    let qs = queues(&[("broker-a", 8), ("broker-b", 4)]);
    let members = ids(&["127.0.0.1@a", "127.0.0.1@b", "127.0.0.1@c"]);
    let got = shares(
        &AllocateMessageQueueConsistentHash::default(),
        &qs,
        &members,
    );
    assert_eq!(
        short(&got[0]),
        [
            "broker-a/1",
            "broker-a/6",
            "broker-a/7",
            "broker-b/1",
            "broker-b/3"
        ]
    );
    assert_eq!(
        short(&got[1]),
        ["broker-a/2", "broker-a/4", "broker-a/5", "broker-b/0"]
    );
    assert_eq!(short(&got[2]), ["broker-a/0", "broker-a/3", "broker-b/2"]);
    let got = shares(&AllocateMessageQueueConsistentHash::new(3), &qs, &members);
    assert_eq!(
        short(&got[0]),
        ["broker-a/4", "broker-a/6", "broker-a/7", "broker-b/3"]
    );
    assert_eq!(
        short(&got[1]),
        ["broker-a/3", "broker-a/5", "broker-b/0", "broker-b/2"]
    );
    assert_eq!(
        short(&got[2]),
        ["broker-a/0", "broker-a/1", "broker-a/2", "broker-b/1"]
    );
}

#[test]
fn consistent_hash_moves_little_when_a_member_leaves() {
    let qs = queues(&[("broker-a", 16), ("broker-b", 16)]);
    let before = ids(&["c1", "c2", "c3", "c4"]);
    let after = ids(&["c1", "c2", "c3"]);
    let s = AllocateMessageQueueConsistentHash::default();
    let old = shares(&s, &qs, &before);
    let new = shares(&s, &qs, &after);
    // Queues of the members that stay, stay with them.
    for i in 0..3 {
        for q in &old[i] {
            assert!(new[i].contains(q), "{q} moved away from c{}", i + 1);
        }
    }
}

#[test]
fn by_config_returns_its_list() {
    let fixed = queues(&[("broker-z", 2)]);
    let s = AllocateMessageQueueByConfig::new(fixed.clone());
    let got = s
        .allocate("G", "anyone", &queues(&[("broker-a", 4)]), &ids(&["c1"]))
        .unwrap();
    assert_eq!(got, fixed);
    assert_eq!(s.name(), "CONFIG");
}

fn arb_input() -> impl Strategy<Value = (Vec<MessageQueue>, Vec<String>)> {
    (
        proptest::collection::btree_set((0..3u8, 0..16i32), 1..40),
        proptest::collection::btree_set("[a-z0-9@.]{1,12}", 1..12),
    )
        .prop_map(|(qs, ids)| {
            let mut qs: Vec<MessageQueue> = qs
                .into_iter()
                .map(|(b, i)| MessageQueue::new("T", format!("broker-{b}"), i))
                .collect();
            // Members and queues arrive in any order.
            qs.reverse();
            let mut ids: Vec<String> = ids.into_iter().collect();
            let half = ids.len() / 2;
            ids.rotate_left(half);
            (qs, ids)
        })
}

/// Each queue's owners over all members.
fn owners(
    strategy: &dyn AllocateStrategy,
    qs: &[MessageQueue],
    members: &[String],
) -> (BTreeMap<MessageQueue, usize>, Vec<usize>) {
    let mut count = BTreeMap::new();
    let mut sizes = Vec::new();
    for share in shares(strategy, qs, members) {
        sizes.push(share.len());
        for q in share {
            *count.entry(q).or_insert(0) += 1;
        }
    }
    (count, sizes)
}

proptest! {
    #[test]
    fn prop_every_queue_exactly_once_and_fair((qs, members) in arb_input()) {
        let fair: [&dyn AllocateStrategy; 2] =
            [&AllocateMessageQueueAveragely, &AllocateMessageQueueAveragelyByCircle];
        for s in fair {
            let (count, sizes) = owners(s, &qs, &members);
            prop_assert_eq!(count.len(), qs.len(), "{} left a queue out", s.name());
            prop_assert!(count.values().all(|&c| c == 1), "{} gave a queue twice", s.name());
            let (min, max) = (sizes.iter().min().copied(), sizes.iter().max().copied());
            prop_assert!(max.unwrap_or(0) - min.unwrap_or(0) <= 1, "{}: {:?}", s.name(), sizes);
        }
        let (count, _) = owners(&AllocateMessageQueueConsistentHash::default(), &qs, &members);
        prop_assert_eq!(count.len(), qs.len());
        prop_assert!(count.values().all(|&c| c == 1));
    }

    #[test]
    fn prop_averagely_gives_contiguous_ranges((qs, members) in arb_input()) {
        let mut sorted = qs.clone();
        sorted.sort();
        let mut concatenated = Vec::new();
        let mut sorted_members = members.clone();
        sorted_members.sort();
        for id in &sorted_members {
            concatenated.extend(
                allocate_sorted(&AllocateMessageQueueAveragely, "G", id, &qs, &members).unwrap(),
            );
        }
        // Member order walks the sorted queues front to back.
        prop_assert_eq!(concatenated, sorted);
    }
}
