//! Full refresh benchmark (see BENCHMARKS.md): the data of `engine_unify` (two customer
//! sources of 500,000 records each, 1,000,000 orders) as three `file` data sources, with the
//! same unification (two rules), two customer measures, one business measure and three
//! segments, all defined through the HTTP API of a running service; then one full refresh
//! (`StartFullRefresh`), timed as a whole and per stage, with the peak resident memory of the
//! process. Run with `cargo bench --bench full_refresh`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use insights_connector::config::{Settings, parse_rate_limit};
use insights_connector::domain::{CatalogKind, InstanceId, RefreshId};
use insights_connector::engine::Value;
use insights_connector::startup::{Application, Controls};
use serde_json::{Value as Json, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

#[path = "support/generated.rs"]
mod generated;
use generated::{Table, memory_mib, report, reset_peak};

const SECRET: &str = "full-refresh-benchmark-secret";
const TENANT: &str = "bench";

/// The stage lines the full refresh logs (`stage`, `elapsed_ms`), in order.
#[derive(Clone, Default)]
struct Stages(Arc<Mutex<Vec<(String, u64)>>>);

impl<S: tracing::Subscriber> Layer<S> for Stages {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut line = StageLine::default();
        event.record(&mut line);
        if let (Some(stage), Some(ms)) = (line.stage, line.elapsed_ms) {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((stage, ms));
        }
    }
}

#[derive(Default)]
struct StageLine {
    stage: Option<String>,
    elapsed_ms: Option<u64>,
}

