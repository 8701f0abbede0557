//! Subscriptions and their indexes: by instance and trigger, by threshold, and by dedup key.

use sha2::{Digest, Sha256};

use super::{Result, Store, T, WriteSet, keys};
use crate::domain::{Filter, InstanceId, Subscription, SubscriptionId, TenantId, TriggerKind};

pub enum SubscribeOutcome {
    Created(Subscription),
    /// The same tenant, instance, trigger, filter and callback URL were subscribed already.
    Existing(Subscription),
    /// The filter names a data source, segment or measure the catalog does not have.
    UnknownItem,
}

/// Identifies "the same subscription" for idempotent subscribes.
fn dedup_key(sub: &Subscription) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [
        sub.tenant.as_str().as_bytes(),
        sub.instance_id.as_bytes(),
        &[sub.trigger.tag()],
        serde_json::to_string(&sub.filter)
            .unwrap_or_default()
            .as_bytes(),
        sub.callback.as_str().as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().to_vec()
}

fn index_entries(sub: &Subscription) -> Vec<(T, Vec<u8>)> {
    let mut entries = vec![
        (T::DedupkeySubscriptionid, dedup_key(sub)),
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
    entries
}

impl Store {
    /// Stores `candidate` unless an identical subscription exists. Its baseline is the watched
    /// item's value at this moment.
    pub fn subscribe(&self, mut candidate: Subscription) -> Result<SubscribeOutcome> {
        let _guard = self.lock();
        let dedup = dedup_key(&candidate);
        if let Some(id) = self.tree(T::DedupkeySubscriptionid).get(&dedup)?
            && let Some(existing) = self.get_json(T::SubscriptionidSubscription, &id)?
        {
            return Ok(SubscribeOutcome::Existing(existing));
        }
        if let Some((kind, item_id)) = candidate.filter.item() {
            match self.catalog_item(candidate.instance_id, kind, item_id)? {
                Some(item) => candidate.baseline = item.value,
                None => return Ok(SubscribeOutcome::UnknownItem),
            }
        }
        let mut set = WriteSet::default();
        set.put_json(
            T::SubscriptionidSubscription,
            candidate.id.as_bytes(),
            &candidate,
        )?;
        for (tree, key) in index_entries(&candidate) {
            let value: &[u8] = match tree {
                T::DedupkeySubscriptionid => candidate.id.as_bytes(),
                _ => &[],
            };
            set.put(tree, key, value);
        }
        self.commit(set)?;
        Ok(SubscribeOutcome::Created(candidate))
    }

    pub fn subscription(&self, id: SubscriptionId) -> Result<Option<Subscription>> {
        self.get_json(T::SubscriptionidSubscription, id.as_bytes())
    }

    /// The subscription when it belongs to `tenant`.
    pub fn tenant_subscription(
        &self,
        tenant: &TenantId,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>> {
        Ok(self.subscription(id)?.filter(|sub| &sub.tenant == tenant))
    }

    /// Every subscription of an instance, oldest first.
    pub fn subscriptions(&self, instance: InstanceId) -> Result<Vec<Subscription>> {
        let mut out = Vec::new();
        for trigger in TriggerKind::ALL {
            out.extend(self.subscriptions_of(instance, trigger)?);
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub(super) fn subscriptions_of(
        &self,
        instance: InstanceId,
        trigger: TriggerKind,
    ) -> Result<Vec<Subscription>> {
        let prefix = keys::instance_trigger_prefix(instance, trigger);
        let mut out = Vec::new();
        for key in self
            .tree(T::InstanceTriggerSubscriptionidUnit)
            .scan_prefix(prefix)
            .keys()
        {
            if let Some(id) = keys::trailing_uuid(&key?) {
                out.extend(self.subscription(SubscriptionId(id))?);
            }
        }
        Ok(out)
    }

    /// Removes the subscription and its index entries; `None` when it was already gone.
    pub fn unsubscribe(&self, id: SubscriptionId) -> Result<Option<Subscription>> {
        let _guard = self.lock();
        let Some(sub) = self.subscription(id)? else {
            return Ok(None);
        };
        let mut set = WriteSet::default();
        set.remove(T::SubscriptionidSubscription, sub.id.as_bytes());
        for (tree, key) in index_entries(&sub) {
            set.remove(tree, key);
        }
        self.commit(set)?;
        Ok(Some(sub))
    }
}
