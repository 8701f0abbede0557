//! The built-in engine through the API: define a data source, upload its rows, refresh it in the
//! background, and read its entity; refreshes fire the refresh triggers like reported ones.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Receiver, TestApp, spawn_app};

pub const CONTACTS: &str = "ContactId,Name,City,Age,Vip,Joined\r\n\
1,Ada,Oslo,36,true,2024-01-05\r\n\
2,\"Lovelace, Ada\",Bergen,,false,2024-02-01T10:00:00Z\r\n\
3,Grace,Oslo,85,true,2023-12-24\r\n";

/// Defines an upload data source `id` (csv, primary key `ContactId` unless `body` says
/// otherwise) and answers the response.
pub async fn define(app: &TestApp, instance: &str, id: &str, body: Value) -> reqwest::Response {
    app.put(
        &format!("/api/v1/instances/{instance}/data-sources/{id}"),
        &body,
    )
    .await
}

pub fn upload_source(name: &str) -> Value {
    json!({"name": name, "format": "csv", "primaryKey": "ContactId", "source": {"kind": "upload"}})
}

pub async fn upload(app: &TestApp, instance: &str, id: &str, content_type: &str, body: &str) {
    let response = app
        .put_content(
            &format!("/api/v1/instances/{instance}/data-sources/{id}/content"),
            content_type,
            body.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
}

/// Starts a refresh, waits for its end, and answers the finished refresh.
pub async fn refresh(app: &TestApp, instance: &str, id: &str) -> Value {
    let response = app
        .post(
            &format!("/api/v1/instances/{instance}/data-sources/{id}/refresh"),
            &json!({}),
        )
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "running");
    let refresh_id = body["refreshId"].as_str().unwrap();
    assert!(
        location
            .unwrap()
            .ends_with(&format!("/refreshes/{refresh_id}")),
        "the Location is the refresh"
    );
    app.finish_refresh(instance, refresh_id).await
}

pub async fn items(app: &TestApp, instance: &str, entity: &str, query: &str) -> Value {
    let response = app
        .get(&format!(
            "/api/v1/instances/{instance}/entities/{entity}/items?{query}"
        ))
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn ids(page: &Value, key: &str) -> Vec<Value> {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].clone())
        .collect()
}

