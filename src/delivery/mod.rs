//! The only module that imports reqwest: POSTs each event to the callback URLs it matched,
//! retrying on the configured schedule, and removes subscriptions whose flow is gone (410).
//!
//! Matching hands this module `(event, subscriptions)` pairs and nothing else, so the way
//! deliveries are kept (in memory here) can change without touching matching.

pub mod guard;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::domain::{Event, Subscription};
use crate::storage::Store;

/// Identifies one event-to-subscription delivery, the same on every attempt.
pub const WEBHOOK_ID: &str = "webhook-id";
const AGENT: &str = concat!("insights-connector/", env!("CARGO_PKG_VERSION"));
/// Longest `Retry-After` honoured, so that a receiver cannot park a delivery for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Delays between attempts; after the last one the delivery fails.
    pub retry_schedule: Vec<Duration>,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Deliveries in flight at once, over all receivers.
    pub max_in_flight: usize,
}

/// What one attempt came to. A value, not an error: every outcome is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered(StatusCode),
    /// 410: the flow is gone; the subscription is removed.
    Gone,
    /// Another 4xx or a 3xx: retrying cannot help.
    Rejected(StatusCode),
    /// 429, 5xx, timeout or connection failure: worth another attempt.
    Retryable {
        status: Option<StatusCode>,
        retry_after: Option<Duration>,
    },
}

pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Attempt {
    match status.as_u16() {
        200..=299 => Attempt::Delivered(status),
        410 => Attempt::Gone,
        429 | 500..=599 => Attempt::Retryable {
            status: Some(status),
            retry_after,
        },
        _ => Attempt::Rejected(status),
    }
}

pub struct Dispatcher {
    client: reqwest::Client,
    settings: DeliverySettings,
    store: Arc<Store>,
    in_flight: Arc<Semaphore>,
    tasks: std::sync::Mutex<JoinSet<()>>,
}

impl Dispatcher {
    pub fn new(settings: DeliverySettings, store: Arc<Store>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // A redirect is a failed delivery, never followed: it could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
            settings,
            store,
            tasks: std::sync::Mutex::new(JoinSet::new()),
        })
    }

    /// Starts delivering each event to each of its subscriptions, in the background.
    pub fn dispatch(self: &Arc<Self>, deliveries: Vec<(Event, Vec<Subscription>)>) {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Reap finished tasks so the set does not grow without end.
        while tasks.try_join_next().is_some() {}
        for (event, subscriptions) in deliveries {
            let event = Arc::new(event);
            for subscription in subscriptions {
                let this = Arc::clone(self);
                let event = Arc::clone(&event);
                tasks.spawn(async move { this.deliver(&event, &subscription).await });
            }
        }
    }

    /// Waits up to `grace` for deliveries in flight; the rest are abandoned.
    pub async fn shutdown(&self, grace: Duration) {
        let mut tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                abandoned = tasks.len(),
                "deliveries still retrying at shutdown"
            );
            tasks.abort_all();
        }
    }

    async fn deliver(&self, event: &Event, subscription: &Subscription) {
        let body = match serde_json::to_vec(&event.payload_for(subscription)) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(%err, "could not encode a payload");
                return;
            }
        };
        let delivery_id = format!("{}_{}", event.id, subscription.id);
        let mut delays = self.settings.retry_schedule.iter();
        loop {
            let attempt = self.attempt(subscription, &delivery_id, &body).await;
            tracing::info!(
                event_id = %event.id,
                subscription_id = %subscription.id,
                callback = %subscription.callback,
                outcome = ?attempt,
                "delivery attempt"
            );
            match attempt {
                Attempt::Delivered(_) | Attempt::Rejected(_) => return,
                Attempt::Gone => {
                    if let Err(err) = self.store.unsubscribe(subscription.id) {
                        tracing::error!(?err, "could not remove a gone subscription");
                    }
                    return;
                }
                Attempt::Retryable { retry_after, .. } => {
                    let Some(delay) = delays.next() else {
                        tracing::warn!(event_id = %event.id, subscription_id = %subscription.id,
                            "delivery failed after its last attempt");
                        return;
                    };
                    let delay = retry_after.map_or(*delay, |ra| ra.min(MAX_RETRY_AFTER));
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(
        &self,
        subscription: &Subscription,
        delivery_id: &str,
        body: &[u8],
    ) -> Attempt {
        let Ok(_permit) = self.in_flight.acquire().await else {
            return Attempt::Retryable {
                status: None,
                retry_after: None,
            };
        };
        let started = Instant::now();
        let result = self
            .client
            .post(subscription.callback.as_url().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, AGENT)
            .header(WEBHOOK_ID, delivery_id)
            .body(body.to_vec())
            .send()
            .await;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "callback answered"
        );
        match result {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                classify(response.status(), retry_after)
            }
            Err(_) => Attempt::Retryable {
                status: None,
                retry_after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        let retryable = |code: u16| Attempt::Retryable {
            status: Some(StatusCode::from_u16(code).unwrap()),
            retry_after: None,
        };
        let cases = [
            (200, Attempt::Delivered(StatusCode::OK)),
            (202, Attempt::Delivered(StatusCode::ACCEPTED)),
            (410, Attempt::Gone),
            (429, retryable(429)),
            (500, retryable(500)),
            (503, retryable(503)),
            (301, Attempt::Rejected(StatusCode::MOVED_PERMANENTLY)),
            (400, Attempt::Rejected(StatusCode::BAD_REQUEST)),
            (404, Attempt::Rejected(StatusCode::NOT_FOUND)),
        ];
        for (code, expected) in cases {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap(), None),
                expected,
                "{code}"
            );
        }
    }
}
