//! Refreshes: `RefreshDataSource` starts one in the background (one at a time per instance);
//! `GetRefresh` and `ListRefreshes` follow them. Actions of the connector.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::catalog::DataSourcePath;
use super::instances::owned_instance;
use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::domain::{InitiatedBy, InstanceId, Refresh, RefreshId, RefreshKind};

/// `.../refreshes/{refreshId}`
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path)]
pub struct RefreshPath {
    /// The instance id.
    #[param(value_type = uuid::Uuid)]
    pub instance_id: InstanceId,
    /// The refresh id.
    #[param(value_type = uuid::Uuid)]
    pub refresh_id: RefreshId,
}

/// A refresh that started.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshStarted {
    /// The refresh id: follow it with Get refresh.
    pub refresh_id: uuid::Uuid,
    /// Always `running`: the refresh goes on in the background.
    pub status: String,
}

/// A refresh and how it went.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    /// The refresh id.
    pub id: uuid::Uuid,
    /// `dataSource` (one data source) or `fullRefresh` (everything).
    pub kind: String,
    /// `manual` or `schedule`.
    pub initiated_by: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The data source refreshed (data source refreshes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<String>,
    /// Rows ingested (succeeded data source refreshes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_count: Option<u64>,
    /// Why it failed, as a stable code such as ragged_row or interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Why it failed, naming the line, key or field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl From<Refresh> for RefreshResponse {
    fn from(r: Refresh) -> Self {
        Self {
            id: r.id.0,
            kind: match r.kind {
                RefreshKind::DataSource => "dataSource",
                RefreshKind::FullRefresh => "fullRefresh",
            }
            .to_owned(),
            initiated_by: r.initiated_by.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            data_source_id: r.data_source_id.map(String::from),
            row_count: r.row_count,
            error_code: r.error_code,
            error_message: r.error_message,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RefreshList {
    /// The instance's refreshes, newest first.
    pub value: Vec<RefreshResponse>,
}

/// Refresh a data source
///
/// Starts a refresh of a data source in the background: it reads the whole source and
/// replaces the entity's items in one step, or keeps the previous items when the source has a
/// bad row. Its end fires the refresh triggers. One refresh runs at a time per instance.
#[utoipa::path(operation_id = "RefreshDataSource", tag = "Refreshes",
    params(DataSourcePath),
    responses(
        (status = 202, description = "Started.", body = RefreshStarted,
            headers(("Location" = String, description = "The refresh's URL."))),
        (status = 404, description = "No such instance or defined data source."),
        (status = 409, description = "The instance is running another refresh (refresh_in_progress)."),
    ),
    security(("bearer" = [])))]
#[post("/api/v1/instances/{instanceId}/data-sources/{dataSourceId}/refresh")]
pub async fn refresh_data_source(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<DataSourcePath>,
) -> Result<HttpResponse, ApiError> {
    let (instance, id) = path.into_inner().into();
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let source = state
        .store
        .data_source(instance.id, &id)?
        .ok_or(ApiError::NotFound("defined data source"))?;
    let refresh = state
        .runner
        .refresh_data_source(source, InitiatedBy::Manual)
        .await?;
    let location = state.absolute_url(&format!(
        "/api/v1/instances/{}/refreshes/{}",
        instance.id, refresh.id
    ));
    Ok(HttpResponse::Accepted()
        .insert_header((LOCATION, location))
        .json(RefreshStarted {
            refresh_id: refresh.id.0,
            status: refresh.status.as_str().to_owned(),
        }))
}

/// Get a refresh
///
/// Returns one refresh of an instance: whether it still runs, and how it ended.
#[utoipa::path(operation_id = "GetRefresh", tag = "Refreshes",
    params(RefreshPath),
    responses(
        (status = 200, description = "The refresh.", body = RefreshResponse),
        (status = 404, description = "No such instance or refresh."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/refreshes/{refreshId}")]
pub async fn get_refresh(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<RefreshPath>,
) -> Result<HttpResponse, ApiError> {
    let RefreshPath {
        instance_id,
        refresh_id,
    } = path.into_inner();
    let instance = owned_instance(&state.store, &caller.tenant, instance_id)?;
    let refresh = state
        .store
        .refresh(instance.id, refresh_id)?
        .ok_or(ApiError::NotFound("refresh"))?;
    Ok(HttpResponse::Ok().json(RefreshResponse::from(refresh)))
}

/// List refreshes
///
/// Lists the refreshes of an instance, newest first.
#[utoipa::path(operation_id = "ListRefreshes", tag = "Refreshes",
    params(InstancePath),
    responses(
        (status = 200, description = "The refreshes.", body = RefreshList),
        (status = 404, description = "No such instance."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/refreshes")]
pub async fn list_refreshes(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let refreshes = state.store.refreshes(instance.id)?;
    Ok(HttpResponse::Ok().json(RefreshList {
        value: refreshes.into_iter().map(Into::into).collect(),
    }))
}

/// A full refresh that started.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FullRefreshStarted {
    /// The refresh id: follow it with Get refresh.
    pub refresh_id: uuid::Uuid,
}

/// Start a full refresh
///
/// Starts a full refresh in the background: every data source, then unification, measures
/// and segments. Each step fires its triggers, and the end fires When a full refresh is
/// completed. One refresh runs at a time per instance.
#[utoipa::path(operation_id = "StartFullRefresh", tag = "Refreshes",
    params(InstancePath),
    responses(
        (status = 202, description = "Started.", body = FullRefreshStarted,
            headers(("Location" = String, description = "The refresh's URL."))),
        (status = 404, description = "No such instance."),
        (status = 409, description = "The instance is running another refresh (refresh_in_progress)."),
    ),
    security(("bearer" = [])))]
#[post("/api/v1/instances/{instanceId}/refresh")]
pub async fn start_full_refresh(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let refresh = state
        .runner
        .start_full_refresh(instance.id, InitiatedBy::Manual)
        .await?;
    let location = state.absolute_url(&format!(
        "/api/v1/instances/{}/refreshes/{}",
        instance.id, refresh.id
    ));
    Ok(HttpResponse::Accepted()
        .insert_header((LOCATION, location))
        .json(FullRefreshStarted {
            refresh_id: refresh.id.0,
        }))
}
