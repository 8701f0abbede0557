//! What a data platform reports: refreshes, segment sizes, measure values and runs, with the
//! typed counts of each kind of run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::catalog::{CatalogItem, CatalogKind, ItemId, LastRefresh};
use super::event::{Event, EventDetails};
use super::ids::{EventId, InstanceId};
use super::refresh::InitiatedBy;
use super::trigger::TriggerKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunKind {
    Unification,
    FullRefresh,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unification => "unification",
            Self::FullRefresh => "fullRefresh",
        }
    }
}

/// What a unification run counted. The field names are those of the report, of the payload
/// and of the stored map alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnificationCounts {
    /// Source records that went into unification.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub source_record_count: Option<u64>,
    /// Unified customer profiles it produced.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub unified_profile_count: Option<u64>,
}

/// What a full refresh counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FullRefreshCounts {
    /// Data sources refreshed.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub data_source_count: Option<u64>,
    /// Data sources whose refresh failed.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub failed_data_source_count: Option<u64>,
    /// Segments recomputed.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub segment_count: Option<u64>,
    /// Measures recomputed.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub measure_count: Option<u64>,
}

/// The counts of a run, typed by its kind. Stored reports and events keep them as a map of
/// the counts present (`RunReport::counts`); these convert at the edge.
#[derive(Debug, Clone, PartialEq)]
pub enum RunCounts {
    Unification(UnificationCounts),
    FullRefresh(FullRefreshCounts),
}

impl RunCounts {
    pub fn kind(&self) -> RunKind {
        match self {
            Self::Unification(_) => RunKind::Unification,
            Self::FullRefresh(_) => RunKind::FullRefresh,
        }
    }

    /// The stored form: the counts present, by their names.
    pub fn to_map(&self) -> Result<BTreeMap<String, u64>, serde_json::Error> {
        let value = match self {
            Self::Unification(counts) => serde_json::to_value(counts)?,
            Self::FullRefresh(counts) => serde_json::to_value(counts)?,
        };
        let present: BTreeMap<String, Option<u64>> = serde_json::from_value(value)?;
        Ok(present
            .into_iter()
            .filter_map(|(name, count)| Some((name, count?)))
            .collect())
    }

    /// Reads the stored form back; a name that `kind` does not count is an error.
    pub fn from_map(kind: RunKind, map: &BTreeMap<String, u64>) -> Result<Self, serde_json::Error> {
        let value = serde_json::to_value(map)?;
        Ok(match kind {
            RunKind::Unification => Self::Unification(serde_json::from_value(value)?),
            RunKind::FullRefresh => Self::FullRefresh(serde_json::from_value(value)?),
        })
    }
}

/// A whole number that JSON may write as `12` or `12.0`: JSON Schema counts both as integers.
/// At most `i64::MAX`, the maximum the documents declare for 64-bit integers.
fn whole(value: serde_json::Number) -> Result<u64, String> {
    if let Some(n) = value.as_u64() {
        return if i64::try_from(n).is_ok() {
            Ok(n)
        } else {
            Err(format!("{value} is larger than {}", i64::MAX))
        };
    }
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f) => Ok(f as u64),
        _ => Err(format!("{value} is not a whole number from 0 up")),
    }
}

pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    whole(serde_json::Number::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

pub fn optional_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(whole)
        .transpose()
        .map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshReport {
    pub data_source_id: ItemId,
    pub data_source_name: Option<String>,
    pub refresh_id: Option<String>,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub row_count: Option<u64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub kind: RunKind,
    pub run_id: Option<String>,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The stored form of `RunCounts` of `kind` (see `RunCounts::to_map`).
    pub counts: BTreeMap<String, u64>,
    /// Who started a run the engine ran; `None` for a run a platform reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<InitiatedBy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Report {
    DataSourceRefresh(RefreshReport),
    SegmentSize {
        segment_id: ItemId,
        segment_name: Option<String>,
        member_count: u64,
    },
    MeasureValue {
        measure_id: ItemId,
        measure_name: Option<String>,
        value: f64,
    },
    Run(RunReport),
}

/// Seconds between two instants, when both are known and in order.
pub fn duration_seconds(
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
) -> Option<f64> {
    let (started, finished) = (started?, finished?);
    let millis = (finished - started).num_milliseconds();
    (millis >= 0).then(|| millis as f64 / 1000.0)
}

/// Who an event goes to. The store answers it with its indexes; the rule of each case is here.
#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    /// The subscriptions of a refresh trigger whose filter accepts the data source (no
    /// filter, or this data source).
    DataSource {
        trigger: TriggerKind,
        data_source: ItemId,
    },
    /// The threshold subscriptions of one segment or measure whose threshold lies in
    /// `[previous, value)`: exactly those crossed by a move from `previous` to `value`.
    ///
    /// This holds because every threshold subscription of an item shares the item's history
    /// from its creation on: its baseline is the item's value when it was created, and each
    /// later observation moves both. So "the subscription's previous value is at or below its
    /// threshold and the new one above" is "threshold in `[previous, value)`" for all of them
    /// at once, one range scan (property-tested in `tests` below).
    Crossed {
        trigger: TriggerKind,
        kind: CatalogKind,
        item: ItemId,
        previous: f64,
        value: f64,
    },
    /// Every subscription of a run trigger.
    Everyone { trigger: TriggerKind },
}

impl Audience {
    /// An observation is an event only when it reaches someone; a refresh or a run is an
    /// event even when nobody listens (its id is answered and it can be audited).
    pub fn event_needs_subscribers(&self) -> bool {
        matches!(self, Self::Crossed { .. })
    }
}

/// What a report does: the catalog item it updates (refreshes and observations) and the event
/// it causes, with its audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub item: Option<CatalogItem>,
    pub event: Option<(Event, Audience)>,
}

impl Report {
    /// The catalog item the report is about, when it is about one.
    pub fn catalog_key(&self) -> Option<(CatalogKind, &ItemId)> {
        match self {
            Self::DataSourceRefresh(refresh) => {
                Some((CatalogKind::DataSource, &refresh.data_source_id))
            }
            Self::SegmentSize { segment_id, .. } => Some((CatalogKind::Segment, segment_id)),
            Self::MeasureValue { measure_id, .. } => Some((CatalogKind::Measure, measure_id)),
            Self::Run(_) => None,
        }
    }

    /// Applies the report to the catalog item it is about (`known`, `None` when the catalog
    /// does not have it yet: a report adds it) at `now`.
    pub fn apply(
        self,
        known: Option<CatalogItem>,
        instance: InstanceId,
        now: DateTime<Utc>,
    ) -> Applied {
        let event = |trigger: TriggerKind, details: EventDetails| Event {
            id: EventId::new_ordered(),
            instance_id: instance,
            trigger,
            occurred_at: now,
            details,
        };
        match self {
            Self::DataSourceRefresh(report) => {
                let mut item = CatalogItem::observed(
                    known,
                    CatalogKind::DataSource,
                    &report.data_source_id,
                    report.data_source_name,
                    now,
                );
                let refresh_id = report
                    .refresh_id
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                item.last_refresh = Some(LastRefresh {
                    refresh_id: refresh_id.clone(),
                    status: report.status,
                    finished_at: report.finished_at,
                    row_count: report.row_count,
                    error_code: report.error_code.clone(),
                });
                let trigger = match report.status {
                    RunStatus::Succeeded => TriggerKind::DataSourceRefreshSucceeded,
                    RunStatus::Failed => TriggerKind::DataSourceRefreshFailed,
                };
                let details = EventDetails::Refresh {
                    data_source_id: item.id.clone(),
                    data_source_name: item.name.clone(),
                    refresh_id,
                    status: report.status,
                    started_at: report.started_at,
                    finished_at: report.finished_at,
                    row_count: report.row_count,
                    error_code: report.error_code,
                    error_message: report.error_message,
                };
                let audience = Audience::DataSource {
                    trigger,
                    data_source: item.id.clone(),
                };
                Applied {
                    item: Some(item),
                    event: Some((event(trigger, details), audience)),
                }
            }
            Self::SegmentSize {
                segment_id,
                segment_name,
                member_count,
            } => observe(
                known,
                (CatalogKind::Segment, TriggerKind::SegmentThresholdCrossed),
                segment_id,
                segment_name,
                member_count as f64,
                now,
                event,
            ),
            Self::MeasureValue {
                measure_id,
                measure_name,
                value,
            } => observe(
                known,
                (CatalogKind::Measure, TriggerKind::MeasureThresholdCrossed),
                measure_id,
                measure_name,
                value,
                now,
                event,
            ),
            Self::Run(run) => {
                let trigger = match run.kind {
                    RunKind::Unification => TriggerKind::UnificationCompleted,
                    RunKind::FullRefresh => TriggerKind::FullRefreshCompleted,
                };
                let details = EventDetails::Run {
                    kind: run.kind,
                    run_id: run
                        .run_id
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    status: run.status,
                    started_at: run.started_at,
                    finished_at: run.finished_at,
                    counts: run.counts,
                    initiated_by: run.initiated_by,
                };
                Applied {
                    item: None,
                    event: Some((event(trigger, details), Audience::Everyone { trigger })),
                }
            }
        }
    }
}

