//! Consumer groups' settings (`SubscriptionGroupManager`) and
//! `subscriptionGroup.json`: the groups every broker has, auto-creation on
//! first use, admin updates and deletes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use skylark_protocol::body::{DataVersion, SubscriptionGroupConfig, SubscriptionGroupWrapper};
use skylark_protocol::message::topic::validate_group;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist::ConfigFile;
use crate::persisted_table::PersistedTable;
use crate::topic_config::now_ms;

/// The file the groups are kept in, under the store's config directory.
pub const SUBSCRIPTION_GROUP_FILE: &str = "subscriptionGroup.json";
/// Prefix of system consumer groups (`MixAll.CID_RMQ_SYS_PREFIX`).
pub const SYS_GROUP_PREFIX: &str = "CID_RMQ_SYS_";
/// Longest group name auto-creation accepts (`Validators.CHARACTER_MAX_LENGTH`).
const AUTO_CREATE_MAX_LEN: usize = 255;

/// The groups Java's `SubscriptionGroupManager.init` creates, all with the
/// defaults (broadcasting allowed, which Java spells out for the last five).
const BUILTIN_GROUPS: &[&str] = &[
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
];

/// Every subscription group this broker knows.
#[derive(Debug)]
pub struct SubscriptionGroupManager {
    inner: PersistedTable<Inner>,
    /// `autoCreateSubscriptionGroup`, which UPDATE_BROKER_CONFIG may change.
    auto_create: AtomicBool,
    auto_create_sys: bool,
}

#[derive(Debug, Default)]
struct Inner {
    table: HashMap<String, Arc<SubscriptionGroupConfig>>,
    /// Group → topic → forbidden permission bits, kept for the file's sake.
    forbidden: BTreeMap<String, BTreeMap<String, i32>>,
    version: DataVersion,
}

impl SubscriptionGroupManager {
    /// The built-in groups plus those in `subscriptionGroup.json` (or its
    /// backup), which win over the built-in ones.
    pub fn load(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let file = ConfigFile::new(&config.store.config_dir(), SUBSCRIPTION_GROUP_FILE);
        let mut inner = Inner {
            table: BUILTIN_GROUPS
                .iter()
                .map(|&g| ((*g).to_owned(), Arc::new(SubscriptionGroupConfig::new(g))))
                .collect(),
            forbidden: BTreeMap::new(),
            version: DataVersion::new(now_ms()),
        };
        if let Some(saved) = file.load::<SubscriptionGroupWrapper>()? {
            tracing::info!(
                path = %file.path().display(), groups = saved.subscription_group_table.len(),
                "loaded subscription groups"
            );
            for (name, group) in saved.subscription_group_table {
                inner.table.insert(name, Arc::new(group));
            }
            inner.forbidden.extend(saved.forbidden_table);
            inner.version = saved.data_version;
        }
        Ok(Self {
            inner: PersistedTable::new(inner, file),
            auto_create: AtomicBool::new(config.auto_create_subscription_group),
            auto_create_sys: config.enable_create_sys_group,
        })
    }

    /// The group's settings, if it exists.
    pub fn get(&self, group: &str) -> Option<Arc<SubscriptionGroupConfig>> {
        self.inner.read().table.get(group).cloned()
    }

    /// Whether the group exists.
    pub fn contains(&self, group: &str) -> bool {
        self.inner.read().table.contains_key(group)
    }

    /// Turns creation of unknown groups on first use on or off.
    pub(crate) fn set_auto_create(&self, on: bool) {
        self.auto_create.store(on, Ordering::Relaxed);
    }

    /// Java's `findSubscriptionGroupConfig`: the group, created with the
    /// defaults when `autoCreateSubscriptionGroup` is on (or it is a
    /// `CID_RMQ_SYS_` group and `enableCreateSysGroup` is on) and its name is
    /// valid; else `None`. Failing to persist a new group is logged: it
    /// exists in memory and the next change saves it.
    pub fn find_or_create(&self, group: &str) -> Option<Arc<SubscriptionGroupConfig>> {
        if let Some(found) = self.get(group) {
            return Some(found);
        }
        let allowed = self.auto_create.load(Ordering::Relaxed)
            || (self.auto_create_sys && group.starts_with(SYS_GROUP_PREFIX));
        if !allowed || group.len() > AUTO_CREATE_MAX_LEN || validate_group(group).is_err() {
            return None;
        }
        let config = {
            let mut inner = self.inner.write();
            if let Some(found) = inner.table.get(group) {
                return Some(Arc::clone(found));
            }
            let config = Arc::new(SubscriptionGroupConfig::new(group));
            inner.table.insert(group.to_owned(), Arc::clone(&config));
            inner.version.next_version(now_ms());
            config
        };
        tracing::info!(group, "auto-created subscription group");
        if let Err(error) = self.persist() {
            tracing::error!(group, %error, "cannot persist the new subscription group");
        }
        Some(config)
    }

