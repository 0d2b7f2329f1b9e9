//! Rewrites fastjson's non-standard map keys into standard JSON.
//!
//! fastjson writes a map key that is not a `String` as the key's own JSON:
//! numbers bare (`{0:"a"}`) and beans as objects (`{{"queueId":0}:5}`). The
//! rewrite quotes bare keys and turns container keys into JSON strings holding
//! their compact, recursively normalized text. Everything else is copied
//! through byte for byte, and input that needs no rewrite is borrowed.
//!
//! The parser is iterative (an explicit stack, never recursion) so hostile
//! nesting costs memory bounded by [`MAX_DEPTH`], not call stack.

use std::borrow::Cow;
use std::ops::Range;

use crate::body::BodyError;

/// Deepest container nesting accepted; our bodies nest about six levels.
pub const MAX_DEPTH: usize = 128;

/// Rewrites fastjson's dialect into standard JSON (see the module docs).
pub fn normalize(input: &[u8]) -> Result<Cow<'_, str>, BodyError> {
    let text = std::str::from_utf8(input).map_err(|e| BodyError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        stack: Vec::new(),
        out: None,
        copied: 0,
        captures: Vec::new(),
    };
    parser.run()?;
    Ok(match parser.out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[parser.copied..]);
            Cow::Owned(out)
        }
    })
}

/// What an open object expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectState {
    /// Right after `{`: a key or `}`.
    FirstKey,
    /// After `,`: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After `:`: a value.
    Value,
    /// After a value: `,` or `}`.
    CommaOrEnd,
}

/// What an open array expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Right after `[`: a value or `]`.
    FirstValue,
    /// After `,`: a value.
    Value,
    /// After a value: `,` or `]`.
    CommaOrEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object(ObjectState),
    Array(ArrayState),
}

#[derive(Debug)]
struct Frame {
    kind: Kind,
    /// Set when this container is itself a map key: it closes a capture.
    is_key: bool,
    /// Input offset of the opening bracket, where an outermost key's
    /// replacement starts.
    start: usize,
}

