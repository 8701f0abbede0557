//! One attempt of one delivery: load it from the outbox, sign and POST the payload, classify
//! the answer, act on 410 and repeated 404s, and record the result with the next due time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};

use super::metrics::{Outcome, Removal};
use super::{
    AGENT, Attempt, DeliveryError, Shared, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    classify, guard, signature,
};
use crate::domain::callback_url::is_non_public;
use crate::domain::{
    AttemptRecord, Delivery, DeliveryId, DeliveryStatus, Event, Queued, Subscription,
};
use crate::storage::AttemptResult;

/// When recording a result fails, the delivery is tried again after this long.
const STORAGE_BACKOFF: Duration = Duration::from_secs(5);
/// Bytes of a receiver's answer read (and discarded) so the connection can be reused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Makes one attempt and returns the delivery when it stays pending.
pub(super) async fn deliver(shared: &Shared, id: DeliveryId, host: &str) -> Option<Queued> {
    match attempt(shared, id).await {
        Ok(next) => next,
        Err(err) => {
            tracing::error!(?err, delivery_id = %id, "could not record a delivery attempt");
            Some(Queued {
                id,
                host: host.to_owned(),
                due_ms: Utc::now().timestamp_millis() + STORAGE_BACKOFF.as_millis() as i64,
            })
        }
    }
}

async fn attempt(shared: &Shared, id: DeliveryId) -> Result<Option<Queued>, DeliveryError> {
    let store = &shared.store;
    let Some(delivery) = store.delivery(id)? else {
        return Ok(None);
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(None);
    }
    let started = Utc::now();
    let (subscription, event) = match (
        store.subscription(delivery.subscription_id)?,
        store.event(delivery.event_id)?,
    ) {
        (Some(sub), Some(event)) => (sub, event),
        (None, _) => return finish(shared, &delivery, not_sent(started, "subscription_removed")),
        (_, None) => return finish(shared, &delivery, not_sent(started, "event_missing")),
    };
    let (outcome, record) = send(shared, &delivery, &event, &subscription, started).await;
    tracing::info!(
        delivery_id = %delivery.id,
        event_id = %delivery.event_id,
        subscription_id = %subscription.id,
        callback = %subscription.callback,
        outcome = ?outcome,
        "delivery attempt"
    );
    let result = decide(shared, &delivery, &subscription, &outcome, started)?;
    finish(shared, &delivery, (record, result))
}

fn not_sent(at: DateTime<Utc>, why: &'static str) -> (AttemptRecord, AttemptResult) {
    let record = AttemptRecord {
        at,
        status_code: None,
        error: Some(why.to_owned()),
        duration_ms: 0,
    };
    (record, AttemptResult::Failed { reason: why })
}

fn finish(
    shared: &Shared,
    delivery: &Delivery,
    (record, result): (AttemptRecord, AttemptResult),
) -> Result<Option<Queued>, DeliveryError> {
    shared.metrics.outcome(match result {
        AttemptResult::Delivered => Outcome::Delivered,
        AttemptResult::Retry { .. } => Outcome::Retried,
        AttemptResult::Failed { .. } => Outcome::Failed,
    });
    if let AttemptResult::Failed { reason } = &result {
        tracing::warn!(delivery_id = %delivery.id, reason, "delivery failed; kept for replay");
    }
    let updated = shared.store.record_attempt(delivery.id, record, result)?;
    Ok(updated.and_then(|d| d.queued()))
}

