//! The outbox. Accepting an event writes one fan-out record (who it goes to) beside the event,
//! whatever the number of subscriptions; a delivery's state is written only once it moves
//! (an attempt, a manual retry), so a fan-out to 10,000 flows is one record, not 30,000.
//! Per event, a progress record counts deliveries not yet final; events whose deliveries all
//! ended are pruned after the retention, and dead letters past a tenant's limit go oldest
//! first. The state machine is `DeliveryState`'s; this module persists it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::Caches;
use super::codec::{Fanout, Progress, StoredState, Target};
use super::db::{Db, T, WriteSet};
use super::reports::cached_event;
use super::subscriptions::{
    cached_subscription, put_tenant_counts, stage_unsubscribe, subscription, tenant_counts,
};
use super::{Limits, Result, StorageError, Store, keys};
use crate::domain::{
    AttemptRecord, Delivery, DeliveryId, DeliveryState, DeliveryStatus, Event, EventId,
    FailureReason, InstanceId, Queued, RetryPolicy, Subscription, SubscriptionEffect,
    SubscriptionId, TenantId, Verdict,
};

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

/// What an attempt needs, read when it starts.
pub struct AttemptContext {
    pub delivery: DeliveryId,
    pub event_id: EventId,
    /// `None` when the event record is missing (a damaged outbox): the delivery fails.
    pub event: Option<Arc<Event>>,
    pub index: u32,
    pub subscription_id: SubscriptionId,
    /// `None` when the subscription was removed since the event was accepted.
    pub subscription: Option<Arc<Subscription>>,
    pub host: String,
    pub state: DeliveryState,
}

/// One attempt's result, to record.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub delivery: DeliveryId,
    pub event: EventId,
    pub index: u32,
    /// Attempts the delivery had when this one started: recording the same attempt twice
    /// (after a storage failure) adds it once.
    pub attempts_before: usize,
    pub attempt: AttemptRecord,
    pub verdict: Verdict,
    /// In `[0, 1)`: how far into the jitter window the next attempt goes.
    pub jitter: f64,
}

/// What recording an attempt did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The delivery is gone or the attempt was recorded already.
    Skipped,
    Moved {
        status: DeliveryStatus,
        failure: Option<FailureReason>,
        /// The delivery again, when it stays pending.
        next: Option<Queued>,
        /// The attempt removed its subscription (410, or 404s in a row).
        removed_subscription: bool,
    },
}

/// Events whose twelve-byte prefix is already taken get a new id; after this many tries the
/// clock or the random source is broken.
const PREFIX_TRIES: usize = 16;

/// Stages an event and its fan-out to `subscriptions`; returns the deliveries to queue. The
/// event's id may change so that its first twelve bytes are unique among stored events
/// (`DeliveryId::of_target`).
pub(super) fn stage_event(
    db: &Db,
    set: &mut WriteSet,
    event: &mut Event,
    subscriptions: &[Arc<Subscription>],
    now: DateTime<Utc>,
) -> Result<Vec<Queued>> {
    let mut tries = 0;
    while db
        .tree(T::EventidFanout)
        .scan_prefix(&event.id.as_bytes()[..12])
        .next()
        .transpose()?
        .is_some()
    {
        tries += 1;
        if tries == PREFIX_TRIES {
            return Err(StorageError::Bug("no unique event id prefix"));
        }
        event.id = EventId::new_ordered();
    }
    let first = subscriptions
        .first()
        .ok_or(StorageError::Bug("a fan-out to nobody"))?;
    let fanout = Fanout {
        instance_id: event.instance_id,
        tenant: first.tenant.clone(),
        created_ns: now
            .timestamp_nanos_opt()
            .ok_or(StorageError::Bug("a time past 2262"))?,
        targets: subscriptions
            .iter()
            .map(|sub| Target {
                subscription_id: sub.id,
                host: sub.callback.host_port(),
                legacy_id: None,
            })
            .collect(),
    };
    let open =
        u32::try_from(fanout.targets.len()).map_err(|_| StorageError::Bug("too many targets"))?;
    set.put_json(T::EventidEvent, event.id.as_bytes(), event)?;
    set.put(T::EventidFanout, event.id.as_bytes(), fanout.encode()?);
    set.put(
        T::InstanceCreatedmsEventid,
        keys::instance_event(event.instance_id, fanout.created_ms(), event.id),
        [],
    );
    set.put(
        T::EventidProgress,
        event.id.as_bytes(),
        Progress {
            open,
            done_ms: None,
        }
        .encode(),
    );
    let due_ms = now.timestamp_millis();
    Ok(fanout
        .targets
        .iter()
        .zip(0u32..)
        .map(|(target, index)| Queued {
            id: DeliveryId::of_target(event.id, index),
            host: target.host.clone(),
            due_ms,
        })
        .collect())
}

