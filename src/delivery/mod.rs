//! The only module that makes outgoing HTTP requests: delivers the outbox (with hyper, in
//! `client`) and, in `fetch`, downloads `url` data sources (with reqwest), both through the
//! same address guard. Each accepted event's deliveries
//! are on disk before the 202 (see `storage`); this module attempts them, retries on the
//! configured schedule, and records every attempt. The rules of what an answer does are
//! `DeliveryState::record`'s; the in-memory scheduler is rebuilt from disk at every start.
//!
//! An attempt's result is recorded before its delivery can be attempted again. When storage
//! cannot record it (a full disk), the result is held in memory, no new attempt starts, and
//! the held results are recorded as soon as storage works again: a callback is never re-sent
//! only because its result could not be written.

mod client;
pub mod fetch;
pub mod guard;
pub mod metrics;
mod scheduler;
pub mod signature;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::StatusCode;
use rustls_pki_types::CertificateDer;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use metrics::Metrics;

use crate::clock::{Clock, Jitter};
use crate::domain::{
    Delivery, DeliveryId, DeliveryStatus, Event, EventId, PayloadTemplate, Queued, RetryPolicy,
    TenantId, Verdict,
};
use crate::storage::{AttemptReport, Recorded, StorageError, Store};

/// Identifies one event-to-subscription delivery, the same on every attempt.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Unix seconds when the attempt was signed.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `v1,<base64 HMAC-SHA256>` (Standard Webhooks).
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
const AGENT: &str = concat!("insights-connector/", env!("CARGO_PKG_VERSION"));
/// Longest `Retry-After` honoured, so that a receiver cannot park a delivery for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Delivered records pruned per pass, so that one pass stays short.
const PRUNE_BATCH: usize = 10_000;
/// Events whose payload templates are kept; past it they are encoded again as needed.
const TEMPLATES_KEPT: usize = 1024;

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Delays between attempts; after the last one the delivery fails.
    pub retry_schedule: Vec<Duration>,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Deliveries in flight at once, over all receivers.
    pub max_in_flight: usize,
    /// Deliveries in flight at once to one `host:port`.
    pub max_in_flight_per_host: usize,
    /// How long delivered records are kept.
    pub retention: Duration,
    /// 404 answers in a row that remove a subscription.
    pub not_found_limit: u32,
    pub allow_private: bool,
    /// Roots trusted for receivers beside the public web roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl DeliverySettings {
    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            schedule: self.retry_schedule.clone(),
            not_found_limit: self.not_found_limit,
        }
    }
}

/// Who decides when attempts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A background task attempts deliveries as they fall due.
    Automatic,
    /// Nothing runs by itself: [`Dispatcher::run_due`] makes the attempts that are due
    /// (tests drive time with a manual clock).
    Manual,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the callback HTTP client cannot be built")]
    Client(#[from] client::ClientError),
    #[error("the download HTTP client cannot be built")]
    Download(#[from] reqwest::Error),
    #[error("the outbox cannot be read or written")]
    Storage(#[from] StorageError),
}

/// Maps an answer to a verdict. `Retry-After` counts on 429 and 503 only.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        404 => Verdict::NotFound,
        429 | 503 => Verdict::Retryable {
            retry_after: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
        },
        500..=599 => Verdict::Retryable { retry_after: None },
        _ => Verdict::Rejected,
    }
}

