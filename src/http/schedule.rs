//! The full refresh schedule of an instance: `PUT`, `GET` and `DELETE .../schedule`. Operator
//! calls: in `openapi/`, not in the connector. The schedule loop (`refresh::schedule`) is told
//! of every change.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::data_sources::read_definition;
use super::instances::owned_instance;
use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::engine::schedule::{Schedule, ScheduleDefinition};
use crate::storage::{Set, StoredSchedule};

/// A schedule as defined, and when it runs next.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleResponse {
    /// The cron pattern: 5 fields, or 6 with seconds first.
    pub cron: String,
    /// The IANA time zone it is read in.
    pub time_zone: String,
    /// When the next scheduled full refresh is due; absent when the pattern matches no later time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<DateTime<Utc>>,
    /// When it was first defined.
    pub created_at: DateTime<Utc>,
    /// When it was last defined.
    pub updated_at: DateTime<Utc>,
}

fn respond(stored: StoredSchedule, now: DateTime<Utc>) -> ScheduleResponse {
    let next_run_at = Schedule::parse(&stored.definition)
        .ok()
        .and_then(|s| s.next_after(now));
    ScheduleResponse {
        cron: stored.definition.cron,
        time_zone: stored.definition.time_zone,
        next_run_at,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    }
}

/// Set the schedule
///
/// Sets (or replaces) when the instance runs a full refresh by itself: a cron pattern of 5
/// fields, or 6 with seconds first, read in an IANA time zone. Scheduled runs are initiated by
/// schedule; a run that fell due while the service was down runs once at start.
#[utoipa::path(operation_id = "SetSchedule", tag = "Engine",
    params(InstancePath),
    request_body = ScheduleDefinition,
    responses(
        (status = 201, description = "Set.", body = ScheduleResponse,
            headers(("Location" = String, description = "The schedule's URL."))),
        (status = 200, description = "The schedule replaced the previous one.", body = ScheduleResponse),
        (status = 404, description = "No such instance."),
        (status = 422, description = "The pattern or the time zone is not valid; the message names the field."),
    ),
    security(("bearer" = [])))]
#[put("/api/v1/instances/{instanceId}/schedule")]
pub async fn set_schedule(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let definition: ScheduleDefinition = read_definition(body.into_inner())?;
    Schedule::parse(&definition).map_err(|err| ApiError::invalid(format!("{err}.")))?;
    let now = state.clock.now();
    let set = state
        .store
        .set_schedule(instance.id, definition, now)
        .await?;
    state.runner.schedules_changed();
    Ok(match set {
        Set::Created(stored) => HttpResponse::Created()
            .insert_header((
                LOCATION,
                state.absolute_url(&format!("/api/v1/instances/{}/schedule", instance.id)),
            ))
            .json(respond(stored, now)),
        Set::Replaced(stored) => HttpResponse::Ok().json(respond(stored, now)),
    })
}

/// Get the schedule
///
/// Returns the instance's full refresh schedule and when it runs next.
#[utoipa::path(operation_id = "GetSchedule", tag = "Engine",
    params(InstancePath),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleResponse),
        (status = 404, description = "No such instance, or it has no schedule."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/schedule")]
pub async fn get_schedule(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let stored = state
        .store
        .schedule(instance.id)?
        .ok_or(ApiError::NotFound("schedule"))?;
    Ok(HttpResponse::Ok().json(respond(stored, state.clock.now())))
}

/// Remove the schedule
///
/// Stops the instance's scheduled full refreshes; a run in progress finishes. Answers 204 also
/// when there was no schedule.
#[utoipa::path(operation_id = "DeleteSchedule", tag = "Engine",
    params(InstancePath),
    responses(
        (status = 204, description = "No schedule any more."),
        (status = 404, description = "No such instance."),
    ),
    security(("bearer" = [])))]
#[delete("/api/v1/instances/{instanceId}/schedule")]
pub async fn delete_schedule(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    state.store.delete_schedule(instance.id).await?;
    state.runner.schedules_changed();
    Ok(HttpResponse::NoContent().finish())
}
