//! Events, and the flat JSON payload each subscription receives for one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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

/// Declares a callback payload: the five fields every event carries, then its own. The structs
/// are serialized as they are, and their `ToSchema` is the trigger's `x-ms-notification-content`,
/// so the documented payload and the delivered one cannot drift apart.
macro_rules! payload {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Identifies the event: the same on every attempt and for every flow it reaches.
            pub event_id: Uuid,
            /// What happened, for example DataSourceRefreshFailed.
            pub event_type: String,
            /// When the service recorded the event (RFC 3339).
            pub occurred_at: DateTime<Utc>,
            /// The instance the event happened in.
            pub instance_id: Uuid,
            /// The trigger subscription this notification is for.
            pub subscription_id: Uuid,
            $($(#[$fmeta])* pub $field: $ty,)*
        }
    };
}

payload!(
    /// What a flow receives when a data source refresh fails.
    DataSourceRefreshFailedPayload {
        /// The data source that was refreshed.
        data_source_id: String,
        /// The data source's display name.
        data_source_name: String,
        /// The platform's id of the refresh.
        refresh_id: String,
        /// How the refresh ended: failed.
        status: String,
        /// When the refresh started, if known.
        started_at: Option<DateTime<Utc>>,
        /// When the refresh ended, if known.
        finished_at: Option<DateTime<Utc>>,
        /// How long the refresh took, in seconds, when start and end are known.
        duration_seconds: Option<f64>,
        /// The error code the platform reported.
        error_code: Option<String>,
        /// The error message the platform reported.
        error_message: Option<String>,
    }
);

payload!(
    /// What a flow receives when a data source refresh succeeds.
    DataSourceRefreshSucceededPayload {
        /// The data source that was refreshed.
        data_source_id: String,
        /// The data source's display name.
        data_source_name: String,
        /// The platform's id of the refresh.
        refresh_id: String,
        /// How the refresh ended: succeeded.
        status: String,
        /// When the refresh started, if known.
        started_at: Option<DateTime<Utc>>,
        /// When the refresh ended, if known.
        finished_at: Option<DateTime<Utc>>,
        /// How long the refresh took, in seconds, when start and end are known.
        duration_seconds: Option<f64>,
        /// Rows ingested, if the platform reported them.
        row_count: Option<u64>,
    }
);

payload!(
    /// What a flow receives when a segment's member count crosses its threshold upwards.
    SegmentThresholdCrossedPayload {
        /// The segment that crossed the threshold.
        segment_id: String,
        /// The segment's display name.
        segment_name: String,
        /// The threshold of this flow's trigger.
        threshold: f64,
        /// The member count before, at or below the threshold.
        previous_member_count: u64,
        /// The member count now, above the threshold.
        member_count: u64,
    }
);

payload!(
    /// What a flow receives when a business measure crosses its threshold upwards.
    MeasureThresholdCrossedPayload {
        /// The measure that crossed the threshold.
        measure_id: String,
        /// The measure's display name.
        measure_name: String,
        /// The threshold of this flow's trigger.
        threshold: f64,
        /// The value before, at or below the threshold.
        previous_value: f64,
        /// The value now, above the threshold.
        value: f64,
    }
);

payload!(
    /// What a flow receives when a full refresh completes.
    FullRefreshCompletedPayload {
        /// The platform's id of the run.
        run_id: String,
        /// How the run ended: succeeded or failed.
        status: String,
        /// When the run started, if known.
        started_at: Option<DateTime<Utc>>,
        /// When the run ended, if known.
        finished_at: Option<DateTime<Utc>>,
        /// How long the run took, in seconds, when start and end are known.
        duration_seconds: Option<f64>,
        /// Data sources refreshed.
        data_source_count: Option<u64>,
        /// Data sources whose refresh failed.
        failed_data_source_count: Option<u64>,
        /// Segments recomputed.
        segment_count: Option<u64>,
        /// Measures recomputed.
        measure_count: Option<u64>,
    }
);

payload!(
    /// What a flow receives when unification completes.
    UnificationCompletedPayload {
        /// The platform's id of the run.
        run_id: String,
        /// How the run ended: succeeded or failed.
        status: String,
        /// When the run started, if known.
        started_at: Option<DateTime<Utc>>,
        /// When the run ended, if known.
        finished_at: Option<DateTime<Utc>>,
        /// How long the run took, in seconds, when start and end are known.
        duration_seconds: Option<f64>,
        /// Source records that went into unification.
        source_record_count: Option<u64>,
        /// Unified customer profiles it produced.
        unified_profile_count: Option<u64>,
    }
);

