//! The full refresh through the API: data sources, unification, measures and segments computed
//! end to end and checked against a reference computed here from the same rows; the events
//! they fire (thresholds from computed values, with the first computation only setting the
//! baseline); a failing data source; segment members paged like items.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::engine::{define, items, upload};
use crate::helpers::{Receiver, TestApp, spawn_app};

pub const CRM: &str = "ContactId,Name,Email,Phone\r\n\
1,Ada,ada@example.com,+47 111\r\n\
2,Bob,BOB@example.com ,222\r\n\
3,Cleo,,333\r\n\
4,Dan,dan@example.com,\r\n";

pub const SHOP: &str = "CustomerNo,Email,Phone,City\r\n\
a,Ada@Example.com,,Oslo\r\n\
b,bob@example.com,,Rome\r\n\
c,,(333),Paris\r\n\
d,eve@example.com,555,Oslo\r\n";

pub const ORDERS: &str = "OrderId,ContactId,Total\r\n\
o1,1,10\r\n\
o2,1,20.5\r\n\
o3,2,5\r\n\
o4,9,100\r\n";

/// More orders: Bob orders again and revenue passes 200.
const MORE_ORDERS: &str = "OrderId,ContactId,Total\r\n\
o1,1,10\r\n\
o2,1,20.5\r\n\
o3,2,5\r\n\
o4,9,100\r\n\
o5,2,70\r\n\
o6,3,94.5\r\n";

