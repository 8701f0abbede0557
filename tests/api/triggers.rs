//! Each trigger fires for its report and carries every payload field of the contract.

use serde_json::{Value, json};

use crate::helpers::{Receiver, spawn_app, spawn_app_builder};

const COMMON: &[&str] = &[
    "eventId",
    "eventType",
    "occurredAt",
    "instanceId",
    "subscriptionId",
];

struct Case {
    trigger: &'static str,
    /// Subscribe body fields beside notificationUrl.
    filter: Value,
    /// Reports sent before subscribing (to create catalog items and baselines).
    setup: &'static [(&'static str, &'static str)],
    report: (&'static str, &'static str),
    /// Every field the payload must have beside the common ones, with its expected value.
    expected: Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            trigger: "data-source-refresh-failed",
            filter: json!({}),
            setup: &[],
            report: (
                "data-source-refresh",
                r#"{"dataSourceId": "crm", "dataSourceName": "CRM contacts",
                "refreshId": "r-1", "status": "failed", "startedAt": "2026-11-01T10:00:00Z",
                "finishedAt": "2026-11-01T10:01:30Z", "error": {"code": "Timeout", "message": "The source timed out."}}"#,
            ),
            expected: json!({"eventType": "DataSourceRefreshFailed", "dataSourceId": "crm",
                "dataSourceName": "CRM contacts", "refreshId": "r-1", "status": "failed",
                "startedAt": "2026-11-01T10:00:00Z", "finishedAt": "2026-11-01T10:01:30Z",
                "durationSeconds": 90.0, "errorCode": "Timeout", "errorMessage": "The source timed out."}),
        },
        Case {
            trigger: "data-source-refresh-succeeded",
            filter: json!({}),
            setup: &[],
            report: (
                "data-source-refresh",
                r#"{"dataSourceId": "erp", "status": "succeeded",
                "refreshId": "r-2", "startedAt": "2026-11-01T10:00:00Z", "finishedAt": "2026-11-01T10:00:05Z",
                "rowCount": 1234}"#,
            ),
            expected: json!({"eventType": "DataSourceRefreshSucceeded", "dataSourceId": "erp",
                "dataSourceName": "erp", "refreshId": "r-2", "status": "succeeded",
                "startedAt": "2026-11-01T10:00:00Z", "finishedAt": "2026-11-01T10:00:05Z",
                "durationSeconds": 5.0, "rowCount": 1234}),
        },
        Case {
            trigger: "segment-threshold-crossed",
            filter: json!({"segmentId": "vip", "threshold": 100}),
            setup: &[(
                "segment-size",
                r#"{"segmentId": "vip", "segmentName": "VIP customers", "memberCount": 90}"#,
            )],
            report: (
                "segment-size",
                r#"{"segmentId": "vip", "memberCount": 120}"#,
            ),
            expected: json!({"eventType": "SegmentThresholdCrossed", "segmentId": "vip",
                "segmentName": "VIP customers", "threshold": 100.0, "previousMemberCount": 90,
                "memberCount": 120}),
        },
        Case {
            trigger: "measure-threshold-crossed",
            filter: json!({"measureId": "revenue", "threshold": 1000.5}),
            setup: &[(
                "measure-value",
                r#"{"measureId": "revenue", "measureName": "Revenue", "value": 999.25}"#,
            )],
            report: (
                "measure-value",
                r#"{"measureId": "revenue", "value": 1500.75}"#,
            ),
            expected: json!({"eventType": "MeasureThresholdCrossed", "measureId": "revenue",
                "measureName": "Revenue", "threshold": 1000.5, "previousValue": 999.25, "value": 1500.75}),
        },
        Case {
            trigger: "full-refresh-completed",
            filter: json!({}),
            setup: &[],
            report: (
                "full-refresh",
                r#"{"runId": "run-7", "status": "succeeded",
                "startedAt": "2026-11-01T00:00:00Z", "finishedAt": "2026-11-01T01:00:00Z",
                "dataSourceCount": 4, "failedDataSourceCount": 1, "segmentCount": 12, "measureCount": 3}"#,
            ),
            expected: json!({"eventType": "FullRefreshCompleted", "runId": "run-7", "status": "succeeded",
                "startedAt": "2026-11-01T00:00:00Z", "finishedAt": "2026-11-01T01:00:00Z",
                "durationSeconds": 3600.0, "dataSourceCount": 4, "failedDataSourceCount": 1,
                "segmentCount": 12, "measureCount": 3, "initiatedBy": "platform"}),
        },
        Case {
            trigger: "unification-completed",
            filter: json!({}),
            setup: &[],
            report: (
                "unification",
                r#"{"runId": "u-1", "status": "failed",
                "startedAt": "2026-11-01T00:00:00Z", "finishedAt": "2026-11-01T00:00:02.500Z",
                "sourceRecordCount": 5000, "unifiedProfileCount": 4200}"#,
            ),
            expected: json!({"eventType": "UnificationCompleted", "runId": "u-1", "status": "failed",
                "startedAt": "2026-11-01T00:00:00Z", "finishedAt": "2026-11-01T00:00:02.500Z",
                "durationSeconds": 2.5, "sourceRecordCount": 5000, "unifiedProfileCount": 4200}),
        },
    ]
}

