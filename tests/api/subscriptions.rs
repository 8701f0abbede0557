//! Idempotent subscribe, unsubscribe by Location, listing and reading subscriptions.

use serde_json::{Value, json};

use crate::helpers::{Receiver, spawn_app};

#[tokio::test]
async fn subscribing_twice_returns_the_same_subscription() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("twice").await;
    let body = json!({"notificationUrl": receiver.callback("x")});
    let (first, first_location) = app
        .subscribe(&instance, "unification-completed", &body)
        .await;
    let (second, second_location) = app
        .subscribe(&instance, "unification-completed", &body)
        .await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first_location, second_location);
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/subscriptions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);

    // Another trigger or another URL is another subscription.
    let (other, _) = app
        .subscribe(&instance, "full-refresh-completed", &body)
        .await;
    assert_ne!(other["id"], first["id"]);
}

#[tokio::test]
async fn delete_by_location_answers_204_twice_and_stops_callbacks() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("unsubscribe").await;
    let (sub, location) = app
        .subscribe(
            &instance,
            "full-refresh-completed",
            &json!({"notificationUrl": receiver.callback("gone")}),
        )
        .await;
    let (_, _sentinel) = app
        .subscribe(
            &instance,
            "full-refresh-completed",
            &json!({"notificationUrl": receiver.callback("sentinel")}),
        )
        .await;
    assert!(
        location.contains("secret="),
        "the Location carries its own secret"
    );
    assert!(!location.contains(&format!("secret={}", sub["id"].as_str().unwrap())));

    // Power Automate sends the DELETE without any credential.
    for _ in 0..2 {
        let response = app.client.delete(&location).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
    let response = app
        .get(&format!(
            "/api/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(response.status(), 404);

    app.report(&instance, "full-refresh", &json!({"status": "succeeded"}))
        .await;
    let received = receiver.next().await;
    assert_ne!(
        received.body["subscriptionId"], sub["id"],
        "no callback after unsubscribing"
    );
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn delete_without_the_right_secret_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("guarded").await;
    let (sub, location) = app
        .subscribe(
            &instance,
            "unification-completed",
            &json!({"notificationUrl": receiver.callback("g")}),
        )
        .await;
    let id = sub["id"].as_str().unwrap();
    let bare = app.url(&format!("/api/v1/subscriptions/{id}"));
    let tampered = format!("{}x", location);
    let other_tenant = crate::helpers::token(crate::helpers::OTHER_TENANT, false);

    let attempts = [
        (
            app.client.delete(&bare),
            401,
            "no secret and no credentials",
        ),
        (
            app.client.delete(format!("{bare}?secret=")),
            404,
            "an empty secret",
        ),
        (app.client.delete(&tampered), 404, "a wrong secret"),
        (
            app.client.delete(format!("{bare}?secret={id}")),
            404,
            "the id is not the secret",
        ),
        (
            app.client.delete(&bare).bearer_auth(&other_tenant),
            404,
            "another tenant's credentials",
        ),
    ];
    for (request, status, why) in attempts {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{why}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{why}: {body}"
        );
    }
    assert_eq!(
        app.get(&format!("/api/v1/subscriptions/{id}"))
            .await
            .status(),
        200
    );

    // The owning tenant may delete with its own credentials.
    let response = app
        .client
        .delete(&bare)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.get(&format!("/api/v1/subscriptions/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn subscriptions_are_listed_and_read_with_their_filters() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("listing").await;
    app.report(
        &instance,
        "measure-value",
        &json!({"measureId": "churn", "value": 0.25}),
    )
    .await;
    let (sub, _) = app
        .subscribe(
            &instance,
            "measure-threshold-crossed",
            &json!({"notificationUrl": receiver.callback("l"), "measureId": "churn", "threshold": 0.3}),
        )
        .await;
    let read: Value = app
        .get(&format!(
            "/api/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["trigger"], "MeasureThresholdCrossed");
    assert_eq!(read["measureId"], "churn");
    assert_eq!(read["threshold"], 0.3);
    assert_eq!(read["baseline"], 0.25);
    assert_eq!(read["instanceId"], json!(instance));
    let shown = read["notificationUrl"].as_str().unwrap();
    assert!(
        !shown.contains("SIG-"),
        "the flow's signature is never shown: {shown}"
    );
}

#[tokio::test]
async fn a_filter_on_an_unknown_item_is_404() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("typos").await;
    let url = receiver.callback("t");
    let cases = [
        (
            "data-source-refresh-failed",
            json!({"notificationUrl": url, "dataSourceId": "nope"}),
        ),
        (
            "segment-threshold-crossed",
            json!({"notificationUrl": url, "segmentId": "nope", "threshold": 1}),
        ),
        (
            "measure-threshold-crossed",
            json!({"notificationUrl": url, "measureId": "nope", "threshold": 1}),
        ),
    ];
    for (trigger, body) in cases {
        let response = app
            .post(
                &format!("/api/v1/instances/{instance}/triggers/{trigger}"),
                &body,
            )
            .await;
        assert_eq!(response.status(), 404, "{trigger}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{trigger}");
    }
}
