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
