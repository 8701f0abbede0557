//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorCode;
use super::{ApiError, AppState};

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when the check passed.
    pub status: &'static str,
}

/// Alive
///
/// Answers 200 while the process serves requests.
#[utoipa::path(operation_id = "Healthz", tag = "Operations",
    responses((status = 200, description = "The service is alive.", body = HealthResponse)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// Ready
///
/// Answers 200 when storage is open and accepts a durable write, 503 otherwise.
#[utoipa::path(operation_id = "Readyz", tag = "Operations",
    responses(
        (status = 200, description = "Storage is open and writable.", body = HealthResponse),
        (status = 503, description = "Storage cannot take writes."),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.check_writable().await.map_err(|err| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("Storage is not writable: {err}."),
        )
    })?;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}
