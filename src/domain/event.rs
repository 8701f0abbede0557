//! Events and the flat JSON payload each subscription receives for one.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::report::{RunKind, RunStatus, duration_seconds};
use super::{CatalogKind, EventId, InstanceId, ItemId, Subscription, TriggerKind};

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
    },
}

fn time(value: Option<DateTime<Utc>>) -> Value {
    value.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
    })
}

/// Segment member counts are whole numbers and read best as integers.
fn count_or_number(kind: CatalogKind, value: f64) -> Value {
    if kind == CatalogKind::Segment && value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

impl Event {
    /// The flat JSON object POSTed to `subscription`'s callback URL: no arrays and no nested
    /// objects, so that every field is a dynamic-content token in the flow designer.
    pub fn payload_for(&self, subscription: &Subscription) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("eventId".into(), json!(self.id));
        out.insert("eventType".into(), json!(self.trigger.event_type()));
        out.insert("occurredAt".into(), time(Some(self.occurred_at)));
        out.insert("instanceId".into(), json!(self.instance_id));
        out.insert("subscriptionId".into(), json!(subscription.id));
        match &self.details {
            EventDetails::Refresh {
                data_source_id,
                data_source_name,
                refresh_id,
                status,
                started_at,
                finished_at,
                row_count,
                error_code,
                error_message,
            } => {
                out.insert("dataSourceId".into(), json!(data_source_id));
                out.insert("dataSourceName".into(), json!(data_source_name));
                out.insert("refreshId".into(), json!(refresh_id));
                out.insert("status".into(), json!(status.as_str()));
                out.insert("startedAt".into(), time(*started_at));
                out.insert("finishedAt".into(), time(*finished_at));
                out.insert(
                    "durationSeconds".into(),
                    json!(duration_seconds(*started_at, *finished_at)),
                );
                match status {
                    RunStatus::Succeeded => {
                        out.insert("rowCount".into(), json!(row_count));
                    }
                    RunStatus::Failed => {
                        out.insert("errorCode".into(), json!(error_code));
                        out.insert("errorMessage".into(), json!(error_message));
                    }
                }
            }
            EventDetails::ValueChanged {
                kind,
                item_id,
                item_name,
                previous,
                value,
            } => {
                let threshold = subscription.threshold().map(|t| t.value());
                let (id, name, prev_field, value_field) = match kind {
                    CatalogKind::Segment => (
                        "segmentId",
                        "segmentName",
                        "previousMemberCount",
                        "memberCount",
                    ),
                    _ => ("measureId", "measureName", "previousValue", "value"),
                };
                out.insert(id.into(), json!(item_id));
                out.insert(name.into(), json!(item_name));
                out.insert("threshold".into(), json!(threshold));
                out.insert(prev_field.into(), count_or_number(*kind, *previous));
                out.insert(value_field.into(), count_or_number(*kind, *value));
            }
            EventDetails::Run {
                kind,
                run_id,
                status,
                started_at,
                finished_at,
                counts,
            } => {
                out.insert("runId".into(), json!(run_id));
                out.insert("status".into(), json!(status.as_str()));
                out.insert("startedAt".into(), time(*started_at));
                out.insert("finishedAt".into(), time(*finished_at));
                out.insert(
                    "durationSeconds".into(),
                    json!(duration_seconds(*started_at, *finished_at)),
                );
                for name in kind.count_names() {
                    out.insert((*name).into(), json!(counts.get(*name)));
                }
            }
        }
        out
    }
}
