//! Key encoding, one function per tree. Variable-length parts carry a length prefix so that
//! no id can be a prefix of another and range scans stay exact.

use crate::domain::threshold::order_preserving_bytes;
use crate::domain::{CatalogKind, InstanceId, ItemId, SubscriptionId, TenantId, TriggerKind};

fn push_str(key: &mut Vec<u8>, s: &str) {
    // Ids are at most a few hundred bytes; u16 is ample.
    key.extend_from_slice(&(s.len() as u16).to_be_bytes());
    key.extend_from_slice(s.as_bytes());
}

pub fn tenant_prefix(tenant: &TenantId) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + tenant.as_str().len() + 16);
    push_str(&mut key, tenant.as_str());
    key
}

pub fn tenant_instance(tenant: &TenantId, instance: InstanceId) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(instance.as_bytes());
    key
}

pub fn catalog_prefix(instance: InstanceId, kind: CatalogKind) -> Vec<u8> {
    let mut key = instance.as_bytes().to_vec();
    key.push(kind.tag());
    key
}

pub fn catalog_item(instance: InstanceId, kind: CatalogKind, item: &ItemId) -> Vec<u8> {
    let mut key = catalog_prefix(instance, kind);
    key.extend_from_slice(item.as_str().as_bytes());
    key
}

pub fn instance_trigger_prefix(instance: InstanceId, trigger: TriggerKind) -> Vec<u8> {
    let mut key = instance.as_bytes().to_vec();
    key.push(trigger.tag());
    key
}

pub fn instance_trigger_subscription(
    instance: InstanceId,
    trigger: TriggerKind,
    id: SubscriptionId,
) -> Vec<u8> {
    let mut key = instance_trigger_prefix(instance, trigger);
    key.extend_from_slice(id.as_bytes());
    key
}

/// `instance | kind | len+itemId`: every threshold subscription of one item.
pub fn threshold_prefix(instance: InstanceId, kind: CatalogKind, item: &ItemId) -> Vec<u8> {
    let mut key = catalog_prefix(instance, kind);
    push_str(&mut key, item.as_str());
    key
}

/// The prefix followed by the threshold in order-preserving bytes, so the thresholds in
/// `[previous, new)` are one range scan.
pub fn threshold_bound(prefix: &[u8], value: f64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&order_preserving_bytes(value));
    key
}

pub fn threshold_entry(prefix: &[u8], threshold: f64, id: SubscriptionId) -> Vec<u8> {
    let mut key = threshold_bound(prefix, threshold);
    key.extend_from_slice(id.as_bytes());
    key
}

/// The id in the last 16 bytes of a key (tenant-instance, instance-trigger, threshold index).
pub fn trailing_uuid(key: &[u8]) -> Option<uuid::Uuid> {
    let bytes: [u8; 16] = key.get(key.len().checked_sub(16)?..)?.try_into().ok()?;
    Some(uuid::Uuid::from_bytes(bytes))
}
