//! Bad input gets a clear JSON error with the right status, and nothing stored is harmed.

use serde_json::{Value, json};

use crate::helpers::{Receiver, SECRET, TENANT, spawn_app, spawn_app_builder};

enum Auth {
    None,
    User,
    Platform,
    Raw(String),
}

struct Case {
    why: &'static str,
    method: &'static str,
    /// `{i}` stands for an existing instance id.
    path: &'static str,
    auth: Auth,
    content_type: &'static str,
    body: String,
    extra_header: Option<(&'static str, String)>,
    status: u16,
    code: &'static str,
}

fn case(
    why: &'static str,
    method: &'static str,
    path: &'static str,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        why,
        method,
        path,
        auth: Auth::User,
        content_type: "application/json",
        body: body.to_owned(),
        extra_header: None,
        status,
        code,
    }
}

fn signed(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn cases() -> Vec<Case> {
    let now = chrono::Utc::now().timestamp();
    let sub_url = "http://127.0.0.1:9/flows/x/run?sig=s";
    vec![
        Case {
            auth: Auth::None,
            ..case(
                "no credentials",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        Case {
            auth: Auth::Raw("Bearer garbage".into()),
            ..case(
                "a garbage token",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        Case {
            auth: Auth::Raw("Basic dXNlcjpwdw==".into()),
            ..case(
                "another scheme",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        Case {
            auth: Auth::Raw(format!(
                "Bearer {}",
                signed(
                    json!({"tid": TENANT, "sub": "u", "exp": now - 3600}),
                    SECRET
                )
            )),
            ..case(
                "an expired token",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        Case {
            auth: Auth::Raw(format!(
                "Bearer {}",
                signed(
                    json!({"tid": TENANT, "sub": "u", "exp": now + 3600}),
                    "some-other-secret-entirely"
                )
            )),
            ..case(
                "a wrong signature",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        Case {
            auth: Auth::Raw(format!(
                "Bearer {}",
                signed(json!({"sub": "u", "exp": now + 3600}), SECRET)
            )),
            ..case(
                "a token without a tenant",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        Case {
            auth: Auth::Raw(format!(
                "Bearer {}",
                signed(json!({"tid": TENANT, "sub": "u"}), SECRET)
            )),
            ..case(
                "a token without exp",
                "GET",
                "/api/v1/instances",
                "",
                401,
                "unauthenticated",
            )
        },
        case(
            "malformed JSON",
            "POST",
            "/api/v1/instances",
            "{\"name\": ",
            400,
            "malformed_json",
        ),
        Case {
            content_type: "text/plain",
            ..case(
                "a wrong content type",
                "POST",
                "/api/v1/instances",
                r#"{"name": "x"}"#,
                415,
                "unsupported_media_type",
            )
        },
        case(
            "a body over the limit",
            "POST",
            "/api/v1/instances",
            &format!(r#"{{"name": "{}"}}"#, "x".repeat(100_000)),
            413,
            "payload_too_large",
        ),
        case(
            "a missing field",
            "POST",
            "/api/v1/instances",
            "{}",
            422,
            "invalid_request",
        ),
        case(
            "a field of the wrong type",
            "POST",
            "/api/v1/instances",
            r#"{"name": 5}"#,
            422,
            "invalid_request",
        ),
        case(
            "an empty name",
            "POST",
            "/api/v1/instances",
            r#"{"name": "   "}"#,
            422,
            "invalid_request",
        ),
        case(
            "an unknown path",
            "GET",
            "/api/v1/nothing-here",
            "",
            404,
            "not_found",
        ),
        case(
            "a wrong method",
            "PUT",
            "/api/v1/instances",
            "",
            405,
            "method_not_allowed",
        ),
        case(
            "an instance id that is no id",
            "GET",
            "/api/v1/instances/not-a-uuid",
            "",
            404,
            "not_found",
        ),
        case(
            "an unknown instance",
            "GET",
            "/api/v1/instances/00000000-0000-4000-8000-000000000000",
            "",
            404,
            "not_found",
        ),
        case(
            "a relative notificationUrl",
            "POST",
            "/api/v1/instances/{i}/triggers/full-refresh-completed",
            r#"{"notificationUrl": "/run"}"#,
            422,
            "invalid_notification_url",
        ),
        case(
            "an ftp notificationUrl",
            "POST",
            "/api/v1/instances/{i}/triggers/full-refresh-completed",
            r#"{"notificationUrl": "ftp://example.com/run"}"#,
            422,
            "invalid_notification_url",
        ),
        case(
            "no notificationUrl",
            "POST",
            "/api/v1/instances/{i}/triggers/full-refresh-completed",
            "{}",
            422,
            "invalid_request",
        ),
        case(
            "a threshold that is a string",
            "POST",
            "/api/v1/instances/{i}/triggers/segment-threshold-crossed",
            &format!(r#"{{"notificationUrl": "{sub_url}", "segmentId": "s", "threshold": "ten"}}"#),
            422,
            "invalid_request",
        ),
        case(
            "a segment id with a slash",
            "POST",
            "/api/v1/instances/{i}/triggers/segment-threshold-crossed",
            &format!(r#"{{"notificationUrl": "{sub_url}", "segmentId": "a/b", "threshold": 1}}"#),
            422,
            "invalid_request",
        ),
        Case {
            auth: Auth::Platform,
            ..case(
                "an unknown refresh status",
                "POST",
                "/api/v1/instances/{i}/reports/data-source-refresh",
                r#"{"dataSourceId": "d", "status": "maybe"}"#,
                422,
                "invalid_request",
            )
        },
        Case {
            auth: Auth::Platform,
            ..case(
                "an unknown report field",
                "POST",
                "/api/v1/instances/{i}/reports/unification",
                r#"{"status": "succeeded", "profiles": 3}"#,
                422,
                "invalid_request",
            )
        },
        Case {
            auth: Auth::Platform,
            ..case(
                "a negative member count",
                "POST",
                "/api/v1/instances/{i}/reports/segment-size",
                r#"{"segmentId": "s", "memberCount": -1}"#,
                422,
                "invalid_request",
            )
        },
        Case {
            auth: Auth::Platform,
            ..case(
                "a timestamp that is no time",
                "POST",
                "/api/v1/instances/{i}/reports/unification",
                r#"{"status": "succeeded", "startedAt": "yesterday"}"#,
                422,
                "invalid_request",
            )
        },
        Case {
            auth: Auth::Platform,
            extra_header: Some(("Idempotency-Key", "k".repeat(300))),
            ..case(
                "an idempotency key that is too long",
                "POST",
                "/api/v1/instances/{i}/reports/unification",
                r#"{"status": "succeeded"}"#,
                400,
                "invalid_idempotency_key",
            )
        },
    ]
}

#[tokio::test]
async fn bad_inputs_get_clear_json_errors_and_harm_nothing() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let instance = app.create_instance("keep me").await;
    let (sub, _) = app
        .subscribe(
            &instance,
            "unification-completed",
            &json!({"notificationUrl": receiver.callback("k")}),
        )
        .await;

    for case in cases() {
        let path = case.path.replace("{i}", &instance);
        let mut request = app
            .client
            .request(case.method.parse().unwrap(), app.url(&path))
            .header("content-type", case.content_type);
        request = match &case.auth {
            Auth::None => request,
            Auth::User => request.bearer_auth(&app.token),
            Auth::Platform => request.bearer_auth(&app.platform_token),
            Auth::Raw(value) => request.header("authorization", value),
        };
        if let Some((name, value)) = &case.extra_header {
            request = request.header(*name, value);
        }
        if !case.body.is_empty() {
            request = request.body(case.body.clone());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), case.status, "{}", case.why);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{}: {content_type}",
            case.why
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], case.code, "{}: {body}", case.why);
        assert!(
            body["message"].as_str().is_some_and(|m| m.len() > 10),
            "{}: {body}",
            case.why
        );
    }

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let listed: Value = app.get("/api/v1/instances").await.json().await.unwrap();
    assert_eq!(
        listed["value"].as_array().unwrap().len(),
        1,
        "no instance was added or lost"
    );
    let read = app
        .get(&format!(
            "/api/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(read.status(), 200, "the subscription is intact");
}

#[tokio::test]
async fn callbacks_to_private_addresses_are_refused_unless_allowed() {
    let app = spawn_app_builder()
        .allow_private_callbacks(false)
        .spawn()
        .await;
    let instance = app.create_instance("ssrf").await;
    let targets = [
        ("http://127.0.0.1/run", "loopback"),
        (
            "http://localhost:8080/run",
            "a name that resolves to loopback",
        ),
        ("http://10.1.2.3/run", "10.0.0.0/8"),
        ("http://172.16.0.1/run", "172.16.0.0/12"),
        ("http://192.168.0.10/run", "192.168.0.0/16"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://100.64.0.1/run", "CGNAT"),
        ("http://[::1]/run", "IPv6 loopback"),
        ("http://[fd00::1]/run", "IPv6 unique local"),
        ("http://0.0.0.0/run", "unspecified"),
    ];
    for (url, why) in targets {
        let response = app
            .post(
                &format!("/api/v1/instances/{instance}/triggers/full-refresh-completed"),
                &json!({"notificationUrl": url}),
            )
            .await;
        assert_eq!(response.status(), 422, "{why}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "notification_url_not_allowed", "{why}");
    }
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/subscriptions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"], json!([]));
}
