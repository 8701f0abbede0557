//! Tables of filters against a fixed set of rows, bad syntax with positions, bind errors, and a
//! property: the evaluator agrees with a plain reference evaluator of the syntax tree.

use proptest::prelude::*;

use super::*;
use crate::engine::schema::{Field, Schema};
use crate::engine::value::{Datetime, FieldType, Finite, Value};

fn schema() -> Schema {
    let fields = [
        ("id", FieldType::Integer),
        ("name", FieldType::String),
        ("city", FieldType::String),
        ("score", FieldType::Number),
        ("age", FieldType::Integer),
        ("active", FieldType::Boolean),
        ("born", FieldType::Datetime),
        ("note", FieldType::String),
    ];
    Schema::new(
        fields.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
        "id",
    )
    .expect("a valid schema")
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}
fn n(value: f64) -> Value {
    Value::Number(Finite::new(value).expect("finite"))
}
fn d(text: &str) -> Value {
    Value::Datetime(Datetime::parse(text).expect("a datetime"))
}
use Value::{Boolean as B, Integer as I, Null};

/// Five people; id 3 is null in every field but name, city and note.
fn rows() -> Vec<Vec<Value>> {
    vec![
        vec![
            I(1),
            s("Ann"),
            s("Paris"),
            n(9.5),
            I(30),
            B(true),
            d("1990-05-01"),
            s("it's"),
        ],
        vec![
            I(2),
            s("bob"),
            Null,
            n(7.0),
            I(25),
            B(false),
            d("2000-01-01T00:00:00Z"),
            Null,
        ],
        vec![
            I(3),
            s("Chloé"),
            s("paris"),
            Null,
            Null,
            Null,
            Null,
            s("O'Neil"),
        ],
        vec![
            I(4),
            s("Dan"),
            s("Berlin"),
            n(-1.25),
            I(41),
            B(true),
            d("1985-12-31T23:30:00-01:00"),
            s(""),
        ],
        // A short row: the missing fields read as null.
        vec![
            I(5),
            s("eve"),
            s("Bern"),
            n(100.0),
            I(30),
            B(false),
            d("2000-01-01"),
        ],
    ]
}

