//! One pod's life on this node: network namespace, volumes, init containers,
//! containers restarted per restartPolicy with back-off, probes, and on
//! deletion SIGTERM → grace period → SIGKILL, teardown, and finalization.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::container::{Launch, exit_code, prelude, terminate};
use crate::context::Context;
use crate::netns::{PodNet, api_relay};
use crate::pod_status::{CState, PodState, Shared, writer};
use crate::probe::{Timing, run_once};
use crate::spec::{PodFacts, argv, environment, pod_hostname};
use crate::volumes;

/// What the dispatcher asks of a pod worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep running.
    No,
    /// The pod is being deleted: stop within this grace period, then finalize it.
    Delete(Duration),
    /// The pod is gone from the API: kill at once.
    Gone,
    /// The agent is shutting down: stop within this grace, leave the API object.
    Shutdown(Duration),
}

impl Stop {
    fn grace(self) -> Duration {
        match self {
            Stop::Delete(g) | Stop::Shutdown(g) => g,
            Stop::No | Stop::Gone => Duration::ZERO,
        }
    }
}

/// Handle of a running pod worker.
#[derive(Debug)]
pub(crate) struct PodHandle {
    /// Tells the worker to stop.
    pub(crate) stop: watch::Sender<Stop>,
    /// The worker.
    pub(crate) task: JoinHandle<()>,
}

/// Starts the worker of a pod.
pub(crate) fn start(ctx: Arc<Context>, pod: Pod) -> PodHandle {
    let (stop, stop_rx) = watch::channel(Stop::No);
    let task = tokio::spawn(async move {
        let name = pod.metadata.name.clone().unwrap_or_default();
        if let Err(e) = run(ctx, pod, stop_rx).await {
            tracing::error!(pod = %name, error = %e, "pod worker failed");
        }
    });
    PodHandle { stop, task }
}

/// Waits `d`, or less if a stop is requested; true if stopping.
async fn sleep_or_stop(stop: &mut watch::Receiver<Stop>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s != Stop::No) => return true,
    }
    *stop.borrow() != Stop::No
}

/// Everything a container runner needs about its pod.
#[derive(Debug)]
struct PodEnv {
    ctx: Arc<Context>,
    pod: Pod,
    net: PodNet,
    facts: PodFacts,
    volumes: HashMap<String, PathBuf>,
    dir: PathBuf,
    shared: Arc<Shared>,
    restart_policy: String,
}

