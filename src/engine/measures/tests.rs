//! Measures: definitions refused with the field named, business and customer values against
//! a reference computed here, the `Customer` attributes they become, and failures that stay
//! with one measure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::domain::InstanceId;
use crate::engine::items::{Entity, ItemStore};
use crate::engine::schema::Field;
use crate::engine::value::{Finite, Row, Value};

fn definition(body: serde_json::Value) -> MeasureDefinition {
    serde_json::from_value(body).expect("a measure's shape")
}

fn measure(body: serde_json::Value) -> Measure {
    Measure::parse(&definition(body)).expect("valid")
}

/// An order: (id, customer, amount, quantity, status).
type Order = (i64, Option<u8>, Option<f64>, i64, &'static str);

struct Fixture {
    _dir: tempfile::TempDir,
    store: ItemStore,
    instance: InstanceId,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        Fixture {
            store: ItemStore::open(dir.path()).expect("store"),
            _dir: dir,
            instance: InstanceId::new(),
        }
    }

    fn write(&self, name: &str, fields: Vec<Field>, key: &str, rows: &[Vec<Value>]) -> Arc<Entity> {
        let schema = Schema::new(fields, key).expect("schema");
        let name = EntityName::parse(name).expect("name");
        let mut writer = self
            .store
            .write(self.instance, &name, schema, &[])
            .expect("writer");
        for row in rows {
            writer.push(row).expect("push");
        }
        writer.commit().expect("commit")
    }

    /// Orders linked to customers `c0`, `c1`, ... (`CustomerId`), amount a number field.
    fn orders(&self, orders: &[Order]) -> Arc<Entity> {
        let rows: Vec<Vec<Value>> = orders
            .iter()
            .map(|(id, customer, amount, quantity, status)| {
                vec![
                    Value::Integer(*id),
                    customer.map_or(Value::Null, |c| Value::String(format!("c{c}"))),
                    amount.map_or(Value::Null, |a| {
                        Value::Number(Finite::new(a).expect("finite"))
                    }),
                    Value::Integer(*quantity),
                    Value::String((*status).to_owned()),
                ]
            })
            .collect();
        self.write(
            "orders",
            vec![
                Field::new("id", FieldType::Integer),
                Field::new("CustomerId", FieldType::String),
                Field::new("amount", FieldType::Number),
                Field::new("quantity", FieldType::Integer),
                Field::new("status", FieldType::String),
            ],
            "id",
            &rows,
        )
    }

    fn customers(&self, count: u8) -> Arc<Entity> {
        let rows: Vec<Vec<Value>> = (0..count)
            .map(|c| {
                vec![
                    Value::String(format!("c{c}")),
                    Value::String(format!("name {c}")),
                ]
            })
            .collect();
        self.write(
            "Customer",
            vec![
                Field::new("CustomerId", FieldType::String),
                Field::new("Name", FieldType::String),
            ],
            "CustomerId",
            &rows,
        )
    }
}

fn number(x: f64) -> Value {
    Value::Number(Finite::new(x).expect("finite"))
}

/// The reference: the aggregate over `values` (already filtered), by the contract's rules.
fn reference(aggregate: Aggregate, values: &[Value], integer: bool) -> Option<Value> {
    let present: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    let floats: Vec<f64> = present
        .iter()
        .filter_map(|v| match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Number(n) => Some(n.get()),
            _ => None,
        })
        .collect();
    let ints: Vec<i64> = present
        .iter()
        .filter_map(|v| match v {
            Value::Integer(i) => Some(*i),
            _ => None,
        })
        .collect();
    match aggregate {
        Aggregate::Count => Some(Value::Integer(present.len() as i64)),
        Aggregate::CountDistinct => {
            let distinct: BTreeSet<String> = present.iter().map(|v| format!("{v:?}")).collect();
            Some(Value::Integer(distinct.len() as i64))
        }
        Aggregate::Sum if integer => Some(Value::Integer(ints.iter().sum())),
        Aggregate::Sum => Some(number(floats.iter().sum())),
        Aggregate::Average if floats.is_empty() => None,
        Aggregate::Average => Some(number(floats.iter().sum::<f64>() / floats.len() as f64)),
        Aggregate::Min | Aggregate::Max if present.is_empty() => None,
        Aggregate::Min if integer => ints.iter().min().copied().map(Value::Integer),
        Aggregate::Max if integer => ints.iter().max().copied().map(Value::Integer),
        Aggregate::Min => Some(number(floats.iter().copied().fold(f64::INFINITY, f64::min))),
        Aggregate::Max => Some(number(
            floats.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )),
    }
}

