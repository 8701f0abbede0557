//! Delivery benchmark on loopback (see BENCHMARKS.md): report-to-callback latency, fan-out
//! throughput, durable report acceptance, a plain keep-alive POST loop for comparison, and
//! resident memory at 100,000 idle subscriptions. Run with `cargo bench --bench delivery`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use insights_connector::config::{Settings, parse_duration, parse_rate_limit, parse_schedule};
use insights_connector::startup::Application;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const SECRET: &str = "benchmark-secret-long-enough";
const PER_HOST: usize = 64;
const FAN_OUT: usize = 10_000;
const IDLE: usize = 100_000;
const LATENCY_SAMPLES: usize = 500;
const REPORT_CLIENTS: usize = 8;
const REPORTS: usize = 4_000;

fn token(platform: bool) -> String {
    let roles: Vec<&str> = if platform { vec!["platform"] } else { vec![] };
    let claims = json!({"tid": "bench", "oid": "bench", "roles": roles,
        "exp": chrono::Utc::now().timestamp() + 3600});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token")
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A fast receiver: answers 204 and reports the arrival time of each callback.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Instant>) {
    let (tx, rx) = mpsc::unbounded_channel::<Instant>();
    let tx = web::Data::new(tx);
    let server = HttpServer::new(move || {
        App::new().app_data(tx.clone()).default_service(web::to(
            |tx: web::Data<mpsc::UnboundedSender<Instant>>, _body: web::Bytes| async move {
                let _ = tx.send(Instant::now());
                HttpResponse::NoContent().finish()
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .expect("receiver binds");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}"), rx)
}

struct Api {
    base: String,
    client: reqwest::Client,
    user: String,
    platform: String,
}

impl Api {
    async fn post(&self, token: &str, path: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    async fn instance(&self, name: &str) -> String {
        let body = self
            .post(&self.user, "/api/v1/instances", &json!({"name": name}))
            .await;
        body["id"].as_str().expect("id").to_owned()
    }

    /// `count` subscriptions to distinct URLs on `receiver`, from 16 clients at once.
    async fn subscribe_many(self: &Arc<Self>, instance: &str, receiver: &str, count: usize) {
        let mut tasks = tokio::task::JoinSet::new();
        let clients = 16;
        for c in 0..clients {
            let (api, instance, receiver) =
                (Arc::clone(self), instance.to_owned(), receiver.to_owned());
            tasks.spawn(async move {
                for i in (c..count).step_by(clients) {
                    let path =
                        format!("/api/v1/instances/{instance}/triggers/full-refresh-completed");
                    let url = format!("{receiver}/flow/{i}?sig=s{i}");
                    api.post(&api.user, &path, &json!({"notificationUrl": url}))
                        .await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn report(&self, instance: &str) {
        self.post(
            &self.platform,
            &format!("/api/v1/instances/{instance}/reports/full-refresh"),
            &json!({"status": "succeeded"}),
        )
        .await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        public_url: None,
        jwt_hs256_secret: Some(SECRET.parse().expect("secret")),
        callback_allow_private: true,
        retry_schedule: parse_schedule("1s").expect("schedule"),
        delivery_timeout: parse_duration("15s").expect("timeout"),
        delivery_concurrency: 256,
        delivery_concurrency_per_host: PER_HOST,
        delivery_retention: parse_duration("7d").expect("retention"),
        callback_404_limit: 3,
        workers: 0,
        jwks_url: None,
        jwt_audience: Vec::new(),
        jwt_issuer: Vec::new(),
        allowed_tenants: Vec::new(),
        jwks_refetch_interval: parse_duration("60s").expect("interval"),
        client_request_timeout: parse_duration("5s").expect("timeout"),
        aad_client_id: None,
        aad_resource_uri: None,
        // The benchmark measures delivery, not the per-tenant limits.
        rate_limit: parse_rate_limit("100000000/60s").expect("limit"),
        report_rate_limit: parse_rate_limit("100000000/60s").expect("limit"),
        import_dir: None,
        upload_limit: 100 << 20,
        demo: false,
        quotas: Default::default(),
    };
    let app = Application::build(&settings).await.expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let (receiver_url, mut arrivals) = receiver().await;
    let api = Arc::new(Api {
        base,
        client: reqwest::Client::new(),
        user: token(false),
        platform: token(true),
    });
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // (a) report-to-callback latency, one subscription.
    let one = api.instance("latency").await;
    api.subscribe_many(&one, &receiver_url, 1).await;
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let sent = Instant::now();
        api.report(&one).await;
        let arrived = arrivals.recv().await.expect("a callback");
        samples.push(arrived.duration_since(sent));
    }
    samples.sort();
    println!(
        "(a) report-to-callback latency, {LATENCY_SAMPLES} sequential reports: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3
    );

    // (b) one event fanned out to 10,000 subscriptions.
    let fan = api.instance("fan-out").await;
    let started = Instant::now();
    api.subscribe_many(&fan, &receiver_url, FAN_OUT).await;
    println!(
        "    ({FAN_OUT} subscriptions created in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let sent = Instant::now();
    api.report(&fan).await;
    let accepted = sent.elapsed();
    let mut last = sent;
    for _ in 0..FAN_OUT {
        last = arrivals.recv().await.expect("a callback");
    }
    let fan_secs = last.duration_since(sent).as_secs_f64();
    let fan_rate = FAN_OUT as f64 / fan_secs;
    let after_accept = FAN_OUT as f64 / (fan_secs - accepted.as_secs_f64());
    println!(
        "(b) fan-out: {FAN_OUT} callbacks in {fan_secs:.2} s from the report = {fan_rate:.0} callbacks/s; report accepted (10,000 outbox records written and flushed) in {:.0} ms; {after_accept:.0} callbacks/s after the 202",
        accepted.as_secs_f64() * 1e3
    );

    // (c) durable reports from 8 concurrent clients (an instance without subscriptions).
    let quiet = api.instance("reports").await;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..REPORT_CLIENTS {
        let (api, quiet) = (Arc::clone(&api), quiet.clone());
        tasks.spawn(async move {
            for _ in 0..REPORTS / REPORT_CLIENTS {
                api.report(&quiet).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = started.elapsed().as_secs_f64();
    println!(
        "(c) durable reports: {REPORTS} from {REPORT_CLIENTS} clients in {secs:.2} s = {:.0} reports/s",
        REPORTS as f64 / secs
    );

    // (d) a plain keep-alive POST loop against the same receiver, same concurrency per host.
    let body = serde_json::to_vec(&json!({"eventId": "00000000-0000-0000-0000-000000000000",
        "eventType": "FullRefreshCompleted", "status": "succeeded"}))
    .expect("body");
    let posted = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(PER_HOST)
        .build()
        .expect("client");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..PER_HOST {
        let (client, body, url, posted) = (
            client.clone(),
            body.clone(),
            format!("{receiver_url}/flow/{c}?sig=x"),
            Arc::clone(&posted),
        );
        tasks.spawn(async move {
            for _ in 0..FAN_OUT / PER_HOST {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("post");
                let _ = response.bytes().await;
                posted.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let loop_secs = started.elapsed().as_secs_f64();
    let count = posted.load(Ordering::Relaxed);
    while arrivals.try_recv().is_ok() {}
    let loop_rate = count as f64 / loop_secs;
    println!(
        "(d) plain keep-alive POST loop, {PER_HOST} concurrent: {count} in {loop_secs:.2} s = {loop_rate:.0} POSTs/s; (b)/(d) = {:.2} from the report, {:.2} after the 202",
        fan_rate / loop_rate,
        after_accept / loop_rate
    );

    // (e) resident memory at 100,000 idle subscriptions.
    let before = rss_kib();
    let idle = api.instance("idle").await;
    let started = Instant::now();
    api.subscribe_many(&idle, "http://192.0.2.1", IDLE - FAN_OUT - 1)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib();
    println!(
        "(e) resident memory: {} MiB with {IDLE} subscriptions ({} MiB before the last {}, created in {:.0} s): {:.2} KiB per subscription (whole process, receiver and clients included)",
        after / 1024,
        before / 1024,
        IDLE - FAN_OUT - 1,
        started.elapsed().as_secs_f64(),
        (after.saturating_sub(before)) as f64 / (IDLE - FAN_OUT - 1) as f64
    );
}