async fn run(ctx: Arc<Context>, pod: Pod, mut stop: watch::Receiver<Stop>) -> anyhow::Result<()> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let shared = Shared::new(PodState::new(&pod, ctx.network.gateway.to_string()));
    let writer_task = tokio::spawn(writer(api.clone(), name.clone(), shared.clone()));
    shared.update(|_| ());
    let dir = ctx.pod_dir(&ns, &name);
    let volume_root = dir.join(format!("volumes-{uid}"));
    std::fs::create_dir_all(&dir)?;
    tracing::info!(namespace = %ns, pod = %name, "starting pod");

    if pod.spec.as_ref().and_then(|s| s.host_network) == Some(true) {
        tracing::error!(namespace = %ns, pod = %name, "hostNetwork is not supported: every pod gets its own namespace");
        shared.update(|s| {
            s.phase = "Failed";
            s.message = Some("hostNetwork is not supported by skylark-node-agent".into());
        });
        let _ = stop.wait_for(|s| *s != Stop::No).await;
        let reason = *stop.borrow();
        return finish(&api, &name, &uid, reason, writer_task).await;
    }
    let net = loop {
        match ctx.network.create(&uid) {
            Ok(net) => break Some(net),
            Err(e) => {
                shared.update(|s| s.message = Some(format!("pod network: {e:#}")));
                if sleep_or_stop(&mut stop, Duration::from_secs(1)).await {
                    break None;
                }
            }
        }
    };
    let Some(net) = net else {
        let reason = *stop.borrow();
        return finish(&api, &name, &uid, reason, writer_task).await;
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let hostname = pod_hostname(&pod);
    ctx.hosts.register(
        &uid,
        &net.netns,
        &ns,
        &hostname,
        spec.subdomain.clone(),
        &net.ip.to_string(),
    )?;
    let relay = match api_relay(net.netns.clone(), ctx.api_port).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(pod = %name, error = %e, "no API relay in the pod");
            None
        }
    };
    shared.update(|s| s.pod_ip = Some(net.ip.to_string()));
    let facts = PodFacts {
        pod_ip: net.ip.to_string(),
        host_ip: ctx.network.gateway.to_string(),
    };

    let vols = loop {
        match volumes::prepare(&ctx, &pod, &volume_root, &facts).await {
            Ok(v) => break Some(v),
            Err(e) => {
                let msg = format!("{e:#}");
                shared.update(|s| {
                    for c in s.init.iter_mut().chain(s.containers.iter_mut()) {
                        c.state = CState::waiting("ContainerCreating", msg.clone());
                    }
                });
                if sleep_or_stop(&mut stop, Duration::from_secs(1)).await {
                    break None;
                }
            }
        }
    };

    let mut mountpoints = Vec::new();
    let vols = match vols {
        Some(volumes) => {
            let all: Vec<&Container> = spec
                .init_containers
                .iter()
                .flatten()
                .chain(&spec.containers)
                .collect();
            match ctx.mountpoints.claim(&all, &volumes) {
                Ok(m) => {
                    mountpoints = m;
                    Some(volumes)
                }
                Err(e) => {
                    let msg = format!("mount points: {e:#}");
                    shared.update(|s| {
                        s.phase = "Failed";
                        s.message = Some(msg);
                    });
                    None
                }
            }
        }
        None => None,
    };
    if let Some(volumes) = vols {
        let env = Arc::new(PodEnv {
            ctx: ctx.clone(),
            pod: pod.clone(),
            net: net.clone(),
            facts,
            volumes,
            dir: dir.clone(),
            shared: shared.clone(),
            restart_policy: spec
                .restart_policy
                .clone()
                .unwrap_or_else(|| "Always".into()),
        });
        let mut init_ok = true;
        for (i, c) in spec.init_containers.iter().flatten().enumerate() {
            let code = run_container(env.clone(), c.clone(), i, true, stop.clone()).await;
            if code != Some(0) {
                init_ok = false;
                break;
            }
        }
        if init_ok && *stop.borrow() == Stop::No {
            shared.update(|s| {
                s.initialized = true;
                s.phase = "Running";
            });
            let runners: Vec<_> = spec
                .containers
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    tokio::spawn(run_container(
                        env.clone(),
                        c.clone(),
                        i,
                        false,
                        stop.clone(),
                    ))
                })
                .collect();
            let mut codes = Vec::new();
            for r in runners {
                codes.push(r.await.ok().flatten());
            }
            if *stop.borrow() == Stop::No {
                let ok = codes.iter().all(|c| *c == Some(0));
                shared.update(|s| s.phase = if ok { "Succeeded" } else { "Failed" });
            }
        } else if *stop.borrow() == Stop::No {
            shared.update(|s| s.phase = "Failed");
        }
    }

    // Teardown: the sandbox goes once nothing runs in it any more.
    if let Some(r) = relay {
        r.abort();
    }
    ctx.hosts.unregister(&uid);
    ctx.network.destroy(&net);
    ctx.mountpoints.release(&mountpoints);
    let _ = std::fs::remove_dir_all(&volume_root);
    shared.update(|s| s.pod_ip = None);
    // A pod that finished by itself waits for its deletion.
    let _ = stop.wait_for(|s| *s != Stop::No).await;
    let reason = *stop.borrow();
    tracing::info!(namespace = %ns, pod = %name, ?reason, "pod stopped");
    finish(&api, &name, &uid, reason, writer_task).await
}

