//! Topic and group attributes: parsing an admin's `+key=value,-key`
//! modification and applying it to the current attributes, with the checks
//! of Java's `AttributeParser` and `AttributeUtil.alterCurrentAttributes`.

use std::collections::BTreeMap;

/// What values an attribute takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttributeKind {
    /// One of these names (`EnumAttribute`).
    Enum(&'static [&'static str]),
    /// An integer in this inclusive range (`LongRangeAttribute`).
    LongRange(i64, i64),
}

/// One attribute a topic or group may carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttributeSpec {
    /// Its key, without the `+`/`-` sign.
    pub(crate) name: &'static str,
    /// Whether an existing topic may change it.
    pub(crate) changeable: bool,
    /// Its values.
    pub(crate) kind: AttributeKind,
}

/// The key of a topic's message type (`TopicAttributes.TOPIC_MESSAGE_TYPE_ATTRIBUTE`).
pub(crate) const MESSAGE_TYPE: &str = "message.type";

/// Java's `TopicAttributes.ALL`.
pub(crate) const TOPIC_ATTRIBUTES: &[AttributeSpec] = &[
    AttributeSpec {
        name: "queue.type",
        changeable: false,
        kind: AttributeKind::Enum(&["BatchCQ", "SimpleCQ"]),
    },
    AttributeSpec {
        name: "cleanup.policy",
        changeable: false,
        kind: AttributeKind::Enum(&["DELETE", "COMPACTION"]),
    },
    AttributeSpec {
        name: MESSAGE_TYPE,
        changeable: true,
        kind: AttributeKind::Enum(&[
            "UNSPECIFIED",
            "NORMAL",
            "FIFO",
            "DELAY",
            "TRANSACTION",
            "MIXED",
        ]),
    },
    AttributeSpec {
        name: "reserve.time",
        changeable: true,
        kind: AttributeKind::LongRange(-1, i64::MAX),
    },
];

/// Java's `SubscriptionGroupAttributes.ALL` (none yet).
pub(crate) const GROUP_ATTRIBUTES: &[AttributeSpec] = &[];

/// Why a modification was refused; the text is Java's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct AttributeError(String);

/// Java's `AttributeParser.parseToMap`: `+a=1,+b=2,-c` into
/// `{"+a": "1", "+b": "2", "-c": ""}`; empty text is no change.
pub(crate) fn parse_modification(text: &str) -> Result<BTreeMap<String, String>, AttributeError> {
    let mut out = BTreeMap::new();
    if text.is_empty() {
        return Ok(out);
    }
    // Java's split drops trailing empty items.
    for kv in text.trim_end_matches(',').split(',') {
        let (key, value) = match kv.split_once('=') {
            Some((key, rest)) => {
                let value = rest.split('=').next().unwrap_or_default();
                if value.is_empty() {
                    return Err(AttributeError(format!("attribute {kv:?} has no value")));
                }
                if !key.contains('+') {
                    return Err(AttributeError(format!(
                        "add/alter attribute format is wrong: {key}"
                    )));
                }
                (key, value)
            }
            None => {
                if !kv.contains('-') {
                    return Err(AttributeError(format!(
                        "delete attribute format is wrong: {kv}"
                    )));
                }
                (kv, "")
            }
        };
        if out.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(AttributeError(format!("key duplication: {key}")));
        }
    }
    Ok(out)
}