/// The outbox as deliveries read it: fan-out records, and which event a delivery id's prefix
/// names, come from the caches they share (a fan-out record never changes once written, so
/// only its removal invalidates it), the rest from disk.
#[derive(Clone, Copy)]
pub(super) struct Outbox<'a> {
    pub(super) db: &'a Db,
    caches: &'a Caches,
}

impl<'a> Outbox<'a> {
    pub(super) fn new(db: &'a Db, caches: &'a Caches) -> Self {
        Self { db, caches }
    }

    fn fanout(&self, event: EventId) -> Result<Option<Arc<Fanout>>> {
        self.caches
            .fanouts
            .read_through(event, || read_fanout(self.db, event))
    }

    /// The event whose id starts with `prefix` (unique among stored events).
    fn event_of_prefix(&self, prefix: [u8; 12]) -> Result<Option<EventId>> {
        let found = self.caches.prefixes.read_through(prefix, || {
            let key = self
                .db
                .tree(T::EventidFanout)
                .scan_prefix(prefix)
                .keys()
                .next()
                .transpose()?;
            key.map(|key| {
                keys::trailing_uuid(&key)
                    .map(EventId)
                    .ok_or(StorageError::Corrupt {
                        tree: T::EventidFanout.name(),
                        detail: "a key that is not an event id".into(),
                    })
            })
            .transpose()
        })?;
        Ok(found.as_deref().copied())
    }

    /// The event, target index and fan-out record of a delivery.
    fn locate(&self, id: DeliveryId) -> Result<Option<Located>> {
        let (event, index) = match self.db.get(T::LegacyDeliveryidTarget, id.as_bytes())? {
            Some(value) => keys::parse_event_index(&value).ok_or(StorageError::Corrupt {
                tree: T::LegacyDeliveryidTarget.name(),
                detail: "a bad event index".into(),
            })?,
            None => {
                let (prefix, index) = id.target_parts();
                let Some(event) = self.event_of_prefix(prefix)? else {
                    return Ok(None);
                };
                (event, index)
            }
        };
        let Some(fanout) = self.fanout(event)? else {
            return Ok(None);
        };
        // A derived id must name a target that has no older id of its own.
        if fanout.delivery_id(event, index) != Some(id) {
            return Ok(None);
        }
        Ok(Some(Located {
            event,
            index,
            fanout,
        }))
    }

    fn find(&self, id: DeliveryId) -> Result<Option<Found>> {
        let Some(Located {
            event,
            index,
            fanout,
        }) = self.locate(id)?
        else {
            return Ok(None);
        };
        let state = read_state(self.db, id, &fanout)?;
        Ok(Some(Found {
            id,
            event,
            index,
            fanout,
            state,
        }))
    }
}

struct Located {
    event: EventId,
    index: u32,
    fanout: Arc<Fanout>,
}

fn read_fanout(db: &Db, event: EventId) -> Result<Option<Fanout>> {
    db.get(T::EventidFanout, event.as_bytes())?
        .map(|bytes| Fanout::decode(&bytes))
        .transpose()
}

