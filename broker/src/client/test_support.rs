//! Test helpers shared by the client-table and processor tests: real
//! loopback connections whose far end records the requests it is sent.

use std::sync::Arc;
use std::time::Duration;

use skylark_protocol::body::{
    Body, ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, KeyStyle, MessageModel,
    ProducerData, SubscriptionData,
};
use skylark_protocol::{LanguageCode, RemotingCommand, RequestCode};
use skylark_remoting::{
    ConnectionHandle, RemotingClient, RemotingServer, RequestHandler, ServerConfig,
};
use skylark_store::config::MessageStoreConfig;
use tokio::sync::{mpsc, oneshot};

use super::ClientChannelInfo;
use crate::{Broker, BrokerConfig};

/// Hang guard for anything a test waits for.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Forwards every request it receives to a channel; answers none.
#[derive(Debug)]
pub(crate) struct Recorder(mpsc::UnboundedSender<RemotingCommand>);

impl RequestHandler for Recorder {
    async fn handle(
        &self,
        _conn: &ConnectionHandle,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let _ = self.0.send(request);
        None
    }
}

/// The requests a [`Recorder`] received.
#[derive(Debug)]
pub(crate) struct Received(mpsc::UnboundedReceiver<RemotingCommand>);

impl Received {
    /// The next request, waiting up to [`WAIT`].
    pub(crate) async fn next(&mut self) -> RemotingCommand {
        tokio::time::timeout(WAIT, self.0.recv())
            .await
            .expect("no request arrived in time")
            .expect("recorder dropped")
    }

    /// The next NOTIFY_CONSUMER_IDS_CHANGED's group.
    pub(crate) async fn next_notified_group(&mut self) -> String {
        let request = self.next().await;
        assert_eq!(
            request.request_code(),
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED
        );
        assert!(request.is_oneway());
        request
            .ext("consumerGroup")
            .expect("no consumerGroup")
            .to_owned()
    }

    /// Whether nothing has arrived so far (no waiting).
    pub(crate) fn is_empty(&mut self) -> bool {
        self.0.try_recv().is_err()
    }
}

fn recorder() -> (Arc<Recorder>, Received) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder(tx)), Received(rx))
}

/// A stand-in client for the managers' own tests: a real connection whose
/// broker-side handle is `conn`; what the broker sends on it is recorded.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The handle the managers store and send on.
    pub(crate) conn: ConnectionHandle,
    /// What arrived at the client's end.
    pub(crate) received: Received,
    _client: RemotingClient,
    _stop: oneshot::Sender<()>,
}

impl Peer {
    /// Opens one loopback connection.
    pub(crate) async fn connect() -> Self {
        let (handler, received) = recorder();
        let server = RemotingServer::bind("127.0.0.1:0", handler, ServerConfig::default())
            .await
            .unwrap();
        let addr = server.local_addr().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.serve(async {
            stopped.await.ok();
        }));
        // Roles are mirrored: this client's handle plays the broker's
        // channel, the server plays the consumer receiving requests.
        let client = RemotingClient::default();
        let conn = client.connection(&addr).await.unwrap();
        Self {
            conn,
            received,
            _client: client,
            _stop: stop,
        }
    }

    /// This connection as member `client_id`.
    pub(crate) fn channel(&self, client_id: &str) -> ClientChannelInfo {
        ClientChannelInfo::new(self.conn.clone(), client_id, LanguageCode::Java, 479)
    }
}

/// A broker served on a loopback port.
#[derive(Debug)]
pub(crate) struct TestBroker {
    /// The broker's state.
    pub(crate) broker: Arc<Broker>,
    /// `127.0.0.1:port`.
    pub(crate) addr: String,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    /// Opens a broker on a fresh store, with `tweak` applied to its config.
    pub(crate) async fn start(tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig {
            store: MessageStoreConfig::with_root(dir.path()),
            ..BrokerConfig::default()
        };
        tweak(&mut config);
        let broker = Arc::new(Broker::open(config).unwrap());
        let server = RemotingServer::bind("127.0.0.1:0", broker.clone(), ServerConfig::default())
            .await
            .unwrap();
        let addr = server.local_addr().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.serve(async {
            stopped.await.ok();
        }));
        Self {
            broker,
            addr,
            _stop: stop,
            _dir: dir,
        }
    }
}

/// A client application connected to a [`TestBroker`], recording what the
/// broker pushes to it.
#[derive(Debug)]
pub(crate) struct TestClient {
    /// Its client id.
    pub(crate) client_id: String,
    /// Requests the broker sent it.
    pub(crate) received: Received,
    client: RemotingClient,
    addr: String,
}

impl TestClient {
    /// Connects `client_id` to the broker at `addr`.
    pub(crate) async fn connect(addr: &str, client_id: &str) -> Self {
        let (handler, received) = recorder();
        let client = RemotingClient::default();
        client.set_request_handler(handler);
        client.connection(addr).await.unwrap();
        Self {
            client_id: client_id.to_owned(),
            received,
            client,
            addr: addr.to_owned(),
        }
    }

    /// Sends `request` and returns the answer.
    pub(crate) async fn invoke(&self, request: RemotingCommand) -> RemotingCommand {
        self.client.invoke(&self.addr, request, WAIT).await.unwrap()
    }

    /// Sends a v1 heartbeat with `consumers` and `producers`.
    pub(crate) async fn heartbeat(
        &self,
        consumers: Vec<ConsumerData>,
        producers: &[&str],
    ) -> RemotingCommand {
        let data = HeartbeatData {
            client_id: self.client_id.clone(),
            consumer_data_set: consumers,
            producer_data_set: producers
                .iter()
                .map(|g| ProducerData {
                    group_name: (*g).to_owned(),
                })
                .collect(),
            ..HeartbeatData::default()
        };
        self.send_heartbeat(&data).await
    }

    /// Sends `data` as a heartbeat.
    pub(crate) async fn send_heartbeat(&self, data: &HeartbeatData) -> RemotingCommand {
        let request = RemotingCommand::bare_request(RequestCode::HEART_BEAT)
            .with_body(data.encode(KeyStyle::Unquoted));
        self.invoke(request).await
    }

    /// Closes the connection, as a consumer process exiting does.
    pub(crate) fn close(&self) {
        self.client.shutdown();
    }
}

/// A clustering push consumer of `group` subscribed to `topics` (all tags).
pub(crate) fn push_consumer(group: &str, topics: &[&str]) -> ConsumerData {
    ConsumerData {
        group_name: group.to_owned(),
        consume_type: Some(ConsumeType::ConsumePassively),
        message_model: Some(MessageModel::Clustering),
        consume_from_where: Some(ConsumeFromWhere::ConsumeFromLastOffset),
        unit_mode: false,
        subscription_data_set: topics
            .iter()
            .map(|topic| SubscriptionData {
                topic: (*topic).to_owned(),
                sub_string: SubscriptionData::SUB_ALL.to_owned(),
                sub_version: 1,
                ..SubscriptionData::default()
            })
            .collect(),
    }
}