#[tokio::test]
async fn an_uploaded_source_refreshes_into_typed_items_that_flows_can_read() {
    let app = spawn_app().await;
    let instance = app.create_instance("engine").await;
    let response = define(&app, &instance, "crm", upload_source("CRM contacts")).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("location").is_some());
    let defined: Value = response.json().await.unwrap();
    assert_eq!(defined["source"], json!({"kind": "upload"}));

    // In the catalog at once, without a refresh.
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/data-sources/crm"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["name"], "CRM contacts");
    assert!(listed["lastRefreshId"].is_null());

    upload(&app, &instance, "crm", "text/csv", CONTACTS).await;
    let done = refresh(&app, &instance, "crm").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rowCount"], 3);
    assert_eq!(done["kind"], "dataSource");
    assert_eq!(done["initiatedBy"], "manual");
    assert_eq!(done["dataSourceId"], "crm");
    assert!(done["finishedAt"].is_string());

    let entities: Value = app
        .get(&format!("/api/v1/instances/{instance}/entities"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        entities["value"],
        json!([{
            "name": "crm", "kind": "dataSource", "primaryKey": "ContactId", "itemCount": 3,
            "fields": [
                {"name": "ContactId", "type": "integer"}, {"name": "Name", "type": "string"},
                {"name": "City", "type": "string"}, {"name": "Age", "type": "integer"},
                {"name": "Vip", "type": "boolean"}, {"name": "Joined", "type": "datetime"},
            ],
        }])
    );

    let page = items(&app, &instance, "crm", "").await;
    assert_eq!(
        page["value"][1],
        json!({"ContactId": 2, "Name": "Lovelace, Ada", "City": "Bergen", "Age": null,
               "Vip": false, "Joined": "2024-02-01T10:00:00Z"})
    );
    assert!(page.get("nextLink").is_none());
    let oslo = items(
        &app,
        &instance,
        "crm",
        "$filter=City%20eq%20'Oslo'%20and%20Age%20gt%2040&$select=Name",
    )
    .await;
    assert_eq!(oslo["value"], json!([{"Name": "Grace"}]));
    let ordered = items(&app, &instance, "crm", "$orderby=Age%20desc").await;
    assert_eq!(
        ids(&ordered, "ContactId"),
        [json!(3), json!(1), json!(2)],
        "nulls last"
    );

    let one: Value = app
        .get(&format!(
            "/api/v1/instances/{instance}/entities/crm/items/3"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["Name"], "Grace");
    let missing = app
        .get(&format!(
            "/api/v1/instances/{instance}/entities/crm/items/4"
        ))
        .await;
    assert_eq!(missing.status(), 404);

    let schema: Value = app
        .get(&format!("/api/v1/instances/{instance}/entities/crm/schema"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(schema["schema"]["type"], "object");
    assert_eq!(
        schema["schema"]["properties"]["Age"]["type"], "integer",
        "{schema}"
    );
    assert_eq!(schema["schema"]["properties"]["Joined"]["type"], "string");
    assert_eq!(schema["schema"]["properties"]["Vip"]["x-ms-summary"], "Vip");

    let refreshes: Value = app
        .get(&format!("/api/v1/instances/{instance}/refreshes"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refreshes["value"][0]["id"], done["id"]);

    // The catalog's latest refresh is the engine's.
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/data-sources/crm"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["lastRefreshId"], done["id"]);
    assert_eq!(listed["lastRowCount"], 3);
}

#[tokio::test]
async fn engine_refreshes_fire_the_refresh_triggers_like_reported_ones() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("triggers").await;
    define(&app, &instance, "crm", upload_source("CRM contacts")).await;
    // The defined data source can be subscribed to before any refresh.
    for trigger in [
        "data-source-refresh-succeeded",
        "data-source-refresh-failed",
    ] {
        app.subscribe(
            &instance,
            trigger,
            &json!({"notificationUrl": receiver.callback(trigger), "dataSourceId": "crm"}),
        )
        .await;
    }
    upload(&app, &instance, "crm", "text/csv", CONTACTS).await;
    let done = refresh(&app, &instance, "crm").await;
    let succeeded = receiver.next().await.body;
    assert_eq!(succeeded["eventType"], "DataSourceRefreshSucceeded");
    assert_eq!(succeeded["refreshId"], done["id"]);
    assert_eq!(succeeded["dataSourceName"], "CRM contacts");
    assert_eq!(succeeded["rowCount"], 3);
    assert_eq!(succeeded["startedAt"], done["startedAt"]);

    upload(
        &app,
        &instance,
        "crm",
        "text/csv",
        "ContactId,Name\n1,a\n1,b\n",
    )
    .await;
    let failed = refresh(&app, &instance, "crm").await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errorCode"], "duplicate_primary_key");
    let message = failed["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("Line 3") && message.contains("'1'"),
        "{message}"
    );
    let callback = receiver.next().await.body;
    assert_eq!(callback["eventType"], "DataSourceRefreshFailed");
    assert_eq!(callback["errorCode"], "duplicate_primary_key");
    assert_eq!(callback["errorMessage"], message);
    app.expect_no_more_callbacks(&mut receiver).await;

    // The previous items stay.
    let page = items(&app, &instance, "crm", "").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn paging_with_next_links_answers_every_item_exactly_once() {
    let app = spawn_app().await;
    let instance = app.create_instance("paging").await;
    define(
        &app,
        &instance,
        "orders",
        json!({"name": "Orders", "format": "jsonl", "primaryKey": "OrderId", "source": {"kind": "upload"}}),
    )
    .await;
    // Many ties on Total: the primary key must break them for pages not to overlap.
    let rows: String = (0..257)
        .map(|n| format!("{{\"OrderId\": \"o-{n:03}\", \"Total\": {}}}\n", n % 7))
        .collect();
    upload(&app, &instance, "orders", "application/x-ndjson", &rows).await;
    assert_eq!(refresh(&app, &instance, "orders").await["rowCount"], 257);
    for query in [
        "$top=50",
        "$top=50&$orderby=Total%20desc",
        "$top=13&$orderby=Total&$filter=Total%20ne%203",
    ] {
        let mut seen = Vec::new();
        let mut page = items(&app, &instance, "orders", query).await;
        let mut pages = 1;
        loop {
            seen.extend(ids(&page, "OrderId"));
            let Some(next) = page.get("nextLink").and_then(Value::as_str) else {
                break;
            };
            assert!(next.starts_with(&app.address), "an absolute link: {next}");
            page = app
                .client
                .get(next)
                .bearer_auth(&app.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            pages += 1;
        }
        let unique: HashSet<String> = seen.iter().map(|v| v.to_string()).collect();
        assert_eq!(unique.len(), seen.len(), "{query}: no item twice");
        let expected = if query.contains("ne%203") {
            257 - 37
        } else {
            257
        };
        assert_eq!(seen.len(), expected, "{query}: every item once");
        assert!(pages > 1, "{query}");
    }
    let ordered = items(&app, &instance, "orders", "$top=1000&$orderby=Total%20desc").await;
    let totals: Vec<(i64, String)> = ordered["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                -i["Total"].as_i64().unwrap(),
                i["OrderId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = totals.clone();
    sorted.sort();
    assert_eq!(totals, sorted, "by Total descending, then by primary key");
}

#[tokio::test]
async fn one_refresh_runs_at_a_time_per_instance() {
    let app = spawn_app().await;
    // A source that answers only when the test lets it: the first refresh holds the lock.
    let mut source = Receiver::start_gated().await;
    source.answer_with(&[200]);
    let instance = app.create_instance("lock").await;
    let url = format!("{}/crm.csv", source.url);
    let response = define(
        &app,
        &instance,
        "crm",
        json!({"name": "CRM", "format": "csv", "primaryKey": "ContactId", "source": {"kind": "url", "url": url}}),
    )
    .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    define(&app, &instance, "other", upload_source("Other")).await;
    let path = |id: &str| format!("/api/v1/instances/{instance}/data-sources/{id}/refresh");
    let first: Value = app
        .post(&path("crm"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    source.next().await;
    for id in ["crm", "other"] {
        let second = app.post(&path(id), &json!({})).await;
        assert_eq!(second.status(), 409, "{id}");
        let body: Value = second.json().await.unwrap();
        assert_eq!(body["code"], "refresh_in_progress");
    }
    let running: Value = app
        .get(&format!(
            "/api/v1/instances/{instance}/refreshes/{}",
            first["refreshId"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(running["status"], "running");
    assert!(running.get("finishedAt").is_none());

    // Another instance is not held up.
    let elsewhere = app.create_instance("elsewhere").await;
    define(&app, &elsewhere, "crm", upload_source("CRM")).await;
    upload(&app, &elsewhere, "crm", "text/csv", CONTACTS).await;
    assert_eq!(
        refresh(&app, &elsewhere, "crm").await["status"],
        "succeeded"
    );

    source.open_gate();
    let first = app
        .finish_refresh(&instance, first["refreshId"].as_str().unwrap())
        .await;
    // The receiver answers an empty body: a file without a header row.
    assert_eq!(first["errorCode"], "missing_header", "{first}");
    upload(&app, &instance, "other", "text/csv", CONTACTS).await;
    assert_eq!(
        refresh(&app, &instance, "other").await["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn a_refresh_cut_off_by_a_stop_is_failed_interrupted_after_the_restart() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let mut source = Receiver::start_gated().await;
    let instance = app.create_instance("restart").await;
    let url = format!("{}/crm.csv", source.url);
    define(
        &app,
        &instance,
        "crm",
        json!({"name": "CRM", "format": "csv", "primaryKey": "ContactId", "source": {"kind": "url", "url": url}}),
    )
    .await;
    app.subscribe(
        &instance,
        "data-source-refresh-failed",
        &json!({"notificationUrl": receiver.callback("failed")}),
    )
    .await;
    let started: Value = app
        .post(
            &format!("/api/v1/instances/{instance}/data-sources/crm/refresh"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    source.next().await;
    let dir = app.stop().await;

    let app = crate::helpers::spawn_app_builder()
        .data_dir(dir)
        .spawn()
        .await;
    app.drain().await;
    let refresh_id = started["refreshId"].as_str().unwrap();
    let cut: Value = app
        .get(&format!(
            "/api/v1/instances/{instance}/refreshes/{refresh_id}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cut["status"], "failed");
    assert_eq!(cut["errorCode"], "interrupted");
    let callback = receiver.next().await.body;
    assert_eq!(callback["refreshId"], refresh_id);
    assert_eq!(callback["errorCode"], "interrupted");
    assert_eq!(callback["dataSourceName"], "CRM");
    // The lock went with it.
    define(&app, &instance, "crm", upload_source("CRM")).await;
    upload(&app, &instance, "crm", "text/csv", CONTACTS).await;
    assert_eq!(refresh(&app, &instance, "crm").await["status"], "succeeded");
}