fn read_state(db: &Db, id: DeliveryId, fanout: &Fanout) -> Result<StoredState> {
    match db.get(T::DeliveryidState, id.as_bytes())? {
        Some(bytes) => StoredState::decode(&bytes),
        None => Ok(StoredState::Live(DeliveryState::new(fanout.created_ms()))),
    }
}

fn read_progress(db: &Db, event: EventId) -> Result<Progress> {
    match db.get(T::EventidProgress, event.as_bytes())? {
        Some(bytes) => Progress::decode(&bytes),
        None => Ok(Progress {
            open: 0,
            done_ms: None,
        }),
    }
}

/// A located delivery with its fan-out record and state.
struct Found {
    id: DeliveryId,
    event: EventId,
    index: u32,
    fanout: Arc<Fanout>,
    state: StoredState,
}

fn assemble(found: &Found) -> Option<Delivery> {
    let StoredState::Live(state) = &found.state else {
        return None;
    };
    let target = found.fanout.targets.get(found.index as usize)?;
    Some(Delivery {
        id: found.id,
        event_id: found.event,
        subscription_id: target.subscription_id,
        instance_id: found.fanout.instance_id,
        tenant: found.fanout.tenant.clone(),
        host: target.host.clone(),
        status: state.status,
        created_at: found.fanout.created_at(),
        due_ms: state.pending_due(),
        retries_used: state.retries_used,
        failure: state.failure,
        attempts: state.attempts.clone(),
    })
}

/// Bookkeeping of one job over several deliveries: progress per event, counts per tenant.
#[derive(Default)]
struct Books {
    progress: HashMap<EventId, Progress>,
    counts: HashMap<TenantId, super::codec::TenantCounts>,
    /// Events removed with their last delivery: the caches forget them after the commit.
    gone: Vec<EventId>,
}

impl Books {
    fn progress(&mut self, db: &Db, event: EventId) -> Result<&mut Progress> {
        Ok(match self.progress.entry(event) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(read_progress(db, event)?),
        })
    }

    fn counts(&mut self, db: &Db, tenant: &TenantId) -> Result<&mut super::codec::TenantCounts> {
        Ok(match self.counts.entry(tenant.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(tenant_counts(db, tenant)?),
        })
    }

    /// A delivery of `event` became final at `now_ms`.
    fn closed(&mut self, db: &Db, set: &mut WriteSet, event: EventId, now_ms: i64) -> Result<()> {
        let progress = self.progress(db, event)?;
        progress.open = progress.open.saturating_sub(1);
        if progress.open == 0 {
            progress.done_ms = Some(now_ms);
            set.put(
                T::DoneatmsEventid,
                keys::time_key(now_ms, event.as_bytes()),
                [],
            );
        }
        Ok(())
    }

    /// A final delivery of `event` is pending again.
    fn reopened(&mut self, db: &Db, set: &mut WriteSet, event: EventId) -> Result<()> {
        let progress = self.progress(db, event)?;
        if progress.open == 0
            && let Some(done) = progress.done_ms.take()
        {
            set.remove(T::DoneatmsEventid, keys::time_key(done, event.as_bytes()));
        }
        progress.open += 1;
        Ok(())
    }

    /// Stages the progress and counts; returns the events removed.
    fn stage(self, set: &mut WriteSet) -> Vec<EventId> {
        for (event, progress) in self.progress {
            set.put(T::EventidProgress, event.as_bytes(), progress.encode());
        }
        for (tenant, counts) in self.counts {
            put_tenant_counts(set, &tenant, counts);
        }
        self.gone
    }
}

