//! One attempt of one delivery: read what it needs, sign and POST the payload, classify the
//! answer, and hand back the result to record. Recording, and what the answer does to the
//! delivery and its subscription, happen after (`Inner::record`, `DeliveryState::record`).

use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};

use super::{AGENT, Inner, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, classify, signature};
use crate::domain::callback_url::is_non_public;
use crate::domain::{AttemptError, AttemptRecord, DeliveryId, FailureReason, Queued, Verdict};
use crate::storage::{AttemptContext, AttemptReport};

/// When the outbox cannot be read, the delivery is tried again after this long.
const STORAGE_BACKOFF: Duration = Duration::from_secs(1);

/// Makes one attempt of `id`; `None` when there is nothing to record (the delivery is gone
/// or no longer pending, or the outbox could not be read).
pub(super) async fn attempt(inner: &Inner, id: DeliveryId, host: String) -> Option<AttemptReport> {
    let context = match inner.store.attempt_context(id) {
        Ok(Some(context)) => context,
        Ok(None) => {
            inner.state().done(id);
            return None;
        }
        Err(err) => {
            tracing::error!(error = %err, delivery_id = %id, "cannot read a delivery; trying again shortly");
            inner.state().done(id);
            let due = inner.clock.now() + STORAGE_BACKOFF;
            inner.queue([Queued {
                id,
                host,
                due_ms: due.timestamp_millis(),
            }]);
            return None;
        }
    };
    let started = inner.clock.now();
    let (verdict, record) = match (&context.event, &context.subscription) {
        (_, None) => not_sent(
            started,
            FailureReason::SubscriptionRemoved,
            AttemptError::SubscriptionRemoved,
        ),
        (None, _) => not_sent(
            started,
            FailureReason::EventMissing,
            AttemptError::EventMissing,
        ),
        (Some(_), Some(_)) => send(inner, &context, started).await,
    };
    tracing::info!(
        delivery_id = %context.delivery,
        event_id = %context.event_id,
        subscription_id = %context.subscription_id,
        callback = %context.subscription.as_ref().map(|s| s.callback.to_string()).unwrap_or_default(),
        status = record.status_code,
        error = record.error.map(|e| e.as_str()),
        "delivery attempt"
    );
    Some(AttemptReport {
        delivery: context.delivery,
        event: context.event_id,
        index: context.index,
        attempts_before: context.state.attempts.len(),
        attempt: record,
        // Only a retry needs spread (and drawing it costs a system call).
        jitter: if verdict == Verdict::Delivered {
            0.0
        } else {
            (inner.jitter)()
        },
        verdict,
    })
}

fn not_sent(
    at: chrono::DateTime<chrono::Utc>,
    why: FailureReason,
    error: AttemptError,
) -> (Verdict, AttemptRecord) {
    let record = AttemptRecord {
        at,
        status_code: None,
        error: Some(error),
        duration_ms: 0,
    };
    (Verdict::Undeliverable(why), record)
}

async fn send(
    inner: &Inner,
    context: &AttemptContext,
    at: chrono::DateTime<chrono::Utc>,
) -> (Verdict, AttemptRecord) {
    let (Some(event), Some(subscription)) = (&context.event, &context.subscription) else {
        return not_sent(at, FailureReason::EventMissing, AttemptError::EventMissing);
    };
    let mut record = AttemptRecord {
        at,
        status_code: None,
        error: None,
        duration_ms: 0,
    };
    let url = &subscription.callback;
    // A literal address never reaches the resolver, so it is checked here.
    if !inner.settings.allow_private && url.literal_ip().is_some_and(is_non_public) {
        return not_sent(
            at,
            FailureReason::AddressNotAllowed,
            AttemptError::AddressNotAllowed,
        );
    }
    let body = match inner.template(event) {
        Some(template) => template.render(subscription.id),
        None => match serde_json::to_vec(&event.payload_for(subscription)) {
            Ok(body) => body,
            Err(_) => return not_sent(at, FailureReason::Encoding, AttemptError::Encoding),
        },
    };
    let msg_id = context.delivery.to_string();
    let timestamp = at.timestamp();
    let mut request = Request::post(url.as_str())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, HeaderValue::from_static(AGENT))
        .header(WEBHOOK_ID, &msg_id)
        .header(WEBHOOK_TIMESTAMP, timestamp);
    if let Some(secret) = &subscription.signing_secret {
        let Some(signed) = signature::sign(secret, &msg_id, timestamp, &body) else {
            tracing::error!(subscription_id = %subscription.id,
                "the stored signing secret is corrupt; the delivery fails rather than go unsigned");
            return not_sent(at, FailureReason::Encoding, AttemptError::Encoding);
        };
        request = request.header(WEBHOOK_SIGNATURE, signed);
    }
    let Ok(request) = request.body(Full::new(Bytes::from(body))) else {
        // A stored callback URL that is not a valid request target (a damaged record).
        return not_sent(at, FailureReason::Encoding, AttemptError::Encoding);
    };
    let started = Instant::now();
    let verdict = match inner.client.send(request).await {
        Ok(answer) => {
            record.status_code = Some(answer.status.as_u16());
            let retry_after = answer
                .retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, inner.clock.now()));
            classify(answer.status, retry_after)
        }
        Err(kind) => {
            record.error = Some(kind);
            match kind {
                AttemptError::AddressNotAllowed => {
                    Verdict::Undeliverable(FailureReason::AddressNotAllowed)
                }
                _ => Verdict::Retryable { retry_after: None },
            }
        }
    };
    let elapsed = started.elapsed();
    inner.metrics.attempt_took(elapsed);
    record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    (verdict, record)
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(raw: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw)
        .ok()?
        .with_timezone(&chrono::Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

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
}
