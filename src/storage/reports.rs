//! Accepting a report: the catalog change, the event and its outbox record, and the
//! idempotency record, in one atomic write that is durable before the method returns. The
//! rules (which event, which audience) are `Report::apply`'s; this module persists them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::cache::Caches;
use super::db::{Db, T, WriteSet};
use super::subscriptions::{audience, put_tenant_counts, tenant_counts};
use super::{Result, StorageError, Store, keys, outbox};
use crate::domain::report::{RefreshReport, RunReport};
use crate::domain::{EventId, InstanceId, Queued, Report, TenantId};

/// A caller-chosen key that makes a retried report a no-op, scoped to tenant, instance and
/// report kind.
pub struct IdempotencyKey {
    pub tenant: TenantId,
    pub instance: InstanceId,
    pub route: &'static str,
    pub key: String,
}

impl IdempotencyKey {
    pub(super) fn storage_key(&self) -> Vec<u8> {
        let mut key = keys::tenant_instance(&self.tenant, self.instance);
        key.extend_from_slice(self.route.as_bytes());
        key.push(0);
        key.extend_from_slice(self.key.as_bytes());
        key
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredOutcome {
    pub(super) fingerprint: String,
    pub(super) event_ids: Vec<EventId>,
}

pub struct ReportOutcome {
    pub event_ids: Vec<EventId>,
    /// Events this report created (0 for a replayed report).
    pub new_events: usize,
    /// The deliveries written with the events (the outbox); empty for a replayed report.
    pub deliveries: Vec<Queued>,
}

fn time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| json!(at))
}

fn refresh_json(r: &RefreshReport) -> Value {
    json!({
        "dataSourceId": r.data_source_id.as_str(),
        "dataSourceName": r.data_source_name,
        "refreshId": r.refresh_id,
        "status": r.status.as_str(),
        "startedAt": time(r.started_at),
        "finishedAt": time(r.finished_at),
        "rowCount": r.row_count,
        "errorCode": r.error_code,
        "errorMessage": r.error_message,
    })
}

fn run_json(r: &RunReport) -> Value {
    let counts: Map<String, Value> = r
        .counts
        .iter()
        .map(|(name, count)| (name.clone(), json!(count)))
        .collect();
    json!({
        "kind": r.kind.as_str(),
        "runId": r.run_id,
        "status": r.status.as_str(),
        "startedAt": time(r.started_at),
        "finishedAt": time(r.finished_at),
        "counts": counts,
    })
}

/// A digest of everything the report says, so that a key reused for a different report is
/// refused. Written out field by field, as the first release's JSON of a report, so that a
/// renamed Rust field cannot turn a retried report into a conflict after an upgrade
/// (`golden.rs` checks it against a stored record).
pub(super) fn fingerprint(report: &Report) -> String {
    let value = match report {
        Report::DataSourceRefresh(r) => json!({ "dataSourceRefresh": refresh_json(r) }),
        Report::SegmentSize {
            segment_id,
            segment_name,
            member_count,
        } => json!({ "segmentSize": {
            "segmentId": segment_id.as_str(),
            "segmentName": segment_name,
            "memberCount": member_count,
        }}),
        Report::MeasureValue {
            measure_id,
            measure_name,
            value,
        } => json!({ "measureValue": {
            "measureId": measure_id.as_str(),
            "measureName": measure_name,
            "value": value,
        }}),
        Report::Run(r) => json!({ "run": run_json(r) }),
    };
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Applies `report` to the instance: updates the catalog, records the event it causes (if
    /// any) with one outbox delivery per subscription it reaches, and returns the deliveries
    /// to dispatch. With an idempotency key, a report seen before answers what it did then.
    pub async fn record_report(
        &self,
        instance: InstanceId,
        report: Report,
        idempotency: Option<IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<ReportOutcome> {
        let limits = self.limits.clone();
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let print = fingerprint(&report);
            let mut set = WriteSet::default();
            if let Some(key) = &idempotency {
                let stored: Option<StoredOutcome> =
                    db.get_json(T::IdempotencykeyOutcome, &key.storage_key())?;
                if let Some(stored) = stored {
                    if stored.fingerprint != print {
                        return Err(StorageError::IdempotencyConflict);
                    }
                    return Ok(ReportOutcome {
                        event_ids: stored.event_ids,
                        new_events: 0,
                        deliveries: Vec::new(),
                    });
                }
                let mut counts = tenant_counts(db, &key.tenant)?;
                if counts.idempotency_keys >= limits.idempotency_keys_per_tenant {
                    return Err(StorageError::Quota {
                        what: "idempotency keys",
                        limit: limits.idempotency_keys_per_tenant,
                    });
                }
                counts.idempotency_keys += 1;
                put_tenant_counts(&mut set, &key.tenant, counts);
            }
            let outcome = apply(db, &caches, &mut set, instance, report, now)?;
            if let Some(key) = &idempotency {
                let storage_key = key.storage_key();
                let stored = StoredOutcome {
                    fingerprint: print,
                    event_ids: outcome.event_ids.clone(),
                };
                set.put_json(T::IdempotencykeyOutcome, storage_key.clone(), &stored)?;
                set.put(
                    T::CreatedmsIdempotencykey,
                    keys::time_key(now.timestamp_millis(), &storage_key),
                    [],
                );
            }
            db.commit(set)?;
            for id in &outcome.event_ids {
                caches.events.invalidate(id);
                caches.fanouts.invalidate(id);
            }
            Ok(outcome)
        })
        .await
    }
}