/// Records one attempt in `set`.
fn record_one(
    outbox: Outbox<'_>,
    set: &mut WriteSet,
    books: &mut Books,
    report: AttemptReport,
    policy: &RetryPolicy,
    limits: &Limits,
    removed: &mut Vec<SubscriptionId>,
) -> Result<Recorded> {
    let db = outbox.db;
    let Some(found) = outbox.find(report.delivery)? else {
        return Ok(Recorded::Skipped);
    };
    let StoredState::Live(mut state) = found.state else {
        return Ok(Recorded::Skipped);
    };
    if state.attempts.len() > report.attempts_before {
        return Ok(Recorded::Skipped);
    }
    let target = found
        .fanout
        .targets
        .get(found.index as usize)
        .ok_or(StorageError::Bug("a located target"))?;
    let was_pending = state.status == DeliveryStatus::Pending;
    let now_ms = report.attempt.at.timestamp_millis();
    let sub_key = target.subscription_id.as_bytes();
    let not_found =
        match db.get(T::SubscriptionidNotfoundcount, sub_key)? {
            Some(bytes) => u32::from_be_bytes(bytes.as_ref().try_into().map_err(|_| {
                StorageError::Corrupt {
                    tree: T::SubscriptionidNotfoundcount.name(),
                    detail: "a count that is not four bytes".into(),
                }
            })?),
            None => 0,
        };
    let effect = state.record(
        report.attempt,
        &report.verdict,
        policy,
        not_found,
        report.jitter,
    );
    let mut removed_subscription = false;
    match effect {
        SubscriptionEffect::None => {}
        SubscriptionEffect::ClearNotFound if not_found > 0 => {
            set.remove(T::SubscriptionidNotfoundcount, sub_key)
        }
        SubscriptionEffect::ClearNotFound => {}
        SubscriptionEffect::CountNotFound => set.put(
            T::SubscriptionidNotfoundcount,
            sub_key,
            (not_found + 1).to_be_bytes(),
        ),
        SubscriptionEffect::Remove => {
            if !removed.contains(&target.subscription_id)
                && let Some(sub) = subscription(db, target.subscription_id)?
            {
                stage_unsubscribe(set, &sub)?;
                let counts = books.counts(db, &sub.tenant)?;
                counts.subscriptions = counts.subscriptions.saturating_sub(1);
                removed.push(sub.id);
                removed_subscription = true;
            }
            set.remove(T::SubscriptionidNotfoundcount, sub_key);
        }
    }
    if was_pending && state.status != DeliveryStatus::Pending {
        books.closed(db, set, found.event, now_ms)?;
        if state.status == DeliveryStatus::Failed {
            dead_letter(
                outbox,
                set,
                books,
                &found.fanout.tenant,
                found.id,
                now_ms,
                limits,
            )?;
        }
    }
    let next = state.pending_due().map(|due_ms| Queued {
        id: found.id,
        host: target.host.clone(),
        due_ms,
    });
    let recorded = Recorded::Moved {
        status: state.status,
        failure: state.failure,
        next,
        removed_subscription,
    };
    set.put(
        T::DeliveryidState,
        found.id.as_bytes(),
        StoredState::Live(state).encode()?,
    );
    Ok(recorded)
}

/// Keeps a failed delivery as a dead letter of its tenant, pruning the oldest past the limit.
fn dead_letter(
    outbox: Outbox<'_>,
    set: &mut WriteSet,
    books: &mut Books,
    tenant: &TenantId,
    id: DeliveryId,
    failed_ms: i64,
    limits: &Limits,
) -> Result<()> {
    let db = outbox.db;
    set.put(
        T::TenantFailedmsDeliveryid,
        keys::tenant_failed(tenant, failed_ms, id),
        [],
    );
    let counts = books.counts(db, tenant)?;
    counts.failed_deliveries += 1;
    let over = counts
        .failed_deliveries
        .saturating_sub(limits.failed_deliveries_per_tenant);
    if over == 0 {
        return Ok(());
    }
    let oldest: Vec<_> = db
        .tree(T::TenantFailedmsDeliveryid)
        .scan_prefix(keys::tenant_prefix(tenant))
        .keys()
        .take(over as usize)
        .collect::<Result<_, _>>()?;
    counts.failed_deliveries -= oldest.len() as u64;
    for key in oldest {
        set.remove(T::TenantFailedmsDeliveryid, key.to_vec());
        if let Some(old) = keys::trailing_uuid(&key).map(DeliveryId) {
            tracing::info!(delivery_id = %old, tenant = %tenant,
                "dead letter pruned: the tenant holds more failed deliveries than its limit");
            bury(outbox, set, books, old)?;
        }
    }
    Ok(())
}

