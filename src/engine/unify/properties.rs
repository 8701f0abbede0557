//! Properties of unification: the groups are those of comparing every pair, they and their
//! ids ignore row order, and a record that matches nobody changes no existing id.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::json;

use super::Unified;
use super::tests::{Fixture, PERSON, mapping, name, text, two_rules};
use crate::engine::value::Value;

/// A record for the properties: a small pool of emails and phones, so that groups form.
fn record() -> impl Strategy<Value = (Option<u8>, Option<u8>)> {
    (proptest::option::of(0u8..12), proptest::option::of(0u8..12))
}

fn write_records(f: &Fixture, source: &str, records: &[(i64, Option<u8>, Option<u8>)]) {
    let rows: Vec<Vec<Value>> = records
        .iter()
        .map(|(id, email, phone)| {
            vec![
                Value::Integer(*id),
                Value::Null,
                email.map_or(Value::Null, |e| text(&format!("P{e}@example.com"))),
                phone.map_or(Value::Null, |p| text(&format!("555-01{p:02}"))),
            ]
        })
        .collect();
    f.source(source, &PERSON, &rows);
}

fn two_sources() -> serde_json::Value {
    json!({
        "sources": [
            {"dataSourceId": "a", "attributes": mapping()},
            {"dataSourceId": "b", "attributes": mapping()}
        ],
        "rules": two_rules()
    })
}

/// (source, key) to CustomerId, for every record.
fn ids_of(
    unified: &Unified,
    a: &[(i64, Option<u8>, Option<u8>)],
    b: &[(i64, Option<u8>, Option<u8>)],
) -> BTreeMap<(String, i64), String> {
    let mut out = BTreeMap::new();
    for (source, records) in [("a", a), ("b", b)] {
        for (id, _, _) in records {
            let customer = unified
                .index
                .customer_of(&name(source), Value::Integer(*id).as_ref())
                .expect("a profile");
            out.insert((source.to_owned(), *id), customer.to_string());
        }
    }
    out
}

/// The groups by comparing every pair: what the buckets must find.
fn reference_groups(
    a: &[(i64, Option<u8>, Option<u8>)],
    b: &[(i64, Option<u8>, Option<u8>)],
) -> BTreeSet<BTreeSet<(String, i64)>> {
    let all: Vec<(String, i64, Option<u8>, Option<u8>)> = a
        .iter()
        .map(|r| ("a".to_owned(), r.0, r.1, r.2))
        .chain(b.iter().map(|r| ("b".to_owned(), r.0, r.1, r.2)))
        .collect();
    let mut group: Vec<usize> = (0..all.len()).collect();
    loop {
        let mut changed = false;
        for i in 0..all.len() {
            for j in 0..all.len() {
                let linked = (all[i].2.is_some() && all[i].2 == all[j].2)
                    || (all[i].3.is_some() && all[i].3 == all[j].3);
                if linked && group[i] != group[j] {
                    let low = group[i].min(group[j]);
                    group[i] = low;
                    group[j] = low;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut sets: BTreeMap<usize, BTreeSet<(String, i64)>> = BTreeMap::new();
    for (n, r) in all.iter().enumerate() {
        sets.entry(group[n]).or_default().insert((r.0.clone(), r.1));
    }
    sets.into_values().collect()
}

fn numbered(records: Vec<(Option<u8>, Option<u8>)>) -> Vec<(i64, Option<u8>, Option<u8>)> {
    records
        .into_iter()
        .enumerate()
        .map(|(n, (e, p))| (n as i64, e, p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn groups_equal_pairwise_matching_and_ignore_row_order(
        a in proptest::collection::vec(record(), 0..30).prop_map(numbered),
        b in proptest::collection::vec(record(), 1..30).prop_map(numbered),
        seed in any::<u64>(),
    ) {
        let f = Fixture::new();
        write_records(&f, "a", &a);
        write_records(&f, "b", &b);
        let unified = f.unify(two_sources());
        let ids = ids_of(&unified, &a, &b);
        let mut found: BTreeMap<&String, BTreeSet<(String, i64)>> = BTreeMap::new();
        for (member, id) in &ids {
            found.entry(id).or_default().insert(member.clone());
        }
        let found: BTreeSet<_> = found.into_values().collect();
        prop_assert_eq!(&found, &reference_groups(&a, &b));

        // The same records in another order.
        let shuffle = |records: &[(i64, Option<u8>, Option<u8>)], salt: u64| {
            let mut out = records.to_vec();
            out.sort_by_key(|r| crate::engine::hash::hash64(&(r.0 as u64 ^ seed ^ salt).to_le_bytes()));
            out
        };
        let g = Fixture::new();
        write_records(&g, "a", &shuffle(&a, 1));
        write_records(&g, "b", &shuffle(&b, 2));
        let shuffled = g.unify(two_sources());
        prop_assert_eq!(ids_of(&shuffled, &a, &b), ids);
        prop_assert_eq!(g.customers(), f.customers());
    }

    #[test]
    fn an_unrelated_record_changes_no_existing_id(
        a in proptest::collection::vec(record(), 0..30).prop_map(numbered),
        b in proptest::collection::vec(record(), 1..30).prop_map(numbered),
        at in any::<prop::sample::Index>(),
    ) {
        let f = Fixture::new();
        write_records(&f, "a", &a);
        write_records(&f, "b", &b);
        let before = ids_of(&f.unify(two_sources()), &a, &b);

        // Emails and phones outside the pools: it matches nobody.
        let mut grown = b.clone();
        let unrelated = (1000, Some(200), Some(201));
        grown.insert(at.index(grown.len() + 1), unrelated);
        let g = Fixture::new();
        write_records(&g, "a", &a);
        write_records(&g, "b", &grown);
        let unified = g.unify(two_sources());
        let after = ids_of(&unified, &a, &grown);
        let newcomer = after.get(&("b".to_owned(), 1000)).cloned();
        for (member, id) in &before {
            prop_assert_eq!(after.get(member), Some(id));
        }
        prop_assert!(newcomer.is_some_and(|id| !before.values().any(|v| *v == id)));
        prop_assert_eq!(
            unified.counts.unified_profile_count,
            before.values().collect::<BTreeSet<_>>().len() as u64 + 1
        );
    }
}
