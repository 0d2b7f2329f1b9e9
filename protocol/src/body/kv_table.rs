//! A string map body (`KVTable`): name-server KV config namespaces and the
//! register-broker response.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::nullable;

/// Key → value pairs (`KVTable`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KVTable {
    /// The pairs.
    #[serde(deserialize_with = "nullable")]
    pub table: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_support::check_body;

    #[test]
    fn exact_output() {
        check_body(&KVTable::default(), r#"{"table":{}}"#);
        check_body(
            &KVTable {
                table: [("T".to_owned(), "broker-a:4;broker-b:4".to_owned())].into(),
            },
            r#"{"table":{"T":"broker-a:4;broker-b:4"}}"#,
        );
    }
}