fn ids(filter: &str) -> Vec<i64> {
    let bound = Filter::parse(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .bind(&schema())
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    rows()
        .iter()
        .filter(|row| bound.matches(*row))
        .map(|row| match row[0] {
            I(id) => id,
            _ => panic!("ids are integers"),
        })
        .collect()
}

#[test]
fn filters_select_the_expected_rows() {
    let table: &[(&str, &[i64])] = &[
        // every comparison operator
        ("name eq 'Ann'", &[1]),
        ("name eq 'ann'", &[]),
        ("name ne 'Ann'", &[2, 3, 4, 5]),
        ("age gt 29", &[1, 4, 5]),
        ("age ge 30", &[1, 4, 5]),
        ("age lt 30", &[2]),
        ("age le 30", &[1, 2, 5]),
        ("name lt 'Dan'", &[1, 3]),
        ("active gt false", &[1, 4]),
        // numbers across integer and number
        ("score eq 7", &[2]),
        ("score ge 9.5", &[1, 5]),
        ("age eq 30.0", &[1, 5]),
        ("score lt 0", &[4]),
        ("score eq -1.25", &[4]),
        ("score eq -125e-2", &[4]),
        ("id eq -1", &[]),
        // null rules
        ("city eq null", &[2]),
        ("city ne null", &[1, 3, 4, 5]),
        ("null eq city", &[2]),
        ("city ne 'Paris'", &[3, 4, 5]),
        ("score ne 7", &[1, 4, 5]),
        ("age gt null", &[]),
        ("age ne null and age ne 30", &[2, 4]),
        ("note eq null", &[2, 5]),
        ("null eq null", &[1, 2, 3, 4, 5]),
        ("null ne null", &[]),
        ("contains(city, null)", &[]),
        ("tolower(city) eq null", &[2]),
        ("not (city eq 'Paris')", &[2, 3, 4, 5]),
        // booleans
        ("active", &[1, 4]),
        ("active eq true", &[1, 4]),
        ("active eq false", &[2, 5]),
        ("active ne true", &[2, 5]),
        ("not active", &[2, 3, 5]),
        ("true", &[1, 2, 3, 4, 5]),
        ("false", &[]),
        // in
        ("city in ('Paris', 'Bern')", &[1, 5]),
        ("city in ('Paris', null)", &[1, 2]),
        ("age in (25, 41)", &[2, 4]),
        ("score in (7, 100)", &[2, 5]),
        ("city in ('nowhere')", &[]),
        // text functions, case-sensitive, on code points
        ("contains(name, 'e')", &[5]),
        ("contains(city, 'ar')", &[1, 3]),
        ("startswith(city, 'Ber')", &[4, 5]),
        ("endswith(city, 'n')", &[4, 5]),
        ("endswith(name, 'é')", &[3]),
        ("startswith(city, 'ber')", &[]),
        ("tolower(city) eq 'paris'", &[1, 3]),
        ("toupper(name) eq 'BOB'", &[2]),
        ("toupper(name) eq 'CHLOÉ'", &[3]),
        ("contains(tolower(name), 'an')", &[1, 4]),
        ("'Paris' eq city", &[1]),
        ("name eq city", &[]),
        // '' escapes a quote
        ("note eq 'it''s'", &[1]),
        ("contains(note, '''')", &[1, 3]),
        ("note eq ''", &[4]),
        ("note eq 'O''Neil' or note eq 'it''s'", &[1, 3]),
        // datetimes as instants; a date is midnight UTC
        ("born eq 2000-01-01", &[2, 5]),
        ("born eq 2000-01-01T01:00:00+01:00", &[2, 5]),
        ("born lt 1990-01-01", &[4]),
        ("born gt 1985-12-31T23:59:00Z", &[1, 2, 4, 5]),
        ("born le 1986-01-01T01:30:00+01:00", &[4]),
        ("born ge '2000-01-01'", &[2, 5]),
        ("born in (1990-05-01, '2000-01-01T00:00:00Z')", &[1, 2, 5]),
        // precedence: not > and > or
        ("name eq 'Ann' or name eq 'bob' and age gt 100", &[1]),
        ("(name eq 'Ann' or name eq 'bob') and age gt 100", &[]),
        ("not name eq 'Ann' and age eq 30", &[5]),
        ("not (name eq 'Ann' and age eq 30)", &[2, 3, 4, 5]),
        ("age eq 30 or age eq 25 and active", &[1, 5]),
        ("age eq 30 and active or age eq 25", &[1, 2]),
        ("not not active", &[1, 4]),
        ("id eq 1 or id eq 2 or id eq 3", &[1, 2, 3]),
        ("((((age eq 30))))", &[1, 5]),
        ("  name   eq\t'Ann'  ", &[1]),
    ];
    for (filter, expected) in table {
        assert_eq!(ids(filter), *expected, "{filter}");
    }
}

#[test]
fn bad_syntax_is_refused_with_its_character_position() {
    use Expected as E;
    let table: &[(&str, usize, Expected, &str)] = &[
        ("", 0, E::Condition, "nothing to test"),
        ("   ", 3, E::Condition, "only spaces"),
        (
            "name eq",
            7,
            E::Operand,
            "a comparison without its right side",
        ),
        (
            "name eq 'Ann",
            12,
            E::CloseQuote { open: 8 },
            "unterminated text",
        ),
        (
            "name eq 'it's'",
            12,
            E::OperatorOrEnd,
            "a quote must be doubled",
        ),
        (
            "(name eq 'Ann'",
            14,
            E::CloseParen { open: 0 },
            "unclosed parenthesis",
        ),
        (
            "name eq 'Ann')",
            13,
            E::OperatorOrEnd,
            "a parenthesis never opened",
        ),
        (
            "name eq 'Ann' and",
            17,
            E::Condition,
            "and without a right side",
        ),
        (
            "name eq 'Ann' or",
            16,
            E::Condition,
            "or without a right side",
        ),
        ("not", 3, E::Condition, "not without a condition"),
        (
            "name equals 'Ann'",
            5,
            E::OperatorOrEnd,
            "an unknown operator",
        ),
        (
            "name EQ 'Ann'",
            5,
            E::OperatorOrEnd,
            "operators are lowercase",
        ),
        ("name in 'Ann'", 8, E::ListOpen, "in needs a list"),
        (
            "name in ('Ann' 'Bob')",
            15,
            E::ListSeparator,
            "list items need commas",
        ),
        ("name in ()", 9, E::ListValue, "an empty list"),
        ("name in (city)", 9, E::ListValue, "a list holds literals"),
        (
            "contains(name 'A')",
            14,
            E::ArgumentComma { func: "contains" },
            "arguments need a comma",
        ),
        (
            "contains(name, 'A'",
            18,
            E::CloseParen { open: 8 },
            "unclosed call",
        ),
        (
            "tolower(name eq 'a'",
            13,
            E::CloseParen { open: 7 },
            "unclosed case function",
        ),
        ("born eq 2024-13-01", 8, E::Datetime, "no month 13"),
        (
            "born eq 2024-01-01T10:00",
            8,
            E::Datetime,
            "a datetime needs seconds and an offset",
        ),
        ("score eq 1.", 11, E::Digits, "a decimal point needs digits"),
        ("score eq -", 10, E::Digits, "a minus needs digits"),
        ("score eq 1e", 11, E::Digits, "an exponent needs digits"),
        (
            "name eq 'é' and x eq",
            20,
            E::Operand,
            "positions count characters, not bytes",
        ),
        ("@", 0, E::Condition, "not a condition"),
        ("name eq @", 8, E::Operand, "not a value"),
    ];
    for (filter, position, expected, reason) in table {
        match Filter::parse(filter) {
            Err(FilterError::Syntax {
                position: p,
                expected: e,
                ..
            }) => {
                assert_eq!((p, e), (*position, *expected), "{filter}: {reason}");
            }
            other => panic!("{filter} ({reason}) must be a syntax error, got {other:?}"),
        }
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}active{}", "(".repeat(200), ")".repeat(200));
    let error = Filter::parse(&deep).expect_err("too deep");
    assert_eq!(error.position(), MAX_DEPTH);
    let nots = format!("{}active", "not ".repeat(200));
    assert!(matches!(
        Filter::parse(&nots),
        Err(FilterError::Syntax {
            expected: Expected::ShallowerNesting,
            ..
        })
    ));
    let fine = format!("{}active{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(ids(&fine), [1, 4]);
}

#[test]
fn a_syntax_error_message_names_the_position_and_what_was_found() {
    let error = Filter::parse("name eq 'Ann' andd city eq 'x'").expect_err("bad");
    assert_eq!(
        error.to_string(),
        "The filter has a syntax error at position 14: expected an operator (eq, ne, gt, ge, lt, le, in), and, or, ')' or the end of the filter, found 'andd'."
    );
    assert_eq!(error.code(), "filter_syntax_error");
}

#[test]
fn binding_refuses_unknown_fields_and_mismatched_types() {
    let table: &[(&str, &str, usize, &str)] = &[
        (
            "Name eq 'x'",
            "unknown_field",
            0,
            "field names are case-sensitive",
        ),
        (
            "age gt 1 and cty eq 'x'",
            "unknown_field",
            13,
            "a typo in a field name",
        ),
        (
            "contains(nme, 'x')",
            "unknown_field",
            9,
            "unknown field in a function",
        ),
        (
            "nme eq null",
            "unknown_field",
            0,
            "unknown field in a null test",
        ),
        (
            "age eq 'x'",
            "filter_type_mismatch",
            0,
            "an integer is not text",
        ),
        (
            "born eq 'soon'",
            "filter_type_mismatch",
            0,
            "text that is not a datetime",
        ),
        (
            "active eq 1",
            "filter_type_mismatch",
            0,
            "a boolean is not a number",
        ),
        (
            "age in (1, 'a')",
            "filter_type_mismatch",
            11,
            "a list item of another type",
        ),
        (
            "contains(age, '1')",
            "filter_type_mismatch",
            9,
            "contains needs text",
        ),
        (
            "tolower(score) eq 'x'",
            "filter_type_mismatch",
            8,
            "tolower needs text",
        ),
        (
            "name",
            "filter_type_mismatch",
            0,
            "a text field is not a condition",
        ),
        (
            "'yes'",
            "filter_type_mismatch",
            0,
            "a text literal is not a condition",
        ),
        (
            "tolower(name)",
            "filter_type_mismatch",
            0,
            "a text function is not a condition",
        ),
        ("null", "filter_type_mismatch", 0, "null is not a condition"),
    ];
    for (filter, code, position, reason) in table {
        let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        let error = parsed.bind(&schema()).expect_err(reason);
        assert_eq!(
            (error.code(), error.position()),
            (*code, *position),
            "{filter}: {reason}: {error}"
        );
    }
    let error = Filter::parse("cty eq 'x'").and_then(|f| f.bind(&schema()));
    assert_eq!(
        error.expect_err("unknown").to_string(),
        "The filter names the unknown field 'cty' at position 0."
    );
}

#[test]
fn an_eq_on_a_field_is_offered_to_an_index() {
    let bound = |text: &str| {
        Filter::parse(text)
            .and_then(|f| f.bind(&schema()))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    let name = Some((1, &s("Ann")));
    assert_eq!(bound("name eq 'Ann'").indexable_eq(), name);
    assert_eq!(bound("'Ann' eq name").indexable_eq(), name);
    assert_eq!(bound("age gt 3 and name eq 'Ann'").indexable_eq(), name);
    assert_eq!(bound("age gt 3 or name eq 'Ann'").indexable_eq(), None);
    assert_eq!(bound("not name eq 'Ann'").indexable_eq(), None);
    assert_eq!(bound("name eq null").indexable_eq(), None);
}

// The property: evaluation after printing, parsing and binding a random tree agrees with a
// direct reading of the tree under the contract's rules.

fn reference_value(operand: &Operand, row: &[Value]) -> Value {
    match operand {
        Operand::Field { name, .. } => {
            let position = schema().position(name).expect("generated fields exist");
            row.get(position).cloned().unwrap_or(Value::Null)
        }
        Operand::Literal { value, .. } => value.clone(),
        Operand::Case { func, arg, .. } => match reference_value(arg, row) {
            Value::String(text) => Value::String(match func {
                CaseFn::ToLower => text.to_lowercase(),
                CaseFn::ToUpper => text.to_uppercase(),
            }),
            _ => Value::Null,
        },
    }
}

fn reference_order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let number = |v: &Value| match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(x) => Some(x.get()),
        _ => None,
    };
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        (Value::Datetime(x), Value::Datetime(y)) => Some(x.micros().cmp(&y.micros())),
        _ => number(a)?.partial_cmp(&number(b)?),
    }
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

fn reference_eval(expr: &Expr, row: &[Value]) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match expr {
        Expr::Or(items) => items.iter().any(|e| reference_eval(e, row)),
        Expr::And(items) => items.iter().all(|e| reference_eval(e, row)),
        Expr::Not(inner) => !reference_eval(inner, row),
        Expr::Compare { left, op, right } => {
            if is_null_literal(left) || is_null_literal(right) {
                let other = if is_null_literal(left) { right } else { left };
                let null = reference_value(other, row) == Value::Null;
                return match op {
                    CmpOp::Eq => null,
                    CmpOp::Ne => !null,
                    _ => false,
                };
            }
            let (a, b) = (reference_value(left, row), reference_value(right, row));
            if a == Value::Null || b == Value::Null {
                return false;
            }
            match (op, reference_order(&a, &b)) {
                (_, None) => false,
                (CmpOp::Eq, Some(o)) => o == Equal,
                (CmpOp::Ne, Some(o)) => o != Equal,
                (CmpOp::Gt, Some(o)) => o == Greater,
                (CmpOp::Ge, Some(o)) => o == Greater || o == Equal,
                (CmpOp::Lt, Some(o)) => o == Less,
                (CmpOp::Le, Some(o)) => o == Less || o == Equal,
            }
        }
        Expr::In { operand, list } => {
            let value = reference_value(operand, row);
            list.iter().any(|item| match (&value, &item.value) {
                (Value::Null, Value::Null) => true,
                (Value::Null, _) | (_, Value::Null) => false,
                (v, i) => reference_order(v, i) == Some(Equal),
            })
        }
        Expr::Text { func, text, part } => {
            match (reference_value(text, row), reference_value(part, row)) {
                (Value::String(t), Value::String(p)) => match func {
                    TextFn::Contains => t.contains(&p),
                    TextFn::StartsWith => t.starts_with(&p),
                    TextFn::EndsWith => t.ends_with(&p),
                },
                _ => false,
            }
        }
        Expr::Bare(operand) => reference_value(operand, row) == Value::Boolean(true),
    }
}

