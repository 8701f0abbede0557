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
