//! The only module that imports reqwest: delivers the outbox. Each accepted event's delivery
//! records are on disk before the 202 (see `storage`); this module attempts them, retries on
//! the configured schedule, keeps failures as dead letters and removes gone subscriptions.
//!
//! Matching hands storage `(event, subscriptions)`; storage hands this module the queued
//! delivery ids, and the in-memory scheduler is rebuilt from disk at every start.

pub mod guard;
pub mod metrics;
mod scheduler;
pub mod signature;
mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use metrics::Metrics;

use crate::domain::{Delivery, DeliveryId, DeliveryStatus, Queued};
use crate::storage::{StorageError, Store};

/// Identifies one event-to-subscription delivery, the same on every attempt.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Unix seconds when the attempt was signed.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `v1,<base64 HMAC-SHA256>` (Standard Webhooks).
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
const AGENT: &str = concat!("insights-connector/", env!("CARGO_PKG_VERSION"));
/// Longest `Retry-After` honoured, so that a receiver cannot park a delivery for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

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
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the callback HTTP client cannot be built")]
    Client(#[from] reqwest::Error),
    #[error("the outbox cannot be read or written")]
    Storage(#[from] StorageError),
}

/// What one attempt came to. A value, not an error: every outcome is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered(StatusCode),
    /// 410: the flow is gone; the subscription is removed.
    Gone,
    /// 404: retried, and the subscription is removed after several in a row.
    NotFound,
    /// Another 4xx or a 3xx: retrying cannot help.
    Rejected(StatusCode),
    /// 429, 5xx, timeout or connection failure: worth another attempt.
    Retryable {
        status: Option<StatusCode>,
        retry_after: Option<Duration>,
    },
    /// Not sent, and never will be: the address is not allowed, or the body cannot be built.
    Undeliverable(&'static str),
}

/// Maps an answer to an outcome. `Retry-After` counts on 429 and 503 only.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Attempt {
    match status.as_u16() {
        200..=299 => Attempt::Delivered(status),
        410 => Attempt::Gone,
        404 => Attempt::NotFound,
        429 | 503 => Attempt::Retryable {
            status: Some(status),
            retry_after: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
        },
        500..=599 => Attempt::Retryable {
            status: Some(status),
            retry_after: None,
        },
        _ => Attempt::Rejected(status),
    }
}

/// What the scheduler and the workers share.
struct Shared {
    client: reqwest::Client,
    settings: DeliverySettings,
    store: Arc<Store>,
    metrics: Metrics,
}

/// Owns the scheduler task: queue new deliveries with [`Dispatcher::dispatch`], stop it with
/// [`Dispatcher::shutdown`].
pub struct Dispatcher {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<scheduler::Command>,
    /// Set to the grace period when stopping.
    stop: watch::Sender<Option<Duration>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Builds the client, reloads every pending delivery from disk and starts the scheduler.
    /// Must be called inside a tokio runtime.
    pub fn start(settings: DeliverySettings, store: Arc<Store>) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // A redirect is a failed delivery, never followed: it could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            // No proxy, whatever `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY` say: a proxy would
            // resolve and connect on our behalf, and the guarded resolver below would never see
            // the address, so any callback could reach loopback or metadata addresses.
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(settings.max_in_flight_per_host.max(1))
            .build()?;
        let pending = store.pending_deliveries()?;
        if !pending.is_empty() {
            tracing::info!(
                pending = pending.len(),
                "resuming deliveries from the outbox"
            );
        }
        let shared = Arc::new(Shared {
            client,
            settings,
            store,
            metrics: Metrics::default(),
        });
        let (commands, receiver) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(None);
        let _ = commands.send(scheduler::Command::Queue(pending));
        let task = tokio::spawn(scheduler::run(
            Arc::clone(&shared),
            commands.clone(),
            receiver,
            stopped,
        ));
        Ok(Self {
            shared,
            commands,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Queues deliveries that are already in the outbox.
    pub fn dispatch(&self, deliveries: Vec<Queued>) {
        if !deliveries.is_empty() {
            // Fails only after shutdown; the records stay pending on disk for the next start.
            let _ = self.commands.send(scheduler::Command::Queue(deliveries));
        }
    }

    /// Queues a delivery again (a manual retry): one more attempt now, and if it fails for a
    /// reason worth retrying, the rest of the schedule is not used again: it fails.
    pub fn retry(&self, delivery: &Delivery) -> Result<Option<Delivery>, DeliveryError> {
        let retries_used = match delivery.status {
            DeliveryStatus::Pending => delivery.retries_used,
            _ => self.shared.settings.retry_schedule.len(),
        };
        let updated = self
            .shared
            .store
            .requeue_delivery(delivery.id, Utc::now(), retries_used)?;
        if let Some(queued) = updated.as_ref().and_then(Delivery::queued) {
            self.dispatch(vec![queued]);
        }
        Ok(updated)
    }

    /// The delivery when it belongs to `tenant`.
    pub fn delivery(
        &self,
        tenant: &crate::domain::TenantId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, DeliveryError> {
        Ok(self
            .shared
            .store
            .delivery(id)?
            .filter(|d| &d.tenant == tenant))
    }

    /// Stops starting attempts, waits up to `grace` for those in flight, then abandons the
    /// rest. Nothing is lost: an attempt that did not record its result is still pending on
    /// disk and is made again at the next start.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(Some(grace));
        let task = self
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task {
            let waited = tokio::time::timeout(grace + Duration::from_secs(1), task).await;
            if waited.is_err() {
                tracing::warn!("the delivery scheduler did not stop in time");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        let retryable = |code: u16, retry_after: Option<u64>| Attempt::Retryable {
            status: Some(StatusCode::from_u16(code).unwrap()),
            retry_after: retry_after.map(Duration::from_secs),
        };
        let hint = Some(Duration::from_secs(7));
        let cases = [
            (200, hint, Attempt::Delivered(StatusCode::OK)),
            (202, None, Attempt::Delivered(StatusCode::ACCEPTED)),
            (410, None, Attempt::Gone),
            (404, None, Attempt::NotFound),
            (429, hint, retryable(429, Some(7))),
            (503, hint, retryable(503, Some(7))),
            (500, hint, retryable(500, None)),
            (502, None, retryable(502, None)),
            (
                429,
                Some(Duration::from_secs(86_400)),
                retryable(429, Some(3600)),
            ),
            (301, None, Attempt::Rejected(StatusCode::MOVED_PERMANENTLY)),
            (307, None, Attempt::Rejected(StatusCode::TEMPORARY_REDIRECT)),
            (400, None, Attempt::Rejected(StatusCode::BAD_REQUEST)),
            (401, None, Attempt::Rejected(StatusCode::UNAUTHORIZED)),
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
