//! Per-tenant limits on what a tenant keeps stored, and the retention of idempotency keys.

use std::time::Duration;

use insights_connector::config::Quotas;
use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, Receiver, TestApp, spawn_app_builder, token};

fn quotas() -> Quotas {
    Quotas {
        max_instances: 2,
        max_subscriptions: 2,
        max_failed_deliveries: 2,
        max_idempotency_keys: 1,
        idempotency_retention: Duration::from_secs(3600),
    }
}

async fn expect_quota(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 409, "{what}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded", "{what}: {body}");
    assert!(
        body["message"].as_str().unwrap().contains(what),
        "{what}: {body}"
    );
}

async fn report_with_key(
    app: &TestApp,
    instance: &str,
    key: &str,
    status: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!(
            "/api/v1/instances/{instance}/reports/full-refresh"
        )))
        .bearer_auth(&app.platform_token)
        .header("Idempotency-Key", key)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tenant_cannot_create_more_instances_than_its_limit() {
    let app = spawn_app_builder().quotas(quotas()).spawn().await;
    app.create_instance("one").await;
    app.create_instance("two").await;
    let third = app
        .post("/api/v1/instances", &json!({"name": "three"}))
        .await;
    expect_quota(third, "instances").await;
    let listed: Value = app.get("/api/v1/instances").await.json().await.unwrap();
    assert_eq!(
        listed["value"].as_array().unwrap().len(),
        2,
        "nothing was added"
    );
    // Limits are per tenant.
    let other = app
        .post_as(
            &token(OTHER_TENANT, false),
            "/api/v1/instances",
            &json!({"name": "theirs"}),
        )
        .await;
    assert_eq!(other.status(), 201);
}

#[tokio::test]
async fn a_tenant_cannot_hold_more_subscriptions_than_its_limit_and_an_unsubscribe_frees_one() {
    let app = spawn_app_builder().quotas(quotas()).spawn().await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("subs").await;
    let path = format!("/api/v1/instances/{instance}/triggers/full-refresh-completed");
    let body = |n: &str| json!({"notificationUrl": receiver.callback(n)});
    let (_, first_location) = app
        .subscribe(&instance, "full-refresh-completed", &body("a"))
        .await;
    app.subscribe(&instance, "full-refresh-completed", &body("b"))
        .await;
    expect_quota(app.post(&path, &body("c")).await, "subscriptions").await;
    // Subscribing again to one it holds is not a new subscription.
    assert_eq!(app.post(&path, &body("a")).await.status(), 201);
    let gone = app.client.delete(&first_location).send().await.unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(app.post(&path, &body("c")).await.status(), 201);
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/subscriptions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn new_idempotency_keys_past_the_limit_are_refused_until_old_ones_expire() {
    let app = spawn_app_builder().quotas(quotas()).spawn().await;
    let instance = app.create_instance("keys").await;
    let first = report_with_key(&app, &instance, "k1", "succeeded").await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    // (key, status sent, status answered, why)
    let cases = [
        (
            "k1",
            "succeeded",
            202,
            "a retry of a stored key is answered from it",
        ),
        (
            "k2",
            "succeeded",
            409,
            "a new key past the limit is refused",
        ),
    ];
    for (key, status, answered, why) in cases {
        let response = report_with_key(&app, &instance, key, status).await;
        assert_eq!(response.status(), answered, "{why}");
    }
    let without_key = app
        .post_as(
            &app.platform_token,
            &format!("/api/v1/instances/{instance}/reports/full-refresh"),
            &json!({"status": "succeeded"}),
        )
        .await;
    assert_eq!(
        without_key.status(),
        202,
        "reports without a key are not limited"
    );

    // After the retention, the key is forgotten: a retry is a new report.
    app.advance(Duration::from_secs(3601));
    assert!(app.dispatcher_handle().prune().await.unwrap() >= 1);
    let again = report_with_key(&app, &instance, "k1", "failed").await;
    assert_eq!(again.status(), 202, "a report after the retention is new");
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["eventIds"], first["eventIds"]);
    assert_eq!(
        report_with_key(&app, &instance, "k3", "failed")
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn dead_letters_past_the_limit_go_oldest_first() {
    let app = spawn_app_builder().quotas(quotas()).spawn().await;
    let mut receiver = Receiver::start().await;
    receiver.answer_by_default(400);
    let instance = app.create_instance("dead").await;
    app.subscribe(
        &instance,
        "full-refresh-completed",
        &json!({"notificationUrl": receiver.callback("d")}),
    )
    .await;
    let mut events = Vec::new();
    let mut oldest = None;
    for _ in 0..3 {
        events.extend(
            app.report(&instance, "full-refresh", &json!({"status": "failed"}))
                .await,
        );
        receiver.next().await;
        app.advance(Duration::from_millis(1));
        if oldest.is_none() {
            let failed = app.deliveries(&instance, "status=failed").await;
            oldest = Some(failed[0]["id"].as_str().unwrap().to_owned());
        }
    }
    // The pruned dead letter is gone for good, caches included: it cannot be sent again.
    let oldest = oldest.unwrap();
    let retry = app
        .post(&format!("/api/v1/deliveries/{oldest}/retry"), &json!({}))
        .await;
    assert_eq!(retry.status(), 404);
    let failed = app.deliveries(&instance, "status=failed").await;
    let kept: Vec<&str> = failed
        .iter()
        .map(|d| d["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        [events[2].as_str(), events[1].as_str()],
        "the newest two are kept"
    );
}
