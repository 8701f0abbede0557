//! API keys through the real command: create prints the key once, list never shows it, a
//! revoked key fails on its next call. The command works on a stopped server's database and,
//! through its admin socket, on a running one.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::{TENANT, spawn_app_builder};

/// Runs `insights-connector api-key <args>` on `data_dir`; returns stdout, failing on error.
/// Runs on the blocking pool: an in-process server answers the command's admin socket on the
/// test's own runtime, which must keep running meanwhile.
pub async fn api_key_command(data_dir: &Path, args: &[&str]) -> String {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_insights-connector"))
            .arg("api-key")
            .args(&args)
            .env("INSIGHTS_DATA_DIR", &data_dir)
            .env("INSIGHTS_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            output.status.success(),
            "api-key {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_api_key_is_created_used_listed_and_revoked() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let created = api_key_command(
        dir.path(),
        &[
            "create", "--tenant", TENANT, "--role", "platform", "--name", "ci",
        ],
    )
    .await;
    let key = created.lines().last().unwrap().trim().to_owned();
    assert!(
        key.starts_with("ick_"),
        "the key is the last line: {created}"
    );
    let id = key[4..36].to_owned();
    assert!(created.contains(&id), "the id is shown: {created}");

    let listed = api_key_command(dir.path(), &["list"]).await;
    let row = listed.lines().find(|line| line.contains(&id)).unwrap();
    for expected in [TENANT, "platform", "ci", "active"] {
        assert!(row.contains(expected), "{expected} missing from {row}");
    }
    assert!(!listed.contains(&key[37..]), "list never shows the secret");

    let app = spawn_app_builder().data_dir(Arc::clone(&dir)).spawn().await;
    let response = app
        .client
        .post(app.url("/api/v1/instances"))
        .header("X-API-Key", &key)
        .json(&json!({"name": "from a key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let instance: Value = response.json().await.unwrap();
    let report = app
        .client
        .post(app.url(&format!(
            "/api/v1/instances/{}/reports/unification",
            instance["id"].as_str().unwrap()
        )))
        .header("X-API-Key", &key)
        .json(&json!({"status": "succeeded"}))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 202, "the key carries the platform role");

    // While the server runs, the command goes through its admin socket.
    let created = api_key_command(dir.path(), &["create", "--tenant", TENANT]).await;
    let second = created.lines().last().unwrap().trim().to_owned();
    let response = app.get_with_key(&second, "/api/v1/instances").await;
    assert_eq!(
        response.status(),
        200,
        "a key made while serving works at once"
    );

    let revoked = api_key_command(dir.path(), &["revoke", &id]).await;
    assert!(revoked.contains(&id), "{revoked}");
    let response = app.get_with_key(&key, "/api/v1/instances").await;
    assert_eq!(
        response.status(),
        401,
        "a revoked key fails on its next call"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unauthenticated");
    let dir = app.stop().await;

    let listed = api_key_command(dir.path(), &["list"]).await;
    let row = listed.lines().find(|line| line.contains(&id)).unwrap();
    assert!(row.contains("revoked"), "{listed}");
    let app = spawn_app_builder().data_dir(dir).spawn().await;
    assert_eq!(
        app.get_with_key(&key, "/api/v1/instances").await.status(),
        401,
        "the revocation survives a restart"
    );
    assert_eq!(
        app.get_with_key(&second, "/api/v1/instances")
            .await
            .status(),
        200
    );
}
