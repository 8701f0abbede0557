//! The item store: get and indexed lookups, paging under every order, the switch between
//! generations, and what an interrupted write leaves.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;

use super::write::CrashPoint;
use super::*;
use crate::engine::filter::Filter;
use crate::engine::schema::Field;
use crate::engine::value::{Datetime, Finite, Value};

fn schema() -> Schema {
    Schema::new(
        vec![
            Field::new("id", FieldType::String),
            Field::new("customer", FieldType::Integer),
            Field::new("amount", FieldType::Number),
            Field::new("at", FieldType::Datetime),
        ],
        "id",
    )
    .expect("valid")
}

fn row(id: &str, customer: Option<i64>, amount: f64) -> Vec<Value> {
    vec![
        Value::String(id.to_owned()),
        customer.map_or(Value::Null, Value::Integer),
        Value::Number(Finite::new(amount).expect("finite")),
        Value::Datetime(Datetime::parse("2024-05-01T10:00:00+02:00").expect("datetime")),
    ]
}

fn name(text: &str) -> EntityName {
    EntityName::parse(text).expect("valid name")
}

fn write(
    store: &ItemStore,
    instance: InstanceId,
    entity: &str,
    rows: &[Vec<Value>],
) -> Arc<Entity> {
    let mut writer = store
        .write(instance, &name(entity), schema(), &["customer"])
        .expect("writer");
    for row in rows {
        writer.push(row).expect("push");
    }
    writer.commit().expect("commit")
}

fn ids(page: &Page) -> Vec<String> {
    page.items
        .iter()
        .map(|item| item["id"].as_str().expect("id is text").to_owned())
        .collect()
}

fn listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn items_are_found_by_primary_key_and_through_a_secondary_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    let rows: Vec<_> = (0..1000)
        .map(|n| {
            row(
                &format!("order-{n}"),
                (n % 7 != 0).then_some(n % 10),
                n as f64,
            )
        })
        .collect();
    let entity = write(&store, instance, "orders", &rows);
    assert_eq!(entity.item_count(), 1000);

    assert_eq!(entity.get("order-42").expect("get"), Some(rows[42].clone()));
    assert_eq!(entity.get("order-1000").expect("get"), None);
    let item = entity
        .get_item("order-3", Some(&[2, 0]))
        .expect("get")
        .expect("found");
    assert_eq!(
        serde_json::Value::Object(item),
        serde_json::json!({"amount": 3.0, "id": "order-3"})
    );

    let of_three = entity
        .lookup("customer", &Value::Integer(3))
        .expect("lookup");
    let expected: Vec<_> = rows
        .iter()
        .filter(|r| r[1] == Value::Integer(3))
        .cloned()
        .collect();
    assert_eq!(of_three, expected, "all of them, in stored order");
    assert!(!of_three.is_empty());
    let widened = Value::Number(Finite::new(3.0).expect("finite"));
    assert_eq!(
        entity.lookup("customer", &widened).expect("lookup"),
        expected,
        "3.0 finds 3"
    );
    assert_eq!(
        entity
            .lookup("customer", &Value::Integer(99))
            .expect("lookup"),
        Vec::<Vec<Value>>::new()
    );
    assert!(matches!(
        entity.lookup("amount", &Value::Integer(1)),
        Err(ItemsError::NotIndexed { .. })
    ));

    let filter = Filter::parse("customer eq 3 and amount gt 500").expect("parse");
    let filter = filter.bind(entity.schema()).expect("bind");
    let offsets = entity
        .candidates(Some(&filter))
        .expect("candidates")
        .expect("an index applies");
    assert_eq!(
        offsets.len(),
        expected.len(),
        "the index, not a scan, gives the candidates"
    );
    let query = Query {
        filter: Some(filter),
        top: 1000,
        ..Query::default()
    };
    let page = entity.query(&query).expect("query");
    let expected_ids: Vec<_> = expected
        .iter()
        .filter(|r| matches!(r[2], Value::Number(x) if x.get() > 500.0))
        .map(|r| match &r[0] {
            Value::String(id) => id.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(ids(&page), expected_ids);
    assert_eq!(
        entity.count(query.filter.as_ref()).expect("count"),
        expected_ids.len() as u64
    );
}

#[test]
fn keys_of_other_types_are_read_from_their_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let schema = Schema::new(
        vec![
            Field::new("n", FieldType::Integer),
            Field::new("at", FieldType::Datetime),
        ],
        "n",
    )
    .expect("valid");
    let mut writer = store
        .write(InstanceId::new(), &name("numbers"), schema, &["at"])
        .expect("writer");
    let date = Value::Datetime(Datetime::parse("2024-05-01").expect("date"));
    writer
        .push(&vec![Value::Integer(42), date.clone()])
        .expect("push");
    let entity = writer.commit().expect("commit");
    assert!(entity.get("42").expect("get").is_some());
    for missing in ["042", "42.0", "x", ""] {
        assert_eq!(entity.get(missing).expect("get"), None, "{missing}");
    }
    let same_instant = Value::Datetime(Datetime::parse("2024-05-01T02:00:00+02:00").expect("dt"));
    assert_eq!(entity.lookup("at", &same_instant).expect("lookup").len(), 1);
}

