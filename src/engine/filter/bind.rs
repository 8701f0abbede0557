//! Binding a parsed filter to a schema: field names become positions, types are checked once,
//! `eq null`/`ne null` become null tests, and text literals compared with datetime fields
//! become datetimes, so that evaluation does no lookups and no type checks.

use super::ast::{CaseFn, CmpOp, Expr, ListItem, Operand, TextFn};
use super::{FilterError, char_position};
use crate::engine::schema::Schema;
use crate::engine::value::{Datetime, FieldType, Value};

/// A filter checked against one schema, ready to test rows of that schema.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundFilter {
    pub(super) root: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Const(bool),
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    IsNull {
        term: Term,
        negate: bool,
    },
    Compare {
        left: Term,
        op: CmpOp,
        right: Term,
    },
    In {
        term: Term,
        list: Vec<Value>,
    },
    Text {
        func: TextFn,
        text: Term,
        part: Term,
    },
    Truth(Term),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Term {
    Field(usize),
    Literal(Value),
    Case(CaseFn, Box<Term>),
}

impl BoundFilter {
    /// A `field eq value` condition that every matching row satisfies (the whole filter, or
    /// one operand of a top-level `and`), with a non-null value: what an index can answer
    /// before the rest of the filter is tested.
    pub fn indexable_eq(&self) -> Option<(usize, &Value)> {
        fn eq_of(node: &Node) -> Option<(usize, &Value)> {
            match node {
                Node::Compare {
                    left: Term::Field(field),
                    op: CmpOp::Eq,
                    right: Term::Literal(value),
                }
                | Node::Compare {
                    left: Term::Literal(value),
                    op: CmpOp::Eq,
                    right: Term::Field(field),
                } if !value.is_null() => Some((*field, value)),
                _ => None,
            }
        }
        match &self.root {
            Node::And(items) => items.iter().find_map(eq_of),
            node => eq_of(node),
        }
    }
}

struct Binder<'a> {
    schema: &'a Schema,
    text: &'a str,
}

pub(super) fn bind(expr: &Expr, schema: &Schema, text: &str) -> Result<BoundFilter, FilterError> {
    let binder = Binder { schema, text };
    Ok(BoundFilter {
        root: binder.node(expr)?,
    })
}

fn is_null_literal(operand: &Operand) -> bool {
    matches!(
        operand,
        Operand::Literal {
            value: Value::Null,
            ..
        }
    )
}

