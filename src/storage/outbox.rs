//! The outbox: delivery records, the due index the scheduler reloads after a restart, the
//! per-instance listing index, pruning of delivered records, and 404 counts per subscription.

use chrono::{DateTime, Utc};

use super::{Result, Store, T, WriteSet, decode};
use crate::domain::{
    AttemptRecord, Delivery, DeliveryId, DeliveryStatus, EventId, InstanceId, Queued,
    SubscriptionId,
};

/// What one attempt did to its delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    Delivered,
    /// Try again at `due`.
    Retry {
        due: DateTime<Utc>,
    },
    /// No more attempts; `reason` says why.
    Failed {
        reason: &'static str,
    },
}

/// A page of an instance's deliveries, newest first.
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub subscription: Option<SubscriptionId>,
    /// Continue after this delivery (the last of the previous page).
    pub after: Option<DeliveryId>,
    pub limit: usize,
}

pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Set when more deliveries may follow the last one.
    pub more: bool,
}

const EMPTY: &[u8] = &[];

/// A time in Unix milliseconds followed by an id: range scans go in time order.
pub(super) fn time_key(ms: i64, id: &[u8; 16]) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    // Times are after 1970, so the big-endian bytes of a non-negative i64 sort by time.
    key.extend_from_slice(&(ms.max(0) as u64).to_be_bytes());
    key.extend_from_slice(id);
    key
}

fn due_key(due_ms: i64, id: DeliveryId) -> Vec<u8> {
    time_key(due_ms, id.as_bytes())
}

