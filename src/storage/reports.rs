//! Turning a report into catalog changes, an event and its matched subscriptions, in one
//! atomic write. Threshold subscriptions are found by a range scan of the threshold index.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Result, StorageError, Store, T, WriteSet, keys};
use crate::domain::catalog::LastRefresh;
use crate::domain::report::{RefreshReport, RunReport};
use crate::domain::{
    CatalogItem, CatalogKind, Delivery, Event, EventDetails, EventId, InstanceId, ItemId, Queued,
    Report, RunStatus, Subscription, SubscriptionId, TenantId, TriggerKind,
};

/// A caller-chosen key that makes a retried report a no-op, scoped to tenant, instance and
/// report kind.
pub struct IdempotencyKey<'a> {
    pub tenant: &'a TenantId,
    pub instance: InstanceId,
    pub route: &'static str,
    pub key: &'a str,
}

impl IdempotencyKey<'_> {
    fn storage_key(&self) -> Vec<u8> {
        let mut key = keys::tenant_instance(self.tenant, self.instance);
        key.extend_from_slice(self.route.as_bytes());
        key.push(0);
        key.extend_from_slice(self.key.as_bytes());
        key
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredOutcome {
    fingerprint: String,
    event_ids: Vec<EventId>,
}

pub struct ReportOutcome {
    pub event_ids: Vec<EventId>,
    /// Events this report created (0 for a replayed report).
    pub new_events: usize,
    /// The deliveries written with the events (the outbox); empty for a replayed report.
    pub deliveries: Vec<Queued>,
}

fn fingerprint(report: &Report) -> String {
    let bytes = serde_json::to_vec(report).unwrap_or_default();
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Applies `report` to the instance: updates the catalog, records the event it causes (if
    /// any) and returns the subscriptions it reaches. Everything, including the idempotency
    /// record, is written in one transaction; the caller flushes before answering.
    pub fn record_report(
        &self,
        instance: InstanceId,
        report: Report,
        idempotency: Option<IdempotencyKey<'_>>,
        now: DateTime<Utc>,
    ) -> Result<ReportOutcome> {
        let _guard = self.lock();
        let print = fingerprint(&report);
        if let Some(key) = &idempotency {
            let stored: Option<StoredOutcome> =
                self.get_json(T::IdempotencykeyOutcome, &key.storage_key())?;
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
        }

        let mut set = WriteSet::default();
        let caused = match report {
            Report::DataSourceRefresh(refresh) => self.refresh(instance, refresh, now, &mut set)?,
            Report::SegmentSize {
                segment_id,
                segment_name,
                member_count,
            } => self.observe(
                instance,
                CatalogKind::Segment,
                segment_id,
                segment_name,
                member_count as f64,
                now,
                &mut set,
            )?,
            Report::MeasureValue {
                measure_id,
                measure_name,
                value,
            } => self.observe(
                instance,
                CatalogKind::Measure,
                measure_id,
                measure_name,
                value,
                now,
                &mut set,
            )?,
            Report::Run(run) => Some(self.run(instance, run, now)?),
        };

        let mut outcome = ReportOutcome {
            event_ids: Vec::new(),
            new_events: 0,
            deliveries: Vec::new(),
        };
        if let Some((event, subscriptions)) = caused {
            // The outbox: the event and one delivery per matched subscription, in the same
            // transaction, so an accepted event always has its deliveries on disk.
            set.put_json(T::EventidEvent, event.id.as_bytes(), &event)?;
            for subscription in &subscriptions {
                let delivery = Delivery::new(event.id, subscription, now);
                self.stage_delivery(&mut set, &delivery)?;
                outcome.deliveries.extend(delivery.queued());
            }
            if subscriptions.is_empty() {
                // Nothing will deliver it: it goes after the retention period.
                let key = super::outbox::time_key(now.timestamp_millis(), event.id.as_bytes());
                set.put(T::CreatedmsEventidUnmatched, key, []);
            } else {
                // The event goes when the last of its deliveries is pruned.
                let count = subscriptions.len() as u64;
                set.put(T::EventidUnpruned, event.id.as_bytes(), count.to_be_bytes());
            }
            outcome.event_ids.push(event.id);
            outcome.new_events += 1;
        }
        if let Some(key) = &idempotency {
            let stored = StoredOutcome {
                fingerprint: print,
                event_ids: outcome.event_ids.clone(),
            };
            set.put_json(T::IdempotencykeyOutcome, key.storage_key(), &stored)?;
        }
        self.commit(set)?;
        Ok(outcome)
    }

    pub fn event(&self, id: EventId) -> Result<Option<Event>> {
        self.get_json(T::EventidEvent, id.as_bytes())
    }

    /// The catalog item, created when unknown, with a better name when the report has one.
    fn known_item(
        &self,
        instance: InstanceId,
        kind: CatalogKind,
        id: &ItemId,
        name: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<CatalogItem> {
        let mut item = self
            .catalog_item(instance, kind, id)?
            .unwrap_or_else(|| CatalogItem {
                id: id.clone(),
                kind,
                name: id.to_string(),
                value: None,
                last_refresh: None,
                updated_at: now,
            });
        if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
            item.name = name;
        }
        item.updated_at = now;
        Ok(item)
    }

    fn refresh(
        &self,
        instance: InstanceId,
        report: RefreshReport,
        now: DateTime<Utc>,
        set: &mut WriteSet,
    ) -> Result<Option<(Event, Vec<Subscription>)>> {
        let mut item = self.known_item(
            instance,
            CatalogKind::DataSource,
            &report.data_source_id,
            report.data_source_name.clone(),
            now,
        )?;
        let refresh_id = report
            .refresh_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        item.last_refresh = Some(LastRefresh {
            refresh_id: refresh_id.clone(),
            status: report.status,
            finished_at: report.finished_at,
            row_count: report.row_count,
            error_code: report.error_code.clone(),
        });
        set.put_json(
            T::CatalogkeyItem,
            keys::catalog_item(instance, CatalogKind::DataSource, &item.id),
            &item,
        )?;
        let trigger = match report.status {
            RunStatus::Succeeded => TriggerKind::DataSourceRefreshSucceeded,
            RunStatus::Failed => TriggerKind::DataSourceRefreshFailed,
        };
        let subscriptions: Vec<_> = self
            .subscriptions_of(instance, trigger)?
            .into_iter()
            .filter(|sub| sub.filter.accepts_data_source(&item.id))
            .collect();
        let event = Event {
            id: EventId::new(),
            instance_id: instance,
            trigger,
            occurred_at: now,
            details: EventDetails::Refresh {
                data_source_id: item.id,
                data_source_name: item.name,
                refresh_id,
                status: report.status,
                started_at: report.started_at,
                finished_at: report.finished_at,
                row_count: report.row_count,
                error_code: report.error_code,
                error_message: report.error_message,
            },
        };
        Ok(Some((event, subscriptions)))
    }

    /// Records a new value of a segment or measure. Every subscription of the item shares the
    /// item's observation history from its creation on, and its baseline is the item's value
    /// at creation, so the baseline of each is the item's previous value: the subscriptions
    /// crossed are exactly those with a threshold in `[previous, new)`, one range scan.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &self,
        instance: InstanceId,
        kind: CatalogKind,
        id: ItemId,
        name: Option<String>,
        value: f64,
        now: DateTime<Utc>,
        set: &mut WriteSet,
    ) -> Result<Option<(Event, Vec<Subscription>)>> {
        let mut item = self.known_item(instance, kind, &id, name, now)?;
        let previous = item.value.replace(value);
        set.put_json(
            T::CatalogkeyItem,
            keys::catalog_item(instance, kind, &id),
            &item,
        )?;
        let Some(previous) = previous.filter(|p| *p < value) else {
            return Ok(None);
        };
        let prefix = keys::threshold_prefix(instance, kind, &id);
        let range = keys::threshold_bound(&prefix, previous)..keys::threshold_bound(&prefix, value);
        let mut crossed = Vec::new();
        for key in self.tree(T::ThresholdkeyUnit).range(range).keys() {
            let Some(sub_id) = keys::trailing_uuid(&key?) else {
                continue;
            };
            if let Some(sub) = self.subscription(SubscriptionId(sub_id))? {
                debug_assert!(
                    sub.threshold()
                        .is_some_and(|t| t.is_crossed(Some(previous), value))
                );
                crossed.push(sub);
            }
        }
        if crossed.is_empty() {
            return Ok(None);
        }
        let Some(trigger) = TriggerKind::threshold_crossed(kind) else {
            return Ok(None);
        };
        let event = Event {
            id: EventId::new(),
            instance_id: instance,
            trigger,
            occurred_at: now,
            details: EventDetails::ValueChanged {
                kind,
                item_id: id,
                item_name: item.name,
                previous,
                value,
            },
        };
        Ok(Some((event, crossed)))
    }

    fn run(
        &self,
        instance: InstanceId,
        report: RunReport,
        now: DateTime<Utc>,
    ) -> Result<(Event, Vec<Subscription>)> {
        let trigger = match report.kind {
            crate::domain::RunKind::Unification => TriggerKind::UnificationCompleted,
            crate::domain::RunKind::FullRefresh => TriggerKind::FullRefreshCompleted,
        };
        let subscriptions = self.subscriptions_of(instance, trigger)?;
        let event = Event {
            id: EventId::new(),
            instance_id: instance,
            trigger,
            occurred_at: now,
            details: EventDetails::Run {
                kind: report.kind,
                run_id: report
                    .run_id
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                status: report.status,
                started_at: report.started_at,
                finished_at: report.finished_at,
                counts: report.counts,
            },
        };
        Ok((event, subscriptions))
    }
}
