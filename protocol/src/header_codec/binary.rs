//! The ROCKETMQ binary header (`RocketMQSerializable`).
//!
//! Layout: code i16 | language u8 | version i16 | opaque i32 | flag i32 |
//! remark (i32 length + bytes) | extFields (i32 length + entries of i16 key
//! length + key + i32 value length + value). Zero-length remark and
//! extFields decode as absent, as in Java.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::HeaderCodecError;
use crate::code::{LanguageCode, SerializeType};
use crate::command::RemotingCommand;
use crate::ext_fields::ExtFields;
use crate::text::Text;

/// Decodes a binary header; the body is attached by the caller. `extFields`
/// keys and values are views of `header` (no copy, no allocation each).
pub(crate) fn decode(header: &Bytes) -> Result<RemotingCommand, HeaderCodecError> {
    let mut h: &[u8] = header;
    need(h, 17, "fixed fields")?;
    let code = i32::from(h.get_i16());
    let language = LanguageCode::from_code(h.get_u8());
    let version = i32::from(h.get_i16());
    let opaque = h.get_i32();
    let flag = h.get_i32();
    let remark_len = len(h.get_i32(), "remark")?;
    let remark = if remark_len > 0 {
        Some(take_text(header, &mut h, remark_len, "remark")?.into_string())
    } else {
        None
    };
    need(h, 4, "extFields length")?;
    let ext_len = len(h.get_i32(), "extFields")?;
    let ext_fields = if ext_len > 0 {
        need(h, ext_len, "extFields")?;
        let (mut map, rest) = h.split_at(ext_len);
        h = rest;
        // Send headers carry up to 14 entries: one allocation, no regrowth.
        let mut fields = ExtFields::with_capacity(16);
        while map.has_remaining() {
            need(map, 2, "extFields key length")?;
            let klen = len(i32::from(map.get_i16()), "extFields key")?;
            let key = take_text(header, &mut map, klen, "extFields key")?;
            need(map, 4, "extFields value length")?;
            let vlen = len(map.get_i32(), "extFields value")?;
            let value = take_text(header, &mut map, vlen, "extFields value")?;
            fields.push(key, value);
        }
        Some(fields)
    } else {
        None
    };
    if h.has_remaining() {
        return Err(HeaderCodecError::TrailingBytes(h.len()));
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

/// Appends `cmd`'s header in the binary serialization.
pub(crate) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), HeaderCodecError> {
    dst.put_i16(fit_i16("code", cmd.code)?);
    dst.put_u8(cmd.language.code());
    dst.put_i16(fit_i16("version", cmd.version)?);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match &cmd.remark {
        Some(r) => {
            dst.put_i32(fit_i32("remark length", r.len())?);
            dst.put_slice(r.as_bytes());
        }
        None => dst.put_i32(0),
    }
    match &cmd.ext_fields {
        Some(fields) if !fields.is_empty() => {
            let total: usize = fields.iter().map(|(k, v)| 2 + k.len() + 4 + v.len()).sum();
            dst.put_i32(fit_i32("extFields length", total)?);
            for (k, v) in fields.iter() {
                let klen = i16::try_from(k.len()).map_err(|_| HeaderCodecError::OutOfRange {
                    field: "extFields key length",
                    value: k.len() as i64,
                })?;
                dst.put_i16(klen);
                dst.put_slice(k.as_bytes());
                dst.put_i32(fit_i32("extFields value length", v.len())?);
                dst.put_slice(v.as_bytes());
            }
        }
        _ => dst.put_i32(0),
    }
    Ok(())
}

fn fit_i16(field: &'static str, v: i32) -> Result<i16, HeaderCodecError> {
    i16::try_from(v).map_err(|_| HeaderCodecError::OutOfRange {
        field,
        value: v.into(),
    })
}

fn fit_i32(field: &'static str, v: usize) -> Result<i32, HeaderCodecError> {
    i32::try_from(v).map_err(|_| HeaderCodecError::OutOfRange {
        field,
        value: v as i64,
    })
}

fn need(h: &[u8], n: usize, what: &'static str) -> Result<(), HeaderCodecError> {
    if h.len() < n {
        Err(HeaderCodecError::Truncated(what))
    } else {
        Ok(())
    }
}

fn len(v: i32, what: &'static str) -> Result<usize, HeaderCodecError> {
    usize::try_from(v).map_err(|_| HeaderCodecError::NegativeLength(what))
}

/// Takes `n` bytes off `h`, a cursor into `whole`, as a view of `whole`.
fn take_text(
    whole: &Bytes,
    h: &mut &[u8],
    n: usize,
    what: &'static str,
) -> Result<Text, HeaderCodecError> {
    need(h, n, what)?;
    let (s, rest) = h.split_at(n);
    *h = rest;
    Text::shared(whole.slice_ref(s)).ok_or(HeaderCodecError::NotUtf8(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut cmd = RemotingCommand {
            code: 310,
            opaque: -5,
            flag: 2,
            remark: Some("héllo".into()),
            serialize_type: SerializeType::RocketMq,
            ..RemotingCommand::default()
        };
        cmd.set_ext("a", "1");
        cmd.set_ext("b", "");
        let mut out = BytesMut::new();
        encode(&cmd, &mut out).unwrap();
        assert_eq!(decode(&out.freeze()).unwrap(), cmd);
    }

    #[test]
    fn empty_remark_and_fields_decode_as_absent() {
        let cmd = RemotingCommand {
            remark: Some(String::new()),
            ext_fields: Some(ExtFields::new()),
            serialize_type: SerializeType::RocketMq,
            ..RemotingCommand::default()
        };
        let mut out = BytesMut::new();
        encode(&cmd, &mut out).unwrap();
        assert_eq!(out.len(), 21);
        let back = decode(&out.freeze()).unwrap();
        assert_eq!(back.remark, None);
        assert_eq!(back.ext_fields, None);
    }

    #[test]
    fn codes_beyond_i16_are_refused() {
        let cmd = RemotingCommand {
            code: 200_050,
            ..RemotingCommand::default()
        };
        assert!(encode(&cmd, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn truncation_and_bad_lengths_are_errors() {
        let mut cmd = RemotingCommand::default();
        cmd.set_ext("key", "value");
        let mut out = BytesMut::new();
        encode(&cmd, &mut out).unwrap();
        let out = out.freeze();
        for cut in 0..out.len() {
            assert!(decode(&out.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut bad = out.to_vec();
        bad[13..17].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decode(&Bytes::from(bad)),
            Err(HeaderCodecError::NegativeLength("remark"))
        ));
    }
}