/// Leaves a tombstone for a final delivery; removes its whole event once every delivery of
/// it is buried.
fn bury(outbox: Outbox<'_>, set: &mut WriteSet, books: &mut Books, id: DeliveryId) -> Result<()> {
    let db = outbox.db;
    let Some(found) = outbox.find(id)? else {
        return Ok(());
    };
    let mut others_alive = false;
    for index in (0..found.fanout.targets.len() as u32).filter(|i| *i != found.index) {
        let other = found
            .fanout
            .delivery_id(found.event, index)
            .ok_or(StorageError::Bug("a target in range"))?;
        if read_state(db, other, &found.fanout)? != StoredState::Pruned {
            others_alive = true;
            break;
        }
    }
    if others_alive {
        set.put(
            T::DeliveryidState,
            id.as_bytes(),
            StoredState::Pruned.encode()?,
        );
    } else {
        remove_event(db, set, found.event, &found.fanout)?;
        books.gone.push(found.event);
    }
    Ok(())
}

fn remove_event(db: &Db, set: &mut WriteSet, event: EventId, fanout: &Fanout) -> Result<()> {
    for index in 0..fanout.targets.len() as u32 {
        let id = fanout
            .delivery_id(event, index)
            .ok_or(StorageError::Bug("a target in range"))?;
        set.remove(T::DeliveryidState, id.as_bytes());
        if fanout.targets[index as usize].legacy_id.is_some() {
            set.remove(T::LegacyDeliveryidTarget, id.as_bytes());
        }
    }
    let progress = read_progress(db, event)?;
    if let Some(done) = progress.done_ms {
        set.remove(T::DoneatmsEventid, keys::time_key(done, event.as_bytes()));
    }
    set.remove(T::EventidProgress, event.as_bytes());
    set.remove(T::EventidFanout, event.as_bytes());
    set.remove(T::EventidEvent, event.as_bytes());
    set.remove(
        T::InstanceCreatedmsEventid,
        keys::instance_event(fanout.instance_id, fanout.created_ms(), event),
    );
    Ok(())
}

