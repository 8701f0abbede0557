//! The generated data of the engine benchmarks (`engine_unify`, `full_refresh`): two customer
//! sources of 500,000 records each and 1,000,000 orders of their people, the same rows on
//! every run, and how both benches print a timing and read memory. Each bench includes this
//! file as a module.

use insights_connector::engine::{FieldType, Finite, Value};

pub const SOURCE_RECORDS: u64 = 500_000;
pub const LINKED_ORDERS: u64 = 1_000_000;
pub const CITIES: [&str; 8] = [
    "Oslo", "Rome", "Lyon", "Porto", "Gdańsk", "Zürich", "Tromsø", "Köln",
];

/// splitmix64: the same numbers on every run, no crate needed.
pub struct Numbers(pub u64);

impl Numbers {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn text(value: impl Into<String>) -> Value {
    Value::String(value.into())
}

pub fn number(x: f64) -> Value {
    Value::Number(Finite::new(x).expect("finite"))
}

/// A generated source: its name, its fields (the first is the primary key) and its rows.
pub struct Table<R> {
    pub name: &'static str,
    pub fields: &'static [(&'static str, FieldType)],
    pub rows: R,
}

/// `crm`: people 0..500,000, every 20th a duplicate of the one before (the email in other
/// letter case and spacing), 60% with a phone.
pub fn crm() -> Table<impl Iterator<Item = Vec<Value>>> {
    let mut numbers = Numbers(1);
    Table {
        name: "crm",
        fields: &[
            ("id", FieldType::Integer),
            ("name", FieldType::String),
            ("email", FieldType::String),
            ("phone", FieldType::String),
            ("city", FieldType::String),
        ],
        rows: (0..SOURCE_RECORDS).map(move |i| {
            let person = if i % 20 == 19 { i - 1 } else { i };
            let email = if i % 20 == 19 {
                format!("  Person{person}@Example.com")
            } else {
                format!("person{person}@example.com")
            };
            let phone = if numbers.below(10) < 6 {
                text(format!("+1 555 {person:07}"))
            } else {
                Value::Null
            };
            vec![
                Value::Integer(i as i64),
                text(format!("First{} Last{}", i % 5000, i % 7919)),
                text(email),
                phone,
                text(CITIES[(i % 8) as usize]),
            ]
        }),
    }
}

/// `web`: even keys are crm's people (email in capitals with spaces), odd keys new people;
/// every third has a phone written another way.
pub fn web() -> Table<impl Iterator<Item = Vec<Value>>> {
    Table {
        name: "web",
        fields: &[
            ("key", FieldType::String),
            ("mail", FieldType::String),
            ("tel", FieldType::String),
            ("country", FieldType::String),
        ],
        rows: (0..SOURCE_RECORDS).map(|j| {
            let person = if j % 2 == 0 { j } else { 1_000_000 + j };
            let phone = if j % 3 == 0 {
                text(format!("(555) {person:07}"))
            } else {
                Value::Null
            };
            vec![
                text(format!("w{j}")),
                text(format!(" PERSON{person}@EXAMPLE.COM ")),
                phone,
                text(if j % 5 == 0 { "NO" } else { "IT" }),
            ]
        }),
    }
}

/// `orders`: 1,000,000 orders whose `customer` is a crm `id` (one in eleven matches no one),
/// an amount of 0 to 999.99 and a status, `paid` three times in four.
pub fn orders() -> Table<impl Iterator<Item = Vec<Value>>> {
    let mut numbers = Numbers(2);
    Table {
        name: "orders",
        fields: &[
            ("order", FieldType::Integer),
            ("customer", FieldType::Integer),
            ("amount", FieldType::Number),
            ("status", FieldType::String),
        ],
        rows: (0..LINKED_ORDERS).map(move |n| {
            vec![
                Value::Integer(n as i64),
                Value::Integer(numbers.below(SOURCE_RECORDS + SOURCE_RECORDS / 10) as i64),
                number(numbers.below(100_000) as f64 / 100.0),
                text(if numbers.below(4) == 0 {
                    "open"
                } else {
                    "paid"
                }),
            ]
        }),
    }
}

/// The unification of both sources with two rules: the same email, the same phone digits.
pub fn unification() -> serde_json::Value {
    serde_json::json!({
        "sources": [
            {"dataSourceId": "crm", "attributes": {"Name": "name", "Email": "email", "Phone": "phone", "City": "city"}},
            {"dataSourceId": "web", "attributes": {"Email": "mail", "Phone": "tel", "Country": "country"}}
        ],
        "rules": [
            {"name": "email", "conditions": [{"attribute": "Email", "normalize": ["trim", "lowercase"]}]},
            {"name": "phone", "conditions": [{"attribute": "Phone", "normalize": ["digits"]}]}
        ]
    })
}

/// Prints one timing, with its target when it has one.
pub fn report(what: &str, took: std::time::Duration, target: Option<std::time::Duration>) {
    let verdict = match target {
        Some(target) if took <= target => format!(" (target {target:?}: met)"),
        Some(target) => format!(" (target {target:?}: MISSED)"),
        None => String::new(),
    };
    println!("{what:<60} {:>9.3} s{verdict}", took.as_secs_f64());
}

/// Resets the peak resident set to the current one (Linux `clear_refs` 5).
pub fn reset_peak() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("could not reset the peak resident set: {error}");
    }
}

/// (`VmRSS`, `VmHWM`) in MiB.
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
