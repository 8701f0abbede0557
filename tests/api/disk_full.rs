//! A full disk, made real with a file size limit on the running binary (`prlimit`): writes
//! answer 503 `storage_unavailable` with JSON, readiness fails while liveness holds, no
//! callback is sent twice, and storage works again, without a restart, once there is room.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Resource, Rlimit, prlimit};
use serde_json::{Value, json};

use crate::helpers::{Receiver, TENANT, token};
use crate::process::{ServerProcess, serve_command};

const SUBSCRIBERS: usize = 10;
const EVENTS: usize = 3;

fn limit_file_size(server: &ServerProcess, bytes: Option<u64>) {
    let pid = Pid::from_raw(server.pid() as i32).expect("a child has a pid");
    prlimit(
        Some(pid),
        Resource::Fsize,
        Rlimit {
            current: bytes,
            maximum: None,
        },
    )
    .expect("the test may change its child's limits");
}

/// Polls `path` until it answers `status`, for at most 30 s: the writer reopens storage on
/// its own schedule, and this waits for that event, not for a set time.
async fn wait_for_status(client: &reqwest::Client, url: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answered = client.get(url).send().await.unwrap().status().as_u16();
        if answered == status {
            return;
        }
        assert!(Instant::now() < deadline, "{url} kept answering {answered}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the metrics until `line` is among them, for at most 30 s.
async fn wait_for_metric(client: &reqwest::Client, server: &ServerProcess, line: &str) {
    let url = format!("{}/metrics", server.address);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = client.get(&url).send().await.unwrap().text().await.unwrap();
        if metrics.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "never {line:?}:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The callbacks received: each delivery once, counted per event.
#[derive(Default)]
struct Seen {
    webhook_ids: HashSet<String>,
    per_event: HashMap<String, usize>,
}

impl Seen {
    fn take(&mut self, received: crate::helpers::Received) {
        let id = received.webhook_id.clone().unwrap();
        assert!(
            self.webhook_ids.insert(id.clone()),
            "delivery {id} was sent twice"
        );
        let event = received.body["eventId"].as_str().unwrap().to_owned();
        *self.per_event.entry(event).or_default() += 1;
    }
}

#[tokio::test]
async fn a_full_disk_answers_503_sends_nothing_twice_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start_gated().await;
    let server = ServerProcess::start(serve_command(dir.path()));
    let client = reqwest::Client::new();
    let api = format!("{}/api/v1", server.address);
    let user = token(TENANT, false);
    let platform = token(TENANT, true);
    let created: Value = client
        .post(format!("{api}/instances"))
        .bearer_auth(&user)
        .json(&json!({"name": "full disk"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = created["id"].as_str().unwrap().to_owned();
    for n in 0..SUBSCRIBERS {
        let answer = client
            .post(format!(
                "{api}/instances/{instance}/triggers/full-refresh-completed"
            ))
            .bearer_auth(&user)
            .json(&json!({"notificationUrl": receiver.callback(&format!("f{n}"))}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
    }
    let report = || {
        client
            .post(format!("{api}/instances/{instance}/reports/full-refresh"))
            .bearer_auth(&platform)
            .json(&json!({"status": "succeeded"}))
            .send()
    };
    let mut accepted = HashSet::new();
    for _ in 0..EVENTS {
        let answer = report().await.unwrap();
        assert_eq!(answer.status(), 202);
        let body: Value = answer.json().await.unwrap();
        accepted.insert(body["eventIds"][0].as_str().unwrap().to_owned());
    }
    // Every callback has arrived; the receiver holds its answers.
    let mut seen = Seen::default();
    for _ in 0..EVENTS * SUBSCRIBERS {
        seen.take(receiver.next().await);
    }

    // The disk fills up: the data file may not grow past what it holds now.
    let size = std::fs::metadata(dir.path().join("db")).unwrap().len();
    limit_file_size(&server, Some(size.saturating_sub(1)));
    receiver.open_gate();
    // The answers came, their results cannot be recorded: they are held, not sent again.
    let held = format!("insights_delivery_results_held {}", EVENTS * SUBSCRIBERS);
    wait_for_metric(&client, &server, &held).await;

    let refused = report().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "storage_unavailable", "{body}");
    let readyz = client
        .get(format!("{}/readyz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 503, "not ready while storage cannot write");
    let healthz = client
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200, "alive: storage recovers by itself");
    let still: Value = client
        .post(format!("{api}/instances"))
        .bearer_auth(&user)
        .json(&json!({"name": "while full"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still["code"], "storage_unavailable");

    // Room again: storage reopens by itself, the held results are recorded, and writes and
    // deliveries go on.
    limit_file_size(&server, None);
    wait_for_status(&client, &format!("{}/readyz", server.address), 200).await;
    let answer = report().await.unwrap();
    assert_eq!(
        answer.status(),
        202,
        "a write works again without a restart"
    );
    let body: Value = answer.json().await.unwrap();
    let last = body["eventIds"][0].as_str().unwrap().to_owned();
    for _ in 0..SUBSCRIBERS {
        seen.take(receiver.next().await);
    }
    assert_eq!(seen.per_event.get(&last), Some(&SUBSCRIBERS));
    wait_for_metric(&client, &server, "insights_delivery_queue_depth 0").await;
    wait_for_metric(&client, &server, "insights_delivery_results_held 0").await;
    // Whatever else arrived (a refused report whose write reached the disk anyway) is not a
    // repeat either.
    while let Some(received) = receiver.next_within(Duration::ZERO).await {
        seen.take(received);
    }
    for event in &accepted {
        assert_eq!(
            seen.per_event.get(event),
            Some(&SUBSCRIBERS),
            "event {event}"
        );
    }
    let delivered: Value = client
        .get(format!(
            "{api}/instances/{instance}/deliveries?status=delivered&$top=100"
        ))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attempts: Vec<usize> = delivered["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attempts"].as_array().unwrap().len())
        .collect();
    assert!(attempts.len() >= (EVENTS + 1) * SUBSCRIBERS);
    assert!(
        attempts.iter().all(|n| *n == 1),
        "one attempt each: {attempts:?}"
    );
    let logs = server.logs();
    assert!(logs.contains("storage is writable again"), "{logs}");
}
