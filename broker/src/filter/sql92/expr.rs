//! A compiled selector's expression tree and its evaluation with Java's
//! three-valued logic: `None` is Java's `null` (unknown), [`Thrown`] is an
//! exception; only `Some(true)` at the root matches.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::properties::property;
use super::value::{Thrown, Value, java_compare};

/// A literal of the grammar.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    /// `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// A decimal within `int` range.
    Int(i32),
    /// A decimal beyond `int` range.
    Long(i64),
    /// A floating-point literal.
    Double(f64),
    /// A string literal, unquoted.
    Str(Box<str>),
}

impl Literal {
    /// Its value during evaluation.
    pub(super) fn value(&self) -> Value<'_> {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::Int(*i),
            Self::Long(l) => Value::Long(*l),
            Self::Double(d) => Value::Double(*d),
            Self::Str(s) => Value::Str(Cow::Borrowed(s)),
        }
    }

    /// Whether Java builds it as a `BooleanConstantExpression`.
    pub(super) fn is_boolean(&self) -> bool {
        matches!(self, Self::Null | Self::Bool(_))
    }
}

/// `>`, `>=`, `<`, `<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    Gt,
    Ge,
    Lt,
    Le,
}

/// `CONTAINS`, `STARTSWITH`, `ENDSWITH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextTest {
    Contains,
    StartsWith,
    EndsWith,
}

/// An expression node, one per Java expression class it stands for.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Literal(Literal),
    /// A message property by name (`PropertyExpression`).
    Property(Box<str>),
    /// Unary minus: numbers negate, anything else is null.
    Negate(Box<Expr>),
    /// A property used as a condition: a string is never true.
    BooleanCast(Box<str>),
    /// `=` (and `IS NULL` against a `NULL` literal).
    Equal(Box<Expr>, Box<Expr>),
    /// `>`, `>=`, `<`, `<=`.
    Compare(Relation, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `[NOT] IN ('a', …)` on a property.
    In {
        property: Box<str>,
        list: Box<[Box<str>]>,
        negated: bool,
    },
    /// `[NOT] CONTAINS|STARTSWITH|ENDSWITH 'text'`.
    Text {
        test: TextTest,
        negated: bool,
        operand: Box<Expr>,
        search: Box<str>,
    },
}

impl Expr {
    /// Whether Java's node is a `BooleanExpression`.
    pub(super) fn is_boolean(&self) -> bool {
        match self {
            Self::Literal(literal) => literal.is_boolean(),
            Self::Property(_) | Self::Negate(_) => false,
            Self::BooleanCast(_)
            | Self::Equal(..)
            | Self::Compare(..)
            | Self::Not(_)
            | Self::And(..)
            | Self::Or(..)
            | Self::In { .. }
            | Self::Text { .. } => true,
        }
    }

    /// The value of a boolean node: `Some(b)`, or `None` for Java's null.
    pub(super) fn test(&self, props: &[u8]) -> Result<Option<bool>, Thrown> {
        match self.evaluate(props)? {
            Value::Bool(b) => Ok(Some(b)),
            Value::Null => Ok(None),
            // Java casts to Boolean: a ClassCastException.
            _ => Err(Thrown),
        }
    }

    /// Java's `evaluate` on a message with properties `props` (the
    /// record's raw property bytes).
    pub(super) fn evaluate<'a>(&'a self, props: &'a [u8]) -> Result<Value<'a>, Thrown> {
        let truth = |b: Option<bool>| b.map_or(Value::Null, Value::Bool);
        Ok(match self {
            Self::Literal(literal) => literal.value(),
            Self::Property(name) => property(props, name).map_or(Value::Null, Value::Str),
            Self::Negate(operand) => match operand.evaluate(props)? {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::Long(l) => Value::Long(l.wrapping_neg()),
                Value::Double(d) => Value::Double(-d),
                _ => Value::Null,
            },
            Self::BooleanCast(name) => match property(props, name) {
                // A property is a string, never a Boolean.
                Some(_) => Value::Bool(false),
                None => Value::Null,
            },
            Self::Equal(left, right) => truth(equal(left, right, props)?),
            Self::Compare(relation, left, right) => truth(compare(*relation, left, right, props)?),
            Self::Not(operand) => truth(operand.test(props)?.map(|b| !b)),
            Self::And(left, right) => {
                let lv = left.test(props)?;
                if lv == Some(false) {
                    return Ok(Value::Bool(false));
                }
                let rv = right.test(props)?;
                truth(match (lv, rv) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                })
            }
            Self::Or(left, right) => {
                let lv = left.test(props)?;
                if lv == Some(true) {
                    return Ok(Value::Bool(true));
                }
                let rv = right.test(props)?;
                truth(match (lv, rv) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                })
            }
            Self::In {
                property: name,
                list,
                negated,
            } => truth(property(props, name).map(|v| list.iter().any(|s| **s == *v) != *negated)),
            Self::Text {
                test,
                negated,
                operand,
                search,
            } => Value::Bool(text_test(*test, *negated, operand, search, props)?),
        })
    }
}

/// Java's `=`: null on the left is unknown, null only on the right is
/// false, two nulls are equal; otherwise values compare with conversion.
fn equal(left: &Expr, right: &Expr, props: &[u8]) -> Result<Option<bool>, Thrown> {
    let lv = left.evaluate(props)?;
    let rv = right.evaluate(props)?;
    Ok(match (&lv, &rv) {
        (Value::Null, Value::Null) => Some(true),
        (Value::Null, _) => None,
        (_, Value::Null) => Some(false),
        _ => Some(java_compare(&lv, &rv)? == Ordering::Equal),
    })
}

/// Java's `>`/`>=`/`<`/`<=`: unknown with a null side; two strings are
/// compared as doubles (throwing when either is not a number).
fn compare(
    relation: Relation,
    left: &Expr,
    right: &Expr,
    props: &[u8],
) -> Result<Option<bool>, Thrown> {
    let lv = left.evaluate(props)?;
    if lv == Value::Null {
        return Ok(None);
    }
    let rv = right.evaluate(props)?;
    if rv == Value::Null {
        return Ok(None);
    }
    let order = match (&lv, &rv) {
        (Value::Str(a), Value::Str(b)) => {
            let parse = |s: &str| super::value::parse_double(s).ok_or(Thrown);
            super::value::double_cmp(parse(a)?, parse(b)?)
        }
        _ => java_compare(&lv, &rv)?,
    };
    Ok(Some(match relation {
        Relation::Gt => order == Ordering::Greater,
        Relation::Ge => order != Ordering::Less,
        Relation::Lt => order == Ordering::Less,
        Relation::Le => order != Ordering::Greater,
    }))
}

/// `CONTAINS` and friends: false for an empty search, a null or a
/// non-string operand, whether negated or not.
fn text_test(
    test: TextTest,
    negated: bool,
    operand: &Expr,
    search: &str,
    props: &[u8],
) -> Result<bool, Thrown> {
    if search.is_empty() {
        return Ok(false);
    }
    let Value::Str(value) = operand.evaluate(props)? else {
        return Ok(false);
    };
    let found = match test {
        TextTest::Contains => value.contains(search),
        TextTest::StartsWith => value.starts_with(search),
        TextTest::EndsWith => value.ends_with(search),
    };
    Ok(found != negated)
}
