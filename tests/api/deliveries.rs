//! The outbox seen from outside: retries, Retry-After, 410 and 404 removal, dead letters and
//! replay, fairness between receivers, delivery-time SSRF checks, signatures and metrics.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, Receiver, TestApp, spawn_app, spawn_app_builder, token};

const TRIGGER: &str = "full-refresh-completed";

async fn subscribed(app: &TestApp, receiver: &Receiver, name: &str) -> (String, Value) {
    let instance = app.create_instance(name).await;
    let (sub, _) = app
        .subscribe(
            &instance,
            TRIGGER,
            &json!({"notificationUrl": receiver.callback(name)}),
        )
        .await;
    (instance, sub)
}

/// Reports a full refresh and delivers what it causes (with retries), to quiet.
async fn fire(app: &TestApp, instance: &str) -> String {
    app.report(instance, "full-refresh", &json!({"status": "succeeded"}))
        .await
        .remove(0)
}

/// Reports a full refresh and leaves its delivery due, for the test to run step by step.
async fn fire_without_delivering(app: &TestApp, instance: &str) -> String {
    let path = format!("/api/v1/instances/{instance}/reports/full-refresh");
    let response = app
        .post_as(&app.platform_token, &path, &json!({"status": "succeeded"}))
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["eventIds"][0].as_str().unwrap().to_owned()
}

/// The instance's only delivery with `status`.
async fn only(app: &TestApp, instance: &str, status: &str) -> Value {
    let mut found = app.deliveries(instance, &format!("status={status}")).await;
    assert_eq!(found.len(), 1, "{status}: {found:?}");
    found.remove(0)
}

