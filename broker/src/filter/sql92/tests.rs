//! Selectors compiled and evaluated as Java's `SelectorParser` and
//! `ExpressionMessageFilter` do: every construct, the null and type rules,
//! and malformed input.

use super::value::Thrown;
use super::*;

/// The record property bytes of `pairs`.
fn props(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push(2);
        }
        out.extend_from_slice(name.as_bytes());
        out.push(1);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// The value of `expression` on a message with `pairs`.
fn eval(expression: &str, pairs: &[(&str, &str)]) -> Result<Option<bool>, Thrown> {
    let selector = Selector::compile(expression)
        .unwrap_or_else(|e| panic!("{expression:?} should compile: {e}"));
    let result = selector.evaluate(&props(pairs));
    assert_eq!(selector.matches(&props(pairs)), result == Ok(Some(true)));
    result
}

const T: Result<Option<bool>, Thrown> = Ok(Some(true));
const F: Result<Option<bool>, Thrown> = Ok(Some(false));
const UNKNOWN: Result<Option<bool>, Thrown> = Ok(None);
const THROWN: Result<Option<bool>, Thrown> = Err(Thrown);

fn refused(expression: &str) -> ParseError {
    match Selector::compile(expression) {
        Ok(_) => panic!("{expression:?} should not compile"),
        Err(e) => e,
    }
}

#[test]
fn comparisons_convert_the_property_to_the_literal_type() {
    let a3 = [("a", "3")];
    assert_eq!(eval("a = 3", &a3), T);
    assert_eq!(eval("a <> 3", &a3), F);
    assert_eq!(eval("a <> 4", &a3), T);
    assert_eq!(eval("a > 2", &a3), T);
    assert_eq!(eval("a >= 3", &a3), T);
    assert_eq!(eval("a < 3", &a3), F);
    assert_eq!(eval("a <= 3", &a3), T);
    assert_eq!(eval("3 = a", &a3), T);
    assert_eq!(eval("4 > a", &a3), T);
    assert_eq!(eval("a = '3'", &a3), T);
    assert_eq!(eval("a = '03'", &a3), F, "strings compare as strings");
    // A double literal parses the property with Double.valueOf.
    assert_eq!(eval("a = 3.0", &a3), T);
    assert_eq!(eval("a > 2.5", &a3), T);
    assert_eq!(eval("a > 2.5", &[("a", " 3 ")]), T, "Double.valueOf trims");
    assert_eq!(eval("a > 1.5", &[("a", "NaN")]), T, "NaN sorts above all");
    // An int literal parses it with Integer.valueOf, which throws on these.
    assert_eq!(eval("a > 2", &[("a", "3.5")]), THROWN);
    assert_eq!(eval("a > 2", &[("a", " 3")]), THROWN);
    assert_eq!(eval("a > 2", &[("a", "10000000000")]), THROWN);
    assert_eq!(eval("a = 3", &[("a", "abc")]), THROWN);
    // A literal past int range is a long.
    assert_eq!(eval("a > 3000000000", &[("a", "4000000000")]), T);
    assert_eq!(eval("a = 3000000000", &[("a", "3000000000")]), T);
    assert_eq!(eval("a = 3L", &a3), T);
    assert_eq!(eval("a = -3", &[("a", "-3")]), T);
    assert_eq!(eval("a = - -3", &a3), T);
    assert_eq!(eval("a = +3", &a3), T);
    assert_eq!(eval("a > 3.1E10", &[("a", "31415000000")]), T);
}

#[test]
fn two_properties_compare_as_strings_or_as_doubles() {
    assert_eq!(eval("a > b", &[("a", "10"), ("b", "9")]), T);
    assert_eq!(eval("a < b", &[("a", "10"), ("b", "9")]), F);
    assert_eq!(eval("a > b", &[("a", "x"), ("b", "9")]), THROWN);
    assert_eq!(eval("a = b", &[("a", "3.14"), ("b", "3.14")]), T);
    assert_eq!(eval("a = b", &[("a", "3.0"), ("b", "3")]), F);
    assert_eq!(eval("a <> b", &[("a", "3.14"), ("b", "3.141")]), T);
}

