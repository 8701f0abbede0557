//! Brings a data dir written by an earlier release up to the current stored format, at open,
//! before anything else reads it. Each step commits as it goes and can be run again after a
//! crash. Format 1 (the first release) kept one JSON record and three index entries per
//! delivery; format 2 keeps one fan-out record per event (see `outbox`) and per-tenant counts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::codec::{Fanout, Progress, StoredState, Target, TenantCounts};
use super::db::{Db, T, WriteSet};
use super::{Result, StorageError, keys};
use crate::domain::{Delivery, DeliveryState, DeliveryStatus, EventId, TenantId};

/// The stored format this release writes.
pub(super) const FORMAT: u32 = 2;
const FORMAT_KEY: &[u8] = b"format";

pub(super) fn format(db: &Db) -> Result<Option<u32>> {
    db.get(T::NameValue, FORMAT_KEY)?
        .map(|bytes| {
            <[u8; 4]>::try_from(bytes.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| StorageError::Corrupt {
                    tree: T::NameValue.name(),
                    detail: "a format that is not four bytes".into(),
                })
        })
        .transpose()
}

/// Migrates `db` to `FORMAT`; `now` dates what the old format did not (idempotency records).
pub(super) fn run(db: &Db, now: DateTime<Utc>) -> Result<()> {
    match format(db)? {
        Some(FORMAT) => return Ok(()),
        Some(newer) if newer > FORMAT => {
            return Err(StorageError::Corrupt {
                tree: T::NameValue.name(),
                detail: format!(
                    "the data dir has stored format {newer}, newer than this release's {FORMAT}; run the newer release"
                ),
            });
        }
        _ => {}
    }
    let moved = deliveries(db)?;
    clear_old_indexes(db)?;
    count_tenants(db, now)?;
    let mut set = WriteSet::default();
    set.put(T::NameValue, FORMAT_KEY, FORMAT.to_be_bytes());
    db.commit(set)?;
    db.flush()?;
    if moved > 0 {
        tracing::info!(deliveries = moved, "moved deliveries to the fan-out outbox");
    }
    Ok(())
}

/// Format 1 deliveries become fan-out records, one event at a time; each keeps its id.
fn deliveries(db: &Db) -> Result<usize> {
    let mut by_event: HashMap<EventId, Vec<Delivery>> = HashMap::new();
    for value in db.tree(T::LegacyDeliveryidDelivery).iter().values() {
        let delivery: Delivery = super::db::decode(T::LegacyDeliveryidDelivery, &value?)?;
        by_event
            .entry(delivery.event_id)
            .or_default()
            .push(delivery);
    }
    let mut moved = 0;
    for (event, mut group) in by_event {
        group.sort_by_key(|d| d.id);
        moved += group.len();
        db.commit(event_set(event, &group)?)?;
    }
    Ok(moved)
}

fn event_set(event: EventId, group: &[Delivery]) -> Result<WriteSet> {
    let first = group.first().ok_or(StorageError::Bug("an empty group"))?;
    let created = group
        .iter()
        .map(|d| d.created_at)
        .min()
        .unwrap_or(first.created_at);
    let fanout = Fanout {
        instance_id: first.instance_id,
        tenant: first.tenant.clone(),
        created_ns: created
            .timestamp_nanos_opt()
            .ok_or(StorageError::Bug("a time past 2262"))?,
        targets: group
            .iter()
            .map(|d| Target {
                subscription_id: d.subscription_id,
                host: d.host.clone(),
                legacy_id: Some(d.id),
            })
            .collect(),
    };
    let mut set = WriteSet::default();
    let mut open = 0u32;
    let mut done_ms = None;
    for (index, delivery) in (0u32..).zip(group) {
        let state = DeliveryState {
            status: delivery.status,
            due_ms: delivery.due_ms,
            retries_used: delivery.retries_used,
            failure: delivery.failure,
            attempts: delivery.attempts.clone(),
        };
        let last_ms = delivery.attempts.last().map(|a| a.at.timestamp_millis());
        match delivery.status {
            DeliveryStatus::Pending => open += 1,
            DeliveryStatus::Delivered => done_ms = done_ms.max(last_ms),
            DeliveryStatus::Failed => {
                done_ms = done_ms.max(last_ms);
                set.put(
                    T::TenantFailedmsDeliveryid,
                    keys::tenant_failed(&delivery.tenant, last_ms.unwrap_or(0), delivery.id),
                    [],
                );
            }
        }
        set.put(
            T::DeliveryidState,
            delivery.id.as_bytes(),
            StoredState::Live(state).encode()?,
        );
        set.put(
            T::LegacyDeliveryidTarget,
            delivery.id.as_bytes(),
            keys::event_index(event, index),
        );
        set.remove(T::LegacyDeliveryidDelivery, delivery.id.as_bytes());
    }
    let done_ms = (open == 0).then(|| done_ms.unwrap_or(fanout.created_ms()));
    if let Some(done) = done_ms {
        set.put(
            T::DoneatmsEventid,
            keys::time_key(done, event.as_bytes()),
            [],
        );
    }
    set.put(
        T::EventidProgress,
        event.as_bytes(),
        Progress { open, done_ms }.encode(),
    );
    set.put(
        T::InstanceCreatedmsEventid,
        keys::instance_event(fanout.instance_id, fanout.created_ms(), event),
        [],
    );
    set.put(T::EventidFanout, event.as_bytes(), fanout.encode()?);
    Ok(set)
}

