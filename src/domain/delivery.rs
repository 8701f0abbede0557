//! Deliveries: one event on its way to one subscription, with every attempt it took, and the
//! state machine that moves a delivery on after each attempt (`record`) or a manual retry
//! (`requeue`). Pure: the caller supplies the time, the schedule and the jitter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DeliveryId, EventId, InstanceId, SubscriptionId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Its last attempt failed, or the receiver refused it for good; kept for replay.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// Declares a closed set of snake_case words with their wire names, stable on disk and in
/// answers: `as_str`, `parse` and serde all use the one table.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {}: {raw:?}", stringify!($name)))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// Why a delivery failed for good (`failure` in listings).
    FailureReason {
        /// A 3xx or a 4xx other than 404, 410 and 429: retrying cannot help.
        Rejected = "rejected",
        /// The last delay of the retry schedule passed without a 2xx.
        RetriesExhausted = "retries_exhausted",
        /// 410: the flow is gone; its subscription was removed.
        SubscriptionGone = "subscription_gone",
        /// 404 several times in a row; the subscription was removed.
        SubscriptionNotFound = "subscription_not_found",
        /// The subscription was deleted before the attempt.
        SubscriptionRemoved = "subscription_removed",
        /// The event record is missing (a corrupt or pruned outbox).
        EventMissing = "event_missing",
        /// The callback address is loopback, private or reserved.
        AddressNotAllowed = "address_not_allowed",
        /// The payload could not be built.
        Encoding = "encoding",
    }
}

vocabulary! {
    /// Why an attempt got no usable answer (`error` of an attempt).
    AttemptError {
        Timeout = "timeout",
        Connect = "connect",
        /// Any other failure of the request (TLS, protocol, a reset connection).
        Request = "request",
        AddressNotAllowed = "address_not_allowed",
        Encoding = "encoding",
        SubscriptionRemoved = "subscription_removed",
        EventMissing = "event_missing",
    }
}

/// One request to the callback URL and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why no usable answer came.
    pub error: Option<AttemptError>,
    pub duration_ms: u64,
}

/// A delivery as listed: where it goes and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub subscription_id: SubscriptionId,
    pub instance_id: InstanceId,
    pub tenant: TenantId,
    /// `host:port` of the callback URL, which bounds concurrency per receiver.
    pub host: String,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (pending deliveries only), in Unix milliseconds.
    pub due_ms: Option<i64>,
    /// Delays of the retry schedule used so far; the next failure takes the next one.
    pub retries_used: usize,
    /// Why the delivery failed, when it did.
    pub failure: Option<FailureReason>,
    pub attempts: Vec<AttemptRecord>,
}

/// The moving part of a delivery: what the state machine reads and writes after each attempt.
/// A delivery that was never attempted is pending and due when its event was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    pub status: DeliveryStatus,
    pub due_ms: Option<i64>,
    pub retries_used: usize,
    pub failure: Option<FailureReason>,
    pub attempts: Vec<AttemptRecord>,
}

impl DeliveryState {
    /// A new delivery, due at `created_ms`.
    pub fn new(created_ms: i64) -> Self {
        Self {
            status: DeliveryStatus::Pending,
            due_ms: Some(created_ms),
            retries_used: 0,
            failure: None,
            attempts: Vec::new(),
        }
    }

    /// Due time, when the delivery waits for an attempt.
    pub fn pending_due(&self) -> Option<i64> {
        match self.status {
            DeliveryStatus::Pending => self.due_ms,
            _ => None,
        }
    }
}

/// What the receiver's answer (or its absence) says about the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// 410: the flow is gone; the subscription is removed.
    Gone,
    /// 404: retried, and the subscription is removed after `limit` in a row.
    NotFound,
    /// Another 4xx or a 3xx.
    Rejected,
    /// 429, 5xx, timeout or connection failure; `retry_after` is the receiver's hint.
    Retryable {
        retry_after: Option<Duration>,
    },
    /// Never sent and never will be.
    Undeliverable(FailureReason),
}