impl Store {
    /// The delivery, as listed.
    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
        let db = self.db()?;
        Ok(Outbox::new(&db, &self.caches)
            .find(id)?
            .as_ref()
            .and_then(assemble))
    }

    /// The delivery when it belongs to `tenant`.
    pub fn tenant_delivery(&self, tenant: &TenantId, id: DeliveryId) -> Result<Option<Delivery>> {
        Ok(self.delivery(id)?.filter(|d| &d.tenant == tenant))
    }

    /// What an attempt of `id` needs; `None` when the delivery is gone or not pending.
    pub fn attempt_context(&self, id: DeliveryId) -> Result<Option<AttemptContext>> {
        let db = self.db()?;
        let Some(Located {
            event: event_id,
            index,
            fanout,
        }) = Outbox::new(&db, &self.caches).locate(id)?
        else {
            return Ok(None);
        };
        let StoredState::Live(state) = read_state(&db, id, &fanout)? else {
            return Ok(None);
        };
        if state.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        let target = &fanout.targets[index as usize];
        Ok(Some(AttemptContext {
            delivery: id,
            event_id,
            event: cached_event(&db, &self.caches, event_id)?,
            index,
            subscription_id: target.subscription_id,
            subscription: cached_subscription(&db, &self.caches, target.subscription_id)?,
            host: target.host.clone(),
            state,
        }))
    }

    /// Every pending delivery: what the scheduler reloads at start.
    pub fn pending_deliveries(&self) -> Result<Vec<Queued>> {
        let db = self.db()?;
        let mut out = Vec::new();
        for entry in db.tree(T::EventidProgress).iter() {
            let (key, value) = entry?;
            if Progress::decode(&value)?.open == 0 {
                continue;
            }
            let event = EventId(keys::trailing_uuid(&key).ok_or(StorageError::Corrupt {
                tree: T::EventidProgress.name(),
                detail: "a key that is not an event id".into(),
            })?);
            let Some(fanout) = read_fanout(&db, event)? else {
                continue;
            };
            for (index, target) in (0u32..).zip(&fanout.targets) {
                let id = fanout
                    .delivery_id(event, index)
                    .ok_or(StorageError::Bug("a target in range"))?;
                if let StoredState::Live(state) = read_state(&db, id, &fanout)?
                    && let Some(due_ms) = state.pending_due()
                {
                    out.push(Queued {
                        id,
                        host: target.host.clone(),
                        due_ms,
                    });
                }
            }
        }
        out.sort_by_key(|q| q.due_ms);
        Ok(out)
    }

    /// Records attempts and moves their deliveries on under `policy`, in one durable write.
    pub async fn record_attempts(
        &self,
        reports: Vec<AttemptReport>,
        policy: RetryPolicy,
    ) -> Result<Vec<Recorded>> {
        let limits = self.limits.clone();
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let outbox = Outbox::new(db, &caches);
            let mut set = WriteSet::default();
            let mut books = Books::default();
            let mut removed = Vec::new();
            let mut out = Vec::with_capacity(reports.len());
            for report in reports {
                out.push(record_one(
                    outbox,
                    &mut set,
                    &mut books,
                    report,
                    &policy,
                    &limits,
                    &mut removed,
                )?);
            }
            let gone = books.stage(&mut set);
            db.commit(set)?;
            for id in &removed {
                caches.subscriptions.invalidate(id);
            }
            caches.forget_events(&gone);
            Ok(out)
        })
        .await
    }

    /// Queues a delivery again, due at `now` (see `DeliveryState::requeue`).
    pub async fn requeue_delivery(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        schedule_len: usize,
    ) -> Result<Option<Delivery>> {
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let Some(mut found) = Outbox::new(db, &caches).find(id)? else {
                return Ok(None);
            };
            let StoredState::Live(state) = &mut found.state else {
                return Ok(None);
            };
            let mut set = WriteSet::default();
            let mut books = Books::default();
            match state.status {
                DeliveryStatus::Pending => {}
                DeliveryStatus::Delivered => books.reopened(db, &mut set, found.event)?,
                DeliveryStatus::Failed => {
                    books.reopened(db, &mut set, found.event)?;
                    let failed_ms = state.attempts.last().map_or(0, |a| a.at.timestamp_millis());
                    let key = keys::tenant_failed(&found.fanout.tenant, failed_ms, id);
                    if db.get(T::TenantFailedmsDeliveryid, &key)?.is_some() {
                        set.remove(T::TenantFailedmsDeliveryid, key);
                        let counts = books.counts(db, &found.fanout.tenant)?;
                        counts.failed_deliveries = counts.failed_deliveries.saturating_sub(1);
                    }
                }
            }
            state.requeue(now.timestamp_millis(), schedule_len);
            set.put(T::DeliveryidState, id.as_bytes(), found.state.encode()?);
            // Requeueing reopens an event; it removes none.
            books.stage(&mut set);
            db.commit(set)?;
            Ok(assemble(&found))
        })
        .await
    }

    /// A page of the instance's deliveries, newest first, filtered.
    pub fn deliveries(&self, instance: InstanceId, query: &DeliveryQuery) -> Result<DeliveryPage> {
        let db = self.db()?;
        let outbox = Outbox::new(&db, &self.caches);
        let prefix = instance.as_bytes().to_vec();
        // Where to resume: the event of the last delivery listed, and the index below it.
        let mut resume: Option<(EventId, u32)> = None;
        let mut end = keys::instance_event(instance, i64::MAX, EventId(uuid::Uuid::max()));
        if let Some(after) = query.after
            && let Some(found) = outbox.find(after)?
        {
            resume = Some((found.event, found.index));
            end = keys::instance_event(instance, found.fanout.created_ms(), found.event);
            // Include the cursor's own event: its remaining targets come first.
            end.push(0);
        }
        let mut deliveries = Vec::new();
        for key in db
            .tree(T::InstanceCreatedmsEventid)
            .range(prefix.clone()..end)
            .keys()
            .rev()
        {
            let key = key?;
            let event = EventId(keys::trailing_uuid(&key).ok_or(StorageError::Corrupt {
                tree: T::InstanceCreatedmsEventid.name(),
                detail: "a key that is not an event id".into(),
            })?);
            let Some(fanout) = outbox.fanout(event)? else {
                continue;
            };
            let below = match resume {
                Some((cursor, index)) if cursor == event => index,
                _ => fanout.targets.len() as u32,
            };
            for index in (0..below).rev() {
                let target = &fanout.targets[index as usize];
                if query
                    .subscription
                    .is_some_and(|s| s != target.subscription_id)
                {
                    continue;
                }
                let id = fanout
                    .delivery_id(event, index)
                    .ok_or(StorageError::Bug("a target in range"))?;
                let found = Found {
                    id,
                    event,
                    index,
                    state: read_state(&db, id, &fanout)?,
                    fanout: Arc::clone(&fanout),
                };
                let Some(delivery) = assemble(&found) else {
                    continue;
                };
                if query.status.is_some_and(|s| s != delivery.status) {
                    continue;
                }
                if deliveries.len() == query.limit {
                    return Ok(DeliveryPage {
                        deliveries,
                        more: true,
                    });
                }
                deliveries.push(delivery);
            }
        }
        Ok(DeliveryPage {
            deliveries,
            more: false,
        })
    }

    /// Prunes what is past its retention: events whose deliveries were all delivered before
    /// `delivered_before` (a dead letter keeps its event, and only its delivered siblings
    /// go), and idempotency records stored before the idempotency retention. At most `max`
    /// of each per call; returns how many deliveries and records went.
    pub async fn prune(
        &self,
        delivered_before: DateTime<Utc>,
        now: DateTime<Utc>,
        max: usize,
    ) -> Result<usize> {
        let keys_before = now
            - chrono::Duration::from_std(self.limits.idempotency_retention)
                .map_err(|_| StorageError::Bug("a bounded retention"))?;
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let mut set = WriteSet::default();
            let end = keys::time_key(delivered_before.timestamp_millis(), &[]);
            let mut pruned = 0;
            let mut gone = Vec::new();
            let done: Vec<_> = db
                .tree(T::DoneatmsEventid)
                .range(..end)
                .keys()
                .take(max)
                .collect::<Result<_, _>>()?;
            for key in done {
                set.remove(T::DoneatmsEventid, key.to_vec());
                let Some(event) = keys::trailing_uuid(&key).map(EventId) else {
                    continue;
                };
                let Some(fanout) = read_fanout(db, event)? else {
                    continue;
                };
                let mut dead_letters = false;
                let mut delivered = Vec::new();
                for index in 0..fanout.targets.len() as u32 {
                    let id = fanout
                        .delivery_id(event, index)
                        .ok_or(StorageError::Bug("a target in range"))?;
                    match read_state(db, id, &fanout)? {
                        StoredState::Live(state) if state.status == DeliveryStatus::Delivered => {
                            delivered.push(id)
                        }
                        StoredState::Live(_) => dead_letters = true,
                        StoredState::Pruned => {}
                    }
                }
                pruned += delivered.len();
                if dead_letters {
                    for id in delivered {
                        set.put(
                            T::DeliveryidState,
                            id.as_bytes(),
                            StoredState::Pruned.encode()?,
                        );
                    }
                    // The progress record keeps no done time: the event is not done-indexed.
                    let mut progress = read_progress(db, event)?;
                    progress.done_ms = None;
                    set.put(T::EventidProgress, event.as_bytes(), progress.encode());
                } else {
                    remove_event(db, &mut set, event, &fanout)?;
                    gone.push(event);
                }
            }
            pruned += super::reports::prune_idempotency(db, &mut set, keys_before, max)?;
            db.commit(set)?;
            caches.forget_events(&gone);
            Ok(pruned)
        })
        .await
    }
}
