//! A webhook subscription: one trigger of one flow, with its filter and callback URL.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
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
    /// Signs every callback (Standard Webhooks). Subscriptions stored before signatures
    /// existed have none, and their callbacks go unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<SigningSecret>,
}

/// A Standard Webhooks signing secret, `whsec_` + base64 of 24 random bytes. Shown once, in
/// the subscribe answer; never in Debug output or logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub const PREFIX: &'static str = "whsec_";

    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{}{}", Self::PREFIX, STANDARD.encode(bytes))))
    }

    /// Accepts `whsec_` + base64, as other Standard Webhooks libraries print it.
    pub fn parse(raw: &str) -> Option<Self> {
        let key = raw.strip_prefix(Self::PREFIX)?;
        STANDARD.decode(key).ok().filter(|k| !k.is_empty())?;
        Some(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the bytes the base64 part encodes; `None` for a secret that does not
    /// have that shape (a corrupt record: its callbacks are never sent unsigned).
    pub fn key(&self) -> Option<Vec<u8>> {
        let encoded = self.0.strip_prefix(Self::PREFIX)?;
        STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl Subscription {
    pub fn threshold(&self) -> Option<Threshold> {
        match &self.filter {
            Filter::Threshold { threshold, .. } => Some(*threshold),
            _ => None,
        }
    }
}