const TEXTS: [&str; 7] = ["", "a", "A", "ab", "bA", "it's", "é"];
const DATETIMES: [&str; 4] = [
    "2000-01-01",
    "2000-01-01T00:00:00Z",
    "2000-01-01T01:00:00+01:00",
    "1999-12-31T23:59:59.5Z",
];
const NUMBERS: [f64; 5] = [-1.5, 0.0, 1.0, 2.5, 30.0];

fn text_value() -> impl Strategy<Value = Value> {
    proptest::sample::select(&TEXTS[..]).prop_map(s)
}
fn number_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(&NUMBERS[..]).prop_map(n),
        (-2i64..=31).prop_map(I)
    ]
}
fn datetime_value() -> impl Strategy<Value = Value> {
    proptest::sample::select(&DATETIMES[..]).prop_map(d)
}
fn or_null(values: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![1 => Just(Null), 4 => values].boxed()
}

/// A value for each field of [`schema`], any of them null.
fn row() -> impl Strategy<Value = Vec<Value>> {
    (
        0i64..100,
        or_null(text_value()),
        or_null(text_value()),
        or_null(proptest::sample::select(&NUMBERS[..]).prop_map(n)),
        or_null((-2i64..=31).prop_map(I)),
        or_null(any::<bool>().prop_map(B)),
        or_null(datetime_value()),
        or_null(text_value()),
    )
        .prop_map(|(id, name, city, score, age, active, born, note)| {
            vec![I(id), name, city, score, age, active, born, note]
        })
}