fn field_values(orders: &[Order], field: &str, keep: impl Fn(&Order) -> bool) -> Vec<Value> {
    orders
        .iter()
        .filter(|o| keep(o))
        .map(|o| match field {
            "amount" => o.2.map_or(Value::Null, number),
            "quantity" => Value::Integer(o.3),
            "status" => Value::String(o.4.to_owned()),
            _ => Value::Integer(o.0),
        })
        .collect()
}

/// Which orders a filter keeps, in the reference.
type Keep = fn(&Order) -> bool;

const ORDERS: [Order; 6] = [
    (1, Some(0), Some(10.5), 2, "paid"),
    (2, Some(0), None, 1, "paid"),
    (3, Some(1), Some(4.0), 5, "open"),
    (4, Some(2), Some(-1.25), 3, "paid"),
    (5, None, Some(100.0), 7, "paid"),
    (6, Some(9), Some(2.0), 1, "refunded"),
];

#[test]
fn business_measures_match_the_reference() {
    let f = Fixture::new();
    let orders = f.orders(&ORDERS);
    let filters: [(Option<&str>, Keep); 3] = [
        (None, |_| true),
        (Some("status eq 'paid'"), |o| o.4 == "paid"),
        (Some("status eq 'lost'"), |_| false),
    ];
    for aggregate in Aggregate::ALL {
        for field in ["amount", "quantity", "status"] {
            if aggregate.needs_number() && field == "status" {
                continue;
            }
            for (filter, keep) in &filters {
                let m = measure(
                    json!({"name": "m", "entity": "orders", "aggregate": aggregate.name(),
                    "field": field, "filter": filter}),
                );
                let expected = reference(
                    aggregate,
                    &field_values(&ORDERS, field, keep),
                    field == "quantity",
                );
                let found = m.compute(&orders).expect("computes");
                assert_eq!(
                    found,
                    expected,
                    "{} of {field} where {filter:?}",
                    aggregate.name()
                );
            }
        }
    }
    let count_items = measure(json!({"name": "orders", "entity": "orders", "aggregate": "count"}));
    assert_eq!(
        count_items.compute(&orders).expect("computes"),
        Some(Value::Integer(6))
    );
    let count_amounts =
        measure(json!({"name": "m", "entity": "orders", "aggregate": "count", "field": "amount"}));
    assert_eq!(
        count_amounts.compute(&orders).expect("computes"),
        Some(Value::Integer(5)),
        "a count with a field counts its non-null values"
    );
}