#[test]
fn bad_rows_are_refused_when_pushed_or_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    write(&store, instance, "orders", &[row("a", Some(1), 1.0)]);

    let mut writer = store
        .write(instance, &name("orders"), schema(), &[])
        .expect("writer");
    let mut null_key = row("x", None, 1.0);
    null_key[0] = Value::Null;
    assert!(matches!(
        writer.push(&null_key),
        Err(ItemsError::NullKey { .. })
    ));
    let mut wrong = row("x", None, 1.0);
    wrong[1] = Value::String("seven".into());
    assert!(matches!(
        writer.push(&wrong),
        Err(ItemsError::WrongType { .. })
    ));
    writer.push(&row("b", None, 1.0)).expect("push");
    writer.push(&row("c", None, 1.0)).expect("push");
    writer.push(&row("b", None, 2.0)).expect("push");
    match writer.commit() {
        Err(ItemsError::DuplicateKey { key }) => assert_eq!(key, Value::String("b".into())),
        other => panic!("a duplicate key must fail the commit, got {other:?}"),
    }
    let entity = store
        .entity(instance, &name("orders"))
        .expect("read")
        .expect("exists");
    assert_eq!(entity.item_count(), 1, "the previous generation stays");
    assert!(entity.get("a").expect("get").is_some());
}

#[test]
fn one_writer_at_a_time_per_entity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    let first = store
        .write(instance, &name("orders"), schema(), &[])
        .expect("writer");
    assert!(matches!(
        store.write(instance, &name("orders"), schema(), &[]),
        Err(ItemsError::WriteInProgress { .. })
    ));
    assert!(
        store
            .write(instance, &name("visits"), schema(), &[])
            .is_ok(),
        "another entity"
    );
    drop(first);
    assert!(
        store
            .write(instance, &name("orders"), schema(), &[])
            .is_ok(),
        "after the first ends"
    );
}

#[test]
fn a_reader_keeps_its_generation_while_a_new_one_is_switched_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    let old = write(&store, instance, "orders", &[row("a", Some(1), 1.0)]);
    let new = write(
        &store,
        instance,
        "orders",
        &[row("b", Some(1), 1.0), row("c", Some(2), 1.0)],
    );
    assert_eq!((old.generation(), new.generation()), (1, 2));
    let all = Query {
        top: 10,
        ..Query::default()
    };
    assert_eq!(
        ids(&old.query(&all).expect("old")),
        ["a"],
        "the removed generation is still readable"
    );
    let current = store
        .entity(instance, &name("orders"))
        .expect("read")
        .expect("exists");
    assert_eq!(ids(&current.query(&all).expect("new")), ["b", "c"]);
    let entity_dir = store.entity_dir(instance, &name("orders"));
    assert_eq!(
        listing(&entity_dir),
        BTreeSet::from(["MANIFEST".into(), "gen-2".into()])
    );
    let reopened = ItemStore::open(dir.path()).expect("reopen");
    let current = reopened
        .entity(instance, &name("orders"))
        .expect("read")
        .expect("exists");
    assert_eq!(ids(&current.query(&all).expect("new")), ["b", "c"]);
}

