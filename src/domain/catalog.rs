//! The instance catalog: data sources, segments and measures, each with its latest state.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::patterns::ITEM_ID_MAX_CHARS;

/// The id a data platform gives a data source, segment or measure: 1 to `ITEM_ID_MAX_CHARS`
/// characters, no control characters, no space at either end, no `/` (it travels in URL paths).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemId(String);

impl ItemId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.chars().count() <= ITEM_ID_MAX_CHARS && super::patterns::is_item_id(raw);
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ItemId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| {
            format!(
                "an id must be 1 to {ITEM_ID_MAX_CHARS} printable characters without '/' or surrounding spaces"
            )
        })
    }
}

impl From<ItemId> for String {
    fn from(id: ItemId) -> Self {
        id.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CatalogKind {
    DataSource,
    Segment,
    Measure,
}

impl CatalogKind {
    /// A stable one-byte tag for storage keys. Never renumber.
    pub fn tag(self) -> u8 {
        match self {
            Self::DataSource => 1,
            Self::Segment => 2,
            Self::Measure => 3,
        }
    }

    /// How an error message names this kind.
    pub fn noun(self) -> &'static str {
        match self {
            Self::DataSource => "data source",
            Self::Segment => "segment",
            Self::Measure => "measure",
        }
    }
}

/// One catalog entry with its latest known state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogItem {
    pub id: ItemId,
    pub kind: CatalogKind,
    pub name: String,
    /// The latest observed value: a segment's member count or a measure's value.
    pub value: Option<f64>,
    /// The latest refresh of a data source.
    pub last_refresh: Option<LastRefresh>,
    pub updated_at: DateTime<Utc>,
}

impl CatalogItem {
    /// The item a report is about: the known one, or a new one named by its id, with a better
    /// name when the report has one, touched at `now`.
    pub fn observed(
        known: Option<CatalogItem>,
        kind: CatalogKind,
        id: &ItemId,
        name: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut item = known.unwrap_or_else(|| CatalogItem {
            id: id.clone(),
            kind,
            name: id.to_string(),
            value: None,
            last_refresh: None,
            updated_at: now,
        });
        if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
            item.name = name;
        }
        item.updated_at = now;
        item
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRefresh {
    pub refresh_id: String,
    pub status: super::RunStatus,
    pub finished_at: Option<DateTime<Utc>>,
    pub row_count: Option<u64>,
    pub error_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_reject_what_cannot_travel_in_a_path() {
        let long = "x".repeat(ITEM_ID_MAX_CHARS + 1);
        for bad in ["", " lead", "trail ", "a/b", "nl\n", long.as_str()] {
            assert!(ItemId::parse(bad).is_none(), "{bad:?} must be refused");
        }
        assert!(ItemId::parse("crm contacts-01").is_some());
    }
}
