//! Tenants never see each other, whether they call with a token or an API key; the report API
//! needs the platform role.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, Receiver, TENANT, spawn_app_builder, token};

#[tokio::test]
async fn another_tenant_gets_404_for_every_resource() {
    let app = spawn_app_builder()
        .api_key(OTHER_TENANT, &["platform"])
        .spawn()
        .await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("private").await;
    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "ds", "status": "succeeded"}),
    )
    .await;
    app.report(
        &instance,
        "segment-size",
        &json!({"segmentId": "seg", "memberCount": 1}),
    )
    .await;
    app.report(
        &instance,
        "measure-value",
        &json!({"measureId": "m", "value": 1}),
    )
    .await;
    let (sub, _) = app
        .subscribe(
            &instance,
            "unification-completed",
            &json!({"notificationUrl": receiver.callback("p")}),
        )
        .await;
    let sub = sub["id"].as_str().unwrap();
    let url = receiver.callback("intruder");
    let base = format!("/api/v1/instances/{instance}");

    let intruder = token(OTHER_TENANT, true);
    let intruder_key = app.api_keys[0].clone();
    let requests: Vec<(Method, String, Value)> = vec![
        (Method::GET, base.clone(), Value::Null),
        (Method::GET, format!("{base}/subscriptions"), Value::Null),
        (
            Method::GET,
            format!("/api/v1/subscriptions/{sub}"),
            Value::Null,
        ),
        (
            Method::DELETE,
            format!("/api/v1/subscriptions/{sub}"),
            Value::Null,
        ),
        (Method::GET, format!("{base}/data-sources"), Value::Null),
        (Method::GET, format!("{base}/data-sources/ds"), Value::Null),
        (Method::GET, format!("{base}/segments"), Value::Null),
        (Method::GET, format!("{base}/segments/seg"), Value::Null),
        (Method::GET, format!("{base}/measures"), Value::Null),
        (Method::GET, format!("{base}/measures/m"), Value::Null),
        (
            Method::POST,
            format!("{base}/triggers/unification-completed"),
            json!({"notificationUrl": url}),
        ),
        (
            Method::POST,
            format!("{base}/triggers/data-source-refresh-failed"),
            json!({"notificationUrl": url}),
        ),
        (
            Method::POST,
            format!("{base}/reports/unification"),
            json!({"status": "succeeded"}),
        ),
        (
            Method::POST,
            format!("{base}/reports/segment-size"),
            json!({"segmentId": "seg", "memberCount": 2}),
        ),
    ];
    for (method, path, body) in &requests {
        for with_key in [false, true] {
            let request = app.client.request(method.clone(), app.url(path));
            let mut request = match with_key {
                false => request.bearer_auth(&intruder),
                true => request.header("X-API-Key", &intruder_key),
            };
            if !body.is_null() {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let who = if with_key { "API key" } else { "token" };
            assert_eq!(response.status(), 404, "{method} {path} with a {who}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["code"], "not_found", "{method} {path} with a {who}");
        }
    }
    for listed in [
        app.client
            .get(app.url("/api/v1/instances"))
            .bearer_auth(&intruder),
        app.client
            .get(app.url("/api/v1/instances"))
            .header("X-API-Key", &intruder_key),
    ] {
        let listed: Value = listed.send().await.unwrap().json().await.unwrap();
        assert_eq!(listed["value"], json!([]));
    }

    // Nothing the intruder tried changed the owner's data.
    assert_eq!(
        app.get(&format!("/api/v1/subscriptions/{sub}"))
            .await
            .status(),
        200
    );
    let segment: Value = app
        .get(&format!("{base}/segments/seg"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(segment["memberCount"], 1);
}

#[tokio::test]
async fn a_report_without_the_platform_role_is_403() {
    let app = spawn_app_builder().api_key(TENANT, &[]).spawn().await;
    let instance = app.create_instance("reports").await;
    let plain_key = app.api_keys[0].clone();
    for kind in [
        "data-source-refresh",
        "segment-size",
        "measure-value",
        "unification",
        "full-refresh",
    ] {
        let response = app
            .post_as(
                &token(TENANT, false),
                &format!("/api/v1/instances/{instance}/reports/{kind}"),
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 403, "{kind}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "forbidden");

        let response = app
            .client
            .post(app.url(&format!("/api/v1/instances/{instance}/reports/{kind}")))
            .header("X-API-Key", &plain_key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{kind} with an API key");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "forbidden");
    }
}
