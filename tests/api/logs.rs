//! No secret reaches the logs: the real binary, logging at debug, runs a full scenario with
//! every kind of credential and secret, and its stderr is searched for each of them.

use serde_json::json;

use crate::api_keys::api_key_command;
use crate::helpers::{Receiver, SECRET, TENANT, token};
use crate::identity::{AUDIENCE, ISSUERS, JwksServer, azure_claims, kid, rs256_token};
use crate::process::{ServerProcess, serve_command};

#[tokio::test]
async fn a_full_scenario_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let created = api_key_command(dir.path(), &["create", "--tenant", TENANT]).await;
    let api_key = created.lines().last().unwrap().trim().to_owned();
    let jwks = JwksServer::start(&["a"]).await;
    let mut receiver = Receiver::start().await;

    let mut command = serve_command(dir.path());
    command
        .env("INSIGHTS_JWKS_URL", &jwks.url)
        .env("INSIGHTS_JWT_AUDIENCE", AUDIENCE)
        .env("INSIGHTS_JWT_ISSUER", ISSUERS)
        .env("INSIGHTS_RETRY_SCHEDULE", "20ms")
        .env("INSIGHTS_LOG", "debug");
    let mut server = ServerProcess::start(command);
    let base = server.address.clone();
    let client = reqwest::Client::new();

    let flow_token = token(TENANT, false);
    let platform_token = token(TENANT, true);
    let azure_token = rs256_token("a", &kid("a"), &azure_claims(TENANT));
    let sig = format!("sig{}", uuid::Uuid::new_v4().simple());
    let callback = format!("{}/flows/logs/run?api-version=1&sig={sig}", receiver.url);

    let instance: serde_json::Value = client
        .post(format!("{base}/api/v1/instances"))
        .bearer_auth(&flow_token)
        .json(&json!({"name": "logged"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = instance["id"].as_str().unwrap().to_owned();
    let subscribed = client
        .post(format!(
            "{base}/api/v1/instances/{instance}/triggers/unification-completed"
        ))
        .bearer_auth(&azure_token)
        .json(&json!({"notificationUrl": callback}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);
    let location = subscribed.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let unsubscribe_secret = location.split_once("secret=").unwrap().1.to_owned();
    let listed = client
        .get(format!("{base}/api/v1/instances/{instance}/subscriptions"))
        .header("X-API-Key", &api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let refused = client
        .get(format!("{base}/api/v1/instances"))
        .header("X-API-Key", format!("{api_key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let reported = client
        .post(format!(
            "{base}/api/v1/instances/{instance}/reports/unification"
        ))
        .bearer_auth(&platform_token)
        .json(&json!({"status": "succeeded"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status(), 202);
    receiver.next().await;
    let deleted = client.delete(&location).send().await.unwrap();
    assert_eq!(deleted.status(), 204);

    server.signal("TERM");
    assert!(server.wait().success());

    let logs = server.logs();
    assert!(logs.contains("unsubscribed"), "the scenario was logged");
    let secrets = [
        ("the HS256 token", flow_token.as_str()),
        ("the platform token", platform_token.as_str()),
        ("the Azure AD token", azure_token.as_str()),
        ("the API key", api_key.as_str()),
        ("the API key's secret", &api_key[37..]),
        ("the unsubscribe secret", unsubscribe_secret.as_str()),
        ("the callback signature", sig.as_str()),
        ("the HS256 shared secret", SECRET),
    ];
    for (what, secret) in secrets {
        assert!(!logs.contains(secret), "{what} leaked into the logs");
    }
}

/// Every log line of a request names its id and route pattern, never the raw path; the id is
/// the caller's `X-Request-Id` when it is a sane token, else a new one, and it is echoed.
#[tokio::test]
async fn each_request_logs_its_id_and_route_and_echoes_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut server = ServerProcess::start(serve_command(dir.path()));
    let base = server.address.clone();
    let client = reqwest::Client::new();
    let flow_token = token(TENANT, false);

    let created = client
        .post(format!("{base}/api/v1/instances"))
        .bearer_auth(&flow_token)
        .header("X-Request-Id", "create-1")
        .json(&json!({"name": "traced"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.headers()["x-request-id"], "create-1");
    let instance: serde_json::Value = created.json().await.unwrap();
    let instance = instance["id"].as_str().unwrap().to_owned();
    let subscribed = client
        .post(format!(
            "{base}/api/v1/instances/{instance}/triggers/full-refresh-completed"
        ))
        .bearer_auth(&flow_token)
        .header("X-Request-Id", "subscribe-2")
        .json(&json!({"notificationUrl": receiver.callback("traced")}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);
    assert_eq!(subscribed.headers()["x-request-id"], "subscribe-2");
    let insane = client
        .get(format!("{base}/api/v1/instances/{instance}"))
        .bearer_auth(&flow_token)
        .header("X-Request-Id", "has space")
        .send()
        .await
        .unwrap();
    let generated = insane.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !generated.is_empty() && generated != "has space",
        "an id that is no sane token is replaced: {generated}"
    );

    server.signal("TERM");
    assert!(server.wait().success());
    let logs = server.logs();
    let line_of = |id: &str, message: &str| {
        logs.lines()
            .find(|line| line.contains(&format!("request_id={id}")) && line.contains(message))
            .unwrap_or_else(|| panic!("no {message:?} line of request {id}:\n{logs}"))
            .to_owned()
    };
    let line = line_of("create-1", "request status=201");
    assert!(line.contains("route=/api/v1/instances"), "{line}");
    let line = line_of("subscribe-2", "subscribed");
    assert!(
        line.contains("route=/api/v1/instances/{instanceId}/triggers/full-refresh-completed"),
        "a handler's own line carries the route too: {line}"
    );
    let line = line_of(&generated, "request status=200");
    assert!(
        line.contains("route=/api/v1/instances/{instanceId}"),
        "{line}"
    );
    assert!(!logs.contains(&instance), "a raw path reached the logs");
    assert!(!logs.contains("has space"), "an insane id reached the logs");
}
