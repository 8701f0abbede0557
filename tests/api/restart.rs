//! Restarting on the same data dir keeps subscriptions and baselines.

use serde_json::json;

use crate::helpers::{Receiver, spawn_app, spawn_app_builder};

#[tokio::test]
async fn subscriptions_and_baselines_survive_a_restart() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("durable").await;
    app.report(
        &instance,
        "segment-size",
        &json!({"segmentId": "s", "memberCount": 5}),
    )
    .await;
    let (sub, location) = app
        .subscribe(
            &instance,
            "segment-threshold-crossed",
            &json!({"notificationUrl": receiver.callback("d"), "segmentId": "s", "threshold": 10}),
        )
        .await;
    // The baseline moves to 8 before the restart; 8 -> 9 after it must not fire, 9 -> 12 must.
    app.report(
        &instance,
        "segment-size",
        &json!({"segmentId": "s", "memberCount": 8}),
    )
    .await;
    let dir = app.stop().await;

    let app = spawn_app_builder().data_dir(dir).spawn().await;
    let listed: serde_json::Value = app
        .get(&format!("/api/v1/instances/{instance}/subscriptions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][0]["id"], sub["id"]);
    assert!(
        app.report(
            &instance,
            "segment-size",
            &json!({"segmentId": "s", "memberCount": 9})
        )
        .await
        .is_empty()
    );
    let ids = app
        .report(
            &instance,
            "segment-size",
            &json!({"segmentId": "s", "memberCount": 12}),
        )
        .await;
    let received = receiver.next().await;
    assert_eq!(received.body["eventId"], json!(ids[0]));
    assert_eq!(received.body["previousMemberCount"], 9);

    // The Location handed out before the restart still unsubscribes (the new server listens on
    // another port, so keep only its path and query).
    let path = &location[location.find("/api/v1/").unwrap()..];
    let response = app.client.delete(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 204);
}
