//! Key encoding, one function per tree. Variable-length parts carry a length prefix so that
//! no id can be a prefix of another and range scans stay exact.

use crate::domain::threshold::order_preserving_bytes;
use crate::domain::{
    CatalogKind, DeliveryId, EventId, InstanceId, ItemId, RefreshId, SubscriptionId, TenantId,
    TriggerKind,
};

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

/// The tenant a key starts with (`tenant_prefix`).
pub fn leading_tenant(key: &[u8]) -> Option<TenantId> {
    let len = u16::from_be_bytes(key.get(..2)?.try_into().ok()?) as usize;
    let raw = std::str::from_utf8(key.get(2..2 + len)?).ok()?;
    TenantId::parse(raw)
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

/// A time in Unix milliseconds followed by `rest`: range scans go in time order. Times are
/// after 1970, so the big-endian bytes of a non-negative i64 sort by time.
pub fn time_key(ms: i64, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + rest.len());
    key.extend_from_slice(&(ms.max(0) as u64).to_be_bytes());
    key.extend_from_slice(rest);
    key
}

/// `instance | createdms | event`: an instance's events with deliveries, in time order.
pub fn instance_event(instance: InstanceId, created_ms: i64, event: EventId) -> Vec<u8> {
    let mut key = instance.as_bytes().to_vec();
    key.extend_from_slice(&time_key(created_ms, event.as_bytes()));
    key
}

/// `len+tenant | failedms | delivery`: a tenant's dead letters, oldest first.
pub fn tenant_failed(tenant: &TenantId, failed_ms: i64, delivery: DeliveryId) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(&time_key(failed_ms, delivery.as_bytes()));
    key
}

/// The value of the legacy id map: the event and the target's index in its fan-out record.
pub fn event_index(event: EventId, index: u32) -> Vec<u8> {
    let mut value = event.as_bytes().to_vec();
    value.extend_from_slice(&index.to_be_bytes());
    value
}

pub fn parse_event_index(value: &[u8]) -> Option<(EventId, u32)> {
    let event: [u8; 16] = value.get(..16)?.try_into().ok()?;
    let index: [u8; 4] = value.get(16..20)?.try_into().ok()?;
    Some((
        EventId(uuid::Uuid::from_bytes(event)),
        u32::from_be_bytes(index),
    ))
}

/// `instance | dataSourceId`: one data source definition.
pub fn data_source(instance: InstanceId, id: &ItemId) -> Vec<u8> {
    let mut key = instance.as_bytes().to_vec();
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

/// `instance | id`: one measure or segment definition.
pub fn instance_item(instance: InstanceId, id: &ItemId) -> Vec<u8> {
    data_source(instance, id)
}

/// `instance | refreshId`: refresh ids are time-ordered, so an instance's refreshes scan
/// oldest first.
pub fn refresh(instance: InstanceId, id: RefreshId) -> Vec<u8> {
    let mut key = instance.as_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}
