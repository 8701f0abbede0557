//! A webhook subscription: one trigger of one flow, with its filter and callback URL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    CallbackUrl, CatalogKind, InstanceId, ItemId, SubscriptionId, TenantId, Threshold, TriggerKind,
};

/// What narrows a trigger. The shape is tied to the trigger kind by construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Filter {
    /// Full refresh and unification triggers, or a refresh trigger for any data source.
    None,
    DataSource {
        data_source_id: ItemId,
    },
    Threshold {
        kind: CatalogKind,
        item_id: ItemId,
        threshold: Threshold,
    },
}

impl Filter {
    /// The catalog item the filter names, which must exist when subscribing.
    pub fn item(&self) -> Option<(CatalogKind, &ItemId)> {
        match self {
            Self::None => None,
            Self::DataSource { data_source_id } => Some((CatalogKind::DataSource, data_source_id)),
            Self::Threshold { kind, item_id, .. } => Some((*kind, item_id)),
        }
    }

    /// Whether a refresh of `data_source` passes this filter.
    pub fn accepts_data_source(&self, data_source: &ItemId) -> bool {
        match self {
            Self::None => true,
            Self::DataSource { data_source_id } => data_source_id == data_source,
            Self::Threshold { .. } => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant: TenantId,
    pub instance_id: InstanceId,
    pub trigger: TriggerKind,
    pub filter: Filter,
    pub callback: CallbackUrl,
    pub created_at: DateTime<Utc>,
    /// Threshold triggers: the item's value when the subscription was created (`None` when no
    /// value was known yet, so the first observation only sets it).
    pub baseline: Option<f64>,
}

impl Subscription {
    pub fn threshold(&self) -> Option<Threshold> {
        match &self.filter {
            Filter::Threshold { threshold, .. } => Some(*threshold),
            _ => None,
        }
    }
}
