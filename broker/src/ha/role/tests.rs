//! The role state machine: start-up rules, fencing, promotion, following.
#![allow(clippy::unwrap_used)]
use super::*;

const MASTER: ConfiguredRole = ConfiguredRole {
    master: true,
    broker_id: 0,
};
const SLAVE: ConfiguredRole = ConfiguredRole {
    master: false,
    broker_id: 1,
};

fn e(epoch: i32, start_offset: i64) -> EpochEntry {
    EpochEntry {
        epoch,
        start_offset,
    }
}

#[test]
fn a_new_master_starts_epoch_one_and_keeps_it_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let role = HaRole::open(dir.path(), MASTER, 0).unwrap();
    assert_eq!(role.state().role, Role::Master);
    assert_eq!(role.epoch(), 1);
    assert!(role.is_writable());
    assert_eq!(role.fence_refusal(), None);
    drop(role);
    let role = HaRole::open(dir.path(), MASTER, 5000).unwrap();
    assert_eq!(role.history().entries(), [e(1, 0)]);
    assert_eq!(role.epoch(), 1);
}

#[test]
fn a_newer_epoch_fences_a_master_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let role = HaRole::open(dir.path(), MASTER, 0).unwrap();
    assert!(!role.observe_epoch(1), "the same epoch changes nothing");
    assert!(role.observe_epoch(2));
    assert!(!role.is_writable());
    assert_eq!(role.state().role, Role::Fenced);
    let why = role.fence_refusal().unwrap();
    assert!(why.contains("fenced") && why.contains("epoch 2"), "{why}");
    assert!(matches!(
        role.check_not_older(1),
        Err(RoleError::StaleEpoch { known: 2, .. })
    ));
    drop(role);
    // Restarted with its old config, it is still fenced.
    let role = HaRole::open(dir.path(), MASTER, 0).unwrap();
    assert_eq!(role.state().role, Role::Fenced);
    assert!(!role.is_writable());
    // Promotion needs an epoch newer than any known.
    assert!(role.promote(2, 100).is_err());
    role.promote(3, 100).unwrap();
    assert!(role.is_writable());
    assert_eq!(role.history().entries(), [e(1, 0), e(3, 100)]);
}

#[test]
fn a_replica_adopts_its_masters_terms_and_starts_a_new_one_when_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let role = HaRole::open(dir.path(), SLAVE, 0).unwrap();
    assert_eq!(role.state().role, Role::Slave);
    assert_eq!(role.state().broker_id, 1);
    assert!(!role.is_writable());
    assert_eq!(
        role.fence_refusal(),
        None,
        "a replica's refusal is not the fence's"
    );
    let master = EpochHistory::new(vec![e(1, 0), e(2, 800), e(3, 1000)]).unwrap();
    assert_eq!(role.handshake(&master, 1200, 0), Some(0));
    assert_eq!(role.epoch(), 3);
    role.take_history(&master).unwrap();
    // Promoted having received 900 bytes: epoch 3's term is not here.
    assert!(
        role.promote(3, 900).is_err(),
        "not newer than the known epoch"
    );
    role.promote(4, 900).unwrap();
    assert_eq!(role.history().entries(), [e(1, 0), e(2, 800), e(4, 900)]);
    assert_eq!(role.state().broker_id, 0);
}

#[test]
fn a_deposed_master_follows_after_truncating_to_the_shared_point() {
    let dir = tempfile::tempdir().unwrap();
    let role = HaRole::open(dir.path(), MASTER, 0).unwrap();
    let new_master = EpochHistory::new(vec![e(1, 0), e(2, 800)]).unwrap();
    // It wrote to 1000 in epoch 1; the new master took over at 800.
    let point = role.handshake(&new_master, 1500, 1000);
    assert_eq!(point, Some(800));
    assert_eq!(role.state().role, Role::Fenced, "the handshake fenced it");
    role.take_history(&new_master).unwrap();
    assert_eq!(role.history(), new_master);
    role.follow(2, "127.0.0.1:10911", "127.0.0.1:10912", 1)
        .unwrap();
    assert!(
        role.follow(1, "127.0.0.1:10911", "127.0.0.1:10912", 1)
            .is_err()
    );
    let s = role.state();
    assert_eq!(
        (s.role, s.epoch, s.broker_id, s.master_addr.as_deref()),
        (Role::Slave, 2, 1, Some("127.0.0.1:10911"))
    );
    drop(role);
    // A replica set up by FOLLOW keeps following that master after a restart.
    let role = HaRole::open(dir.path(), SLAVE, 7).unwrap();
    assert_eq!(role.state().master_addr.as_deref(), Some("127.0.0.1:10911"));
    assert_eq!(
        role.state().master_ha_addr.as_deref(),
        Some("127.0.0.1:10912")
    );
    assert_eq!(role.state().broker_id, 1);
    // Started with its old master config it still follows that master.
    drop(role);
    let role = HaRole::open(dir.path(), MASTER, 0).unwrap();
    let s = role.state();
    assert_eq!(
        (s.role, s.broker_id, s.master_addr.as_deref()),
        (Role::Slave, 1, Some("127.0.0.1:10911"))
    );
    assert!(!role.is_writable());
}

#[test]
fn a_master_fenced_for_a_follow_stays_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let role = HaRole::open(dir.path(), MASTER, 0).unwrap();
    role.fence();
    assert!(role.is_fenced() && !role.is_writable());
    assert_eq!(role.epoch(), 1, "fencing alone moves no epoch");
    drop(role);
    assert!(HaRole::open(dir.path(), MASTER, 0).unwrap().is_fenced());
}

#[test]
fn corrupt_role_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(ROLE_FILE), b"{not json").unwrap();
    let err = HaRole::open(dir.path(), MASTER, 0).unwrap_err();
    assert!(err.to_string().contains(ROLE_FILE), "{err}");
}
