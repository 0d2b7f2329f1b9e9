//! Tokens of RocketMQ's selector grammar (`SelectorParser.jj`), read one at
//! a time as the parser asks, as JavaCC's token manager does: a lexical
//! error past the end of the expression counts only if the parser looks
//! that far.

use std::fmt;

use super::ParseError;

/// One token; literals keep their source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
    /// `0`, or `[1-9][0-9]*` with an optional `L`.
    Decimal(&'a str),
    /// Digits with a point and/or an exponent.
    Float(&'a str),
    /// A quoted string, without its outer quotes and with `''` undecoded.
    Str(&'a str),
    /// A property name.
    Id(&'a str),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    Comma,
    RParen,
    Plus,
    Minus,
    Eof,
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Not => "NOT",
            Self::And => "AND",
            Self::Or => "OR",
            Self::Between => "BETWEEN",
            Self::In => "IN",
            Self::True => "TRUE",
            Self::False => "FALSE",
            Self::Null => "NULL",
            Self::Is => "IS",
            Self::Contains => "CONTAINS",
            Self::StartsWith => "STARTSWITH",
            Self::EndsWith => "ENDSWITH",
            Self::Decimal(s) | Self::Float(s) | Self::Id(s) => s,
            Self::Str(s) => return write!(f, "'{s}'"),
            Self::Eq => "'='",
            Self::Ne => "'<>'",
            Self::Gt => "'>'",
            Self::Ge => "'>='",
            Self::Lt => "'<'",
            Self::Le => "'<='",
            Self::LParen => "'('",
            Self::Comma => "','",
            Self::RParen => "')'",
            Self::Plus => "'+'",
            Self::Minus => "'-'",
            Self::Eof => "the end of the expression",
        };
        f.write_str(text)
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Spanned<'a> {
    pub(super) token: Token<'a>,
    pub(super) at: usize,
}

/// Reads tokens from an expression.
#[derive(Debug)]
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    /// The next token, skipping blanks and comments.
    pub(super) fn next_token(&mut self) -> Result<Spanned<'a>, ParseError> {
        self.skip_blanks_and_comments()?;
        let at = self.pos;
        let bytes = self.src.as_bytes();
        let Some(&first) = bytes.get(at) else {
            return Ok(Spanned {
                token: Token::Eof,
                at,
            });
        };
        let next = bytes.get(at + 1).copied();
        let (token, len) = match first {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let len = run(&bytes[at..], |b| {
                    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
                });
                let word = &self.src[at..at + len];
                (keyword(word).unwrap_or(Token::Id(word)), len)
            }
            b'0'..=b'9' => number(&self.src[at..]),
            b'.' if next.is_some_and(|b| b.is_ascii_digit()) => number(&self.src[at..]),
            b'\'' => {
                let len = string_len(&bytes[at..])
                    .ok_or_else(|| ParseError::new(self.src, at, "unterminated string literal"))?;
                (Token::Str(&self.src[at + 1..at + len - 1]), len)
            }
            b'=' => (Token::Eq, 1),
            b'<' => match next {
                Some(b'>') => (Token::Ne, 2),
                Some(b'=') => (Token::Le, 2),
                _ => (Token::Lt, 1),
            },
            b'>' if next == Some(b'=') => (Token::Ge, 2),
            b'>' => (Token::Gt, 1),
            b'(' => (Token::LParen, 1),
            b',' => (Token::Comma, 1),
            b')' => (Token::RParen, 1),
            b'+' => (Token::Plus, 1),
            b'-' => (Token::Minus, 1),
            _ => {
                let c = self.src[at..].chars().next().unwrap_or('?');
                return Err(ParseError::new(
                    self.src,
                    at,
                    format!("unexpected character {c:?}"),
                ));
            }
        };
        self.pos = at + len;
        Ok(Spanned { token, at })
    }

    /// Skips the grammar's blanks (` \t\n\r\f`), `-- …` comments (which
    /// must end with a line break) and `/* … */` comments.
    fn skip_blanks_and_comments(&mut self) -> Result<(), ParseError> {
        let bytes = self.src.as_bytes();
        loop {
            let rest = &bytes[self.pos..];
            match rest {
                [b' ' | b'\t' | b'\n' | b'\r' | b'\x0c', ..] => self.pos += 1,
                [b'-', b'-', ..] => {
                    // Without a line break it is no comment but two minus signs.
                    let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                        return Ok(());
                    };
                    self.pos += end + 1;
                }
                [b'/', b'*', tail @ ..] => {
                    let end = tail.windows(2).position(|w| w == b"*/").ok_or_else(|| {
                        ParseError::new(self.src, self.pos, "unterminated comment")
                    })?;
                    self.pos += 2 + end + 2;
                }
                _ => return Ok(()),
            }
        }
    }
}

/// The keyword `word` spells, in any case.
fn keyword(word: &str) -> Option<Token<'static>> {
    const KEYWORDS: [(&str, Token<'static>); 12] = [
        ("NOT", Token::Not),
        ("AND", Token::And),
        ("OR", Token::Or),
        ("BETWEEN", Token::Between),
        ("IN", Token::In),
        ("TRUE", Token::True),
        ("FALSE", Token::False),
        ("NULL", Token::Null),
        ("IS", Token::Is),
        ("CONTAINS", Token::Contains),
        ("STARTSWITH", Token::StartsWith),
        ("ENDSWITH", Token::EndsWith),
    ];
    KEYWORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, token)| token)
}

/// How many leading bytes satisfy `pred`.
fn run(bytes: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    bytes.iter().position(|&b| !pred(b)).unwrap_or(bytes.len())
}

