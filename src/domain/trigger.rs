//! The six triggers a flow maker can pick, with the names the public contract gives them.

use serde::{Deserialize, Serialize};

use super::catalog::CatalogKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TriggerKind {
    DataSourceRefreshFailed,
    DataSourceRefreshSucceeded,
    SegmentThresholdCrossed,
    MeasureThresholdCrossed,
    FullRefreshCompleted,
    UnificationCompleted,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 6] = [
        Self::DataSourceRefreshFailed,
        Self::DataSourceRefreshSucceeded,
        Self::SegmentThresholdCrossed,
        Self::MeasureThresholdCrossed,
        Self::FullRefreshCompleted,
        Self::UnificationCompleted,
    ];

    /// The `eventType` of the callback payload: the operationId without `On`.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::DataSourceRefreshFailed => "DataSourceRefreshFailed",
            Self::DataSourceRefreshSucceeded => "DataSourceRefreshSucceeded",
            Self::SegmentThresholdCrossed => "SegmentThresholdCrossed",
            Self::MeasureThresholdCrossed => "MeasureThresholdCrossed",
            Self::FullRefreshCompleted => "FullRefreshCompleted",
            Self::UnificationCompleted => "UnificationCompleted",
        }
    }

    /// The last segment of the subscribe path, `.../triggers/<segment>`.
    pub fn path_segment(self) -> &'static str {
        match self {
            Self::DataSourceRefreshFailed => "data-source-refresh-failed",
            Self::DataSourceRefreshSucceeded => "data-source-refresh-succeeded",
            Self::SegmentThresholdCrossed => "segment-threshold-crossed",
            Self::MeasureThresholdCrossed => "measure-threshold-crossed",
            Self::FullRefreshCompleted => "full-refresh-completed",
            Self::UnificationCompleted => "unification-completed",
        }
    }

    /// The catalog kind a threshold trigger watches.
    pub fn threshold_kind(self) -> Option<CatalogKind> {
        match self {
            Self::SegmentThresholdCrossed => Some(CatalogKind::Segment),
            Self::MeasureThresholdCrossed => Some(CatalogKind::Measure),
            _ => None,
        }
    }

    /// A stable one-byte tag for storage keys. Never renumber: keys on disk depend on it.
    pub fn tag(self) -> u8 {
        match self {
            Self::DataSourceRefreshFailed => 1,
            Self::DataSourceRefreshSucceeded => 2,
            Self::SegmentThresholdCrossed => 3,
            Self::MeasureThresholdCrossed => 4,
            Self::FullRefreshCompleted => 5,
            Self::UnificationCompleted => 6,
        }
    }
}