#[tokio::test]
async fn a_delivery_is_retried_until_accepted_with_the_same_event_and_webhook_ids() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let (instance, _) = subscribed(&app, &receiver, "retries").await;
    receiver.answer_with(&[500, 502]);
    let event_id = fire(&app, &instance).await;
    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    for attempt in &attempts {
        assert_eq!(attempt.body["eventId"], json!(event_id));
        assert_eq!(attempt.webhook_id, attempts[0].webhook_id);
    }
    let delivered = only(&app, &instance, "delivered").await;
    assert_eq!(delivered["eventId"], json!(event_id));
    assert_eq!(json!(attempts[0].webhook_id), delivered["id"]);
    let codes: Vec<_> = delivered["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [500, 502, 202]);
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn retry_after_on_429_and_503_replaces_the_scheduled_delay() {
    // The schedule would wait 30 s; Retry-After: 1 brings the retry forward to 1 s.
    let app = spawn_app_builder().retry_schedule("30s,30s").spawn().await;
    let mut receiver = Receiver::start().await;
    let (instance, _) = subscribed(&app, &receiver, "retry-after").await;
    for status in [429, 503] {
        receiver.answer_with_retry_after(status, "1");
        fire_without_delivering(&app, &instance).await;
        assert_eq!(app.run_due().await, 1);
        let first = receiver.next().await;
        assert_eq!(first.status, status);
        app.advance(Duration::from_millis(999));
        assert_eq!(
            app.run_due().await,
            0,
            "{status}: retried before Retry-After"
        );
        app.advance(Duration::from_millis(1));
        assert_eq!(
            app.run_due().await,
            1,
            "{status}: not retried at Retry-After"
        );
        let second = receiver.next().await;
        assert_eq!(second.webhook_id, first.webhook_id);
        app.expect_no_more_callbacks(&mut receiver).await;
    }
}

#[tokio::test]
async fn retries_wait_the_delays_of_the_schedule_in_order() {
    let app = spawn_app_builder().retry_schedule("5s,1m").spawn().await;
    let mut receiver = Receiver::start().await;
    let (instance, _) = subscribed(&app, &receiver, "schedule").await;
    receiver.answer_with(&[500, 500, 500]);
    fire_without_delivering(&app, &instance).await;
    // (clock step, attempts due after it, why)
    let steps = [
        (Duration::ZERO, 1, "the first attempt is due at once"),
        (Duration::from_millis(4_999), 0, "the first delay is 5 s"),
        (Duration::from_millis(1), 1, "the first retry comes at 5 s"),
        (
            Duration::from_millis(59_999),
            0,
            "the second delay is 1 min",
        ),
        (
            Duration::from_millis(1),
            1,
            "the second retry comes at 1 min",
        ),
        (
            Duration::from_secs(86_400),
            0,
            "after the last delay the delivery fails",
        ),
    ];
    for (step, due, why) in steps {
        app.advance(step);
        assert_eq!(app.run_due().await, due, "{why}");
    }
    let failed = app.deliveries(&instance, "status=failed").await;
    assert_eq!(failed[0]["failure"], "retries_exhausted");
    assert_eq!(failed[0]["attempts"].as_array().unwrap().len(), 3);
    for _ in 0..3 {
        assert_eq!(receiver.next().await.status, 500);
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn repeated_404s_remove_the_subscription_and_fail_the_delivery() {
    let app = spawn_app_builder().not_found_limit(3).spawn().await;
    let mut receiver = Receiver::start().await;
    let (instance, sub) = subscribed(&app, &receiver, "not-found").await;
    receiver.answer_with(&[404, 404, 404]);
    fire(&app, &instance).await;
    for _ in 0..3 {
        assert_eq!(receiver.next().await.status, 404);
    }
    let failed = only(&app, &instance, "failed").await;
    assert_eq!(failed["failure"], "subscription_not_found");
    let path = format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status(), 404);
    fire(&app, &instance).await;
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn fewer_404s_than_the_limit_keep_the_subscription() {
    let app = spawn_app_builder().not_found_limit(3).spawn().await;
    let mut receiver = Receiver::start().await;
    let (instance, sub) = subscribed(&app, &receiver, "flaky").await;
    receiver.answer_with(&[404, 404]);
    fire(&app, &instance).await;
    for expected in [404, 404, 202] {
        assert_eq!(receiver.next().await.status, expected);
    }
    only(&app, &instance, "delivered").await;
    let path = format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status(), 200);
}

#[tokio::test]
async fn a_rejected_delivery_is_listed_as_failed_and_a_manual_retry_delivers_it() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let (instance, sub) = subscribed(&app, &receiver, "dead-letter").await;
    receiver.answer_with(&[400]);
    let event_id = fire(&app, &instance).await;
    let first = receiver.next().await;
    assert_eq!(first.status, 400);
    app.expect_no_more_callbacks(&mut receiver).await;

    let failed = only(&app, &instance, "failed").await;
    assert_eq!(failed["eventId"], json!(event_id));
    assert_eq!(failed["subscriptionId"], sub["id"]);
    assert_eq!(failed["failure"], "rejected");
    assert_eq!(failed["attempts"][0]["statusCode"], 400);
    assert!(failed["attempts"][0]["durationMs"].is_u64());
    let by_sub = format!("subscriptionId={}", sub["id"].as_str().unwrap());
    assert_eq!(app.deliveries(&instance, &by_sub).await.len(), 1);
    assert!(app.deliveries(&instance, "status=pending").await.is_empty());

    let id = failed["id"].as_str().unwrap();
    let retry = app
        .post(&format!("/api/v1/deliveries/{id}/retry"), &json!({}))
        .await;
    assert_eq!(retry.status(), 202);
    assert_eq!(app.drain().await, 1);
    let again = receiver.next().await;
    assert_eq!(again.status, 202);
    assert_eq!(again.webhook_id, first.webhook_id);
    assert_eq!(again.body["eventId"], json!(event_id));
    let delivered = only(&app, &instance, "delivered").await;
    assert_eq!(delivered["attempts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn redirects_and_other_4xx_fail_at_once_without_being_followed() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    // Each status with why it must not be retried.
    let cases = [
        (
            301,
            "a redirect could lead anywhere, private addresses included",
        ),
        (
            302,
            "a redirect could lead anywhere, private addresses included",
        ),
        (
            307,
            "a redirect could lead anywhere, private addresses included",
        ),
        (400, "the receiver will refuse the same body again"),
        (401, "credentials do not change between attempts"),
        (422, "the receiver will refuse the same body again"),
    ];
    for (status, why) in cases {
        let (instance, _) = subscribed(&app, &receiver, &format!("s{status}")).await;
        receiver.answer_with(&[status]);
        fire(&app, &instance).await;
        assert_eq!(receiver.next().await.status, status);
        let failed = only(&app, &instance, "failed").await;
        assert_eq!(failed["failure"], "rejected", "{status}: {why}");
        assert_eq!(
            failed["attempts"].as_array().unwrap().len(),
            1,
            "{status}: {why}"
        );
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn deliveries_are_tenant_scoped_and_paged() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let (instance, _) = subscribed(&app, &receiver, "paged").await;
    for _ in 0..3 {
        fire(&app, &instance).await;
        receiver.next().await;
    }
    let path = format!("/api/v1/instances/{instance}/deliveries?$top=2");
    let page: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    let next = page["nextLink"].as_str().expect("a nextLink");
    let rest: Value = app
        .client
        .get(next)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["value"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextLink").is_none());

    let other = token(OTHER_TENANT, false);
    let listed = app
        .client
        .get(app.url(&path))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 404);
    let id = page["value"][0]["id"].as_str().unwrap();
    let retried = app
        .post_as(
            &other,
            &format!("/api/v1/deliveries/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status(), 404);
    let bad = app
        .get(&format!(
            "/api/v1/instances/{instance}/deliveries?status=lost"
        ))
        .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_slow_receiver_does_not_delay_a_fast_one() {
    let app = spawn_app_builder()
        .automatic_deliveries()
        .per_host(2)
        .delivery_timeout("30s")
        .spawn()
        .await;
    // The slow receiver holds every request until the end of the test.
    let mut slow = Receiver::start_gated().await;
    let mut fast = Receiver::start().await;
    let instance = app.create_instance("fairness").await;
    for name in ["s1", "s2", "s3", "s4", "s5", "s6"] {
        app.subscribe(
            &instance,
            TRIGGER,
            &json!({"notificationUrl": slow.callback(name)}),
        )
        .await;
    }
    app.subscribe(
        &instance,
        TRIGGER,
        &json!({"notificationUrl": fast.callback("fast")}),
    )
    .await;
    fire(&app, &instance).await;
    fire(&app, &instance).await;
    // Both of the fast receiver's callbacks arrive while the slow one answers nothing: its
    // two slots are taken and ten more deliveries wait for them.
    fast.next().await;
    fast.next().await;
    slow.next().await;
    slow.next().await;
    slow.expect_nothing_received();
    slow.open_gate();
    for _ in 0..10 {
        slow.next().await;
    }
}

#[tokio::test]
async fn callbacks_that_became_private_are_refused_when_delivering() {
    // Subscribed while private callbacks were allowed, then the operator turned them off:
    // the delivery-time check refuses both a literal loopback address and a name that
    // resolves to one (the resolver path that stops DNS rebinding).
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("rebinding").await;
    let by_name = receiver
        .callback("by-name")
        .replace("127.0.0.1", "localhost");
    for url in [receiver.callback("literal"), by_name] {
        app.subscribe(&instance, TRIGGER, &json!({"notificationUrl": url}))
            .await;
    }
    let dir = app.stop().await;
    let app = spawn_app_builder()
        .data_dir(dir)
        .allow_private_callbacks(false)
        .spawn()
        .await;
    fire(&app, &instance).await;
    let failed = app.deliveries(&instance, "status=failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    for delivery in failed {
        assert_eq!(delivery["failure"], "address_not_allowed", "{delivery}");
        assert_eq!(delivery["attempts"][0]["error"], "address_not_allowed");
    }
    app.expect_no_more_callbacks(&mut receiver).await;
}

#[tokio::test]
async fn callbacks_carry_a_standard_webhooks_signature_made_with_the_secret_given_once() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};

    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let instance = app.create_instance("signed").await;
    let body = json!({"notificationUrl": receiver.callback("signed")});
    let (first, _) = app.subscribe(&instance, TRIGGER, &body).await;
    let secret = first["signingSecret"].as_str().expect("a signing secret");
    assert!(secret.starts_with("whsec_"));
    let (again, _) = app.subscribe(&instance, TRIGGER, &body).await;
    assert_eq!(again["id"], first["id"]);
    assert!(again.get("signingSecret").is_none(), "revealed twice");
    let listed = app
        .get(&format!(
            "/api/v1/subscriptions/{}",
            first["id"].as_str().unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(secret));

    fire(&app, &instance).await;
    let received = receiver.next().await;
    let id = received.webhook_id.unwrap();
    let timestamp = received.webhook_timestamp.unwrap();
    let signature = received.webhook_signature.unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - timestamp.parse::<i64>().unwrap()).abs() < 60);

    // An independent verification, written from the specification.
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.raw);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert!(
        signature.split(' ').any(|s| s == expected),
        "{signature} != {expected}"
    );
    crate::verifier::verify_with_standardwebhooks(
        secret,
        &id,
        &timestamp,
        &signature,
        &received.raw,
    );
}

#[tokio::test]
async fn metrics_count_events_outcomes_latency_and_removals() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let (instance, _) = subscribed(&app, &receiver, "metrics").await;
    receiver.answer_with(&[503, 410]);
    fire(&app, &instance).await;
    receiver.next().await;
    receiver.next().await;
    only(&app, &instance, "failed").await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in [
        "insights_events_accepted_total 1",
        "insights_delivery_attempts_total{outcome=\"retried\"} 1",
        "insights_delivery_attempts_total{outcome=\"failed\"} 1",
        "insights_subscriptions_removed_total{reason=\"gone\"} 1",
        "insights_delivery_attempt_duration_seconds_count 2",
        "insights_delivery_queue_depth 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let counter = |name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    let (writes, flushes) = (
        counter("insights_storage_writes_total"),
        counter("insights_storage_flushes_total"),
    );
    // The instance, the subscription, the report and the two attempts' results at least.
    assert!(writes >= 5, "{writes} writes");
    assert!((1..=writes).contains(&flushes), "{flushes} flushes");
}

#[tokio::test]
async fn a_graceful_stop_finishes_attempts_in_flight() {
    let app = spawn_app_builder().automatic_deliveries().spawn().await;
    let mut receiver = Receiver::start_gated().await;
    let (instance, _) = subscribed(&app, &receiver, "graceful").await;
    fire(&app, &instance).await;
    // The attempt is in flight: the receiver holds it.
    receiver.next().await;
    let dispatcher = app.dispatcher_handle();
    let stopped = tokio::spawn(app.stop());
    dispatcher.stopping().await;
    receiver.open_gate();
    let dir = stopped.await.unwrap();
    let app = spawn_app_builder().data_dir(dir).spawn().await;
    let delivered = app.deliveries(&instance, "status=delivered").await;
    assert_eq!(delivered.len(), 1, "the attempt in flight must be recorded");
    app.expect_no_more_callbacks(&mut receiver).await;
}
