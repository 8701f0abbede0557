//! The syntax tree of a filter, as parsed and before any schema is known, with the byte offset
//! of each field and literal so that binding can name where an error is. Printing a tree gives
//! filter text that parses back to the same tree.

use std::fmt;

use crate::engine::value::Value;

/// `eq ne gt ge lt le`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Lt,
        CmpOp::Le,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }

    pub fn from_keyword(word: &str) -> Option<CmpOp> {
        CmpOp::ALL.into_iter().find(|op| op.keyword() == word)
    }

    /// Whether an ordering of left against right satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            CmpOp::Eq => ordering == Equal,
            CmpOp::Ne => ordering != Equal,
            CmpOp::Gt => ordering == Greater,
            CmpOp::Ge => ordering != Less,
            CmpOp::Lt => ordering == Less,
            CmpOp::Le => ordering != Greater,
        }
    }
}

/// The text predicates `contains(a, b)`, `startswith(a, b)`, `endswith(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFn {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextFn {
    pub const ALL: [TextFn; 3] = [TextFn::Contains, TextFn::StartsWith, TextFn::EndsWith];

    pub fn name(self) -> &'static str {
        match self {
            TextFn::Contains => "contains",
            TextFn::StartsWith => "startswith",
            TextFn::EndsWith => "endswith",
        }
    }

    pub fn from_name(word: &str) -> Option<TextFn> {
        TextFn::ALL.into_iter().find(|f| f.name() == word)
    }

    pub fn holds(self, text: &str, part: &str) -> bool {
        match self {
            TextFn::Contains => text.contains(part),
            TextFn::StartsWith => text.starts_with(part),
            TextFn::EndsWith => text.ends_with(part),
        }
    }
}

/// The text functions `tolower(a)` and `toupper(a)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseFn {
    ToLower,
    ToUpper,
}

impl CaseFn {
    pub const ALL: [CaseFn; 2] = [CaseFn::ToLower, CaseFn::ToUpper];

    pub fn name(self) -> &'static str {
        match self {
            CaseFn::ToLower => "tolower",
            CaseFn::ToUpper => "toupper",
        }
    }

    pub fn from_name(word: &str) -> Option<CaseFn> {
        CaseFn::ALL.into_iter().find(|f| f.name() == word)
    }

    pub fn apply(self, text: &str) -> String {
        match self {
            CaseFn::ToLower => text.to_lowercase(),
            CaseFn::ToUpper => text.to_uppercase(),
        }
    }
}

/// What a comparison or function compares: a field, a literal or a case function of one.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field {
        name: String,
        at: usize,
    },
    Literal {
        value: Value,
        at: usize,
    },
    Case {
        func: CaseFn,
        arg: Box<Operand>,
        at: usize,
    },
}

impl Operand {
    /// Byte offset of the operand in the filter text.
    pub fn at(&self) -> usize {
        match self {
            Operand::Field { at, .. } | Operand::Literal { at, .. } | Operand::Case { at, .. } => {
                *at
            }
        }
    }
}

/// A literal of an `in` list, with its byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    pub value: Value,
    pub at: usize,
}

/// A condition. `and` and `or` hold all the operands of a chain, so that a long chain is
/// flat rather than deep.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CmpOp,
        right: Operand,
    },
    In {
        operand: Operand,
        list: Vec<ListItem>,
    },
    Text {
        func: TextFn,
        text: Operand,
        part: Operand,
    },
    /// A boolean field or literal on its own (`IsActive`, `true`).
    Bare(Operand),
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { name, .. } => f.write_str(name),
            Operand::Literal { value, .. } => write_literal(f, value),
            Operand::Case { func, arg, .. } => write!(f, "{}({arg})", func.name()),
        }
    }
}

/// A literal as filter text: text quoted with `''` for a quote, datetimes bare.
fn write_literal(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Null => f.write_str("null"),
        Value::Integer(v) => write!(f, "{v}"),
        Value::Number(v) => write!(f, "{:?}", v.get()),
        Value::Boolean(v) => write!(f, "{v}"),
        Value::Datetime(v) => write!(f, "{v}"),
        Value::String(v) => write!(f, "'{}'", v.replace('\'', "''")),
    }
}

impl fmt::Display for Expr {
    /// Every compound operand is parenthesised, so the text says the tree's shape exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = |f: &mut fmt::Formatter<'_>, items: &[Expr], word: &str| {
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    write!(f, " {word} ")?;
                }
                write!(f, "({item})")?;
            }
            Ok(())
        };
        match self {
            Expr::Or(items) => chain(f, items, "or"),
            Expr::And(items) => chain(f, items, "and"),
            Expr::Not(inner) => write!(f, "not ({inner})"),
            Expr::Compare { left, op, right } => write!(f, "{left} {} {right}", op.keyword()),
            Expr::In { operand, list } => {
                write!(f, "{operand} in (")?;
                for (n, item) in list.iter().enumerate() {
                    if n > 0 {
                        f.write_str(", ")?;
                    }
                    write_literal(f, &item.value)?;
                }
                f.write_str(")")
            }
            Expr::Text { func, text, part } => write!(f, "{}({text}, {part})", func.name()),
            Expr::Bare(operand) => write!(f, "{operand}"),
        }
    }
}