/// After the pod's processes are gone: a deleted pod is removed for good
/// (grace 0, only this incarnation of it).
async fn finish(
    api: &Api<Pod>,
    name: &str,
    uid: &str,
    reason: Stop,
    writer_task: JoinHandle<()>,
) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    writer_task.abort();
    if let Stop::Delete(_) = reason {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn status_of(
    shared: &Shared,
    init: bool,
    idx: usize,
    f: impl FnOnce(&mut crate::pod_status::CStatus),
) {
    shared.update(|s| {
        let list = if init { &mut s.init } else { &mut s.containers };
        if let Some(c) = list.get_mut(idx) {
            f(c);
        }
    });
}

async fn launch_of(env: &PodEnv, c: &Container) -> anyhow::Result<Launch> {
    let vars = environment(&env.ctx, &env.pod, c, &env.facts).await?;
    let (program, args) = argv(&env.ctx, c, &vars)?;
    Ok(Launch {
        netns: env.net.netns.clone(),
        prelude: prelude(c, &env.volumes)?,
        program,
        args,
        env: vars,
    })
}

/// What ended a container run.
enum Event {
    Exited(Option<std::process::ExitStatus>),
    Unhealthy(&'static str),
    Stop,
}

/// Runs a container until it is done for good (per restartPolicy) or stopped;
/// returns its last exit code (None if it never ran to an exit).
async fn run_container(
    env: Arc<PodEnv>,
    c: Container,
    idx: usize,
    init: bool,
    mut stop: watch::Receiver<Stop>,
) -> Option<i32> {
    let shared = &env.shared;
    let (first_backoff, max_backoff) = env.ctx.backoff;
    let mut backoff = first_backoff;
    let log = env.dir.join(format!("{}.log", c.name));
    loop {
        if *stop.borrow() != Stop::No {
            return None;
        }
        let launched = match launch_of(&env, &c).await {
            Ok(l) => l.spawn(Some(&log), None).map(|child| (l, child)),
            Err(e) => Err(e),
        };
        let (launch, mut child) = match launched {
            Ok(x) => x,
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::warn!(pod = ?env.pod.metadata.name, container = %c.name, error = %msg, "cannot start container");
                status_of(shared, init, idx, |s| {
                    s.state = CState::waiting("CreateContainerError", msg)
                });
                if sleep_or_stop(&mut stop, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        let started = Timestamp::now();
        let began = Instant::now();
        let pid = child.id();
        tracing::info!(pod = ?env.pod.metadata.name, container = %c.name, ?pid, program = %launch.program.display(), "container started");
        if c.lifecycle.as_ref().is_some_and(|l| l.post_start.is_some()) {
            tracing::warn!(pod = ?env.pod.metadata.name, container = %c.name, "postStart hooks are not supported by the node agent; not run");
        }
        let has_readiness = c.readiness_probe.is_some() && !init;
        let has_startup = c.startup_probe.is_some() && !init;
        status_of(shared, init, idx, |s| {
            s.state = CState::Running { started };
            s.pid = pid;
            s.started = !has_startup;
            s.ready = !has_readiness;
        });
        let (dead_tx, mut dead_rx) = tokio::sync::mpsc::channel::<&'static str>(1);
        let probes = (!init).then(|| {
            tokio::spawn(probe_loop(
                env.clone(),
                c.clone(),
                idx,
                launch.clone(),
                dead_tx,
            ))
        });
        let event = tokio::select! {
            s = child.wait() => Event::Exited(s.ok()),
            Some(why) = dead_rx.recv() => Event::Unhealthy(why),
            _ = stop.wait_for(|s| *s != Stop::No) => Event::Stop,
        };
        let (status, stopped, reason) = match event {
            Event::Exited(s) => (s, false, None),
            Event::Unhealthy(why) => {
                tracing::info!(pod = ?env.pod.metadata.name, container = %c.name, why, "restarting container");
                let secs = env
                    .pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
                    .unwrap_or(30);
                (
                    terminate(&mut child, Duration::from_secs(secs.max(0).unsigned_abs())).await,
                    false,
                    Some(why),
                )
            }
            Event::Stop => {
                let grace = stop.borrow().grace();
                let begun = Instant::now();
                if grace > Duration::ZERO {
                    pre_stop(&env, &c, &launch, grace).await;
                }
                (
                    terminate(&mut child, grace.saturating_sub(begun.elapsed())).await,
                    true,
                    None,
                )
            }
        };
        if let Some(p) = probes {
            p.abort();
        }
        let (code, signal) = exit_code(status);
        tracing::info!(pod = ?env.pod.metadata.name, container = %c.name, code, ?signal, "container exited");
        let terminated = CState::Terminated {
            exit_code: code,
            signal,
            reason: reason
                .unwrap_or(if code == 0 { "Completed" } else { "Error" })
                .to_string(),
            started,
            finished: Timestamp::now(),
        };
        let policy = env.restart_policy.as_str();
        let restart = !stopped
            && match (init, policy) {
                (_, "Never") => false,
                (true, _) | (false, "OnFailure") => code != 0,
                (false, _) => true,
            };
        status_of(shared, init, idx, |s| {
            s.ready = false;
            s.started = false;
            s.pid = None;
            if restart {
                s.last = Some(terminated);
                s.restart_count += 1;
                s.state = CState::waiting(
                    "CrashLoopBackOff",
                    format!(
                        "back-off {} ms restarting failed container",
                        backoff.as_millis()
                    ),
                );
            } else {
                s.state = terminated;
            }
        });
        if !restart {
            return if stopped { None } else { Some(code) };
        }
        if began.elapsed() > Duration::from_secs(60) {
            backoff = first_backoff;
        }
        if sleep_or_stop(&mut stop, backoff).await {
            return None;
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// Runs the container's preStop hook (exec only) within the grace period.
async fn pre_stop(env: &PodEnv, c: &Container, launch: &Launch, grace: Duration) {
    let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) else {
        return;
    };
    let name = env.pod.metadata.name.as_deref().unwrap_or("");
    let Some(argv) = hook.exec.as_ref().and_then(|e| e.command.clone()) else {
        tracing::warn!(pod = name, container = %c.name, "only exec preStop hooks are supported; this one was not run");
        return;
    };
    match launch.spawn(None, Some(&argv)) {
        Ok(mut child) => {
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                if let Some(pid) = child.id() {
                    crate::container::signal_group(pid, libc::SIGKILL);
                }
                let _ = child.wait().await;
            }
        }
        Err(e) => {
            tracing::warn!(pod = name, container = %c.name, error = %e, "preStop hook failed to start")
        }
    }
}

/// Startup, then readiness and liveness probes of one container run.
async fn probe_loop(
    env: Arc<PodEnv>,
    c: Container,
    idx: usize,
    launch: Launch,
    dead: tokio::sync::mpsc::Sender<&'static str>,
) {
    let ip = env.net.ip;
    let name = env.pod.metadata.name.clone().unwrap_or_default();
    let probe_result = |p, t: Timing| {
        let (c, launch, name) = (&c, &launch, &name);
        async move {
            match run_once(p, c, ip, launch, t.timeout).await {
                Ok(ok) => ok,
                Err(e) => {
                    tracing::warn!(pod = %name, container = %c.name, error = %e, "probe cannot run");
                    false
                }
            }
        }
    };
    if let Some(p) = &c.startup_probe {
        let t = Timing::of(p);
        tokio::time::sleep(t.initial_delay).await;
        let mut failures = 0;
        loop {
            if probe_result(p, t).await {
                break;
            }
            failures += 1;
            if failures >= t.failure_threshold {
                let _ = dead.send("StartupProbeFailed").await;
                return;
            }
            tokio::time::sleep(t.period).await;
        }
        status_of(&env.shared, false, idx, |s| s.started = true);
    }
    let readiness = async {
        let Some(p) = &c.readiness_probe else { return };
        let t = Timing::of(p);
        tokio::time::sleep(t.initial_delay).await;
        let (mut ok_run, mut bad_run) = (0, 0);
        loop {
            if probe_result(p, t).await {
                ok_run += 1;
                bad_run = 0;
                if ok_run >= t.success_threshold {
                    status_of(&env.shared, false, idx, |s| {
                        if !s.ready {
                            s.ready = true
                        }
                    });
                }
            } else {
                bad_run += 1;
                ok_run = 0;
                if bad_run >= t.failure_threshold {
                    status_of(&env.shared, false, idx, |s| {
                        if s.ready {
                            s.ready = false
                        }
                    });
                }
            }
            tokio::time::sleep(t.period).await;
        }
    };
    let liveness = async {
        let Some(p) = &c.liveness_probe else { return };
        let t = Timing::of(p);
        tokio::time::sleep(t.initial_delay).await;
        let mut bad_run = 0;
        loop {
            if probe_result(p, t).await {
                bad_run = 0;
            } else {
                bad_run += 1;
                if bad_run >= t.failure_threshold {
                    let _ = dead.send("LivenessProbeFailed").await;
                    return;
                }
            }
            tokio::time::sleep(t.period).await;
        }
    };
    tokio::join!(readiness, liveness);
}