#[test]
fn missing_properties_follow_java_null_rules() {
    let none: [(&str, &str); 0] = [];
    for expression in ["a = 3", "a <> 3", "a > 3", "a <= 3", "a = 'x'", "a <> 'x'"] {
        assert_eq!(eval(expression, &none), UNKNOWN, "{expression}");
    }
    // A null on the right only is false, so its negation is true.
    assert_eq!(eval("'x' = a", &none), F);
    assert_eq!(eval("'x' <> a", &none), T);
    assert_eq!(eval("3 > a", &none), UNKNOWN);
    // Two nulls are equal.
    assert_eq!(eval("a = b", &none), T);
    assert_eq!(eval("a <> b", &none), F);
    assert_eq!(eval("a = b", &[("a", "1")]), F);
    assert_eq!(eval("a = b", &[("b", "1")]), UNKNOWN);
    assert_eq!(eval("NOT (a = 3)", &none), UNKNOWN);
    assert_eq!(
        eval("-a = 3", &[("a", "-3")]),
        UNKNOWN,
        "a string does not negate"
    );
}

#[test]
fn is_null_and_is_not_null() {
    assert_eq!(eval("a IS NULL", &[]), T);
    assert_eq!(eval("a IS NOT NULL", &[]), F);
    assert_eq!(eval("a is null", &[("a", "x")]), F);
    assert_eq!(eval("a is not null", &[("a", "x")]), T);
    assert_eq!(eval("a IS NULL OR a = 'hello'", &[]), T);
    assert_eq!(eval("a IS NULL OR a = 'hello'", &[("a", "hello")]), T);
    assert_eq!(eval("a IS NULL OR a = 'hello'", &[("a", "abc")]), F);
    assert_eq!(eval("a IS NOT NULL AND a = 'hello'", &[]), F);
    assert_eq!(eval("NULL IS NULL", &[]), T);
    assert_eq!(eval("1 IS NULL", &[]), F);
}

#[test]
fn between_and_not_between() {
    let sql = "a BETWEEN 3 AND 6";
    for (v, want) in [
        ("3", T),
        ("4", T),
        ("6", T),
        ("2", F),
        ("7", F),
        ("x", THROWN),
    ] {
        assert_eq!(eval(sql, &[("a", v)]), want, "a={v}");
    }
    assert_eq!(eval(sql, &[]), UNKNOWN);
    let sql = "a NOT BETWEEN 3 AND 6";
    for (v, want) in [("2", T), ("7", T), ("3", F), ("6", F)] {
        assert_eq!(eval(sql, &[("a", v)]), want, "a={v}");
    }
    assert_eq!(eval(sql, &[]), UNKNOWN);
    assert_eq!(eval("a BETWEEN 2.5 AND 3000000000", &[("a", "3")]), T);
    assert_eq!(eval("a between -6 and -3", &[("a", "-4")]), T);
    // Negated bounds are not literals to Java, so their order is not checked.
    assert_eq!(eval("a BETWEEN -3 AND -6", &[("a", "-4")]), F);
    assert_eq!(
        eval("a BETWEEN b AND c", &[("a", "2"), ("b", "1"), ("c", "3")]),
        T
    );
    assert_eq!(eval("a NOT BETWEEN 6 AND 3", &[("a", "4")]), T);
    assert_eq!(
        eval("a BETWEEN 3 AND 6 AND b = 'x'", &[("a", "5"), ("b", "x")]),
        T
    );
    assert_eq!(
        eval("a BETWEEN 3 AND 6 AND b = 'x'", &[("a", "5"), ("b", "y")]),
        F
    );
    for bad in [
        "a BETWEEN 6 AND 3",
        "a BETWEEN 10 AND 0",
        "a BETWEEN NULL AND 3",
        "a BETWEEN 'a' AND 'b'",
        "a BETWEEN TRUE AND FALSE",
        "a BETWEEN 1",
        "a BETWEEN 1 OR 2",
        "NOT a BETWEEN 1 AND 2",
    ] {
        refused(bad);
    }
}

