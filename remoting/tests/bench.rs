#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark: its output is the figures
//! Throughput check, not run by default:
//! `cargo test --release -p skylark-remoting --test bench -- --ignored --nocapture`.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use skylark_remoting::RemotingClient;

const N: usize = 200_000;
const WINDOW: usize = 1024;

/// Keeps `WINDOW` invokes in flight until `N` have answered with a 1 KiB
/// body, then prints the rate. `invoke` starts one call.
async fn measure<F, Fut>(label: &str, mut invoke: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Bytes>,
{
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let (mut sent, mut done) = (0, 0);
    while done < N {
        while sent < N && in_flight.len() < WINDOW {
            in_flight.push(invoke());
            sent += 1;
        }
        let body = in_flight.next().await.unwrap();
        assert_eq!(body.len(), 1024);
        done += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "{N} pipelined 1 KiB requests (window {WINDOW}{label}) in {elapsed:?}: {:.0} req/s",
        N as f64 / elapsed.as_secs_f64()
    );
}

/// A server and a client that has made one call (connection established).
async fn warmed_up() -> (common::Running, RemotingClient, String, Bytes) {
    let server = common::start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let body = Bytes::from(vec![7u8; 1024]);
    client
        .invoke(&addr, common::echo(body.clone()), Duration::from_secs(5))
        .await
        .unwrap();
    (server, client, addr, body)
}

/// Pipelined 1 KiB echo requests over loopback, one connection, with a
/// window of requests in flight, each invoke in its own task.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn pipelined_echo_rate() {
    let (server, client, addr, body) = warmed_up().await;
    measure("", || {
        let (client, addr, request) = (client.clone(), addr.clone(), common::echo(body.clone()));
        // Spawned so requests are encoded and completed on all workers.
        let task =
            tokio::spawn(
                async move { client.invoke(&addr, request, Duration::from_secs(30)).await },
            );
        async move { task.await.unwrap().unwrap().body }
    })
    .await;
    server.shutdown().await;
}

/// The same, with every invoke polled from one task (no spawn per call).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn pipelined_echo_rate_one_caller_task() {
    let (server, client, addr, body) = warmed_up().await;
    measure(", one caller task", || {
        let call = client.invoke(&addr, common::echo(body.clone()), Duration::from_secs(30));
        async move { call.await.unwrap().body }
    })
    .await;
    server.shutdown().await;
}
