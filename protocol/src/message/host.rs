//! Socket addresses as RocketMQ stores them: IP (4 or 16 bytes) + port (i32).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::BufMut;

use super::cursor::Cursor;
use super::error::DecodeError;

/// Encoded length of an address: 8 for IPv4, 20 for IPv6.
pub(crate) const fn host_len(v6: bool) -> usize {
    if v6 { 20 } else { 8 }
}

/// Writes `addr` as IP octets followed by the port as an i32.
pub(crate) fn put_host<B: BufMut + ?Sized>(out: &mut B, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.put_slice(&ip.octets()),
        IpAddr::V6(ip) => out.put_slice(&ip.octets()),
    }
    out.put_i32(i32::from(addr.port()));
}

/// Converts a stored i32 port, rejecting what `InetSocketAddress` would.
pub(crate) fn port_from_i32(port: i32) -> Result<u16, DecodeError> {
    u16::try_from(port).map_err(|_| DecodeError::BadPort(port))
}

/// Reads an address written by [`put_host`]; `v6` picks the 16-byte form.
pub(crate) fn read_host(
    c: &mut Cursor<'_>,
    v6: bool,
    field: &'static str,
) -> Result<SocketAddr, DecodeError> {
    let overrun = || DecodeError::Overrun { field };
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::from(c.array::<16>().ok_or_else(overrun)?))
    } else {
        IpAddr::V4(Ipv4Addr::from(c.array::<4>().ok_or_else(overrun)?))
    };
    let port = port_from_i32(c.i32().ok_or_else(overrun)?)?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v4_and_v6() {
        for (addr, v6) in [
            ("10.0.0.1:10911".parse::<SocketAddr>(), false),
            ("[fe80::1]:65535".parse::<SocketAddr>(), true),
        ] {
            let addr = addr.unwrap();
            let mut buf = Vec::new();
            put_host(&mut buf, &addr);
            assert_eq!(buf.len(), host_len(v6));
            let mut c = Cursor::new(&buf);
            assert_eq!(read_host(&mut c, v6, "host"), Ok(addr));
            for cut in 0..buf.len() {
                let mut c = Cursor::new(&buf[..cut]);
                assert_eq!(
                    read_host(&mut c, v6, "host"),
                    Err(DecodeError::Overrun { field: "host" })
                );
            }
        }
    }

    #[test]
    fn rejects_out_of_range_ports() {
        assert_eq!(port_from_i32(65535), Ok(65535));
        assert_eq!(port_from_i32(65536), Err(DecodeError::BadPort(65536)));
        assert_eq!(port_from_i32(-1), Err(DecodeError::BadPort(-1)));
    }
}
