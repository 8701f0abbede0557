//! Instances: the environments a tenant owns, chosen first in every action and trigger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{InstanceId, TenantId};
use super::patterns::NAME_MAX_CHARS;

/// A display name: 1 to `NAME_MAX_CHARS` characters, no control characters, not only spaces; stored
/// without surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceName(String);

impl InstanceName {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.chars().count() <= NAME_MAX_CHARS && super::patterns::is_name(raw);
        ok.then(|| Self(raw.trim_matches(' ').to_owned()))
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
