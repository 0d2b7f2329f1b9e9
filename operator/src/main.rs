//! `skylark-operator`: runs the BrokerGroup, Topic and ConsumerGroup
//! controllers while this replica holds the leader Lease, and serves
//! /metrics, /healthz and /readyz.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use skylark_operator::admin::ClientAdmin;
use skylark_operator::controller::{self, Context, Settings};
use skylark_operator::leader::LeaseLock;
use skylark_operator::metrics::Metrics;
use tokio::sync::watch;

/// How long running reconciles get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The Skylark Kubernetes operator.
#[derive(Debug, Parser)]
#[command(name = "skylark-operator", version, about)]
struct Args {
    /// Broker image for BrokerGroups that set no spec.image.
    #[arg(long, env = "SKYLARK_BROKER_IMAGE", default_value = "skylark:latest")]
    broker_image: String,
    /// namesrvAddr for BrokerGroups that set no spec.nameServer (`a:9876;b:9876`).
    #[arg(long, env = "SKYLARK_NAMESRV_ADDR")]
    namesrv_addr: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "SKYLARK_OPERATOR_HTTP_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    http_addr: String,
    /// Run without leader election (one replica only).
    #[arg(long)]
    no_leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "SKYLARK_LEASE_NAME", default_value = "skylark-operator")]
    lease_name: String,
    /// Namespace of the leader Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity in the Lease and in events.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds a Lease stays valid without renewal.
    #[arg(long, default_value_t = 15)]
    lease_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("skylark-operator-{}", std::process::id()));
    let client = kube::Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG)")?;
    let metrics = Metrics::new().context("cannot register metrics")?;

    let listener = tokio::net::TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let router = skylark_operator::http::router(Arc::new(metrics.clone()));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "HTTP server stopped");
        }
    });

    // Leadership: `leading` turns false when renewal fails; then we stop.
    let (leading_tx, mut leading) = watch::channel(args.no_leader_election);
    let mut lock = None;
    if !args.no_leader_election {
        let lease = LeaseLock::new(
            client.clone(),
            &args.lease_namespace,
            &args.lease_name,
            &identity,
            Duration::from_secs(args.lease_seconds),
        );
        lock = Some(lease.clone());
        tokio::spawn(skylark_operator::leader::hold(lease, leading_tx));
        tracing::info!(lease = %args.lease_name, %identity, "waiting for the leader lease");
        leading
            .wait_for(|l| *l)
            .await
            .context("leader election stopped")?;
        tracing::info!("leading");
    }

    let admin = ClientAdmin::start().context("cannot start the admin client")?;
    let settings = Settings {
        broker_image: args.broker_image,
        namesrv_addr: args.namesrv_addr,
    };
    let ctx = Arc::new(Context::new(
        client,
        admin,
        settings,
        metrics,
        Some(identity),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut controllers = tokio::spawn(futures::future::join3(
        controller::broker_group::run(ctx.clone(), stopped(stop_rx.clone())),
        controller::topic::run(ctx.clone(), stopped(stop_rx.clone())),
        controller::consumer_group::run(ctx, stopped(stop_rx)),
    ));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let outcome = tokio::select! {
        _ = &mut controllers => return Err(anyhow::anyhow!("the controllers stopped")),
        _ = tokio::signal::ctrl_c() => Ok("interrupted"),
        _ = terminate.recv() => Ok("terminated"),
        _ = leading.wait_for(|l| !*l) => Err(anyhow::anyhow!("lost the leader lease")),
    };
    // Let running reconciles finish, then hand the lease over at once.
    let _ = stop_tx.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, controllers)
        .await
        .is_err()
    {
        tracing::warn!("controllers did not stop in time");
    }
    if let Some(lock) = lock {
        if let Err(error) = lock.release().await {
            tracing::warn!(%error, "cannot release the leader lease");
        }
    }
    let why = outcome?;
    tracing::info!(why, "stopped");
    Ok(())
}