/// The result of an attempt, with its side effects on the subscription (410, 404s).
fn decide(
    shared: &Shared,
    delivery: &Delivery,
    subscription: &Subscription,
    outcome: &Attempt,
    now: DateTime<Utc>,
) -> Result<AttemptResult, DeliveryError> {
    let store = &shared.store;
    if !matches!(outcome, Attempt::NotFound) && answered(outcome) {
        store.clear_not_found(subscription.id)?;
    }
    let retry = |retry_after: Option<Duration>| {
        let Some(delay) = shared.settings.retry_schedule.get(delivery.retries_used) else {
            return AttemptResult::Failed {
                reason: "retries_exhausted",
            };
        };
        let delay = retry_after.unwrap_or_else(|| jittered(*delay));
        let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        AttemptResult::Retry {
            due: now
                .checked_add_signed(delay)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    };
    Ok(match outcome {
        Attempt::Delivered(_) => AttemptResult::Delivered,
        Attempt::Gone => {
            remove(shared, subscription, Removal::Gone)?;
            AttemptResult::Failed {
                reason: "subscription_gone",
            }
        }
        Attempt::NotFound => {
            let count = store.note_not_found(subscription.id)?;
            if count >= shared.settings.not_found_limit.max(1) {
                remove(shared, subscription, Removal::NotFound)?;
                AttemptResult::Failed {
                    reason: "subscription_not_found",
                }
            } else {
                retry(None)
            }
        }
        Attempt::Rejected(_) => AttemptResult::Failed { reason: "rejected" },
        Attempt::Undeliverable(why) => AttemptResult::Failed { reason: why },
        Attempt::Retryable { retry_after, .. } => retry(*retry_after),
    })
}

fn answered(outcome: &Attempt) -> bool {
    match outcome {
        Attempt::Retryable { status, .. } => status.is_some(),
        Attempt::Undeliverable(_) => false,
        _ => true,
    }
}

fn remove(shared: &Shared, subscription: &Subscription, why: Removal) -> Result<(), DeliveryError> {
    if shared.store.unsubscribe(subscription.id)?.is_some() {
        shared.metrics.removed(why);
        tracing::info!(subscription_id = %subscription.id, reason = ?why,
            "subscription removed: its callback says the flow is gone");
    }
    shared.store.clear_not_found(subscription.id)?;
    Ok(())
}

/// The delay plus up to a fifth more, so that deliveries failed together do not all come
/// back at the same instant.
fn jittered(delay: Duration) -> Duration {
    let spread = getrandom::u32().unwrap_or(0) as f64 / u32::MAX as f64;
    delay.mul_f64(1.0 + 0.2 * spread)
}

async fn send(
    shared: &Shared,
    delivery: &Delivery,
    event: &Event,
    subscription: &Subscription,
    at: DateTime<Utc>,
) -> (Attempt, AttemptRecord) {
    let mut record = AttemptRecord {
        at,
        status_code: None,
        error: None,
        duration_ms: 0,
    };
    let url = &subscription.callback;
    // A literal address never reaches the resolver, so it is checked here.
    if !shared.settings.allow_private && url.literal_ip().is_some_and(is_non_public) {
        record.error = Some("address_not_allowed".into());
        return (Attempt::Undeliverable("address_not_allowed"), record);
    }
    let body = match serde_json::to_vec(&event.payload_for(subscription)) {
        Ok(body) => body,
        Err(_) => {
            record.error = Some("encoding".into());
            return (Attempt::Undeliverable("encoding"), record);
        }
    };
    let msg_id = delivery.id.to_string();
    let timestamp = at.timestamp();
    let mut request = shared
        .client
        .post(url.as_url().clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, AGENT)
        .header(WEBHOOK_ID, &msg_id)
        .header(WEBHOOK_TIMESTAMP, timestamp.to_string());
    if let Some(signed) = subscription
        .signing_secret
        .as_ref()
        .and_then(|secret| signature::sign(secret, &msg_id, timestamp, &body))
    {
        request = request.header(WEBHOOK_SIGNATURE, signed);
    }
    let started = Instant::now();
    let result = request.body(body).send().await;
    let outcome = match result {
        Ok(mut response) => {
            let status = response.status();
            record.status_code = Some(status.as_u16());
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            let mut read = 0;
            while let Ok(Some(chunk)) = response.chunk().await {
                read += chunk.len();
                if read > MAX_ANSWER_BYTES {
                    break;
                }
            }
            classify(status, retry_after)
        }
        Err(err) => {
            let kind = error_kind(&err);
            record.error = Some(kind.into());
            if kind == "address_not_allowed" {
                Attempt::Undeliverable(kind)
            } else {
                Attempt::Retryable {
                    status: None,
                    retry_after: None,
                }
            }
        }
    };
    let elapsed = started.elapsed();
    shared.metrics.attempt_took(elapsed);
    record.duration_ms = elapsed.as_millis() as u64;
    (outcome, record)
}

fn error_kind(err: &reqwest::Error) -> &'static str {
    if guard::refused_by_guard(err) {
        "address_not_allowed"
    } else if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else {
        "request"
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(raw: &str, now: DateTime<Utc>) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cases = [
            ("120", Some(Duration::from_secs(120))),
            (" 3 ", Some(Duration::from_secs(3))),
            (
                "Wed, 21 Oct 2015 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(Duration::ZERO)),
            ("soon", None),
            ("-5", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_retry_after(raw, now), expected, "{raw:?}");
        }
    }

    #[test]
    fn jitter_adds_at_most_a_fifth() {
        for _ in 0..100 {
            let delay = jittered(Duration::from_secs(10));
            assert!(delay >= Duration::from_secs(10) && delay <= Duration::from_secs(12));
        }
    }
}
