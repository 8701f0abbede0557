//! A refresh cut off by SIGKILL: the real binary is killed while it ingests a large upload,
//! restarted on the same data dir, and the previous items are still what is read, the refresh
//! is failed with `interrupted`, and its refresh-failed trigger fires.

use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::CONTACTS;
use crate::helpers::{Receiver, TENANT, token};
use crate::process::{ServerProcess, serve_command};

/// Rows of the upload that is being ingested when the process is killed.
const LARGE_ROWS: usize = 400_000;

fn large_csv() -> Vec<u8> {
    let mut csv = String::from("ContactId,Name,City,Age,Vip,Joined,Score,Email,Segment,Note\n");
    for n in 0..LARGE_ROWS {
        csv.push_str(&format!(
            "{n},Name {n},City {},{},{},2024-01-{:02},{}.5,user{n}@example.com,s{},a note about row {n}\n",
            n % 97,
            n % 90,
            n % 2 == 0,
            n % 28 + 1,
            n % 1000,
            n % 5,
        ));
    }
    csv.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_killed_during_a_large_ingest_keeps_the_previous_items_and_fails_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let user = token(TENANT, false);
    let first = ServerProcess::start(serve_command(dir.path()));
    let api = format!("{}/api/v1", first.address);
    let call =
        |method: reqwest::Method, url: String| client.request(method, url).bearer_auth(&user);

    let created: Value = call(reqwest::Method::POST, format!("{api}/instances"))
        .json(&json!({"name": "crash"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = created["id"].as_str().unwrap().to_owned();
    let base = format!("{api}/instances/{instance}");
    let defined = call(reqwest::Method::PUT, format!("{base}/data-sources/crm"))
        .json(&json!({"name": "CRM", "format": "csv", "primaryKey": "ContactId", "source": {"kind": "upload"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(defined.status(), 201);
    for trigger in [
        "data-source-refresh-succeeded",
        "data-source-refresh-failed",
    ] {
        let subscribed = call(reqwest::Method::POST, format!("{base}/triggers/{trigger}"))
            .json(&json!({"notificationUrl": receiver.callback(trigger), "dataSourceId": "crm"}))
            .send()
            .await
            .unwrap();
        assert_eq!(subscribed.status(), 201);
    }
    let upload = |body: Vec<u8>| {
        call(
            reqwest::Method::PUT,
            format!("{base}/data-sources/crm/content"),
        )
        .header("content-type", "text/csv")
        .body(body)
        .send()
    };
    let refresh = || {
        call(
            reqwest::Method::POST,
            format!("{base}/data-sources/crm/refresh"),
        )
        .send()
    };

    // The previous items: three contacts, refreshed to the end (its trigger says when).
    assert_eq!(
        upload(CONTACTS.as_bytes().to_vec()).await.unwrap().status(),
        204
    );
    assert_eq!(refresh().await.unwrap().status(), 202);
    let succeeded = receiver.next().await.body;
    assert_eq!(succeeded["eventType"], "DataSourceRefreshSucceeded");
    assert_eq!(succeeded["rowCount"], 3);

    // A large upload, and the process killed once its refresh runs.
    assert_eq!(upload(large_csv()).await.unwrap().status(), 204);
    let started = refresh().await.unwrap();
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    let refresh_id = started["refreshId"].as_str().unwrap().to_owned();
    first.signal("KILL");
    drop(first);

    let second = ServerProcess::start(serve_command(dir.path()));
    let base = format!("{}/api/v1/instances/{instance}", second.address);
    let get = |path: String| async {
        let response = call(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    };
    let interrupted = get(format!("{base}/refreshes/{refresh_id}")).await;
    assert_eq!(interrupted["status"], "failed", "{interrupted}");
    assert_eq!(interrupted["errorCode"], "interrupted");
    let failed = receiver.next().await.body;
    assert_eq!(failed["eventType"], "DataSourceRefreshFailed");
    assert_eq!(failed["refreshId"], refresh_id.as_str());
    assert_eq!(failed["errorCode"], "interrupted");

    let entities = get(format!("{base}/entities")).await;
    assert_eq!(entities["value"][0]["itemCount"], 3, "{entities}");
    let page = get(format!("{base}/entities/crm/items")).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 3);
    assert_eq!(
        get(format!("{base}/entities/crm/items/3")).await["Name"],
        "Grace"
    );
    let catalog = get(format!("{base}/data-sources/crm")).await;
    assert_eq!(catalog["lastRefreshId"], refresh_id.as_str());
    assert_eq!(catalog["lastErrorCode"], "interrupted");
    // The lock went with the interrupted refresh: a new one starts.
    let again = client
        .post(format!("{base}/data-sources/crm/refresh"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
}

/// A full refresh killed while its data source stage ingests: after the restart the run and its
/// stage are failed with `interrupted`, `FullRefreshCompleted` says so, the profiles of the
/// last complete run are still what is read, and a new run can start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_refresh_killed_mid_run_keeps_the_last_results_and_fails_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let user = token(TENANT, false);
    let first = ServerProcess::start(serve_command(dir.path()));
    let api = format!("{}/api/v1", first.address);
    let call =
        |method: reqwest::Method, url: String| client.request(method, url).bearer_auth(&user);
    let created: Value = call(reqwest::Method::POST, format!("{api}/instances"))
        .json(&json!({"name": "crash"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = created["id"].as_str().unwrap().to_owned();
    let base = format!("{api}/instances/{instance}");
    let put = |path: &str, body: Value| {
        call(reqwest::Method::PUT, format!("{base}/{path}"))
            .json(&body)
            .send()
    };
    let defined = put(
        "data-sources/crm",
        json!({"name": "CRM", "format": "csv", "primaryKey": "ContactId", "source": {"kind": "upload"}}),
    )
    .await
    .unwrap();
    assert_eq!(defined.status(), 201);
    let unified = put(
        "unification",
        json!({"sources": [{"dataSourceId": "crm", "attributes": {"Name": "Name", "City": "City"}}],
               "rules": [{"name": "name", "conditions": [{"attribute": "Name", "normalize": ["lowercase"]}]}]}),
    )
    .await
    .unwrap();
    assert_eq!(unified.status(), 201);
    let subscribed = call(
        reqwest::Method::POST,
        format!("{base}/triggers/full-refresh-completed"),
    )
    .json(&json!({"notificationUrl": receiver.callback("done")}))
    .send()
    .await
    .unwrap();
    assert_eq!(subscribed.status(), 201);
    let upload = |body: Vec<u8>| {
        call(
            reqwest::Method::PUT,
            format!("{base}/data-sources/crm/content"),
        )
        .header("content-type", "text/csv")
        .body(body)
        .send()
    };
    let full_refresh = || call(reqwest::Method::POST, format!("{base}/refresh")).send();

    // A complete run: three profiles.
    assert_eq!(
        upload(CONTACTS.as_bytes().to_vec()).await.unwrap().status(),
        204
    );
    assert_eq!(full_refresh().await.unwrap().status(), 202);
    let completed = receiver.next().await.body;
    assert_eq!(completed["status"], "succeeded", "{completed}");

    // The next run is killed while it ingests a large upload.
    assert_eq!(upload(large_csv()).await.unwrap().status(), 204);
    let started = full_refresh().await.unwrap();
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    let run_id = started["refreshId"].as_str().unwrap().to_owned();
    first.signal("KILL");
    drop(first);

    let second = ServerProcess::start(serve_command(dir.path()));
    let base = format!("{}/api/v1/instances/{instance}", second.address);
    let get = |path: String| async {
        let response = call(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    };
    let run = get(format!("{base}/refreshes/{run_id}")).await;
    assert_eq!(
        (&run["status"], &run["errorCode"]),
        (&json!("failed"), &json!("interrupted")),
        "{run}"
    );
    let listed = get(format!("{base}/refreshes")).await;
    assert!(
        listed["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "running"),
        "{listed}"
    );
    let ended = receiver.next().await.body;
    assert_eq!(ended["eventType"], "FullRefreshCompleted");
    assert_eq!(ended["runId"], run_id.as_str());
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["initiatedBy"], "manual");

    let customers = get(format!("{base}/entities/Customer/items")).await;
    assert_eq!(
        customers["value"].as_array().unwrap().len(),
        3,
        "{customers}"
    );
    let again = client
        .post(format!("{base}/refresh"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        202,
        "the lock went with the interrupted run"
    );
}