/// What the scheduler, the attempts and the recorder share.
struct Inner {
    client: client::CallbackClient,
    settings: DeliverySettings,
    store: Arc<Store>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
    state: Mutex<scheduler::State>,
    /// Results storage could not record yet; attempts wait while any are held.
    held: Mutex<Vec<AttemptReport>>,
    paused: AtomicBool,
    /// Wakes the background loop: something was queued or finished.
    wake: Notify,
    /// Each recent event's payload, encoded once for all its deliveries (`None`: encoded per
    /// subscription).
    templates: Mutex<HashMap<EventId, Option<Arc<PayloadTemplate>>>>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, scheduler::State> {
        // Every critical section leaves the scheduler consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `event`'s payload template, encoded at its first delivery.
    fn template(&self, event: &Event) -> Option<Arc<PayloadTemplate>> {
        let lock = || self.templates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = lock().get(&event.id) {
            return found.clone();
        }
        let template = event.payload_template().map(Arc::new);
        let mut templates = lock();
        if templates.len() >= TEMPLATES_KEPT {
            templates.clear();
        }
        templates.insert(event.id, template.clone());
        template
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Vec<AttemptReport>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue(&self, deliveries: impl IntoIterator<Item = Queued>) {
        let mut state = self.state();
        deliveries.into_iter().for_each(|q| state.queue(q));
        self.metrics.set_queue_depth(state.depth());
        drop(state);
        self.wake.notify_one();
    }

    /// Records `batch` (one durable write) and moves its deliveries on. When storage cannot
    /// record it, the batch is held (with anything held before) and attempts pause.
    async fn record(&self, mut batch: Vec<AttemptReport>) -> Result<(), StorageError> {
        {
            let mut held = self.held();
            if !held.is_empty() {
                let mut all = std::mem::take(&mut *held);
                all.append(&mut batch);
                batch = all;
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        match self
            .store
            .record_attempts(batch.clone(), self.settings.policy())
            .await
        {
            Ok(recorded) => {
                self.paused.store(false, Ordering::SeqCst);
                self.metrics.set_held(0);
                let mut state = self.state();
                for (report, outcome) in batch.iter().zip(recorded) {
                    state.done(report.delivery);
                    if let Recorded::Moved {
                        status,
                        failure,
                        next,
                        removed_subscription,
                    } = outcome
                    {
                        self.metrics.outcome(status, next.is_some());
                        if removed_subscription {
                            self.metrics.removed(failure);
                        }
                        if let Some(failure) = failure {
                            tracing::warn!(delivery_id = %report.delivery, reason = %failure,
                                "delivery failed; kept for replay");
                        }
                        if let Some(next) = next {
                            state.queue(next);
                        }
                    }
                }
                self.metrics.set_queue_depth(state.depth());
                drop(state);
                self.wake.notify_one();
                Ok(())
            }
            Err(err) => {
                self.paused.store(true, Ordering::SeqCst);
                self.metrics.set_held(batch.len());
                tracing::error!(error = %err, held = batch.len(),
                    "cannot record delivery results; holding them and pausing deliveries until storage works");
                *self.held() = batch;
                Err(err)
            }
        }
    }
}

impl Inner {
    /// Storage works again after a failure: record what is held, then queue again whatever
    /// the outbox holds pending. A write that failed may still have reached the disk (its
    /// caller heard 503), and its deliveries must not wait for the next restart.
    async fn recovered(&self) {
        if self.record(Vec::new()).await.is_err() {
            return;
        }
        match self.store.pending_deliveries() {
            Ok(pending) => self.queue(pending),
            Err(err) => tracing::error!(error = %err, "cannot reload pending deliveries"),
        }
    }
}

/// Owns the scheduler: queue new deliveries with [`Dispatcher::dispatch`], stop it with
/// [`Dispatcher::shutdown`].
pub struct Dispatcher {
    inner: Arc<Inner>,
    mode: Mode,
    /// Set to the grace period when stopping.
    stop: watch::Sender<Option<Duration>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Builds the client, reloads every pending delivery from disk and, in automatic mode,
    /// starts the scheduler. Must be called inside a tokio runtime.
    pub fn start(
        settings: DeliverySettings,
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        jitter: Jitter,
        mode: Mode,
    ) -> Result<Self, DeliveryError> {
        let client = client::CallbackClient::new(client::ClientSettings {
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
            per_host: settings.max_in_flight_per_host,
            allow_private: settings.allow_private,
            extra_roots: &settings.extra_roots,
        })?;
        let pending = store.pending_deliveries()?;
        if !pending.is_empty() {
            tracing::info!(
                pending = pending.len(),
                "resuming deliveries from the outbox"
            );
        }
        let inner = Arc::new(Inner {
            client,
            state: Mutex::new(scheduler::State::new(
                settings.max_in_flight.max(1),
                settings.max_in_flight_per_host.max(1),
            )),
            settings,
            store,
            metrics: Metrics::default(),
            clock,
            jitter,
            held: Mutex::default(),
            paused: AtomicBool::new(false),
            wake: Notify::new(),
            templates: Mutex::default(),
        });
        inner.queue(pending);
        let (stop, stopped) = watch::channel(None);
        let task = match mode {
            Mode::Automatic => Some(tokio::spawn(scheduler::run(Arc::clone(&inner), stopped))),
            Mode::Manual => None,
        };
        Ok(Self {
            inner,
            mode,
            stop,
            task: Mutex::new(task),
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Whether deliveries are being made: in automatic mode, the scheduler task runs.
    pub fn is_running(&self) -> bool {
        match self.mode {
            Mode::Manual => true,
            Mode::Automatic => self
                .task
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_some_and(|task| !task.is_finished()),
        }
    }

    /// Queues deliveries that are already in the outbox.
    pub fn dispatch(&self, deliveries: Vec<Queued>) {
        if !deliveries.is_empty() {
            self.inner.queue(deliveries);
        }
    }

    /// Queues a delivery again (a manual retry): one more attempt now, and if it fails for a
    /// reason worth retrying, the rest of the schedule is not used again: it fails.
    pub async fn retry(&self, delivery: &Delivery) -> Result<Option<Delivery>, DeliveryError> {
        let now = self.inner.clock.now();
        let updated = self
            .inner
            .store
            .requeue_delivery(delivery.id, now, self.inner.settings.retry_schedule.len())
            .await?;
        if let Some(delivery) = &updated
            && let Some(due_ms) = delivery.due_ms
            && delivery.status == DeliveryStatus::Pending
        {
            self.dispatch(vec![Queued {
                id: delivery.id,
                host: delivery.host.clone(),
                due_ms,
            }]);
        }
        Ok(updated)
    }

    /// The delivery when it belongs to `tenant`.
    pub fn delivery(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, DeliveryError> {
        Ok(self.inner.store.tenant_delivery(tenant, id)?)
    }

    /// Makes every attempt that is due now, waits for each, records them, and repeats while
    /// some are due again; returns how many attempts were made. Held results are recorded
    /// first; while they cannot be, nothing is attempted.
    pub async fn run_due(&self) -> usize {
        let inner = &self.inner;
        if inner.record(Vec::new()).await.is_err() {
            return 0;
        }
        let mut made = 0;
        loop {
            let now_ms = inner.clock.now().timestamp_millis();
            let starts = {
                let mut state = inner.state();
                state.promote(now_ms);
                std::iter::from_fn(|| state.next_to_start()).collect::<Vec<_>>()
            };
            if starts.is_empty() {
                return made;
            }
            made += starts.len();
            let attempts = starts.into_iter().map(|(id, host)| {
                let inner = Arc::clone(inner);
                async move { worker::attempt(&inner, id, host).await }
            });
            let reports: Vec<_> = join_all(attempts).await.into_iter().flatten().collect();
            if inner.record(reports).await.is_err() {
                return made;
            }
        }
    }

    /// The earliest due time of a waiting delivery, in Unix milliseconds.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.inner.state().next_due()
    }

    /// Completes once shutdown has begun: no new attempt starts after it.
    pub async fn stopping(&self) {
        let mut stop = self.stop.subscribe();
        let _ = stop.wait_for(Option::is_some).await;
    }

    /// Prunes what is past its retention (the background task does it every few minutes).
    pub async fn prune(&self) -> Result<usize, StorageError> {
        scheduler::prune(&self.inner).await
    }

    /// Stops starting attempts, waits up to `grace` for those in flight and records them,
    /// then abandons the rest. Nothing is lost: an attempt whose result was not recorded is
    /// still pending on disk and is made again at the next start.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(Some(grace));
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let waited = tokio::time::timeout(grace + Duration::from_secs(1), task).await;
            if waited.is_err() {
                tracing::warn!("the delivery scheduler did not stop in time");
            }
        }
    }
}

/// Awaits every future, concurrently, in order.
async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut slots = Vec::new();
    for (index, future) in futures.into_iter().enumerate() {
        set.spawn(async move { (index, future.await) });
        slots.push(None);
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((index, output)) = joined {
            slots[index] = Some(output);
        }
    }
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            retry_schedule: vec![Duration::from_secs(1)],
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            max_in_flight: 4,
            max_in_flight_per_host: 2,
            retention: Duration::from_secs(3600),
            not_found_limit: 3,
            allow_private: true,
            extra_roots: Vec::new(),
        }
    }

    /// Readiness and liveness ask `is_running`: a scheduler task that ended, however it
    /// ended, must not read as running.
    #[tokio::test]
    async fn a_scheduler_task_that_ended_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock::default());
        let dispatcher = Dispatcher::start(
            settings(),
            Arc::clone(&store),
            clock,
            crate::clock::no_jitter(),
            Mode::Automatic,
        )
        .unwrap();
        assert!(dispatcher.is_running());
        let mut task = dispatcher.task.lock().unwrap().take().unwrap();
        task.abort();
        assert!((&mut task).await.unwrap_err().is_cancelled());
        *dispatcher.task.lock().unwrap() = Some(task);
        assert!(!dispatcher.is_running());
        store.close().await.unwrap();
    }

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        let retryable = |retry_after: Option<u64>| Verdict::Retryable {
            retry_after: retry_after.map(Duration::from_secs),
        };
        let hint = Some(Duration::from_secs(7));
        let cases = [
            (200, hint, Verdict::Delivered),
            (202, None, Verdict::Delivered),
            (410, None, Verdict::Gone),
            (404, None, Verdict::NotFound),
            (429, hint, retryable(Some(7))),
            (503, hint, retryable(Some(7))),
            (500, hint, retryable(None)),
            (502, None, retryable(None)),
            (
                429,
                Some(Duration::from_secs(86_400)),
                retryable(Some(3600)),
            ),
            (301, None, Verdict::Rejected),
            (307, None, Verdict::Rejected),
            (400, None, Verdict::Rejected),
            (401, None, Verdict::Rejected),
        ];
        for (code, retry_after, expected) in cases {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap(), retry_after),
                expected,
                "{code}"
            );
        }
    }
}
