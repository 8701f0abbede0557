//! `spawn_app()`: a server with its own temp data dir on port 0, tokens for two tenants, and
//! a callback receiver that forwards what it receives into a channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use insights_connector::clock::{ManualClock, no_jitter};
use insights_connector::config::{
    Quotas, Settings, parse_duration, parse_rate_limit, parse_schedule,
};
use insights_connector::delivery::{Dispatcher, Mode};
use insights_connector::domain::{InstanceId, NewApiKey, RefreshId, TenantId};
use insights_connector::refresh::Runner;

pub use crate::identity::{AUDIENCE, ISSUERS, JwksServer};
use insights_connector::startup::{Application, Controls};
use insights_connector::storage::Store;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc;

pub const SECRET: &str = "test-secret-that-is-long-enough";
pub const TENANT: &str = "tenant-a";
pub const OTHER_TENANT: &str = "tenant-b";
/// The demo's tenant (`serve --demo`).
pub const DEMO_TENANT: &str = insights_connector::demo::TENANT;
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
    /// Requests wait here before they are answered, until the gate opens.
    gate: Option<tokio::sync::watch::Receiver<bool>>,
}

/// An HTTP server on 127.0.0.1:0 that records every POST and answers with the statuses queued
/// in its script (202 once the script is used up, unless another default is set).
pub struct Receiver {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    script: Arc<Mutex<Script>>,
    handle: ServerHandle,
    gate: Option<tokio::sync::watch::Sender<bool>>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_with_script(Script::default(), None).await
    }

    /// A receiver that answers nothing until `open_gate` (a flow endpoint that hangs).
    pub async fn start_gated() -> Self {
        let (gate, waiting) = tokio::sync::watch::channel(false);
        let script = Script {
            gate: Some(waiting),
            ..Script::default()
        };
        Self::start_with_script(script, Some(gate)).await
    }

    /// Lets every held and later request be answered.
    pub fn open_gate(&self) {
        self.gate
            .as_ref()
            .expect("a receiver started with start_gated")
            .send_replace(true);
    }

    async fn start_with_script(
        script: Script,
        gate: Option<tokio::sync::watch::Sender<bool>>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(script));
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
            gate,
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

    /// Asserts that nothing arrived that the test has not taken. Deliveries run to their
    /// answer before `run_due` returns, and a request is recorded when it arrives, so with
    /// manual deliveries this is exact (see `TestApp::expect_no_more_callbacks`).
    pub fn expect_nothing_received(&mut self) {
        if let Ok(extra) = self.rx.try_recv() {
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
    let (status, retry_after, gate) = {
        let mut script = script.lock().unwrap();
        let (status, retry_after) = script
            .queue
            .pop_front()
            .unwrap_or((script.default.unwrap_or(202), None));
        (status, retry_after, script.gate.clone())
    };
    let received = Received {
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        webhook_signature: header("webhook-signature"),
        content_type: header("content-type"),
        status,
    };
    // Recorded on arrival, so a test sees a request that its gate still holds.
    let _ = tx.send(received);
    if let Some(mut gate) = gate {
        let _ = gate.wait_for(|open| *open).await;
    }
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
    quotas: Quotas,
    /// Deliveries run only through `run_due`, on this clock.
    manual: Option<Arc<ManualClock>>,
    /// The schedule loop runs by itself (on the manual clock, when there is one).
    automatic_schedules: bool,
    client_request_timeout: String,
    import_dir: Option<std::path::PathBuf>,
    upload_limit: u64,
    demo: bool,
    callback_ca_file: Option<std::path::PathBuf>,
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
        quotas: Quotas::default(),
        manual: Some(ManualClock::starting_at(chrono::Utc::now())),
        automatic_schedules: false,
        client_request_timeout: "5s".into(),
        import_dir: None,
        upload_limit: 100 << 20,
        demo: false,
        callback_ca_file: None,
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

    /// Roots trusted for `https` receivers beside the public web roots.
    pub fn callback_ca_file(mut self, file: &std::path::Path) -> Self {
        self.callback_ca_file = Some(file.to_path_buf());
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

    /// Per-tenant limits.
    pub fn quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// The manual clock starts at `at` instead of now.
    pub fn clock_starting_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.manual = Some(ManualClock::starting_at(at));
        self
    }

    /// Deliveries run by themselves on the wall clock, as in production. Without this, they
    /// wait for `TestApp::run_due` (or `drain`, which `report` calls), on a clock that moves
    /// only by `TestApp::advance`, and retries get no jitter.
    pub fn automatic_deliveries(mut self) -> Self {
        self.manual = None;
        self
    }

    /// The schedule loop runs by itself, as in production, woken by the manual clock's moves;
    /// without this, scheduled runs start only through `TestApp::run_due_schedules`.
    pub fn automatic_schedules(mut self) -> Self {
        self.automatic_schedules = true;
        self
    }

    /// How long a client may take to send a request's head before the server answers 408.
    pub fn client_request_timeout(mut self, timeout: &str) -> Self {
        self.client_request_timeout = timeout.into();
        self
    }

    /// File data sources read from `dir` (`INSIGHTS_IMPORT_DIR`).
    pub fn import_dir(mut self, dir: &std::path::Path) -> Self {
        self.import_dir = Some(dir.to_path_buf());
        self
    }

    /// The largest upload, in bytes (`INSIGHTS_UPLOAD_LIMIT`).
    /// Starts with the demo instance (`serve --demo`).
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    pub fn upload_limit(mut self, bytes: u64) -> Self {
        self.upload_limit = bytes;
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
            store.close().await.unwrap();
        }
        let azure_ad = self.jwks_url.is_some();
        let list = |items: &str| -> Vec<String> {
            match azure_ad {
                true => items.split(',').map(str::to_owned).collect(),
                false => vec![],
            }
        };
        let settings = Settings {
            jwt_hs256_secret: Some(SECRET.parse().unwrap()),
            callback_allow_private: self.allow_private_callbacks,
            callback_ca_file: self.callback_ca_file.clone(),
            retry_schedule: parse_schedule(&self.retry_schedule).unwrap(),
            delivery_timeout: parse_duration(&self.delivery_timeout).unwrap(),
            delivery_concurrency: 64,
            delivery_concurrency_per_host: self.per_host,
            callback_404_limit: self.not_found_limit,
            workers: 2,
            jwks_url: self.jwks_url.map(|url| url.parse().unwrap()),
            jwt_audience: list(AUDIENCE),
            jwt_issuer: list(ISSUERS),
            allowed_tenants: list(&format!("{TENANT},{OTHER_TENANT},{DEMO_TENANT}")),
            jwks_refetch_interval: parse_duration(&self.jwks_refetch_interval).unwrap(),
            client_request_timeout: parse_duration(&self.client_request_timeout).unwrap(),
            rate_limit: parse_rate_limit(&self.rate_limit).unwrap(),
            report_rate_limit: parse_rate_limit(&self.report_rate_limit).unwrap(),
            import_dir: self.import_dir,
            upload_limit: self.upload_limit,
            demo: self.demo,
            quotas: self.quotas,
            ..Settings::defaults(data_dir.path()).unwrap()
        };
        let controls = match &self.manual {
            Some(clock) => Controls {
                clock: Arc::clone(clock) as _,
                jitter: no_jitter(),
                delivery: Mode::Manual,
                schedules: match self.automatic_schedules {
                    true => Mode::Automatic,
                    false => Mode::Manual,
                },
            },
            None => Controls::default(),
        };
        let app = Application::build_with(&settings, controls)
            .await
            .expect("the app builds");
        let dispatcher = app.dispatcher();
        let runner = app.runner();
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
            dispatcher,
            runner,
            clock: self.manual,
        }
    }
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
    dispatcher: Arc<Dispatcher>,
    runner: Arc<Runner>,
    clock: Option<Arc<ManualClock>>,
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

    fn manual_clock(&self) -> &ManualClock {
        self.clock
            .as_ref()
            .expect("this app delivers by itself (automatic_deliveries)")
    }

    /// Makes every delivery attempt due now; returns how many.
    pub async fn run_due(&self) -> usize {
        self.manual_clock();
        self.dispatcher.run_due().await
    }

    /// Moves the manual clock on.
    pub fn advance(&self, by: Duration) {
        self.manual_clock().advance(by);
    }

    /// Runs deliveries, moving the clock to each next due time, until none is left; returns
    /// how many attempts were made.
    pub async fn drain(&self) -> usize {
        let clock = self.manual_clock();
        let mut made = 0;
        loop {
            made += self.dispatcher.run_due().await;
            let Some(due) = self.dispatcher.next_due_ms() else {
                return made;
            };
            let ahead = due - clock_now_ms(clock);
            clock.advance(Duration::from_millis(ahead.max(0).unsigned_abs()));
        }
    }

    /// Asserts that no delivery is left to make and that `receiver` got nothing more.
    pub async fn expect_no_more_callbacks(&self, receiver: &mut Receiver) {
        assert_eq!(self.drain().await, 0, "deliveries were still due");
        receiver.expect_nothing_received();
    }

    /// Starts the scheduled full refreshes due on the manual clock (the schedule loop's step);
    /// answers how many started.
    pub async fn run_due_schedules(&self) -> usize {
        self.manual_clock();
        self.runner.run_due_schedules().await.unwrap().0
    }

    /// The refreshes of `instance`, newest first (`ListRefreshes`).
    pub async fn refreshes(&self, instance: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/api/v1/instances/{instance}/refreshes"))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["value"].as_array().unwrap().clone()
    }

    /// The refresh runner, to follow its refreshes.
    pub fn runner_handle(&self) -> Arc<Runner> {
        Arc::clone(&self.runner)
    }

    /// The dispatcher, to hold on to while the app stops.
    pub fn dispatcher_handle(&self) -> Arc<Dispatcher> {
        Arc::clone(&self.dispatcher)
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
        if self.clock.is_some() {
            self.drain().await;
        }
        body["eventIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }
}

impl TestApp {
    /// A PUT of a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A PUT of raw content with a content type.
    pub async fn put_content(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits (on the runner's events, no sleep) until the refresh is no longer running, then
    /// delivers what it caused; answers `GetRefresh`'s body.
    pub async fn finish_refresh(&self, instance: &str, refresh: &str) -> Value {
        self.wait_for_refresh(instance, refresh).await;
        let response = self
            .get(&format!("/api/v1/instances/{instance}/refreshes/{refresh}"))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Waits (on the runner's events, no sleep) until the refresh of any tenant's instance is
    /// no longer running, then delivers what it caused.
    pub async fn wait_for_refresh(&self, instance: &str, refresh: &str) {
        let waited = tokio::time::timeout(
            Duration::from_secs(60),
            self.runner.wait_until_finished(
                InstanceId(instance.parse().unwrap()),
                RefreshId(refresh.parse().unwrap()),
            ),
        )
        .await
        .expect("the refresh finished within 60 s");
        assert!(waited.unwrap().is_some(), "the refresh exists");
        if self.clock.is_some() {
            self.drain().await;
        }
    }

    /// `ListDeliveries` of `instance` with `query` (`status=failed`, ...).
    pub async fn deliveries(&self, instance: &str, query: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/api/v1/instances/{instance}/deliveries?{query}"))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["value"].as_array().unwrap().clone()
    }
}

fn clock_now_ms(clock: &ManualClock) -> i64 {
    use insights_connector::clock::Clock;
    clock.now().timestamp_millis()
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
