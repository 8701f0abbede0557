//! Delivery benchmark on loopback (see BENCHMARKS.md): report-to-callback latency, fan-out of
//! one event to 1,000 subscriptions (warm) and to 10,000, durable report acceptance, plain
//! keep-alive POST loops (hyper and reqwest) for comparison, and resident memory at 100,000
//! idle subscriptions. Run with `cargo bench --bench delivery`; with
//! `-- --profile-fan-out` it runs only the warm fan-out, for ten seconds, under a profiler;
//! with `-- --log` the service logs as it does by default (to stderr).

mod post_loop;
mod receiver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use insights_connector::config::{Quotas, Settings, parse_rate_limit, parse_schedule};
use insights_connector::startup::Application;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The service binary's allocator (`src/main.rs`), so that the benchmark measures what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "benchmark-secret-long-enough";
/// The service's default per-host limit (`INSIGHTS_DELIVERY_CONCURRENCY_PER_HOST`).
const PER_HOST: usize = 128;
const WARM_FAN_OUT: usize = 1_000;
const WARM_ROUNDS: usize = 7;
const FAN_OUT: usize = 10_000;
const IDLE: usize = 100_000;
const LATENCY_SAMPLES: usize = 500;
const REPORT_CLIENTS: usize = 8;
const REPORTS: usize = 8_000;
/// POSTs of each plain loop (a few tenths of a second).
const LOOP_POSTS: usize = 30_000;

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

struct Api {
    base: String,
    client: reqwest::Client,
    user: String,
    platform: String,
}

