//! [`ClientConfig`]: what every producer, consumer and admin client of one
//! process shares — nameservers, identity, timeouts, background periods.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

/// Settings of a [`ClientInstance`](crate::ClientInstance), RocketMQ's
/// `ClientConfig` with its defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Nameserver addresses (`host:port`); see [`ClientConfig::with_namesrv`].
    pub namesrv_addrs: Vec<String>,
    /// This client's IP as shown to brokers (`clientIP`); the host's
    /// outbound address by default.
    pub client_ip: IpAddr,
    /// Instance name (`instanceName`); the process id by default, so every
    /// client of one process shares one instance, as Java's does.
    pub instance_name: String,
    /// Unit name (`unitName`), appended to the client id when set.
    pub unit_name: Option<String>,
    /// Timeout of one request to a nameserver or broker (Java's 3 s `mqClientApiTimeout`).
    pub request_timeout: Duration,
    /// How often cached topic routes are refreshed (`pollNameServerInterval`, 30 s).
    pub poll_name_server_interval: Duration,
    /// How often heartbeats go to brokers (`heartbeatBrokerInterval`, 30 s).
    pub heartbeat_broker_interval: Duration,
    /// Settings of the connections underneath.
    pub remoting: skylark_remoting::ClientConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            namesrv_addrs: Vec::new(),
            client_ip: local_ip(),
            instance_name: std::process::id().to_string(),
            unit_name: None,
            request_timeout: Duration::from_secs(3),
            poll_name_server_interval: Duration::from_secs(30),
            heartbeat_broker_interval: Duration::from_secs(30),
            remoting: skylark_remoting::ClientConfig::default(),
        }
    }
}

impl ClientConfig {
    /// Defaults with the nameservers of `addrs`, `host:port` separated by
    /// `;` (or `,`), as `setNamesrvAddr` takes them.
    pub fn with_namesrv(addrs: &str) -> Self {
        Self {
            namesrv_addrs: parse_namesrv_addrs(addrs),
            ..Self::default()
        }
    }

    /// The client id brokers know this client by: `ip@instance[@unit]`, as
    /// Java's `buildMQClientId`.
    pub fn client_id(&self) -> String {
        let mut id = format!("{}@{}", self.client_ip, self.instance_name);
        if let Some(unit) = self.unit_name.as_deref().filter(|u| !u.is_empty()) {
            id.push('@');
            id.push_str(unit);
        }
        id
    }
}

/// Splits a nameserver list (`a:9876;b:9876`) into addresses.
pub fn parse_namesrv_addrs(addrs: &str) -> Vec<String> {
    addrs
        .split([';', ','])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The address this host would use to reach the outside; loopback when it
/// has none. Connecting a UDP socket sends nothing.
fn local_ip() -> IpAddr {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| {
            s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namesrv_lists() {
        assert_eq!(
            parse_namesrv_addrs(" a:1; b:2,c:3;;"),
            vec!["a:1".to_owned(), "b:2".to_owned(), "c:3".to_owned()]
        );
        assert!(parse_namesrv_addrs("").is_empty());
    }

    #[test]
    fn client_id_is_ip_at_instance() {
        let mut c = ClientConfig::with_namesrv("127.0.0.1:9876");
        c.client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        c.instance_name = "42".into();
        assert_eq!(c.client_id(), "10.0.0.1@42");
        c.unit_name = Some("u".into());
        assert_eq!(c.client_id(), "10.0.0.1@42@u");
    }
}
