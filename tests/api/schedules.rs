//! Scheduled full refreshes on the manual clock: a pattern with a seconds field fires, runs
//! missed while the service was down run once at start, and bad schedules are refused naming
//! the field.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::full_refresh::retail;
use crate::helpers::{Receiver, TestApp, spawn_app, spawn_app_builder};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn set_schedule(app: &TestApp, instance: &str, cron: &str, zone: &str) -> (u16, Value) {
    let response = app
        .put(
            &format!("/api/v1/instances/{instance}/schedule"),
            &json!({"cron": cron, "timeZone": zone}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The newest full refresh of the instance, after waiting for its end.
async fn newest_full_refresh(app: &TestApp, instance: &str) -> Value {
    let listed = app.refreshes(instance).await;
    let newest = listed
        .iter()
        .find(|r| r["kind"] == "fullRefresh")
        .expect("a full refresh");
    app.finish_refresh(instance, newest["id"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn a_schedule_with_a_seconds_field_runs_full_refreshes_initiated_by_schedule() {
    let app = spawn_app_builder()
        .clock_starting_at(at("2026-03-01T10:00:00Z"))
        .spawn()
        .await;
    let instance = app.create_instance("scheduled").await;
    retail(&app, &instance).await;
    let mut receiver = Receiver::start().await;
    app.subscribe(
        &instance,
        "full-refresh-completed",
        &json!({"notificationUrl": receiver.callback("done")}),
    )
    .await;

    let (status, body) = set_schedule(&app, &instance, "*/30 * * * * *", "Europe/Oslo").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["nextRunAt"], "2026-03-01T10:00:30Z");
    assert_eq!(app.run_due_schedules().await, 0, "nothing due yet");
    app.advance(std::time::Duration::from_secs(29));
    assert_eq!(app.run_due_schedules().await, 0, "one second early");

    app.advance(std::time::Duration::from_secs(1));
    assert_eq!(app.run_due_schedules().await, 1);
    let run = newest_full_refresh(&app, &instance).await;
    assert_eq!(
        (&run["status"], &run["initiatedBy"]),
        (&json!("succeeded"), &json!("schedule"))
    );
    let delivered = receiver.next().await.body;
    assert_eq!(delivered["initiatedBy"], "schedule");
    assert_eq!(delivered["runId"], run["id"]);
    // Its data source stages are the schedule's too.
    let stages: Vec<Value> = app.refreshes(&instance).await;
    assert!(stages.iter().all(|r| r["initiatedBy"] == "schedule"));
    assert_eq!(
        app.run_due_schedules().await,
        0,
        "the same instant runs once"
    );

    // Two runs fell due while the loop did not look: one run covers both.
    app.advance(std::time::Duration::from_secs(65));
    assert_eq!(app.run_due_schedules().await, 1);
    newest_full_refresh(&app, &instance).await;
    assert_eq!(app.run_due_schedules().await, 0);
    app.drain().await;
    receiver.next().await;

    // Removed: nothing more runs.
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/instances/{instance}/schedule")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    app.advance(std::time::Duration::from_secs(3600));
    assert_eq!(app.run_due_schedules().await, 0);
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn a_run_missed_while_the_service_was_down_runs_once_at_start() {
    let app = spawn_app_builder()
        .clock_starting_at(at("2026-03-01T10:00:00Z"))
        .spawn()
        .await;
    let instance = app.create_instance("scheduled").await;
    retail(&app, &instance).await;
    let (status, _) = set_schedule(&app, &instance, "0 * * * *", "UTC").await;
    assert_eq!(status, 201);
    let data_dir = app.stop().await;

    // Down from 10:00 to 13:30: the 11:00, 12:00 and 13:00 runs were missed.
    let app = spawn_app_builder()
        .data_dir(data_dir)
        .clock_starting_at(at("2026-03-01T13:30:00Z"))
        .spawn()
        .await;
    assert_eq!(app.run_due_schedules().await, 1, "one run for all missed");
    let run = newest_full_refresh(&app, &instance).await;
    assert_eq!(run["initiatedBy"], "schedule");
    assert_eq!(app.run_due_schedules().await, 0);
    let listed = app.refreshes(&instance).await;
    assert_eq!(
        listed.iter().filter(|r| r["kind"] == "fullRefresh").count(),
        1
    );
    // The next one is the next hour's.
    let schedule: Value = app
        .get(&format!("/api/v1/instances/{instance}/schedule"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(schedule["nextRunAt"], "2026-03-01T14:00:00Z");
    app.advance(std::time::Duration::from_secs(30 * 60));
    assert_eq!(app.run_due_schedules().await, 1);
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let instance = app.create_instance("scheduled").await;
    let path = format!("/api/v1/instances/{instance}/schedule");
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"cron": "* * *", "timeZone": "UTC"}),
            "cron",
            "three fields are neither 5 nor 6",
        ),
        (
            json!({"cron": "0 61 * * * *", "timeZone": "UTC"}),
            "minute",
            "minute 61 does not exist",
        ),
        (
            json!({"cron": "0 0 30 2 *", "timeZone": "UTC"}),
            "cron",
            "30 February never comes",
        ),
        (
            json!({"cron": "0 * * * *", "timeZone": "Mars/Olympus"}),
            "timeZone",
            "not an IANA zone",
        ),
        (
            json!({"cron": "0 * * * *"}),
            "timeZone",
            "the zone is required",
        ),
        (
            json!({"cron": "0 * * * *", "timeZone": "UTC", "every": "day"}),
            "every",
            "unknown fields are refused",
        ),
    ];
    for (body, field, why) in cases {
        let response = app.put(&path, &body).await;
        let status = response.status();
        let error: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{why}: {error}");
        assert_eq!(error["code"], "invalid_request", "{why}");
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "{why}: {error}"
        );
    }
    let missing = app.get(&path).await;
    assert_eq!(missing.status(), 404, "nothing was stored");
    let (status, _) = set_schedule(&app, &instance, "0 6 * * 1-5", "Europe/Paris").await;
    assert_eq!(status, 201);
    let (status, body) = set_schedule(&app, &instance, "0 7 * * 1-5", "Europe/Paris").await;
    assert_eq!(status, 200, "replaced: {body}");
    assert_eq!(body["cron"], "0 7 * * 1-5");
}

#[tokio::test]
async fn the_schedule_loop_starts_a_due_run_when_the_clock_moves() {
    let app = spawn_app_builder()
        .clock_starting_at(at("2026-03-01T10:00:00Z"))
        .automatic_schedules()
        .spawn()
        .await;
    let instance = app.create_instance("looped").await;
    retail(&app, &instance).await;
    let (status, _) = set_schedule(&app, &instance, "15 * * * * *", "UTC").await;
    assert_eq!(status, 201);
    assert!(app.refreshes(&instance).await.is_empty(), "not due yet");

    // Moving the clock past 10:00:15 wakes the loop, which starts the run by itself.
    app.advance(std::time::Duration::from_secs(20));
    let run = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut started = app.runner_handle().full_refreshes_started();
        loop {
            if let Some(run) = app
                .refreshes(&instance)
                .await
                .into_iter()
                .find(|r| r["kind"] == "fullRefresh")
            {
                return run;
            }
            started.changed().await.unwrap();
        }
    })
    .await
    .expect("the loop started the due run");
    assert_eq!(run["initiatedBy"], "schedule");
    let done = app
        .finish_refresh(&instance, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "succeeded");
}
