//! How a failed client command ends: one line on stderr naming the cause
//! (for a refused request, RocketMQ's response code by name and number, the
//! server's remark and a hint) and an exit code scripts can branch on.

use std::process::ExitCode;

use skylark_client::ClientError;
use skylark_protocol::ResponseCode;

/// The exit codes as `skylark --help` lists them (a macro, for `concat!`).
macro_rules! exit_codes_help {
    () => {
        "Exit codes:
  0  success
  1  any other error (a file that cannot be read, bad input, an internal error)
  2  usage error: an unknown command, a missing or malformed argument
  3  the nameserver or broker refused the request (its RocketMQ response code
     is printed by name, e.g. NO_PERMISSION, SUBSCRIPTION_PARSE_FAILED)
  4  not found: no such topic, group, route or message (TOPIC_NOT_EXIST,
     SUBSCRIPTION_GROUP_NOT_EXIST, QUERY_NOT_FOUND, …)
  5  cannot reach the nameserver or a broker (refused connection, timeout)
  6  incomplete: `consume --count` or a bench ended before its count (its
     timeout), or some bench sends failed"
    };
}
pub(crate) use exit_codes_help;

/// Exit code of errors not listed otherwise.
pub(crate) const EXIT_ERROR: u8 = 1;
/// Exit code of a refused request.
pub(crate) const EXIT_REFUSED: u8 = 3;
/// Exit code of something that does not exist.
pub(crate) const EXIT_NOT_FOUND: u8 = 4;
/// Exit code of an unreachable server.
pub(crate) const EXIT_UNREACHABLE: u8 = 5;
/// Exit code of a run that ended short of its count.
pub(crate) const EXIT_INCOMPLETE: u8 = 6;

/// A server answered a request with an error code.
#[derive(Debug, thiserror::Error)]
#[error("{} (code {}): {remark}", code.name(), code.value())]
pub(crate) struct Refused {
    /// The response code.
    pub(crate) code: ResponseCode,
    /// The server's remark (may be empty).
    pub(crate) remark: String,
}

/// Something named on the command line does not exist.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub(crate) struct NotFound {
    /// What is missing, e.g. "topic T has no route".
    pub(crate) what: String,
    /// How to make it exist.
    pub(crate) hint: String,
}

/// No connection to a server.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub(crate) struct Unreachable {
    /// Which server and why.
    pub(crate) what: String,
}

/// A run that ended before its count.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub(crate) struct Incomplete {
    /// How far it got.
    pub(crate) what: String,
}

/// What a failure prints and how the process exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The exit code.
    pub(crate) code: u8,
    /// The line printed on stderr (without a trailing newline).
    pub(crate) line: String,
}

impl Failure {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

/// The one line and the exit code for `error`: the innermost cause of a
/// known kind decides; others print their whole chain and exit 1.
pub(crate) fn describe(error: &anyhow::Error) -> Failure {
    for cause in error.chain() {
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            if let Some(failure) = describe_client(error, cause, client) {
                return failure;
            }
        }
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            let hint = hint(refused.code, &refused.remark);
            let remark = if refused.remark.is_empty() {
                "(no remark)"
            } else {
                refused.remark.trim()
            };
            let context = context_of(error, cause);
            return Failure {
                code: exit_code_of(refused.code),
                line: format!(
                    "error: {}{} (code {}): {remark} — {hint}",
                    context,
                    refused.code.name(),
                    refused.code.value()
                ),
            };
        }
        if let Some(missing) = cause.downcast_ref::<NotFound>() {
            return Failure {
                code: EXIT_NOT_FOUND,
                line: format!("error: {missing} — {}", missing.hint),
            };
        }
        if let Some(unreachable) = cause.downcast_ref::<Unreachable>() {
            return Failure {
                code: EXIT_UNREACHABLE,
                line: format!(
                    "error: {unreachable} — is the server running? Point --namesrv (or \
                     NAMESRV_ADDR) at a nameserver, e.g. the namesrvAddr printed by \
                     `skylark standalone`"
                ),
            };
        }
        if let Some(short) = cause.downcast_ref::<Incomplete>() {
            return Failure {
                code: EXIT_INCOMPLETE,
                line: format!("error: {short}"),
            };
        }
    }
    Failure {
        code: EXIT_ERROR,
        line: format!("error: {error:#}"),
    }
}

