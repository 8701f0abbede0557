//! The connector package as this deployment serves it, with `host`, `basePath` and `schemes`
//! from `INSIGHTS_PUBLIC_URL`.

use actix_web::{HttpResponse, web};

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::openapi::connector;

/// Get the connector definition
///
/// The Swagger 2.0 definition to import into Power Automate, pointing at this service.
#[utoipa::path(get, path = "/connector/apiDefinition.swagger.json", operation_id = "GetApiDefinition",
    tag = "Operations",
    responses(
        (status = 200, description = "The connector definition (Swagger 2.0).", body = Object),
        (status = 500, description = "The definition could not be generated.", body = ErrorBody),
    ))]
pub async fn api_definition(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let definition = connector::api_definition(&state.public_url)
        .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(HttpResponse::Ok().json(definition))
}

/// Get the connector properties
///
/// The `apiProperties.json` that goes with the connector definition.
#[utoipa::path(get, path = "/connector/apiProperties.json", operation_id = "GetApiProperties",
    tag = "Operations",
    responses((status = 200, description = "The connector properties.", body = Object)))]
pub async fn api_properties() -> HttpResponse {
    HttpResponse::Ok().json(connector::api_properties())
}
