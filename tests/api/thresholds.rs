//! Threshold triggers fire only on crossing above, from per-subscription baselines.

use serde_json::json;

use crate::helpers::{Receiver, spawn_app};

/// (baseline reported before subscribing, values reported after, threshold, values that must
/// fire, why)
type Crossing = (u64, &'static [u64], f64, &'static [u64], &'static str);
const CROSSINGS: &[Crossing] = &[
    (
        5,
        &[8, 12, 15, 10, 11],
        10.0,
        &[12, 11],
        "fires at each upward crossing only",
    ),
    (
        5,
        &[10, 10, 9, 10],
        10.0,
        &[],
        "reaching the threshold exactly never fires",
    ),
    (20, &[25, 30], 10.0, &[], "staying above never fires"),
    (20, &[5, 11], 10.0, &[11], "going down then back up fires"),
    (
        10,
        &[11],
        10.0,
        &[11],
        "a baseline equal to the threshold then above fires",
    ),
    (0, &[3, 4], 3.5, &[4], "fractional thresholds on counts"),
];

#[tokio::test]
async fn segment_crossing_table() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    for (i, (baseline, values, threshold, fires, why)) in CROSSINGS.iter().enumerate() {
        let instance = app.create_instance(&format!("crossing-{i}")).await;
        let segment = format!("segment-{i}");
        app.report(
            &instance,
            "segment-size",
            &json!({"segmentId": segment, "memberCount": baseline}),
        )
        .await;
        let (sub, _) = app
            .subscribe(
                &instance,
                "segment-threshold-crossed",
                &json!({"notificationUrl": receiver.callback(&segment), "segmentId": segment, "threshold": threshold}),
            )
            .await;
        assert_eq!(sub["baseline"], json!(*baseline as f64), "{why}: baseline");
        let mut fired = Vec::new();
        let mut previous = *baseline;
        for value in *values {
            let ids = app
                .report(
                    &instance,
                    "segment-size",
                    &json!({"segmentId": segment, "memberCount": value}),
                )
                .await;
            if !ids.is_empty() {
                fired.push(*value);
                let received = receiver.next().await;
                assert_eq!(received.body["memberCount"], json!(value), "{why}");
                assert_eq!(
                    received.body["previousMemberCount"],
                    json!(previous),
                    "{why}"
                );
                assert_eq!(received.body["threshold"], json!(threshold), "{why}");
            }
            previous = *value;
        }
        assert_eq!(&fired, fires, "{why}");
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn only_the_thresholds_a_change_crosses_fire() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("many thresholds").await;
    app.report(
        &instance,
        "measure-value",
        &json!({"measureId": "m", "value": 0.0}),
    )
    .await;
    for threshold in [-1.0, 0.0, 5.0, 9.99, 10.0, 10.5, 100.0] {
        let url = receiver.callback(&format!("t{threshold}"));
        app.subscribe(
            &instance,
            "measure-threshold-crossed",
            &json!({"notificationUrl": url, "measureId": "m", "threshold": threshold}),
        )
        .await;
    }
    app.report(
        &instance,
        "measure-value",
        &json!({"measureId": "m", "value": 10.0}),
    )
    .await;
    let mut crossed: Vec<f64> = Vec::new();
    for _ in 0..3 {
        crossed.push(receiver.next().await.body["threshold"].as_f64().unwrap());
    }
    crossed.sort_by(f64::total_cmp);
    // previous 0 <= t < 10: 0, 5 and 9.99; not -1 (already above), not 10 (equal), not above.
    assert_eq!(crossed, vec![0.0, 5.0, 9.99]);
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn one_event_reaches_every_crossed_subscription_with_its_own_threshold() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("shared event").await;
    app.report(
        &instance,
        "segment-size",
        &json!({"segmentId": "s", "memberCount": 1}),
    )
    .await;
    for threshold in [2, 3] {
        let url = receiver.callback(&format!("t{threshold}"));
        app.subscribe(
            &instance,
            "segment-threshold-crossed",
            &json!({"notificationUrl": url, "segmentId": "s", "threshold": threshold}),
        )
        .await;
    }
    let ids = app
        .report(
            &instance,
            "segment-size",
            &json!({"segmentId": "s", "memberCount": 50}),
        )
        .await;
    let (a, b) = (receiver.next().await, receiver.next().await);
    assert_eq!(a.body["eventId"], json!(ids[0]));
    assert_eq!(b.body["eventId"], json!(ids[0]));
    assert_ne!(a.body["threshold"], b.body["threshold"]);
    assert_ne!(
        a.webhook_id, b.webhook_id,
        "webhook-id identifies one delivery"
    );
}
