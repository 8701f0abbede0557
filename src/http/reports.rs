//! The report API: data platforms push what happened. Each report is stored with the event it
//! causes and its deliveries (the outbox) before the 202, then delivered. An `Idempotency-Key`
//! makes a retried report a no-op.

use std::collections::BTreeMap;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Platform;
use super::error::ErrorBody;
use super::instances::owned_instance;
use super::wire::{optional_whole_number, whole_number};
use super::{ApiError, AppState, Caller, parse_item_id};
use crate::domain::report::{RefreshReport, RunReport};
use crate::domain::{InstanceId, Report, RunKind, RunStatus, patterns};
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnificationReport {
    /// The platform's id of this run; one is generated when absent.
    pub run_id: Option<String>,
    pub status: ReportedStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Source records that went into unification.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub source_record_count: Option<u64>,
    /// Unified customer profiles it produced.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub unified_profile_count: Option<u64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FullRefreshReport {
    /// The platform's id of this run; one is generated when absent.
    pub run_id: Option<String>,
    pub status: ReportedStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportAccepted {
    /// The events the report caused, durably stored.
    pub event_ids: Vec<Uuid>,
}

pub fn configure(cfg: &mut ServiceConfig) {
    use web::{post, resource};
    cfg.service(
        resource("/instances/{instanceId}/reports/data-source-refresh")
            .route(post().to(report_data_source_refresh)),
    )
    .service(
        resource("/instances/{instanceId}/reports/segment-size")
            .route(post().to(report_segment_size)),
    )
    .service(
        resource("/instances/{instanceId}/reports/measure-value")
            .route(post().to(report_measure_value)),
    )
    .service(
        resource("/instances/{instanceId}/reports/unification")
            .route(post().to(report_unification)),
    )
    .service(
        resource("/instances/{instanceId}/reports/full-refresh")
            .route(post().to(report_full_refresh)),
    );
}

fn counts(pairs: &[(&str, Option<u64>)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .filter_map(|(name, value)| value.map(|v| ((*name).to_owned(), v)))
        .collect()
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
                .filter(|k| k.len() <= 255 && patterns::is_idempotency_key(k))
                .ok_or(ApiError::BadRequest {
                    code: "invalid_idempotency_key",
                    message: "Idempotency-Key must be 1 to 255 visible ASCII characters or spaces."
                        .into(),
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

/// Report a data source refresh
///
/// Records how a refresh of a data source ended; fires the refresh triggers.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/reports/data-source-refresh",
    operation_id = "ReportDataSourceRefresh", tag = "Reports",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report a no-op.")),
    request_body = DataSourceRefreshReport,
    responses(
        (status = 202, description = "Stored; deliveries follow.", body = ReportAccepted),
        (status = 403, description = "The credentials lack the platform role.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for another report.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn report_data_source_refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    Platform(caller): Platform,
    path: web::Path<InstanceId>,
    body: web::Json<DataSourceRefreshReport>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let report = Report::DataSourceRefresh(RefreshReport {
        data_source_id: parse_item_id(&body.data_source_id, "dataSourceId")?,
        data_source_name: body.data_source_name,
        refresh_id: body.refresh_id,
        status: body.status.into(),
        started_at: body.started_at,
        finished_at: body.finished_at,
        row_count: body.row_count,
        error_code: body.error.as_ref().map(|e| e.code.clone()),
        error_message: body.error.map(|e| e.message),
    });
    accept(
        &state,
        &req,
        caller,
        path.into_inner(),
        "data-source-refresh",
        report,
    )
    .await
}

/// Report a segment size
///
/// Records a segment's member count; fires the segment threshold triggers it crosses.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/reports/segment-size",
    operation_id = "ReportSegmentSize", tag = "Reports",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report a no-op.")),
    request_body = SegmentSizeReport,
    responses(
        (status = 202, description = "Stored; deliveries follow.", body = ReportAccepted),
        (status = 403, description = "The credentials lack the platform role.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for another report.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn report_segment_size(
    state: web::Data<AppState>,
    req: HttpRequest,
    Platform(caller): Platform,
    path: web::Path<InstanceId>,
    body: web::Json<SegmentSizeReport>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let report = Report::SegmentSize {
        segment_id: parse_item_id(&body.segment_id, "segmentId")?,
        segment_name: body.segment_name,
        member_count: body.member_count,
    };
    accept(
        &state,
        &req,
        caller,
        path.into_inner(),
        "segment-size",
        report,
    )
    .await
}

/// Report a measure value
///
/// Records a business measure's value; fires the measure threshold triggers it crosses.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/reports/measure-value",
    operation_id = "ReportMeasureValue", tag = "Reports",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report a no-op.")),
    request_body = MeasureValueReport,
    responses(
        (status = 202, description = "Stored; deliveries follow.", body = ReportAccepted),
        (status = 403, description = "The credentials lack the platform role.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for another report.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn report_measure_value(
    state: web::Data<AppState>,
    req: HttpRequest,
    Platform(caller): Platform,
    path: web::Path<InstanceId>,
    body: web::Json<MeasureValueReport>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if !body.value.is_finite() {
        return Err(ApiError::invalid("value must be a finite number."));
    }
    let report = Report::MeasureValue {
        measure_id: parse_item_id(&body.measure_id, "measureId")?,
        measure_name: body.measure_name,
        value: body.value,
    };
    accept(
        &state,
        &req,
        caller,
        path.into_inner(),
        "measure-value",
        report,
    )
    .await
}

/// Report a unification run
///
/// Records that unification completed; fires the unification trigger.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/reports/unification",
    operation_id = "ReportUnification", tag = "Reports",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report a no-op.")),
    request_body = UnificationReport,
    responses(
        (status = 202, description = "Stored; deliveries follow.", body = ReportAccepted),
        (status = 403, description = "The credentials lack the platform role.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for another report.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn report_unification(
    state: web::Data<AppState>,
    req: HttpRequest,
    Platform(caller): Platform,
    path: web::Path<InstanceId>,
    body: web::Json<UnificationReport>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let report = Report::Run(RunReport {
        kind: RunKind::Unification,
        run_id: body.run_id,
        status: body.status.into(),
        started_at: body.started_at,
        finished_at: body.finished_at,
        counts: counts(&[
            ("sourceRecordCount", body.source_record_count),
            ("unifiedProfileCount", body.unified_profile_count),
        ]),
    });
    accept(
        &state,
        &req,
        caller,
        path.into_inner(),
        "unification",
        report,
    )
    .await
}

/// Report a full refresh
///
/// Records that a full refresh completed; fires the full refresh trigger.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/reports/full-refresh",
    operation_id = "ReportFullRefresh", tag = "Reports",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report a no-op.")),
    request_body = FullRefreshReport,
    responses(
        (status = 202, description = "Stored; deliveries follow.", body = ReportAccepted),
        (status = 403, description = "The credentials lack the platform role.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for another report.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn report_full_refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    Platform(caller): Platform,
    path: web::Path<InstanceId>,
    body: web::Json<FullRefreshReport>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let report = Report::Run(RunReport {
        kind: RunKind::FullRefresh,
        run_id: body.run_id,
        status: body.status.into(),
        started_at: body.started_at,
        finished_at: body.finished_at,
        counts: counts(&[
            ("dataSourceCount", body.data_source_count),
            ("failedDataSourceCount", body.failed_data_source_count),
            ("segmentCount", body.segment_count),
            ("measureCount", body.measure_count),
        ]),
    });
    accept(
        &state,
        &req,
        caller,
        path.into_inner(),
        "full-refresh",
        report,
    )
    .await
}
