//! The admin client (what `mqadmin`, the `skylark` CLI and the operator
//! use): cluster info, topics, subscription groups, consume progress,
//! offset resets and message queries, each a request to the nameservers or
//! brokers named in RocketMQ's admin API.
//!
//! Methods taking `addr` talk to that broker; the others find the brokers
//! themselves (through the nameserver's cluster info or the topic's route).

mod groups;
mod ha_role;
mod messages;
mod offsets;
mod topics;

use std::collections::BTreeMap;

use skylark_protocol::body::{Body, ClusterInfo, KVTable};
use skylark_protocol::{RemotingCommand, RequestCode};

pub use groups::ConsumerConnection;
pub use offsets::{ConsumeProgress, QueueProgress};
pub use topics::{QueueStatus, TopicDescription};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;

/// An admin client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    instance: ClientInstance,
}

/// One master broker: its name, cluster and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMaster {
    /// Cluster name.
    pub cluster: String,
    /// Broker (group) name.
    pub broker_name: String,
    /// The master's address.
    pub addr: String,
}

impl Admin {
    /// An admin client on the shared instance of `config`'s client id.
    /// Must be called inside a tokio runtime.
    pub fn start(config: ClientConfig) -> Result<Self, ClientError> {
        Ok(Self {
            instance: ClientInstance::get_or_create(config)?,
        })
    }

    /// An admin client for the nameservers `namesrv` (`a:9876;b:9876`).
    pub fn with_namesrv(namesrv: &str) -> Result<Self, ClientError> {
        Self::start(ClientConfig::with_namesrv(namesrv))
    }

    /// An admin client on a given instance.
    pub fn on(instance: ClientInstance) -> Self {
        Self { instance }
    }

    /// The instance underneath.
    pub fn instance(&self) -> &ClientInstance {
        &self.instance
    }

    /// Closes the instance when this admin is its last user.
    pub fn shutdown(&self) {
        if self.instance.users() <= 1 {
            self.instance.shutdown();
        }
    }

    /// `cmd` to `addr`; a non-SUCCESS answer is an error.
    async fn call(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, ClientError> {
        self.instance.invoke_ok(addr, cmd).await
    }

    /// The decoded body of `cmd`'s answer from `addr`.
    async fn call_body<B: Body>(&self, addr: &str, cmd: RemotingCommand) -> Result<B, ClientError> {
        let response = self.call(addr, cmd).await?;
        Ok(B::decode(&response.body)?)
    }

    // ----- cluster -------------------------------------------------------

    /// Clusters, their brokers and addresses (GET_BROKER_CLUSTER_INFO).
    pub async fn cluster_info(&self) -> Result<ClusterInfo, ClientError> {
        let response = self
            .instance
            .invoke_namesrv_ok(RemotingCommand::bare_request(
                RequestCode::GET_BROKER_CLUSTER_INFO,
            ))
            .await?;
        Ok(ClusterInfo::decode(&response.body)?)
    }

    /// The masters of `cluster`, or of every cluster when `None`, sorted by
    /// broker name. An unknown cluster is an error.
    pub async fn masters(&self, cluster: Option<&str>) -> Result<Vec<BrokerMaster>, ClientError> {
        let info = self.cluster_info().await?;
        if let Some(c) = cluster
            && !info.cluster_addr_table.contains_key(c)
        {
            return Err(ClientError::NotFound(format!("cluster {c}")));
        }
        let mut masters = Vec::new();
        for (cluster_name, brokers) in &info.cluster_addr_table {
            if cluster.is_some_and(|c| c != cluster_name) {
                continue;
            }
            for name in brokers {
                if let Some(addr) = info
                    .broker_addr_table
                    .get(name)
                    .and_then(|b| b.master_addr())
                {
                    masters.push(BrokerMaster {
                        cluster: cluster_name.clone(),
                        broker_name: name.clone(),
                        addr: addr.to_owned(),
                    });
                }
            }
        }
        masters.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        Ok(masters)
    }

    /// [`Admin::masters`], but no master registered is an error: for
    /// commands that must reach at least one broker.
    async fn some_masters(&self, cluster: Option<&str>) -> Result<Vec<BrokerMaster>, ClientError> {
        let masters = self.masters(cluster).await?;
        if masters.is_empty() {
            return Err(ClientError::NotFound(
                "no master broker is registered".into(),
            ));
        }
        Ok(masters)
    }

    /// A broker's runtime figures (GET_BROKER_RUNTIME_INFO): `msgPutTotalTodayNow`,
    /// `commitLogDiskRatio`, `brokerVersionDesc`, …
    pub async fn broker_runtime_info(
        &self,
        addr: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let table: KVTable = self
            .call_body(
                addr,
                RemotingCommand::bare_request(RequestCode::GET_BROKER_RUNTIME_INFO),
            )
            .await?;
        Ok(table.table)
    }

    /// A broker's configuration as `key=value` lines (GET_BROKER_CONFIG), parsed.
    pub async fn broker_config(&self, addr: &str) -> Result<BTreeMap<String, String>, ClientError> {
        let response = self
            .call(
                addr,
                RemotingCommand::bare_request(RequestCode::GET_BROKER_CONFIG),
            )
            .await?;
        let text = String::from_utf8_lossy(&response.body);
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect())
    }
}
