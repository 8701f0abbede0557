//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::storage::Health;

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when the check passed.
    pub status: &'static str,
}

/// Alive
///
/// Answers 200 while the process serves requests and its storage writer and delivery
/// scheduler run; 503 when either died, which only a restart mends.
#[utoipa::path(get, path = "/healthz", operation_id = "Healthz", tag = "Operations",
    responses(
        (status = 200, description = "The service is alive.", body = HealthResponse),
        (status = 503, description = "A task the service needs has stopped; restart it.", body = super::error::ErrorBody),
    ))]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.store.writer_alive() {
        return Err(ApiError::Unavailable(
            "The storage writer has stopped; restart the service.".into(),
        ));
    }
    if !state.dispatcher.is_running() {
        return Err(ApiError::Unavailable(
            "The delivery scheduler has stopped; restart the service.".into(),
        ));
    }
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}

/// Ready
///
/// Answers 200 when storage is open and accepts a durable write and deliveries run, 503
/// otherwise (a full disk, until storage recovers).
#[utoipa::path(get, path = "/readyz", operation_id = "Readyz", tag = "Operations",
    responses(
        (status = 200, description = "Storage is open and writable.", body = HealthResponse),
        (status = 503, description = "Storage cannot take writes.", body = super::error::ErrorBody),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.dispatcher.is_running() {
        return Err(ApiError::Unavailable(
            "The delivery scheduler has stopped.".into(),
        ));
    }
    if let Health::Unavailable { reason } = state.store.health() {
        return Err(ApiError::Unavailable(format!(
            "Storage is not writable: {reason}."
        )));
    }
    state
        .store
        .check_writable()
        .await
        .map_err(|err| ApiError::Unavailable(format!("Storage is not writable: {err}.")))?;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}