/// The old indexes point only at old records, which are all moved now; events that reached
/// nobody were kept only to be pruned, and go now.
fn clear_old_indexes(db: &Db) -> Result<()> {
    let mut set = WriteSet::default();
    for key in db.tree(T::LegacyCreatedmsEventidUnmatched).iter().keys() {
        let key = key?;
        if let Some(event) = keys::trailing_uuid(&key) {
            set.remove(T::EventidEvent, event.as_bytes().to_vec());
        }
        set.remove(T::LegacyCreatedmsEventidUnmatched, key.to_vec());
    }
    for tree in [
        T::LegacyDuemsDeliveryid,
        T::LegacyInstanceDeliveryid,
        T::LegacyDeliveredmsDeliveryid,
        T::LegacyEventidUnpruned,
    ] {
        for key in db.tree(tree).iter().keys() {
            set.remove(tree, key?.to_vec());
        }
    }
    db.commit(set)
}

/// Counts each tenant's subscriptions, idempotency records and dead letters, and dates
/// idempotency records that have no date yet (`now`: they expire one retention from the
/// upgrade).
fn count_tenants(db: &Db, now: DateTime<Utc>) -> Result<()> {
    let mut counts: HashMap<TenantId, TenantCounts> = HashMap::new();
    let mut set = WriteSet::default();
    for value in db.tree(T::SubscriptionidSubscription).iter().values() {
        let sub: crate::domain::Subscription =
            super::db::decode(T::SubscriptionidSubscription, &value?)?;
        counts.entry(sub.tenant).or_default().subscriptions += 1;
    }
    let mut dated = std::collections::HashSet::new();
    for key in db.tree(T::CreatedmsIdempotencykey).iter().keys() {
        let key = key?;
        let dated_key = key.get(8..).ok_or(StorageError::Corrupt {
            tree: T::CreatedmsIdempotencykey.name(),
            detail: "a key shorter than its time".into(),
        })?;
        dated.insert(dated_key.to_vec());
    }
    for key in db.tree(T::IdempotencykeyOutcome).iter().keys() {
        let key = key?;
        let tenant = keys::leading_tenant(&key).ok_or(StorageError::Corrupt {
            tree: T::IdempotencykeyOutcome.name(),
            detail: "a key without a tenant".into(),
        })?;
        counts.entry(tenant).or_default().idempotency_keys += 1;
        if !dated.contains(key.as_ref()) {
            set.put(
                T::CreatedmsIdempotencykey,
                keys::time_key(now.timestamp_millis(), &key),
                [],
            );
        }
    }
    for key in db.tree(T::TenantFailedmsDeliveryid).iter().keys() {
        let key = key?;
        let tenant = keys::leading_tenant(&key).ok_or(StorageError::Corrupt {
            tree: T::TenantFailedmsDeliveryid.name(),
            detail: "a key without a tenant".into(),
        })?;
        counts.entry(tenant).or_default().failed_deliveries += 1;
    }
    for key in db.tree(T::TenantCounts).iter().keys() {
        set.remove(T::TenantCounts, key?.to_vec());
    }
    for (tenant, counts) in counts {
        super::subscriptions::put_tenant_counts(&mut set, &tenant, counts);
    }
    db.commit(set)
}