/// The retry policy a delivery moves under.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delays between attempts; after the last one the delivery fails.
    pub schedule: Vec<Duration>,
    /// 404 answers in a row that remove a subscription.
    pub not_found_limit: u32,
}

/// What recording an attempt did, beside the new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionEffect {
    None,
    /// Any answer but 404 ends a run of 404s.
    ClearNotFound,
    /// One more 404 in a row, below the limit.
    CountNotFound,
    /// The subscription is to be removed (410, or the 404 limit reached).
    Remove,
}

impl DeliveryState {
    /// Records `attempt` and moves the delivery on. `not_found_in_a_row` counts earlier 404s
    /// of the same subscription; `jitter` in `[0, 1)` spreads retries (up to a fifth more).
    /// A delivery that is no longer pending (a manual retry or a prune raced the attempt)
    /// keeps its state and only gains the attempt.
    pub fn record(
        &mut self,
        attempt: AttemptRecord,
        verdict: &Verdict,
        policy: &RetryPolicy,
        not_found_in_a_row: u32,
        jitter: f64,
    ) -> SubscriptionEffect {
        let now = attempt.at;
        let answered = attempt.status_code.is_some();
        self.attempts.push(attempt);
        if self.status != DeliveryStatus::Pending {
            return SubscriptionEffect::None;
        }
        let mut effect = if answered && *verdict != Verdict::NotFound {
            SubscriptionEffect::ClearNotFound
        } else {
            SubscriptionEffect::None
        };
        match verdict {
            Verdict::Delivered => self.finish(DeliveryStatus::Delivered, None),
            Verdict::Gone => {
                effect = SubscriptionEffect::Remove;
                self.finish(
                    DeliveryStatus::Failed,
                    Some(FailureReason::SubscriptionGone),
                );
            }
            Verdict::NotFound if not_found_in_a_row + 1 >= policy.not_found_limit.max(1) => {
                effect = SubscriptionEffect::Remove;
                self.finish(
                    DeliveryStatus::Failed,
                    Some(FailureReason::SubscriptionNotFound),
                );
            }
            Verdict::NotFound => {
                effect = SubscriptionEffect::CountNotFound;
                self.retry(now, None, policy, jitter);
            }
            Verdict::Rejected => self.finish(DeliveryStatus::Failed, Some(FailureReason::Rejected)),
            Verdict::Undeliverable(reason) => self.finish(DeliveryStatus::Failed, Some(*reason)),
            Verdict::Retryable { retry_after } => self.retry(now, *retry_after, policy, jitter),
        }
        effect
    }

    fn finish(&mut self, status: DeliveryStatus, failure: Option<FailureReason>) {
        self.status = status;
        self.failure = failure;
        self.due_ms = None;
    }

    fn retry(
        &mut self,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        policy: &RetryPolicy,
        jitter: f64,
    ) {
        let Some(delay) = policy.schedule.get(self.retries_used) else {
            return self.finish(
                DeliveryStatus::Failed,
                Some(FailureReason::RetriesExhausted),
            );
        };
        let delay =
            retry_after.unwrap_or_else(|| delay.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0)));
        self.retries_used += 1;
        self.due_ms = Some(now.timestamp_millis().saturating_add(millis(delay)));
    }

    /// Queues the delivery again, due at `now`. A pending one is only moved up; a delivered
    /// or failed one gets one more attempt and, should it fail in a way worth retrying, the
    /// rest of the schedule is not used again: it fails.
    pub fn requeue(&mut self, now_ms: i64, schedule_len: usize) {
        if self.status != DeliveryStatus::Pending {
            self.retries_used = schedule_len;
        }
        self.status = DeliveryStatus::Pending;
        self.failure = None;
        self.due_ms = Some(now_ms);
    }
}

/// Whole milliseconds of a delay, saturating: delays are bounded by configuration, and a
/// saturated due time only means "never".
fn millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