/// Defines the three data sources (uploads), the unification, two customer measures, two
/// business measures and two segments, and uploads the rows.
pub async fn retail(app: &TestApp, instance: &str) {
    for (id, key, customer) in [
        ("crm", "ContactId", None),
        ("shop", "CustomerNo", None),
        (
            "orders",
            "OrderId",
            Some(json!({"dataSourceId": "crm", "field": "ContactId"})),
        ),
    ] {
        let mut body =
            json!({"name": id, "format": "csv", "primaryKey": key, "source": {"kind": "upload"}});
        if let Some(customer) = customer {
            body["customer"] = customer;
        }
        let response = define(app, instance, id, body).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    upload(app, instance, "crm", "text/csv", CRM).await;
    upload(app, instance, "shop", "text/csv", SHOP).await;
    upload(app, instance, "orders", "text/csv", ORDERS).await;
    let unification = json!({
        "sources": [
            {"dataSourceId": "crm", "attributes": {"CrmId": "ContactId", "Name": "Name", "Email": "Email", "Phone": "Phone"}},
            {"dataSourceId": "shop", "attributes": {"Email": "Email", "Phone": "Phone", "City": "City"}},
        ],
        "rules": [
            {"name": "email", "conditions": [{"attribute": "Email", "normalize": ["trim", "lowercase"]}]},
            {"name": "phone", "conditions": [{"attribute": "Phone", "normalize": ["digits"]}]},
        ],
    });
    put_ok(
        app,
        &format!("/api/v1/instances/{instance}/unification"),
        &unification,
    )
    .await;
    for (id, body) in [
        (
            "order_count",
            json!({"name": "Orders", "entity": "orders", "aggregate": "count", "per": "customer", "attribute": "OrderCount"}),
        ),
        (
            "spend",
            json!({"name": "Spend", "entity": "orders", "aggregate": "sum", "field": "Total", "per": "customer", "attribute": "Spend"}),
        ),
        (
            "revenue",
            json!({"name": "Revenue", "entity": "orders", "aggregate": "sum", "field": "Total"}),
        ),
        (
            "big_orders",
            json!({"name": "Big orders", "entity": "orders", "aggregate": "count", "filter": "Total gt 8"}),
        ),
    ] {
        put_ok(
            app,
            &format!("/api/v1/instances/{instance}/measures/{id}"),
            &body,
        )
        .await;
    }
    for (id, body) in [
        (
            "repeat",
            json!({"name": "Repeat buyers", "filter": "OrderCount gt 1"}),
        ),
        ("oslo", json!({"name": "Oslo", "filter": "City eq 'Oslo'"})),
    ] {
        put_ok(
            app,
            &format!("/api/v1/instances/{instance}/segments/{id}"),
            &body,
        )
        .await;
    }
}

/// A PUT that must answer 201 (new).
pub async fn put_ok(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app.put(path, body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{path}: {answer}");
    answer
}

/// Starts a full refresh, waits for its end (and its deliveries), answers the refresh.
pub async fn full_refresh(app: &TestApp, instance: &str) -> Value {
    let response = app
        .post(&format!("/api/v1/instances/{instance}/refresh"), &json!({}))
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    let id = body["refreshId"].as_str().unwrap().to_owned();
    assert!(location.unwrap().ends_with(&format!("/refreshes/{id}")));
    app.finish_refresh(instance, &id).await
}

/// Parses CSV rows of the simple kind above (no quotes) into maps by header.
fn rows(csv: &str) -> Vec<HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(h, v)| ((*h).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// What the measures should be, from the orders' rows: per crm contact, its order count and
/// spend; the revenue; the orders above 8.
struct Reference {
    per_contact: BTreeMap<i64, (u64, f64)>,
    revenue: f64,
    big_orders: u64,
}

fn reference(orders: &str) -> Reference {
    let mut per_contact: BTreeMap<i64, (u64, f64)> = BTreeMap::new();
    let (mut revenue, mut big_orders) = (0.0, 0);
    for row in rows(orders) {
        let total: f64 = row["Total"].parse().unwrap();
        revenue += total;
        if total > 8.0 {
            big_orders += 1;
        }
        let contact: i64 = row["ContactId"].parse().unwrap();
        let entry = per_contact.entry(contact).or_default();
        entry.0 += 1;
        entry.1 += total;
    }
    Reference {
        per_contact,
        revenue,
        big_orders,
    }
}

async fn all_items(app: &TestApp, instance: &str, entity: &str) -> Vec<Value> {
    items(app, instance, entity, "$top=1000")
        .await
        .get("value")
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn catalog_value(app: &TestApp, instance: &str, path: &str, field: &str) -> Value {
    let body: Value = app
        .get(&format!("/api/v1/instances/{instance}/{path}"))
        .await
        .json()
        .await
        .unwrap();
    body[field].clone()
}

/// The next `n` callbacks, by event type (several of a type in arrival order).
async fn callbacks(receiver: &mut Receiver, n: usize) -> BTreeMap<String, Vec<Value>> {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for _ in 0..n {
        let body = receiver.next().await.body;
        by_type
            .entry(body["eventType"].as_str().unwrap().to_owned())
            .or_default()
            .push(body);
    }
    by_type
}

#[tokio::test]
async fn a_full_refresh_computes_profiles_measures_and_segments_that_match_a_reference() {
    let app = spawn_app().await;
    let instance = app.create_instance("retail").await;
    retail(&app, &instance).await;
    let mut receiver = Receiver::start().await;
    for trigger in [
        "unification-completed",
        "full-refresh-completed",
        "data-source-refresh-succeeded",
    ] {
        app.subscribe(
            &instance,
            trigger,
            &json!({"notificationUrl": receiver.callback(trigger)}),
        )
        .await;
    }

    let done = full_refresh(&app, &instance).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["kind"], "fullRefresh");
    assert_eq!(done["initiatedBy"], "manual");

    // Unification: five customers from eight records. Ada's records match by email after
    // trim and lowercase, Cleo's by phone digits; Dan and Eve stand alone.
    let customers = all_items(&app, &instance, "Customer").await;
    assert_eq!(customers.len(), 5, "{customers:?}");
    let by_email: HashMap<String, &Value> = customers
        .iter()
        .filter_map(|c| Some((c["Email"].as_str()?.to_owned(), c)))
        .collect();
    let ada = by_email["ada@example.com"];
    assert_eq!(
        (&ada["CrmId"], &ada["Name"], &ada["City"]),
        (&json!(1), &json!("Ada"), &json!("Oslo")),
        "merged from both sources, crm first"
    );
    let cleo = customers.iter().find(|c| c["Name"] == "Cleo").unwrap();
    assert_eq!(cleo["City"], "Paris", "matched by phone digits");
    assert!(by_email["eve@example.com"]["CrmId"].is_null());

    // Customer measures against the reference, per crm contact.
    let expected = reference(ORDERS);
    for customer in &customers {
        let (count, spend) = customer["CrmId"]
            .as_i64()
            .and_then(|id| expected.per_contact.get(&id).copied())
            .unwrap_or((0, 0.0));
        assert_eq!(customer["OrderCount"], json!(count), "{customer}");
        assert_eq!(
            customer["Spend"].as_f64().unwrap_or(0.0),
            spend,
            "{customer}"
        );
    }
    // Orders name their profile; an order of an unknown contact names none.
    let orders = all_items(&app, &instance, "orders").await;
    for order in &orders {
        let owner = customers
            .iter()
            .find(|c| c["CrmId"] == order["ContactId"])
            .map(|c| c["CustomerId"].clone())
            .unwrap_or(Value::Null);
        assert_eq!(order["CustomerId"], owner, "{order}");
    }

    // Business measures and segments in the catalog.
    assert_eq!(
        catalog_value(&app, &instance, "measures/revenue", "value").await,
        json!(expected.revenue)
    );
    assert_eq!(
        catalog_value(&app, &instance, "measures/big_orders", "value").await,
        json!(expected.big_orders as f64)
    );
    let repeat = customers
        .iter()
        .filter(|c| c["OrderCount"].as_u64().unwrap_or(0) > 1)
        .count();
    let oslo = customers.iter().filter(|c| c["City"] == "Oslo").count();
    assert_eq!(
        catalog_value(&app, &instance, "segments/repeat", "memberCount").await,
        json!(repeat)
    );
    assert_eq!(
        catalog_value(&app, &instance, "segments/oslo", "memberCount").await,
        json!(oslo)
    );

    // The events: three data source refreshes, unification, then the full refresh.
    let events = callbacks(&mut receiver, 5).await;
    assert_eq!(events["DataSourceRefreshSucceeded"].len(), 3);
    let unified = &events["UnificationCompleted"][0];
    assert_eq!(
        (
            &unified["sourceRecordCount"],
            &unified["unifiedProfileCount"],
            &unified["status"]
        ),
        (&json!(8), &json!(5), &json!("succeeded"))
    );
    let full = &events["FullRefreshCompleted"][0];
    assert_eq!(full["runId"], done["id"]);
    for (field, value) in [
        ("status", json!("succeeded")),
        ("dataSourceCount", json!(3)),
        ("failedDataSourceCount", json!(0)),
        ("segmentCount", json!(2)),
        ("measureCount", json!(4)),
        ("initiatedBy", json!("manual")),
    ] {
        assert_eq!(full[field], value, "{field}");
    }
    app.expect_no_more_callbacks(&mut receiver).await;

    // Every data source stage is listed as a refresh of its own, newest first.
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/refreshes"))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["dataSource", "dataSource", "dataSource", "fullRefresh"]
    );
}

#[tokio::test]
async fn computed_values_cross_thresholds_only_after_the_first_computation_set_the_baseline() {
    let app = spawn_app().await;
    let instance = app.create_instance("retail").await;
    retail(&app, &instance).await;
    let mut receiver = Receiver::start().await;
    // Subscribed before any value is known: the first computation only sets the baseline.
    app.subscribe(
        &instance,
        "measure-threshold-crossed",
        &json!({"measureId": "revenue", "threshold": 200, "notificationUrl": receiver.callback("revenue")}),
    )
    .await;
    app.subscribe(
        &instance,
        "segment-threshold-crossed",
        &json!({"segmentId": "repeat", "threshold": 1, "notificationUrl": receiver.callback("repeat")}),
    )
    .await;
    assert_eq!(full_refresh(&app, &instance).await["status"], "succeeded");
    app.expect_no_more_callbacks(&mut receiver).await;

    // The same data again: nothing moves, nothing fires.
    assert_eq!(full_refresh(&app, &instance).await["status"], "succeeded");
    app.expect_no_more_callbacks(&mut receiver).await;

    // New orders: revenue rises past 200 and Bob becomes a repeat buyer.
    upload(&app, &instance, "orders", "text/csv", MORE_ORDERS).await;
    assert_eq!(full_refresh(&app, &instance).await["status"], "succeeded");
    let before = reference(ORDERS);
    let after = reference(MORE_ORDERS);
    let events = callbacks(&mut receiver, 2).await;
    let measure = &events["MeasureThresholdCrossed"][0];
    assert_eq!(
        (
            &measure["measureId"],
            &measure["measureName"],
            &measure["threshold"]
        ),
        (&json!("revenue"), &json!("Revenue"), &json!(200.0))
    );
    assert_eq!(measure["previousValue"], json!(before.revenue));
    assert_eq!(measure["value"], json!(after.revenue));
    let segment = &events["SegmentThresholdCrossed"][0];
    assert_eq!(segment["segmentId"], "repeat");
    let repeat = |r: &Reference| r.per_contact.values().filter(|(n, _)| *n > 1).count();
    // Ada was a repeat buyer from the start; Bob joins her: 1 to 2 crosses the threshold 1.
    assert_eq!(segment["previousMemberCount"], json!(repeat(&before)));
    assert_eq!(segment["memberCount"], json!(repeat(&after)));
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn a_failing_data_source_keeps_its_items_and_the_run_goes_on_as_failed() {
    let app = spawn_app().await;
    let instance = app.create_instance("retail").await;
    retail(&app, &instance).await;
    assert_eq!(full_refresh(&app, &instance).await["status"], "succeeded");
    let customers_before = all_items(&app, &instance, "Customer").await;
    let mut receiver = Receiver::start().await;
    for trigger in ["full-refresh-completed", "data-source-refresh-failed"] {
        app.subscribe(
            &instance,
            trigger,
            &json!({"notificationUrl": receiver.callback(trigger)}),
        )
        .await;
    }

    // The shop's new upload has a ragged row; orders change.
    upload(
        &app,
        &instance,
        "shop",
        "text/csv",
        "CustomerNo,Email,Phone,City\r\nx,x@example.com\r\n",
    )
    .await;
    upload(&app, &instance, "orders", "text/csv", MORE_ORDERS).await;
    let done = full_refresh(&app, &instance).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["errorCode"], "data_source_failed");
    let message = done["errorMessage"].as_str().unwrap();
    assert!(message.contains("\"shop\""), "{message}");

    // The shop's previous items were used: the same profiles, with their cities.
    assert_eq!(all_items(&app, &instance, "shop").await.len(), 4);
    let customers = all_items(&app, &instance, "Customer").await;
    let ids = |list: &[Value]| -> Vec<Value> {
        let mut ids: Vec<Value> = list.iter().map(|c| c["CustomerId"].clone()).collect();
        ids.sort_by_key(|v| v.to_string());
        ids
    };
    assert_eq!(ids(&customers), ids(&customers_before), "the same profiles");
    assert!(customers.iter().any(|c| c["City"] == "Rome"));
    // The other stages ran on the new orders.
    assert_eq!(
        catalog_value(&app, &instance, "measures/revenue", "value").await,
        json!(reference(MORE_ORDERS).revenue)
    );

    let events = callbacks(&mut receiver, 2).await;
    assert_eq!(events["DataSourceRefreshFailed"][0]["dataSourceId"], "shop");
    let full = &events["FullRefreshCompleted"][0];
    for (field, value) in [
        ("status", json!("failed")),
        ("dataSourceCount", json!(3)),
        ("failedDataSourceCount", json!(1)),
        ("segmentCount", json!(2)),
        ("measureCount", json!(4)),
    ] {
        assert_eq!(full[field], value, "{field}");
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn a_measure_or_segment_that_cannot_be_computed_fails_alone_with_a_clear_message() {
    let app = spawn_app().await;
    let instance = app.create_instance("retail").await;
    retail(&app, &instance).await;
    upload(
        &app,
        &instance,
        "orders",
        "text/csv",
        "OrderId,ContactId,Total,Coupon\r\no1,1,10,SPRING\r\no2,2,5,\r\n",
    )
    .await;
    assert_eq!(full_refresh(&app, &instance).await["status"], "succeeded");
    put_ok(
        &app,
        &format!("/api/v1/instances/{instance}/measures/coupons"),
        &json!({"name": "Coupons", "entity": "orders", "aggregate": "count", "filter": "Coupon ne null"}),
    )
    .await;
    put_ok(
        &app,
        &format!("/api/v1/instances/{instance}/segments/nobody"),
        &json!({"name": "Nobody", "filter": "Loyalty gt 3"}),
    )
    .await;

    // The next orders have no Coupon column: that measure fails, the others run.
    upload(&app, &instance, "orders", "text/csv", ORDERS).await;
    let done = full_refresh(&app, &instance).await;
    assert_eq!(done["status"], "failed", "{done}");
    let message = done["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("Measure \"coupons\"") && message.contains("Coupon"),
        "{message}"
    );
    assert!(
        message.contains("Segment \"nobody\"") && message.contains("Loyalty"),
        "{message}"
    );
    assert_eq!(
        catalog_value(&app, &instance, "measures/revenue", "value").await,
        json!(reference(ORDERS).revenue)
    );
    assert!(
        catalog_value(&app, &instance, "measures/coupons", "value")
            .await
            .is_null(),
        "never computed"
    );
    assert!(
        catalog_value(&app, &instance, "segments/nobody", "memberCount")
            .await
            .is_null()
    );
    assert_eq!(
        catalog_value(&app, &instance, "segments/oslo", "memberCount").await,
        json!(2)
    );
}

#[tokio::test]
async fn one_full_refresh_runs_at_a_time_and_a_data_source_refresh_waits_for_it() {
    let app = spawn_app().await;
    let instance = app.create_instance("retail").await;
    retail(&app, &instance).await;
    let path = format!("/api/v1/instances/{instance}/refresh");
    let first = app.post(&path, &json!({})).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    // The lock is durable before the answer, so these overlap it unless it already ended.
    let second = app.post(&path, &json!({})).await;
    let one = app
        .post(
            &format!("/api/v1/instances/{instance}/data-sources/crm/refresh"),
            &json!({}),
        )
        .await;
    let done = app
        .finish_refresh(&instance, first["refreshId"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "succeeded");
    for response in [second, one] {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if status == 409 {
            assert_eq!(body["code"], "refresh_in_progress");
        } else {
            // The run ended between the two calls: then the next one starts.
            assert_eq!(status, 202, "{body}");
            app.finish_refresh(&instance, body["refreshId"].as_str().unwrap())
                .await;
        }
    }
}
