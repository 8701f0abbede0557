//! What a data platform reports: refreshes, segment sizes, measure values and runs, with the
//! typed counts of each kind of run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::catalog::ItemId;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
