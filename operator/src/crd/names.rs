//! RocketMQ's rules for topic and group names (`Validators` in the Java
//! client): the characters `%|a-zA-Z0-9_-`, at most 127 bytes for a topic and
//! 255 for a group.

/// Longest topic name RocketMQ accepts.
const TOPIC_MAX_LEN: usize = 127;
/// Longest consumer group name RocketMQ accepts.
const GROUP_MAX_LEN: usize = 255;

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the {0} name is empty")]
    Empty(&'static str),
    /// The name is too long.
    #[error("the {what} name {name:?} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// "topic" or "group".
        what: &'static str,
        /// The name.
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name has a character RocketMQ refuses.
    #[error("the {what} name {name:?} has the character {bad:?}; only %|a-zA-Z0-9_- are allowed")]
    BadCharacter {
        /// "topic" or "group".
        what: &'static str,
        /// The name.
        name: String,
        /// The first character refused.
        bad: char,
    },
}

fn validate(what: &'static str, name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty(what));
    }
    if name.len() > max {
        return Err(NameError::TooLong {
            what,
            name: name.to_owned(),
            len: name.len(),
            max,
        });
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-');
    match name.chars().find(|c| !allowed(*c)) {
        Some(bad) => Err(NameError::BadCharacter {
            what,
            name: name.to_owned(),
            bad,
        }),
        None => Ok(()),
    }
}

/// Checks a topic name as RocketMQ's `Validators.checkTopic` does.
pub fn validate_topic_name(name: &str) -> Result<(), NameError> {
    validate("topic", name, TOPIC_MAX_LEN)
}

/// Checks a consumer group name as RocketMQ's `Validators.checkGroup` does.
pub fn validate_group_name(name: &str) -> Result<(), NameError> {
    validate("group", name, GROUP_MAX_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rocketmq_characters() {
        assert_eq!(validate_topic_name("%RETRY%my-group_1|x"), Ok(()));
        assert_eq!(validate_group_name(&"g".repeat(255)), Ok(()));
    }

    #[test]
    fn refuses_dots_empty_and_long_names() {
        assert!(matches!(
            validate_topic_name("orders.v1"),
            Err(NameError::BadCharacter { bad: '.', .. })
        ));
        assert_eq!(validate_topic_name(""), Err(NameError::Empty("topic")));
        assert!(matches!(
            validate_topic_name(&"t".repeat(128)),
            Err(NameError::TooLong {
                len: 128,
                max: 127,
                ..
            })
        ));
        assert!(validate_group_name(&"g".repeat(256)).is_err());
    }
}
