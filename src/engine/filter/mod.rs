//! The one filter language of `$filter` and of measure and segment filters: an OData v4 subset.
//! Three steps: [`Filter::parse`] (syntax only), [`Filter::bind`] against an entity's schema
//! (fields and types checked), [`BoundFilter::matches`] on a row. No I/O.
//!
//! Semantics: a missing field reads as null; `eq null` and `ne null` test for null, and any
//! other comparison or function of a null is false (`tolower(null)` is null); text compares
//! case-sensitively by code point; integers and numbers compare with each other; datetimes
//! compare as instants, a date being midnight UTC; `not` binds tighter than `and`, `and`
//! tighter than `or`, and `not` applies to the condition after it (`not a eq 1` is
//! `not (a eq 1)`).

mod ast;
mod bind;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

pub use ast::{CaseFn, CmpOp, Expr, ListItem, Operand, TextFn};
pub use bind::BoundFilter;
pub use parse::{Expected, MAX_DEPTH};

use super::schema::Schema;
use super::value::FieldType;

/// Why a filter was refused. Every position is a 0-based character position in the filter
/// text. Each case has a stable [`FilterError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "The filter has a syntax error at position {position}: expected {expected}, found {found}."
    )]
    Syntax {
        position: usize,
        expected: Expected,
        found: Found,
    },
    #[error("The filter names the unknown field '{name}' at position {position}.")]
    UnknownField { name: String, position: usize },
    #[error(
        "The filter compares {left} ({left_type}) with {right} ({right_type}) at position {position}; they are of types that do not compare."
    )]
    Incomparable {
        position: usize,
        left: String,
        left_type: FieldType,
        right: String,
        right_type: FieldType,
    },
    #[error("{func} at position {position} needs text, but {operand} is {ty}.")]
    NotText {
        position: usize,
        func: &'static str,
        operand: String,
        ty: FieldType,
    },
    #[error(
        "{operand} at position {position} is not a condition: compare it with a value (e.g. eq, gt) or use a boolean field."
    )]
    NotACondition { position: usize, operand: String },
}

impl FilterError {
    /// The stable snake_case code an API error carries.
    pub fn code(&self) -> &'static str {
        match self {
            FilterError::Syntax { .. } => "filter_syntax_error",
            FilterError::UnknownField { .. } => "unknown_field",
            FilterError::Incomparable { .. }
            | FilterError::NotText { .. }
            | FilterError::NotACondition { .. } => "filter_type_mismatch",
        }
    }

    /// The 0-based character position the error is about.
    pub fn position(&self) -> usize {
        match self {
            FilterError::Syntax { position, .. }
            | FilterError::UnknownField { position, .. }
            | FilterError::Incomparable { position, .. }
            | FilterError::NotText { position, .. }
            | FilterError::NotACondition { position, .. } => *position,
        }
    }
}

/// What was found where a syntax error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    End,
    Text(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::End => f.write_str("the end of the filter"),
            Found::Text(text) => write!(f, "'{text}'"),
        }
    }
}

/// A filter whose syntax is valid, not yet checked against any schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    text: String,
    expr: Expr,
}

impl Filter {
    /// Parses filter text (syntax only).
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        match parse::parse_expr(text) {
            Ok(expr) => Ok(Filter {
                text: text.to_owned(),
                expr,
            }),
            Err(failure) => Err(syntax_error(text, failure)),
        }
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Checks fields and types against `schema`: an unknown field, a comparison of types that
    /// do not compare, a text function of a non-text value or a non-boolean condition is an
    /// error naming it.
    pub fn bind(&self, schema: &Schema) -> Result<BoundFilter, FilterError> {
        bind::bind(&self.expr, schema, &self.text)
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Filter, FilterError> {
        Filter::parse(text)
    }
}

/// The character position of a byte offset of `text`.
fn char_position(text: &str, byte: usize) -> usize {
    text.get(..byte)
        .map_or_else(|| text.chars().count(), |head| head.chars().count())
}

fn syntax_error(text: &str, failure: parse::SyntaxFailure) -> FilterError {
    let rest = text.get(failure.at..).unwrap_or("");
    let found = match rest.chars().next() {
        None => Found::End,
        Some(c) if c.is_alphanumeric() || c == '_' => Found::Text(
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(40)
                .collect(),
        ),
        Some(c) => Found::Text(c.to_string()),
    };
    let expected = match failure.expected {
        Expected::CloseParen { open } => Expected::CloseParen {
            open: char_position(text, open),
        },
        Expected::CloseQuote { open } => Expected::CloseQuote {
            open: char_position(text, open),
        },
        other => other,
    };
    FilterError::Syntax {
        position: char_position(text, failure.at),
        expected,
        found,
    }
}