#[tokio::test]
async fn each_trigger_fires_for_its_report_with_every_payload_field() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    for case in cases() {
        let instance = app.create_instance(case.trigger).await;
        for (kind, body) in case.setup {
            app.report(&instance, kind, &serde_json::from_str(body).unwrap())
                .await;
        }
        let mut body = case.filter.clone();
        body["notificationUrl"] = json!(receiver.callback(case.trigger));
        let (subscription, location) = app.subscribe(&instance, case.trigger, &body).await;
        assert!(
            location.starts_with("http://"),
            "Location must be absolute: {location}"
        );
        for field in ["id", "trigger", "instanceId", "createdAt"] {
            assert!(
                subscription.get(field).is_some(),
                "{}: subscribe answer lacks {field}",
                case.trigger
            );
        }

        let (kind, report) = case.report;
        let event_ids = app
            .report(&instance, kind, &serde_json::from_str(report).unwrap())
            .await;
        assert_eq!(event_ids.len(), 1, "{}: one event", case.trigger);

        let received = receiver.next().await;
        assert_eq!(received.content_type.as_deref(), Some("application/json"));
        assert!(received.webhook_id.is_some(), "webhook-id header");
        let payload = received.body.as_object().expect("a JSON object");
        for field in COMMON {
            assert!(
                payload.contains_key(*field),
                "{}: payload lacks {field}",
                case.trigger
            );
        }
        assert_eq!(payload["eventId"], json!(event_ids[0]));
        assert_eq!(payload["instanceId"], json!(instance));
        assert_eq!(payload["subscriptionId"], subscription["id"]);
        for (field, value) in case.expected.as_object().unwrap() {
            assert_eq!(&payload[field], value, "{}: field {field}", case.trigger);
        }
        let expected_len = COMMON.len() + case.expected.as_object().unwrap().len()
            - usize::from(case.expected.get("eventType").is_some());
        assert_eq!(
            payload.len(),
            expected_len,
            "{}: unexpected fields in {payload:?}",
            case.trigger
        );
        assert!(
            payload.values().all(|v| !v.is_array() && !v.is_object()),
            "{}: the payload must be flat",
            case.trigger
        );
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn a_filtered_refresh_subscription_ignores_other_data_sources() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("filters").await;
    for id in ["crm", "erp"] {
        app.report(
            &instance,
            "data-source-refresh",
            &json!({"dataSourceId": id, "status": "succeeded"}),
        )
        .await;
    }
    let trigger = "data-source-refresh-failed";
    app.subscribe(
        &instance,
        trigger,
        &json!({"notificationUrl": receiver.callback("crm-only"), "dataSourceId": "crm"}),
    )
    .await;

    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "erp", "status": "failed"}),
    )
    .await;
    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "crm", "status": "succeeded"}),
    )
    .await;
    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "crm", "status": "failed"}),
    )
    .await;

    let received = receiver.next().await;
    assert_eq!(received.body["dataSourceId"], "crm");
    assert_eq!(received.body["status"], "failed");
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn an_event_reaches_only_its_own_instance() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let watched = app.create_instance("watched").await;
    let other = app.create_instance("other").await;
    app.subscribe(
        &watched,
        "unification-completed",
        &json!({"notificationUrl": receiver.callback("w")}),
    )
    .await;
    app.report(&other, "unification", &json!({"status": "succeeded"}))
        .await;
    app.report(&watched, "unification", &json!({"status": "succeeded"}))
        .await;
    let received = receiver.next().await;
    assert_eq!(received.body["instanceId"], json!(watched));
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn failed_callbacks_are_retried_with_the_same_event_and_delivery_ids() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("retries").await;
    app.subscribe(
        &instance,
        "full-refresh-completed",
        &json!({"notificationUrl": receiver.callback("r")}),
    )
    .await;
    receiver.answer_with(&[503, 429]);
    let ids = app
        .report(&instance, "full-refresh", &json!({"status": "succeeded"}))
        .await;
    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    for attempt in &attempts {
        assert_eq!(attempt.body["eventId"], json!(ids[0]));
        assert_eq!(attempt.webhook_id, attempts[0].webhook_id);
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn a_410_removes_the_subscription() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("gone").await;
    let (sub, _) = app
        .subscribe(
            &instance,
            "full-refresh-completed",
            &json!({"notificationUrl": receiver.callback("g")}),
        )
        .await;
    receiver.answer_with(&[410]);
    app.report(&instance, "full-refresh", &json!({"status": "succeeded"}))
        .await;
    receiver.next().await;
    let path = format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    let status = app.get(&path).await.status().as_u16();
    assert_eq!(status, 404, "the subscription must be removed after 410");
    app.report(&instance, "full-refresh", &json!({"status": "succeeded"}))
        .await;
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn a_delivery_stops_after_the_last_attempt_of_its_schedule() {
    let app = spawn_app_builder().retry_schedule("10ms").spawn().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("exhausted").await;
    app.subscribe(
        &instance,
        "full-refresh-completed",
        &json!({"notificationUrl": receiver.callback("x")}),
    )
    .await;
    receiver.answer_with(&[500, 500, 500]);
    app.report(&instance, "full-refresh", &json!({"status": "failed"}))
        .await;
    // One first attempt, then one retry for the one delay of the schedule.
    receiver.next().await;
    receiver.next().await;
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn other_4xx_answers_fail_at_once_and_keep_the_subscription() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("rejected").await;
    let (sub, _) = app
        .subscribe(
            &instance,
            "full-refresh-completed",
            &json!({"notificationUrl": receiver.callback("x")}),
        )
        .await;
    receiver.answer_with(&[400]);
    app.report(&instance, "full-refresh", &json!({"status": "failed"}))
        .await;
    receiver.next().await;
    app.expect_no_more_callbacks(&mut receiver).await;
    let path = format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status(), 200);
}
