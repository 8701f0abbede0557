//! What a data platform reports: refreshes, segment sizes, measure values and runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

impl RunKind {
    /// The counts a run of this kind reports; each becomes a flat payload field.
    pub fn count_names(self) -> &'static [&'static str] {
        match self {
            Self::Unification => &["sourceRecordCount", "unifiedProfileCount"],
            Self::FullRefresh => &[
                "dataSourceCount",
                "failedDataSourceCount",
                "segmentCount",
                "measureCount",
            ],
        }
    }
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
    /// Keys are among `kind.count_names()`.
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
