//! skylark-node-agent: registers a Node and runs the Pods bound to it as
//! local processes (a test-only kubelet). Each pod gets its own network
//! namespace and an address on the bridge the test made; see e2e/README.md.

mod binder;
mod container;
mod context;
mod dispatch;
mod hosts;
mod netns;
mod node;
mod pod;
mod pod_status;
mod probe;
mod provisioner;
mod spec;
mod volumes;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "skylark-node-agent",
    about = "A small kubelet for end-to-end tests"
)]
struct Args {
    /// Kubeconfig with the credentials the agent uses.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Name of the Node to register.
    #[arg(long)]
    node_name: String,
    /// Folder for pod logs, volumes and persistent-volume directories.
    #[arg(long)]
    state_dir: PathBuf,
    /// Bridge (made by the test) into which pod namespaces are plugged.
    #[arg(long)]
    bridge: String,
    /// The bridge's /24; .1 is the bridge itself, pods get .2 to .254.
    #[arg(long)]
    pod_cidr: String,
    /// Prefix of the pod network namespaces' names (the test sweeps them).
    #[arg(long)]
    netns_prefix: String,
    /// Image name (last path segment, tag ignored) = local binary, repeatable.
    #[arg(long = "image", value_parser = parse_image)]
    images: Vec<(String, PathBuf)>,
    /// First restart back-off in milliseconds (Kubernetes uses 10 s; tests want less).
    #[arg(long, default_value_t = 1000)]
    backoff_initial_ms: u64,
    /// Longest restart back-off in milliseconds.
    #[arg(long, default_value_t = 20_000)]
    backoff_max_ms: u64,
}

fn parse_image(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PATH, got {s}"))?;
    Ok((name.to_string(), PathBuf::from(path)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .with_ansi(false)
        .init();
    let args = Args::parse();
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let api_port = config
        .cluster_url
        .port_u16()
        .context("the kubeconfig's server has no port")?;
    let client = kube::Client::try_from(config)?;
    let network = netns::Network::new(&args.bridge, &args.pod_cidr, &args.netns_prefix)?;
    let ctx = Arc::new(context::Context::new(
        client,
        args.node_name,
        args.state_dir,
        args.images.into_iter().collect(),
        network,
        api_port,
        (args.backoff_initial_ms, args.backoff_max_ms),
    )?);

    node::register(&ctx).await?;
    let tasks = vec![
        tokio::spawn(node::heartbeat(ctx.clone())),
        tokio::spawn(binder::run(ctx.clone())),
        tokio::spawn(provisioner::run(ctx.clone())),
        tokio::spawn(hosts::run(ctx.clone())),
    ];
    let dispatcher = dispatch::Dispatcher::new(ctx.clone());
    let dispatch_task = tokio::spawn(dispatcher.clone().run());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping pods"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping pods"),
    }
    dispatch_task.abort();
    for t in &tasks {
        t.abort();
    }
    dispatcher.shutdown().await;
    ctx.network.sweep();
    Ok(())
}