#[test]
fn customer_measures_become_customer_attributes_with_zero_or_null_for_customers_without_items() {
    let f = Fixture::new();
    let orders = f.orders(&ORDERS);
    let customers = f.customers(4);
    let ordinals = CustomerOrdinals::read(&customers).expect("ordinals");
    assert_eq!(ordinals.len(), 4);
    let per = |aggregate: &str, field: Option<&str>, attribute: &str| {
        measure(
            json!({"name": attribute, "entity": "orders", "aggregate": aggregate, "field": field,
            "per": "customer", "attribute": attribute}),
        )
    };
    let columns: Vec<CustomerColumn> = [
        per("count", None, "OrderCount"),
        per("sum", Some("amount"), "Spend"),
        per("average", Some("quantity"), "AverageQuantity"),
        per("max", Some("quantity"), "MostItems"),
    ]
    .iter()
    .map(|m| {
        m.compute_per_customer(&orders, &ordinals)
            .expect("computes")
    })
    .collect();
    let measured =
        apply_customer_measures(&f.store, f.instance, &customers, &columns).expect("applied");
    let mut rows = Vec::new();
    measured
        .scan(None, |row| {
            rows.push(serde_json::Value::Object(measured.render(row, None)))
        })
        .expect("scan");
    assert_eq!(
        rows,
        [
            json!({"CustomerId": "c0", "Name": "name 0", "OrderCount": 2, "Spend": 10.5, "AverageQuantity": 1.5, "MostItems": 2}),
            json!({"CustomerId": "c1", "Name": "name 1", "OrderCount": 1, "Spend": 4.0, "AverageQuantity": 5.0, "MostItems": 5}),
            json!({"CustomerId": "c2", "Name": "name 2", "OrderCount": 1, "Spend": -1.25, "AverageQuantity": 3.0, "MostItems": 3}),
            json!({"CustomerId": "c3", "Name": "name 3", "OrderCount": 0, "Spend": 0.0, "AverageQuantity": null, "MostItems": null}),
        ],
        "c9's order names nobody and the order without a customer counts for nobody"
    );
    let types: Vec<FieldType> = measured.schema().fields().iter().map(|f| f.ty).collect();
    use FieldType::*;
    assert_eq!(types, [String, String, Integer, Number, Number, Integer]);

    // Computed again over the new generation, the attribute is replaced, not added.
    let ordinals = CustomerOrdinals::read(&measured).expect("ordinals");
    let spend = per("sum", Some("quantity"), "Spend")
        .compute_per_customer(&orders, &ordinals)
        .expect("computes");
    let again =
        apply_customer_measures(&f.store, f.instance, &measured, &[spend]).expect("applied");
    assert_eq!(again.schema().len(), 6);
    assert_eq!(again.schema().field(3).map(|f| f.ty), Some(Integer));
    assert_eq!(
        again.get("c0").expect("get").map(|r| r[3].clone()),
        Some(Value::Integer(3))
    );
}

#[test]
fn columns_of_an_older_customer_generation_or_twice_one_attribute_are_refused() {
    let f = Fixture::new();
    let orders = f.orders(&ORDERS);
    let old = f.customers(3);
    let ordinals = CustomerOrdinals::read(&old).expect("ordinals");
    let count = |attribute: &str| {
        measure(json!({"name": "m", "entity": "orders", "aggregate": "count", "per": "customer", "attribute": attribute}))
            .compute_per_customer(&orders, &ordinals)
            .expect("computes")
    };
    let error =
        apply_customer_measures(&f.store, f.instance, &old, &[count("A"), count("A")]).err();
    assert_eq!(error.map(|e| e.code()), Some("duplicate_attribute"));
    let new = f.customers(3);
    let error = apply_customer_measures(&f.store, f.instance, &new, &[count("A")]).err();
    assert_eq!(error.map(|e| e.code()), Some("customers_changed"));
    let business = measure(json!({"name": "m", "entity": "orders", "aggregate": "count"}));
    let error = business.compute_per_customer(&orders, &ordinals).err();
    assert_eq!(error.map(|e| e.code()), Some("not_per_customer"));
}