#[test]
fn an_interrupted_commit_shows_the_old_or_the_new_generation_whole_and_leaves_nothing() {
    let table = [
        (
            CrashPoint::GenerationWritten,
            vec!["a"],
            "generation written, manifest untouched",
        ),
        (
            CrashPoint::TemporaryManifestWritten,
            vec!["a"],
            "MANIFEST.tmp written, not renamed",
        ),
        (
            CrashPoint::Switched,
            vec!["b", "c"],
            "renamed, old generation not yet removed",
        ),
    ];
    for (crash, visible, reason) in table {
        let dir = tempfile::tempdir().expect("tempdir");
        let instance = InstanceId::new();
        {
            let store = ItemStore::open(dir.path()).expect("open");
            write(&store, instance, "orders", &[row("a", Some(1), 1.0)]);
            let mut writer = store
                .write(instance, &name("orders"), schema(), &["customer"])
                .expect("writer");
            writer.push(&row("b", Some(1), 1.0)).expect("push");
            writer.push(&row("c", Some(1), 1.0)).expect("push");
            assert!(writer.commit_until(Some(crash)).is_err(), "{reason}");
        }
        let store = ItemStore::open(dir.path()).expect("reopen");
        let entity = store
            .entity(instance, &name("orders"))
            .expect("read")
            .expect("exists");
        let page = entity
            .query(&Query {
                top: 10,
                ..Query::default()
            })
            .expect("query");
        assert_eq!(ids(&page), visible, "{reason}");
        let current = format!("gen-{}", entity.generation());
        let entity_dir = store.entity_dir(instance, &name("orders"));
        assert_eq!(
            listing(&entity_dir),
            BTreeSet::from(["MANIFEST".into(), current]),
            "{reason}"
        );
    }
}

#[test]
fn a_write_abandoned_midway_is_invisible_and_removed_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let instance = InstanceId::new();
    {
        let store = ItemStore::open(dir.path()).expect("open");
        write(&store, instance, "orders", &[row("a", Some(1), 1.0)]);
        let mut replacing = store
            .write(instance, &name("orders"), schema(), &[])
            .expect("writer");
        replacing.push(&row("b", Some(1), 1.0)).expect("push");
        let mut first_ever = store
            .write(instance, &name("visits"), schema(), &[])
            .expect("writer");
        first_ever.push(&row("v", Some(1), 1.0)).expect("push");
        // A killed process runs no destructor.
        std::mem::forget(replacing);
        std::mem::forget(first_ever);
    }
    let store = ItemStore::open(dir.path()).expect("reopen");
    let entity = store
        .entity(instance, &name("orders"))
        .expect("read")
        .expect("exists");
    assert_eq!(
        ids(&entity
            .query(&Query {
                top: 10,
                ..Query::default()
            })
            .expect("query")),
        ["a"]
    );
    assert_eq!(
        listing(&store.entity_dir(instance, &name("orders"))),
        BTreeSet::from(["MANIFEST".into(), "gen-1".into()])
    );
    assert!(
        store
            .entity(instance, &name("visits"))
            .expect("read")
            .is_none()
    );
    assert!(
        !store.entity_dir(instance, &name("visits")).exists(),
        "never committed: removed"
    );
    let names: Vec<_> = store
        .entities(instance)
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["orders"]);
}

#[test]
fn an_abandoned_writer_removes_its_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    write(&store, instance, "orders", &[row("a", Some(1), 1.0)]);
    let mut writer = store
        .write(instance, &name("orders"), schema(), &[])
        .expect("writer");
    writer.push(&row("b", Some(1), 1.0)).expect("push");
    drop(writer);
    assert_eq!(
        listing(&store.entity_dir(instance, &name("orders"))),
        BTreeSet::from(["MANIFEST".into(), "gen-1".into()])
    );
}

#[test]
fn entities_are_listed_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    write(&store, instance, "visits", &[row("a", Some(1), 1.0)]);
    write(
        &store,
        instance,
        "Orders / 2024".replace('/', "-").as_str(),
        &[row("a", None, 1.0), row("b", None, 2.0)],
    );
    let listed: Vec<_> = store
        .entities(instance)
        .expect("list")
        .into_iter()
        .map(|e| (e.name, e.item_count))
        .collect();
    assert_eq!(
        listed,
        [("Orders - 2024".to_owned(), 2), ("visits".to_owned(), 1)]
    );
    assert!(
        store.entities(InstanceId::new()).expect("list").is_empty(),
        "another instance"
    );
    assert!(store.remove(instance, &name("visits")).expect("remove"));
    assert!(
        !store.remove(instance, &name("visits")).expect("remove"),
        "already gone"
    );
    assert!(
        store
            .entity(instance, &name("visits"))
            .expect("read")
            .is_none()
    );
    assert_eq!(store.entities(instance).expect("list").len(), 1);
}

