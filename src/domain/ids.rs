//! Typed identifiers: a subscription id can never be passed where an instance id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The 16 bytes used in storage keys.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An instance (environment) of a tenant.
    InstanceId
);
uuid_id!(
    /// A webhook subscription (one trigger of one flow).
    SubscriptionId
);
uuid_id!(
    /// An event: the same on every delivery attempt and for every subscription it reaches.
    EventId
);
uuid_id!(
    /// One event-to-subscription delivery: the `webhook-id` header of each of its attempts.
    DeliveryId
);

impl DeliveryId {
    /// A time-ordered (v7) id, so that a range scan of an index lists deliveries oldest first.
    pub fn new_ordered() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id of the delivery of `event` to its `index`-th subscription: the event id's first
    /// twelve bytes, then the index. The outbox finds a delivery's event from its id alone, so
    /// a fan-out stores one record per event instead of one per subscription; it keeps those
    /// twelve bytes unique among stored events.
    pub fn of_target(event: EventId, index: u32) -> Self {
        let mut bytes = *event.as_bytes();
        bytes[12..].copy_from_slice(&index.to_be_bytes());
        Self(Uuid::from_bytes(bytes))
    }

    /// The event prefix and target index `of_target` put in the id.
    pub fn target_parts(&self) -> ([u8; 12], u32) {
        let bytes = self.as_bytes();
        let mut prefix = [0u8; 12];
        prefix.copy_from_slice(&bytes[..12]);
        let index = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        (prefix, index)
    }
}

uuid_id!(
    /// A refresh run by the engine: a data source refresh or a full refresh.
    RefreshId
);

impl RefreshId {
    /// A time-ordered (v7) id: an instance's refreshes list newest first by their keys.
    pub fn new_ordered() -> Self {
        Self(Uuid::now_v7())
    }
}

impl EventId {
    /// A time-ordered (v7) id: events list in the order they happened.
    pub fn new_ordered() -> Self {
        Self(Uuid::now_v7())
    }
}

/// The Azure AD tenant (or API-key tenant) that owns data. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Accepts 1 to `TENANT_ID_MAX_BYTES` bytes of printable characters without whitespace.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= super::patterns::TENANT_ID_MAX_BYTES
            && raw.chars().all(|c| !c.is_control() && !c.is_whitespace());
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_reject_empty_long_and_spaced_values() {
        for bad in ["", " ", "a b", "tab\tbed", &"x".repeat(129)] {
            assert!(TenantId::parse(bad).is_none(), "{bad:?} must be refused");
        }
        assert_eq!(TenantId::parse("contoso").unwrap().as_str(), "contoso");
    }
}
