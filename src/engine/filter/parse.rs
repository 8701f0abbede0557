//! The filter grammar (syntax only, no schema), on winnow. Each failure names what was
//! expected and where, as a byte offset that [`super::FilterError`] turns into a character
//! position.
//!
//! ```text
//! filter    := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | primary                    (not > and > or)
//! primary   := "(" or ")"
//!            | textfn "(" operand "," operand ")"        (contains, startswith, endswith)
//!            | operand [cmp operand | "in" "(" literal ("," literal)* ")"]
//! operand   := casefn "(" operand ")" | literal | field  (tolower, toupper)
//! literal   := 'text' ('' is a quote) | number | true | false | null | YYYY-MM-DD[Thh:mm:ss...]
//! ```

use std::fmt;

use winnow::LocatingSlice;
use winnow::ascii::multispace0;
use winnow::error::{ContextError, ErrMode};
use winnow::prelude::*;
use winnow::stream::{Location, Stream};
use winnow::token::take_while;

use super::ast::{CaseFn, CmpOp, Expr, ListItem, Operand, TextFn};
use crate::engine::value::{Datetime, Finite, Value};

/// How deep parentheses and `not` may nest: a bound on recursion, far past any real filter.
pub const MAX_DEPTH: usize = 64;

type Input<'a> = LocatingSlice<&'a str>;

/// What the parser expected where it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Condition,
    Operand,
    CloseParen { open: usize },
    OpenParen { after: &'static str },
    ArgumentComma { func: &'static str },
    CloseQuote { open: usize },
    Datetime,
    Digits,
    ListOpen,
    ListValue,
    ListSeparator,
    OperatorOrEnd,
    ShallowerNesting,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Condition => f.write_str(
                "a condition (a field, a value, not, '(' or contains, startswith, endswith)",
            ),
            Expected::Operand => f.write_str("a field, a value, tolower(...) or toupper(...)"),
            Expected::CloseParen { open } => {
                write!(f, "')' to close the '(' at position {open}")
            }
            Expected::OpenParen { after } => write!(f, "'(' after {after}"),
            Expected::ArgumentComma { func } => {
                write!(f, "',' between the two arguments of {func}")
            }
            Expected::CloseQuote { open } => write!(
                f,
                "a closing quote for the text that starts at position {open} (write '' for a quote inside text)"
            ),
            Expected::Datetime => {
                f.write_str("a date (YYYY-MM-DD) or an RFC 3339 datetime (2024-05-01T10:00:00Z)")
            }
            Expected::Digits => f.write_str("digits"),
            Expected::ListOpen => f.write_str("'(' and a list of values after in"),
            Expected::ListValue => {
                f.write_str("a value (text, a number, true, false, null or a datetime)")
            }
            Expected::ListSeparator => f.write_str("',' or ')' in the list of in"),
            Expected::OperatorOrEnd => f.write_str(
                "an operator (eq, ne, gt, ge, lt, le, in), and, or, ')' or the end of the filter",
            ),
            Expected::ShallowerNesting => {
                write!(f, "fewer nested parentheses and nots (at most {MAX_DEPTH})")
            }
        }
    }
}

/// A syntax error: the byte offset where it was found and what was expected there. The
/// `usize` in an [`Expected`] is a byte offset too, until [`super::FilterError`] renders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxFailure {
    pub at: usize,
    pub expected: Expected,
}

type Ctx = SyntaxFailure;
type PResult<T> = ModalResult<T, ContextError<Ctx>>;

fn fail<T>(at: usize, expected: Expected) -> PResult<T> {
    let mut error = ContextError::new();
    error.push(SyntaxFailure { at, expected });
    Err(ErrMode::Cut(error))
}

/// Parses a whole filter.
pub fn parse_expr(text: &str) -> Result<Expr, SyntaxFailure> {
    let mut input = LocatingSlice::new(text);
    let result = (|i: &mut Input<'_>| {
        ws(i);
        let expr = or_expr(i, 0)?;
        ws(i);
        if !i.is_empty() {
            return fail(i.current_token_start(), Expected::OperatorOrEnd);
        }
        Ok(expr)
    })(&mut input);
    result.map_err(|error| {
        let fallback = SyntaxFailure {
            at: input.current_token_start(),
            expected: Expected::Condition,
        };
        match error {
            ErrMode::Backtrack(e) | ErrMode::Cut(e) => e.context().next().copied(),
            ErrMode::Incomplete(_) => None,
        }
        .unwrap_or(fallback)
    })
}

fn ws(i: &mut Input<'_>) {
    let _: PResult<&str> = multispace0.parse_next(i);
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier-like word at the input, without consuming it.
fn peek_word<'a>(i: &Input<'a>) -> &'a str {
    let rest: &'a str = i.peek_slice(i.eof_offset());
    let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
    &rest[..end]
}