#[test]
fn in_and_not_in() {
    let sql = "a IN ('x', 'y', 'it''s')";
    assert_eq!(eval(sql, &[("a", "x")]), T);
    assert_eq!(eval(sql, &[("a", "it's")]), T);
    assert_eq!(eval(sql, &[("a", "z")]), F);
    assert_eq!(eval(sql, &[]), UNKNOWN);
    let sql = "a NOT IN ('x', 'y')";
    assert_eq!(eval(sql, &[("a", "z")]), T);
    assert_eq!(eval(sql, &[("a", "x")]), F);
    assert_eq!(eval(sql, &[]), UNKNOWN);
    assert_eq!(eval("(a) in ('1','2','3','4','5','6')", &[("a", "6")]), T);
    for bad in [
        "1 IN ('x')",
        "a IN (1)",
        "a IN ()",
        "a IN 'x'",
        "a IN ('x'",
        "'x' IN ('x')",
    ] {
        refused(bad);
    }
}

#[test]
fn contains_startswith_endswith() {
    let axb = [("value", "axb")];
    assert_eq!(eval("value contains 'x'", &axb), T);
    assert_eq!(eval("value startswith 'ax'", &axb), T);
    assert_eq!(eval("value endswith 'xb'", &axb), T);
    assert_eq!(eval("value not contains 'x'", &axb), F);
    assert_eq!(eval("value not startswith 'x'", &axb), T);
    assert_eq!(eval("value not endswith 'x'", &axb), T);
    assert_eq!(eval("value contains 'u'", &axb), F);
    // An empty search and a missing property are false, negated or not.
    for sql in [
        "value contains ''",
        "value not contains ''",
        "value startswith ''",
        "value not endswith ''",
    ] {
        assert_eq!(eval(sql, &axb), F, "{sql}");
    }
    for sql in [
        "value contains 'x'",
        "value not contains 'x'",
        "value not startswith 'x'",
    ] {
        assert_eq!(eval(sql, &[]), F, "{sql}");
    }
    // A non-string operand is false.
    assert_eq!(eval("3 contains '3'", &[]), F);
    assert_eq!(eval("3 not contains '3'", &[]), F);
    assert_eq!(eval("'axb' contains 'x'", &[]), T);
    assert_eq!(eval("' ' endswith ' '", &[]), T);
    assert_eq!(
        eval(
            "a = 3 and b contains 'xxx' and c not contains 'xxx'",
            &[("a", "3"), ("b", "1xxx2"), ("c", "yy")]
        ),
        T
    );
    for bad in [
        "value contains x",
        "value contains 123",
        "value not contains",
        "value contains",
    ] {
        refused(bad);
    }
}

#[test]
fn logic_is_three_valued_and_short_circuits() {
    let none: [(&str, &str); 0] = [];
    assert_eq!(eval("a = 1 AND FALSE", &none), F);
    assert_eq!(eval("a = 1 AND TRUE", &none), UNKNOWN);
    assert_eq!(eval("a = 1 OR TRUE", &none), T);
    assert_eq!(eval("a = 1 OR FALSE", &none), UNKNOWN);
    assert_eq!(eval("NOT (a = 1 OR FALSE)", &none), UNKNOWN);
    assert_eq!(eval("TRUE", &none), T);
    assert_eq!(eval("FALSE", &none), F);
    assert_eq!(eval("NULL", &none), UNKNOWN);
    assert_eq!(eval("NOT NULL", &none), UNKNOWN);
    // The left side is evaluated first; an error there ends evaluation.
    let x = [("a", "x")];
    assert_eq!(eval("FALSE AND a > 3", &x), F);
    assert_eq!(eval("TRUE OR a > 3", &x), T);
    assert_eq!(eval("a > 3 AND FALSE", &x), THROWN);
    assert_eq!(eval("a > 3 OR TRUE", &x), THROWN);
    assert_eq!(eval("b = 1 AND a > 3", &x), THROWN);
}

