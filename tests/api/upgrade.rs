//! A data dir written by the first release keeps working through the API: subscriptions and
//! their `Location` URLs, baselines, idempotency keys, dead letters and pending deliveries,
//! and API keys (fixture: `tests/fixtures/stored/v1/`).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_builder};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stored/v1");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

async fn first_release_app() -> (TestApp, Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(FIXTURE).join("data"), dir.path());
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURE}/{name}")).unwrap())
            .unwrap()
    };
    let manifest = read("manifest.json");
    // The clock reads as when the fixture was written: its pending delivery is not due yet
    // and its idempotency key is still kept, whatever day the test runs.
    let written = manifest["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["attempts"].as_array().unwrap())
        .map(|a| {
            a["at"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        })
        .max()
        .unwrap();
    let app = spawn_app_builder()
        .data_dir(Arc::new(dir))
        .clock_starting_at(written)
        .spawn()
        .await;
    (app, manifest, read("records.json"))
}

#[tokio::test]
async fn a_first_release_data_dir_serves_its_subscriptions_keys_and_deliveries() {
    let (app, manifest, records) = first_release_app().await;
    let instance = manifest["instance"].as_str().unwrap();

    // The API key made then still authenticates.
    let key = manifest["apiKey"].as_str().unwrap();
    let listed: Value = app
        .get_with_key(key, "/api/v1/instances")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][0]["id"], json!(instance));

    // The subscriptions, as listed then.
    let subscriptions: Value = app
        .get(&format!("/api/v1/instances/{instance}/subscriptions"))
        .await
        .json()
        .await
        .unwrap();
    let ids = |list: &Value| -> Vec<Value> {
        list["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect()
    };
    assert_eq!(ids(&subscriptions), ids(&manifest["listedSubscriptions"]));

    // Subscribing again with what a stored subscription holds answers that one.
    let stored_segment = records["subscriptionid_subscription"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["value"]["json"])
        .find(|s| s["filter"]["type"] == "threshold" && s["filter"]["kind"] == "segment")
        .unwrap();
    let (again, _) = app
        .subscribe(
            instance,
            "segment-threshold-crossed",
            &json!({"notificationUrl": stored_segment["callback"], "segmentId": "vip", "threshold": 100}),
        )
        .await;
    assert_eq!(again["id"], stored_segment["id"]);

    // A Location handed out then unsubscribes, with no other credential.
    let location = manifest["locations"]["refreshFailedAny"].as_str().unwrap();
    let deleted = app.client.delete(app.url(location)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let id = manifest["subscriptions"]["refreshFailedAny"]["id"]
        .as_str()
        .unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/subscriptions/{id}"))
            .await
            .status(),
        404
    );

    // A report retried with the idempotency key used then answers what it answered then.
    let replay = app
        .client
        .post(app.url(&format!(
            "/api/v1/instances/{instance}/reports/data-source-refresh"
        )))
        .bearer_auth(&app.platform_token)
        .header(
            "Idempotency-Key",
            manifest["idempotency"]["key"].as_str().unwrap(),
        )
        .json(&manifest["idempotency"]["body"])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 202);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay, manifest["idempotency"]["answer"]);

    // The segment keeps its last value, the baseline of its subscriptions.
    let segment: Value = app
        .get(&format!("/api/v1/instances/{instance}/segments/vip"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(segment, manifest["segment"]);

    // The dead letter and the pending delivery are listed as they were, and a retry of the
    // dead letter makes one more attempt with the same id.
    let failed = app.deliveries(instance, "status=failed").await;
    assert_eq!(failed.len(), 1);
    let then_failed = manifest["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "failed")
        .unwrap();
    assert_eq!(failed[0]["id"], then_failed["id"]);
    assert_eq!(failed[0]["attempts"], then_failed["attempts"]);
    let pending = app.deliveries(instance, "status=pending").await;
    assert_eq!(pending.len(), 1);
    let retry = app
        .post(
            &format!(
                "/api/v1/deliveries/{}/retry",
                failed[0]["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(retry.status(), 202);
    assert_eq!(
        app.run_due().await,
        1,
        "the retried dead letter is attempted now"
    );
    let after = app
        .get(&format!(
            "/api/v1/instances/{instance}/deliveries?subscriptionId={}",
            then_failed["subscriptionId"].as_str().unwrap()
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(after["value"][0]["id"], then_failed["id"]);
    assert_eq!(after["value"][0]["attempts"].as_array().unwrap().len(), 2);
}