/// Consumes `word` when it is the whole next word.
fn eat_word(i: &mut Input<'_>, word: &str) -> bool {
    if peek_word(i) == word {
        let _ = i.next_slice(word.len());
        true
    } else {
        false
    }
}

fn eat_char(i: &mut Input<'_>, c: char) -> bool {
    if i.peek_token() == Some(c) {
        let _ = i.next_token();
        true
    } else {
        false
    }
}

/// Whether a `(` follows the next word, after optional whitespace (to tell `tolower(x)` from
/// a field named `tolower`).
fn paren_follows(i: &Input<'_>, word: &str) -> bool {
    let rest: &str = i.peek_slice(i.eof_offset());
    rest.get(word.len()..)
        .is_some_and(|after| after.trim_start().starts_with('('))
}

fn or_expr(i: &mut Input<'_>, depth: usize) -> PResult<Expr> {
    let mut items = vec![and_expr(i, depth)?];
    loop {
        let checkpoint = i.checkpoint();
        ws(i);
        if eat_word(i, "or") {
            ws(i);
            items.push(and_expr(i, depth)?);
        } else {
            i.reset(&checkpoint);
            break;
        }
    }
    Ok(single_or(items, Expr::Or))
}

fn and_expr(i: &mut Input<'_>, depth: usize) -> PResult<Expr> {
    let mut items = vec![unary(i, depth)?];
    loop {
        let checkpoint = i.checkpoint();
        ws(i);
        if eat_word(i, "and") {
            ws(i);
            items.push(unary(i, depth)?);
        } else {
            i.reset(&checkpoint);
            break;
        }
    }
    Ok(single_or(items, Expr::And))
}

fn single_or(mut items: Vec<Expr>, chain: fn(Vec<Expr>) -> Expr) -> Expr {
    match items.pop() {
        Some(only) if items.is_empty() => only,
        Some(last) => {
            items.push(last);
            chain(items)
        }
        None => chain(items),
    }
}

fn unary(i: &mut Input<'_>, depth: usize) -> PResult<Expr> {
    if depth >= MAX_DEPTH {
        return fail(i.current_token_start(), Expected::ShallowerNesting);
    }
    if eat_word(i, "not") {
        ws(i);
        return Ok(Expr::Not(Box::new(unary(i, depth + 1)?)));
    }
    primary(i, depth)
}

fn primary(i: &mut Input<'_>, depth: usize) -> PResult<Expr> {
    let open = i.current_token_start();
    if eat_char(i, '(') {
        ws(i);
        let inner = or_expr(i, depth + 1)?;
        ws(i);
        if !eat_char(i, ')') {
            return fail(i.current_token_start(), Expected::CloseParen { open });
        }
        return Ok(inner);
    }
    let word = peek_word(i);
    if let Some(func) = TextFn::from_name(word).filter(|_| paren_follows(i, word)) {
        let _ = i.next_slice(func.name().len());
        let (text, part) = two_arguments(i, func.name(), depth)?;
        return Ok(Expr::Text { func, text, part });
    }
    let Some(left) = operand(i, depth)? else {
        return fail(i.current_token_start(), Expected::Condition);
    };
    let checkpoint = i.checkpoint();
    ws(i);
    let word = peek_word(i);
    if let Some(op) = CmpOp::from_keyword(word) {
        let _ = i.next_slice(word.len());
        ws(i);
        let Some(right) = operand(i, depth)? else {
            return fail(i.current_token_start(), Expected::Operand);
        };
        return Ok(Expr::Compare { left, op, right });
    }
    if word == "in" {
        let _ = i.next_slice(word.len());
        ws(i);
        let list = literal_list(i)?;
        return Ok(Expr::In {
            operand: left,
            list,
        });
    }
    i.reset(&checkpoint);
    Ok(Expr::Bare(left))
}

fn two_arguments(
    i: &mut Input<'_>,
    func: &'static str,
    depth: usize,
) -> PResult<(Operand, Operand)> {
    ws(i);
    let open = i.current_token_start();
    if !eat_char(i, '(') {
        return fail(open, Expected::OpenParen { after: func });
    }
    ws(i);
    let Some(first) = operand(i, depth)? else {
        return fail(i.current_token_start(), Expected::Operand);
    };
    ws(i);
    if !eat_char(i, ',') {
        return fail(i.current_token_start(), Expected::ArgumentComma { func });
    }
    ws(i);
    let Some(second) = operand(i, depth)? else {
        return fail(i.current_token_start(), Expected::Operand);
    };
    ws(i);
    if !eat_char(i, ')') {
        return fail(i.current_token_start(), Expected::CloseParen { open });
    }
    Ok((first, second))
}