/// Stages the catalog change and the event with its outbox record.
pub(super) fn apply(
    db: &Db,
    caches: &Caches,
    set: &mut WriteSet,
    instance: InstanceId,
    report: Report,
    now: DateTime<Utc>,
) -> Result<ReportOutcome> {
    let known = match report.catalog_key() {
        Some((kind, id)) => {
            db.get_json(T::CatalogkeyItem, &keys::catalog_item(instance, kind, id))?
        }
        None => None,
    };
    let applied = report.apply(known, instance, now);
    if let Some(item) = &applied.item {
        set.put_json(
            T::CatalogkeyItem,
            keys::catalog_item(instance, item.kind, &item.id),
            item,
        )?;
    }
    let mut outcome = ReportOutcome {
        event_ids: Vec::new(),
        new_events: 0,
        deliveries: Vec::new(),
    };
    let Some((mut event, reached)) = applied.event else {
        return Ok(outcome);
    };
    let subscriptions = audience(db, caches, instance, &reached)?;
    if subscriptions.is_empty() && reached.event_needs_subscribers() {
        return Ok(outcome);
    }
    if !subscriptions.is_empty() {
        outcome.deliveries = outbox::stage_event(db, set, &mut event, &subscriptions, now)?;
    }
    outcome.event_ids.push(event.id);
    outcome.new_events = 1;
    Ok(outcome)
}

/// Removes idempotency records older than the retention; returns how many.
pub(super) fn prune_idempotency(
    db: &Db,
    set: &mut WriteSet,
    before: DateTime<Utc>,
    max: usize,
) -> Result<usize> {
    let end = keys::time_key(before.timestamp_millis(), &[]);
    let mut pruned = 0;
    let mut per_tenant: std::collections::HashMap<TenantId, u64> = Default::default();
    for key in db
        .tree(T::CreatedmsIdempotencykey)
        .range(..end)
        .keys()
        .take(max)
    {
        let key = key?;
        let storage_key = key.get(8..).ok_or(StorageError::Corrupt {
            tree: T::CreatedmsIdempotencykey.name(),
            detail: "a key shorter than its time".into(),
        })?;
        set.remove(T::IdempotencykeyOutcome, storage_key);
        set.remove(T::CreatedmsIdempotencykey, key.to_vec());
        if let Some(tenant) = keys::leading_tenant(storage_key) {
            *per_tenant.entry(tenant).or_default() += 1;
        }
        pruned += 1;
    }
    for (tenant, gone) in per_tenant {
        let mut counts = tenant_counts(db, &tenant)?;
        counts.idempotency_keys = counts.idempotency_keys.saturating_sub(gone);
        put_tenant_counts(set, &tenant, counts);
    }
    Ok(pruned)
}

/// An event through the cache deliveries share (an event never changes once stored).
pub(super) fn cached_event(
    db: &Db,
    caches: &Caches,
    id: EventId,
) -> Result<Option<Arc<crate::domain::Event>>> {
    caches
        .events
        .read_through(id, || db.get_json(T::EventidEvent, id.as_bytes()))
}

impl Store {
    /// An event, from the cache that deliveries share.
    pub fn event(&self, id: EventId) -> Result<Option<Arc<crate::domain::Event>>> {
        cached_event(&*self.db()?, &self.caches, id)
    }
}
