//! The outbox survives SIGKILL: the real binary is killed while hundreds of deliveries are
//! pending, restarted on the same data dir, and every accepted event still arrives.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Receiver, TENANT, token};
use crate::process::{ServerProcess, serve_command};

const EVENTS: usize = 320;
const CLIENTS: usize = 8;

fn serve(data_dir: &std::path::Path, schedule: &str) -> ServerProcess {
    let mut command = serve_command(data_dir);
    command.env("INSIGHTS_RETRY_SCHEDULE", schedule);
    ServerProcess::start(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_accepted_event_is_lost_when_the_server_is_killed_with_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start().await;
    receiver.answer_by_default(503);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let (user, platform) = (token(TENANT, false), token(TENANT, true));

    let first = serve(dir.path(), &vec!["2s"; 30].join(","));
    let created: Value = client
        .post(format!("{}/api/v1/instances", first.address))
        .bearer_auth(&user)
        .json(&json!({"name": "crash"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = created["id"].as_str().unwrap().to_owned();
    let mut subscriptions = HashSet::new();
    for name in ["a", "b"] {
        let sub: Value = client
            .post(format!(
                "{}/api/v1/instances/{instance}/triggers/full-refresh-completed",
                first.address
            ))
            .bearer_auth(&user)
            .json(&json!({"notificationUrl": receiver.callback(name)}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        subscriptions.insert(sub["id"].as_str().unwrap().to_owned());
    }

    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (client, platform) = (client.clone(), platform.clone());
        let url = format!(
            "{}/api/v1/instances/{instance}/reports/full-refresh",
            first.address
        );
        clients.spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..EVENTS / CLIENTS {
                let response = client
                    .post(&url)
                    .bearer_auth(&platform)
                    .json(&json!({"status": "succeeded"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 202);
                let body: Value = response.json().await.unwrap();
                ids.push(body["eventIds"][0].as_str().unwrap().to_owned());
            }
            ids
        });
    }
    let mut accepted = HashSet::new();
    while let Some(ids) = clients.join_next().await {
        accepted.extend(ids.unwrap());
    }
    assert_eq!(accepted.len(), EVENTS);
    let pending: Value = client
        .get(format!(
            "{}/api/v1/instances/{instance}/deliveries?status=pending&$top=500",
            first.address
        ))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = pending["value"].as_array().unwrap().len();
    assert!(
        pending >= 200,
        "only {pending} deliveries pending before the kill"
    );

    first.signal("KILL");
    drop(first);
    receiver.answer_by_default(202);

    let _second = serve(dir.path(), "100ms,100ms,100ms");
    let mut missing: HashMap<String, HashSet<String>> = subscriptions
        .iter()
        .map(|sub| (sub.clone(), accepted.clone()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while missing.values().any(|m| !m.is_empty()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(received) = receiver.next_within(left).await else {
            let counts: Vec<_> = missing.values().map(HashSet::len).collect();
            panic!("deliveries never arrived after the restart: {counts:?} missing");
        };
        if received.status != 202 {
            continue;
        }
        let sub = received.body["subscriptionId"].as_str().unwrap();
        let event = received.body["eventId"].as_str().unwrap();
        if let Some(left) = missing.get_mut(sub) {
            left.remove(event);
        }
    }
}
