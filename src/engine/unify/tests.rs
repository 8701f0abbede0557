//! Unification as tables: definitions refused with the field named, matching (dedupe,
//! transitive chains, empty values, each normalization), merge order and types, ids, and
//! activity linking.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::domain::InstanceId;
use crate::engine::items::{EntityName, ItemStore};
use crate::engine::schema::{Field, Schema};
use crate::engine::value::{FieldType, Finite, Row, Value};

pub(super) fn name(text: &str) -> EntityName {
    EntityName::parse(text).expect("valid name")
}

pub(super) fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn opt(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) store: ItemStore,
    pub(super) instance: InstanceId,
}

impl Fixture {
    pub(super) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ItemStore::open(dir.path()).expect("store");
        Fixture {
            _dir: dir,
            store,
            instance: InstanceId::new(),
        }
    }

    /// Writes a source whose first field is the primary key.
    pub(super) fn source(&self, id: &str, fields: &[(&str, FieldType)], rows: &[Vec<Value>]) {
        let schema = Schema::new(
            fields.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
            fields[0].0,
        )
        .expect("schema");
        let mut writer = self
            .store
            .write(self.instance, &name(id), schema, &[])
            .expect("writer");
        for row in rows {
            writer.push(row).expect("push");
        }
        writer.commit().expect("commit");
    }

    pub(super) fn unify(&self, definition: serde_json::Value) -> Unified {
        let definition: UnificationDefinition =
            serde_json::from_value(definition).expect("a definition's shape");
        let unification = Unification::parse(&definition).expect("valid");
        unify(&self.store, self.instance, &unification).expect("unifies")
    }

    /// `Customer` rows by `CustomerId`, each as field name to JSON value.
    pub(super) fn customers(&self) -> BTreeMap<String, serde_json::Value> {
        let entity = self
            .store
            .entity(self.instance, &customer_entity())
            .expect("read")
            .expect("written");
        let mut out = BTreeMap::new();
        entity
            .scan(None, |row| {
                let item = entity.render(row, None);
                let id = row.value(0).key_text().expect("an id").into_owned();
                out.insert(id, serde_json::Value::Object(item));
            })
            .expect("scan");
        out
    }
}

/// Groups of (source, key) as sets, from the index.
fn groups(unified: &Unified, records: &[(&str, Vec<Value>)]) -> BTreeSet<BTreeSet<String>> {
    let mut by_id: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (source, keys) in records {
        for key in keys {
            let id = unified
                .index
                .customer_of(&name(source), key.as_ref())
                .expect("every record has a profile");
            let member = format!("{source}:{}", key.as_ref().key_text().expect("key"));
            by_id.entry(id.to_string()).or_default().insert(member);
        }
    }
    by_id.into_values().collect()
}

fn set(members: &[&str]) -> BTreeSet<String> {
    members.iter().map(|m| (*m).to_owned()).collect()
}

pub(super) const PERSON: [(&str, FieldType); 4] = [
    ("id", FieldType::Integer),
    ("name", FieldType::String),
    ("email", FieldType::String),
    ("phone", FieldType::String),
];

fn person(id: i64, name: Option<&str>, email: Option<&str>, phone: Option<&str>) -> Vec<Value> {
    vec![Value::Integer(id), opt(name), opt(email), opt(phone)]
}

pub(super) fn two_rules() -> serde_json::Value {
    json!([
        {"name": "email", "conditions": [{"attribute": "Email", "normalize": ["trim", "lowercase"]}]},
        {"name": "phone", "conditions": [{"attribute": "Phone", "normalize": ["digits"]}]}
    ])
}

pub(super) fn mapping() -> serde_json::Value {
    json!({"Name": "name", "Email": "email", "Phone": "phone"})
}

#[test]
fn the_customer_entity_name_is_valid() {
    assert_eq!(customer_entity().as_str(), CUSTOMER_ENTITY);
}

