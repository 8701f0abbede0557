//! `GET /metrics`: the Prometheus text exposition of the delivery and storage metrics.

use std::fmt::Write;

use actix_web::{HttpResponse, get, web};

use super::AppState;

/// Metrics
///
/// Prometheus text: events accepted, delivery attempts by outcome, attempt latency, queue
/// depth, subscriptions removed by 410 and 404, and storage writes and flushes.
#[utoipa::path(operation_id = "Metrics", tag = "Operations",
    responses((status = 200, description = "Prometheus text format 0.0.4.", body = String,
        content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = state.dispatcher.metrics().render();
    let writes = state.store.write_counts();
    for (name, help, value) in [
        (
            "insights_storage_writes_total",
            "Changes made durable (reports, subscriptions, attempt results in batches, ...).",
            writes.jobs,
        ),
        (
            "insights_storage_flushes_total",
            "Flushes to disk; changes waiting together share one.",
            writes.flushes,
        ),
    ] {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}
