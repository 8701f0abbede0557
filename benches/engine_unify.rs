//! Engine benchmark (see BENCHMARKS.md): unification of two generated sources of 500,000
//! records each with two rules (time and peak resident memory), three measures and three
//! segments over its result, then each measure and segment over 1,000,000 customers. Run with
//! `cargo bench --bench engine_unify`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use insights_connector::domain::InstanceId;
use insights_connector::engine::items::{Entity, EntityName, ItemStore};
use insights_connector::engine::measures::{
    CustomerOrdinals, Measure, MeasureDefinition, apply_customer_measures,
};
use insights_connector::engine::segments::{Segment, SegmentDefinition};
use insights_connector::engine::unify::{
    ActivityLink, Unification, UnificationDefinition, link_activity, unify,
};
use insights_connector::engine::{Field, FieldType, Schema, Value};
use serde_json::json;

#[path = "support/generated.rs"]
mod generated;
use generated::{
    CITIES, LINKED_ORDERS, Numbers, SOURCE_RECORDS, Table, memory_mib, number, report, reset_peak,
    text,
};

const CUSTOMERS: u64 = 1_000_000;
const ORDERS: u64 = 2_000_000;

fn name(text: &str) -> EntityName {
    EntityName::parse(text).expect("a valid entity name")
}

fn write(
    store: &ItemStore,
    instance: InstanceId,
    table: Table<impl Iterator<Item = Vec<Value>>>,
) -> Arc<Entity> {
    let schema = Schema::new(
        table
            .fields
            .iter()
            .map(|(n, t)| Field::new(*n, *t))
            .collect(),
        table.fields[0].0,
    )
    .expect("a schema");
    let mut writer = store
        .write(instance, &name(table.name), schema, &[])
        .expect("a writer");
    for row in table.rows {
        writer.push(&row).expect("a row");
    }
    writer.commit().expect("committed")
}

fn measure(body: serde_json::Value) -> Measure {
    let definition: MeasureDefinition = serde_json::from_value(body).expect("a measure");
    Measure::parse(&definition).expect("a valid measure")
}

