//! Catalog actions: data sources, segments and measures of an instance with their latest
//! state. They feed the triggers' dropdowns.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::instances::owned_instance;
use super::{ApiError, AppState, Caller};
use crate::domain::{CatalogItem, CatalogKind, InstanceId, ItemId};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceResponse {
    /// The data source id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The latest refresh's id.
    pub last_refresh_id: Option<String>,
    /// How the latest refresh ended: `succeeded` or `failed`.
    pub last_refresh_status: Option<String>,
    /// When the latest refresh finished.
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// Rows ingested by the latest successful refresh.
    pub last_row_count: Option<u64>,
    /// The error code of the latest failed refresh.
    pub last_error_code: Option<String>,
    /// When the platform last reported on it.
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentResponse {
    /// The segment id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The latest member count.
    pub member_count: Option<u64>,
    /// When the member count was last reported.
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasureResponse {
    /// The measure id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The latest value.
    pub value: Option<f64>,
    /// When the value was last reported.
    pub updated_at: DateTime<Utc>,
}

impl From<CatalogItem> for DataSourceResponse {
    fn from(item: CatalogItem) -> Self {
        let last = item.last_refresh;
        Self {
            id: item.id.into(),
            name: item.name,
            last_refresh_id: last.as_ref().map(|r| r.refresh_id.clone()),
            last_refresh_status: last.as_ref().map(|r| r.status.as_str().to_owned()),
            last_refreshed_at: last.as_ref().and_then(|r| r.finished_at),
            last_row_count: last.as_ref().and_then(|r| r.row_count),
            last_error_code: last.and_then(|r| r.error_code),
            updated_at: item.updated_at,
        }
    }
}

impl From<CatalogItem> for SegmentResponse {
    fn from(item: CatalogItem) -> Self {
        Self {
            id: item.id.into(),
            name: item.name,
            member_count: item.value.map(|v| v as u64),
            updated_at: item.updated_at,
        }
    }
}

impl From<CatalogItem> for MeasureResponse {
    fn from(item: CatalogItem) -> Self {
        Self {
            id: item.id.into(),
            name: item.name,
            value: item.value,
            updated_at: item.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DataSourceList {
    /// The data sources, ordered by id.
    pub value: Vec<DataSourceResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentList {
    /// The segments, ordered by id.
    pub value: Vec<SegmentResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct MeasureList {
    /// The measures, ordered by id.
    pub value: Vec<MeasureResponse>,
}

/// The `{"value": [...]}` shape of every list.
#[derive(Serialize)]
struct ValueList<T> {
    value: Vec<T>,
}

pub fn configure(cfg: &mut ServiceConfig) {
    use web::{get, resource};
    cfg.service(
        resource("/instances/{instanceId}/data-sources").route(get().to(list_data_sources)),
    )
    .service(
        resource("/instances/{instanceId}/data-sources/{dataSourceId}")
            .route(get().to(get_data_source)),
    )
    .service(resource("/instances/{instanceId}/segments").route(get().to(list_segments)))
    .service(resource("/instances/{instanceId}/segments/{segmentId}").route(get().to(get_segment)))
    .service(resource("/instances/{instanceId}/measures").route(get().to(list_measures)))
    .service(resource("/instances/{instanceId}/measures/{measureId}").route(get().to(get_measure)));
}

fn list<R: Serialize + From<CatalogItem>>(
    state: &AppState,
    caller: &Caller,
    instance: InstanceId,
    kind: CatalogKind,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let items = state.store.catalog(instance.id, kind)?;
    Ok(HttpResponse::Ok().json(ValueList {
        value: items.into_iter().map(R::from).collect::<Vec<_>>(),
    }))
}

fn one<R: Serialize + From<CatalogItem>>(
    state: &AppState,
    caller: &Caller,
    (instance, id): (InstanceId, ItemId),
    kind: CatalogKind,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let item = state
        .store
        .catalog_item(instance.id, kind, &id)?
        .ok_or(ApiError::NotFound(kind.noun()))?;
    Ok(HttpResponse::Ok().json(R::from(item)))
}

/// List data sources
///
/// Lists the data sources of an instance with their latest refresh.
#[utoipa::path(get, path = "/api/v1/instances/{instanceId}/data-sources", operation_id = "ListDataSources", tag = "Catalog",
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    responses(
        (status = 200, description = "The list.", body = DataSourceList),
        (status = 404, description = "No such instance.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_data_sources(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
) -> Result<HttpResponse, ApiError> {
    list::<DataSourceResponse>(&state, &caller, path.into_inner(), CatalogKind::DataSource)
}

/// List segments
///
/// Lists the segments of an instance with their latest member counts.
#[utoipa::path(get, path = "/api/v1/instances/{instanceId}/segments", operation_id = "ListSegments", tag = "Catalog",
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    responses(
        (status = 200, description = "The list.", body = SegmentList),
        (status = 404, description = "No such instance.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_segments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
) -> Result<HttpResponse, ApiError> {
    list::<SegmentResponse>(&state, &caller, path.into_inner(), CatalogKind::Segment)
}

/// List measures
///
/// Lists the business measures of an instance with their latest values.
#[utoipa::path(get, path = "/api/v1/instances/{instanceId}/measures", operation_id = "ListMeasures", tag = "Catalog",
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    responses(
        (status = 200, description = "The list.", body = MeasureList),
        (status = 404, description = "No such instance.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_measures(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
) -> Result<HttpResponse, ApiError> {
    list::<MeasureResponse>(&state, &caller, path.into_inner(), CatalogKind::Measure)
}

/// Get a data source
///
/// Returns one data source with its latest refresh.
#[utoipa::path(get, path = "/api/v1/instances/{instanceId}/data-sources/{dataSourceId}", operation_id = "GetDataSource", tag = "Catalog",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("dataSourceId" = String, Path, description = "The data source id.")),
    responses(
        (status = 200, description = "The data source.", body = DataSourceResponse),
        (status = 404, description = "No such instance or data source.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_data_source(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(InstanceId, ItemId)>,
) -> Result<HttpResponse, ApiError> {
    one::<DataSourceResponse>(&state, &caller, path.into_inner(), CatalogKind::DataSource)
}

/// Get a segment
///
/// Returns one segment with its latest member count.
#[utoipa::path(get, path = "/api/v1/instances/{instanceId}/segments/{segmentId}", operation_id = "GetSegment", tag = "Catalog",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("segmentId" = String, Path, description = "The segment id.")),
    responses(
        (status = 200, description = "The segment.", body = SegmentResponse),
        (status = 404, description = "No such instance or segment.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_segment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(InstanceId, ItemId)>,
) -> Result<HttpResponse, ApiError> {
    one::<SegmentResponse>(&state, &caller, path.into_inner(), CatalogKind::Segment)
}

/// Get a measure
///
/// Returns one business measure with its latest value.
#[utoipa::path(get, path = "/api/v1/instances/{instanceId}/measures/{measureId}", operation_id = "GetMeasure", tag = "Catalog",
    params(("instanceId" = Uuid, Path, description = "The instance id."),
        ("measureId" = String, Path, description = "The measure id.")),
    responses(
        (status = 200, description = "The measure.", body = MeasureResponse),
        (status = 404, description = "No such instance or measure.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_measure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(InstanceId, ItemId)>,
) -> Result<HttpResponse, ApiError> {
    one::<MeasureResponse>(&state, &caller, path.into_inner(), CatalogKind::Measure)
}
