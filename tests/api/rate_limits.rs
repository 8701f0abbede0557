//! Per-tenant rate limits: 429 with `Retry-After` past the limit; the report API counted
//! apart; probes and unsubscribing by `Location` never limited.

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, Receiver, spawn_app_builder, token};

async fn assert_rate_limited(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 429, "{what}");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{what}: {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{what}");
}

#[tokio::test]
async fn calls_past_the_tenants_limit_answer_429_with_retry_after() {
    let app = spawn_app_builder()
        .rate_limits("3/60s", "2/60s")
        .spawn()
        .await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("busy").await;
    let (_, location) = app
        .subscribe(
            &instance,
            "unification-completed",
            &json!({"notificationUrl": receiver.callback("busy")}),
        )
        .await;
    assert_eq!(app.get("/api/v1/instances").await.status(), 200);
    assert_rate_limited(app.get("/api/v1/instances").await, "the fourth call").await;

    let run = json!({"status": "succeeded"});
    for _ in 0..2 {
        app.report(&instance, "unification", &run).await;
    }
    let path = format!("/api/v1/instances/{instance}/reports/unification");
    assert_rate_limited(
        app.post_as(&app.platform_token, &path, &run).await,
        "the third report",
    )
    .await;

    let other = app
        .client
        .get(app.url("/api/v1/instances"))
        .bearer_auth(token(OTHER_TENANT, false))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another tenant has its own limit");
    for probe in ["/healthz", "/readyz", "/openapi.json"] {
        let response = app.client.get(app.url(probe)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{probe} is never limited");
    }
    let deleted = app.client.delete(&location).send().await.unwrap();
    assert_eq!(deleted.status(), 204, "unsubscribing is never limited");
}
