//! Instances: `ListInstances`, `CreateInstance`, `GetInstance`.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::domain::patterns::NAME_MAX_CHARS;
use crate::domain::{Instance, InstanceId, InstanceName, TenantId};
use crate::storage::Store;

/// A new instance.
#[derive(Deserialize, ToSchema)]
pub struct CreateInstanceRequest {
    /// The instance's display name, 1 to 100 characters.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceResponse {
    /// The instance id.
    pub id: Uuid,
    /// The display name.
    pub name: String,
    /// When the instance was created.
    pub created_at: DateTime<Utc>,
}

impl From<Instance> for InstanceResponse {
    fn from(instance: Instance) -> Self {
        Self {
            id: instance.id.0,
            name: instance.name.as_str().to_owned(),
            created_at: instance.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InstanceList {
    /// The caller's instances, oldest first.
    pub value: Vec<InstanceResponse>,
}

/// The instance when it belongs to the caller's tenant, else 404.
pub fn owned_instance(
    store: &Store,
    tenant: &TenantId,
    id: InstanceId,
) -> Result<Instance, ApiError> {
    store
        .instance(tenant, id)?
        .ok_or(ApiError::NotFound("instance"))
}

/// List instances
///
/// Lists the instances (environments) of your tenant.
#[utoipa::path(operation_id = "ListInstances", tag = "Instances",
    responses(
        (status = 200, description = "The instances.", body = InstanceList),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances")]
pub async fn list_instances(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let value = state.store.instances(&caller.tenant)?;
    Ok(HttpResponse::Ok().json(InstanceList {
        value: value.into_iter().map(Into::into).collect(),
    }))
}

/// Create an instance
///
/// Creates an instance (environment) in your tenant.
#[utoipa::path(operation_id = "CreateInstance", tag = "Instances",
    request_body = CreateInstanceRequest,
    responses(
        (status = 201, description = "The new instance.", body = InstanceResponse,
            headers(("Location" = String, description = "The instance's URL."))),
        (status = 409, description = "Your tenant holds as many instances as it may (quota_exceeded)."),
        (status = 422, description = "The name is not valid."),
    ),
    security(("bearer" = [])))]
#[post("/api/v1/instances")]
pub async fn create_instance(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateInstanceRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = InstanceName::parse(&body.name).ok_or_else(|| {
        ApiError::invalid(format!("name must be 1 to {NAME_MAX_CHARS} characters."))
    })?;
    let instance = Instance {
        id: InstanceId::new(),
        tenant: caller.tenant,
        name,
        created_at: state.clock.now(),
    };
    let instance = state.store.create_instance(instance).await?;
    let location = state.absolute_url(&format!("/api/v1/instances/{}", instance.id));
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .json(InstanceResponse::from(instance)))
}

/// Get an instance
///
/// Returns one instance of your tenant.
#[utoipa::path(operation_id = "GetInstance", tag = "Instances",
    params(InstancePath),
    responses(
        (status = 200, description = "The instance.", body = InstanceResponse),
        (status = 404, description = "No such instance in your tenant."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}")]
pub async fn get_instance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    Ok(HttpResponse::Ok().json(InstanceResponse::from(instance)))
}
