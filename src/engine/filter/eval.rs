//! Evaluating a bound filter on a row of typed values. Allocates only for `tolower` and
//! `toupper`, so a scan tests millions of rows cheaply.

use std::borrow::Cow;

use super::bind::{BoundFilter, Node, Term};
use crate::engine::value::{Row, ValueRef};

impl BoundFilter {
    /// Whether `row` (values in the schema's order) passes the filter.
    pub fn matches<R: Row + ?Sized>(&self, row: &R) -> bool {
        self.root.eval(row)
    }
}

/// A term's value: borrowed from the row or the filter, or a case-mapped text.
enum Evaluated<'a> {
    Value(ValueRef<'a>),
    Text(String),
}

impl Evaluated<'_> {
    fn get(&self) -> ValueRef<'_> {
        match self {
            Evaluated::Value(value) => *value,
            Evaluated::Text(text) => ValueRef::String(text),
        }
    }
}

impl Term {
    fn eval<'a, R: Row + ?Sized>(&'a self, row: &'a R) -> Evaluated<'a> {
        match self {
            Term::Field(field) => Evaluated::Value(row.value(*field)),
            Term::Literal(value) => Evaluated::Value(value.as_ref()),
            Term::Case(func, arg) => match arg.eval(row).get() {
                ValueRef::String(text) => Evaluated::Text(func.apply(text)),
                _ => Evaluated::Value(ValueRef::Null),
            },
        }
    }

    fn text<'a, R: Row + ?Sized>(&'a self, row: &'a R) -> Option<Cow<'a, str>> {
        match self.eval(row) {
            Evaluated::Value(ValueRef::String(text)) => Some(Cow::Borrowed(text)),
            Evaluated::Text(text) => Some(Cow::Owned(text)),
            Evaluated::Value(_) => None,
        }
    }
}

impl Node {
    fn eval<R: Row + ?Sized>(&self, row: &R) -> bool {
        match self {
            Node::Const(value) => *value,
            Node::Or(items) => items.iter().any(|item| item.eval(row)),
            Node::And(items) => items.iter().all(|item| item.eval(row)),
            Node::Not(inner) => !inner.eval(row),
            Node::IsNull { term, negate } => term.eval(row).get().is_null() != *negate,
            Node::Compare { left, op, right } => {
                let left = left.eval(row);
                let right = right.eval(row);
                left.get()
                    .compare(right.get())
                    .is_some_and(|ordering| op.holds(ordering))
            }
            Node::In { term, list } => {
                let value = term.eval(row);
                let value = value.get();
                list.iter().any(|item| {
                    if item.is_null() {
                        value.is_null()
                    } else {
                        value.compare(item.as_ref()) == Some(std::cmp::Ordering::Equal)
                    }
                })
            }
            Node::Text { func, text, part } => match (text.text(row), part.text(row)) {
                (Some(text), Some(part)) => func.holds(&text, &part),
                _ => false,
            },
            Node::Truth(term) => term.eval(row).get() == ValueRef::Boolean(true),
        }
    }
}