#[test]
fn a_field_that_no_longer_exists_fails_that_measure_alone() {
    let f = Fixture::new();
    let orders = f.orders(&ORDERS);
    let measures = [
        measure(
            json!({"name": "revenue", "entity": "orders", "aggregate": "sum", "field": "total"}),
        ),
        measure(
            json!({"name": "paid", "entity": "orders", "aggregate": "count", "filter": "state eq 'paid'"}),
        ),
        measure(json!({"name": "orders", "entity": "orders", "aggregate": "count"})),
        measure(
            json!({"name": "status", "entity": "orders", "aggregate": "sum", "field": "status"}),
        ),
        measure(
            json!({"name": "spend", "entity": "orders", "aggregate": "sum", "field": "amount", "per": "customer", "attribute": "S"}),
        ),
    ];
    let results: Vec<Result<Option<Value>, String>> = measures
        .iter()
        .map(|m| m.compute(&orders).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(
        results,
        [
            Err("The measure is not valid: field: no field \"total\" in entity \"orders\"".to_owned()),
            Err("The measure is not valid: filter: The filter names the unknown field 'state' at position 0.".to_owned()),
            Ok(Some(Value::Integer(6))),
            Err("The measure is not valid: field: sum needs numbers, but field \"status\" of entity \"orders\" is string".to_owned()),
            Ok(Some(number(115.25))),
        ]
    );
    let products = f.write(
        "products",
        vec![
            Field::new("sku", FieldType::String),
            Field::new("price", FieldType::Number),
        ],
        "sku",
        &[],
    );
    let per_customer = measure(
        json!({"name": "m", "entity": "products", "aggregate": "max", "field": "price", "per": "customer", "attribute": "A"}),
    );
    assert_eq!(
        per_customer.check(products.schema()).map_err(|e| e.to_string()),
        Err("entity: entity \"products\" has no CustomerId field; a customer measure needs an activity source linked to unified customers".to_owned())
    );
    let missing = measure(json!({"name": "m", "entity": "visits", "aggregate": "count"}));
    let error = missing
        .items(&f.store, f.instance)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("Entity \"visits\" has no items yet.")
    );
}

#[test]
fn an_integer_sum_past_64_bits_is_an_error_not_a_wrapped_number() {
    let f = Fixture::new();
    let orders = f.orders(&[
        (1, Some(0), None, i64::MAX, "paid"),
        (2, Some(0), None, 1, "paid"),
    ]);
    let sum =
        measure(json!({"name": "m", "entity": "orders", "aggregate": "sum", "field": "quantity"}));
    assert_eq!(
        sum.compute(&orders).err().map(|e| e.code()),
        Some("overflow")
    );
    let average = measure(
        json!({"name": "m", "entity": "orders", "aggregate": "average", "field": "quantity"}),
    );
    assert!(average.compute(&orders).is_ok(), "an average is a number");
}

#[test]
fn bad_measures_are_refused_naming_the_field() {
    let base = json!({"name": "m", "entity": "orders", "aggregate": "sum", "field": "amount"});
    let with = |patch: serde_json::Value| {
        let mut body = base.clone();
        if let (Some(body), Some(patch)) = (body.as_object_mut(), patch.as_object()) {
            for (k, v) in patch {
                if v.is_null() {
                    body.remove(k);
                } else {
                    body.insert(k.clone(), v.clone());
                }
            }
        }
        body
    };
    let table = [
        (
            with(json!({"name": ""})),
            "name: a measure needs a name",
            "no name",
        ),
        (
            with(json!({"entity": "a/b"})),
            "entity: not a valid entity name: an entity name may not contain '/' or control characters",
            "a bad entity",
        ),
        (
            with(json!({"aggregate": "total"})),
            "aggregate: unknown aggregate \"total\"; expected count, sum, average, min, max or countDistinct",
            "an unknown aggregate",
        ),
        (
            with(json!({"aggregate": "Sum"})),
            "aggregate: unknown aggregate \"Sum\"; expected count, sum, average, min, max or countDistinct",
            "names are case-sensitive",
        ),
        (
            with(json!({"field": null})),
            "field: sum needs a field",
            "a sum of nothing named",
        ),
        (
            with(json!({"aggregate": "countDistinct", "field": null})),
            "field: countDistinct needs a field",
            "distinct what",
        ),
        (
            with(json!({"filter": "amount gt"})),
            "filter: The filter has a syntax error at position 9: expected a field, a value, tolower(...) or toupper(...), found the end of the filter.",
            "the syntax error's position",
        ),
        (
            with(json!({"per": "month"})),
            "per: unknown value \"month\"; the only one is \"customer\"",
            "an unknown per",
        ),
        (
            with(json!({"per": "customer"})),
            "attribute: a customer measure needs the Customer attribute to store its values in",
            "no attribute",
        ),
        (
            with(json!({"attribute": "Spend"})),
            "attribute: only a customer measure (per: customer) is stored in an attribute",
            "an attribute without per",
        ),
        (
            with(json!({"per": "customer", "attribute": "CustomerId"})),
            "attribute: \"CustomerId\" is the engine's identifier of a customer",
            "the reserved attribute",
        ),
    ];
    for (body, message, reason) in table {
        let error = Measure::parse(&definition(body))
            .err()
            .map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some(message), "{reason}");
    }
}

