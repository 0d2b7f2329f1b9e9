//! Offset message ids: the `msgId` of send results and records, made of the
//! store host and the record's commit-log offset.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::hex::{decode_hex, push_hex};
use super::host::port_from_i32;
use crate::text::Text;

/// Hex length of an offset id with an IPv4 store host (16 bytes).
pub const OFFSET_MSG_ID_V4_LEN: usize = 32;
/// Hex length of an offset id with an IPv6 store host (28 bytes).
pub const OFFSET_MSG_ID_V6_LEN: usize = 56;

/// Why a message id string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgIdError {
    /// The id is neither 32 (IPv4) nor 56 (IPv6) hex digits long.
    #[error("message id has {0} characters; expected 32 or 56")]
    BadLength(usize),
    /// The id contains a non-hex character.
    #[error("message id is not hexadecimal")]
    NotHex,
    /// The port is outside `0..=65535`.
    #[error("message id port {0} is out of range")]
    BadPort(i32),
}

/// A decoded offset message id: where a record was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetMsgId {
    /// The broker's store host (address and port).
    pub store_host: SocketAddr,
    /// The record's commit-log offset.
    pub commit_log_offset: i64,
}

impl OffsetMsgId {
    /// An id for the record at `commit_log_offset` on `store_host`.
    pub fn new(store_host: SocketAddr, commit_log_offset: i64) -> Self {
        Self {
            store_host,
            commit_log_offset,
        }
    }

    /// The id's hex length: 32 for IPv4, 56 for IPv6.
    pub fn encoded_len(&self) -> usize {
        match self.store_host {
            SocketAddr::V4(_) => OFFSET_MSG_ID_V4_LEN,
            SocketAddr::V6(_) => OFFSET_MSG_ID_V6_LEN,
        }
    }

    /// Appends the id's uppercase hex to `out` (`createMessageId`).
    pub fn write_to(&self, out: &mut String) {
        match self.store_host.ip() {
            IpAddr::V4(ip) => push_hex(out, &ip.octets()),
            IpAddr::V6(ip) => push_hex(out, &ip.octets()),
        }
        push_hex(out, &i32::from(self.store_host.port()).to_be_bytes());
        push_hex(out, &self.commit_log_offset.to_be_bytes());
    }

    /// The id as a [`Text`]: held inline (no allocation) for an IPv4 store
    /// host; the same text as [`write_to`](Self::write_to).
    pub fn to_text(&self) -> Text {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut raw = [0u8; 28];
        let ip_len = match self.store_host.ip() {
            IpAddr::V4(ip) => {
                raw[..4].copy_from_slice(&ip.octets());
                4
            }
            IpAddr::V6(ip) => {
                raw[..16].copy_from_slice(&ip.octets());
                16
            }
        };
        let port = i32::from(self.store_host.port()).to_be_bytes();
        raw[ip_len..ip_len + 4].copy_from_slice(&port);
        raw[ip_len + 4..ip_len + 12].copy_from_slice(&self.commit_log_offset.to_be_bytes());
        let len = ip_len + 12;
        let mut hex = [0u8; OFFSET_MSG_ID_V6_LEN];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(&raw[..len]) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        // Hex digits are ASCII, so the fallback is never taken.
        Text::copy_of(std::str::from_utf8(&hex[..2 * len]).unwrap_or_default())
    }

    /// Parses an id (`decodeMessageId`); either hex case is accepted and the
    /// length picks IPv4 or IPv6.
    pub fn parse(id: &str) -> Result<Self, MsgIdError> {
        let (ip, rest_hex) = match id.len() {
            OFFSET_MSG_ID_V4_LEN => {
                let (ip_hex, rest) = split_hex(id, 8)?;
                let mut ip = [0u8; 4];
                decode_hex(ip_hex, &mut ip).ok_or(MsgIdError::NotHex)?;
                (IpAddr::V4(Ipv4Addr::from(ip)), rest)
            }
            OFFSET_MSG_ID_V6_LEN => {
                let (ip_hex, rest) = split_hex(id, 32)?;
                let mut ip = [0u8; 16];
                decode_hex(ip_hex, &mut ip).ok_or(MsgIdError::NotHex)?;
                (IpAddr::V6(Ipv6Addr::from(ip)), rest)
            }
            n => return Err(MsgIdError::BadLength(n)),
        };
        let mut tail = [0u8; 12];
        decode_hex(rest_hex, &mut tail).ok_or(MsgIdError::NotHex)?;
        let [p0, p1, p2, p3, o @ ..] = tail;
        let port = i32::from_be_bytes([p0, p1, p2, p3]);
        let port = port_from_i32(port).map_err(|_| MsgIdError::BadPort(port))?;
        Ok(Self {
            store_host: SocketAddr::new(ip, port),
            commit_log_offset: i64::from_be_bytes(o),
        })
    }
}