#[test]
fn records_of_one_source_with_the_same_normalized_email_are_one_customer() {
    let f = Fixture::new();
    f.source(
        "crm",
        &PERSON,
        &[
            person(1, Some("Ann"), Some(" Ann@Example.com"), None),
            person(2, Some("Ann L."), Some("ann@example.com "), None),
            person(3, Some("Bob"), Some("bob@example.com"), None),
        ],
    );
    let unified = f.unify(json!({"sources": [{"dataSourceId": "crm", "attributes": mapping()}], "rules": two_rules()}));
    let keys = [("crm", (1..=3).map(Value::Integer).collect())];
    assert_eq!(
        groups(&unified, &keys),
        BTreeSet::from([set(&["crm:1", "crm:2"]), set(&["crm:3"])])
    );
    assert_eq!(
        unified.counts,
        UnificationCounts {
            source_record_count: 3,
            unified_profile_count: 2
        }
    );
}

#[test]
fn matches_chain_transitively_across_sources_and_rules() {
    let f = Fixture::new();
    // crm:1 -email- web:a -phone- crm:2 -email- shop:x; crm:3 is alone.
    f.source(
        "crm",
        &PERSON,
        &[
            person(1, None, Some("ann@example.com"), None),
            person(2, None, Some("ann.lee@work.example"), Some("555-0100")),
            person(3, None, Some("carl@example.com"), Some("555-0199")),
        ],
    );
    let web = [
        ("key", FieldType::String),
        ("mail", FieldType::String),
        ("tel", FieldType::String),
    ];
    f.source(
        "web",
        &web,
        &[vec![text("a"), text("ANN@example.com"), text("(555) 0100")]],
    );
    f.source(
        "shop",
        &web,
        &[vec![text("x"), text("ann.lee@work.example"), Value::Null]],
    );
    let unified = f.unify(json!({
        "sources": [
            {"dataSourceId": "crm", "attributes": mapping()},
            {"dataSourceId": "web", "attributes": {"Email": "mail", "Phone": "tel"}},
            {"dataSourceId": "shop", "attributes": {"Email": "mail", "Phone": "tel"}}
        ],
        "rules": two_rules()
    }));
    let keys = [
        ("crm", (1..=3).map(Value::Integer).collect()),
        ("web", vec![text("a")]),
        ("shop", vec![text("x")]),
    ];
    assert_eq!(
        groups(&unified, &keys),
        BTreeSet::from([set(&["crm:1", "crm:2", "web:a", "shop:x"]), set(&["crm:3"])])
    );
    assert_eq!(unified.counts.source_record_count, 5);
    assert_eq!(unified.counts.unified_profile_count, 2);
}

#[test]
fn empty_values_never_match() {
    let f = Fixture::new();
    let cases = [
        person(1, None, None, None),
        person(2, None, None, None),
        person(3, None, Some(""), Some("")),
        person(4, None, Some(""), Some("")),
        person(5, None, Some("   "), Some("n/a")),
        person(6, None, Some("  "), Some("none")),
    ];
    f.source("crm", &PERSON, &cases);
    // Trim makes "   " empty; digits makes "n/a" and "none" empty.
    let unified = f.unify(json!({"sources": [{"dataSourceId": "crm", "attributes": mapping()}], "rules": two_rules()}));
    assert_eq!(unified.counts.unified_profile_count, 6, "nobody matched");

    // A rule of two conditions needs both: one empty condition is no match.
    let f = Fixture::new();
    f.source(
        "crm",
        &PERSON,
        &[
            person(1, Some("Ann"), Some("ann@example.com"), None),
            person(2, Some("Ann"), Some("ann@example.com"), None),
            person(3, None, Some("bob@example.com"), None),
            person(4, None, Some("bob@example.com"), None),
        ],
    );
    let unified = f.unify(json!({
        "sources": [{"dataSourceId": "crm", "attributes": mapping()}],
        "rules": [{"name": "name and email", "conditions": [
            {"attribute": "Name"}, {"attribute": "Email"}
        ]}]
    }));
    let keys = [("crm", (1..=4).map(Value::Integer).collect())];
    assert_eq!(
        groups(&unified, &keys),
        BTreeSet::from([set(&["crm:1", "crm:2"]), set(&["crm:3"]), set(&["crm:4"])])
    );
}

