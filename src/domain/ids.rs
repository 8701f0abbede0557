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