/// A new value of a segment or measure: the item keeps it, and the event (if the value went
/// up from a known one) goes to the thresholds it crossed.
fn observe(
    known: Option<CatalogItem>,
    (kind, trigger): (CatalogKind, TriggerKind),
    id: ItemId,
    name: Option<String>,
    value: f64,
    now: DateTime<Utc>,
    event: impl FnOnce(TriggerKind, EventDetails) -> Event,
) -> Applied {
    let mut item = CatalogItem::observed(known, kind, &id, name, now);
    let previous = item.value.replace(value);
    let event = previous.filter(|p| *p < value).map(|previous| {
        let details = EventDetails::ValueChanged {
            kind,
            item_id: id.clone(),
            item_name: item.name.clone(),
            previous,
            value,
        };
        let audience = Audience::Crossed {
            trigger,
            kind,
            item: id,
            previous,
            value,
        };
        (event(trigger, details), audience)
    });
    Applied {
        item: Some(item),
        event,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::Threshold;

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        let cases = [("12", Ok(12)), ("12.0", Ok(12)), ("0", Ok(0))];
        for (raw, expected) in cases {
            assert_eq!(whole(serde_json::from_str(raw).unwrap()), expected, "{raw}");
        }
        for bad in ["-1", "1.5", "1e300", "9223372036854775808"] {
            assert!(whole(serde_json::from_str(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_are_stored_as_the_map_of_those_present() {
        let counts = RunCounts::FullRefresh(FullRefreshCounts {
            data_source_count: Some(2),
            segment_count: Some(0),
            ..FullRefreshCounts::default()
        });
        let map = counts.to_map().unwrap();
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"dataSourceCount":2,"segmentCount":0}"#
        );
        assert_eq!(
            RunCounts::from_map(RunKind::FullRefresh, &map).unwrap(),
            counts
        );
        assert!(RunCounts::from_map(RunKind::Unification, &map).is_err());
    }

    #[derive(Debug, Clone)]
    enum Step {
        Observe(u8),
        Subscribe(u8),
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            (0u8..20).prop_map(Step::Observe),
            (0u8..20).prop_map(Step::Subscribe),
        ];
        proptest::collection::vec(step, 0..40)
    }

    proptest! {
        /// The range rule of `Audience::Crossed` picks exactly the subscriptions that a
        /// subscription-by-subscription reading of the contract fires: each one's previous
        /// value (its baseline, then every later observation) at or below its threshold and
        /// the new value above it.
        #[test]
        fn the_threshold_range_reaches_exactly_the_crossed_subscriptions(steps in steps()) {
            let instance = InstanceId::new();
            let now = Utc::now();
            let id = ItemId::parse("vip").expect("a valid id");
            let mut item: Option<CatalogItem> = Some(CatalogItem::observed(None, CatalogKind::Segment, &id, None, now));
            // (threshold, the subscription's own previous value)
            let mut subscriptions: Vec<(f64, Option<f64>)> = Vec::new();
            for step in steps {
                match step {
                    Step::Subscribe(t) => {
                        let baseline = item.as_ref().and_then(|i| i.value);
                        subscriptions.push((f64::from(t) / 2.0, baseline));
                    }
                    Step::Observe(v) => {
                        let value = f64::from(v);
                        let expected: Vec<usize> = subscriptions
                            .iter()
                            .enumerate()
                            .filter(|(_, (t, prev))| Threshold::new(*t).expect("finite").is_crossed(*prev, value))
                            .map(|(i, _)| i)
                            .collect();
                        for sub in &mut subscriptions {
                            sub.1 = Some(value);
                        }
                        let report = Report::SegmentSize { segment_id: id.clone(), segment_name: None, member_count: u64::from(v) };
                        let applied = report.apply(item.take(), instance, now);
                        item = applied.item;
                        let reached: Vec<usize> = match applied.event {
                            Some((_, Audience::Crossed { previous, value, .. })) => subscriptions
                                .iter()
                                .enumerate()
                                .filter(|(_, (t, _))| previous <= *t && *t < value)
                                .map(|(i, _)| i)
                                .collect(),
                            Some((_, other)) => panic!("an observation reached {other:?}"),
                            None => Vec::new(),
                        };
                        prop_assert_eq!(reached, expected);
                    }
                }
            }
        }
    }

    #[test]
    fn a_report_names_the_trigger_and_audience_it_causes() {
        let instance = InstanceId::new();
        let now = Utc::now();
        let crm = ItemId::parse("crm").expect("a valid id");
        let refresh = |status| {
            Report::DataSourceRefresh(RefreshReport {
                data_source_id: crm.clone(),
                data_source_name: Some("CRM".into()),
                refresh_id: None,
                status,
                started_at: None,
                finished_at: None,
                row_count: Some(3),
                error_code: None,
                error_message: None,
            })
        };
        let applied = refresh(RunStatus::Failed).apply(None, instance, now);
        let (event, audience) = applied.event.expect("a refresh is always an event");
        assert_eq!(event.trigger, TriggerKind::DataSourceRefreshFailed);
        assert_eq!(
            audience,
            Audience::DataSource {
                trigger: TriggerKind::DataSourceRefreshFailed,
                data_source: crm.clone()
            }
        );
        let item = applied.item.expect("the refresh updates the catalog");
        assert_eq!(
            (item.name.as_str(), item.last_refresh.map(|r| r.status)),
            ("CRM", Some(RunStatus::Failed))
        );

        let run = Report::Run(RunReport {
            kind: RunKind::Unification,
            run_id: None,
            status: RunStatus::Succeeded,
            started_at: None,
            finished_at: None,
            counts: BTreeMap::new(),
            initiated_by: None,
        });
        let applied = run.apply(None, instance, now);
        assert!(applied.item.is_none());
        assert_eq!(
            applied.event.map(|(_, a)| a),
            Some(Audience::Everyone {
                trigger: TriggerKind::UnificationCompleted
            })
        );

        let first = Report::MeasureValue {
            measure_id: crm.clone(),
            measure_name: None,
            value: 5.0,
        }
        .apply(None, instance, now);
        assert!(
            first.event.is_none(),
            "the first value only sets the baseline"
        );
        let lower = Report::MeasureValue {
            measure_id: crm.clone(),
            measure_name: None,
            value: 4.0,
        }
        .apply(first.item, instance, now);
        assert!(lower.event.is_none(), "going down crosses nothing");
        let higher = Report::MeasureValue {
            measure_id: crm,
            measure_name: None,
            value: 9.0,
        }
        .apply(lower.item, instance, now);
        assert!(
            matches!(higher.event, Some((_, Audience::Crossed { previous, value, .. })) if previous == 4.0 && value == 9.0)
        );
    }
}