#[test]
fn select_and_orderby_are_parsed_against_the_schema() {
    let schema = Schema::new(
        vec![
            Field::new("id", FieldType::String),
            Field::new("First Name", FieldType::String),
            Field::new("age", FieldType::Integer),
        ],
        "id",
    )
    .expect("valid");
    assert_eq!(parse_select(" age , id,age", &schema), Ok(vec![2, 0]));
    assert_eq!(parse_select("First Name", &schema), Ok(vec![1]));
    let order = |field, descending| OrderKey { field, descending };
    assert_eq!(
        parse_order_by("age desc, First Name asc,id", &schema),
        Ok(vec![order(2, true), order(1, false), order(0, false)])
    );
    let bad: &[(&str, &str, &str)] = &[
        ("$select", "nme", "unknown field"),
        ("$select", "id,,age", "empty item"),
        ("$select", "", "nothing selected"),
        ("$orderby", "age descending", "not a direction"),
        ("$orderby", "agee desc", "unknown field"),
        ("$orderby", "age DESC", "directions are lowercase"),
        ("$orderby", "age,", "trailing comma"),
    ];
    for (parameter, text, reason) in bad {
        let error = if *parameter == "$select" {
            parse_select(text, &schema).map(|_| ())
        } else {
            parse_order_by(text, &schema).map(|_| ())
        };
        assert!(error.is_err(), "{parameter}={text}: {reason}");
    }
    assert_eq!(
        parse_order_by("agee desc", &schema).map_err(|e| e.code()),
        Err("unknown_field")
    );
}

fn paging_schema() -> Schema {
    Schema::new(
        vec![
            Field::new("id", FieldType::Integer),
            Field::new("group", FieldType::String),
            Field::new("score", FieldType::Number),
        ],
        "id",
    )
    .expect("valid")
}

fn paging_row() -> impl Strategy<Value = (Option<&'static str>, Option<i8>)> {
    (
        proptest::option::of(proptest::sample::select(&["a", "b", "c"][..])),
        proptest::option::of(-2i8..3),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn pages_cover_every_item_exactly_once_in_order_under_any_ordering(
        rows in proptest::collection::vec(paging_row(), 0..120),
        keys in proptest::collection::vec((0usize..3, any::<bool>()), 0..3),
        top in 1usize..17,
        filtered in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ItemStore::open(dir.path()).expect("open");
        let mut writer = store.write(InstanceId::new(), &name("t"), paging_schema(), &["group"]).expect("writer");
        // Ids in a shuffled order, so stored order is not key order.
        for (n, (group, score)) in rows.iter().enumerate() {
            let id = (n as i64 * 7919) % 1_000_003;
            writer.push(&vec![
                Value::Integer(id),
                group.map_or(Value::Null, |g| Value::String(g.to_owned())),
                score.map_or(Value::Null, |s| Value::Number(Finite::new(f64::from(s)).expect("finite"))),
            ]).expect("push");
        }
        let entity = writer.commit().expect("commit");
        let order_by: Vec<OrderKey> = keys.iter().map(|(field, descending)| OrderKey { field: *field, descending: *descending }).collect();
        let filter = filtered.then(|| Filter::parse("group ne 'b'").and_then(|f| f.bind(entity.schema())).expect("filter"));
        let expected = entity.count(filter.as_ref()).expect("count");

        let mut seen = Vec::new();
        let mut skip = 0u64;
        loop {
            let query = Query { filter: filter.clone(), select: None, order_by: order_by.clone(), skip, top };
            let page = entity.query(&query).expect("page");
            prop_assert!(page.items.len() <= top);
            seen.extend(page.items);
            skip += top as u64;
            if !page.more {
                break;
            }
        }
        prop_assert_eq!(seen.len() as u64, expected, "every item once");
        let unique: BTreeSet<i64> = seen.iter().map(|i| i["id"].as_i64().expect("id")).collect();
        prop_assert_eq!(unique.len(), seen.len(), "no item twice");
        // Consecutive items are in order: by the keys, then by primary key.
        let value = |item: &Item, field: usize| -> Value {
            let json = &item[entity.schema().fields()[field].name.as_str()];
            match field {
                0 => Value::Integer(json.as_i64().expect("id")),
                1 => json.as_str().map_or(Value::Null, |s| Value::String(s.to_owned())),
                _ => json.as_f64().map_or(Value::Null, |x| Value::Number(Finite::new(x).expect("finite"))),
            }
        };
        for pair in seen.windows(2) {
            let mut ordering = std::cmp::Ordering::Equal;
            for key in &order_by {
                let o = value(&pair[0], key.field).as_ref().sort_cmp(value(&pair[1], key.field).as_ref());
                ordering = if key.descending { o.reverse() } else { o };
                if ordering != std::cmp::Ordering::Equal {
                    break;
                }
            }
            if ordering == std::cmp::Ordering::Equal && !order_by.is_empty() {
                ordering = value(&pair[0], 0).as_ref().sort_cmp(value(&pair[1], 0).as_ref());
            }
            if !order_by.is_empty() {
                prop_assert_eq!(ordering, std::cmp::Ordering::Less, "{:?} before {:?}", pair[0], pair[1]);
            }
        }
    }
}
