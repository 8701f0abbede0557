//! `spawn_app()`: a server with its own temp data dir on port 0, tokens for two tenants, and
//! a callback receiver that forwards what it receives into a channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use insights_connector::config::{Settings, parse_duration, parse_rate_limit, parse_schedule};
use insights_connector::domain::{NewApiKey, TenantId};

pub use crate::identity::{AUDIENCE, ISSUERS, JwksServer};
use insights_connector::startup::Application;
use insights_connector::storage::Store;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc;

pub const SECRET: &str = "test-secret-that-is-long-enough";
pub const TENANT: &str = "tenant-a";
pub const OTHER_TENANT: &str = "tenant-b";
/// A bearer token for `tenant`, optionally with the platform role.
pub fn token(tenant: &str, platform: bool) -> String {
    let roles: Vec<&str> = if platform { vec!["platform"] } else { vec![] };
    let claims = json!({
        "tid": tenant,
        "oid": format!("user-of-{tenant}"),
        "roles": roles,
        "exp": chrono::Utc::now().timestamp() + 3600,
    });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    /// The raw body, as signed.
    pub raw: Vec<u8>,
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
    pub content_type: Option<String>,
    /// The status the receiver answered.
    pub status: u16,
}

/// What the receiver answers: the statuses queued in `queue`, then `default`.
#[derive(Default)]
struct Script {
    queue: VecDeque<(u16, Option<String>)>,
    default: Option<u16>,
    delay: Duration,
}