/// The flat JSON object a callback receives: no arrays and no nested objects, so that every
/// field is a dynamic-content token in the flow designer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CallbackPayload {
    DataSourceRefreshFailed(DataSourceRefreshFailedPayload),
    DataSourceRefreshSucceeded(DataSourceRefreshSucceededPayload),
    SegmentThresholdCrossed(SegmentThresholdCrossedPayload),
    MeasureThresholdCrossed(MeasureThresholdCrossedPayload),
    FullRefreshCompleted(FullRefreshCompletedPayload),
    UnificationCompleted(UnificationCompletedPayload),
}

impl Event {
    /// The payload POSTed to `subscription`'s callback URL for this event.
    pub fn payload_for(&self, subscription: &Subscription) -> CallbackPayload {
        let (event_id, event_type, occurred_at, instance_id, subscription_id) = (
            self.id.0,
            self.trigger.event_type().to_owned(),
            self.occurred_at,
            self.instance_id.0,
            subscription.id.0,
        );
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
                let (data_source_id, data_source_name, refresh_id) = (
                    data_source_id.to_string(),
                    data_source_name.clone(),
                    refresh_id.clone(),
                );
                let (started_at, finished_at) = (*started_at, *finished_at);
                let duration_seconds = duration_seconds(started_at, finished_at);
                let status = status.as_str().to_owned();
                match self.trigger {
                    TriggerKind::DataSourceRefreshFailed => {
                        CallbackPayload::DataSourceRefreshFailed(DataSourceRefreshFailedPayload {
                            event_id,
                            event_type,
                            occurred_at,
                            instance_id,
                            subscription_id,
                            data_source_id,
                            data_source_name,
                            refresh_id,
                            status,
                            started_at,
                            finished_at,
                            duration_seconds,
                            error_code: error_code.clone(),
                            error_message: error_message.clone(),
                        })
                    }
                    _ => CallbackPayload::DataSourceRefreshSucceeded(
                        DataSourceRefreshSucceededPayload {
                            event_id,
                            event_type,
                            occurred_at,
                            instance_id,
                            subscription_id,
                            data_source_id,
                            data_source_name,
                            refresh_id,
                            status,
                            started_at,
                            finished_at,
                            duration_seconds,
                            row_count: *row_count,
                        },
                    ),
                }
            }
            EventDetails::ValueChanged {
                kind,
                item_id,
                item_name,
                previous,
                value,
            } => {
                let threshold = subscription.threshold().map_or(f64::NAN, |t| t.value());
                match kind {
                    CatalogKind::Segment => {
                        CallbackPayload::SegmentThresholdCrossed(SegmentThresholdCrossedPayload {
                            event_id,
                            event_type,
                            occurred_at,
                            instance_id,
                            subscription_id,
                            segment_id: item_id.to_string(),
                            segment_name: item_name.clone(),
                            threshold,
                            // Member counts are reported as whole numbers.
                            previous_member_count: *previous as u64,
                            member_count: *value as u64,
                        })
                    }
                    _ => CallbackPayload::MeasureThresholdCrossed(MeasureThresholdCrossedPayload {
                        event_id,
                        event_type,
                        occurred_at,
                        instance_id,
                        subscription_id,
                        measure_id: item_id.to_string(),
                        measure_name: item_name.clone(),
                        threshold,
                        previous_value: *previous,
                        value: *value,
                    }),
                }
            }
            EventDetails::Run {
                kind,
                run_id,
                status,
                started_at,
                finished_at,
                counts,
            } => {
                let count = |name: &str| counts.get(name).copied();
                let (run_id, status) = (run_id.clone(), status.as_str().to_owned());
                let (started_at, finished_at) = (*started_at, *finished_at);
                let duration_seconds = duration_seconds(started_at, finished_at);
                match kind {
                    RunKind::FullRefresh => {
                        CallbackPayload::FullRefreshCompleted(FullRefreshCompletedPayload {
                            event_id,
                            event_type,
                            occurred_at,
                            instance_id,
                            subscription_id,
                            run_id,
                            status,
                            started_at,
                            finished_at,
                            duration_seconds,
                            data_source_count: count("dataSourceCount"),
                            failed_data_source_count: count("failedDataSourceCount"),
                            segment_count: count("segmentCount"),
                            measure_count: count("measureCount"),
                        })
                    }
                    RunKind::Unification => {
                        CallbackPayload::UnificationCompleted(UnificationCompletedPayload {
                            event_id,
                            event_type,
                            occurred_at,
                            instance_id,
                            subscription_id,
                            run_id,
                            status,
                            started_at,
                            finished_at,
                            duration_seconds,
                            source_record_count: count("sourceRecordCount"),
                            unified_profile_count: count("unifiedProfileCount"),
                        })
                    }
                }
            }
        }
    }
}
