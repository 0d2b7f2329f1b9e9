//! A loopback TCP proxy that a test can hold and cut: a replica reaches its
//! master's HA port through it, so the HA connection can be broken while
//! both brokers keep running and clients still reach them.
//!
//! Holding stops forwarding in both directions without closing anything
//! (as a network partition: no FIN, no RST — the bytes wait in the kernel's
//! buffers); releasing resumes. Cutting holds for good, new connections
//! included. Dropping the proxy closes every connection.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A running proxy from a loopback port to `upstream`.
pub(crate) struct CutProxy {
    addr: String,
    flowing: watch::Sender<bool>,
    _tasks: JoinSet<()>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub(crate) async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (flowing, _) = watch::channel(true);
        let mut tasks = JoinSet::new();
        let upstream = upstream.to_owned();
        let gate = flowing.clone();
        tasks.spawn(async move {
            // Each connection's task ends with the proxy (the set aborts them).
            let mut connections = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let gate = gate.subscribe();
                connections.spawn(async move {
                    // A connection made while cut reaches nothing.
                    if !open(&mut gate.clone()).await {
                        return;
                    }
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, gate.clone()),
                        pump(server_read, client_write, gate),
                    );
                });
            }
        });
        Self {
            addr,
            flowing,
            _tasks: tasks,
        }
    }

    /// The proxy's address (`127.0.0.1:port`).
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Stops forwarding; connections stay open, their bytes wait.
    pub(crate) fn hold(&self) {
        self.flowing.send_replace(false);
    }

    /// Forwards again after [`hold`](Self::hold).
    pub(crate) fn release(&self) {
        self.flowing.send_replace(true);
    }

    /// Holds for good: the partition of the tests.
    pub(crate) fn cut(&self) {
        self.hold();
    }
}

/// Copies `from` to `to` while the gate is open; a closed side ends it.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if !open(&mut gate).await {
            return;
        }
        // Held while waiting for bytes: what arrives waits for the release.
        let read = tokio::select! {
            read = from.read(&mut buf) => Some(read),
            () = async { let _ = gate.wait_for(|f| !*f).await; } => None,
        };
        let n = match read {
            None => continue,
            Some(Ok(0) | Err(_)) => {
                let _ = to.shutdown().await;
                return;
            }
            Some(Ok(n)) => n,
        };
        if !open(&mut gate).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits until the gate is open; false when the proxy is gone.
async fn open(gate: &mut watch::Receiver<bool>) -> bool {
    gate.wait_for(|f| *f).await.is_ok()
}