/// An HTTP server on 127.0.0.1:0 that records every POST and answers with the statuses queued
/// in its script (202 once the script is used up, unless another default is set).
pub struct Receiver {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    script: Arc<Mutex<Script>>,
    handle: ServerHandle,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_with_delay(Duration::ZERO).await
    }

    /// A receiver that waits `delay` before each answer (a slow flow endpoint).
    pub async fn start_with_delay(delay: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Script {
            delay,
            ..Script::default()
        }));
        let (tx, shared_script) = (web::Data::new(tx), web::Data::new(Arc::clone(&script)));
        let (port, handle) = serve_on_loopback(move |cfg| {
            cfg.app_data(tx.clone())
                .app_data(shared_script.clone())
                .default_service(web::to(record));
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            rx,
            script,
            handle,
        }
    }

    /// A callback URL on this receiver, with a query string like a signed flow URL.
    pub fn callback(&self, name: &str) -> String {
        format!("{}/flows/{name}/run?api-version=1&sig=SIG-{name}", self.url)
    }

    /// Queues statuses for the next requests.
    pub fn answer_with(&self, statuses: &[u16]) {
        let mut script = self.script.lock().unwrap();
        script.queue.extend(statuses.iter().map(|s| (*s, None)));
    }

    /// Queues one answer with a `Retry-After` header.
    pub fn answer_with_retry_after(&self, status: u16, retry_after: &str) {
        let mut script = self.script.lock().unwrap();
        script
            .queue
            .push_back((status, Some(retry_after.to_owned())));
    }

    /// The status answered once the queue is used up.
    pub fn answer_by_default(&self, status: u16) {
        self.script.lock().unwrap().default = Some(status);
    }

    /// The next request within `limit`, if any.
    pub async fn next_within(&mut self, limit: Duration) -> Option<Received> {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next request, failing the test after 10 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("no callback arrived within 10 s")
            .expect("receiver closed")
    }

    /// Asserts that nothing more arrives within a short grace period.
    pub async fn expect_nothing_more(&mut self) {
        if let Ok(Some(extra)) =
            tokio::time::timeout(Duration::from_millis(400), self.rx.recv()).await
        {
            panic!("unexpected callback: {extra:?}");
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

async fn record(
    req: HttpRequest,
    body: web::Bytes,
    tx: web::Data<mpsc::UnboundedSender<Received>>,
    script: web::Data<Arc<Mutex<Script>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, retry_after, delay) = {
        let mut script = script.lock().unwrap();
        let (status, retry_after) = script
            .queue
            .pop_front()
            .unwrap_or((script.default.unwrap_or(202), None));
        (status, retry_after, script.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let received = Received {
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        webhook_signature: header("webhook-signature"),
        content_type: header("content-type"),
        status,
    };
    let _ = tx.send(received);
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(retry_after) = retry_after {
        response.insert_header(("retry-after", retry_after));
    }
    if (300..400).contains(&status) {
        // Somewhere a redirect-following client would go next (and be recorded).
        response.insert_header(("location", "/followed"));
    }
    response.finish()
}

/// Builds a `TestApp`; variants set options here instead of new spawn functions.
pub struct TestAppBuilder {
    data_dir: Option<Arc<TempDir>>,
    retry_schedule: String,
    allow_private_callbacks: bool,
    rate_limit: String,
    report_rate_limit: String,
    jwks_url: Option<String>,
    jwks_refetch_interval: String,
    /// Keys to create before the server starts: tenant, roles, revoked.
    api_keys: Vec<(String, Vec<String>, bool)>,
    delivery_timeout: String,
    per_host: usize,
    not_found_limit: u32,
    client_request_timeout: String,
}

pub fn spawn_app_builder() -> TestAppBuilder {
    TestAppBuilder {
        data_dir: None,
        retry_schedule: "20ms,20ms,20ms".into(),
        allow_private_callbacks: true,
        rate_limit: "100/60s".into(),
        report_rate_limit: "1000/60s".into(),
        jwks_url: None,
        jwks_refetch_interval: "60s".into(),
        api_keys: Vec::new(),
        delivery_timeout: "2s".into(),
        per_host: 8,
        not_found_limit: 3,
        client_request_timeout: "5s".into(),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_builder().spawn().await
}

impl TestAppBuilder {
    /// Reuse the data dir of an earlier (stopped) app.
    pub fn data_dir(mut self, dir: Arc<TempDir>) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// The receiver listens on loopback, so tests allow private callbacks unless told not to.
    pub fn allow_private_callbacks(mut self, allow: bool) -> Self {
        self.allow_private_callbacks = allow;
        self
    }

    pub fn retry_schedule(mut self, schedule: &str) -> Self {
        self.retry_schedule = schedule.into();
        self
    }

    /// Connector and report API limits, as `calls/window`.
    pub fn rate_limits(mut self, connector: &str, report: &str) -> Self {
        self.rate_limit = connector.into();
        self.report_rate_limit = report.into();
        self
    }

    /// Accepts Azure AD tokens: keys from `jwks`, audience `AUDIENCE`, Azure's issuers, and
    /// only `TENANT` and `OTHER_TENANT`.
    pub fn azure_ad(mut self, jwks: &JwksServer) -> Self {
        self.jwks_url = Some(jwks.url.clone());
        self
    }

    pub fn jwks_refetch_interval(mut self, interval: &str) -> Self {
        self.jwks_refetch_interval = interval.into();
        self
    }

    /// Creates an API key before the server starts; it lands in `TestApp::api_keys`.
    pub fn api_key(mut self, tenant: &str, roles: &[&str]) -> Self {
        let roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self.api_keys.push((tenant.into(), roles, false));
        self
    }

    /// Like `api_key`, revoked before the server starts.
    pub fn revoked_api_key(mut self, tenant: &str) -> Self {
        self.api_keys.push((tenant.into(), Vec::new(), true));
        self
    }

    pub fn delivery_timeout(mut self, timeout: &str) -> Self {
        self.delivery_timeout = timeout.into();
        self
    }

    /// Callback requests in flight at once to one receiver.
    pub fn per_host(mut self, limit: usize) -> Self {
        self.per_host = limit;
        self
    }

    pub fn not_found_limit(mut self, limit: u32) -> Self {
        self.not_found_limit = limit;
        self
    }

    /// How long a client may take to send a request's head before the server answers 408.
    pub fn client_request_timeout(mut self, timeout: &str) -> Self {
        self.client_request_timeout = timeout.into();
        self
    }

    pub async fn spawn(self) -> TestApp {
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let mut api_keys = Vec::new();
        if !self.api_keys.is_empty() {
            let store = Store::open(data_dir.path()).unwrap();
            for (tenant, roles, revoked) in self.api_keys {
                let tenant = TenantId::parse(&tenant).unwrap();
                let new = NewApiKey::generate(tenant, roles, None, chrono::Utc::now()).unwrap();
                store.insert_api_key(&new.record).await.unwrap();
                if revoked {
                    store
                        .revoke_api_key(new.record.id, chrono::Utc::now())
                        .await
                        .unwrap();
                }
                api_keys.push(new.key);
            }
        }
        let azure_ad = self.jwks_url.is_some();
        let list = |items: &str| -> Vec<String> {
            match azure_ad {
                true => items.split(',').map(str::to_owned).collect(),
                false => vec![],
            }
        };
        let settings = Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.path().to_path_buf(),
            public_url: None,
            jwt_hs256_secret: Some(SECRET.parse().unwrap()),
            callback_allow_private: self.allow_private_callbacks,
            retry_schedule: parse_schedule(&self.retry_schedule).unwrap(),
            delivery_timeout: parse_duration(&self.delivery_timeout).unwrap(),
            delivery_concurrency: 64,
            delivery_concurrency_per_host: self.per_host,
            delivery_retention: parse_duration("7d").unwrap(),
            callback_404_limit: self.not_found_limit,
            workers: 2,
            jwks_url: self.jwks_url.map(|url| url.parse().unwrap()),
            jwt_audience: list(AUDIENCE),
            jwt_issuer: list(ISSUERS),
            allowed_tenants: list(&format!("{TENANT},{OTHER_TENANT}")),
            jwks_refetch_interval: parse_duration(&self.jwks_refetch_interval).unwrap(),
            client_request_timeout: parse_duration(&self.client_request_timeout).unwrap(),
            aad_client_id: None,
            aad_resource_uri: None,
            rate_limit: parse_rate_limit(&self.rate_limit).unwrap(),
            report_rate_limit: parse_rate_limit(&self.report_rate_limit).unwrap(),
        };
        let app = build_when_released(&settings).await;
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::new(),
            token: token(TENANT, false),
            platform_token: token(TENANT, true),
            api_keys,
            data_dir,
            handle,
            task: Some(task),
        }
    }
}

/// Builds the app, waiting up to 2 s for a data dir that an earlier store in this process
/// still holds: sled's background writers let go of the directory shortly after its last
/// handle is dropped.
async fn build_when_released(settings: &Settings) -> Application {
    for _ in 0..100 {
        match Application::build(settings) {
            Ok(app) => return app,
            Err(err) if err.to_string().contains("in use by another process") => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("the app does not build: {err:#}"),
        }
    }
    panic!("the data dir stayed locked");
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A flow maker of `TENANT`.
    pub token: String,
    /// A data platform of `TENANT`.
    pub platform_token: String,
    /// The keys the builder created, in order.
    pub api_keys: Vec<String>,
    pub data_dir: Arc<TempDir>,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

impl TestApp {
    /// Stops the server gracefully and waits until storage is closed.
    pub async fn stop(mut self) -> Arc<TempDir> {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        Arc::clone(&self.data_dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// A GET with an API key.
    pub async fn get_with_key(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_as(&self.token, path, body).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an instance and returns its id.
    pub async fn create_instance(&self, name: &str) -> String {
        let response = self
            .post("/api/v1/instances", &json!({ "name": name }))
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// Subscribes to `trigger` and returns the answer's body and `Location`.
    pub async fn subscribe(&self, instance: &str, trigger: &str, body: &Value) -> (Value, String) {
        let path = format!("/api/v1/instances/{instance}/triggers/{trigger}");
        let response = self.post(&path, body).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "subscribe failed: {body}");
        (body, location.expect("a Location header"))
    }

    /// Sends a report as the data platform and returns the event ids.
    pub async fn report(&self, instance: &str, kind: &str, body: &Value) -> Vec<String> {
        let path = format!("/api/v1/instances/{instance}/reports/{kind}");
        let response = self.post_as(&self.platform_token, &path, body).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "report failed: {body}");
        body["eventIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }
}

impl TestApp {
    /// `ListDeliveries` of `instance` with `query` (`status=failed`, ...).
    pub async fn deliveries(&self, instance: &str, query: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/api/v1/instances/{instance}/deliveries?{query}"))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["value"].as_array().unwrap().clone()
    }

    /// Polls `ListDeliveries` until one delivery has `status`; panics after 10 s.
    pub async fn wait_for_delivery(&self, instance: &str, status: &str) -> Value {
        for _ in 0..200 {
            let found = self.deliveries(instance, &format!("status={status}")).await;
            if let Some(first) = found.into_iter().next() {
                return first;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {status} delivery within 10 s");
    }
}

/// A tool that `tools/test` installs into `.venv` (validators, fuzzer, signature verifier).
/// Under a plain `cargo test` without them, the test stops with a message saying so, rather
/// than with a Python import error.
pub fn venv_tool(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(".venv/bin").join(name);
    // tools/test copies the requirements it installed here.
    let installed = std::fs::read(root.join(".venv/installed-requirements.txt")).ok();
    let wanted = std::fs::read(root.join("tools/requirements.txt")).ok();
    assert!(
        path.exists() && installed.is_some() && installed == wanted,
        "this test runs {name} from .venv, which {}: run the tests with `tools/test`, which \
         installs the pinned Python tools of tools/requirements.txt into .venv, then runs cargo test",
        if path.exists() {
            "holds other versions than tools/requirements.txt pins"
        } else {
            "does not have it"
        }
    );
    path
}

/// Serves what `configure` registers on 127.0.0.1:0 with one worker, in the background;
/// returns the port and the handle that stops it. For the tests' own peers (callback
/// receivers, a JWKS endpoint).
pub fn serve_on_loopback<F>(configure: F) -> (u16, ServerHandle)
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (port, handle)
}
