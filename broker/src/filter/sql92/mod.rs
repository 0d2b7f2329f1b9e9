//! SQL92 property filtering (`SqlFilter`): RocketMQ's selector grammar,
//! compiled once per subscription and evaluated on each candidate record's
//! properties in place, with Java's null and type semantics.
//!
//! The grammar is `SelectorParser.jj` of RocketMQ 5.x: comparisons
//! (`=`, `<>`, `>`, `>=`, `<`, `<=`), `[NOT] BETWEEN`, `[NOT] IN` (string
//! lists), `IS [NOT] NULL`, `[NOT] CONTAINS|STARTSWITH|ENDSWITH`, `AND`,
//! `OR`, `NOT`, parentheses, `'strings'` with `''` for a quote, integer
//! (`int`, or `long` past its range, optional `L`) and floating-point
//! literals, `TRUE`, `FALSE`, `NULL`, and property names
//! (`[A-Za-z_$][A-Za-z0-9_$]*`; `TAGS` is the message's tag). A message
//! matches only when the expression is true: a comparison with a missing
//! property is unknown, and a comparison Java would throw on (a string
//! that is not a number against a number) does not match.

mod expr;
mod lexer;
mod parser;
mod properties;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

/// Most nested parentheses and prefix operators (`NOT`, `-`, `+`) a
/// selector may have; Java's limit is its thread stack.
pub const MAX_NESTING: usize = 100;
/// Most levels of operators in a selector's tree (a chain of `AND`s counts
/// one per `AND`), which bounds evaluation's recursion.
pub const MAX_DEPTH: usize = 512;
/// Characters of the expression quoted in an error.
const QUOTED_CHARS: usize = 200;

/// Why an expression is not a valid selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid MessageSelector \"{expression}\": {reason} (at character {column})")]
pub struct ParseError {
    expression: String,
    reason: String,
    column: usize,
}

impl ParseError {
    fn new(src: &str, at: usize, reason: impl Into<String>) -> Self {
        let column = src.get(..at).map_or(at, |s| s.chars().count()) + 1;
        let expression = match src.char_indices().nth(QUOTED_CHARS) {
            Some((cut, _)) => format!("{}…", &src[..cut]),
            None => src.to_owned(),
        };
        Self {
            expression,
            reason: reason.into(),
            column,
        }
    }

    /// What is wrong, without the expression.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A compiled SQL92 selector.
#[derive(Clone, PartialEq)]
pub struct Selector {
    root: expr::Expr,
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector").finish_non_exhaustive()
    }
}

impl Selector {
    /// Compiles `expression` (`SelectorParser.parse`).
    pub fn compile(expression: &str) -> Result<Self, ParseError> {
        parser::parse(expression).map(|root| Self { root })
    }

    /// Whether a record whose raw property bytes are `properties`
    /// (`name\x01value` pairs joined by `\x02`) matches: the expression is
    /// true, not false, unknown or an error.
    pub fn matches(&self, properties: &[u8]) -> bool {
        self.evaluate(properties) == Ok(Some(true))
    }

    /// The expression's value on `properties`: `None` for Java's null,
    /// `Err` where Java would throw.
    fn evaluate(&self, properties: &[u8]) -> Result<Option<bool>, value::Thrown> {
        self.root.test(properties)
    }
}
