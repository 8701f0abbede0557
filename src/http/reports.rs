//! The report API: data platforms push what happened. Each report is stored with the event it
//! causes and its deliveries (the outbox) before the 202, then delivered. An `Idempotency-Key`
//! makes a retried report a no-op.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::auth::Platform;
use super::error::ErrorCode;
use super::instances::owned_instance;
use super::params::{InstancePath, Reported};
use super::{ApiError, AppState, Caller, parse_item_id};
use crate::domain::report::{RefreshReport, RunReport, optional_whole_number, whole_number};
use crate::domain::{
    FullRefreshCounts, InstanceId, Report, RunCounts, RunStatus, UnificationCounts, patterns,
};
use crate::storage::IdempotencyKey;

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum ReportedStatus {
    Succeeded,
    Failed,
}

impl From<ReportedStatus> for RunStatus {
    fn from(status: ReportedStatus) -> Self {
        match status {
            ReportedStatus::Succeeded => RunStatus::Succeeded,
            ReportedStatus::Failed => RunStatus::Failed,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedError {
    /// A short machine-readable error code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSourceRefreshReport {
    /// The data source's id; an unknown one is added to the catalog.
    pub data_source_id: String,
    /// Its display name.
    pub data_source_name: Option<String>,
    /// The platform's id of this refresh; one is generated when absent.
    pub refresh_id: Option<String>,
    /// How the refresh ended.
    pub status: ReportedStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Rows ingested (succeeded refreshes).
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub row_count: Option<u64>,
    /// Why it failed (failed refreshes).
    pub error: Option<ReportedError>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentSizeReport {
    /// The segment's id; an unknown one is added to the catalog.
    pub segment_id: String,
    /// Its display name.
    pub segment_name: Option<String>,
    /// The segment's member count now.
    #[serde(deserialize_with = "whole_number")]
    pub member_count: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeasureValueReport {
    /// The measure's id; an unknown one is added to the catalog.
    pub measure_id: String,
    /// Its display name.
    pub measure_name: Option<String>,
    /// The measure's value now.
    pub value: f64,
}

/// The fields every run report carries, flattened into each.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunReportFields {
    /// The platform's id of this run; one is generated when absent.
    pub run_id: Option<String>,
    pub status: ReportedStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnificationReport {
    #[serde(flatten)]
    #[schema(inline)]
    pub run: RunReportFields,
    #[serde(flatten)]
    #[schema(inline)]
    pub counts: UnificationCounts,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FullRefreshReport {
    #[serde(flatten)]
    #[schema(inline)]
    pub run: RunReportFields,
    #[serde(flatten)]
    #[schema(inline)]
    pub counts: FullRefreshCounts,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportAccepted {
    /// The events the report caused, durably stored.
    pub event_ids: Vec<Uuid>,
}

/// Declares each report once: its doc lines are the operation's summary and description, the
/// path is under `/api/v1/instances/{instanceId}/reports` (and, without its `/`, scopes the
/// report's idempotency keys), the body turns into a domain `Report` through `TryFrom`. It
/// generates the handler and `operations`, which registers every declared report with the
/// router and the document at once.
macro_rules! reports {
    ($(
        $(#[doc = $doc:literal])*
        $handler:ident: $operation:ident, $path:literal, body = $body:ty;
    )*) => {
        $(
            $(#[doc = $doc])*
            #[utoipa::path(operation_id = stringify!($operation), tag = "Reports",
                params(InstancePath,
                    ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report a no-op.")),
                request_body = $body,
                responses(Reported),
                security(("bearer" = [])))]
            #[post($path)]
            pub async fn $handler(
                state: web::Data<AppState>,
                req: HttpRequest,
                Platform(caller): Platform,
                path: web::Path<InstancePath>,
                body: web::Json<$body>,
            ) -> Result<HttpResponse, ApiError> {
                let InstancePath(instance) = path.into_inner();
                let report = Report::try_from(body.into_inner())?;
                let route = $path.trim_start_matches('/');
                accept(&state, &req, caller, instance, route, report).await
            }
        )*

        /// Registers every report declared above; `/reports` of an instance is their scope.
        pub fn operations(cfg: &mut ServiceConfig<'_>) {
            $(cfg.service($handler);)*
        }
    };
}

reports! {
    /// Report a data source refresh
    ///
    /// Records how a refresh of a data source ended; fires the refresh triggers.
    report_data_source_refresh: ReportDataSourceRefresh, "/data-source-refresh",
        body = DataSourceRefreshReport;

    /// Report a segment size
    ///
    /// Records a segment's member count; fires the segment threshold triggers it crosses.
    report_segment_size: ReportSegmentSize, "/segment-size", body = SegmentSizeReport;

    /// Report a measure value
    ///
    /// Records a business measure's value; fires the measure threshold triggers it crosses.
    report_measure_value: ReportMeasureValue, "/measure-value", body = MeasureValueReport;

    /// Report a unification run
    ///
    /// Records that unification completed; fires the unification trigger.
    report_unification: ReportUnification, "/unification", body = UnificationReport;

    /// Report a full refresh
    ///
    /// Records that a full refresh completed; fires the full refresh trigger.
    report_full_refresh: ReportFullRefresh, "/full-refresh", body = FullRefreshReport;
}

impl TryFrom<DataSourceRefreshReport> for Report {
    type Error = ApiError;

    fn try_from(body: DataSourceRefreshReport) -> Result<Self, ApiError> {
        Ok(Report::DataSourceRefresh(RefreshReport {
            data_source_id: parse_item_id(&body.data_source_id, "dataSourceId")?,
            data_source_name: body.data_source_name,
            refresh_id: body.refresh_id,
            status: body.status.into(),
            started_at: body.started_at,
            finished_at: body.finished_at,
            row_count: body.row_count,
            error_code: body.error.as_ref().map(|e| e.code.clone()),
            error_message: body.error.map(|e| e.message),
        }))
    }
}

impl TryFrom<SegmentSizeReport> for Report {
    type Error = ApiError;

    fn try_from(body: SegmentSizeReport) -> Result<Self, ApiError> {
        Ok(Report::SegmentSize {
            segment_id: parse_item_id(&body.segment_id, "segmentId")?,
            segment_name: body.segment_name,
            member_count: body.member_count,
        })
    }
}

impl TryFrom<MeasureValueReport> for Report {
    type Error = ApiError;

    fn try_from(body: MeasureValueReport) -> Result<Self, ApiError> {
        if !body.value.is_finite() {
            return Err(ApiError::invalid("value must be a finite number."));
        }
        Ok(Report::MeasureValue {
            measure_id: parse_item_id(&body.measure_id, "measureId")?,
            measure_name: body.measure_name,
            value: body.value,
        })
    }
}

impl TryFrom<UnificationReport> for Report {
    type Error = ApiError;

    fn try_from(body: UnificationReport) -> Result<Self, ApiError> {
        run_report(body.run, RunCounts::Unification(body.counts))
    }
}

impl TryFrom<FullRefreshReport> for Report {
    type Error = ApiError;

    fn try_from(body: FullRefreshReport) -> Result<Self, ApiError> {
        run_report(body.run, RunCounts::FullRefresh(body.counts))
    }
}

fn run_report(run: RunReportFields, counts: RunCounts) -> Result<Report, ApiError> {
    Ok(Report::Run(RunReport {
        kind: counts.kind(),
        run_id: run.run_id,
        status: run.status.into(),
        started_at: run.started_at,
        finished_at: run.finished_at,
        counts: counts
            .to_map()
            .map_err(|err| ApiError::Internal(err.into()))?,
        initiated_by: None,
    }))
}

/// Stores the report and its event (durably), then hands the deliveries over.
async fn accept(
    state: &AppState,
    req: &HttpRequest,
    caller: Caller,
    instance: InstanceId,
    route: &'static str,
    report: Report,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let key = match req.headers().get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|k| patterns::is_idempotency_key(k))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidIdempotencyKey,
                        format!(
                            "Idempotency-Key must be 1 to {} visible ASCII characters or spaces.",
                            patterns::IDEMPOTENCY_KEY_MAX_BYTES
                        ),
                    )
                })?,
        ),
    };
    let idempotency = key.map(|key| IdempotencyKey {
        tenant: caller.tenant.clone(),
        instance: instance.id,
        route,
        key: key.to_owned(),
    });
    let outcome = state
        .store
        .record_report(instance.id, report, idempotency, state.clock.now())
        .await?;
    state
        .dispatcher
        .metrics()
        .events_accepted(outcome.new_events);
    state.dispatcher.dispatch(outcome.deliveries);
    Ok(HttpResponse::Accepted().json(ReportAccepted {
        event_ids: outcome.event_ids.into_iter().map(|id| id.0).collect(),
    }))
}
