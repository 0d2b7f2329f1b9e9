//! Probes (httpGet, tcpSocket, exec) as the kubelet runs them: from the node
//! to the pod's address for network probes, inside the container's namespaces
//! for exec probes.

use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::container::{Launch, signal_group};

/// Timing of a probe, with Kubernetes' defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) initial_delay: Duration,
    pub(crate) period: Duration,
    pub(crate) timeout: Duration,
    pub(crate) success_threshold: u32,
    pub(crate) failure_threshold: u32,
}

impl Timing {
    pub(crate) fn of(p: &Probe) -> Timing {
        let secs = |v: Option<i32>, d: i32| {
            Duration::from_secs(u64::try_from(v.unwrap_or(d).max(0)).unwrap_or(0))
        };
        let count = |v: Option<i32>, d: i32| u32::try_from(v.unwrap_or(d).max(1)).unwrap_or(1);
        Timing {
            initial_delay: secs(p.initial_delay_seconds, 0),
            period: secs(p.period_seconds, 10).max(Duration::from_millis(200)),
            timeout: secs(p.timeout_seconds, 1).max(Duration::from_millis(200)),
            success_threshold: count(p.success_threshold, 1),
            failure_threshold: count(p.failure_threshold, 3),
        }
    }
}

fn port(c: &Container, p: &IntOrString) -> Option<u16> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name))
            .and_then(|cp| u16::try_from(cp.container_port).ok()),
    }
}

/// Runs a probe once; `Ok(true)` is success. Unsupported kinds are an error.
pub(crate) async fn run_once(
    p: &Probe,
    c: &Container,
    pod_ip: Ipv4Addr,
    launch: &Launch,
    timeout: Duration,
) -> anyhow::Result<bool> {
    if let Some(h) = &p.http_get {
        let port = port(c, &h.port)
            .ok_or_else(|| anyhow::anyhow!("httpGet probe port {:?} unknown", h.port))?;
        if h.scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"))
        {
            anyhow::bail!("HTTPS probes are not supported by the node agent");
        }
        let host = h.host.clone().unwrap_or_else(|| pod_ip.to_string());
        let path = h.path.clone().unwrap_or_else(|| "/".into());
        let fut = async move {
            let mut s = TcpStream::connect((host.as_str(), port)).await?;
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.35\r\nConnection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await?;
            let mut buf = vec![0u8; 64];
            let n = s.read(&mut buf).await?;
            let line = String::from_utf8_lossy(&buf[..n]);
            let code: u16 = line
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            std::io::Result::Ok((200..400).contains(&code))
        };
        return Ok(matches!(
            tokio::time::timeout(timeout, fut).await,
            Ok(Ok(true))
        ));
    }
    if let Some(t) = &p.tcp_socket {
        let port = port(c, &t.port)
            .ok_or_else(|| anyhow::anyhow!("tcpSocket probe port {:?} unknown", t.port))?;
        let host = t.host.clone().unwrap_or_else(|| pod_ip.to_string());
        let fut = TcpStream::connect((host.as_str(), port));
        return Ok(matches!(
            tokio::time::timeout(timeout, fut).await,
            Ok(Ok(_))
        ));
    }
    if let Some(e) = &p.exec {
        let argv = e.command.clone().unwrap_or_default();
        if argv.is_empty() {
            anyhow::bail!("exec probe without a command");
        }
        let mut child = launch.spawn(None, Some(&argv))?;
        return Ok(match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                if let Some(pid) = child.id() {
                    signal_group(pid, libc::SIGKILL);
                }
                let _ = child.wait().await;
                false
            }
        });
    }
    anyhow::bail!("this probe kind (grpc?) is not supported by the node agent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn launch() -> Launch {
        Launch {
            netns: String::new(),
            prelude: String::new(),
            program: "/bin/true".into(),
            args: vec![],
            env: vec![],
        }
    }

    async fn http_server(status: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        port
    }

    fn probe(v: serde_json::Value) -> (Probe, Container) {
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "c", "ports": [{"name": "http", "containerPort": v["port"]}],
        }))
        .unwrap();
        (serde_json::from_value(v["probe"].clone()).unwrap(), c)
    }

    #[tokio::test]
    async fn http_and_tcp_probes_judge_by_status_and_connect() {
        let lo = Ipv4Addr::LOCALHOST;
        let t = Duration::from_secs(2);
        let ok = http_server("200 OK").await;
        let bad = http_server("503 Service Unavailable").await;
        let (p, c) = probe(
            serde_json::json!({"port": ok, "probe": {"httpGet": {"path": "/readyz", "port": "http"}}}),
        );
        assert!(run_once(&p, &c, lo, &launch(), t).await.unwrap());
        let (p, c) = probe(serde_json::json!({"port": bad, "probe": {"httpGet": {"port": bad}}}));
        assert!(!run_once(&p, &c, lo, &launch(), t).await.unwrap());
        let (p, c) = probe(serde_json::json!({"port": ok, "probe": {"tcpSocket": {"port": ok}}}));
        assert!(run_once(&p, &c, lo, &launch(), t).await.unwrap());
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (p, c) =
            probe(serde_json::json!({"port": closed, "probe": {"tcpSocket": {"port": closed}}}));
        assert!(!run_once(&p, &c, lo, &launch(), t).await.unwrap());
        let (p, c) = probe(serde_json::json!({"port": ok, "probe": {"grpc": {"port": ok}}}));
        assert!(
            run_once(&p, &c, lo, &launch(), t).await.is_err(),
            "unsupported kinds fail loudly"
        );
    }
}