/// A pending delivery as the in-memory scheduler holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: DeliveryId,
    pub host: String,
    pub due_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(schedule: &[u64]) -> RetryPolicy {
        RetryPolicy {
            schedule: schedule.iter().map(|s| Duration::from_secs(*s)).collect(),
            not_found_limit: 3,
        }
    }

    fn attempt(at_ms: i64, status: Option<u16>) -> AttemptRecord {
        AttemptRecord {
            at: DateTime::from_timestamp_millis(at_ms).expect("a valid test time"),
            status_code: status,
            error: status.is_none().then_some(AttemptError::Connect),
            duration_ms: 1,
        }
    }

    #[test]
    fn each_verdict_moves_a_pending_delivery_as_the_contract_says() {
        let retry = Verdict::Retryable { retry_after: None };
        // (verdict, status answered, earlier 404s, status, failure, due, effect, why)
        let cases = [
            (
                Verdict::Delivered,
                Some(202),
                0,
                DeliveryStatus::Delivered,
                None,
                None,
                SubscriptionEffect::ClearNotFound,
                "2xx delivers",
            ),
            (
                Verdict::Gone,
                Some(410),
                0,
                DeliveryStatus::Failed,
                Some(FailureReason::SubscriptionGone),
                None,
                SubscriptionEffect::Remove,
                "410 removes the subscription",
            ),
            (
                Verdict::NotFound,
                Some(404),
                0,
                DeliveryStatus::Pending,
                None,
                Some(10_000),
                SubscriptionEffect::CountNotFound,
                "a first 404 is retried",
            ),
            (
                Verdict::NotFound,
                Some(404),
                2,
                DeliveryStatus::Failed,
                Some(FailureReason::SubscriptionNotFound),
                None,
                SubscriptionEffect::Remove,
                "the third 404 in a row removes it",
            ),
            (
                Verdict::Rejected,
                Some(400),
                0,
                DeliveryStatus::Failed,
                Some(FailureReason::Rejected),
                None,
                SubscriptionEffect::ClearNotFound,
                "other 4xx fail at once",
            ),
            (
                retry.clone(),
                Some(500),
                0,
                DeliveryStatus::Pending,
                None,
                Some(10_000),
                SubscriptionEffect::ClearNotFound,
                "5xx takes the next delay",
            ),
            (
                retry,
                None,
                0,
                DeliveryStatus::Pending,
                None,
                Some(10_000),
                SubscriptionEffect::None,
                "no answer keeps a run of 404s",
            ),
            (
                Verdict::Retryable {
                    retry_after: Some(Duration::from_secs(3)),
                },
                Some(429),
                0,
                DeliveryStatus::Pending,
                None,
                Some(3_000),
                SubscriptionEffect::ClearNotFound,
                "Retry-After replaces the schedule's delay",
            ),
            (
                Verdict::Undeliverable(FailureReason::AddressNotAllowed),
                None,
                0,
                DeliveryStatus::Failed,
                Some(FailureReason::AddressNotAllowed),
                None,
                SubscriptionEffect::None,
                "a refused address fails at once",
            ),
        ];
        for (verdict, answer, not_found, status, failure, due, effect, why) in cases {
            let mut state = DeliveryState::new(0);
            let got = state.record(
                attempt(0, answer),
                &verdict,
                &policy(&[10, 20]),
                not_found,
                0.0,
            );
            assert_eq!(
                (state.status, state.failure, state.due_ms, got),
                (status, failure, due, effect),
                "{why}"
            );
            assert_eq!(state.attempts.len(), 1, "{why}: the attempt is kept");
        }
    }

    #[test]
    fn the_schedule_is_used_in_order_then_the_delivery_fails() {
        let mut state = DeliveryState::new(0);
        let retry = Verdict::Retryable { retry_after: None };
        let policy = policy(&[5, 60]);
        state.record(attempt(0, Some(500)), &retry, &policy, 0, 0.0);
        assert_eq!(state.due_ms, Some(5_000));
        state.record(attempt(5_000, Some(500)), &retry, &policy, 0, 0.0);
        assert_eq!(state.due_ms, Some(65_000));
        state.record(attempt(65_000, Some(500)), &retry, &policy, 0, 0.0);
        assert_eq!(state.status, DeliveryStatus::Failed);
        assert_eq!(state.failure, Some(FailureReason::RetriesExhausted));
        assert_eq!(state.attempts.len(), 3);
    }

    #[test]
    fn jitter_adds_at_most_a_fifth_of_the_delay() {
        for (jitter, due) in [
            (0.0, 10_000),
            (0.5, 11_000),
            (0.999_999, 11_999),
            (7.0, 12_000),
        ] {
            let mut state = DeliveryState::new(0);
            state.record(
                attempt(0, Some(503)),
                &Verdict::Retryable { retry_after: None },
                &policy(&[10]),
                0,
                jitter,
            );
            assert_eq!(state.due_ms, Some(due), "jitter {jitter}");
        }
    }

    #[test]
    fn an_attempt_on_a_delivery_that_is_no_longer_pending_only_adds_the_attempt() {
        let mut state = DeliveryState::new(0);
        state.record(
            attempt(0, Some(400)),
            &Verdict::Rejected,
            &policy(&[1]),
            0,
            0.0,
        );
        let before = state.clone();
        let effect = state.record(
            attempt(1, Some(202)),
            &Verdict::Delivered,
            &policy(&[1]),
            0,
            0.0,
        );
        assert_eq!(effect, SubscriptionEffect::None);
        assert_eq!(
            (state.status, state.failure),
            (before.status, before.failure)
        );
        assert_eq!(state.attempts.len(), 2);
    }

    #[test]
    fn a_manual_retry_of_a_failed_delivery_gets_one_attempt_and_of_a_pending_one_moves_it_up() {
        let mut failed = DeliveryState::new(0);
        failed.record(
            attempt(0, Some(400)),
            &Verdict::Rejected,
            &policy(&[1, 2]),
            0,
            0.0,
        );
        failed.requeue(50, 2);
        assert_eq!(
            (failed.status, failed.due_ms, failed.failure),
            (DeliveryStatus::Pending, Some(50), None)
        );
        failed.record(
            attempt(50, Some(500)),
            &Verdict::Retryable { retry_after: None },
            &policy(&[1, 2]),
            0,
            0.0,
        );
        assert_eq!(failed.failure, Some(FailureReason::RetriesExhausted));

        let mut pending = DeliveryState::new(0);
        pending.record(
            attempt(0, Some(500)),
            &Verdict::Retryable { retry_after: None },
            &policy(&[100, 200]),
            0,
            0.0,
        );
        pending.requeue(10, 2);
        assert_eq!(
            (pending.due_ms, pending.retries_used),
            (Some(10), 1),
            "keeps its place in the schedule"
        );
    }

    #[test]
    fn failure_reasons_and_attempt_errors_keep_their_stored_names() {
        let reasons: Vec<&str> = FailureReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "rejected",
                "retries_exhausted",
                "subscription_gone",
                "subscription_not_found",
                "subscription_removed",
                "event_missing",
                "address_not_allowed",
                "encoding"
            ]
        );
        let errors: Vec<&str> = AttemptError::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(
            errors,
            [
                "timeout",
                "connect",
                "request",
                "address_not_allowed",
                "encoding",
                "subscription_removed",
                "event_missing"
            ]
        );
        for reason in FailureReason::ALL {
            let json = serde_json::to_string(reason).expect("a word serializes");
            assert_eq!(
                serde_json::from_str::<FailureReason>(&json).ok(),
                Some(*reason)
            );
        }
        assert!(
            serde_json::from_str::<AttemptError>("\"lost\"").is_err(),
            "unknown words are refused"
        );
    }
}