impl Visit for StageLine {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "stage" {
            self.stage = Some(value.to_owned());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "elapsed_ms" {
            self.elapsed_ms = Some(value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// Writes a generated table as a CSV file; answers its size in bytes.
fn write_csv(dir: &Path, table: Table<impl Iterator<Item = Vec<Value>>>) -> u64 {
    let path = dir.join(format!("{}.csv", table.name));
    let mut writer = csv::Writer::from_path(&path).expect("a CSV file");
    writer
        .write_record(table.fields.iter().map(|(name, _)| *name))
        .expect("the header");
    let mut cells: Vec<String> = Vec::new();
    for row in table.rows {
        cells.clear();
        cells.extend(row.iter().map(|value| match value {
            Value::Null => String::new(),
            Value::Integer(n) => n.to_string(),
            Value::Number(x) => x.get().to_string(),
            Value::String(s) => s.clone(),
            other => panic!("the generator writes no {other:?}"),
        }));
        writer.write_record(&cells).expect("a row");
    }
    writer.flush().expect("written");
    std::fs::metadata(&path).expect("written").len()
}

fn settings(data_dir: &Path, import_dir: &Path) -> Settings {
    Settings {
        jwt_hs256_secret: Some(SECRET.parse().expect("a secret")),
        workers: 1,
        rate_limit: parse_rate_limit("1000/60s").expect("a rate"),
        import_dir: Some(import_dir.to_path_buf()),
        ..Settings::defaults(data_dir).expect("the defaults")
    }
}

fn token() -> String {
    let claims = json!({
        "tid": TENANT,
        "oid": "benchmark",
        "roles": [],
        "exp": chrono::Utc::now().timestamp() + 24 * 3600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token")
}

/// The service's API, as a client sees it.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Sends a request that must succeed; answers its JSON body.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        let mut request = self
            .client
            .request(method.clone(), format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let answer: Json = response.json().await.unwrap_or(Json::Null);
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    async fn put(&self, path: &str, body: Json) -> Json {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn post(&self, path: &str, body: Json) -> Json {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Json {
        self.send(reqwest::Method::GET, path, None).await
    }
}

fn seconds(from: &Json, to: &Json) -> f64 {
    let at = |t: &Json| {
        t.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .expect("a time")
    };
    (at(to) - at(from)).as_seconds_f64()
}

/// Defines the instance's data sources, unification, measures and segments.
async fn define(api: &Api, base: &str) {
    for (id, key, customer) in [
        ("crm", "id", None),
        ("web", "key", None),
        (
            "orders",
            "order",
            Some(json!({"dataSourceId": "crm", "field": "customer"})),
        ),
    ] {
        let mut body = json!({"name": id, "format": "csv", "primaryKey": key,
            "source": {"kind": "file", "path": format!("{id}.csv")}});
        if let Some(customer) = customer {
            body["customer"] = customer;
        }
        api.put(&format!("{base}/data-sources/{id}"), body).await;
    }
    api.put(&format!("{base}/unification"), generated::unification())
        .await;
    for (id, body) in [
        (
            "order-count",
            json!({"name": "Order count", "entity": "orders", "aggregate": "count",
                "per": "customer", "attribute": "OrderCount"}),
        ),
        (
            "spend",
            json!({"name": "Spend", "entity": "orders", "aggregate": "sum", "field": "amount",
                "filter": "status eq 'paid'", "per": "customer", "attribute": "Spend"}),
        ),
        (
            "average-paid-order",
            json!({"name": "Average paid order", "entity": "orders", "aggregate": "average",
                "field": "amount", "filter": "status eq 'paid'"}),
        ),
    ] {
        api.put(&format!("{base}/measures/{id}"), body).await;
    }
    for (id, filter) in [
        ("big-spenders", "Spend gt 500"),
        ("no-orders", "OrderCount eq 0"),
        ("oslo-buyers", "City eq 'Oslo' and Spend ge 100"),
    ] {
        api.put(
            &format!("{base}/segments/{id}"),
            json!({"name": id, "filter": filter}),
        )
        .await;
    }
}

#[tokio::main]
async fn main() {
    let stages = Stages::default();
    tracing_subscriber::registry()
        .with(stages.clone())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(LevelFilter::WARN),
        )
        .init();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let import_dir = tempfile::tempdir().expect("a temporary directory");

    println!("== full refresh: 2 sources x 500,000 customer records, 1,000,000 orders");
    let start = Instant::now();
    let bytes = write_csv(import_dir.path(), generated::crm())
        + write_csv(import_dir.path(), generated::web())
        + write_csv(import_dir.path(), generated::orders());
    report(
        &format!(
            "write the three CSV files, {} MiB (setup, not measured)",
            bytes >> 20
        ),
        start.elapsed(),
        None,
    );

    let app = Application::build_with(
        &settings(data_dir.path(), import_dir.path()),
        Controls::default(),
    )
    .await
    .expect("the service starts");
    let runner = app.runner();
    let store = app.store();
    let handle = app.handle();
    let api = Api {
        client: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{}", app.port()),
        token: token(),
    };
    let server = tokio::spawn(app.run_until_stopped());

    let created = api
        .post("/instances", json!({"name": "Full refresh benchmark"}))
        .await;
    let instance = created["id"].as_str().expect("an instance id").to_owned();
    let base = format!("/instances/{instance}");
    define(&api, &base).await;

    let (before, _) = memory_mib();
    reset_peak();
    let start = Instant::now();
    let started = api.post(&format!("{base}/refresh"), json!({})).await;
    let refresh_id = started["refreshId"].as_str().expect("a refresh id");
    let finished = runner
        .wait_until_finished(
            InstanceId(instance.parse().expect("a uuid")),
            RefreshId(refresh_id.parse().expect("a uuid")),
        )
        .await
        .expect("the refresh record")
        .expect("the refresh");
    let took = start.elapsed();
    let (after, peak) = memory_mib();
    report(
        &format!(
            "full refresh, {} (StartFullRefresh to its end)",
            finished.status.as_str()
        ),
        took,
        None,
    );
    println!(
        "  resident before {before:.0} MiB, peak {peak:.0} MiB (target 1024 MiB: {}), after {after:.0} MiB",
        if peak <= 1024.0 { "met" } else { "MISSED" }
    );
    if let Some(error) = &finished.error_message {
        println!("  error: {error}");
    }

    let record = api.get(&format!("{base}/refreshes/{refresh_id}")).await;
    println!(
        "  its record: {:.3} s from startedAt to finishedAt",
        seconds(&record["startedAt"], &record["finishedAt"])
    );
    println!("== stages (the refresh's log lines; data sources also from their records)");
    let refreshes = api.get(&format!("{base}/refreshes")).await;
    let mut children: Vec<&Json> = refreshes["value"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|r| r["kind"] == "dataSource")
        .collect();
    children.reverse();
    for child in children {
        println!(
            "  data source {:<8} {:>9} rows {:>9.3} s ({})",
            child["dataSourceId"].as_str().unwrap_or("?"),
            child["rowCount"],
            seconds(&child["startedAt"], &child["finishedAt"]),
            child["status"].as_str().unwrap_or("?")
        );
    }
    // The targets: unification under 10 s, each measure or segment under 2 s (a
    // stage of n of them: under n x 2 s).
    for (stage, ms) in stages.0.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let (what, target) = match stage.as_str() {
            "unification" => ("unification and linking".to_owned(), Some(10)),
            "customer_measures" => ("2 customer measures, stored (2 x 2 s)".to_owned(), Some(4)),
            "business_measures" => ("1 business measure, reported".to_owned(), Some(2)),
            "segments" => ("3 segments, members stored (3 x 2 s)".to_owned(), Some(6)),
            other => (other.replace('_', " "), None),
        };
        report(
            &format!("stage: {what}"),
            Duration::from_millis(*ms),
            target.map(Duration::from_secs),
        );
    }
    // Each business measure and segment is reported when done: the catalog's times of its
    // items give each segment's time.
    let instance_id = InstanceId(instance.parse().expect("a uuid"));
    let catalog = |kind| store.catalog(instance_id, kind).expect("the catalog");
    let measures = catalog(CatalogKind::Measure);
    let mut segments = catalog(CatalogKind::Segment);
    segments.sort_by_key(|item| item.updated_at);
    let mut since = measures.iter().map(|item| item.updated_at).max();
    for segment in &segments {
        if let Some(since) = since {
            let took = (segment.updated_at - since).to_std().unwrap_or_default();
            report(
                &format!("  segment {} (from catalog times)", segment.id.as_str()),
                took,
                Some(Duration::from_secs(2)),
            );
        }
        since = Some(segment.updated_at);
    }

    println!("== results");
    let entities = api.get(&format!("{base}/entities")).await;
    for entity in entities["value"].as_array().expect("a list") {
        println!(
            "  entity {:<9} {:>9} items",
            entity["name"].as_str().unwrap_or("?"),
            entity["itemCount"]
        );
    }
    for item in measures.iter().chain(&segments) {
        println!(
            "  {} {:<20} {:?}",
            item.kind.noun(),
            item.id.as_str(),
            item.value
        );
    }
    handle.stop(true).await;
    server
        .await
        .expect("the server task")
        .expect("the server stops");
}
