//! Subscriptions and their indexes: by instance and trigger, by threshold, and by dedup key;
//! and the audience of an event, answered from those indexes.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::cache::Caches;
use super::codec::TenantCounts;
use super::db::{Db, T, WriteSet};
use super::{Result, StorageError, Store, keys};
use crate::domain::{
    Audience, CatalogKind, Filter, InstanceId, Subscription, SubscriptionId, TenantId, TriggerKind,
};

pub enum SubscribeOutcome {
    Created(Subscription),
    /// The same tenant, instance, trigger, filter and callback URL were subscribed already.
    Existing(Subscription),
    /// The filter names a data source, segment or measure the catalog does not have.
    UnknownItem,
}

fn kind_name(kind: CatalogKind) -> &'static str {
    match kind {
        CatalogKind::DataSource => "dataSource",
        CatalogKind::Segment => "segment",
        CatalogKind::Measure => "measure",
    }
}

fn json_text(text: &str) -> Result<String> {
    serde_json::to_string(text).map_err(|source| StorageError::Encode {
        tree: T::DedupkeySubscriptionid.name(),
        source,
    })
}

/// The filter as the dedup key has always hashed it (the JSON of the first release), written
/// out field by field so that renaming a Rust field cannot change the key of a stored
/// subscription (`golden.rs` checks it against stored keys).
fn filter_text(filter: &Filter) -> Result<String> {
    Ok(match filter {
        Filter::None => r#"{"type":"none"}"#.to_owned(),
        Filter::DataSource { data_source_id } => format!(
            r#"{{"type":"dataSource","data_source_id":{}}}"#,
            json_text(data_source_id.as_str())?
        ),
        Filter::Threshold {
            kind,
            item_id,
            threshold,
        } => format!(
            r#"{{"type":"threshold","kind":"{}","item_id":{},"threshold":{}}}"#,
            kind_name(*kind),
            json_text(item_id.as_str())?,
            serde_json::Number::from_f64(threshold.value())
                .ok_or(StorageError::Bug("a threshold is always finite"))?
        ),
    })
}