fn instance_key(instance: InstanceId, id: DeliveryId) -> Vec<u8> {
    let mut key = instance.as_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn trailing_id(key: &[u8]) -> Option<DeliveryId> {
    super::keys::trailing_uuid(key).map(DeliveryId)
}

impl Store {
    /// Adds a new delivery to `set`: the record, its due entry and its listing entry.
    pub(super) fn stage_delivery(&self, set: &mut WriteSet, delivery: &Delivery) -> Result<()> {
        set.put_json(T::DeliveryidDelivery, delivery.id.as_bytes(), delivery)?;
        if let Some(due_ms) = delivery.due_ms {
            set.put(T::DueDeliveryidUnit, due_key(due_ms, delivery.id), EMPTY);
        }
        set.put(
            T::InstanceDeliveryidUnit,
            instance_key(delivery.instance_id, delivery.id),
            EMPTY,
        );
        Ok(())
    }

    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
        self.get_json(T::DeliveryidDelivery, id.as_bytes())
    }

    /// Every pending delivery, due first: what the scheduler reloads at start.
    pub fn pending_deliveries(&self) -> Result<Vec<Queued>> {
        let mut out = Vec::new();
        for key in self.tree(T::DueDeliveryidUnit).iter().keys() {
            let Some(id) = trailing_id(&key?) else {
                continue;
            };
            if let Some(queued) = self.delivery(id)?.and_then(|d| d.queued()) {
                out.push(queued);
            }
        }
        Ok(out)
    }

    /// Records an attempt and moves the delivery on; `None` when the record is gone or no
    /// longer pending (a manual retry raced it, or it was pruned).
    ///
    /// This is the hot path of delivery, so it avoids a multi-tree transaction (sled's take a
    /// process-wide write lock that stops every reader). Single-key writes go in an order
    /// that a crash between any two leaves safe: an index entry is added before the record
    /// that it points to changes and removed after, and every reader of an index checks the
    /// record (`pending_deliveries` keeps only pending ones, pruning only delivered ones). The
    /// worst a crash does is repeat an attempt.
    pub fn record_attempt(
        &self,
        id: DeliveryId,
        attempt: AttemptRecord,
        result: AttemptResult,
    ) -> Result<Option<Delivery>> {
        let _guard = self.delivery_guard();
        let Some(mut delivery) = self.delivery(id)? else {
            return Ok(None);
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        let old_due = delivery.due_ms.take();
        let now_ms = attempt.at.timestamp_millis();
        delivery.attempts.push(attempt);
        match result {
            AttemptResult::Delivered => {
                delivery.status = DeliveryStatus::Delivered;
                self.tree(T::DoneatDeliveryidUnit)
                    .insert(due_key(now_ms, id), EMPTY)?;
            }
            AttemptResult::Retry { due } => {
                delivery.retries_used += 1;
                delivery.due_ms = Some(due.timestamp_millis());
                self.tree(T::DueDeliveryidUnit)
                    .insert(due_key(due.timestamp_millis(), id), EMPTY)?;
            }
            AttemptResult::Failed { reason } => {
                delivery.status = DeliveryStatus::Failed;
                delivery.failure = Some(reason.to_owned());
            }
        }
        let bytes =
            serde_json::to_vec(&delivery).map_err(|source| super::StorageError::Corrupt {
                tree: T::DeliveryidDelivery.name(),
                source,
            })?;
        self.tree(T::DeliveryidDelivery)
            .insert(id.as_bytes(), bytes)?;
        if let Some(due_ms) = old_due {
            self.tree(T::DueDeliveryidUnit)
                .remove(due_key(due_ms, id))?;
        }
        Ok(Some(delivery))
    }

    /// Queues a delivery again, due at `now`, with `retries_used` set so that it gets the
    /// attempts that remain of the schedule from there (the caller chooses how many).
    pub fn requeue_delivery(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        retries_used: usize,
    ) -> Result<Option<Delivery>> {
        let _guard = self.delivery_guard();
        let Some(mut delivery) = self.delivery(id)? else {
            return Ok(None);
        };
        let mut set = WriteSet::default();
        if let Some(due_ms) = delivery.due_ms.take() {
            set.remove(T::DueDeliveryidUnit, due_key(due_ms, id));
        }
        if delivery.status == DeliveryStatus::Delivered
            && let Some(done) = delivery.attempts.last()
        {
            set.remove(
                T::DoneatDeliveryidUnit,
                due_key(done.at.timestamp_millis(), id),
            );
        }
        let due_ms = now.timestamp_millis();
        delivery.status = DeliveryStatus::Pending;
        delivery.failure = None;
        delivery.due_ms = Some(due_ms);
        delivery.retries_used = retries_used;
        set.put(T::DueDeliveryidUnit, due_key(due_ms, id), EMPTY);
        set.put_json(T::DeliveryidDelivery, id.as_bytes(), &delivery)?;
        self.commit(set)?;
        Ok(Some(delivery))
    }

    /// A page of the instance's deliveries, newest first, filtered.
    pub fn deliveries(&self, instance: InstanceId, query: &DeliveryQuery) -> Result<DeliveryPage> {
        let start = instance_key(instance, DeliveryId(uuid::Uuid::nil()));
        let end = match query.after {
            Some(after) => instance_key(instance, after),
            None => instance_key(instance, DeliveryId(uuid::Uuid::max())),
        };
        let mut deliveries = Vec::new();
        let mut more = false;
        for key in self
            .tree(T::InstanceDeliveryidUnit)
            .range(start..end)
            .keys()
            .rev()
        {
            let Some(id) = trailing_id(&key?) else {
                continue;
            };
            let Some(delivery) = self.delivery(id)? else {
                continue;
            };
            let wanted = query.status.is_none_or(|s| s == delivery.status)
                && query
                    .subscription
                    .is_none_or(|s| s == delivery.subscription_id);
            if !wanted {
                continue;
            }
            if deliveries.len() == query.limit {
                more = true;
                break;
            }
            deliveries.push(delivery);
        }
        Ok(DeliveryPage { deliveries, more })
    }

    /// Removes delivered records whose last attempt is older than `before`; returns how many.
    /// Pending and failed records stay (they are the queue and the dead letters). An event
    /// goes with the last of its deliveries.
    pub fn prune_delivered(&self, before: DateTime<Utc>, max: usize) -> Result<usize> {
        let end = due_key(before.timestamp_millis(), DeliveryId(uuid::Uuid::nil()));
        // Held throughout, so that a manual retry cannot revive a record being pruned.
        let _guard = self.delivery_guard();
        let mut set = WriteSet::default();
        let mut pruned = 0;
        let mut per_event: std::collections::HashMap<EventId, u64> = Default::default();
        for key in self
            .tree(T::DoneatDeliveryidUnit)
            .range(..end.clone())
            .keys()
            .take(max)
        {
            let key = key?;
            if let Some(id) = trailing_id(&key)
                && let Some(bytes) = self.tree(T::DeliveryidDelivery).get(id.as_bytes())?
            {
                let delivery: Delivery = decode(T::DeliveryidDelivery, &bytes)?;
                if delivery.status != DeliveryStatus::Delivered {
                    // Retried since, or a crash left the entry ahead of its record.
                    set.remove(T::DoneatDeliveryidUnit, key.to_vec());
                    continue;
                }
                set.remove(T::DeliveryidDelivery, id.as_bytes());
                set.remove(
                    T::InstanceDeliveryidUnit,
                    instance_key(delivery.instance_id, id),
                );
                *per_event.entry(delivery.event_id).or_default() += 1;
            }
            set.remove(T::DoneatDeliveryidUnit, key.to_vec());
            pruned += 1;
        }
        // Events that matched no subscription, past retention.
        let unmatched = self.tree(T::CreatedmsEventidUnmatched);
        for key in unmatched.range(..end).keys().take(max) {
            let key = key?;
            if let Some(event) = super::keys::trailing_uuid(&key) {
                set.remove(T::EventidEvent, event.as_bytes().to_vec());
            }
            set.remove(T::CreatedmsEventidUnmatched, key.to_vec());
        }
        for (event, gone) in per_event {
            let counter = self.tree(T::EventidUnpruned).get(event.as_bytes())?;
            let left = counter
                .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
                .map_or(0, u64::from_be_bytes)
                .saturating_sub(gone);
            if left == 0 {
                set.remove(T::EventidEvent, event.as_bytes());
                set.remove(T::EventidUnpruned, event.as_bytes());
            } else {
                set.put(T::EventidUnpruned, event.as_bytes(), left.to_be_bytes());
            }
        }
        if !set.ops.is_empty() {
            self.commit(set)?;
        }
        Ok(pruned)
    }

    /// Counts one more 404 in a row from the subscription's callback; returns the count.
    pub fn note_not_found(&self, id: SubscriptionId) -> Result<u32> {
        let tree = self.tree(T::SubscriptionidNotfoundcount);
        let updated = tree.update_and_fetch(id.as_bytes(), |old| {
            let count = old
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_be_bytes);
            Some(count.saturating_add(1).to_be_bytes().to_vec())
        })?;
        Ok(updated
            .and_then(|b| <[u8; 4]>::try_from(b.as_ref()).ok())
            .map_or(1, u32::from_be_bytes))
    }

    /// Any answer other than 404 ends a run of 404s. Read first: almost always there is no
    /// run, and a read costs far less than a write on every delivery.
    pub fn clear_not_found(&self, id: SubscriptionId) -> Result<()> {
        let tree = self.tree(T::SubscriptionidNotfoundcount);
        if tree.contains_key(id.as_bytes())? {
            tree.remove(id.as_bytes())?;
        }
        Ok(())
    }

    fn delivery_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // Writes are transactions, so a poisoned lock left nothing half-written.
        self.delivery_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::TenantId;

    fn pending(store: &Store, instance: InstanceId, now: DateTime<Utc>) -> Delivery {
        let delivery = Delivery {
            id: DeliveryId::new_ordered(),
            event_id: EventId::new(),
            subscription_id: SubscriptionId::new(),
            instance_id: instance,
            tenant: TenantId::parse("t").unwrap(),
            host: "example.com:443".into(),
            status: DeliveryStatus::Pending,
            created_at: now,
            due_ms: Some(now.timestamp_millis()),
            retries_used: 0,
            failure: None,
            attempts: Vec::new(),
        };
        let mut set = WriteSet::default();
        store.stage_delivery(&mut set, &delivery).unwrap();
        store.commit(set).unwrap();
        delivery
    }

    fn attempt(at: DateTime<Utc>) -> AttemptRecord {
        AttemptRecord {
            at,
            status_code: Some(200),
            error: None,
            duration_ms: 1,
        }
    }

    #[test]
    fn delivered_records_and_their_events_are_pruned_after_retention_and_failed_ones_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let instance = InstanceId::new();
        let now = Utc::now();
        let old = now - Duration::days(8);
        let (done_old, done_new, dead) = (
            pending(&store, instance, old),
            pending(&store, instance, now),
            pending(&store, instance, old),
        );
        store
            .record_attempt(done_old.id, attempt(old), AttemptResult::Delivered)
            .unwrap();
        store
            .record_attempt(done_new.id, attempt(now), AttemptResult::Delivered)
            .unwrap();
        store
            .record_attempt(
                dead.id,
                attempt(old),
                AttemptResult::Failed { reason: "rejected" },
            )
            .unwrap();
        assert!(store.pending_deliveries().unwrap().is_empty());
        for (delivery, count) in [(&done_old, 1u64), (&dead, 1)] {
            let id = delivery.event_id;
            store
                .tree(T::EventidEvent)
                .insert(id.as_bytes(), b"{}")
                .unwrap();
            store
                .tree(T::EventidUnpruned)
                .insert(id.as_bytes(), &count.to_be_bytes())
                .unwrap();
        }
        let unmatched = EventId::new();
        store
            .tree(T::EventidEvent)
            .insert(unmatched.as_bytes(), b"{}")
            .unwrap();
        store
            .tree(T::CreatedmsEventidUnmatched)
            .insert(time_key(old.timestamp_millis(), unmatched.as_bytes()), b"")
            .unwrap();

        assert_eq!(
            store.prune_delivered(now - Duration::days(7), 100).unwrap(),
            1
        );
        assert!(store.delivery(done_old.id).unwrap().is_none());
        assert!(store.delivery(done_new.id).unwrap().is_some());
        assert!(store.delivery(dead.id).unwrap().is_some());
        let event_kept = |d: &Delivery| {
            store
                .tree(T::EventidEvent)
                .contains_key(d.event_id.as_bytes())
                .unwrap()
        };
        assert!(!event_kept(&done_old), "its last delivery was pruned");
        assert!(event_kept(&dead), "a failed delivery may be retried");
        let unmatched_kept = store
            .tree(T::EventidEvent)
            .contains_key(unmatched.as_bytes())
            .unwrap();
        assert!(
            !unmatched_kept,
            "an event that matched nothing goes after retention"
        );
        let all = DeliveryQuery {
            status: None,
            subscription: None,
            after: None,
            limit: 10,
        };
        assert_eq!(
            store.deliveries(instance, &all).unwrap().deliveries.len(),
            2
        );
    }

    #[test]
    fn a_retry_moves_the_due_entry_and_pending_deliveries_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let delivery = {
            let store = Store::open(dir.path()).unwrap();
            let delivery = pending(&store, InstanceId::new(), now);
            let due = now + Duration::seconds(30);
            store
                .record_attempt(delivery.id, attempt(now), AttemptResult::Retry { due })
                .unwrap();
            delivery
        };
        let store = Store::open(dir.path()).unwrap();
        let queued = store.pending_deliveries().unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].id, delivery.id);
        assert_eq!(
            queued[0].due_ms,
            (now + Duration::seconds(30)).timestamp_millis()
        );
    }
}