    /// Creates or replaces a group (its attributes already resolved).
    pub fn update(&self, config: SubscriptionGroupConfig) -> Result<(), BrokerError> {
        let name = config.group_name.clone();
        let old = {
            let mut inner = self.inner.write();
            let old = inner.table.insert(name.clone(), Arc::new(config));
            inner.version.next_version(now_ms());
            old
        };
        tracing::info!(group = %name, created = old.is_none(), "subscription group updated");
        self.persist()
    }

    /// Deletes a group and its forbidden bits; false when it did not exist.
    pub fn delete(&self, group: &str) -> Result<bool, BrokerError> {
        {
            let mut inner = self.inner.write();
            inner.forbidden.remove(group);
            if inner.table.remove(group).is_none() {
                return Ok(false);
            }
            inner.version.next_version(now_ms());
        }
        tracing::info!(group, "subscription group deleted");
        self.persist().map(|()| true)
    }

    /// The table's current version.
    pub fn data_version(&self) -> DataVersion {
        self.inner.read().version
    }

    /// Every group, the forbidden table and the version
    /// (`subscriptionGroup.json` and GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    pub fn snapshot(&self) -> SubscriptionGroupWrapper {
        let inner = self.inner.read();
        SubscriptionGroupWrapper {
            data_version: inner.version,
            forbidden_table: inner.forbidden.clone(),
            subscription_group_table: inner
                .table
                .iter()
                .map(|(k, v)| (k.clone(), SubscriptionGroupConfig::clone(v)))
                .collect(),
        }
    }

    /// Replaces every group with a master's (a replica's config copy);
    /// false when the version is already the master's.
    pub(crate) fn replace_all(
        &self,
        master: SubscriptionGroupWrapper,
    ) -> Result<bool, BrokerError> {
        {
            let mut inner = self.inner.write();
            if inner.version == master.data_version {
                return Ok(false);
            }
            inner.table = master
                .subscription_group_table
                .into_iter()
                .map(|(name, group)| (name, Arc::new(group)))
                .collect();
            inner.forbidden = master.forbidden_table;
            inner.version = master.data_version;
        }
        self.persist().map(|()| true)
    }

    fn persist(&self) -> Result<(), BrokerError> {
        self.inner.save(|| self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::config_in;

    #[test]
    fn fresh_broker_has_javas_groups() {
        let dir = tempfile::tempdir().unwrap();
        let groups = SubscriptionGroupManager::load(&config_in(dir.path())).unwrap();
        for g in BUILTIN_GROUPS {
            let config = groups.get(g).unwrap();
            assert!(
                config.consume_broadcast_enable && config.consume_enable,
                "{g}"
            );
        }
        assert!(groups.get("CG").is_none());
    }

    #[test]
    fn auto_creation_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        let groups = SubscriptionGroupManager::load(&config).unwrap();
        let created = groups.find_or_create("CG").unwrap();
        assert_eq!(*created, SubscriptionGroupConfig::new("CG"));
        assert_eq!(groups.data_version().counter, 1);
        assert!(groups.find_or_create("bad group!").is_none());
        assert!(groups.find_or_create("").is_none());

        config.auto_create_subscription_group = false;
        let strict = SubscriptionGroupManager::load(&config).unwrap();
        // Persisted by the first manager.
        assert!(strict.find_or_create("CG").is_some());
        assert!(strict.find_or_create("OTHER").is_none());
        assert!(strict.find_or_create("CID_RMQ_SYS_X").is_some());
        config.enable_create_sys_group = false;
        let stricter = SubscriptionGroupManager::load(&config).unwrap();
        assert!(stricter.find_or_create("CID_RMQ_SYS_Y").is_none());
    }

    #[test]
    fn update_delete_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let groups = SubscriptionGroupManager::load(&config).unwrap();
        let mut g = SubscriptionGroupConfig::new("CG");
        g.retry_max_times = 3;
        g.consume_message_orderly = true;
        groups.update(g.clone()).unwrap();
        groups.update(SubscriptionGroupConfig::new("GONE")).unwrap();
        assert!(groups.delete("GONE").unwrap());
        assert!(!groups.delete("GONE").unwrap());
        let version = groups.data_version();
        assert_eq!(version.counter, 3);

        let reloaded = SubscriptionGroupManager::load(&config).unwrap();
        assert_eq!(*reloaded.get("CG").unwrap(), g);
        assert!(reloaded.get("GONE").is_none());
        assert_eq!(reloaded.data_version(), version);
        assert_eq!(reloaded.snapshot(), groups.snapshot());
    }

    #[test]
    fn refuses_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        std::fs::create_dir_all(config.store.config_dir()).unwrap();
        std::fs::write(
            config.store.config_dir().join(SUBSCRIPTION_GROUP_FILE),
            b"{\"subscriptionGroupTable\":",
        )
        .unwrap();
        assert!(matches!(
            SubscriptionGroupManager::load(&config),
            Err(BrokerError::Corrupt { .. })
        ));
    }
}
