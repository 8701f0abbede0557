//! The report API: idempotency, catalog updates, and events.

use serde_json::{Value, json};

use crate::helpers::{Receiver, spawn_app};

#[tokio::test]
async fn a_retried_report_with_the_same_idempotency_key_is_a_no_op() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("idempotent").await;
    app.subscribe(
        &instance,
        "full-refresh-completed",
        &json!({"notificationUrl": receiver.callback("i")}),
    )
    .await;
    let path = app.url(&format!(
        "/api/v1/instances/{instance}/reports/full-refresh"
    ));
    let send = |body: Value, key: &'static str| {
        app.client
            .post(&path)
            .bearer_auth(&app.platform_token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first: Value = send(json!({"status": "succeeded"}), "k1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again: Value = send(json!({"status": "succeeded"}), "k1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first, again, "the retry answers the same event ids");
    assert_eq!(app.drain().await, 1, "one delivery for the two sends");
    receiver.next().await;
    app.expect_no_more_callbacks(&mut receiver).await;

    let conflict = send(json!({"status": "failed"}), "k1").await.unwrap();
    assert_eq!(conflict.status(), 409);
    let error: Value = conflict.json().await.unwrap();
    assert_eq!(error["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn reports_add_unknown_items_to_the_catalog_with_their_latest_state() {
    let app = spawn_app().await;
    let instance = app.create_instance("catalog").await;
    let base = format!("/api/v1/instances/{instance}");
    app.report(&instance, "data-source-refresh", &json!({"dataSourceId": "crm", "dataSourceName": "CRM",
        "status": "failed", "refreshId": "r1", "error": {"code": "AuthFailed", "message": "Bad password."}}))
        .await;
    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "crm", "status": "succeeded",
        "refreshId": "r2", "rowCount": 10, "finishedAt": "2026-11-02T00:00:00Z"}),
    )
    .await;
    app.report(
        &instance,
        "segment-size",
        &json!({"segmentId": "vip", "segmentName": "VIP", "memberCount": 3}),
    )
    .await;
    app.report(
        &instance,
        "measure-value",
        &json!({"measureId": "ltv", "value": 12.5}),
    )
    .await;

    let sources: Value = app
        .get(&format!("{base}/data-sources"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sources["value"].as_array().unwrap().len(), 1);
    let crm = &sources["value"][0];
    assert_eq!(crm["id"], "crm");
    assert_eq!(
        crm["name"], "CRM",
        "a later report without a name keeps the known one"
    );
    assert_eq!(crm["lastRefreshId"], "r2");
    assert_eq!(crm["lastRefreshStatus"], "succeeded");
    assert_eq!(crm["lastRowCount"], 10);

    let vip: Value = app
        .get(&format!("{base}/segments/vip"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (vip["name"].clone(), vip["memberCount"].clone()),
        (json!("VIP"), json!(3))
    );
    let ltv: Value = app
        .get(&format!("{base}/measures/ltv"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (ltv["name"].clone(), ltv["value"].clone()),
        (json!("ltv"), json!(12.5))
    );
    let segments: Value = app
        .get(&format!("{base}/segments"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(segments["value"][0]["id"], "vip");
    let measures: Value = app
        .get(&format!("{base}/measures"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(measures["value"][0]["id"], "ltv");
}

#[tokio::test]
async fn a_refresh_report_reaches_every_matching_subscription_once() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("fan-out").await;
    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "crm", "status": "succeeded"}),
    )
    .await;
    let any = receiver.callback("any");
    let crm = receiver.callback("crm");
    app.subscribe(
        &instance,
        "data-source-refresh-succeeded",
        &json!({"notificationUrl": any}),
    )
    .await;
    app.subscribe(
        &instance,
        "data-source-refresh-succeeded",
        &json!({"notificationUrl": crm, "dataSourceId": "crm"}),
    )
    .await;
    app.subscribe(
        &instance,
        "data-source-refresh-failed",
        &json!({"notificationUrl": any}),
    )
    .await;
    let ids = app
        .report(
            &instance,
            "data-source-refresh",
            &json!({"dataSourceId": "crm", "status": "succeeded"}),
        )
        .await;
    let (a, b) = (receiver.next().await, receiver.next().await);
    assert_eq!(a.body["eventId"], json!(ids[0]));
    assert_eq!(b.body["eventId"], json!(ids[0]));
    assert_ne!(a.body["subscriptionId"], b.body["subscriptionId"]);
    app.expect_no_more_callbacks(&mut receiver).await;
}