impl Binder<'_> {
    fn position(&self, operand: &Operand) -> usize {
        char_position(self.text, operand.at())
    }

    fn node(&self, expr: &Expr) -> Result<Node, FilterError> {
        Ok(match expr {
            Expr::Or(items) => Node::Or(self.nodes(items)?),
            Expr::And(items) => Node::And(self.nodes(items)?),
            Expr::Not(inner) => Node::Not(Box::new(self.node(inner)?)),
            Expr::Compare { left, op, right } => self.compare(left, *op, right)?,
            Expr::In { operand, list } => {
                let (term, ty) = self.term(operand)?;
                let list = list
                    .iter()
                    .map(|item| self.comparable_literal(operand, ty, item))
                    .collect::<Result<_, _>>()?;
                Node::In { term, list }
            }
            Expr::Text { func, text, part } => Node::Text {
                func: *func,
                text: self.text_term(text, func.name())?,
                part: self.text_term(part, func.name())?,
            },
            Expr::Bare(operand) => match self.term(operand)? {
                (Term::Literal(Value::Boolean(value)), _) => Node::Const(value),
                (term @ Term::Field(_), Some(FieldType::Boolean)) => Node::Truth(term),
                _ => {
                    return Err(FilterError::NotACondition {
                        position: self.position(operand),
                        operand: operand.to_string(),
                    });
                }
            },
        })
    }

    fn nodes(&self, items: &[Expr]) -> Result<Vec<Node>, FilterError> {
        items.iter().map(|item| self.node(item)).collect()
    }

    /// A term and its static type (`None`: always null).
    fn term(&self, operand: &Operand) -> Result<(Term, Option<FieldType>), FilterError> {
        match operand {
            Operand::Field { name, .. } => match self.schema.position(name) {
                Some(position) => Ok((
                    Term::Field(position),
                    self.schema.field(position).map(|f| f.ty),
                )),
                None => Err(FilterError::UnknownField {
                    name: name.clone(),
                    position: self.position(operand),
                }),
            },
            Operand::Literal { value, .. } => {
                Ok((Term::Literal(value.clone()), value.as_ref().field_type()))
            }
            Operand::Case { func, arg, .. } => {
                let func = *func;
                let (term, ty) = self.text_term_typed(arg, func.name())?;
                Ok((Term::Case(func, Box::new(term)), ty))
            }
        }
    }

    fn text_term(&self, operand: &Operand, func: &'static str) -> Result<Term, FilterError> {
        self.text_term_typed(operand, func).map(|(term, _)| term)
    }

    fn text_term_typed(
        &self,
        operand: &Operand,
        func: &'static str,
    ) -> Result<(Term, Option<FieldType>), FilterError> {
        let (term, ty) = self.term(operand)?;
        match ty {
            None | Some(FieldType::String) => Ok((term, ty)),
            Some(ty) => Err(FilterError::NotText {
                position: self.position(operand),
                func,
                operand: operand.to_string(),
                ty,
            }),
        }
    }

    fn compare(&self, left: &Operand, op: CmpOp, right: &Operand) -> Result<Node, FilterError> {
        match (is_null_literal(left), is_null_literal(right)) {
            (true, true) => return Ok(Node::Const(op == CmpOp::Eq)),
            (true, false) | (false, true) => {
                let other = if is_null_literal(left) { right } else { left };
                let (term, _) = self.term(other)?;
                return Ok(match op {
                    CmpOp::Eq => Node::IsNull {
                        term,
                        negate: false,
                    },
                    CmpOp::Ne => Node::IsNull { term, negate: true },
                    CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le => Node::Const(false),
                });
            }
            (false, false) => {}
        }
        let (mut left_term, left_ty) = self.term(left)?;
        let (mut right_term, right_ty) = self.term(right)?;
        let (Some(mut left_ty), Some(mut right_ty)) = (left_ty, right_ty) else {
            // tolower(null) and the like: always null, so never true.
            return Ok(Node::Compare {
                left: left_term,
                op,
                right: right_term,
            });
        };
        if let Some(datetime) = coerce_datetime(right_ty, &left_term) {
            (left_term, left_ty) = (datetime, FieldType::Datetime);
        }
        if let Some(datetime) = coerce_datetime(left_ty, &right_term) {
            (right_term, right_ty) = (datetime, FieldType::Datetime);
        }
        if !left_ty.comparable_with(right_ty) {
            return Err(FilterError::Incomparable {
                position: self.position(left),
                left: left.to_string(),
                left_type: left_ty,
                right: right.to_string(),
                right_type: right_ty,
            });
        }
        Ok(Node::Compare {
            left: left_term,
            op,
            right: right_term,
        })
    }

    /// A literal of an `in` list, checked against the operand's type.
    fn comparable_literal(
        &self,
        operand: &Operand,
        ty: Option<FieldType>,
        item: &ListItem,
    ) -> Result<Value, FilterError> {
        let (Some(ty), Some(item_ty)) = (ty, item.value.as_ref().field_type()) else {
            return Ok(item.value.clone());
        };
        if let (FieldType::Datetime, Value::String(text)) = (ty, &item.value)
            && let Some(datetime) = Datetime::parse(text)
        {
            return Ok(Value::Datetime(datetime));
        }
        if !ty.comparable_with(item_ty) {
            return Err(FilterError::Incomparable {
                position: char_position(self.text, item.at),
                left: operand.to_string(),
                left_type: ty,
                right: Operand::Literal {
                    value: item.value.clone(),
                    at: item.at,
                }
                .to_string(),
                right_type: item_ty,
            });
        }
        Ok(item.value.clone())
    }
}

/// A text literal compared with a datetime reads as a datetime when it is one
/// (`born gt '2000-01-01'` as well as `born gt 2000-01-01`).
fn coerce_datetime(other: FieldType, term: &Term) -> Option<Term> {
    match (other, term) {
        (FieldType::Datetime, Term::Literal(Value::String(text))) => {
            Datetime::parse(text).map(|d| Term::Literal(Value::Datetime(d)))
        }
        _ => None,
    }
}
