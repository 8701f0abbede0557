//! Deliveries: one event on its way to one subscription, with every attempt it took. The
//! record is the outbox row; this module only says what it holds and how its state moves.

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

/// One request to the callback URL and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why no usable answer came (`timeout`, `connect`, `address_not_allowed`, ...).
    pub error: Option<String>,
    pub duration_ms: u64,
}

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
    /// Why the delivery failed, when it did (`rejected`, `retries_exhausted`, ...).
    pub failure: Option<String>,
    pub attempts: Vec<AttemptRecord>,
}

impl Delivery {
    /// A delivery due at once, before its first attempt.
    pub fn new(event_id: EventId, subscription: &super::Subscription, now: DateTime<Utc>) -> Self {
        Self {
            id: DeliveryId::new_ordered(),
            event_id,
            subscription_id: subscription.id,
            instance_id: subscription.instance_id,
            tenant: subscription.tenant.clone(),
            host: subscription.callback.host_port(),
            status: DeliveryStatus::Pending,
            created_at: now,
            due_ms: Some(now.timestamp_millis()),
            retries_used: 0,
            failure: None,
            attempts: Vec::new(),
        }
    }

    /// What the scheduler needs to queue it, when it is pending.
    pub fn queued(&self) -> Option<Queued> {
        match (self.status, self.due_ms) {
            (DeliveryStatus::Pending, Some(due_ms)) => Some(Queued {
                id: self.id,
                host: self.host.clone(),
                due_ms,
            }),
            _ => None,
        }
    }
}

/// A pending delivery as the in-memory scheduler holds it: small, so that a large backlog
/// costs little memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: DeliveryId,
    pub host: String,
    pub due_ms: i64,
}