#[derive(Debug)]
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Frame>,
    /// The rewritten text, created at the first rewrite (copy on write).
    out: Option<String>,
    /// Input before this offset is already in `out`.
    copied: usize,
    /// Compact text of the container keys being captured, innermost last.
    captures: Vec<String>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), BodyError> {
        self.skip_ws();
        if self.pos >= self.bytes.len() {
            return Err(self.err("a JSON value (input is empty)"));
        }
        self.value()?;
        while !self.stack.is_empty() {
            self.step()?;
        }
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.err("end of input after the top-level value"));
        }
        Ok(())
    }

    /// Advances by one token inside the innermost open container.
    fn step(&mut self) -> Result<(), BodyError> {
        self.skip_ws();
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.err("more input (truncated)"));
        };
        let Some(top) = self.stack.last_mut() else {
            return Ok(());
        };
        match top.kind {
            Kind::Object(state) => match (state, b) {
                (ObjectState::FirstKey, b'}') | (ObjectState::CommaOrEnd, b'}') => self.close(),
                (ObjectState::FirstKey | ObjectState::Key, _) => self.key(),
                (ObjectState::Colon, b':') => {
                    top.kind = Kind::Object(ObjectState::Value);
                    self.punct()
                }
                (ObjectState::Colon, _) => Err(self.err("':' after an object key")),
                (ObjectState::Value, _) => self.value(),
                (ObjectState::CommaOrEnd, b',') => {
                    top.kind = Kind::Object(ObjectState::Key);
                    self.punct()
                }
                (ObjectState::CommaOrEnd, _) => Err(self.err("',' or '}' in an object")),
            },
            Kind::Array(state) => match (state, b) {
                (ArrayState::FirstValue, b']') | (ArrayState::CommaOrEnd, b']') => self.close(),
                (ArrayState::FirstValue | ArrayState::Value, _) => self.value(),
                (ArrayState::CommaOrEnd, b',') => {
                    top.kind = Kind::Array(ArrayState::Value);
                    self.punct()
                }
                (ArrayState::CommaOrEnd, _) => Err(self.err("',' or ']' in an array")),
            },
        }
    }

    /// Parses a value at `pos` (whitespace already skipped).
    fn value(&mut self) -> Result<(), BodyError> {
        let start = self.pos;
        match self.bytes.get(start) {
            Some(b'{') => self.open(Kind::Object(ObjectState::FirstKey), false),
            Some(b'[') => self.open(Kind::Array(ArrayState::FirstValue), false),
            Some(b'"') => {
                self.string()?;
                self.emit(start..self.pos, None);
                self.value_done();
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                self.emit(start..self.pos, None);
                self.value_done();
                Ok(())
            }
            Some(b't' | b'f' | b'n') => {
                let word = self.word();
                if !matches!(&self.text[word.clone()], "true" | "false" | "null") {
                    self.pos = word.start;
                    return Err(self.err("a JSON value"));
                }
                self.emit(word, None);
                self.value_done();
                Ok(())
            }
            Some(_) => Err(self.err("a JSON value")),
            None => Err(self.err("a value (truncated)")),
        }
    }

    /// Parses an object key: a string, or fastjson's bare number, identifier
    /// or container.
    fn key(&mut self) -> Result<(), BodyError> {
        let start = self.pos;
        match self.bytes.get(start) {
            Some(b'"') => {
                self.string()?;
                self.emit(start..self.pos, None);
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                self.emit_quoted(start..self.pos);
            }
            Some(&b) if is_ident_start(b) => {
                let word = self.word();
                self.emit_quoted(word);
            }
            Some(b'{') => return self.open(Kind::Object(ObjectState::FirstKey), true),
            Some(b'[') => return self.open(Kind::Array(ArrayState::FirstValue), true),
            Some(_) => return Err(self.err("an object key or '}'")),
            None => return Err(self.err("an object key (truncated)")),
        }
        self.set_top(Kind::Object(ObjectState::Colon));
        Ok(())
    }

    fn open(&mut self, kind: Kind, is_key: bool) -> Result<(), BodyError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(BodyError::TooDeep { offset: self.pos });
        }
        let start = self.pos;
        if is_key {
            self.captures.push(String::new());
        }
        self.stack.push(Frame {
            kind,
            is_key,
            start,
        });
        self.pos += 1;
        self.emit(start..self.pos, None);
        Ok(())
    }

    fn close(&mut self) -> Result<(), BodyError> {
        let start = self.pos;
        self.pos += 1;
        self.emit(start..self.pos, None);
        let Some(frame) = self.stack.pop() else {
            return Err(self.err("no closing bracket here"));
        };
        if !frame.is_key {
            self.value_done();
            return Ok(());
        }
        let Some(captured) = self.captures.pop() else {
            return Err(self.err("no closing bracket here"));
        };
        let mut quoted = String::with_capacity(captured.len() + 8);
        quoted.push('"');
        for c in captured.chars() {
            // Captured text is compact JSON: no raw control characters, so
            // only the quote and the backslash need escaping.
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        if let Some(outer) = self.captures.last_mut() {
            outer.push_str(&quoted);
        } else {
            self.replace(frame.start..self.pos, &quoted);
        }
        self.set_top(Kind::Object(ObjectState::Colon));
        Ok(())
    }

    /// A `:` or `,` at `pos`.
    fn punct(&mut self) -> Result<(), BodyError> {
        let start = self.pos;
        self.pos += 1;
        self.emit(start..self.pos, None);
        Ok(())
    }

    /// Moves the enclosing container past a finished value.
    fn value_done(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.kind = match top.kind {
                Kind::Object(_) => Kind::Object(ObjectState::CommaOrEnd),
                Kind::Array(_) => Kind::Array(ArrayState::CommaOrEnd),
            };
        }
    }

    fn set_top(&mut self, kind: Kind) {
        if let Some(top) = self.stack.last_mut() {
            top.kind = kind;
        }
    }

    /// Records a token: into the innermost capture, else as-is (lazily).
    fn emit(&mut self, span: Range<usize>, replacement: Option<&str>) {
        let text = self.text;
        if let Some(capture) = self.captures.last_mut() {
            capture.push_str(replacement.unwrap_or(&text[span]));
        } else if let Some(r) = replacement {
            self.replace(span, r);
        }
    }

    fn emit_quoted(&mut self, span: Range<usize>) {
        let quoted = format!("\"{}\"", &self.text[span.clone()]);
        self.emit(span, Some(&quoted));
    }

    /// Replaces `span` of the input in the output, materializing it.
    fn replace(&mut self, span: Range<usize>, with: &str) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.text.len() + 32));
        out.push_str(&self.text[self.copied..span.start]);
        out.push_str(with);
        self.copied = span.end;
    }

    /// Scans a string starting at the opening quote; validates escapes.
    fn string(&mut self) -> Result<(), BodyError> {
        self.pos += 1;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.err("a closing '\"' (truncated string)"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => match self.bytes.get(self.pos + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                        self.pos += 2;
                    }
                    Some(b'u') => {
                        let hex = self.bytes.get(self.pos + 2..self.pos + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(self.err("four hex digits after \\u"));
                        }
                        self.pos += 6;
                    }
                    Some(_) => return Err(self.err("a JSON escape after '\\'")),
                    None => return Err(self.err("an escape (truncated string)")),
                },
                0x00..=0x1f => return Err(self.err("no raw control character in a string")),
                _ => self.pos += 1,
            }
        }
    }

    /// Scans a JSON number (RFC 8259 grammar).
    fn number(&mut self) -> Result<(), BodyError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.err("a digit after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.err("a digit in the exponent"));
            }
            self.digits();
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// Scans an identifier (fastjson's unquoted name characters).
    fn word(&mut self) -> Range<usize> {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_part) {
            self.pos += 1;
        }
        start..self.pos
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn err(&self, expected: &'static str) -> BodyError {
        BodyError::Syntax {
            offset: self.pos,
            expected,
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        match normalize(s.as_bytes()) {
            Ok(c) => c.into_owned(),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn standard_json_is_borrowed() {
        let s = r#" {"a" : [1, -2.5e3, true, false, null, "x\"y\\z\u00e9"], "b":{}} "#;
        assert!(matches!(normalize(s.as_bytes()), Ok(Cow::Borrowed(b)) if b == s));
    }

    #[test]
    fn bare_number_keys_are_quoted() {
        assert_eq!(
            norm(r#"{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}}"#),
            r#"{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}}"#
        );
        assert_eq!(norm("{-1:2,-0:3, 12 :4}"), r#"{"-1":2,"-0":3, "12" :4}"#);
    }

    #[test]
    fn identifier_keys_are_quoted() {
        assert_eq!(
            norm("{true:1,null:2,$a_b9:3}"),
            r#"{"true":1,"null":2,"$a_b9":3}"#
        );
    }

    #[test]
    fn object_keys_become_strings_of_compact_json() {
        assert_eq!(
            norm(
                r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":9}}}"#
            ),
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":{"brokerOffset":9}}}"#
        );
    }

    #[test]
    fn container_keys_are_compacted_and_nested_keys_normalized() {
        assert_eq!(
            norm("{ { \"a\" : [ 1 , 2 ] , 5 : { {\"k\":1} : 2 } } : 1 , [ 3 ]:2 }"),
            r#"{ "{\"a\":[1,2],\"5\":{\"{\\\"k\\\":1}\":2}}" : 1 , "[3]":2 }"#
        );
    }

    #[test]
    fn strings_are_copied_untouched() {
        let s = r#"{"k{:}":"v{1:2}\"\\","x":{7:"a:b,{c}\u0041\n"}}"#;
        assert_eq!(
            norm(s),
            r#"{"k{:}":"v{1:2}\"\\","x":{"7":"a:b,{c}\u0041\n"}}"#
        );
        let key_with_string = r#"{{"t":"a\"b:{"}:1}"#;
        assert_eq!(norm(key_with_string), r#"{"{\"t\":\"a\\\"b:{\"}":1}"#);
    }

    #[test]
    fn whitespace_outside_keys_is_kept() {
        assert_eq!(
            norm("{\n  0 : \"a\",\r\n\t1:\"b\"\n}\n"),
            "{\n  \"0\" : \"a\",\r\n\t\"1\":\"b\"\n}\n"
        );
    }

    #[test]
    fn scalars_and_empty_containers() {
        for s in ["1", "\"s\"", "[]", "{}", "null", " [ ] "] {
            assert_eq!(norm(s), s);
        }
    }

    #[test]
    fn garbage_is_rejected() {
        for s in [
            "",
            " ",
            "{",
            "}",
            "[",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "[1,]",
            "{,}",
            "[1 2]",
            "{\"a\" 1}",
            "{1:2",
            "01",
            "-",
            "1.",
            "1e",
            "1e+",
            "tru",
            "nul",
            "nulls",
            "truex",
            "\"abc",
            "\"\\x\"",
            "\"\\u12G4\"",
            "\"\\u12\"",
            "\"a\u{1}b\"",
            "{:1}",
            "{\"a\":1}}",
            "[1]]",
            "{}x",
            "{'a':1}",
            "{\"a\":'b'}",
            "{\"a\":undefined}",
            "{@:1}",
            "{[}:1}",
            "{{}:}",
            "{{}}",
            "[{]",
            "\u{feff}{}",
        ] {
            assert!(normalize(s.as_bytes()).is_err(), "accepted {s:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert!(matches!(
            normalize(b"{\"a\":\"\xff\"}"),
            Err(BodyError::NotUtf8 { offset: 6 })
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(matches!(
            normalize(deep.as_bytes()),
            Err(BodyError::TooDeep { offset: 128 })
        ));
        let deep_keys = "{".repeat(100_000);
        assert!(matches!(
            normalize(deep_keys.as_bytes()),
            Err(BodyError::TooDeep { .. })
        ));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(norm(&ok), ok);
    }

    #[test]
    fn every_prefix_of_a_valid_body_is_rejected() {
        let s = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"a":[1,2.5]}},"m":{-1:"x\"y"},"z":true}"#;
        assert!(normalize(s.as_bytes()).is_ok());
        for end in 0..s.len() {
            assert!(normalize(&s.as_bytes()[..end]).is_err(), "prefix {end}");
        }
    }
}