#[test]
fn each_normalization_decides_a_match_end_to_end() {
    // (rule's normalizations, two values, whether they match, why)
    let table: &[(&[&str], &str, &str, bool, &str)] = &[
        (
            &[],
            "Ann",
            "Ann",
            true,
            "equal text matches without normalizing",
        ),
        (&[], "Ann", "ann", false, "comparison is case-sensitive"),
        (&["lowercase"], "ANN", "ann", true, "lowercase"),
        (&["trim"], " ann ", "ann", true, "trim"),
        (&["trim"], "a nn", "ann", false, "trim keeps inner spaces"),
        (&["noWhitespace"], "a n\tn", "ann", true, "noWhitespace"),
        (&["ascii"], "Zoë Ångström", "Zoe Angstrom", true, "ascii"),
        (
            &["ascii", "lowercase"],
            "ÉLODIE",
            "elodie",
            true,
            "ascii then lowercase",
        ),
        (
            &["ascii"],
            "Søren",
            "Soren",
            false,
            "ø is a letter of its own",
        ),
        (&["digits"], "+1 (555) 010-0", "15550100", true, "digits"),
        (
            &["digits"],
            "no phone",
            "none",
            false,
            "digits of neither is empty",
        ),
        (
            &["lowercase"],
            "ΣΊΣΥΦΟΣ",
            "σίσυφος",
            true,
            "Greek lowercases",
        ),
    ];
    for (steps, a, b, expected, reason) in table {
        let f = Fixture::new();
        let fields = [("id", FieldType::Integer), ("v", FieldType::String)];
        f.source(
            "s",
            &fields,
            &[
                vec![Value::Integer(1), text(a)],
                vec![Value::Integer(2), text(b)],
            ],
        );
        let unified = f.unify(json!({
            "sources": [{"dataSourceId": "s", "attributes": {"V": "v"}}],
            "rules": [{"name": "v", "conditions": [{"attribute": "V", "normalize": steps}]}]
        }));
        let matched = unified.counts.unified_profile_count == 1;
        assert_eq!(matched, *expected, "{reason}: {a:?} vs {b:?}");
    }
}

#[test]
fn merged_values_come_from_sources_in_order_then_by_primary_key() {
    let f = Fixture::new();
    // Stored out of key order: 10 before 2 (and 2 < 10 as numbers, not as text).
    f.source(
        "crm",
        &PERSON,
        &[
            person(
                10,
                Some("Robert"),
                Some("bob@example.com"),
                Some("555-0101"),
            ),
            person(2, None, Some("bob@example.com"), Some("")),
            person(7, Some("Bobby"), Some("bob@example.com"), None),
        ],
    );
    let web = [
        ("key", FieldType::String),
        ("mail", FieldType::String),
        ("tel", FieldType::String),
        ("city", FieldType::String),
    ];
    f.source(
        "web",
        &web,
        &[vec![
            text("w1"),
            text("bob@example.com"),
            text("555-0999"),
            text("Oslo"),
        ]],
    );
    let unified = f.unify(json!({
        "sources": [
            {"dataSourceId": "crm", "attributes": mapping()},
            {"dataSourceId": "web", "attributes": {"Email": "mail", "Phone": "tel", "City": "city"}}
        ],
        "rules": two_rules()
    }));
    assert_eq!(unified.counts.unified_profile_count, 1);
    let customers = f.customers();
    let (id, customer) = customers.iter().next().expect("one customer");
    assert_eq!(
        customer,
        &json!({
            "CustomerId": id,
            "Name": "Bobby",
            "Email": "bob@example.com",
            "Phone": "555-0101",
            "City": "Oslo"
        }),
        "Name: crm:2 has none, crm:7 is next by key; Phone: crm:2's is empty, crm:7 has none, \
         so crm:10's; City only web maps"
    );
}

