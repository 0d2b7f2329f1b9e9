//! A recursive-descent parser for RocketMQ's selector grammar
//! (`SelectorParser.jj`), with the checks Java's expression factories make
//! while building (`ComparisonExpression.create*`, `asBooleanExpression`,
//! `ConstantExpression.create*`).
//!
//! Precedence, loosest first: `OR`; `AND`; `=`, `<>`, `IS [NOT] NULL`;
//! `>`, `>=`, `<`, `<=`, `[NOT] BETWEEN`, `[NOT] IN`,
//! `[NOT] CONTAINS|STARTSWITH|ENDSWITH`; prefix `+`, `-`, `NOT`.
//! Like Java's `JmsSelector()`, parsing stops after one complete
//! expression: tokens after it are not read.

use super::expr::{Expr, Literal, Relation, TextTest};
use super::lexer::{Lexer, Spanned, Token, unquote};
use super::value::java_compare;
use super::{MAX_DEPTH, MAX_NESTING, ParseError};

/// An expression and the height of its tree.
struct Node {
    expr: Expr,
    depth: usize,
}

impl Node {
    fn leaf(expr: Expr) -> Self {
        Self { expr, depth: 1 }
    }
}

/// Parses `src` into a boolean expression.
pub(super) fn parse(src: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        src,
        lexer: Lexer::new(src),
        peeked: None,
        nesting: 0,
    };
    let root = parser.or_expr()?;
    let at = parser.peek()?.at;
    Ok(parser.as_boolean(root, at)?.expr)
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Spanned<'a>>,
    /// Prefix operators and parentheses entered and not yet left.
    nesting: usize,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<Spanned<'a>, ParseError> {
        if let Some(t) = self.peeked {
            return Ok(t);
        }
        let t = self.lexer.next_token()?;
        self.peeked = Some(t);
        Ok(t)
    }

    fn bump(&mut self) -> Result<Spanned<'a>, ParseError> {
        let t = self.peek()?;
        self.peeked = None;
        Ok(t)
    }

    fn error(&self, at: usize, reason: impl Into<String>) -> ParseError {
        ParseError::new(self.src, at, reason)
    }

    fn expect(&mut self, want: Token<'static>, context: &str) -> Result<(), ParseError> {
        let t = self.bump()?;
        if t.token == want {
            return Ok(());
        }
        Err(self.error(
            t.at,
            format!("expected {want} {context}, found {}", t.token),
        ))
    }

    /// A node over `children`, refused when the tree gets too tall to
    /// evaluate safely.
    fn node(&self, expr: Expr, children: &[usize], at: usize) -> Result<Node, ParseError> {
        let depth = 1 + children.iter().copied().max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(self.error(
                at,
                format!("the expression has more than {MAX_DEPTH} levels of operators"),
            ));
        }
        Ok(Node { expr, depth })
    }

    fn or_expr(&mut self) -> Result<Node, ParseError> {
        let mut left = self.and_expr()?;
        while self.peek()?.token == Token::Or {
            let at = self.bump()?.at;
            let right = self.and_expr()?;
            let (l, r) = (self.as_boolean(left, at)?, self.as_boolean(right, at)?);
            left = self.node(
                Expr::Or(l.expr.into(), r.expr.into()),
                &[l.depth, r.depth],
                at,
            )?;
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Node, ParseError> {
        let mut left = self.equality_expr()?;
        while self.peek()?.token == Token::And {
            let at = self.bump()?.at;
            let right = self.equality_expr()?;
            let (l, r) = (self.as_boolean(left, at)?, self.as_boolean(right, at)?);
            left = self.node(
                Expr::And(l.expr.into(), r.expr.into()),
                &[l.depth, r.depth],
                at,
            )?;
        }
        Ok(left)
    }

    fn equality_expr(&mut self) -> Result<Node, ParseError> {
        let mut left = self.comparison_expr()?;
        loop {
            let Spanned { token, at } = self.peek()?;
            left = match token {
                Token::Eq | Token::Ne => {
                    self.bump()?;
                    let right = self.comparison_expr()?;
                    let equal = self.equal(left, right, at)?;
                    if token == Token::Ne {
                        self.node(Expr::Not(equal.expr.into()), &[equal.depth], at)?
                    } else {
                        equal
                    }
                }
                Token::Is => {
                    self.bump()?;
                    let negated = self.peek()?.token == Token::Not;
                    if negated {
                        self.bump()?;
                    }
                    self.expect(Token::Null, "after IS")?;
                    let null = Expr::Literal(Literal::Null);
                    let is_null = self.node(
                        Expr::Equal(left.expr.into(), null.into()),
                        &[left.depth],
                        at,
                    )?;
                    if negated {
                        self.node(Expr::Not(is_null.expr.into()), &[is_null.depth], at)?
                    } else {
                        is_null
                    }
                }
                _ => return Ok(left),
            };
        }
    }

    fn comparison_expr(&mut self) -> Result<Node, ParseError> {
        let mut left = self.unary_expr()?;
        loop {
            let Spanned { token, at } = self.peek()?;
            let relation = match token {
                Token::Gt => Some(Relation::Gt),
                Token::Ge => Some(Relation::Ge),
                Token::Lt => Some(Relation::Lt),
                Token::Le => Some(Relation::Le),
                _ => None,
            };
            if let Some(relation) = relation {
                self.bump()?;
                let right = self.unary_expr()?;
                left = self.relation(relation, left, right, at)?;
                continue;
            }
            let negated = match token {
                Token::Not => true,
                Token::Contains
                | Token::StartsWith
                | Token::EndsWith
                | Token::Between
                | Token::In => false,
                _ => return Ok(left),
            };
            if negated {
                self.bump()?;
            }
            let op = self.bump()?;
            left = match op.token {
                Token::Contains => self.text(TextTest::Contains, negated, left, at)?,
                Token::StartsWith => self.text(TextTest::StartsWith, negated, left, at)?,
                Token::EndsWith => self.text(TextTest::EndsWith, negated, left, at)?,
                Token::Between => self.between(negated, left, at)?,
                Token::In => self.in_list(negated, left, at)?,
                other => {
                    return Err(self.error(
                        op.at,
                        format!(
                            "expected CONTAINS, STARTSWITH, ENDSWITH, BETWEEN or IN after NOT, found {other}"
                        ),
                    ));
                }
            };
        }
    }

    fn unary_expr(&mut self) -> Result<Node, ParseError> {
        let Spanned { token, at } = self.peek()?;
        if !matches!(
            token,
            Token::Plus | Token::Minus | Token::Not | Token::LParen
        ) {
            return self.primary_expr();
        }
        if self.nesting >= MAX_NESTING {
            return Err(self.error(
                at,
                format!("the expression nests more than {MAX_NESTING} levels deep"),
            ));
        }
        self.nesting += 1;
        let node = self.nested(token, at);
        self.nesting -= 1;
        node
    }

    /// A prefix operator or a parenthesised expression.
    fn nested(&mut self, token: Token<'a>, at: usize) -> Result<Node, ParseError> {
        self.bump()?;
        match token {
            Token::Plus => self.unary_expr(),
            Token::Minus => {
                let operand = self.unary_expr()?;
                self.node(Expr::Negate(operand.expr.into()), &[operand.depth], at)
            }
            Token::Not => {
                let operand = self.unary_expr()?;
                let operand = self.as_boolean(operand, at)?;
                self.node(Expr::Not(operand.expr.into()), &[operand.depth], at)
            }
            _ => {
                let inner = self.or_expr()?;
                self.expect(Token::RParen, "to close '('")?;
                Ok(inner)
            }
        }
    }

    fn primary_expr(&mut self) -> Result<Node, ParseError> {
        let Spanned { token, at } = self.bump()?;
        let literal = match token {
            Token::Str(s) => Literal::Str(unquote(s).into()),
            Token::Decimal(text) => self.decimal(text, at)?,
            Token::Float(text) => self.float(text, at)?,
            Token::True => Literal::Bool(true),
            Token::False => Literal::Bool(false),
            Token::Null => Literal::Null,
            Token::Id(name) => return Ok(Node::leaf(Expr::Property(name.into()))),
            other => return Err(self.error(at, format!("expected a value, found {other}"))),
        };
        Ok(Node::leaf(Expr::Literal(literal)))
    }

    /// `ConstantExpression.createFromDecimal`: a long, narrowed to an int
    /// when it fits.
    fn decimal(&self, text: &str, at: usize) -> Result<Literal, ParseError> {
        let digits = text.trim_end_matches(['l', 'L']);
        let value: i64 = digits
            .parse()
            .map_err(|_| self.error(at, format!("{text} is out of the range of a long")))?;
        Ok(i32::try_from(value).map_or(Literal::Long(value), Literal::Int))
    }

    /// `ConstantExpression.createFloat`: Java refuses an infinite value and
    /// anything below `Double.MIN_VALUE`, zero included.
    fn float(&self, text: &str, at: usize) -> Result<Literal, ParseError> {
        let value: f64 = text
            .parse()
            .map_err(|_| self.error(at, format!("{text} is not a number")))?;
        if value > f64::MAX {
            return Err(self.error(at, format!("{text} is greater than {}", f64::MAX)));
        }
        if value < f64::from_bits(1) {
            return Err(self.error(at, format!("{text} is less than 4.9E-324")));
        }
        Ok(Literal::Double(value))
    }

    /// A string literal (the operand of `IN` and the text tests).
    fn string(&mut self, context: &str) -> Result<Box<str>, ParseError> {
        let t = self.bump()?;
        match t.token {
            Token::Str(s) => Ok(unquote(s).into()),
            other => Err(self.error(
                t.at,
                format!("expected a string literal {context}, found {other}"),
            )),
        }
    }

    /// `asBooleanExpression`: a boolean node as is, a property as a cast,
    /// anything else refused.
    fn as_boolean(&self, node: Node, at: usize) -> Result<Node, ParseError> {
        if let Expr::Property(name) = node.expr {
            return Ok(Node::leaf(Expr::BooleanCast(name)));
        }
        if node.expr.is_boolean() {
            return Ok(node);
        }
        Err(self.error(
            at,
            format!(
                "{} will not result in a boolean value",
                describe(&node.expr)
            ),
        ))
    }

    /// `createEqual`: neither side the NULL literal, and a boolean literal
    /// compared with a non-boolean literal is refused.
    fn equal(&self, left: Node, right: Node, at: usize) -> Result<Node, ParseError> {
        for side in [&left.expr, &right.expr] {
            if *side == Expr::Literal(Literal::Null) {
                return Err(self.error(at, "NULL cannot be compared with '=' (use IS NULL)"));
            }
        }
        if let (Expr::Literal(l), Expr::Literal(r)) = (&left.expr, &right.expr)
            && l.is_boolean()
            && !r.is_boolean()
        {
            return Err(self.error(
                at,
                format!(
                    "{} cannot be compared with {}",
                    describe(&left.expr),
                    describe(&right.expr)
                ),
            ));
        }
        let depths = [left.depth, right.depth];
        self.node(
            Expr::Equal(left.expr.into(), right.expr.into()),
            &depths,
            at,
        )
    }

    /// `createGreaterThan` and friends: no boolean and no non-numeric
    /// literal on either side.
    fn relation(
        &self,
        relation: Relation,
        left: Node,
        right: Node,
        at: usize,
    ) -> Result<Node, ParseError> {
        for side in [&left.expr, &right.expr] {
            let comparable = match side {
                Expr::Literal(literal) => {
                    matches!(
                        literal,
                        Literal::Int(_) | Literal::Long(_) | Literal::Double(_)
                    )
                }
                other => !other.is_boolean(),
            };
            if !comparable {
                return Err(self.error(
                    at,
                    format!(
                        "{} cannot be compared with '>', '>=', '<' or '<='",
                        describe(side)
                    ),
                ));
            }
        }
        let depths = [left.depth, right.depth];
        self.node(
            Expr::Compare(relation, left.expr.into(), right.expr.into()),
            &depths,
            at,
        )
    }

    /// `[NOT] BETWEEN low AND high`: `value >= low AND value <= high`, or
    /// `value < low OR value > high`. Literal bounds must not be NULL and
    /// must be in order.
    fn between(&mut self, negated: bool, value: Node, at: usize) -> Result<Node, ParseError> {
        let low = self.unary_expr()?;
        self.expect(Token::And, "between the bounds of BETWEEN")?;
        let high = self.unary_expr()?;
        if !negated && let (Expr::Literal(lv), Expr::Literal(hv)) = (&low.expr, &high.expr) {
            if *lv == Literal::Null || *hv == Literal::Null {
                return Err(self.error(at, "the bounds of BETWEEN cannot be NULL"));
            }
            let ordered = java_compare(&hv.value(), &lv.value())
                .map_err(|_| self.error(at, "the bounds of BETWEEN cannot be compared"))?;
            if ordered.is_lt() {
                return Err(self.error(
                    at,
                    format!(
                        "the low bound of BETWEEN ({}) is greater than the high bound ({})",
                        describe(&low.expr),
                        describe(&high.expr)
                    ),
                ));
            }
        }
        let value_copy = Node {
            expr: value.expr.clone(),
            depth: value.depth,
        };
        let (first, second) = if negated {
            (Relation::Lt, Relation::Gt)
        } else {
            (Relation::Ge, Relation::Le)
        };
        let l = self.relation(first, value, low, at)?;
        let r = self.relation(second, value_copy, high, at)?;
        let depths = [l.depth, r.depth];
        let joined = if negated {
            Expr::Or(l.expr.into(), r.expr.into())
        } else {
            Expr::And(l.expr.into(), r.expr.into())
        };
        self.node(joined, &depths, at)
    }

    /// `[NOT] IN ('a', 'b', …)`, whose left side must be a property.
    fn in_list(&mut self, negated: bool, left: Node, at: usize) -> Result<Node, ParseError> {
        self.expect(Token::LParen, "after IN")?;
        let mut list = vec![self.string("in an IN list")?];
        while self.peek()?.token == Token::Comma {
            self.bump()?;
            list.push(self.string("in an IN list")?);
        }
        self.expect(Token::RParen, "to close the IN list")?;
        let Expr::Property(property) = left.expr else {
            return Err(self.error(
                at,
                format!(
                    "IN needs a property on its left, not {}",
                    describe(&left.expr)
                ),
            ));
        };
        let expr = Expr::In {
            property,
            list: list.into(),
            negated,
        };
        self.node(expr, &[left.depth], at)
    }

    /// `[NOT] CONTAINS|STARTSWITH|ENDSWITH 'text'`.
    fn text(
        &mut self,
        test: TextTest,
        negated: bool,
        operand: Node,
        at: usize,
    ) -> Result<Node, ParseError> {
        let search = self.string("after CONTAINS, STARTSWITH or ENDSWITH")?;
        let expr = Expr::Text {
            test,
            negated,
            operand: operand.expr.into(),
            search,
        };
        self.node(expr, &[operand.depth], at)
    }
}

/// A short description of an expression for error messages.
fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Literal(Literal::Null) => "NULL".into(),
        Expr::Literal(Literal::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.into(),
        Expr::Literal(Literal::Int(i)) => i.to_string(),
        Expr::Literal(Literal::Long(l)) => l.to_string(),
        Expr::Literal(Literal::Double(d)) => d.to_string(),
        Expr::Literal(Literal::Str(s)) => match s.char_indices().nth(40) {
            Some((cut, _)) => format!("'{}…'", s[..cut].replace('\'', "''")),
            None => format!("'{}'", s.replace('\'', "''")),
        },
        Expr::Property(name) | Expr::BooleanCast(name) => format!("property {name}"),
        Expr::Negate(_) => "a negated value".into(),
        _ => "a condition".into(),
    }
}
