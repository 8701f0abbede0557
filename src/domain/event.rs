//! Events as they are stored: what happened, to which instance, for which trigger. What a
//! callback receives for one is in `payload`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::refresh::InitiatedBy;
use super::report::{RunKind, RunStatus};
use super::{CatalogKind, EventId, InstanceId, ItemId, TriggerKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: EventId,
    pub instance_id: InstanceId,
    pub trigger: TriggerKind,
    pub occurred_at: DateTime<Utc>,
    pub details: EventDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum EventDetails {
    #[serde(rename_all = "camelCase")]
    Refresh {
        data_source_id: ItemId,
        data_source_name: String,
        refresh_id: String,
        status: RunStatus,
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
        row_count: Option<u64>,
        error_code: Option<String>,
        error_message: Option<String>,
    },
    /// A value change of a segment or measure; each subscription it crossed adds its own
    /// threshold to the payload.
    #[serde(rename_all = "camelCase")]
    ValueChanged {
        kind: CatalogKind,
        item_id: ItemId,
        item_name: String,
        previous: f64,
        value: f64,
    },
    #[serde(rename_all = "camelCase")]
    Run {
        kind: RunKind,
        run_id: String,
        status: RunStatus,
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
        counts: BTreeMap<String, u64>,
        /// Who started a run the engine ran; absent for a run a platform reported (and in
        /// events stored before the engine ran runs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initiated_by: Option<InitiatedBy>,
    },
}