/// The longest numeric token at the start of `s` (which starts with a
/// digit, or a point and a digit), as JavaCC picks it: a float when a point
/// or a complete exponent follows the digits; else a decimal, which is `0`
/// alone or digits not starting with 0 plus an optional `L`.
fn number(s: &str) -> (Token<'_>, usize) {
    let bytes = s.as_bytes();
    let digits = run(bytes, |b| b.is_ascii_digit());
    let mut end = digits;
    let mut float = false;
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        end += run(&bytes[end..], |b| b.is_ascii_digit());
        float = true;
    }
    if let Some(exp) = exponent_len(&bytes[end..]) {
        end += exp;
        float = true;
    }
    if float {
        return (Token::Float(&s[..end]), end);
    }
    if bytes[0] == b'0' {
        return (Token::Decimal(&s[..1]), 1);
    }
    if matches!(bytes.get(digits), Some(b'l' | b'L')) {
        return (Token::Decimal(&s[..digits + 1]), digits + 1);
    }
    (Token::Decimal(&s[..digits]), digits)
}

/// The length of a complete exponent (`E`, an optional sign, digits) at the
/// start of `bytes`.
fn exponent_len(bytes: &[u8]) -> Option<usize> {
    if !matches!(bytes.first(), Some(b'e' | b'E')) {
        return None;
    }
    let sign = usize::from(matches!(bytes.get(1), Some(b'+' | b'-')));
    let digits = run(&bytes[1 + sign..], |b| b.is_ascii_digit());
    (digits > 0).then_some(1 + sign + digits)
}

/// The length of the string literal at the start of `bytes` (quotes
/// included; `''` inside stands for one quote), if it is closed.
fn string_len(bytes: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        let quote = i + bytes.get(i..)?.iter().position(|&b| b == b'\'')?;
        if bytes.get(quote + 1) == Some(&b'\'') {
            i = quote + 2;
        } else {
            return Some(quote + 1);
        }
    }
}

/// The value of a string literal's inside: `''` becomes `'`.
pub(super) fn unquote(inside: &str) -> String {
    inside.replace("''", "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token()?.token;
            if t == Token::Eof {
                return Ok(out);
            }
            out.push(t);
        }
    }

    #[test]
    fn keywords_ignore_case_and_longer_words_are_names() {
        assert_eq!(
            tokens("not And oR between IN true FALSE Null is contains StartsWith endswith")
                .unwrap(),
            [
                Token::Not,
                Token::And,
                Token::Or,
                Token::Between,
                Token::In,
                Token::True,
                Token::False,
                Token::Null,
                Token::Is,
                Token::Contains,
                Token::StartsWith,
                Token::EndsWith
            ]
        );
        assert_eq!(
            tokens("notx in_ $a _b9 TAGS").unwrap(),
            [
                Token::Id("notx"),
                Token::Id("in_"),
                Token::Id("$a"),
                Token::Id("_b9"),
                Token::Id("TAGS")
            ]
        );
    }

    #[test]
    fn numbers_take_the_longest_java_token() {
        assert_eq!(
            tokens("0 7 10L 12l 5.5 5. .5 5E10 5e-3 1.e5 00.5").unwrap(),
            [
                Token::Decimal("0"),
                Token::Decimal("7"),
                Token::Decimal("10L"),
                Token::Decimal("12l"),
                Token::Float("5.5"),
                Token::Float("5."),
                Token::Float(".5"),
                Token::Float("5E10"),
                Token::Float("5e-3"),
                Token::Float("1.e5"),
                Token::Float("00.5"),
            ]
        );
        // "0" never takes digits or an L; "1e" has no complete exponent.
        assert_eq!(
            tokens("007 0L 1e 1.5L").unwrap(),
            [
                Token::Decimal("0"),
                Token::Decimal("0"),
                Token::Decimal("7"),
                Token::Decimal("0"),
                Token::Id("L"),
                Token::Decimal("1"),
                Token::Id("e"),
                Token::Float("1.5"),
                Token::Id("L"),
            ]
        );
    }

    #[test]
    fn strings_double_their_quotes() {
        assert_eq!(
            tokens("'a' '' 'it''s' '''x'''").unwrap(),
            [
                Token::Str("a"),
                Token::Str(""),
                Token::Str("it''s"),
                Token::Str("''x''")
            ]
        );
        assert_eq!(unquote("it''s"), "it's");
        assert_eq!(unquote("''''"), "''");
        assert!(tokens("'open").is_err());
        assert!(tokens("'open''").is_err());
    }

    #[test]
    fn operators_and_comments() {
        assert_eq!(
            tokens("= <> > >= < <= ( , ) + -").unwrap(),
            [
                Token::Eq,
                Token::Ne,
                Token::Gt,
                Token::Ge,
                Token::Lt,
                Token::Le,
                Token::LParen,
                Token::Comma,
                Token::RParen,
                Token::Plus,
                Token::Minus
            ]
        );
        assert_eq!(
            tokens("a /* x * / */ -- note\n b\t\x0c").unwrap(),
            [Token::Id("a"), Token::Id("b")]
        );
        // A line comment needs its line break; without it, two minus signs.
        assert_eq!(
            tokens("a --b").unwrap(),
            [Token::Id("a"), Token::Minus, Token::Minus, Token::Id("b")]
        );
        assert!(tokens("a /* open").is_err());
        assert!(tokens("/*/").is_err());
    }

    #[test]
    fn other_characters_are_lexical_errors() {
        for src in ["!=", "a.b", "é", "\"x\"", ".", "a;", "#"] {
            assert!(tokens(src).is_err(), "{src}");
        }
        // "==" is two tokens: a syntax error, not a lexical one.
        assert_eq!(tokens("==").unwrap(), [Token::Eq, Token::Eq]);
    }
}