#[test]
fn precedence_follows_the_grammar() {
    let sql = "a = 1 OR b = 2 AND c = 3";
    assert_eq!(eval(sql, &[("a", "1")]), T);
    assert_eq!(eval(sql, &[("a", "0"), ("b", "2"), ("c", "0")]), F);
    let sql = "(a = 1 OR b = 2) AND c = 3";
    assert_eq!(eval(sql, &[("a", "1"), ("c", "0")]), F);
    assert_eq!(eval(sql, &[("b", "2"), ("c", "3")]), T);
    // NOT binds tighter than '=': this is (NOT a) = 1, never true.
    assert_eq!(eval("NOT a = 1", &[("a", "2")]), F);
    assert_eq!(eval("NOT a = 1", &[]), UNKNOWN);
    // '=' is looser than '>': a = (b > 1).
    assert_eq!(eval("a = b > 1", &[("a", "true"), ("b", "2")]), T);
    assert_eq!(
        eval(
            "a=3 and b<>4 And c>5 AND d<=4",
            &[("a", "3"), ("b", "5"), ("c", "6"), ("d", "1")]
        ),
        T
    );
    assert_eq!(
        eval(
            "a=3 or b<>4 Or c>5 OR d<=4",
            &[("a", "4"), ("b", "4"), ("c", "3"), ("d", "2")]
        ),
        T
    );
}

#[test]
fn booleans_and_bare_properties() {
    assert_eq!(
        eval("a = TRUE OR b = FALSE", &[("a", "true"), ("b", "false")]),
        T
    );
    assert_eq!(
        eval("a = TRUE OR b = FALSE", &[("a", "false"), ("b", "true")]),
        F
    );
    assert_eq!(eval("a = TRUE", &[("a", "TRUE")]), T);
    assert_eq!(eval("a = TRUE", &[("a", "yes")]), F);
    // A Boolean on the left of a string: Java's cast fails.
    assert_eq!(eval("TRUE = a", &[("a", "true")]), THROWN);
    assert_eq!(eval("TRUE = a", &[]), F);
    assert_eq!(eval("1 = TRUE", &[]), F);
    assert_eq!(eval("TRUE = FALSE", &[]), F);
    assert_eq!(eval("(a = 1) = TRUE", &[("a", "1")]), T);
    // A bare property is a string, so never true; NOT of it is.
    assert_eq!(eval("a", &[("a", "true")]), F);
    assert_eq!(eval("a", &[]), UNKNOWN);
    assert_eq!(eval("NOT a", &[("a", "true")]), T);
    assert_eq!(eval("a AND b", &[("a", "true"), ("b", "true")]), F);
}

#[test]
fn strings_escape_quotes_and_tags_is_a_property() {
    let tag = [("TAGS", "''tag''")];
    assert_eq!(eval("TAGS is not null and TAGS='''''tag'''''", &tag), T);
    assert_eq!(eval("TAGS = 'TagA'", &[("TAGS", "TagA"), ("KEYS", "k")]), T);
    assert_eq!(
        eval("tags = 'TagA'", &[("TAGS", "TagA")]),
        UNKNOWN,
        "names are case-sensitive"
    );
    assert_eq!(eval("a = 'é😀'", &[("a", "é😀")]), T);
}

#[test]
fn keywords_ignore_case_and_comments_are_skipped() {
    let a = [("a", "1"), ("b", "2")];
    assert_eq!(eval("a = 1 aNd b = 2", &a), T);
    assert_eq!(eval("a = 1 /* note */ AND -- the rest\n b = 2", &a), T);
    assert_eq!(eval("  a\t=\r\n1\x0c", &a), T);
    assert_eq!(eval("a <= now", &[("a", "1"), ("now", "2")]), T);
}

