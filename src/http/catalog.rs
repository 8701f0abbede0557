//! Catalog actions: data sources, segments and measures of an instance with their latest
//! state. They feed the triggers' dropdowns.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::instances::owned_instance;
use super::params::InstancePath;
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

/// Declares the path of one catalog item: the instance id and the item's id, named as the
/// path names it.
macro_rules! item_path {
    ($(#[$doc:meta])* $name:ident { $field:ident, $description:literal }) => {
        $(#[$doc])*
        #[derive(Deserialize, IntoParams)]
        #[serde(rename_all = "camelCase")]
        #[into_params(parameter_in = Path)]
        pub struct $name {
            /// The instance id.
            #[param(value_type = uuid::Uuid)]
            pub instance_id: InstanceId,
            #[doc = $description]
            #[param(value_type = String)]
            pub $field: ItemId,
        }

        impl From<$name> for (InstanceId, ItemId) {
            fn from(path: $name) -> Self {
                (path.instance_id, path.$field)
            }
        }
    };
}

item_path!(
    /// `.../data-sources/{dataSourceId}`
    DataSourcePath { data_source_id, "The data source id." }
);
item_path!(
    /// `.../segments/{segmentId}`
    SegmentPath { segment_id, "The segment id." }
);
item_path!(
    /// `.../measures/{measureId}`
    MeasurePath { measure_id, "The measure id." }
);

/// The `{"value": [...]}` shape of every list.
#[derive(Serialize)]
struct ValueList<T> {
    value: Vec<T>,
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
#[utoipa::path(operation_id = "ListDataSources", tag = "Catalog",
    params(InstancePath),
    responses(
        (status = 200, description = "The list.", body = DataSourceList),
        (status = 404, description = "No such instance."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/data-sources")]
pub async fn list_data_sources(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    list::<DataSourceResponse>(
        &state,
        &caller,
        path.into_inner().0,
        CatalogKind::DataSource,
    )
}

/// List segments
///
/// Lists the segments of an instance with their latest member counts.
#[utoipa::path(operation_id = "ListSegments", tag = "Catalog",
    params(InstancePath),
    responses(
        (status = 200, description = "The list.", body = SegmentList),
        (status = 404, description = "No such instance."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/segments")]
pub async fn list_segments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    list::<SegmentResponse>(&state, &caller, path.into_inner().0, CatalogKind::Segment)
}

/// List measures
///
/// Lists the business measures of an instance with their latest values.
#[utoipa::path(operation_id = "ListMeasures", tag = "Catalog",
    params(InstancePath),
    responses(
        (status = 200, description = "The list.", body = MeasureList),
        (status = 404, description = "No such instance."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/measures")]
pub async fn list_measures(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    list::<MeasureResponse>(&state, &caller, path.into_inner().0, CatalogKind::Measure)
}

/// Get a data source
///
/// Returns one data source with its latest refresh.
#[utoipa::path(operation_id = "GetDataSource", tag = "Catalog",
    params(DataSourcePath),
    responses(
        (status = 200, description = "The data source.", body = DataSourceResponse),
        (status = 404, description = "No such instance or data source."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/data-sources/{dataSourceId}")]
pub async fn get_data_source(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<DataSourcePath>,
) -> Result<HttpResponse, ApiError> {
    one::<DataSourceResponse>(
        &state,
        &caller,
        path.into_inner().into(),
        CatalogKind::DataSource,
    )
}

/// Get a segment
///
/// Returns one segment with its latest member count.
#[utoipa::path(operation_id = "GetSegment", tag = "Catalog",
    params(SegmentPath),
    responses(
        (status = 200, description = "The segment.", body = SegmentResponse),
        (status = 404, description = "No such instance or segment."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/segments/{segmentId}")]
pub async fn get_segment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<SegmentPath>,
) -> Result<HttpResponse, ApiError> {
    one::<SegmentResponse>(
        &state,
        &caller,
        path.into_inner().into(),
        CatalogKind::Segment,
    )
}

/// Get a measure
///
/// Returns one business measure with its latest value.
#[utoipa::path(operation_id = "GetMeasure", tag = "Catalog",
    params(MeasurePath),
    responses(
        (status = 200, description = "The measure.", body = MeasureResponse),
        (status = 404, description = "No such instance or measure."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/measures/{measureId}")]
pub async fn get_measure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MeasurePath>,
) -> Result<HttpResponse, ApiError> {
    one::<MeasureResponse>(
        &state,
        &caller,
        path.into_inner().into(),
        CatalogKind::Measure,
    )
}
