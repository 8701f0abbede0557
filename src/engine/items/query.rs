//! What a read of items asks for (`$filter`, `$select`, `$orderby`, `$top`, `$skip`) and what
//! it answers, with the parsers of `$select` and `$orderby` against a schema.

use crate::engine::filter::BoundFilter;
use crate::engine::schema::Schema;

/// An item as an answer carries it: field name to typed JSON value.
pub type Item = serde_json::Map<String, serde_json::Value>;

/// One `$orderby` term: a field position and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub field: usize,
    pub descending: bool,
}

/// A read of items. Without `order_by`, items come in stored order (the order of the
/// source's rows); with it, by those fields and then by primary key, so that every item has
/// one place and pages never overlap or miss one.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filter: Option<BoundFilter>,
    /// Field positions to answer, in this order; `None` for all fields.
    pub select: Option<Vec<usize>>,
    pub order_by: Vec<OrderKey>,
    pub skip: u64,
    pub top: usize,
}

/// A page of items, and whether more items follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{parameter} names the unknown field '{name}'.")]
    UnknownField {
        parameter: &'static str,
        name: String,
    },
    #[error("{parameter} has an empty item; list field names separated by commas.")]
    EmptyItem { parameter: &'static str },
    #[error("$orderby item '{item}' is not 'field', 'field asc' or 'field desc'.")]
    BadOrderItem { item: String },
}

impl QueryError {
    /// The stable snake_case code an API error carries.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::UnknownField { .. } => "unknown_field",
            QueryError::EmptyItem {
                parameter: "$select",
            } => "invalid_select",
            QueryError::EmptyItem { .. } | QueryError::BadOrderItem { .. } => "invalid_orderby",
        }
    }
}

/// `$select`: comma-separated field names (spaces around each are ignored). A field named
/// twice is answered once.
pub fn parse_select(text: &str, schema: &Schema) -> Result<Vec<usize>, QueryError> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let name = item.trim();
        if name.is_empty() {
            return Err(QueryError::EmptyItem {
                parameter: "$select",
            });
        }
        let field = schema
            .position(name)
            .ok_or_else(|| QueryError::UnknownField {
                parameter: "$select",
                name: name.to_owned(),
            })?;
        if !out.contains(&field) {
            out.push(field);
        }
    }
    Ok(out)
}

/// `$orderby`: comma-separated `field [asc|desc]`.
pub fn parse_order_by(text: &str, schema: &Schema) -> Result<Vec<OrderKey>, QueryError> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(QueryError::EmptyItem {
                parameter: "$orderby",
            });
        }
        let (name, descending) = match item.rsplit_once(char::is_whitespace) {
            Some((name, "asc")) => (name.trim_end(), false),
            Some((name, "desc")) => (name.trim_end(), true),
            _ => (item, false),
        };
        let field = match schema.position(name) {
            Some(field) => field,
            None => {
                // `Name descending`: a known field followed by a word that is no direction.
                let known_head = item
                    .rsplit_once(char::is_whitespace)
                    .is_some_and(|(head, _)| schema.position(head.trim_end()).is_some());
                if known_head {
                    return Err(QueryError::BadOrderItem {
                        item: item.to_owned(),
                    });
                }
                return Err(QueryError::UnknownField {
                    parameter: "$orderby",
                    name: name.to_owned(),
                });
            }
        };
        out.push(OrderKey { field, descending });
    }
    Ok(out)
}