fn segment(filter: &str) -> Segment {
    Segment::parse(&SegmentDefinition {
        name: filter.to_owned(),
        filter: filter.to_owned(),
    })
    .expect("a valid segment")
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Three customer measures (one stored as `Spend`, `OrderCount`, `MaxOrder`), applied in one
/// generation, one business measure, and three segments, each timed.
fn measures_and_segments(
    store: &ItemStore,
    members: &ItemStore,
    instance: InstanceId,
    orders: &Entity,
    customers: &Entity,
    segments: &[&str],
) {
    let two = Some(Duration::from_secs(2));
    let (ordinals, took) = timed(|| CustomerOrdinals::read(customers).expect("ordinals"));
    report(
        "  read customer ordinals (once for all measures)",
        took,
        two,
    );
    let per_customer = [
        measure(
            json!({"name": "Order count", "entity": orders.name().as_str(), "aggregate": "count",
            "per": "customer", "attribute": "OrderCount"}),
        ),
        measure(
            json!({"name": "Spend", "entity": orders.name().as_str(), "aggregate": "sum",
            "field": "amount", "filter": "status eq 'paid'", "per": "customer", "attribute": "Spend"}),
        ),
        measure(
            json!({"name": "Largest order", "entity": orders.name().as_str(), "aggregate": "max",
            "field": "amount", "per": "customer", "attribute": "MaxOrder"}),
        ),
    ];
    let mut columns = Vec::new();
    for m in &per_customer {
        let (column, took) = timed(|| m.compute_per_customer(orders, &ordinals).expect("computed"));
        report(&format!("  customer measure {}", m.name()), took, two);
        columns.push(column);
    }
    let (measured, took) =
        timed(|| apply_customer_measures(store, instance, customers, &columns).expect("applied"));
    report(
        "  store the 3 customer measures as Customer attributes",
        took,
        two,
    );
    drop(columns);
    let business = measure(
        json!({"name": "Average paid order", "entity": orders.name().as_str(),
        "aggregate": "average", "field": "amount", "filter": "status eq 'paid'"}),
    );
    let (value, took) = timed(|| business.compute(orders).expect("computed"));
    report(
        &format!("  business measure {} = {value:?}", business.name()),
        took,
        two,
    );
    let distinct = measure(json!({"name": "Buyers", "entity": orders.name().as_str(),
        "aggregate": "countDistinct", "field": "CustomerId"}));
    let (value, took) = timed(|| distinct.compute(orders).expect("computed"));
    report(
        &format!("  business measure {} = {value:?}", distinct.name()),
        took,
        two,
    );
    for (n, filter) in segments.iter().enumerate() {
        let s = segment(filter);
        let (count, took) = timed(|| s.count(&measured).expect("counted"));
        report(&format!("  segment count  {filter} = {count}"), took, two);
        let id = name(&format!("segment-{n}"));
        let (entity, took) = timed(|| {
            s.evaluate(&measured, members, instance, &id)
                .expect("evaluated")
        });
        report(
            &format!("  segment members written ({})", entity.item_count()),
            took,
            two,
        );
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = ItemStore::open(dir.path().join("items")).expect("the item store");
    let members = ItemStore::open(dir.path().join("segments")).expect("the segment store");
    let instance = InstanceId::new();

    println!("== unification: 2 sources x {SOURCE_RECORDS} records, 2 rules");
    let (_, took) = timed(|| {
        write(&store, instance, generated::crm());
        write(&store, instance, generated::web());
    });
    report("write the two sources (setup, not measured)", took, None);
    let definition: UnificationDefinition =
        serde_json::from_value(generated::unification()).expect("a unification");
    let unification = Unification::parse(&definition).expect("valid");
    let (before, _) = memory_mib();
    reset_peak();
    let (unified, took) = timed(|| unify(&store, instance, &unification).expect("unified"));
    let (after, peak) = memory_mib();
    report(
        "unify (read, match, merge, write Customer)",
        took,
        Some(Duration::from_secs(10)),
    );
    println!(
        "  records {}, profiles {}; resident before {before:.0} MiB, peak {peak:.0} MiB (target 1024 MiB: {}), after {after:.0} MiB",
        unified.counts.source_record_count,
        unified.counts.unified_profile_count,
        if peak <= 1024.0 { "met" } else { "MISSED" }
    );

    write(&store, instance, generated::orders());
    let link = ActivityLink {
        customer_source: name("crm"),
        field: "customer".to_owned(),
    };
    let (orders, took) = timed(|| {
        link_activity(&store, instance, &name("orders"), &link, &unified.index).expect("linked")
    });
    report(
        &format!("link {LINKED_ORDERS} orders (CustomerId column)"),
        took,
        None,
    );
    drop(unified);
    println!("== measures and segments over the unified customers");
    let customers = store
        .entity(instance, &name("Customer"))
        .expect("read")
        .expect("written");
    measures_and_segments(
        &store,
        &members,
        instance,
        &orders,
        &customers,
        &[
            "Spend gt 500",
            "OrderCount eq 0",
            "City eq 'Oslo' and Spend ge 100",
        ],
    );

    println!("== measures and segments over {CUSTOMERS} customers, {ORDERS} orders");
    let big = InstanceId::new();
    let mut numbers = Numbers(3);
    let customers = write(
        &store,
        big,
        Table {
            name: "Customer",
            fields: &[
                ("CustomerId", FieldType::String),
                ("Name", FieldType::String),
                ("City", FieldType::String),
                ("Age", FieldType::Integer),
            ],
            rows: (0..CUSTOMERS).map(|n| {
                vec![
                    text(format!(
                        "{:032x}",
                        u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                    )),
                    text(format!("First{} Last{}", n % 5000, n % 7919)),
                    text(CITIES[numbers.below(8) as usize]),
                    Value::Integer(18 + numbers.below(70) as i64),
                ]
            }),
        },
    );
    let mut ids = Vec::with_capacity(CUSTOMERS as usize);
    customers
        .scan(None, |row| {
            if let Some(Value::String(id)) = row.first().map(|v| v.to_owned_value()) {
                ids.push(id);
            }
        })
        .expect("ids");
    let orders = write(
        &store,
        big,
        Table {
            name: "orders",
            fields: &[
                ("order", FieldType::Integer),
                ("CustomerId", FieldType::String),
                ("amount", FieldType::Number),
                ("status", FieldType::String),
            ],
            rows: (0..ORDERS).map(|n| {
                vec![
                    Value::Integer(n as i64),
                    text(ids[numbers.below(CUSTOMERS) as usize].clone()),
                    number(numbers.below(100_000) as f64 / 100.0),
                    text(if numbers.below(4) == 0 {
                        "open"
                    } else {
                        "paid"
                    }),
                ]
            }),
        },
    );
    drop(ids);
    measures_and_segments(
        &store,
        &members,
        big,
        &orders,
        &customers,
        &["Spend gt 1000", "City eq 'Oslo' and Age lt 30", "Age ge 0"],
    );
}