#[test]
fn definitions_round_trip_without_absent_fields() {
    let body =
        json!({"name": "Revenue", "entity": "orders", "aggregate": "sum", "field": "amount"});
    assert_eq!(
        serde_json::to_value(definition(body.clone())).expect("json"),
        body
    );
}

fn order() -> impl Strategy<Value = (Option<u8>, Option<i16>, i64, bool)> {
    (
        proptest::option::of(0u8..20),
        proptest::option::of(-50i16..50),
        -5i64..5,
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_aggregate_matches_the_reference_per_customer_and_overall(
        orders in proptest::collection::vec(order(), 0..60),
        threshold in -50i16..50,
    ) {
        let f = Fixture::new();
        let orders: Vec<Order> = orders
            .into_iter()
            .enumerate()
            .map(|(n, (c, a, q, paid))| (n as i64, c, a.map(|a| f64::from(a) / 4.0), q, if paid { "paid" } else { "open" }))
            .collect();
        let entity = f.orders(&orders);
        let customers = f.customers(20);
        let ordinals = CustomerOrdinals::read(&customers).expect("ordinals");
        let limit = f64::from(threshold) / 4.0;
        let filter = format!("amount ge {limit} or status eq 'paid'");
        let keep = |o: &Order| o.2.is_some_and(|a| a >= limit) || o.4 == "paid";
        for aggregate in Aggregate::ALL {
            for field in ["amount", "quantity"] {
                let m = measure(json!({"name": "m", "entity": "orders", "aggregate": aggregate.name(),
                    "field": field, "filter": filter, "per": "customer", "attribute": "X"}));
                let integer = field == "quantity";
                prop_assert_eq!(
                    m.compute(&entity).expect("computes"),
                    reference(aggregate, &field_values(&orders, field, keep), integer)
                );
                let column = m.compute_per_customer(&entity, &ordinals).expect("computes");
                let mut by_customer: BTreeMap<u8, Vec<Value>> = BTreeMap::new();
                for c in 0..20u8 {
                    by_customer.insert(c, field_values(&orders, field, |o| keep(o) && o.1 == Some(c)));
                }
                for (c, values) in by_customer {
                    let expected = reference(aggregate, &values, integer).unwrap_or(Value::Null);
                    prop_assert_eq!(column.value(usize::from(c)).expect("value"), expected);
                }
            }
        }
    }
}

#[test]
fn customer_ordinals_follow_stored_order() {
    let f = Fixture::new();
    let customers = f.customers(3);
    let ordinals = CustomerOrdinals::read(&customers).expect("ordinals");
    let mut ids = Vec::new();
    customers
        .scan(None, |row| {
            ids.push(row.value(0).key_text().map(|k| k.into_owned()))
        })
        .expect("scan");
    assert_eq!(
        ids,
        [
            Some("c0".to_owned()),
            Some("c1".to_owned()),
            Some("c2".to_owned())
        ]
    );
    assert!(!ordinals.is_empty());
}
