//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorCode;
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
#[utoipa::path(operation_id = "Healthz", tag = "Operations",
    responses(
        (status = 200, description = "The service is alive.", body = HealthResponse),
        (status = 503, description = "A task the service needs has stopped; restart it."),
    ))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.store.writer_alive() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "The storage writer has stopped; restart the service.",
        ));
    }
    if !state.dispatcher.is_running() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "The delivery scheduler has stopped; restart the service.",
        ));
    }
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}

/// Ready
///
/// Answers 200 when storage is open and accepts a durable write and deliveries run, 503
/// otherwise (a full disk, until storage recovers).
#[utoipa::path(operation_id = "Readyz", tag = "Operations",
    responses(
        (status = 200, description = "Storage is open and writable.", body = HealthResponse),
        (status = 503, description = "Storage cannot take writes."),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.dispatcher.is_running() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "The delivery scheduler has stopped.",
        ));
    }
    if let Health::Unavailable { reason } = state.store.health() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!("Storage is not writable: {reason}."),
        ));
    }
    state.store.check_writable().await.map_err(|err| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("Storage is not writable: {err}."),
        )
    })?;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}