impl Api {
    async fn send(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
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
        response
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> Value {
        self.send(token, path, body)
            .await
            .json()
            .await
            .expect("json")
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

    /// Reports a full refresh; answers once the service answered 202 (the event is durable).
    async fn report(&self, instance: &str) {
        self.send(
            &self.platform,
            &format!("/api/v1/instances/{instance}/reports/full-refresh"),
            &json!({"status": "succeeded"}),
        )
        .await;
    }

    /// A counter of the service's Prometheus metrics.
    async fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name}"))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One report to an instance with `count` subscriptions: how long until its 202, and until
/// the last of its callbacks arrived.
async fn fan_out(
    api: &Api,
    instance: &str,
    count: usize,
    arrivals: &mut mpsc::UnboundedReceiver<Instant>,
) -> (Duration, Duration) {
    while arrivals.try_recv().is_ok() {}
    let sent = Instant::now();
    api.report(instance).await;
    let accepted = sent.elapsed();
    let mut last = sent;
    for _ in 0..count {
        last = arrivals.recv().await.expect("a callback");
    }
    (accepted, last.duration_since(sent))
}

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        jwt_hs256_secret: Some(SECRET.parse().expect("secret")),
        callback_allow_private: true,
        retry_schedule: parse_schedule("1s").expect("schedule"),
        delivery_concurrency_per_host: PER_HOST,
        // The benchmark measures delivery, not the per-tenant limits.
        rate_limit: parse_rate_limit("100000000/60s").expect("limit"),
        report_rate_limit: parse_rate_limit("100000000/60s").expect("limit"),
        quotas: Quotas {
            max_subscriptions: IDLE as u64 * 2,
            ..Quotas::default()
        },
        ..Settings::defaults(dir).expect("the defaults")
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|arg| arg == "--log") {
        insights_connector::telemetry::init();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let app = Application::build(&settings(dir.path()))
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let (receiver_url, mut arrivals) = receiver::start().await;
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

    // Report-to-callback latency, one subscription.
    let one = api.instance("latency").await;
    api.subscribe_many(&one, &receiver_url, 1).await;
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let (_, took) = fan_out(&api, &one, 1, &mut arrivals).await;
        samples.push(took);
    }
    samples.sort();
    println!(
        "(a) report-to-callback latency, one subscription, {LATENCY_SAMPLES} sequential reports: p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );

    if std::env::args().any(|arg| arg == "--profile-fan-out") {
        // Only the warm fan-out, long enough for a profiler (see BENCHMARKS.md).
        let warm = api.instance("fan-out-1000").await;
        api.subscribe_many(&warm, &receiver_url, WARM_FAN_OUT).await;
        fan_out(&api, &warm, WARM_FAN_OUT, &mut arrivals).await;
        let flushes = api.metric("insights_storage_flushes_total").await;
        let started = Instant::now();
        let mut rounds = 0;
        while started.elapsed() < Duration::from_secs(10) {
            fan_out(&api, &warm, WARM_FAN_OUT, &mut arrivals).await;
            rounds += 1;
        }
        let rate = (rounds * WARM_FAN_OUT) as f64 / started.elapsed().as_secs_f64();
        let flushes = api.metric("insights_storage_flushes_total").await - flushes;
        println!(
            "profile: {rounds} rounds of {WARM_FAN_OUT} callbacks, {rate:.0} callbacks/s, {:.0} flushes a round",
            flushes / rounds as f64
        );
        return;
    }

    // One event to 1,000 subscriptions, warm (the first report opens the connections), each
    // round right after a plain hyper POST loop to the same receiver: each round's ratio
    // compares figures of the same moment, on a machine whose speed drifts.
    let warm = api.instance("fan-out-1000").await;
    api.subscribe_many(&warm, &receiver_url, WARM_FAN_OUT).await;
    fan_out(&api, &warm, WARM_FAN_OUT, &mut arrivals).await;
    let (mut rates, mut loops, mut ratios, mut accepts) = (vec![], vec![], vec![], vec![]);
    let flushes_before = api.metric("insights_storage_flushes_total").await;
    for _ in 0..WARM_ROUNDS {
        let limit = post_loop::hyper_loop(&receiver_url, PER_HOST, LOOP_POSTS).await;
        while arrivals.try_recv().is_ok() {}
        let (accepted, took) = fan_out(&api, &warm, WARM_FAN_OUT, &mut arrivals).await;
        let rate = WARM_FAN_OUT as f64 / took.as_secs_f64();
        rates.push(rate);
        loops.push(limit);
        ratios.push(rate / limit);
        accepts.push(ms(accepted));
    }
    let warm_flushes = api.metric("insights_storage_flushes_total").await - flushes_before;
    let reqwest_rate = post_loop::reqwest_loop(&receiver_url, PER_HOST, LOOP_POSTS).await;
    while arrivals.try_recv().is_ok() {}
    let rounds = rates
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (warm_rate, hyper_rate) = (median(&mut rates), median(&mut loops));
    println!(
        "(d) plain keep-alive POST loops, {PER_HOST} connections: hyper median {hyper_rate:.0} POSTs/s ({WARM_ROUNDS} loops of {LOOP_POSTS}); reqwest {reqwest_rate:.0} POSTs/s"
    );
    println!(
        "(b) fan-out to {WARM_FAN_OUT} subscriptions, warm, {WARM_ROUNDS} rounds: median {warm_rate:.0} callbacks/s (rounds {rounds}); report accepted in a median {:.1} ms; {:.0} flushes a round; median {:.2} of the hyper loop just before (rounds {}), {:.2} of the reqwest loop",
        median(&mut accepts),
        warm_flushes / WARM_ROUNDS as f64,
        median(&mut ratios.clone()),
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        warm_rate / reqwest_rate,
    );

    // One event to 10,000 subscriptions, cold.
    let fan = api.instance("fan-out-10000").await;
    let started = Instant::now();
    api.subscribe_many(&fan, &receiver_url, FAN_OUT).await;
    println!(
        "    ({FAN_OUT} subscriptions created in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let (accepted, took) = fan_out(&api, &fan, FAN_OUT, &mut arrivals).await;
    println!(
        "(b) fan-out to {FAN_OUT} subscriptions: report accepted ({FAN_OUT} deliveries written and flushed) in {:.0} ms; last callback {:.0} ms after the 202 ({:.0} callbacks/s)",
        ms(accepted),
        ms(took - accepted),
        FAN_OUT as f64 / (took - accepted).as_secs_f64()
    );

    // Durable reports from 8 concurrent clients (an instance without subscriptions).
    let quiet = api.instance("reports").await;
    let flushes_before = api.metric("insights_storage_flushes_total").await;
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
    let flushes = api.metric("insights_storage_flushes_total").await - flushes_before;
    println!(
        "(c) durable reports: {REPORTS} from {REPORT_CLIENTS} clients in {secs:.2} s = {:.0} reports/s, {flushes:.0} flushes ({:.1} reports per flush)",
        REPORTS as f64 / secs,
        REPORTS as f64 / flushes
    );

    // Resident memory at 100,000 idle subscriptions.
    let before = rss_kib();
    let idle = api.instance("idle").await;
    let added = IDLE - FAN_OUT - WARM_FAN_OUT - 1;
    let started = Instant::now();
    api.subscribe_many(&idle, "http://192.0.2.1", added).await;
    let after = rss_kib();
    println!(
        "(e) resident memory: {} MiB with {IDLE} subscriptions ({} MiB before the last {added}, created in {:.0} s): {:.2} KiB per subscription (whole process, receiver and clients included)",
        after / 1024,
        before / 1024,
        started.elapsed().as_secs_f64(),
        (after.saturating_sub(before)) as f64 / added as f64
    );
}
