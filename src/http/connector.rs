//! The connector package as this deployment serves it, with `host`, `basePath` and `schemes`
//! from `INSIGHTS_PUBLIC_URL`.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState};
use crate::openapi::connector::{self, ConnectorAuth};

/// How the connection signs in.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    AzureAd,
    ApiKey,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackageQuery {
    /// `azure-ad` (the default) or `api-key`.
    #[param(inline)]
    pub auth: Option<Auth>,
}

impl PackageQuery {
    fn auth(&self) -> ConnectorAuth {
        match self.auth {
            None | Some(Auth::AzureAd) => ConnectorAuth::AzureAd,
            Some(Auth::ApiKey) => ConnectorAuth::ApiKey,
        }
    }
}

/// Get the connector definition
///
/// The Swagger 2.0 definition to import into Power Automate, pointing at this service.
#[utoipa::path(operation_id = "GetApiDefinition",
    tag = "Operations",
    params(PackageQuery),
    responses(
        (status = 200, description = "The connector definition (Swagger 2.0).", body = Object),
        (status = 400, description = "auth is neither azure-ad nor api-key."),
        (status = 500, description = "The definition could not be generated."),
    ))]
#[get("/connector/apiDefinition.swagger.json")]
pub async fn api_definition(
    state: web::Data<AppState>,
    query: web::Query<PackageQuery>,
) -> Result<HttpResponse, ApiError> {
    let definition = connector::api_definition(&super::document(), &state.connector, query.auth())
        .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(HttpResponse::Ok().json(definition))
}

/// Get the connector properties
///
/// The `apiProperties.json` that goes with the connector definition.
#[utoipa::path(operation_id = "GetApiProperties",
    tag = "Operations",
    params(PackageQuery),
    responses(
        (status = 200, description = "The connector properties.", body = Object),
        (status = 400, description = "auth is neither azure-ad nor api-key."),
        (status = 500, description = "The properties could not be generated."),
    ))]
#[get("/connector/apiProperties.json")]
pub async fn api_properties(
    state: web::Data<AppState>,
    query: web::Query<PackageQuery>,
) -> Result<HttpResponse, ApiError> {
    let properties = connector::api_properties(&super::document(), &state.connector, query.auth())
        .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(HttpResponse::Ok().json(properties))
}