/// Java's `AttributeUtil.alterCurrentAttributes`: applies `requested`
/// (`+key` → set, `-key` → remove) to `current` and returns the result keyed
/// without signs. Creating allows only `+`; every key must be one of `all`,
/// valid for it, and changeable unless creating.
pub(crate) fn alter(
    create: bool,
    all: &[AttributeSpec],
    current: &BTreeMap<String, String>,
    requested: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AttributeError> {
    let mut out = current.clone();
    for (key, value) in requested {
        let (sign, real_key) = match key.chars().next() {
            Some(c @ ('+' | '-')) => (c, &key[1..]),
            _ if create => {
                return Err(AttributeError(format!(
                    "only add attribute is supported while creating topic. key: {}",
                    key.get(1..).unwrap_or_default()
                )));
            }
            _ => {
                return Err(AttributeError(format!(
                    "wrong format key: {}",
                    key.get(1..).unwrap_or_default()
                )));
            }
        };
        if real_key.is_empty() || real_key.contains(['+', '-']) {
            return Err(AttributeError("kv string format wrong.".to_owned()));
        }
        if create && sign == '-' {
            return Err(AttributeError(format!(
                "only add attribute is supported while creating topic. key: {real_key}"
            )));
        }
        if sign == '-' && !current.contains_key(real_key) {
            return Err(AttributeError(format!(
                "attempt to delete a nonexistent key: {real_key}"
            )));
        }
        let Some(spec) = all.iter().find(|s| s.name == real_key) else {
            return Err(AttributeError(format!("unsupported key: {real_key}")));
        };
        if !create && !spec.changeable {
            return Err(AttributeError(format!(
                "attempt to update an unchangeable attribute. key: {real_key}"
            )));
        }
        if sign == '-' {
            out.remove(real_key);
            continue;
        }
        verify(spec, value)?;
        out.insert(real_key.to_owned(), value.clone());
    }
    Ok(out)
}

fn verify(spec: &AttributeSpec, value: &str) -> Result<(), AttributeError> {
    match spec.kind {
        AttributeKind::Enum(values) if values.contains(&value) => Ok(()),
        AttributeKind::Enum(values) => {
            Err(AttributeError(format!("value is not in set: {values:?}")))
        }
        AttributeKind::LongRange(min, max) => match value.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            Ok(_) => Err(AttributeError(format!(
                "value is not in range({min}, {max})"
            ))),
            Err(_) => Err(AttributeError(format!(
                "{} value {value:?} is not an integer",
                spec.name
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_java_modification_syntax() {
        assert_eq!(
            parse_modification("+message.type=FIFO,-reserve.time").unwrap(),
            map(&[("+message.type", "FIFO"), ("-reserve.time", "")])
        );
        assert!(parse_modification("").unwrap().is_empty());
        assert!(parse_modification("message.type=FIFO").is_err());
        assert!(parse_modification("reserve.time").is_err());
        assert!(parse_modification("+a=").is_err());
        assert!(parse_modification("+a=1,+a=2").is_err());
    }

    #[test]
    fn create_and_alter() {
        let created = alter(
            true,
            TOPIC_ATTRIBUTES,
            &BTreeMap::new(),
            &map(&[("+message.type", "FIFO"), ("+queue.type", "SimpleCQ")]),
        )
        .unwrap();
        assert_eq!(
            created,
            map(&[("message.type", "FIFO"), ("queue.type", "SimpleCQ")])
        );
        // Creating cannot delete; updating cannot touch unchangeable keys.
        assert!(
            alter(
                true,
                TOPIC_ATTRIBUTES,
                &created,
                &map(&[("-message.type", "")])
            )
            .is_err()
        );
        assert!(
            alter(
                false,
                TOPIC_ATTRIBUTES,
                &created,
                &map(&[("+queue.type", "BatchCQ")])
            )
            .is_err()
        );
        let altered = alter(
            false,
            TOPIC_ATTRIBUTES,
            &created,
            &map(&[("-message.type", ""), ("+reserve.time", "24")]),
        )
        .unwrap();
        assert_eq!(
            altered,
            map(&[("queue.type", "SimpleCQ"), ("reserve.time", "24")])
        );
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        let none = BTreeMap::new();
        for (key, value) in [
            ("+colour", "red"),
            ("+message.type", "LOUD"),
            ("+reserve.time", "-2"),
            ("+reserve.time", "soon"),
            ("-message.type", ""),
        ] {
            let err = alter(false, TOPIC_ATTRIBUTES, &none, &map(&[(key, value)]));
            assert!(err.is_err(), "{key}={value}");
        }
        let err = alter(true, GROUP_ATTRIBUTES, &none, &map(&[("+anything", "1")])).unwrap_err();
        assert_eq!(err.to_string(), "unsupported key: anything");
    }
}
