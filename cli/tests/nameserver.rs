#![allow(clippy::unwrap_used)]
#![cfg(unix)]
//! `skylark nameserver` serves requests and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use skylark_protocol::{RemotingCommand, RequestCode};
use skylark_remoting::RemotingClient;

#[tokio::test]
async fn nameserver_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skylark"))
        .args(["nameserver", "--listen", "127.0.0.1:0", "--no-persist"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // The bound port is only known from the log line.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.split("name server started local_addr=").nth(1) {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).unwrap();

    let client = RemotingClient::default();
    let response = client
        .invoke(
            &addr,
            RemotingCommand::bare_request(RequestCode::GET_BROKER_CLUSTER_INFO),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(response.code, 0);
    assert_eq!(
        &response.body[..],
        br#"{"brokerAddrTable":{},"clusterAddrTable":{}}"#
    );

    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
