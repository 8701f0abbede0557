//! Instances: the environments a tenant owns, chosen first in every action and trigger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{InstanceId, TenantId};

/// A display name: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceName(String);

impl InstanceName {
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        let ok = !trimmed.is_empty()
            && trimmed.chars().count() <= 100
            && trimmed.chars().all(|c| !c.is_control());
        ok.then(|| Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: InstanceId,
    pub tenant: TenantId,
    pub name: InstanceName,
    pub created_at: DateTime<Utc>,
}
