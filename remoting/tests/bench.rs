#![allow(clippy::unwrap_used)]
//! Throughput check, not run by default:
//! `cargo test --release -p skylark-remoting --test bench -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use skylark_remoting::RemotingClient;

const N: usize = 200_000;
const WINDOW: usize = 1024;

/// Pipelined 1 KiB echo requests over loopback, one connection, with a
/// window of requests in flight, each invoke in its own task.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn pipelined_echo_rate() {
    let server = common::start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let body = bytes::Bytes::from(vec![7u8; 1024]);
    client
        .invoke(&addr, common::echo(body.clone()), Duration::from_secs(5))
        .await
        .unwrap();
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut sent = 0;
    let mut done = 0;
    while done < N {
        while sent < N && in_flight.len() < WINDOW {
            let client = client.clone();
            let addr = addr.clone();
            let request = common::echo(body.clone());
            // Spawned so requests are encoded and completed on all workers.
            in_flight.push(tokio::spawn(async move {
                client.invoke(&addr, request, Duration::from_secs(30)).await
            }));
            sent += 1;
        }
        let response = in_flight.next().await.unwrap().unwrap().unwrap();
        assert_eq!(response.body.len(), 1024);
        done += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "{N} pipelined 1 KiB requests (window {WINDOW}) in {elapsed:?}: {:.0} req/s",
        N as f64 / elapsed.as_secs_f64()
    );
    server.shutdown().await;
}

/// The same, with every invoke polled from one task (no spawn per call).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn pipelined_echo_rate_one_caller_task() {
    let server = common::start().await;
    let client = RemotingClient::default();
    let addr = server.addr();
    let body = bytes::Bytes::from(vec![7u8; 1024]);
    client
        .invoke(&addr, common::echo(body.clone()), Duration::from_secs(5))
        .await
        .unwrap();
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut sent = 0;
    let mut done = 0;
    while done < N {
        while sent < N && in_flight.len() < WINDOW {
            in_flight.push(client.invoke(
                &addr,
                common::echo(body.clone()),
                Duration::from_secs(30),
            ));
            sent += 1;
        }
        let response = in_flight.next().await.unwrap().unwrap();
        assert_eq!(response.body.len(), 1024);
        done += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "{N} pipelined 1 KiB requests (window {WINDOW}, one caller task) in {elapsed:?}: {:.0} req/s",
        N as f64 / elapsed.as_secs_f64()
    );
    server.shutdown().await;
}