impl fmt::Display for OffsetMsgId {
    /// The uppercase hex id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(self.encoded_len());
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for OffsetMsgId {
    type Err = MsgIdError;

    fn from_str(s: &str) -> Result<Self, MsgIdError> {
        Self::parse(s)
    }
}

/// The offset id of the record at `commit_log_offset` on `store_host`.
pub fn offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    OffsetMsgId::new(store_host, commit_log_offset).to_string()
}

/// Splits `s` after `at` bytes, failing (rather than panicking) when `at` is
/// not a character boundary, which only non-ASCII input can cause.
pub(crate) fn split_hex(s: &str, at: usize) -> Result<(&str, &str), MsgIdError> {
    match (s.get(..at), s.get(at..)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(MsgIdError::NotHex),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form_is_the_string_form() {
        for addr in ["192.168.0.1:10911", "[2001:db8::ff]:65535", "0.0.0.0:0"] {
            let addr: SocketAddr = addr.parse().unwrap();
            for offset in [0, 0x1234, i64::MAX, -1] {
                let id = OffsetMsgId::new(addr, offset);
                assert_eq!(id.to_text().as_str(), id.to_string());
            }
        }
    }

    #[test]
    fn encodes_like_create_message_id() {
        let addr: SocketAddr = "192.168.0.1:10911".parse().unwrap();
        let id = offset_msg_id(addr, 0x1234);
        assert_eq!(id, "C0A8000100002A9F0000000000001234");
        assert_eq!(id.len(), 32);
        assert_eq!(OffsetMsgId::parse(&id), Ok(OffsetMsgId::new(addr, 0x1234)));
        assert_eq!(
            OffsetMsgId::parse(&id.to_lowercase()),
            Ok(OffsetMsgId::new(addr, 0x1234))
        );
        let v6: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
        let id6 = OffsetMsgId::new(v6, -1).to_string();
        assert_eq!(
            id6,
            "20010DB800000000000000000000000100002A9FFFFFFFFFFFFFFFFF"
        );
        assert_eq!(id6.parse::<OffsetMsgId>(), Ok(OffsetMsgId::new(v6, -1)));
    }

    #[test]
    fn rejects_malformed_ids() {
        assert_eq!(OffsetMsgId::parse(""), Err(MsgIdError::BadLength(0)));
        assert_eq!(
            OffsetMsgId::parse(&"0".repeat(31)),
            Err(MsgIdError::BadLength(31))
        );
        assert_eq!(OffsetMsgId::parse(&"G".repeat(32)), Err(MsgIdError::NotHex));
        assert_eq!(
            OffsetMsgId::parse(&"0".repeat(55)),
            Err(MsgIdError::BadLength(55))
        );
        let mut id = "0".repeat(30);
        id.push('é');
        assert_eq!(OffsetMsgId::parse(&id), Err(MsgIdError::NotHex));
        let mut id = "0".repeat(6);
        id.push('é');
        id.push_str(&"0".repeat(24));
        assert_eq!(OffsetMsgId::parse(&id), Err(MsgIdError::NotHex));
        let bad_port = "7F00000100010000".to_owned() + &"0".repeat(16);
        assert_eq!(
            OffsetMsgId::parse(&bad_port),
            Err(MsgIdError::BadPort(65536))
        );
    }

    proptest! {
        #[test]
        fn round_trips(v6 in any::<bool>(), ip4 in any::<[u8; 4]>(), ip6 in any::<[u8; 16]>(),
                       port in any::<u16>(), offset in any::<i64>()) {
            let ip = if v6 { IpAddr::from(ip6) } else { IpAddr::from(ip4) };
            let id = OffsetMsgId::new(SocketAddr::new(ip, port), offset);
            let s = id.to_string();
            prop_assert_eq!(s.len(), id.encoded_len());
            prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
            prop_assert_eq!(OffsetMsgId::parse(&s), Ok(id));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,60}") {
            let _ = OffsetMsgId::parse(&s);
        }
    }
}