#[test]
fn like_java_tokens_after_a_complete_expression_are_not_read() {
    let a = [("a", "1")];
    assert_eq!(eval("a = 1 b = 2", &a), T);
    assert_eq!(eval("a = 1 )", &a), T);
    assert_eq!(eval("a + 1", &a), F, "the bare property a");
    assert_eq!(eval("a LIKE 'x'", &a), F, "the bare property a");
    assert_eq!(eval("a = 1 --no line break", &a), T);
    // The one token after it is read, so a lexical error there counts.
    refused("a = 1 !");
    refused("a = 1 'open");
    refused("a = 1 /* open");
}

#[test]
fn malformed_expressions_are_refused() {
    for bad in [
        "",
        "   ",
        "a >",
        "a = ",
        "(a = 1",
        "a = 1 AND",
        "a = 1 OR OR b = 2",
        "a IS 1",
        "a IS NOT 1",
        "a NOT LIKE 'x'",
        "a == 1",
        "a != 1",
        "a = \"x\"",
        "'x'",
        "1",
        "-a",
        "1 AND a = 1",
        "NOT 1",
        "NOT 'x'",
        "a and between 2 and 10",
        // Checks Java makes while building the expression.
        "a > 'x'",
        "'x' > 1",
        "a > TRUE",
        "NULL < 1",
        "(a = 1) > 2",
        "a > 1 > 2",
        "a = NULL",
        "NULL = a",
        "a <> NULL",
        "TRUE = 1",
        "a IN ('x') IN ('y')",
        // Literals Java cannot build.
        "a > 100000000000000000000000",
        "a > 9223372036854775808",
        "a > 0.0",
        "a > 1e-400",
        "a > 1e400",
        "a.b = 1",
        "é = 1",
    ] {
        refused(bad);
    }
    assert!(Selector::compile("a > 9223372036854775807").is_ok());
    assert!(Selector::compile("a > 4.9E-324").is_ok());
    assert!(Selector::compile("a > -0.5").is_ok());
}

#[test]
fn errors_name_the_expression_the_reason_and_the_place() {
    let e = refused("a > 'x'");
    assert!(
        e.to_string()
            .starts_with("Invalid MessageSelector \"a > 'x'\": "),
        "{e}"
    );
    assert!(e.reason().contains("'x' cannot be compared"), "{e}");
    let e = refused("a = 1 AND (b = 2");
    assert!(e.reason().contains("expected ')'"), "{e}");
    assert!(e.to_string().ends_with("(at character 17)"), "{e}");
    let e = refused("a != 1");
    assert!(e.reason().contains("unexpected character '!'"), "{e}");
    assert!(e.to_string().ends_with("(at character 3)"), "{e}");
    let long = format!("a > '{}'", "y".repeat(300));
    let e = refused(&long);
    assert!(
        e.to_string().contains('…') && e.to_string().len() < 400,
        "{e}"
    );
}

#[test]
fn nesting_and_depth_are_bounded() {
    let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(eval(&nested(MAX_NESTING - 1), &[("a", "1")]), T);
    assert!(
        refused(&nested(MAX_NESTING + 1))
            .reason()
            .contains("nests more than")
    );
    assert!(
        refused(&nested(100_000))
            .reason()
            .contains("nests more than")
    );
    assert!(
        refused(&format!("{}a", "NOT ".repeat(10_000)))
            .reason()
            .contains("nests")
    );
    assert!(
        refused(&format!("a = {}1", "-".repeat(10_000)))
            .reason()
            .contains("nests")
    );

    let chain = |n: usize| vec!["a = 1"; n].join(" AND ");
    assert_eq!(eval(&chain(MAX_DEPTH / 2), &[("a", "1")]), T);
    assert_eq!(eval(&chain(MAX_DEPTH / 2), &[]), UNKNOWN);
    assert!(
        refused(&chain(100_000))
            .reason()
            .contains("levels of operators")
    );
}