#[test]
fn attribute_types_follow_the_mapped_fields() {
    let f = Fixture::new();
    f.source(
        "a",
        &[
            ("id", FieldType::Integer),
            ("n", FieldType::Integer),
            ("code", FieldType::Integer),
            ("when", FieldType::Datetime),
        ],
        &[vec![
            Value::Integer(1),
            Value::Integer(3),
            Value::Integer(7),
            Value::Null,
        ]],
    );
    f.source(
        "b",
        &[
            ("id", FieldType::Integer),
            ("n", FieldType::Number),
            ("code", FieldType::String),
        ],
        &[vec![
            Value::Integer(1),
            Value::Number(Finite::new(2.5).expect("finite")),
            text("X7"),
        ]],
    );
    f.unify(json!({
        "sources": [
            {"dataSourceId": "a", "attributes": {"N": "n", "Code": "code", "When": "when"}},
            {"dataSourceId": "b", "attributes": {"N": "n", "Code": "code"}}
        ],
        "rules": [{"name": "code", "conditions": [{"attribute": "Code"}]}]
    }));
    let entity = f
        .store
        .entity(f.instance, &customer_entity())
        .expect("read")
        .expect("written");
    let types: Vec<(String, FieldType)> = entity
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name.clone(), f.ty))
        .collect();
    assert_eq!(
        types,
        [
            ("CustomerId".to_owned(), FieldType::String),
            ("N".to_owned(), FieldType::Number),
            ("Code".to_owned(), FieldType::String),
            ("When".to_owned(), FieldType::Datetime),
        ]
    );
    let values: Vec<serde_json::Value> = f.customers().into_values().collect();
    let mut codes: Vec<_> = values.iter().map(|c| c["Code"].clone()).collect();
    codes.sort_by_key(|c| c.to_string());
    assert_eq!(
        codes,
        [json!("7"), json!("X7")],
        "an integer reads as its text"
    );
}

#[test]
fn customer_ids_are_the_smallest_member_hash_and_repeat_on_the_same_data() {
    let f = Fixture::new();
    let rows = [
        person(1, None, Some("ann@example.com"), None),
        person(2, None, Some("ann@example.com"), None),
        person(3, None, Some("bob@example.com"), None),
    ];
    f.source("crm", &PERSON, &rows);
    let definition = json!({"sources": [{"dataSourceId": "crm", "attributes": mapping()}], "rules": two_rules()});
    let first = f.unify(definition.clone());
    let hash = |key: &str| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("crm\0{key}").as_bytes());
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ann = first
        .index
        .customer_of(&name("crm"), Value::Integer(2).as_ref())
        .expect("a profile")
        .to_string();
    assert_eq!(ann, hash("1").min(hash("2")));
    assert_eq!(ann.len(), 32);
    let bob = first
        .index
        .customer_of(&name("crm"), Value::Integer(3).as_ref())
        .expect("a profile")
        .to_string();
    assert_eq!(bob, hash("3"));
    let ids: BTreeSet<String> = f.customers().into_keys().collect();
    assert_eq!(ids, BTreeSet::from([ann.clone(), bob.clone()]));

    let again = f.unify(definition);
    let ids_again: BTreeSet<String> = f.customers().into_keys().collect();
    assert_eq!(ids_again, ids, "same data, same ids");
    assert_eq!(again.counts, first.counts);
}

#[test]
fn activity_items_get_the_customer_id_of_the_record_they_name() {
    let f = Fixture::new();
    f.source(
        "crm",
        &PERSON,
        &[
            person(1, None, Some("ann@example.com"), None),
            person(2, None, Some("ann@example.com"), None),
            person(3, None, Some("bob@example.com"), None),
        ],
    );
    let orders = [
        ("order", FieldType::String),
        ("customer", FieldType::String),
        ("amount", FieldType::Integer),
    ];
    f.source(
        "orders",
        &orders,
        &[
            vec![text("o1"), text("1"), Value::Integer(5)],
            vec![text("o2"), text("2"), Value::Integer(6)],
            vec![text("o3"), text("3"), Value::Integer(7)],
            vec![text("o4"), text("99"), Value::Integer(8)],
            vec![text("o5"), Value::Null, Value::Integer(9)],
        ],
    );
    let definition = json!({"sources": [{"dataSourceId": "crm", "attributes": mapping()}], "rules": two_rules()});
    let unified = f.unify(definition.clone());
    let link = ActivityLink {
        customer_source: name("crm"),
        field: "customer".to_owned(),
    };
    let linked = link_activity(&f.store, f.instance, &name("orders"), &link, &unified.index)
        .expect("linked");
    let ann = unified
        .index
        .customer_of(&name("crm"), Value::Integer(1).as_ref())
        .expect("ann")
        .to_string();
    let bob = unified
        .index
        .customer_of(&name("crm"), Value::Integer(3).as_ref())
        .expect("bob")
        .to_string();
    let read = |entity: &crate::engine::items::Entity| {
        let mut out = Vec::new();
        entity
            .scan(None, |row| {
                out.push(serde_json::Value::Object(entity.render(row, None)))
            })
            .expect("scan");
        out
    };
    assert_eq!(
        read(&linked),
        [
            json!({"order": "o1", "customer": "1", "amount": 5, "CustomerId": ann}),
            json!({"order": "o2", "customer": "2", "amount": 6, "CustomerId": ann}),
            json!({"order": "o3", "customer": "3", "amount": 7, "CustomerId": bob}),
            json!({"order": "o4", "customer": "99", "amount": 8, "CustomerId": null}),
            json!({"order": "o5", "customer": null, "amount": 9, "CustomerId": null}),
        ],
        "the text \"1\" names the integer key 1; unknown and null customers are null"
    );
    assert_eq!(
        linked
            .lookup(CUSTOMER_ID, &text(&ann))
            .expect("CustomerId is indexed")
            .len(),
        2
    );

    // Linking again replaces the column instead of adding one.
    let unified = f.unify(definition);
    let again = link_activity(&f.store, f.instance, &name("orders"), &link, &unified.index)
        .expect("linked");
    assert_eq!(again.schema().len(), 4);
    assert_eq!(read(&again), read(&linked));
}