fn literal_list(i: &mut Input<'_>) -> PResult<Vec<ListItem>> {
    let open = i.current_token_start();
    if !eat_char(i, '(') {
        return fail(open, Expected::ListOpen);
    }
    let mut list = Vec::new();
    loop {
        ws(i);
        let at = i.current_token_start();
        let Some(value) = literal(i)? else {
            return fail(at, Expected::ListValue);
        };
        list.push(ListItem { value, at });
        ws(i);
        if eat_char(i, ')') {
            return Ok(list);
        }
        if !eat_char(i, ',') {
            return fail(i.current_token_start(), Expected::ListSeparator);
        }
    }
}

/// An operand, or `None` (nothing consumed) when the input does not start one.
fn operand(i: &mut Input<'_>, depth: usize) -> PResult<Option<Operand>> {
    let at = i.current_token_start();
    if depth >= MAX_DEPTH {
        return fail(at, Expected::ShallowerNesting);
    }
    if let Some(value) = literal(i)? {
        return Ok(Some(Operand::Literal { value, at }));
    }
    let word = peek_word(i);
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(None);
    }
    if let Some(func) = CaseFn::from_name(word).filter(|_| paren_follows(i, word)) {
        let _ = i.next_slice(word.len());
        ws(i);
        let open = i.current_token_start();
        let _ = eat_char(i, '(');
        ws(i);
        let Some(arg) = operand(i, depth + 1)? else {
            return fail(i.current_token_start(), Expected::Operand);
        };
        ws(i);
        if !eat_char(i, ')') {
            return fail(i.current_token_start(), Expected::CloseParen { open });
        }
        return Ok(Some(Operand::Case {
            func,
            arg: Box::new(arg),
            at,
        }));
    }
    let _ = i.next_slice(word.len());
    Ok(Some(Operand::Field {
        name: word.to_owned(),
        at,
    }))
}

/// A literal, or `None` (nothing consumed) when the input does not start one.
fn literal(i: &mut Input<'_>) -> PResult<Option<Value>> {
    let at = i.current_token_start();
    match i.peek_token() {
        Some('\'') => text(i, at).map(Some),
        Some(c) if c.is_ascii_digit() || c == '-' => number_or_datetime(i, at).map(Some),
        _ => {
            let word = peek_word(i);
            let value = match word {
                "null" => Value::Null,
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => return Ok(None),
            };
            let _ = i.next_slice(word.len());
            Ok(Some(value))
        }
    }
}

fn text(i: &mut Input<'_>, open: usize) -> PResult<Value> {
    let _ = i.next_token();
    let mut out = String::new();
    loop {
        let run: PResult<&str> = take_while(0.., |c: char| c != '\'').parse_next(i);
        out.push_str(run?);
        if !eat_char(i, '\'') {
            return fail(i.current_token_start(), Expected::CloseQuote { open });
        }
        if eat_char(i, '\'') {
            out.push('\'');
        } else {
            return Ok(Value::String(out));
        }
    }
}

fn number_or_datetime(i: &mut Input<'_>, at: usize) -> PResult<Value> {
    let rest: &str = i.peek_slice(i.eof_offset());
    let b = rest.as_bytes();
    if b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+')))
            .unwrap_or(rest.len());
        let Some(datetime) = Datetime::parse(&rest[..len]) else {
            return fail(at, Expected::Datetime);
        };
        let _ = i.next_slice(len);
        return Ok(Value::Datetime(datetime));
    }
    let start = i.checkpoint();
    let _ = eat_char(i, '-');
    digits(i)?;
    let mut integral = true;
    if eat_char(i, '.') {
        integral = false;
        digits(i)?;
    }
    if i.peek_token().is_some_and(|c| c == 'e' || c == 'E') {
        integral = false;
        let _ = i.next_token();
        let _ = eat_char(i, '+') || eat_char(i, '-');
        digits(i)?;
    }
    let end = i.current_token_start();
    i.reset(&start);
    let literal: &str = i.next_slice(end - at);
    if integral && let Ok(value) = literal.parse::<i64>() {
        return Ok(Value::Integer(value));
    }
    match literal.parse::<f64>().ok().and_then(Finite::new) {
        Some(value) => Ok(Value::Number(value)),
        None => fail(at, Expected::Digits),
    }
}

fn digits(i: &mut Input<'_>) -> PResult<()> {
    let at = i.current_token_start();
    let run: PResult<&str> = take_while(1.., |c: char| c.is_ascii_digit()).parse_next(i);
    match run {
        Ok(_) => Ok(()),
        Err(_) => fail(at, Expected::Digits),
    }
}