/// The line for a client library error, when its kind is one of ours.
fn describe_client(
    error: &anyhow::Error,
    cause: &(dyn std::error::Error + 'static),
    client: &ClientError,
) -> Option<Failure> {
    let context = context_of(error, cause);
    if let Some(code) = client.response_code() {
        let remark = client.remark().unwrap_or("").trim();
        let remark = if remark.is_empty() {
            "(no remark)"
        } else {
            remark
        };
        return Some(Failure {
            code: exit_code_of(code),
            line: format!(
                "error: {context}{} (code {}): {remark} — {}",
                code.name(),
                code.value(),
                hint(code, remark)
            ),
        });
    }
    if client.is_connection_error() || matches!(client, ClientError::Remoting(_)) {
        return Some(Failure {
            code: EXIT_UNREACHABLE,
            line: format!(
                "error: {context}{client} — is the server running? Point --namesrv (or \
                 NAMESRV_ADDR) at a nameserver, e.g. the namesrvAddr printed by `skylark standalone`"
            ),
        });
    }
    match client {
        ClientError::NoRoute { topic, .. } => Some(Failure {
            code: EXIT_NOT_FOUND,
            line: format!(
                "error: {context}{client} — create it with `skylark topic create --topic {topic}`, \
                 or check that its brokers are registered (`skylark cluster list`)"
            ),
        }),
        ClientError::NotFound(_) | ClientError::BrokerNotFound(_) => Some(Failure {
            code: EXIT_NOT_FOUND,
            line: format!("error: {context}{client}"),
        }),
        _ => None,
    }
}

/// The contexts added above `cause` (e.g. "creating topic T: "), outermost first.
fn context_of(error: &anyhow::Error, cause: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for outer in error.chain() {
        if std::ptr::addr_eq(outer, cause) {
            break;
        }
        text.push_str(&outer.to_string());
        text.push_str(": ");
    }
    text
}

/// Exit code for a response code: 4 for "does not exist", 3 otherwise.
pub(crate) fn exit_code_of(code: ResponseCode) -> u8 {
    match code {
        ResponseCode::TOPIC_NOT_EXIST
        | ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
        | ResponseCode::SUBSCRIPTION_NOT_EXIST
        | ResponseCode::QUERY_NOT_FOUND
        | ResponseCode::BROKER_NOT_EXIST
        | ResponseCode::CONSUMER_NOT_ONLINE => EXIT_NOT_FOUND,
        _ => EXIT_REFUSED,
    }
}

/// What to do about a response code.
pub(crate) fn hint(code: ResponseCode, remark: &str) -> &'static str {
    match code {
        ResponseCode::TOPIC_NOT_EXIST => {
            "create it with `skylark topic create --topic NAME` (or set autoCreateTopicEnable=true \
             in broker.conf)"
        }
        ResponseCode::TOPIC_EXIST_ALREADY => "it exists; change it with `skylark topic update`",
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST => {
            "create it with `skylark group create --group NAME` (or set \
             autoCreateSubscriptionGroup=true in broker.conf)"
        }
        _ if remark.contains("does not support consumer to filter message") => {
            "SQL92 filtering needs enablePropertyFilter=true in the broker's broker.conf"
        }
        ResponseCode::SUBSCRIPTION_PARSE_FAILED => {
            "check the --tag expression (TagA || TagB) or the --sql expression"
        }
        ResponseCode::NO_PERMISSION => {
            "the broker or the topic does not allow this (perm 6 = read+write, 4 = read, 2 = \
             write); see `skylark topic describe` and the broker's brokerPermission"
        }
        ResponseCode::SYSTEM_BUSY | ResponseCode::FLOW_CONTROL | ResponseCode::POLLING_FULL => {
            "the broker is overloaded; retry later or send less at once"
        }
        ResponseCode::SERVICE_NOT_AVAILABLE | ResponseCode::SLAVE_NOT_AVAILABLE => {
            "the broker cannot serve this now (shutting down, a slave, or its disk is full); see \
             its log"
        }
        ResponseCode::FLUSH_DISK_TIMEOUT | ResponseCode::FLUSH_SLAVE_TIMEOUT => {
            "the message was stored but not yet flushed or replicated in time; check the disk and \
             the replicas"
        }
        ResponseCode::MESSAGE_ILLEGAL => {
            "the message is too large (maxMessageSize) or its topic, tag or properties are invalid"
        }
        ResponseCode::QUERY_NOT_FOUND => {
            "no message matched (keys are found by the IndexFile; ids must be one the broker \
             printed)"
        }
        ResponseCode::CONSUMER_NOT_ONLINE => {
            "no consumer of that group is connected; start one or pass a running group"
        }
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED => "this server does not support the request",
        ResponseCode::INVALID_PARAMETER => "check the command's arguments (`skylark … --help`)",
        ResponseCode::VERSION_NOT_SUPPORTED => "the server does not support this client version",
        ResponseCode::BROKER_NOT_EXIST => {
            "no such broker is registered; see `skylark cluster list`"
        }
        _ => "see the server's log for details",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_prints_the_code_name_number_remark_and_hint() {
        let error = anyhow::Error::new(Refused {
            code: ResponseCode::TOPIC_NOT_EXIST,
            remark: "topic[T] not exist".into(),
        })
        .context("describing topic T");
        let failure = describe(&error);
        assert_eq!(failure.code, EXIT_NOT_FOUND);
        assert!(
            failure.line.starts_with(
                "error: describing topic T: TOPIC_NOT_EXIST (code 17): topic[T] not exist — create"
            ),
            "{}",
            failure.line
        );
        assert!(!failure.line.contains('\n'));
    }

    #[test]
    fn codes_map_to_documented_exit_codes() {
        assert_eq!(exit_code_of(ResponseCode::NO_PERMISSION), EXIT_REFUSED);
        assert_eq!(exit_code_of(ResponseCode::QUERY_NOT_FOUND), EXIT_NOT_FOUND);
        assert_eq!(exit_code_of(ResponseCode::Unknown(9999)), EXIT_REFUSED);
        let unreachable = anyhow::Error::new(Unreachable {
            what: "cannot reach nameserver 127.0.0.1:1".into(),
        });
        assert_eq!(describe(&unreachable).code, EXIT_UNREACHABLE);
        let other = anyhow::anyhow!("boom").context("reading file");
        assert_eq!(
            describe(&other),
            Failure {
                code: EXIT_ERROR,
                line: "error: reading file: boom".into()
            }
        );
    }

    #[test]
    fn sql_without_property_filter_gets_the_broker_conf_hint() {
        let text = hint(
            ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            "The broker does not support consumer to filter message by SQL92",
        );
        assert!(text.contains("enablePropertyFilter"));
    }

    #[test]
    fn every_exit_code_constant_is_in_the_help_text() {
        for code in [
            EXIT_ERROR,
            EXIT_REFUSED,
            EXIT_NOT_FOUND,
            EXIT_UNREACHABLE,
            EXIT_INCOMPLETE,
        ] {
            assert!(
                exit_codes_help!().contains(&format!("\n  {code}  ")),
                "{code}"
            );
        }
    }
}