fn field(name: &str) -> Operand {
    Operand::Field {
        name: name.to_owned(),
        at: 0,
    }
}
fn literal(value: Value) -> Operand {
    Operand::Literal { value, at: 0 }
}

fn op() -> impl Strategy<Value = CmpOp> {
    proptest::sample::select(&CmpOp::ALL[..])
}

fn condition() -> impl Strategy<Value = Expr> {
    let text_field = proptest::sample::select(&["name", "city", "note"][..]);
    let number_field = proptest::sample::select(&["score", "age", "id"][..]);
    let text_operand = (
        text_field.clone(),
        proptest::option::of(proptest::sample::select(&CaseFn::ALL[..])),
    )
        .prop_map(|(name, case)| match case {
            None => field(name),
            Some(func) => Operand::Case {
                func,
                arg: Box::new(field(name)),
                at: 0,
            },
        });
    let compare = |left: BoxedStrategy<Operand>, values: BoxedStrategy<Value>| {
        (left, op(), or_null(values), any::<bool>()).prop_map(|(left, op, value, swap)| {
            let right = literal(value);
            if swap {
                Expr::Compare {
                    left: right,
                    op,
                    right: left,
                }
            } else {
                Expr::Compare { left, op, right }
            }
        })
    };
    prop_oneof![
        compare(text_operand.clone().boxed(), text_value().boxed()),
        compare(
            number_field.clone().prop_map(field).boxed(),
            number_value().boxed()
        ),
        compare(Just(field("born")).boxed(), datetime_value().boxed()),
        compare(
            Just(field("active")).boxed(),
            any::<bool>().prop_map(B).boxed()
        ),
        (text_field.clone(), text_field.clone(), op()).prop_map(|(a, b, op)| Expr::Compare {
            left: field(a),
            op,
            right: field(b)
        }),
        (
            text_operand.clone(),
            proptest::collection::vec(or_null(text_value()), 1..4)
        )
            .prop_map(|(operand, list)| Expr::In {
                operand,
                list: list
                    .into_iter()
                    .map(|value| ListItem { value, at: 0 })
                    .collect(),
            }),
        (
            number_field,
            proptest::collection::vec(or_null(number_value()), 1..4)
        )
            .prop_map(|(name, list)| Expr::In {
                operand: field(name),
                list: list
                    .into_iter()
                    .map(|value| ListItem { value, at: 0 })
                    .collect(),
            }),
        (
            proptest::sample::select(&TextFn::ALL[..]),
            text_operand,
            or_null(text_value())
        )
            .prop_map(|(func, text, part)| Expr::Text {
                func,
                text,
                part: literal(part)
            }),
        Just(Expr::Bare(field("active"))),
        any::<bool>().prop_map(|b| Expr::Bare(literal(B(b)))),
    ]
}

fn expression() -> impl Strategy<Value = Expr> {
    condition().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_evaluator_agrees_with_a_reference_reading_of_the_tree(
        expr in expression(),
        rows in proptest::collection::vec(row(), 1..12),
    ) {
        let text = expr.to_string();
        let parsed = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.expr().to_string(), text.clone(), "printing is stable");
        let bound = parsed.bind(&schema()).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        for row in &rows {
            prop_assert_eq!(bound.matches(row), reference_eval(&expr, row), "{} on {:?}", text, row);
        }
    }
}