/// Identifies "the same subscription" for idempotent subscribes.
pub(super) fn dedup_key(sub: &Subscription) -> Result<Vec<u8>> {
    let filter = filter_text(&sub.filter)?;
    let mut hash = Sha256::new();
    for part in [
        sub.tenant.as_str().as_bytes(),
        sub.instance_id.as_bytes(),
        &[sub.trigger.tag()],
        filter.as_bytes(),
        sub.callback.as_str().as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    Ok(hash.finalize().to_vec())
}

fn index_entries(sub: &Subscription) -> Result<Vec<(T, Vec<u8>)>> {
    let mut entries = vec![
        (T::DedupkeySubscriptionid, dedup_key(sub)?),
        (
            T::InstanceTriggerSubscriptionidUnit,
            keys::instance_trigger_subscription(sub.instance_id, sub.trigger, sub.id),
        ),
    ];
    if let Filter::Threshold {
        kind,
        item_id,
        threshold,
    } = &sub.filter
    {
        let prefix = keys::threshold_prefix(sub.instance_id, *kind, item_id);
        entries.push((
            T::ThresholdkeyUnit,
            keys::threshold_entry(&prefix, threshold.value(), sub.id),
        ));
    }
    Ok(entries)
}

pub(super) fn tenant_counts(db: &Db, tenant: &TenantId) -> Result<TenantCounts> {
    db.get(T::TenantCounts, &keys::tenant_prefix(tenant))?
        .map(|bytes| TenantCounts::decode(&bytes))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub(super) fn put_tenant_counts(set: &mut WriteSet, tenant: &TenantId, counts: TenantCounts) {
    set.put(
        T::TenantCounts,
        keys::tenant_prefix(tenant),
        counts.encode(),
    );
}

pub(super) fn subscription(db: &Db, id: SubscriptionId) -> Result<Option<Subscription>> {
    db.get_json(T::SubscriptionidSubscription, id.as_bytes())
}

/// Stages the removal of `sub` and its index entries; the caller counts it off its tenant.
pub(super) fn stage_unsubscribe(set: &mut WriteSet, sub: &Subscription) -> Result<()> {
    set.remove(T::SubscriptionidSubscription, sub.id.as_bytes());
    set.remove(T::SubscriptionidNotfoundcount, sub.id.as_bytes());
    for (tree, key) in index_entries(sub)? {
        set.remove(tree, key);
    }
    Ok(())
}

/// A subscription through the cache deliveries and reports share. Subscriptions change only
/// by subscribing and unsubscribing, which invalidate after their commit.
pub(super) fn cached_subscription(
    db: &Db,
    caches: &Caches,
    id: SubscriptionId,
) -> Result<Option<Arc<Subscription>>> {
    caches
        .subscriptions
        .read_through(id, || subscription(db, id))
}

fn subscriptions_of(
    db: &Db,
    caches: &Caches,
    instance: InstanceId,
    trigger: TriggerKind,
) -> Result<Vec<Arc<Subscription>>> {
    let prefix = keys::instance_trigger_prefix(instance, trigger);
    let mut out = Vec::new();
    for key in db.scan_keys(T::InstanceTriggerSubscriptionidUnit, &prefix)? {
        let id = keys::trailing_uuid(&key).ok_or(StorageError::Corrupt {
            tree: T::InstanceTriggerSubscriptionidUnit.name(),
            detail: "a key without a subscription id".into(),
        })?;
        out.extend(cached_subscription(db, caches, SubscriptionId(id))?);
    }
    Ok(out)
}

/// The subscriptions an event reaches, answered from the indexes (the rule of each case is
/// `Audience`'s).
pub(super) fn audience(
    db: &Db,
    caches: &Caches,
    instance: InstanceId,
    audience: &Audience,
) -> Result<Vec<Arc<Subscription>>> {
    match audience {
        Audience::DataSource {
            trigger,
            data_source,
        } => Ok(subscriptions_of(db, caches, instance, *trigger)?
            .into_iter()
            .filter(|sub| sub.filter.accepts_data_source(data_source))
            .collect()),
        Audience::Everyone { trigger } => subscriptions_of(db, caches, instance, *trigger),
        Audience::Crossed {
            kind,
            item,
            previous,
            value,
            ..
        } => {
            let prefix = keys::threshold_prefix(instance, *kind, item);
            let range =
                keys::threshold_bound(&prefix, *previous)..keys::threshold_bound(&prefix, *value);
            let mut crossed = Vec::new();
            for key in db.tree(T::ThresholdkeyUnit).range(range).keys() {
                let key = key?;
                let id = keys::trailing_uuid(&key).ok_or(StorageError::Corrupt {
                    tree: T::ThresholdkeyUnit.name(),
                    detail: "a key without a subscription id".into(),
                })?;
                crossed.extend(cached_subscription(db, caches, SubscriptionId(id))?);
            }
            Ok(crossed)
        }
    }
}

impl Store {
    /// Stores `candidate` unless an identical subscription exists. Its baseline is the watched
    /// item's value at this moment. Past the tenant's limit it answers `Quota`.
    pub async fn subscribe(&self, mut candidate: Subscription) -> Result<SubscribeOutcome> {
        let limit = self.limits.subscriptions_per_tenant;
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let dedup = dedup_key(&candidate)?;
            if let Some(id) = db.get(T::DedupkeySubscriptionid, &dedup)?
                && let Some(existing) = db.get_json(T::SubscriptionidSubscription, &id)?
            {
                return Ok(SubscribeOutcome::Existing(existing));
            }
            if let Some((kind, item_id)) = candidate.filter.item() {
                let key = keys::catalog_item(candidate.instance_id, kind, item_id);
                match db.get_json::<crate::domain::CatalogItem>(T::CatalogkeyItem, &key)? {
                    Some(item) => candidate.baseline = item.value,
                    None => return Ok(SubscribeOutcome::UnknownItem),
                }
            }
            let mut counts = tenant_counts(db, &candidate.tenant)?;
            if counts.subscriptions >= limit {
                return Err(StorageError::Quota {
                    what: "subscriptions",
                    limit,
                });
            }
            counts.subscriptions += 1;
            let mut set = WriteSet::default();
            set.put_json(
                T::SubscriptionidSubscription,
                candidate.id.as_bytes(),
                &candidate,
            )?;
            for (tree, key) in index_entries(&candidate)? {
                let value: &[u8] = match tree {
                    T::DedupkeySubscriptionid => candidate.id.as_bytes(),
                    _ => &[],
                };
                set.put(tree, key, value);
            }
            put_tenant_counts(&mut set, &candidate.tenant, counts);
            db.commit(set)?;
            // A new subscription is likely to be reached soon (its flow waits for an event):
            // the next report finds it decoded.
            caches
                .subscriptions
                .put(candidate.id, Arc::new(candidate.clone()));
            Ok(SubscribeOutcome::Created(candidate))
        })
        .await
    }

    /// The subscription, from the cache that deliveries share.
    pub fn subscription(&self, id: SubscriptionId) -> Result<Option<Arc<Subscription>>> {
        cached_subscription(&*self.db()?, &self.caches, id)
    }

    /// The subscription when it belongs to `tenant`.
    pub fn tenant_subscription(
        &self,
        tenant: &TenantId,
        id: SubscriptionId,
    ) -> Result<Option<Arc<Subscription>>> {
        Ok(self.subscription(id)?.filter(|sub| &sub.tenant == tenant))
    }

    /// Every subscription of an instance, oldest first.
    pub fn subscriptions(&self, instance: InstanceId) -> Result<Vec<Subscription>> {
        let db = self.db()?;
        let mut out = Vec::new();
        for trigger in TriggerKind::ALL {
            out.extend(
                subscriptions_of(&db, &self.caches, instance, trigger)?
                    .iter()
                    .map(|sub| Subscription::clone(sub)),
            );
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Removes the subscription and its index entries; `None` when it was already gone.
    pub async fn unsubscribe(&self, id: SubscriptionId) -> Result<Option<Subscription>> {
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let Some(sub) = subscription(db, id)? else {
                return Ok(None);
            };
            let mut set = WriteSet::default();
            stage_unsubscribe(&mut set, &sub)?;
            let mut counts = tenant_counts(db, &sub.tenant)?;
            counts.subscriptions = counts.subscriptions.saturating_sub(1);
            put_tenant_counts(&mut set, &sub.tenant, counts);
            db.commit(set)?;
            // After the commit: a read between an earlier invalidation and the commit would
            // fill the cache again with the removed subscription.
            caches.subscriptions.invalidate(&id);
            Ok(Some(sub))
        })
        .await
    }
}
