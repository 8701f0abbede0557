//! Typed values of the engine's entities: field types, values (owned and borrowed), datetimes,
//! their order and their JSON form. Pure: no I/O.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use super::datetime::Datetime;

/// The type of a field, with the names the API answers (`GetEntities`' `fields[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Integer,
    Number,
    Boolean,
    Datetime,
    String,
}

impl FieldType {
    pub const ALL: [FieldType; 5] = [
        FieldType::Integer,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Datetime,
        FieldType::String,
    ];

    /// The wire name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Datetime => "datetime",
            FieldType::String => "string",
        }
    }

    /// Integers and numbers compare with each other.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Integer | FieldType::Number)
    }

    /// Whether values of the two types can be compared (`eq`, `lt`, ordering).
    pub fn comparable_with(self, other: FieldType) -> bool {
        self == other || (self.is_numeric() && other.is_numeric())
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A finite `f64`: JSON has no NaN or infinity, so a number value can never be one.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Finite(f64);

impl Finite {
    pub fn new(value: f64) -> Option<Finite> {
        value.is_finite().then_some(Finite(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// An owned value of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Number(Finite),
    Boolean(bool),
    Datetime(Datetime),
    String(String),
}

/// A value borrowed from a decoded row, so that scans compare values without allocating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Integer(i64),
    Number(Finite),
    Boolean(bool),
    Datetime(Datetime),
    String(&'a str),
}

impl Value {
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(v) => ValueRef::Integer(*v),
            Value::Number(v) => ValueRef::Number(*v),
            Value::Boolean(v) => ValueRef::Boolean(*v),
            Value::Datetime(v) => ValueRef::Datetime(*v),
            Value::String(v) => ValueRef::String(v),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl<'a> ValueRef<'a> {
    pub fn to_owned_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Integer(v),
            ValueRef::Number(v) => Value::Number(v),
            ValueRef::Boolean(v) => Value::Boolean(v),
            ValueRef::Datetime(v) => Value::Datetime(v),
            ValueRef::String(v) => Value::String(v.to_owned()),
        }
    }

    pub fn is_null(self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// The type of a non-null value.
    pub fn field_type(self) -> Option<FieldType> {
        match self {
            ValueRef::Null => None,
            ValueRef::Integer(_) => Some(FieldType::Integer),
            ValueRef::Number(_) => Some(FieldType::Number),
            ValueRef::Boolean(_) => Some(FieldType::Boolean),
            ValueRef::Datetime(_) => Some(FieldType::Datetime),
            ValueRef::String(_) => Some(FieldType::String),
        }
    }

    /// The typed JSON value an API answer carries: a datetime as its RFC 3339 (or date) text.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(v) => serde_json::Value::from(v),
            // `Finite` is never NaN or infinite, so `from_f64` always gives a number.
            ValueRef::Number(v) => serde_json::Number::from_f64(v.get())
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            ValueRef::Boolean(v) => serde_json::Value::Bool(v),
            ValueRef::Datetime(v) => serde_json::Value::String(v.to_string()),
            ValueRef::String(v) => serde_json::Value::String(v.to_owned()),
        }
    }

    /// The canonical text of a value: what a primary key is looked up by (`GetItem`'s
    /// `itemId`) and what indexes hash. `None` for null.
    pub fn key_text(self) -> Option<Cow<'a, str>> {
        match self {
            ValueRef::Null => None,
            ValueRef::Integer(v) => Some(Cow::Owned(v.to_string())),
            ValueRef::Number(v) => Some(Cow::Owned(v.get().to_string())),
            ValueRef::Boolean(v) => Some(Cow::Borrowed(if v { "true" } else { "false" })),
            ValueRef::Datetime(v) => Some(Cow::Owned(v.to_string())),
            ValueRef::String(v) => Some(Cow::Borrowed(v)),
        }
    }

    /// The order of two non-null values of comparable types: numbers across integer and
    /// number, datetimes as instants, text by code point (case-sensitive), `false < true`.
    /// `None` when either is null or the types do not compare.
    pub fn compare(self, other: ValueRef<'_>) -> Option<Ordering> {
        match (self, other) {
            (ValueRef::Integer(a), ValueRef::Integer(b)) => Some(a.cmp(&b)),
            (ValueRef::Integer(a), ValueRef::Number(b)) => (a as f64).partial_cmp(&b.get()),
            (ValueRef::Number(a), ValueRef::Integer(b)) => a.get().partial_cmp(&(b as f64)),
            (ValueRef::Number(a), ValueRef::Number(b)) => a.get().partial_cmp(&b.get()),
            (ValueRef::Boolean(a), ValueRef::Boolean(b)) => Some(a.cmp(&b)),
            (ValueRef::Datetime(a), ValueRef::Datetime(b)) => Some(a.micros().cmp(&b.micros())),
            (ValueRef::String(a), ValueRef::String(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A total order for `$orderby`: null before every value (OData's rule for ascending
    /// order), then [`ValueRef::compare`]; values of types that do not compare (never within
    /// one field) order by type.
    pub fn sort_cmp(self, other: ValueRef<'_>) -> Ordering {
        match (self.field_type(), other.field_type()) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => self
                .compare(other)
                .unwrap_or_else(|| type_rank(a).cmp(&type_rank(b))),
        }
    }
}

fn type_rank(ty: FieldType) -> u8 {
    match ty {
        FieldType::Integer | FieldType::Number => 0,
        FieldType::Boolean => 1,
        FieldType::Datetime => 2,
        FieldType::String => 3,
    }
}

/// Reads text as a value of type `ty`, or `None` when it does not fit. Integers and numbers
/// follow JSON's grammar, so `007`, `+1`, `1.` and `NaN` stay text (a leading zero is a code,
/// not a number); booleans are `true` or `false` in any letter case.
pub fn parse_text(text: &str, ty: FieldType) -> Option<Value> {
    match ty {
        FieldType::Integer => {
            if number_shape(text)? {
                text.parse::<i64>().ok().map(Value::Integer)
            } else {
                None
            }
        }
        FieldType::Number => {
            number_shape(text)?;
            text.parse::<f64>()
                .ok()
                .and_then(Finite::new)
                .map(Value::Number)
        }
        FieldType::Boolean => {
            if text.eq_ignore_ascii_case("true") {
                Some(Value::Boolean(true))
            } else if text.eq_ignore_ascii_case("false") {
                Some(Value::Boolean(false))
            } else {
                None
            }
        }
        FieldType::Datetime => Datetime::parse(text).map(Value::Datetime),
        FieldType::String => Some(Value::String(text.to_owned())),
    }
}

/// `Some(true)` for a JSON integer, `Some(false)` for a JSON number with a fraction or an
/// exponent, `None` for anything else.
pub fn number_shape(text: &str) -> Option<bool> {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let int_len = digits(&mut i);
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return None;
    }
    let mut integral = true;
    if b.get(i) == Some(&b'.') {
        i += 1;
        integral = false;
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        integral = false;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    (i == b.len()).then_some(integral)
}

impl ValueRef<'_> {
    /// Appends the bytes an index hashes: equal values (by [`ValueRef::compare`]) give equal
    /// bytes, so `5` finds `5.0` and a date finds the same instant written with an offset.
    /// Nothing for null.
    pub fn write_index_key(self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = match self {
            ValueRef::Null => Ok(()),
            ValueRef::Integer(v) => {
                out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                Ok(())
            }
            ValueRef::Number(v) => {
                let x = v.get();
                if x.fract() == 0.0 && x.abs() < 9.0e18 {
                    out.extend_from_slice(itoa::Buffer::new().format(x as i64).as_bytes());
                    Ok(())
                } else {
                    write!(out, "{x}")
                }
            }
            ValueRef::Boolean(v) => write!(out, "{v}"),
            ValueRef::Datetime(v) => {
                out.extend_from_slice(itoa::Buffer::new().format(v.micros()).as_bytes());
                Ok(())
            }
            ValueRef::String(v) => {
                out.extend_from_slice(v.as_bytes());
                Ok(())
            }
        };
    }
}

/// A row whose values are read by field position (the schema's order). A position past the
/// row's end reads as null: a missing field is null.
pub trait Row {
    fn value(&self, field: usize) -> ValueRef<'_>;
}

impl Row for [Value] {
    fn value(&self, field: usize) -> ValueRef<'_> {
        self.get(field).map_or(ValueRef::Null, Value::as_ref)
    }
}

impl Row for Vec<Value> {
    fn value(&self, field: usize) -> ValueRef<'_> {
        self.as_slice().value(field)
    }
}

impl Row for [ValueRef<'_>] {
    fn value(&self, field: usize) -> ValueRef<'_> {
        self.get(field).copied().unwrap_or(ValueRef::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_and_a_datetime_at_midnight_utc_are_the_same_instant() {
        let date = Datetime::parse("2024-05-01").map(ValueRef::Datetime);
        let midnight = Datetime::parse("2024-05-01T02:00:00+02:00").map(ValueRef::Datetime);
        let (Some(date), Some(midnight)) = (date, midnight) else {
            panic!("both parse");
        };
        assert_eq!(date.compare(midnight), Some(Ordering::Equal));
    }

    #[test]
    fn numbers_compare_across_integer_and_number_and_null_sorts_first() {
        let half = ValueRef::Number(Finite::new(1.5).unwrap_or_else(|| panic!("finite")));
        assert_eq!(ValueRef::Integer(1).compare(half), Some(Ordering::Less));
        assert_eq!(half.compare(ValueRef::Integer(2)), Some(Ordering::Less));
        assert_eq!(ValueRef::Integer(1).compare(ValueRef::String("1")), None);
        assert_eq!(ValueRef::Null.compare(ValueRef::Null), None);
        assert_eq!(
            ValueRef::Null.sort_cmp(ValueRef::Integer(i64::MIN)),
            Ordering::Less
        );
        assert_eq!(
            ValueRef::String("B").compare(ValueRef::String("a")),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn text_reads_as_a_type_only_when_it_fits() {
        use FieldType::*;
        let table = [
            ("42", Integer, Some(Value::Integer(42))),
            ("-7", Integer, Some(Value::Integer(-7))),
            ("007", Integer, None),
            ("+1", Integer, None),
            ("1.0", Integer, None),
            ("99999999999999999999", Integer, None),
            (
                "99999999999999999999",
                Number,
                Finite::new(1e20).map(Value::Number),
            ),
            ("1.5e3", Number, Finite::new(1500.0).map(Value::Number)),
            ("1.", Number, None),
            (".5", Number, None),
            ("NaN", Number, None),
            ("inf", Number, None),
            ("1e999", Number, None),
            ("TRUE", Boolean, Some(Value::Boolean(true))),
            ("False", Boolean, Some(Value::Boolean(false))),
            ("yes", Boolean, None),
            ("", Integer, None),
            ("x", String, Some(Value::String("x".into()))),
        ];
        for (text, ty, expected) in table {
            assert_eq!(parse_text(text, ty), expected, "{text} as {ty}");
        }
    }

    #[test]
    fn equal_values_have_equal_index_keys() {
        let key = |v: ValueRef<'_>| {
            let mut out = Vec::new();
            v.write_index_key(&mut out);
            out
        };
        let five = Finite::new(5.0).map(ValueRef::Number);
        assert_eq!(five.map(key), Some(key(ValueRef::Integer(5))));
        let a = Datetime::parse("2024-05-01").map(|d| key(ValueRef::Datetime(d)));
        let b = Datetime::parse("2024-05-01T02:00:00+02:00").map(|d| key(ValueRef::Datetime(d)));
        assert_eq!(a, b);
        assert_ne!(key(ValueRef::Integer(5)), key(ValueRef::Integer(50)));
    }

    #[test]
    fn json_forms_are_typed() {
        let dt = Datetime::parse("2024-05-01").map(ValueRef::Datetime);
        assert_eq!(
            dt.map(ValueRef::to_json),
            Some(serde_json::json!("2024-05-01"))
        );
        assert_eq!(ValueRef::Integer(7).to_json(), serde_json::json!(7));
        assert_eq!(ValueRef::Boolean(true).to_json(), serde_json::json!(true));
        assert_eq!(ValueRef::Null.to_json(), serde_json::Value::Null);
        assert_eq!(Finite::new(f64::NAN), None);
        let names: Vec<_> = FieldType::ALL
            .iter()
            .map(|t| serde_json::json!(t))
            .collect();
        assert_eq!(
            names,
            ["integer", "number", "boolean", "datetime", "string"].map(serde_json::Value::from)
        );
    }
}