#[test]
fn linking_refuses_a_customer_source_outside_the_unification_or_an_unknown_field() {
    let f = Fixture::new();
    f.source("crm", &PERSON, &[person(1, None, None, None)]);
    f.source(
        "orders",
        &[
            ("order", FieldType::String),
            ("customer", FieldType::Integer),
        ],
        &[vec![text("o1"), Value::Integer(1)]],
    );
    let unified = f.unify(json!({"sources": [{"dataSourceId": "crm", "attributes": mapping()}], "rules": two_rules()}));
    let cases = [
        (
            "erp",
            "customer",
            "customer_source_not_unified",
            "erp is not unified",
        ),
        (
            "crm",
            "client",
            "unknown_field",
            "orders has no field client",
        ),
        (
            "crm",
            "CustomerId",
            "unknown_field",
            "CustomerId is the engine's",
        ),
    ];
    for (source, field, code, reason) in cases {
        let link = ActivityLink {
            customer_source: name(source),
            field: field.to_owned(),
        };
        let error = link_activity(&f.store, f.instance, &name("orders"), &link, &unified.index)
            .err()
            .unwrap_or_else(|| panic!("{reason}: accepted"));
        assert_eq!(error.code(), code, "{reason}");
    }
}

#[test]
fn bad_definitions_are_refused_naming_the_field() {
    let source = json!({"dataSourceId": "crm", "attributes": {"Email": "email"}});
    let rule = json!({"name": "email", "conditions": [{"attribute": "Email"}]});
    let table = [
        (
            json!({"sources": [], "rules": [rule]}),
            "sources: at least one source is needed",
            "no sources",
        ),
        (
            json!({"sources": [source], "rules": []}),
            "rules: at least one rule is needed",
            "no rules",
        ),
        (
            json!({"sources": [source, source], "rules": [rule]}),
            "sources[1].dataSourceId: data source \"crm\" is already sources[0]",
            "a source twice",
        ),
        (
            json!({"sources": [{"dataSourceId": "Customer", "attributes": {"E": "e"}}], "rules": [rule]}),
            "sources[0].dataSourceId: \"Customer\" is the unified entity, not a data source",
            "Customer is no source",
        ),
        (
            json!({"sources": [{"dataSourceId": "a/b", "attributes": {"E": "e"}}], "rules": [rule]}),
            "sources[0].dataSourceId: not a valid data source id: an entity name may not contain '/' or control characters",
            "a bad id",
        ),
        (
            json!({"sources": [{"dataSourceId": "crm", "attributes": {}}], "rules": [rule]}),
            "sources[0].attributes: a source maps at least one attribute",
            "nothing mapped",
        ),
        (
            json!({"sources": [{"dataSourceId": "crm", "attributes": {"CustomerId": "id"}}], "rules": [rule]}),
            "sources[0].attributes.CustomerId: \"CustomerId\" is the engine's identifier of a customer and cannot be mapped",
            "CustomerId is reserved",
        ),
        (
            json!({"sources": [{"dataSourceId": "crm", "attributes": {"Email": ""}}], "rules": [rule]}),
            "sources[0].attributes.Email: the source field name is empty",
            "an empty field",
        ),
        (
            json!({"sources": [{"dataSourceId": "crm", "attributes": {"": "email"}}], "rules": [rule]}),
            "sources[0].attributes.: a unified attribute needs a name",
            "an empty attribute",
        ),
        (
            json!({"sources": [source], "rules": [{"name": " ", "conditions": [{"attribute": "Email"}]}]}),
            "rules[0].name: a rule needs a name",
            "an unnamed rule",
        ),
        (
            json!({"sources": [source], "rules": [{"name": "r", "conditions": []}]}),
            "rules[0].conditions: a rule needs at least one condition",
            "a rule without conditions",
        ),
        (
            json!({"sources": [source], "rules": [rule, {"name": "r", "conditions": [{"attribute": "Email"}, {"attribute": "Phone"}]}]}),
            "rules[1].conditions[1].attribute: \"Phone\" is not an attribute that any source maps",
            "an unmapped attribute",
        ),
        (
            json!({"sources": [source], "rules": [{"name": "r", "conditions": [{"attribute": "Email", "normalize": ["trim", "upper"]}]}]}),
            "rules[0].conditions[0].normalize[1]: unknown normalization \"upper\"; expected trim, lowercase, ascii, digits or noWhitespace",
            "an unknown normalization",
        ),
    ];
    for (definition, message, reason) in table {
        let definition: UnificationDefinition =
            serde_json::from_value(definition).unwrap_or_else(|e| panic!("{reason}: shape: {e}"));
        let error = Unification::parse(&definition)
            .err()
            .unwrap_or_else(|| panic!("{reason}: accepted"));
        assert_eq!(error.to_string(), message, "{reason}");
    }
}

