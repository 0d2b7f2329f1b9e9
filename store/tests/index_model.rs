#![allow(clippy::unwrap_used)]
//! Random build / truncate / reopen sequences on tiny index files against a
//! list model: every query returns exactly the hash matches, newest first.

use proptest::prelude::*;
use skylark_store::index_file::{IndexConfig, IndexService, build_key, key_hash};
use tempfile::TempDir;

const CFG: IndexConfig = IndexConfig {
    hash_slot_num: 3,
    index_num: 5,
};
const T0: i64 = 1_700_000_000_000;
const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

#[derive(Debug, Clone)]
enum Op {
    /// A record with these keys (indices into `KEYS`), 1..=3 of them.
    Build(Vec<usize>),
    /// Truncate at a fraction (per mille) of the next offset.
    Truncate(u16),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(0..KEYS.len(), 1..4).prop_map(Op::Build),
        1 => (0u16..1_000).prop_map(Op::Truncate),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn queries_match_a_list_model(ops in proptest::collection::vec(op(), 1..60)) {
        let tmp = TempDir::new().unwrap();
        let mut svc = IndexService::open(tmp.path(), CFG).unwrap();
        // (key hash, commit-log offset) of every key put, oldest first.
        let mut model: Vec<(i32, i64)> = Vec::new();
        let mut next_phys = 100i64;
        for op in ops {
            match op {
                Op::Build(keys) => {
                    let joined: Vec<&str> = keys.iter().map(|k| KEYS[*k]).collect();
                    let joined = joined.join(" ");
                    svc.build_index("T", None, Some(&joined), next_phys, T0 + next_phys).unwrap();
                    for k in &keys {
                        model.push((key_hash(&build_key("T", KEYS[*k])), next_phys));
                    }
                    next_phys += 10;
                }
                Op::Truncate(permille) => {
                    let cut = next_phys * i64::from(permille) / 1_000;
                    svc.truncate_from(cut).unwrap();
                    model.retain(|(_, p)| *p < cut);
                    next_phys = next_phys.min(cut.max(1));
                    // Offsets stay strictly increasing past what is left.
                    if let Some((_, last)) = model.last() {
                        next_phys = next_phys.max(last + 1);
                    }
                }
                Op::Reopen => {
                    drop(svc);
                    svc = IndexService::open(tmp.path(), CFG).unwrap();
                }
            }
            for key in KEYS {
                let h = key_hash(&build_key("T", key));
                let want: Vec<i64> = model.iter().rev().filter(|(mh, _)| *mh == h).map(|(_, p)| *p).collect();
                let got = svc.query("T", key, 1_000, 0, i64::MAX).phys_offsets;
                prop_assert_eq!(&got, &want, "key {}", key);
                let capped = svc.query("T", key, 2, 0, i64::MAX).phys_offsets;
                prop_assert_eq!(&capped[..], &want[..want.len().min(2)]);
            }
        }
    }
}
