//! `GET /metrics`: the Prometheus text exposition of the delivery metrics.

use actix_web::{HttpResponse, get, web};

use super::AppState;

/// Metrics
///
/// Prometheus text: events accepted, delivery attempts by outcome, attempt latency, queue
/// depth, and subscriptions removed by 410 and 404.
#[utoipa::path(operation_id = "Metrics", tag = "Operations",
    responses((status = 200, description = "Prometheus text format 0.0.4.", body = String,
        content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.dispatcher.metrics().render())
}