#[test]
fn an_attribute_mapped_twice_in_one_source_is_a_shape_error() {
    let body = r#"{"sources": [{"dataSourceId": "crm", "attributes": {"E": "a", "E": "b"}}], "rules": []}"#;
    let error = serde_json::from_str::<UnificationDefinition>(body)
        .err()
        .map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("the attribute \"E\" is mapped twice")),
        "{error:?}"
    );
}

#[test]
fn definitions_round_trip_in_the_order_written() {
    let body = json!({
        "sources": [{"dataSourceId": "crm", "attributes": {"Zip": "zip", "Email": "email"}}],
        "rules": [{"name": "r", "conditions": [{"attribute": "Email", "normalize": ["trim"]}]}]
    });
    let definition: UnificationDefinition = serde_json::from_value(body.clone()).expect("shape");
    assert_eq!(serde_json::to_value(&definition).expect("json"), body);
    let unification = Unification::parse(&definition).expect("valid");
    assert_eq!(unification.attributes(), ["Zip", "Email"]);
}

#[test]
fn sources_are_checked_against_their_schemas() {
    let definition: UnificationDefinition = serde_json::from_value(json!({
        "sources": [
            {"dataSourceId": "web", "attributes": {"Email": "email"}},
            {"dataSourceId": "crm", "attributes": {"Email": "mail"}},
            {"dataSourceId": "new", "attributes": {"Email": "x"}}
        ],
        "rules": [{"name": "r", "conditions": [{"attribute": "Email"}]}]
    }))
    .expect("shape");
    let unification = Unification::parse(&definition).expect("valid");
    let schema = Schema::new(
        vec![
            Field::new("id", FieldType::Integer),
            Field::new("email", FieldType::String),
        ],
        "id",
    )
    .expect("schema");
    let known = |source: &EntityName| match source.as_str() {
        "web" | "crm" => KnownSource::Items(&schema),
        "new" => KnownSource::NoItems,
        _ => KnownSource::Undefined,
    };
    let error = unification
        .check_sources(known)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("sources[1].attributes.Email: no field \"mail\" in data source \"crm\"")
    );
    let error = unification
        .check_sources(|_| KnownSource::Undefined)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("sources[0].dataSourceId: no data source \"web\"")
    );
    assert_eq!(unification.check_sources(|_| KnownSource::NoItems), Ok(()));

    // Running it checks the same, and a source never refreshed is named.
    let f = Fixture::new();
    let error = unify(&f.store, f.instance, &unification)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "The unification is not valid: sources[0].dataSourceId: data source \"web\" has no items yet; refresh it first."
        )
    );
}
